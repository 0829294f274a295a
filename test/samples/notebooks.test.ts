/**
 * Every sample notebook runs headlessly through `transferlab run` with small parameters, and the
 * flagship's outputs show the paper's qualitative findings (PAPER.md, "What a small-scale
 * reproduction should show", items 1–3), read from the analysis results' JSON payloads; its summary
 * tests every claim with an interval over seeds, and each verdict follows from its interval. (What
 * the verdicts are at the flagship's own sizes is recorded, over three seed sets, by
 * `npm run bench -- findings` in docs/findings.md.) Two notebooks run at a time (one kernel per core).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runRun } from '../../cli/run';
import { runDemo } from '../../cli/demo';
import { Mime, type CkaPayload, type InterpolationPayload } from '../../kernel/protocol/mime';
import { parseTsnb, type JsonValue, type TsnbCodeCell, type TsnbMimeBundle, type TsnbNotebook, type TsnbOutput } from '../../kernel/protocol/tsnb';
import { PYTHON, captureIo, repoRoot } from '../helpers/tools';
import { spawnSync } from 'node:child_process';
import { verdictOf, type Claim } from '../../kernel/analysis/findings';

const SAMPLES_DIR = path.join(repoRoot, 'sample-notebooks');

const codeCells = (nb: TsnbNotebook): TsnbCodeCell[] => nb.cells.filter((c): c is TsnbCodeCell => c.cell_type === 'code');
const outputs = (nb: TsnbNotebook): TsnbOutput[] => codeCells(nb).flatMap((c) => c.outputs);
const bundles = (nb: TsnbNotebook): TsnbMimeBundle[] => outputs(nb).flatMap((o) => (o.output_type === 'display_data' || o.output_type === 'execute_result' ? [o.data] : []));
const payloads = <T>(nb: TsnbNotebook, mime: string): T[] => bundles(nb).flatMap((b) => (mime in b ? [b[mime] as unknown as T] : []));
const texts = (nb: TsnbNotebook): string =>
  outputs(nb)
    .map((o) => (o.output_type === 'stream' ? o.text : o.output_type === 'error' ? `${o.ename}: ${o.evalue}` : String(o.data[Mime.markdown] ?? o.data[Mime.plain] ?? '')))
    .join('\n');

/** Checks that every cell ran, with errors only where a cell is tagged to raise one. */
function checkExecuted(name: string, nb: TsnbNotebook): void {
  for (const [i, c] of codeCells(nb).entries()) {
    if (c.source.trim() === '') continue;
    assert.notEqual(c.execution_count, null, `${name}: code cell ${i + 1} did not run`);
    const tags = (c.metadata['tags'] as JsonValue[] | undefined) ?? [];
    const errors = c.outputs.filter((o) => o.output_type === 'error');
    if (tags.includes('raises-exception')) assert.equal(errors.length, 1, `${name}: code cell ${i + 1} should raise`);
    else assert.deepEqual(errors, [], `${name}: code cell ${i + 1} raised`);
  }
  assert.ok(codeCells(nb).some((c) => (c.metadata['tags'] as JsonValue[] | undefined)?.includes('injected-parameters')), `${name}: no injected parameters cell`);
}

/** Runs a sample with parameters (`name=value` strings) through `transferlab run`. */
async function runSample(name: string, params: readonly string[]): Promise<TsnbNotebook> {
  const dir = mkdtempSync(path.join(tmpdir(), `tl-sample-${name}-`));
  const out = path.join(dir, `${name}.executed.tsnb`);
  const io = captureIo();
  const args = [path.join(SAMPLES_DIR, `${name}.tsnb`), '--out', out, '--backend', 'wasm', '--quiet', ...params.flatMap((p) => ['--param', p])];
  const status = await runRun(args, io);
  assert.equal(status, 0, `${name} failed:\n${io.err}`);
  const nb = parseTsnb(readFileSync(out, 'utf8'));
  checkExecuted(name, nb);
  return nb;
}

