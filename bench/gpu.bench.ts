/**
 * GPU path side by side (issue 14): TransferLab on the webgpu backend, with its own WebGPU kernels
 * and with the stock tfjs-backend-webgpu ones, against PyTorch on the same device in one run
 * (./gpu/suite.ts). Writes the section `gpu` of BENCHMARKS.md for a hardware adapter, or
 * `gpu-lavapipe` for a software one (lavapipe: the peer is PyTorch on the CPU).
 *
 * Run: npm run bench -- gpu
 * Environment: GPU_BENCH_SCALE = gpu | lavapipe | small (default: from the adapter);
 * GPU_BENCH_OUT = a folder: write the section there (section.md and BENCHMARKS.md with it) instead
 * of the repository's BENCHMARKS.md; GPU_BENCH_PYTHON = the PyTorch interpreter;
 * GPU_BENCH_COMMAND = the command named in the section; GPU_BENCH_BUDGET_S = seconds TransferLab's
 * timings may take before the remaining ones are skipped (the default depends on the sizes).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BENCHMARKS_FILE } from './report';
import { replaceSection, sectionMarkdown } from './gpu/markdown';
import { runGpuBench, type GpuBenchResult, type Scale } from './gpu/suite';

async function main(): Promise<void> {
  const scaleEnv = process.env['GPU_BENCH_SCALE'];
  if (scaleEnv !== undefined && !['gpu', 'lavapipe', 'small'].includes(scaleEnv)) throw new Error(`GPU_BENCH_SCALE must be gpu, lavapipe or small, got ${scaleEnv}`);
  const out = process.env['GPU_BENCH_OUT'];
  const workDir = out ? path.join(out, 'exchange') : mkdtempSync(path.join(os.tmpdir(), 'tl-gpu-bench-'));
  const python = process.env['GPU_BENCH_PYTHON'] ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
  const command = process.env['GPU_BENCH_COMMAND'] ?? `npm run bench -- gpu${scaleEnv ? ` (GPU_BENCH_SCALE=${scaleEnv})` : ''}`;
  const budget = process.env['GPU_BENCH_BUDGET_S'];
  // On a device the section is rewritten after every measurement: a run stopped early leaves it.
  const writeOut = (result: GpuBenchResult) => {
    if (!out) return;
    const md = sectionMarkdown(result.context, result.rows);
    writeFileSync(path.join(out, 'section.md'), `<!-- bench:${result.name} -->\n${md}\n<!-- /bench:${result.name} -->\n`);
    const baseFile = process.env['GPU_BENCH_BASE'] ?? BENCHMARKS_FILE;
    const base = existsSync(baseFile) ? readFileSync(baseFile, 'utf8') : '# Benchmarks\n';
    writeFileSync(path.join(out, 'BENCHMARKS.md'), replaceSection(base, result.name, md));
  };
  if (out) mkdirSync(out, { recursive: true });
  const result = await runGpuBench({ scale: scaleEnv as Scale | undefined, workDir, python, command, budgetSeconds: budget ? Number(budget) : undefined, onProgress: writeOut });
  const md = sectionMarkdown(result.context, result.rows);
  console.log(`\n${md}\n`);
  if (out) {
    writeOut(result);
    rmSync(workDir, { recursive: true, force: true });
    console.log(`section written to ${path.join(out, 'section.md')} (and ${path.join(out, 'BENCHMARKS.md')})`);
  } else {
    writeFileSync(BENCHMARKS_FILE, replaceSection(readFileSync(BENCHMARKS_FILE, 'utf8'), result.name, md));
    rmSync(workDir, { recursive: true, force: true });
    console.log(`section ${result.name} of BENCHMARKS.md rewritten`);
  }
  if (!result.ok) {
    console.error('Some correctness checks FAILED (marked in the section).');
    process.exit(1);
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
