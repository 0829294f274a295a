/**
 * GPU side by side: the analysis API on WebGPU (Dawn) vs PyTorch on CUDA, on the same data and
 * the same GPU. Bundled by bench/gpu/prepare.sh into bench/out/gpu/bench.js and run there by
 * bench/gpu/run.sh (a machine with no network and no Node). Measures a matmul (4096²), linear
 * CKA (2000×256 and 10000×2048) and the 16×16-module CKA heatmap at n = 5000; writes the data
 * for torch_gpu.py and prints a markdown section for BENCHMARKS.md.
 *
 * Environment: GPU_BENCH_SMALL=1 shrinks every size (to test the script on lavapipe);
 * GPU_BENCH_OUT = folder for the data file (default: this file's folder).
 */
import { openSync, writeSync, closeSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as cka from '../../kernel/analysis/cka';

const small = process.env['GPU_BENCH_SMALL'] === '1';
const N = small ? 300 : 5000;
const WIDTHS = small ? [64, 32, 16, 8] : [2048, 2048, 2048, 1024, 1024, 1024, 1024, 512, 512, 512, 512, 256, 256, 128, 64, 64];
const MM = small ? 256 : 4096;
const PAIRS: [number, number][] = small ? [[200, 32]] : [[2000, 256], [10000, 2048]];

async function startWebGpu(): Promise<string> {
  const { create, globals } = (await import('webgpu')) as unknown as { create: (flags: string[]) => unknown; globals: Record<string, unknown> };
  Object.assign(globalThis, globals);
  Object.defineProperty(globalThis, 'navigator', { value: { gpu: create([]) }, configurable: true });
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('WebGPU backend did not start (no adapter?)');
  await tf.ready();
  const adapter = (tf.backend() as unknown as { adapterInfo?: { description?: string; vendor?: string; architecture?: string } }).adapterInfo;
  return adapter?.description || [adapter?.vendor, adapter?.architecture].filter(Boolean).join(' ') || 'unknown adapter';
}

async function time<T>(reps: number, f: () => Promise<T>): Promise<{ ms: number; value: T }> {
  await f(); // warm-up: shader compilation
  const times: number[] = [];
  let value: T | undefined;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    value = await f();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { ms: times[times.length >> 1]!, value: value! };
}

const fmt = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(1)} ms`);

async function main(): Promise<void> {
  const device = await startWebGpu();
  console.log(`WebGPU adapter: ${device}`);
  const arrays: [string, tf.Tensor][] = [];
  arrays.push(['matmul', tf.randomNormal([MM, MM], 0, 1, 'float32', 1)]);
  PAIRS.forEach(([n, p], k) => {
    const x = tf.randomNormal([n, p], 0, 1, 'float32', 10 + k);
    arrays.push([`x${k}`, x]);
    arrays.push([`y${k}`, tf.tidy(() => tf.relu(tf.add(tf.matMul(x, tf.randomNormal([p, p], 0, 1 / Math.sqrt(p), 'float32', 20 + k)), tf.randomNormal([n, p], 0, 0.5, 'float32', 30 + k))))]);
  });
  tf.tidy(() => {
    const z = tf.randomNormal([N, 128], 0, 1, 'float32', 5);
    const zb = tf.add(z, tf.randomNormal([N, 128], 0, 0.7, 'float32', 6));
    WIDTHS.forEach((p, i) => {
      arrays.push([`a${i}`, tf.keep(tf.relu(tf.matMul(z, tf.randomNormal([128, p], 0, 1, 'float32', 100 + i))))]);
      arrays.push([`b${i}`, tf.keep(tf.relu(tf.matMul(zb, tf.randomNormal([128, p], 0, 1, 'float32', 200 + i))))]);
    });
  });
  const get = (k: string) => arrays.find(([n]) => n === k)![1];
  const outDir = process.env['GPU_BENCH_OUT'] ?? __dirname;
  const file = path.join(outDir, 'gpu-data.bin');
  const fd = openSync(file, 'w');
  writeSync(fd, `${JSON.stringify({ modules: WIDTHS.length, pairs: PAIRS.length, arrays: arrays.map(([k, t]) => [k, t.shape]) })}\n`);
  for (const [, t] of arrays) writeSync(fd, new Uint8Array(((await t.data()) as Float32Array).slice().buffer));
  closeSync(fd);

  const a = get('matmul');
  const mm = await time(5, async () => {
    const c = tf.matMul(a, a);
    await c.data();
    c.dispose();
  });
  const mmRead = await time(5, async () => {
    const c = tf.matMul(a, a);
    const s = tf.sum(c);
    await s.data();
    tf.dispose([c, s]);
  });
  const pairs: { ms: number; value: number }[] = [];
  for (let k = 0; k < PAIRS.length; k++) pairs.push(await time(5, () => cka.linear(get(`x${k}`), get(`y${k}`))));
  const featsA = new Map(WIDTHS.map((_, i) => [`m${i}`, get(`a${i}`)]));
  const featsB = new Map(WIDTHS.map((_, i) => [`m${i}`, get(`b${i}`)]));
  const heat = await time(1, () => cka.matrixFromFeatures(featsA, featsB));
  tf.dispose(arrays.map(([, t]) => t));

  const py = spawnSync(process.env['PYTHON'] ?? 'python3', [path.join(__dirname, 'torch_gpu.py'), file], { encoding: 'utf8', maxBuffer: 1 << 26 });
  let torch: Record<string, unknown> | undefined;
  if (py.status === 0) torch = JSON.parse(py.stdout) as Record<string, unknown>;
  else console.error(`PyTorch side failed (exit ${py.status}): ${py.stderr.slice(-2000)}`);
  const tms = (k: string) => (torch ? fmt(torch[k] as number) : 'n/a');
  const ratio = (ours: number, k: string) => (torch ? `${(ours / (torch[k] as number)).toFixed(2)}×` : 'n/a');
  const f64 = torch?.['heat_f64'] as number[][] | undefined;
  const heatErr = f64 ? Math.max(...heat.value.values.flatMap((r, i) => r.map((v, j) => Math.abs(v - f64[i]![j]!)))) : NaN;
  const rows = [
    [`matmul ${MM}² fp32 (read back)`, fmt(mm.ms), tms('matmul_ms'), ratio(mm.ms, 'matmul_ms')],
    [`matmul ${MM}² fp32 (sum read back)`, fmt(mmRead.ms), tms('matmul_ms'), ratio(mmRead.ms, 'matmul_ms')],
    ...PAIRS.map(([n, p], k) => [`linear CKA ${n}×${p}`, fmt(pairs[k]!.ms), tms(`cka${k}_ms`), ratio(pairs[k]!.ms, `cka${k}_ms`)]),
    [`CKA heatmap ${WIDTHS.length}×${WIDTHS.length} modules, n = ${N}`, fmt(heat.ms), tms('heat_ms'), ratio(heat.ms, 'heat_ms')],
  ];
  const md = [
    '## Analysis API vs PyTorch (GPU)',
    '',
    `Command: \`bash bench/gpu/run.sh\` (prepared by \`bash bench/gpu/prepare.sh\`) · ${new Date().toISOString().slice(0, 10)} · WebGPU adapter: ${device} · PyTorch ${torch?.['torch'] ?? 'n/a'} on ${torch?.['device'] ?? 'n/a'} (fp32, TF32 off)`,
    '',
    `| measurement | TransferLab (WebGPU) | PyTorch (${torch?.['device'] ?? 'n/a'}) | ratio |`,
    '| --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
    `Medians of 5 runs after a warm-up (heatmap: one run after a warm-up). Max |CKA − float64| over the heatmap: TransferLab ${heatErr.toExponential(1)}${torch ? `, PyTorch fp32 ${(torch['heat_err'] as number).toExponential(1)}` : ''}.`,
  ].join('\n');
  console.log(`\n${md}`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