/** Small parameters for each sample: seconds of CPU each. */
const SMALL: Record<string, readonly string[]> = {
  pretraining: ['sourceSize=500', 'epochs=2', 'checkpointEpochs=[0,1,2]'],
  transfer: ['sourceSize=500', 'preEpochs=1', 'labelsPerClass=[5,10]', 'fineTuneEpochs=3', 'seeds=[1]'],
  'block-shuffle': ['sourceSize=500', 'preEpochs=1', 'labelsPerClass=10', 'fineTuneEpochs=2', 'blockSizes=[28,7,1]'],
  'feature-similarity': ['sourceSize=500', 'preEpochs=1', 'labelsPerClass=10', 'fineTuneEpochs=3', 'probeSize=200'],
  'parameter-distance': ['sourceSize=500', 'preEpochs=1', 'labelsPerClass=10', 'fineTuneEpochs=3', 'seeds=[1,2]'],
  interpolation: ['sourceSize=500', 'preEpochs=1', 'labelsPerClass=10', 'fineTuneEpochs=3', 'points=5', 'probeSize=200'],
  criticality: ['sourceSize=500', 'preEpochs=1', 'labelsPerClass=10', 'fineTuneEpochs=2', 'alphas=3', 'sigmas=[0.05]', 'samples=1'],
  checkpoints: ['sourceSize=500', 'preEpochs=2', 'checkpointEpochs=[0,1,2]', 'labelsPerClass=10', 'fineTuneEpochs=2', 'seeds=[1]'],
  alignment: ['trainSize=200', 'testSize=200', 'epochs=3', 'points=5'],
  curvature: ['sourceSize=500', 'preEpochs=1', 'labelsPerClass=10', 'fineTuneEpochs=2', 'iterations=3', 'hutchinsonSamples=2', 'alphas=3', 'sigmas=[0.05]'],
  'similarity-measures': ['n=120', 'width=12', 'trainSize=300', 'epochs=1', 'probeSize=150'],
  uncertainty: ['sourceSize=500', 'preEpochs=1', 'labelsPerClass=10', 'fineTuneEpochs=2', 'probeSize=100', 'bootstrap=40', 'permutations=39', 'calibrationSeeds=60', 'points=3'],
  'bring-your-own': [],
};

/** What a sample needs before it runs, as more parameters: bring-your-own reads files a NumPy script writes. */
const PREPARE: Record<string, () => string[]> = {
  'bring-your-own'() {
    const folder = mkdtempSync(path.join(tmpdir(), 'tl-byo-'));
    const r = spawnSync(PYTHON, [path.join(SAMPLES_DIR, 'byo', 'make_byo.py'), folder, '--n', '200'], { encoding: 'utf8' });
    assert.equal(r.status, 0, `make_byo.py failed (needs python3-numpy):\n${r.stderr}`);
    return [`folder=${folder}`];
  },
};

/**
 * The flagship with the smallest parameters at which its story still holds. The plain CNN: at this
 * scale the default ResNet takes 4× as long (83 s against 22 s here) and its RI-T/RI-T barrier is
 * too shallow (0.13) for the checks below; `npm run demo` runs the ResNet at full size, and the
 * end-to-end test runs it through VS Code.
 */
const FLAGSHIP = ['arch=cnn', 'sourceSize=1500', 'preEpochs=2', 'labelsPerClass=20', 'fineTuneEpochs=6', 'lr=0.02', 'seeds=[1,2,3]', 'blockSizes=[28,1]', 'probeSize=300', 'interpolationPoints=5'];

/** The flagship summary's JSON (tl.Findings). */
interface FindingsJson {
  title: string;
  rows: {
    claim: string;
    verdict: string;
    tests: { claim: Claim; verdict: string; estimate: number; lower: number | null; upper: number | null; n: number; level: number; values: { label: string; value: number }[] }[];
  }[];
}

