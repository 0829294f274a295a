/**
 * The GPU benchmark's report (bench/gpu/markdown.ts): its section between markers of its own, the
 * goals judged in the unit each is stated in, failed checks and software adapters said out loud;
 * and bench/gpu/run.sh stopping at once, with a message, when no NVIDIA Vulkan driver is found.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../helpers/tools';
import { fmtRatio, goalVerdicts, replaceSection, sectionMarkdown, sectionName, type Row, type SectionContext } from '../../bench/gpu/markdown';

const row = (r: Partial<Row> & Pick<Row, 'kind' | 'ours' | 'torch'>): Row => ({ label: r.kind, stock: r.ours, check: 'max abs 1e-7', ok: true, ...r });

test('a section replaces only its own markers; gpu and gpu-lavapipe do not collide', () => {
  const text = [
    '# Benchmarks',
    '',
    '<!-- bench:gpu-lavapipe -->',
    'old lavapipe',
    '<!-- /bench:gpu-lavapipe -->',
    '',
    '<!-- bench:train -->',
    'train figures',
    '<!-- /bench:train -->',
    '',
  ].join('\n');
  const a = replaceSection(text, 'gpu', '## GPU\nnew');
  assert.ok(a.includes('old lavapipe') && a.includes('train figures'), 'other sections kept');
  assert.ok(a.trimEnd().endsWith('<!-- bench:gpu -->\n## GPU\nnew\n<!-- /bench:gpu -->'), 'a missing section is appended');
  const b = replaceSection(a, 'gpu-lavapipe', 'new lavapipe');
  assert.ok(!b.includes('old lavapipe') && b.includes('<!-- bench:gpu-lavapipe -->\nnew lavapipe\n<!-- /bench:gpu-lavapipe -->'));
  assert.ok(b.includes('## GPU\nnew'), 'the gpu section is untouched');
  assert.equal(b.indexOf('<!-- bench:gpu-lavapipe -->'), a.indexOf('<!-- bench:gpu-lavapipe -->'), 'replaced in place');
  assert.equal(replaceSection(b, 'gpu', '## GPU\nnew'), b, 'idempotent');
  assert.equal(sectionName(true), 'gpu-lavapipe');
  assert.equal(sectionName(false), 'gpu');
});

test('goals are judged in their own units, and only on rows whose check passed', () => {
  // matmul: throughput ratio = PyTorch ms ÷ ours ms (ours 2 ms, PyTorch 1 ms → 0.5: met).
  const matmul = [row({ kind: 'matmul', ours: 2, torch: 1 }), row({ kind: 'matmul', ours: 4, torch: 1 })];
  // CKA: time ratio ours ÷ PyTorch ≤ 1.5.
  const cka = [row({ kind: 'cka', ours: 1.4, torch: 1 }), row({ kind: 'cka', ours: 1.2, torch: 1, ok: false })];
  // training: examples/s ratio ≥ 0.25.
  const train = [row({ kind: 'train', ours: 30, torch: 100 }), row({ kind: 'train', ours: 30, torch: NaN })];
  const v = goalVerdicts([...matmul, ...cka, ...train]);
  const by = (k: string) => v.find((g) => g.goal.kind === k)!;
  assert.equal(by('matmul').met, 1);
  assert.equal(by('matmul').worst, 0.25);
  assert.match(by('matmul').line, /met by 1 of 2/);
  assert.equal(by('cka').met, 1, 'a row whose check failed does not meet a goal');
  assert.equal(by('cka').worst, 1.4, 'the slowest CKA ratio');
  assert.equal(by('train').met, 1, 'an unmeasured peer (NaN) does not meet a goal');
  assert.match(goalVerdicts([row({ kind: 'train', ours: 30, torch: 100 })]).find((g) => g.goal.kind === 'train')!.line, /\*\*met\*\*/);
  assert.match(goalVerdicts([]).find((g) => g.goal.kind === 'cka')!.line, /not measured/);
});

test('ratios keep two significant digits', () => {
  assert.equal(fmtRatio(0.0042), '0.0042×');
  assert.equal(fmtRatio(0.314), '0.31×');
  assert.equal(fmtRatio(12.4), '12×');
  assert.equal(fmtRatio(NaN), 'n/a');
});

const context = (software: boolean): SectionContext => ({
  command: 'npm run bench -- gpu',
  date: '2026-12-01 23:00 UTC',
  adapter: software ? 'llvmpipe (Mesa)' : 'NVIDIA H200',
  software,
  torch: 'PyTorch 2.11 on NVIDIA H200',
  machine: '16 × CPU',
  load: 'load average 0.5 → 0.6',
  kernels: ['MatMul', 'Conv2D'],
  checks: ['ok: 18 small ops against the cpu backend'],
  notes: [],
});

test('the section states the command, the device, every figure with its check, and the goals', () => {
  const rows = [row({ kind: 'matmul', label: 'matmul 4096', ours: 4, stock: 8, torch: 2, flops: 2 * 4096 ** 3 }), row({ kind: 'train', label: 'ResNet', ours: 50, stock: 25, torch: 100, ok: false, check: 'gradient error 1e-2' })];
  const md = sectionMarkdown(context(false), rows);
  assert.match(md, /`npm run bench -- gpu`/);
  assert.match(md, /NVIDIA H200/);
  assert.match(md, /Our kernels registered for the webgpu backend: MatMul, Conv2D/);
  const matmulLine = md.split('\n').find((l) => l.startsWith('| matmul 4096'))!;
  assert.match(matmulLine, /34\.36 TFLOP\/s/, 'the FLOP rate of ours (2·4096³ in 4 ms)');
  assert.match(matmulLine, /\| 0\.50× \| 2\.00× \| ok: max abs 1e-7 \|/, 'speed ratios to PyTorch and to stock, then the check');
  assert.match(md.split('\n').find((l) => l.startsWith('| ResNet'))!, /\*\*FAILED\*\*: gradient error 1e-2/);
  assert.match(md, /matmul ≥ 0\.5× PyTorch fp32 \(throughput\): \*\*met\*\*/);
  const stopped = sectionMarkdown(context(false), [row({ kind: 'cka', label: 'CKA', ours: NaN, stock: NaN, torch: 3, ok: false, measured: false, check: 'run stopped' })]);
  assert.match(stopped, /\| CKA \| n\/a \| n\/a \| 3\.000 ms \| n\/a \| n\/a \| not measured: run stopped \|/);
  assert.match(stopped, /CKA ≤ 1\.5× .*: \*\*not met\*\*/);
  assert.match(md, /training ≥ 0\.25× .*: \*\*not met\*\*/, 'a failed check does not meet its goal');
  assert.doesNotMatch(md, /not GPU figures/);
  const soft = sectionMarkdown(context(true), rows);
  assert.match(soft, /software: Vulkan on the CPU; these are not GPU figures/);
  assert.match(soft, /for the record only/);
});

test('run.sh stops at once, naming what is missing, when no NVIDIA Vulkan driver is found', () => {
  const r = spawnSync('bash', [path.join(repoRoot, 'bench/gpu/run.sh')], {
    encoding: 'utf8',
    env: { ...process.env, VK_DRIVER_FILES: '/nonexistent/nvidia_icd.json', LAVAPIPE: '0', OUT: '/nonexistent/out' },
  });
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, /no NVIDIA Vulkan driver found \(\/nonexistent\/nvidia_icd\.json is missing/);
  assert.match(r.stderr, /LAVAPIPE=1/);
});
