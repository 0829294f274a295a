/**
 * The analysis API against PyTorch on the CPU, side by side in one run on the same data:
 * a 1024² matmul, linear CKA of 2000×256 representations, and the all-module-pairs linear CKA
 * heatmap of two models with 16 modules each (n = 5000, widths 64–2048). The TypeScript side
 * writes the data (bench/out/analysis-data.bin); bench/analysis_torch.py times PyTorch on it
 * (Debian's python3-torch: `apt-get install python3-torch`). CKA values are checked against a
 * float64 PyTorch reference. Backend: TRANSFERLAB_BACKEND (default wasm; cpu works, slowly).
 *
 *   npm run bench -- analysis
 */
import { mkdirSync, openSync, writeSync, closeSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { tf } from '../kernel/analysis/tfjs';
import { initBackend, isBackendName } from '../kernel/analysis/backends';
import * as cka from '../kernel/analysis/cka';
import { gramThreads } from '../kernel/analysis/gram/pool';
import { machineLine, median, table, writeSection } from './report';

const N = 5000;
const WIDTHS = [2048, 2048, 2048, 1024, 1024, 1024, 1024, 512, 512, 512, 512, 256, 256, 128, 64, 64];
const PYTHON = '/usr/bin/python3';

/** Median wall time and the median CPU time of the whole process (all threads), in ms. */
async function timeIt<T>(reps: number, f: () => T | Promise<T>): Promise<{ ms: number; cpu: number; value: T }> {
  const times: number[] = [];
  const cpus: number[] = [];
  let value: T | undefined;
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    value = await f();
    times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpus.push((c.user + c.system) / 1000);
  }
  return { ms: median(times), cpu: median(cpus), value: value! };
}