const CHECKS: Record<string, (nb: TsnbNotebook) => void> = {
  pretraining(nb) {
    const t = texts(nb);
    assert.match(t, /\| epoch \| accuracy \| loss \|/);
    const m = /accuracy ([\d.]+)% before saving, ([\d.]+)% after loading/.exec(t);
    assert.ok(m, t);
    assert.equal(m[1], m[2], 'a checkpoint loaded from disk predicts as before');
    assert.equal(payloads(nb, Mime.images).length, 1);
  },
  transfer(nb) {
    const t = texts(nb);
    assert.match(t, /\| 5 \| [\d.]+% \| [\d.]+% \| -?[\d.]+ points \|/);
    assert.match(t, /\| 10 \| [\d.]+% \| [\d.]+% \| -?[\d.]+ points \|/);
    assert.ok(payloads(nb, Mime.training).length >= 2, 'training curves');
  },
  'block-shuffle'(nb) {
    const t = texts(nb);
    assert.match(t, /InvalidArgumentError: tl\.blockShuffle: blockSize 5 does not divide the image size 28×28/);
    const grids = payloads<{ rows: { label: string }[] }>(nb, Mime.images);
    assert.deepEqual(grids[0]!.rows.map((r) => r.label), ['original', 'block 7', 'block 1']);
    assert.match(t, /block 28: P-T [\d.]+%, RI-T [\d.]+%\nblock 7: .*\nblock 1: /);
    // tl.results: what a sweep collects, one line per block size.
    assert.match(t, /gap b28 = -?[\d.e-]+\ngap b7 = -?[\d.e-]+\ngap b1 = -?[\d.e-]+/);
  },
  'feature-similarity'(nb) {
    const t = texts(nb);
    assert.match(t, /\| CKA\(X, X\) \| 1\.0000 \|/);
    assert.match(t, /\| CKA\(X, 3·X·R\), R a rotation \| 1\.0000 \|/);
    const heatmaps = payloads<CkaPayload>(nb, Mime.cka);
    assert.deepEqual(heatmaps.map((h) => `${h.modelA}/${h.modelB}`), ['P-T₁/P-T₂', 'P-T₁/P', 'P-T₁/RI-T₁', 'RI-T₁/RI-T₂']);
    assert.match(t, /\| linear, minibatch \| [\d.]+ \| [\d.]+ \| [\d.]+ \|/);
  },
  'parameter-distance'(nb) {
    const charts = bundles(nb).filter((b) => String(b[Mime.plain] ?? '').startsWith('Distance in parameter space'));
    assert.equal(charts.length, 2);
    assert.match(texts(nb), /RI-T₁ - RI-T₂‖ = \*\*[\d.]+\*\* \([\d.]+x farther apart\)/);
  },
  interpolation(nb) {
    const curves = payloads<InterpolationPayload>(nb, Mime.interpolation);
    assert.equal(curves.length, 3);
    assert.deepEqual(curves[1]!.pairs.map((p) => p.label), ['P-T₁ vs P-T₂', 'RI-T₁ vs RI-T₂', 'P-T₁ vs RI-T₁']);
    assert.ok(curves[2]!.pairs[0]!.lambdas.some((l) => l < 0), 'a grid beyond [0, 1]');
    assert.ok(curves.every((c) => c.pairs.every((p) => p.barrierDefinition === 'linear')), 'the linear barrier by default');
    const rows = [...texts(nb).matchAll(/^\| (.+?) \| (-?[\d.]+) \| (-?[\d.]+) \|$/gm)];
    assert.equal(rows.length, 3, 'the barrier table, linear and mean, one row per pair');
    for (const r of rows) assert.ok(Number(r[2]) >= 0 && Number(r[3]) >= 0, `both barriers are ≥ 0 (0 and 1 are on the grid): ${r[0]}`);
  },
  criticality(nb) {
    const tables = payloads<{ label: string; modules: { module: string }[] }>(nb, Mime.json);
    assert.deepEqual(tables.map((t) => t.label), ['P-T rewound to P', 'RI-T rewound to its initialisation', 'P-T rewound to epoch 1']);
    assert.deepEqual(tables[0]!.modules.map((m) => m.module), ['conv1', 'conv2', 'fc1', 'fc']);
  },
  alignment(nb) {
    const t = texts(nb);
    const gap = /max \|logits\(A\) - logits\(permuted A\)\| over 64 images: ([\d.e+-]+)/.exec(t);
    assert.ok(gap && Number(gap[1]) < 1e-4, `a permuted copy computes the same function: ${gap?.[1]}`);
    const curves = payloads<InterpolationPayload>(nb, Mime.interpolation);
    assert.deepEqual(curves.map((c) => c.pairs[0]!.label), ['RI-T₁ vs permuted RI-T₁', 'RI-T₁ vs RI-T₂']);
    const self = curves[0]!.pairs[0]!;
    assert.ok(self.aligned && Math.abs(self.aligned.barrier) < 1e-4, `aligned barrier with a permuted copy ≈ 0: ${self.aligned?.barrier}`);
    assert.ok(self.barrier > self.aligned.barrier, `raw ${self.barrier} above aligned ${self.aligned.barrier}`);
    assert.ok(curves[1]!.pairs[0]!.aligned, 'the pair of networks has an aligned curve');
    assert.match(t, /Weight matching \(cnn\): \d+ sweeps?, converged; ‖θA − θB‖ [\d.]+ → [\d.]+/);
    assert.match(t, /\| RI-T₁ vs RI-T₂ \| -?[\d.]+ \| -?[\d.]+ \|/);
  },
  uncertainty(nb) {
    const heatmaps = payloads<CkaPayload>(nb, Mime.cka);
    assert.deepEqual(heatmaps.map((h) => `${h.modelA}/${h.modelB}`), ['P-T₁/RI-T₁', 'P-T₁/RI-T₁']);
    const mixed = heatmaps[1]!;
    assert.deepEqual(mixed.columns.slice(-2), ['conv1, other images', 'fc, other images']);
    for (const h of heatmaps) {
      assert.deepEqual([h.uncertainty?.bootstrap, h.uncertainty?.permutations, h.uncertainty?.level], [40, 39, 0.95]);
      h.values.forEach((row, i) =>
        row.forEach((v, j) => {
          const [lo, hi, p] = [h.uncertainty!.lower![i]![j]!, h.uncertainty!.upper![i]![j]!, h.uncertainty!.pValue![i]![j]!];
          assert.ok(lo <= hi && p >= 1 / 40 && p <= 1, `${h.rows[i]}/${h.columns[j]}: ${v} [${lo}, ${hi}], p = ${p}`);
        }),
      );
    }
    // Features of the same images are related (p at its minimum, 1/40); of mismatched images, mostly not.
    assert.equal(mixed.uncertainty!.pValue![0]![0], 1 / 40);
    const mismatched = mixed.uncertainty!.pValue!.flatMap((row) => row.slice(-2));
    assert.ok(mismatched.filter((p) => p! > 0.05).length >= mismatched.length / 2, `mismatched p-values ${mismatched.join(', ')}`);
    const t = texts(nb);
    assert.match(t, /\| P-T₁\/P-T₂ \| conv1 \| [\d.]+ \| \[-?[\d.]+, [\d.]+\] \| [\d.]+ \|/);
    const m = /Independent pairs rejected at alpha = 0\.05: \*\*(\d+) of 60\*\* \(99% binomial range (\d+)-(\d+)\)/.exec(t);
    assert.ok(m, t);
    assert.ok(Number(m[1]) >= Number(m[2]) && Number(m[1]) <= Number(m[3]), m[0]);
    assert.match(t, /X against X·Q: linear CKA 1\.0000, 95% interval \[1\.0000, 1\.0000\].*permutation p = 0\.0100/);
    const curves = payloads<InterpolationPayload>(nb, Mime.interpolation);
    assert.deepEqual(curves[0]!.pairs.map((p) => p.label), ['P-T₁ vs P-T₂', 'RI-T₁ vs RI-T₂']);
    for (const p of curves[0]!.pairs) assert.ok(p.barrierInterval && p.barrierInterval.lower <= p.barrierInterval.upper && p.barrierInterval.bootstrap === 40, JSON.stringify(p.barrierInterval));
    assert.match(t, /\| P-T₁ vs P-T₂ \| -?[\d.]+ \| \[-?[\d.]+, -?[\d.]+\] \|/);
  },
  checkpoints(nb) {
    const t = texts(nb);
    assert.match(t, /Target accuracy after fine-tuning from each pre-training checkpoint\nepoch  accuracy  loss\n\s+0 .*\n\s+1 .*\n\s+2 /);
    assert.match(t, /Best checkpoint: epoch \*\*\d\*\*/);
  },
  curvature(nb) {
    const results = payloads<{ label?: string; modules: { module: string; method: string; topEigenvalue: number; trace: number }[] }>(nb, Mime.json).filter((r) => r.label !== undefined);
    assert.deepEqual(results.map((r) => r.label), ['P-T', 'RI-T']);
    for (const r of results) {
      assert.deepEqual(r.modules.map((m) => m.module), ['conv1', 'conv2', 'fc1', 'fc']);
      assert.ok(r.modules.every((m) => m.method === 'exact' && Number.isFinite(m.topEigenvalue) && Number.isFinite(m.trace)), JSON.stringify(r.modules));
    }
    const t = texts(nb);
    assert.match(t, /model\s+module\s+params\s+λ_max\s+iters\s+rel\. change\s+trace ± SE\s+HVP\s+μ\s+error rewound\n/);
    assert.match(t, /\| fc \| [\d.e+-]+ \| [\d.e+-]+ \| [\d.e+-]+ ± [\d.e+-]+ \| [\d.e+-]+ ± [\d.e+-]+ \| ([\d.e+-]+|∞) \| ([\d.e+-]+|∞) \|/);
  },
  'bring-your-own'(nb) {
    const [heat, ...more] = payloads<CkaPayload>(nb, Mime.cka);
    assert.equal(more.length, 0);
    assert.deepEqual([heat!.rows, heat!.columns], [['inputs', 'stem', 'layer1', 'layer2'], ['stem', 'layer1', 'layer2']]);
    const at = (r: string, c: string) => heat!.values[heat!.rows.indexOf(r)]![heat!.columns.indexOf(c)]!;
    assert.ok(at('stem', 'stem') > 0.9999, `the same stem, scaled and permuted: CKA ${at('stem', 'stem')}`);
    assert.ok(heat!.rows.every((r) => at(r, 'layer2') < 0.2), `B's layer2 is noise: ${heat!.rows.map((r) => at(r, 'layer2')).join(', ')}`);
    const t = texts(nb);
    assert.match(t, /model A: stem \[200, 4, 4, 2\], layer1 \[200, 24\], layer2 \[200, 16\]/);
    assert.match(t, /written_by: 'make_byo\.py'/);
    assert.match(t, /layer1\.0\.conv1\.weight \[16, 16, 3, 3\] float32/);
    const charts = bundles(nb).filter((b) => String(b[Mime.plain] ?? '').startsWith('Distance in parameter space'));
    assert.equal(charts.length, 1);
    assert.match(String(charts[0]![Mime.plain]), /\nconv1 .*\nbn1 .*\nlayer1 .*\nlayer2 .*\nfc \(head\)/);
    const m = /‖RI-T₁ - RI-T₂‖ = \*\*[\d.]+\*\* \(([\d.]+)x farther apart\)/.exec(t);
    assert.ok(m && Number(m[1]) > 3, `RI-T runs far apart, P-T runs close: ${m?.[0]}`);
    assert.match(t, /wrote .*cka\.npz: np\.load\('cka\.npz'\)\['cka'\] is the 4 x 3 matrix above/);
  },
  'similarity-measures'(nb) {
    const t = texts(nb);
    const row = (label: string): string[] => {
      const line = t.split('\n').find((l) => l.startsWith(`| ${label} |`));
      assert.ok(line, `no row ${label}`);
      return line.split('|').slice(2, -1).map((c) => c.trim());
    };
    // linear CKA, SVCCA 99%, SVCCA 100%, PWCCA, Procrustes, RSA
    const rotated = row('X·Q, Q orthogonal');
    assert.ok(rotated.slice(0, 5).every((c) => c.startsWith('✓')), `CKA, SVCCA, PWCCA and Procrustes ignore a rotation: ${rotated.join(', ')}`);
    assert.ok(!rotated[5]!.startsWith('✓'), 'correlation RSA does not');
    const invertible = row('X·A, A invertible');
    assert.ok(invertible[2]!.startsWith('✓'), 'CCA with all variance kept ignores an invertible map');
    assert.ok(!invertible[0]!.startsWith('✓') && !invertible[4]!.startsWith('✓'), 'CKA and Procrustes do not');
    assert.ok(row('each example scaled and shifted')[5]!.startsWith('✓'), 'correlation RSA ignores per-example scale and shift');
    const [xy, yx] = row('PWCCA');
    assert.notEqual(xy, yx, 'PWCCA is not symmetric');
    const svcca100 = row('SVCCA (100%)');
    assert.equal(svcca100[0], svcca100[2], 'SVCCA with all variance kept: f(X·A, Y) = f(X, Y)');
    const heat = payloads<CkaPayload>(nb, Mime.cka);
    assert.equal(heat.length, 1);
    assert.deepEqual(heat[0]!.measures?.map((m) => m.measure), ['cka', 'svcca', 'pwcca', 'procrustes', 'rsa']);
    assert.deepEqual(heat[0]!.rows, ['conv2', 'fc1', 'fc']);
  },
};

test('transferlab demo: bad usage exits 2 before starting anything', async () => {
  const io = captureIo();
  assert.equal(await runDemo(['--backend', 'gpu'], io), 2);
  assert.match(io.err, /transferlab demo: --backend gpu: expected one of auto, wasm, cpu, webgpu, tensorflow\n\nusage: transferlab demo/);
  const io2 = captureIo();
  assert.equal(await runDemo(['--param', 'x'], io2), 2);
  assert.match(io2.err, /--param "x": expected name=value/);
});

test('every sample notebook has small test parameters and checks', () => {
  const samples = readdirSync(SAMPLES_DIR)
    .filter((f) => f.endsWith('.tsnb'))
    .map((f) => f.replace(/\.tsnb$/, ''))
    .sort();
  assert.deepEqual(samples, [...Object.keys(SMALL), 'flagship'].sort());
  for (const name of samples) {
    const nb = parseTsnb(readFileSync(path.join(SAMPLES_DIR, `${name}.tsnb`), 'utf8'));
    const params = codeCells(nb).filter((c) => (c.metadata['tags'] as JsonValue[] | undefined)?.includes('parameters'));
    assert.equal(params.length, 1, `${name}: one cell tagged parameters`);
    assert.ok(nb.cells[0]!.cell_type === 'markdown' && nb.cells[0]!.source.startsWith('# '), `${name}: starts with a title`);
    assert.ok(codeCells(nb).every((c) => c.outputs.length === 0 && c.execution_count === null), `${name}: committed without outputs`);
  }
});