function ms(x: number): string {
  return x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(1)} ms`;
}

async function main(): Promise<void> {
  const requested = process.env['TRANSFERLAB_BACKEND'] ?? 'wasm';
  if (!isBackendName(requested)) throw new Error(`TRANSFERLAB_BACKEND=${requested} is not a backend`);
  const load = os.loadavg()[0]!;
  const info = await initBackend(requested);
  console.log(`backend: ${info.description}`);

  const probe = spawnSync(PYTHON, ['-c', 'import torch, numpy; print(torch.__version__)'], { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error(`PyTorch is needed for the side-by-side figures: apt-get install python3-torch python3-numpy (${probe.stderr.trim()})`);

  // ── Data, deterministic: representations of two related "models" from shared latent factors.
  const arrays: [string, tf.Tensor][] = [];
  arrays.push(['matmul', tf.randomNormal([1024, 1024], 0, 1, 'float32', 1)]);
  arrays.push(['ckaX', tf.randomNormal([2000, 256], 0, 1, 'float32', 2)]);
  arrays.push(['ckaY', tf.tidy(() => tf.relu(tf.add(tf.matMul(arrays[1]![1], tf.randomNormal([256, 256], 0, 0.1, 'float32', 3)), tf.randomNormal([2000, 256], 0, 0.5, 'float32', 4))))]);
  tf.tidy(() => {
    const z = tf.randomNormal([N, 128], 0, 1, 'float32', 5);
    const zb = tf.add(z, tf.randomNormal([N, 128], 0, 0.7, 'float32', 6));
    WIDTHS.forEach((p, i) => {
      arrays.push([`a${i}`, tf.keep(tf.relu(tf.matMul(z, tf.randomNormal([128, p], 0, 1, 'float32', 100 + i))))]);
      arrays.push([`b${i}`, tf.keep(tf.relu(tf.matMul(zb, tf.randomNormal([128, p], 0, 1, 'float32', 200 + i))))]);
    });
  });
  const outDir = path.resolve(__dirname, 'out');
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, 'analysis-data.bin');
  const fd = openSync(file, 'w');
  writeSync(fd, `${JSON.stringify({ modules: WIDTHS.length, arrays: arrays.map(([k, t]) => [k, t.shape]) })}\n`);
  for (const [, t] of arrays) writeSync(fd, new Uint8Array((t.dataSync() as Float32Array).buffer.slice(0)));
  closeSync(fd);
  const get = (k: string) => arrays.find(([n]) => n === k)![1];

  // ── TransferLab.
  const a = get('matmul');
  const mm = await timeIt(7, async () => {
    const c = tf.matMul(a, a);
    await c.data();
    c.dispose();
  });
  console.log(`matmul 1024²: ${ms(mm.ms)}`);
  const pair = await timeIt(7, () => cka.linear(get('ckaX'), get('ckaY')));
  console.log(`linear CKA 2000×256: ${ms(pair.ms)} (${pair.value})`);
  const featsA = new Map(WIDTHS.map((_, i) => [`m${i}`, get(`a${i}`)]));
  const featsB = new Map(WIDTHS.map((_, i) => [`m${i}`, get(`b${i}`)]));
  const heat = await timeIt(1, () => cka.matrixFromFeatures(featsA, featsB));
  console.log(`heatmap 16×16, n = ${N}: ${ms(heat.ms)}`);
  tf.dispose(arrays.map(([, t]) => t));

  // ── PyTorch on the same file.
  const py = spawnSync(PYTHON, [path.join(__dirname, 'analysis_torch.py'), file], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (py.status !== 0) throw new Error(`bench/analysis_torch.py failed: ${py.stderr}`);
  const t = JSON.parse(py.stdout) as Record<string, number & number[][]> & { torch: string };
  console.log(`PyTorch ${t.torch} (torch.get_num_threads() = ${t['threads']})`);

  // ── Correctness: against PyTorch's float64 values.
  const f64 = t['heat_f64'] as unknown as number[][];
  const maxDiff = (m: readonly (readonly number[])[]) => Math.max(...m.flatMap((r, i) => r.map((v, j) => Math.abs(v - f64[i]![j]!))));
  const oursErr = maxDiff(heat.value.values);
  const torchErr = maxDiff(t['heat_cached'] as unknown as number[][]);
  const pairsErr = maxDiff(t['heat_pairs'] as unknown as number[][]);
  const pairErr = Math.abs(pair.value - (t['cka_f64'] as unknown as number));
  const torchPairErr = Math.abs((t['cka'] as unknown as number) - (t['cka_f64'] as unknown as number));
  console.log(`max |CKA − float64|: heatmap ours ${oursErr.toExponential(2)}, PyTorch float32 cached ${torchErr.toExponential(2)}, per pair ${pairsErr.toExponential(2)}; pair ours ${pairErr.toExponential(2)}, PyTorch ${torchPairErr.toExponential(2)}`);
  if (oursErr > 1e-5 || pairErr > 1e-5) throw new Error(`TransferLab CKA differs from the float64 reference by ${Math.max(oursErr, pairErr)}`);

  const ratio = (ours: number, theirs: number) => `${(ours / theirs).toFixed(2)}×`;
  // torch.get_num_threads() says how many threads PyTorch's own loops use; the BLAS under it may
  // run on more. CPU time over wall time says how many cores each side really kept busy.
  const cores = (cpu: number, wall: number) => (cpu / wall).toFixed(1);
  const both = (wall: number, cpu: number) => `${ms(wall)} (cpu ${ms(cpu)})`;
  const rows = [
    ['matmul 1024² fp32', both(mm.ms, mm.cpu), both(t['matmul_ms']!, t['matmul_cpu']!), ratio(mm.ms, t['matmul_ms']!), ratio(mm.cpu, t['matmul_cpu']!), ms(t['matmul2_ms']!)],
    ['linear CKA, 2000×256 vs 2000×256', both(pair.ms, pair.cpu), both(t['cka_ms']!, t['cka_cpu']!), ratio(pair.ms, t['cka_ms']!), ratio(pair.cpu, t['cka_cpu']!), '–'],
    [`CKA heatmap 16×16 modules, n = ${N} (PyTorch: one CKA per pair)`, both(heat.ms, heat.cpu), both(t['heat_pairs_ms']!, t['heat_pairs_cpu']!), ratio(heat.ms, t['heat_pairs_ms']!), ratio(heat.cpu, t['heat_pairs_cpu']!), '–'],
    [`CKA heatmap 16×16 modules, n = ${N} (PyTorch: Gram matrices cached)`, both(heat.ms, heat.cpu), both(t['heat_cached_ms']!, t['heat_cached_cpu']!), ratio(heat.ms, t['heat_cached_ms']!), ratio(heat.cpu, t['heat_cached_cpu']!), ms(t['heat_cached2_ms']!)],
  ];
  const md = [
    '## Analysis API vs PyTorch (CPU)',
    '',
    `Command: \`npm run bench -- analysis\` · ${new Date().toISOString().slice(0, 10)} · ${machineLine()}`,
    `TransferLab on ${info.description} (the Gram form of the heatmap on ${gramThreads()} worker threads); PyTorch ${t.torch} on the same data at its defaults (\`torch.get_num_threads()\` = ${t['threads']} here, yet its BLAS kept ${cores(t['matmul_cpu']!, t['matmul_ms']!)} cores busy in the matmul and ${cores(t['heat_cached_cpu']!, t['heat_cached_ms']!)} in the cached heatmap, against TransferLab's ${cores(heat.cpu, heat.ms)} in the heatmap: both sides used the 2 cores); last column after \`torch.set_num_threads(${t['threads2']})\`. Wall times are medians of 7 runs (heatmaps: one run); "cpu" is the CPU time of the whole process over the same runs, which other work on the machine disturbs less than wall time. Ratio = TransferLab ÷ PyTorch (below 1: TransferLab faster). Load average when the run started: ${load.toFixed(1)} (other work shared the 2 cores; both sides ran one after the other).`,
    '',
    table(['measurement', 'TransferLab', 'PyTorch (defaults)', 'ratio (wall)', 'ratio (cpu)', `PyTorch (set_num_threads(${t['threads2']}), wall)`], rows),
    '',
    `Heatmap module widths: ${WIDTHS.join(', ')} for each model (ReLU features of shared latent factors). TransferLab computes each module's centred Gram matrix once, upper triangle only, in row blocks shared among worker threads (float32 products on the wasm backend, float64 reductions); "one CKA per pair" is the feature-space formula of Kornblith et al.'s reference code called for each of the 256 pairs; "Gram matrices cached" is the same reuse written in PyTorch (full Gram matrices, float32).`,
    '',
    `Correctness (max |CKA − float64 PyTorch reference| over the 256 heatmap cells): TransferLab ${oursErr.toExponential(1)}, PyTorch float32 cached ${torchErr.toExponential(1)}, PyTorch float32 per pair ${pairsErr.toExponential(1)}; the 2000×256 pair: TransferLab ${pairErr.toExponential(1)}, PyTorch float32 ${torchPairErr.toExponential(1)}.`,
  ].join('\n');
  console.log(`\n${md}`);
  writeSection('analysis', md);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