describe('sample notebooks run headlessly with small parameters', { concurrency: 2 }, () => {
  for (const [name, params] of Object.entries(SMALL)) {
    test(name, async () => CHECKS[name]!(await runSample(name, [...params, ...(PREPARE[name]?.() ?? [])])));
  }

  test('transferlab demo runs the flagship; the paper\'s findings 1–3 are in its outputs, and its summary tests every claim over seeds', async () => {
    const dir = path.join(mkdtempSync(path.join(tmpdir(), 'tl-demo-')), 'out');
    const io = captureIo();
    let progress = '';
    const status = await runDemo(['--out', dir, ...FLAGSHIP.flatMap((p) => ['--param', p])], io, { terminal: { write: (t) => (progress += t), isTTY: false } });
    assert.equal(status, 0, `demo failed:\n${io.err}${progress}`);
    assert.match(io.err, /running the flagship notebook on wasm/);
    assert.match(progress, /cell 1\/\d+ ok/);
    assert.match(io.out, /wrote .*flagship\.executed\.tsnb and .*flagship\.html\nopen .*flagship\.html in a browser/);
    const nb = parseTsnb(readFileSync(path.join(dir, 'flagship.executed.tsnb'), 'utf8'));
    checkExecuted('flagship', nb);
    assert.equal(nb.metadata.backend, 'wasm');
    const summary = texts(nb).split('\n').filter((l) => l.startsWith('| '));
    console.log(summary.join('\n'));

    // 1. CKA per module (diagonal of each heatmap): P-T/P-T above P-T/RI-T and RI-T/RI-T in every
    //    module, P-T/P above P-T/RI-T in the low modules.
    const heat = new Map(payloads<CkaPayload>(nb, Mime.cka).map((p) => [`${p.modelA}/${p.modelB}`, p]));
    const diagonal = (pair: string): Map<string, number> => {
      const p = heat.get(pair);
      assert.ok(p, `no CKA heatmap ${pair}; found ${[...heat.keys()].join(', ')}`);
      return new Map(p.rows.map((r, i) => [r, p.values[i]![p.columns.indexOf(r)]!]));
    };
    const ptpt = diagonal('P-T₁/P-T₂');
    const ptp = diagonal('P-T₁/P');
    const ptri = diagonal('P-T₁/RI-T₁');
    const riri = diagonal('RI-T₁/RI-T₂');
    const modules = [...ptpt.keys()];
    assert.deepEqual(modules, ['conv1', 'conv2', 'fc1']);
    const report = [ptpt, ptp, ptri, riri].map((d, i) => `${['P-T/P-T', 'P-T/P', 'P-T/RI-T', 'RI-T/RI-T'][i]}: ${modules.map((m) => d.get(m)!.toFixed(3)).join(' ')}`).join('\n');
    for (const m of modules) {
      assert.ok(ptpt.get(m)! > ptri.get(m)!, `${m}: CKA P-T/P-T > P-T/RI-T\n${report}`);
      assert.ok(ptpt.get(m)! > riri.get(m)!, `${m}: CKA P-T/P-T > RI-T/RI-T\n${report}`);
    }
    for (const m of modules.slice(0, -1)) assert.ok(ptp.get(m)! > ptri.get(m)!, `${m}: CKA P-T/P > P-T/RI-T\n${report}`);
    const mean = (d: Map<string, number>) => modules.reduce((s, m) => s + d.get(m)!, 0) / modules.length;
    assert.ok(mean(ptpt) > mean(ptri) + 0.02, `mean CKA P-T/P-T clearly above P-T/RI-T\n${report}`);

    // 2. ‖P-T₁ − P-T₂‖ ≪ ‖RI-T₁ − RI-T₂‖, from the distance chart's data (head excluded).
    const distance = bundles(nb).find((b) => String(b[Mime.plain] ?? '').startsWith('Distance in parameter space'));
    assert.ok(distance, 'a distance result');
    const rows = (distance[Mime.vegaLite] as { data: { values: { pair: string; module: string; distance: number }[] } }).data.values;
    const total = (pair: string) => Math.sqrt(rows.filter((r) => r.pair === pair && !r.module.endsWith('(head)')).reduce((s, r) => s + r.distance ** 2, 0));
    const dPt = total('P-T₁ vs P-T₂');
    const dRi = total('RI-T₁ vs RI-T₂');
    assert.ok(dPt > 0 && dPt < 0.5 * dRi, `‖P-T₁ − P-T₂‖ = ${dPt} should be far below ‖RI-T₁ − RI-T₂‖ = ${dRi}`);
    for (const m of modules) {
      const at = (pair: string) => rows.find((r) => r.pair === pair && r.module === m)!.distance;
      assert.ok(at('P-T₁ vs P-T₂') < at('RI-T₁ vs RI-T₂'), `${m}: P-T instances closer than RI-T instances`);
    }

    // 3. Interpolation: no barrier between P-T solutions; clear ones for RI-T/RI-T and P-T/RI-T.
    const [curves] = payloads<InterpolationPayload>(nb, Mime.interpolation);
    const barrier = new Map(curves!.pairs.map((p) => [p.label, p.barrier]));
    const b = (label: string) => {
      assert.ok(barrier.has(label), `no interpolation curve ${label}`);
      return barrier.get(label)!;
    };
    const bars = [...barrier].map(([k, v]) => `${k}: ${v.toFixed(4)}`).join(', ');
    assert.ok(b('P-T₁ vs P-T₂') < 0.1, `P-T/P-T barrier ≈ 0: ${bars}`);
    assert.ok(b('RI-T₁ vs RI-T₂') > 0.2 && b('RI-T₁ vs RI-T₂') > 4 * Math.max(b('P-T₁ vs P-T₂'), 0), `RI-T/RI-T barrier clearly positive: ${bars}`);
    assert.ok(b('P-T₁ vs RI-T₁') > 0.2, `P-T/RI-T barrier clearly positive: ${bars}`);

    // The summary: every claim of the paper tested with a statistic per seed (or pair of seeds), an
    // interval over seeds, and the verdict that interval gives (recomputed here).
    const findings = payloads<FindingsJson>(nb, Mime.json).filter((p) => typeof p === 'object' && p !== null && 'rows' in p && 'title' in p);
    assert.equal(findings.length, 1, 'one findings table');
    const findingRows = findings[0]!.rows;
    assert.deepEqual(findingRows.map((r) => r.claim.replace(/\d+x\d+/g, 'bxb')), [
      'P-T beats RI-T with scarce labels',
      'Smaller blocks hurt both: accuracy falls from bxb to bxb blocks',
      'P-T keeps an edge even at bxb blocks',
      "P-T's edge shrinks as the blocks shrink",
      "P-T's edge is largest early in training",
      'Two P-T runs are more similar than two RI-T runs',
      'P-T/P-T similarity is highest in the lower modules',
      'P-T stays similar to P, far more than to RI-T',
      'P-T stays close to P; RI-T travels far from its start',
      'No barrier between P-T solutions',
      'A barrier between RI-T solutions',
      'Lower modules are less critical than upper ones',
      'P-T is more robust to rewinding than RI-T',
      'The very first epochs transfer worse',
      'Transfer plateaus long before pre-training ends',
    ]);
    for (const r of findingRows) {
      for (const t of r.tests) {
        assert.equal(t.n, 3, `${r.claim}: three seeds (or three pairs of them)`);
        assert.equal(t.values.length, 3, `${r.claim}: the per-seed values`);
        assert.ok(t.lower !== null && t.upper !== null && t.lower <= t.estimate && t.estimate <= t.upper, `${r.claim}: an interval around the estimate`);
        const mean = t.values.reduce((s, v) => s + v.value, 0) / 3;
        assert.ok(Math.abs(mean - t.estimate) < 1e-9, `${r.claim}: the estimate is the mean of the values shown`);
        const interval = { estimate: t.estimate, lower: t.lower, upper: t.upper, level: t.level, n: t.n, standardError: NaN, pValue: NaN, method: 'student-t' as const };
        assert.equal(t.verdict, verdictOf(interval, t.claim), `${r.claim}: the verdict follows from the interval`);
      }
      const verdicts = r.tests.map((t) => t.verdict);
      assert.equal(r.verdict, verdicts.includes('fails') ? 'fails' : verdicts.every((v) => v === 'holds') ? 'holds' : 'unresolved', r.claim);
    }
    assert.equal(summary[0], "| the paper's claim | statistic | estimate [95% CI] | per seed | verdict |");
    assert.equal(summary.filter((l) => / (✓|✗|not resolved at this scale)( \(.*\))? \|$/.test(l)).length, findingRows.length, 'every row with its verdict');

    // The HTML report has the charts.
    const html = readFileSync(path.join(dir, 'flagship.html'), 'utf8');
    assert.match(html, /<title>What is being transferred in transfer learning\?<\/title>/);
    assert.match(html, /data-mime="application\/vnd\.transferlab\.cka\+json"/);
    assert.match(html, /data-mime="application\/vnd\.transferlab\.interpolation\+json"/);
  });
});
