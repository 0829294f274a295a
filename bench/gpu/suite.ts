/**
 * The GPU benchmark (`npm run bench -- gpu`, and bench/gpu/run.sh on a machine with no Node):
 * in one run on the webgpu backend, with TransferLab's own WebGPU kernels and with the stock
 * tfjs-backend-webgpu kernels, against PyTorch on the same device kind (CUDA fp32, TF32 off; on a
 * software adapter the peer is PyTorch on the CPU):
 *   1. correctness of every op on small odd shapes against the cpu backend, and at the benchmark's
 *      sizes against float64 references on sampled entries;
 *   2. timings: matmul, conv forward and both backprops, training steps (tl.cnn, tl.resnet) in
 *      examples/s, CKA (linear, debiased, 16×16 heatmap, minibatch), each checked against PyTorch
 *      on the same data (the data goes to ./torch_peer.py in a file);
 *   3. the BENCHMARKS.md section (./markdown.ts).
 * WebGPU queues work: every timed loop ends by awaiting a read, so times are to completion.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tl from '../../kernel/analysis/index';
import { setWebGpuKernels, webGpuKernelNames } from '../../kernel/analysis/webgpuKernels';
import type { Row, SectionContext } from './markdown';

const tf = tl.tf;
type Tensor = tl.tf.Tensor;

/** Sizes: a GPU's, a software adapter's (lavapipe: a few minutes), or tiny (tests of the chain). */
export type Scale = 'gpu' | 'lavapipe' | 'small';

export interface Sizes {
  readonly matmul: readonly number[];
  /** Conv layers: [label, batch, H (= W), cin, cout]. */
  readonly conv: readonly (readonly [string, number, number, number, number])[];
  readonly cnn: { readonly batch: number; readonly steps: number; readonly rounds: number };
  readonly resnet: { readonly size: number; readonly width: number; readonly blocks: readonly number[]; readonly classes: number; readonly batch: number; readonly steps: number; readonly rounds: number };
  readonly cka: readonly (readonly [number, number])[];
  readonly heatmap: { readonly n: number; readonly widths: readonly number[] };
  readonly minibatch: { readonly n: number; readonly batch: number; readonly widths: readonly number[] };
  readonly reps: number;
}

const HEAT_GPU = [2048, 2048, 2048, 1024, 1024, 1024, 1024, 512, 512, 512, 512, 256, 256, 128, 64, 64];

export const SIZES: Record<Scale, Sizes> = {
  gpu: {
    matmul: [1024, 2048, 4096, 8192],
    conv: [
      ['ResNet-18 layer1 (ImageNet 56×56)', 64, 56, 64, 64],
      ['small CNN conv1', 256, 28, 1, 32],
      ['small CNN conv2', 256, 14, 32, 64],
    ],
    cnn: { batch: 256, steps: 40, rounds: 3 },
    resnet: { size: 224, width: 64, blocks: [2, 2, 2, 2], classes: 1000, batch: 64, steps: 4, rounds: 2 },
    cka: [[2000, 256], [10000, 2048]],
    heatmap: { n: 5000, widths: HEAT_GPU },
    minibatch: { n: 50000, batch: 1000, widths: [2048, 1024, 512, 256] },
    reps: 5,
  },
  lavapipe: {
    matmul: [256, 512, 1024],
    conv: [
      ['ResNet-like layer (28×28, 32→32)', 8, 28, 32, 32],
      ['small CNN conv1', 64, 28, 1, 32],
      ['small CNN conv2', 64, 14, 32, 64],
    ],
    cnn: { batch: 64, steps: 4, rounds: 2 },
    resnet: { size: 32, width: 8, blocks: [2, 2, 2, 2], classes: 10, batch: 8, steps: 3, rounds: 2 },
    cka: [[1000, 128]],
    heatmap: { n: 256, widths: [64, 64, 64, 48, 48, 48, 48, 32, 32, 32, 32, 24, 24, 16, 8, 8] },
    minibatch: { n: 2000, batch: 250, widths: [64, 32, 16, 8] },
    reps: 3,
  },
  small: {
    matmul: [64, 96],
    conv: [['ResNet-like layer', 2, 8, 8, 8], ['small CNN conv1', 4, 28, 1, 8]],
    cnn: { batch: 16, steps: 2, rounds: 1 },
    resnet: { size: 16, width: 4, blocks: [1, 1], classes: 10, batch: 4, steps: 2, rounds: 1 },
    cka: [[120, 16]],
    heatmap: { n: 64, widths: [16, 16, 8, 8] },
    minibatch: { n: 200, batch: 50, widths: [16, 8] },
    reps: 2,
  },
};

const log = (s: string) => console.log(`[gpu bench ${new Date().toISOString().slice(11, 19)}] ${s}`);

// ---------------------------------------------------------------------------------------------
// Deterministic data, shared with PyTorch through one file.

/** A seeded normal generator (xorshift + Box–Muller), the same data whatever the backend. */
function randn(n: number, seed: number, scale = 1): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  const u = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(u()));
    const t = 2 * Math.PI * u();
    out[i] = r * Math.cos(t) * scale;
    if (i + 1 < n) out[i + 1] = r * Math.sin(t) * scale;
  }
  return out;
}

/** Appends float32 arrays to the data file and records where each is. */
class DataFile {
  private fd: number;
  private offset = 0;
  constructor(file: string) {
    this.fd = openSync(file, 'w');
  }
  add(values: Float32Array | Int32Array, shape: readonly number[]): { offset: number; shape: number[] } {
    const f = values instanceof Float32Array ? values : Float32Array.from(values);
    writeSync(this.fd, new Uint8Array(f.buffer, f.byteOffset, f.byteLength));
    const at = { offset: this.offset, shape: [...shape] };
    this.offset += f.length;
    return at;
  }
  close(): void {
    closeSync(this.fd);
  }
}

/** Evenly spread sample indices into an output of `size` entries (first and last included). */
function sampleIndices(size: number, count = 256): number[] {
  if (size <= count) return Array.from({ length: size }, (_, i) => i);
  const out: number[] = [];
  for (let k = 0; k < count; k++) out.push(Math.min(size - 1, Math.floor((k * (size - 1)) / (count - 1) + ((k * 7919) % 13))));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Timing.

/** Awaits completion of everything queued before: a one-element read of `t`. */
async function settle(t: Tensor): Promise<void> {
  const one = tf.tidy(() => tf.slice(tf.reshape(t, [-1]), 0, 1));
  await one.data();
  one.dispose();
}

/** Median ms per call: a warm-up call, then `reps` rounds of `inner` calls, each ending with a read. */
async function timeOp(f: () => Tensor, reps: number, inner: number): Promise<number> {
  const w = f();
  await settle(w);
  w.dispose();
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    let last: Tensor | undefined;
    for (let i = 0; i < inner; i++) {
      last?.dispose();
      last = f();
    }
    await settle(last!);
    times.push((performance.now() - t0) / inner);
    last!.dispose();
  }
  return median(times);
}

async function timeAsync<T>(f: () => Promise<T>, reps: number): Promise<{ ms: number; value: T }> {
  let value = await f();
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    value = await f();
    times.push(performance.now() - t0);
  }
  return { ms: median(times), value };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Runs `f` with our kernels and with the stock ones; returns both results, ours first. */
async function bothKernelSets<T>(f: () => Promise<T>): Promise<{ ours: T; stock: T }> {
  setWebGpuKernels('ours');
  const ours = await f();
  setWebGpuKernels('stock');
  const stock = await f();
  setWebGpuKernels('ours');
  return { ours, stock };
}

// ---------------------------------------------------------------------------------------------
// Errors.

const fe = (x: number) => (Number.isFinite(x) ? x.toExponential(1) : String(x));

/** Max |a − b| and that over max |b| (the error relative to the output's scale). */
export function errors(a: ArrayLike<number>, b: ArrayLike<number>): { abs: number; rel: number } {
  let abs = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    abs = Number.isNaN(d) ? NaN : Math.max(abs, d);
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return { abs, rel: scale > 0 ? abs / scale : abs };
}

// ---------------------------------------------------------------------------------------------
// Float64 references of single output entries (sampled checks at the benchmark's sizes).

/** C = A·B, entry `idx` (row-major [n, n]); returns the value and Σ|terms| (the error scale). */
function matmulEntry(a: Float32Array, b: Float32Array, n: number, idx: number): [number, number] {
  const i = Math.floor(idx / n);
  const j = idx % n;
  let s = 0;
  let m = 0;
  for (let k = 0; k < n; k++) {
    const t = a[i * n + k]! * b[k * n + j]!;
    s += t;
    m += Math.abs(t);
  }
  return [s, m];
}

interface ConvShape {
  n: number;
  h: number;
  cin: number;
  cout: number;
  k: number;
}

/** 'same' conv, stride 1, NHWC / HWIO: forward, input gradient and filter gradient entries. */
function convEntry(kind: 'conv' | 'convBackInput' | 'convBackFilter', s: ConvShape, x: Float32Array, w: Float32Array, dy: Float32Array, idx: number): [number, number] {
  const { n, h, cin, cout, k } = s;
  const p = (k - 1) >> 1;
  let sum = 0;
  let mag = 0;
  const add = (t: number) => {
    sum += t;
    mag += Math.abs(t);
  };
  if (kind === 'conv') {
    const co = idx % cout;
    const xx = Math.floor(idx / cout) % h;
    const yy = Math.floor(idx / (cout * h)) % h;
    const b = Math.floor(idx / (cout * h * h));
    for (let dyk = 0; dyk < k; dyk++)
      for (let dxk = 0; dxk < k; dxk++) {
        const iy = yy + dyk - p;
        const ix = xx + dxk - p;
        if (iy < 0 || iy >= h || ix < 0 || ix >= h) continue;
        for (let ci = 0; ci < cin; ci++) add(x[((b * h + iy) * h + ix) * cin + ci]! * w[((dyk * k + dxk) * cin + ci) * cout + co]!);
      }
  } else if (kind === 'convBackInput') {
    const ci = idx % cin;
    const xx = Math.floor(idx / cin) % h;
    const yy = Math.floor(idx / (cin * h)) % h;
    const b = Math.floor(idx / (cin * h * h));
    for (let dyk = 0; dyk < k; dyk++)
      for (let dxk = 0; dxk < k; dxk++) {
        const oy = yy - dyk + p;
        const ox = xx - dxk + p;
        if (oy < 0 || oy >= h || ox < 0 || ox >= h) continue;
        for (let co = 0; co < cout; co++) add(dy[((b * h + oy) * h + ox) * cout + co]! * w[((dyk * k + dxk) * cin + ci) * cout + co]!);
      }
  } else {
    const co = idx % cout;
    const ci = Math.floor(idx / cout) % cin;
    const dxk = Math.floor(idx / (cout * cin)) % k;
    const dyk = Math.floor(idx / (cout * cin * k));
    for (let b = 0; b < n; b++)
      for (let oy = 0; oy < h; oy++) {
        const iy = oy + dyk - p;
        if (iy < 0 || iy >= h) continue;
        for (let ox = 0; ox < h; ox++) {
          const ix = ox + dxk - p;
          if (ix < 0 || ix >= h) continue;
          add(x[((b * h + iy) * h + ix) * cin + ci]! * dy[((b * h + oy) * h + ox) * cout + co]!);
        }
      }
  }
  return [sum, mag];
}

/** Max |value − float64| ÷ Σ|terms| over sampled entries: float32 accumulation stays ≲ 1e-6. */
function normalisedError(values: readonly number[], refs: readonly [number, number][]): number {
  let e = 0;
  values.forEach((v, i) => {
    const [r, m] = refs[i]!;
    const d = Math.abs(v - r) / (m > 0 ? m : 1);
    e = Number.isNaN(d) ? NaN : Math.max(e, d);
  });
  return e;
}

/** Float32 sums normalised by Σ|terms| stay far below this; TF32 (10-bit mantissa) or a wrong index do not. */
const SAMPLED_TOLERANCE = 2e-5;

async function readSamples(t: Tensor, idx: readonly number[]): Promise<number[]> {
  const flat = tf.tidy(() => tf.gather(tf.reshape(t, [-1]), tf.tensor1d(idx as number[], 'int32')));
  const v = Array.from(await flat.data());
  flat.dispose();
  return v;
}

// ---------------------------------------------------------------------------------------------
// 1. Small odd shapes against the cpu backend.

interface SmallCheck {
  readonly name: string;
  readonly run: () => Tensor;
}

function smallChecks(): SmallCheck[] {
  const t = (shape: number[], seed: number) => tf.tensor(randn(shape.reduce((a, b) => a * b, 1), seed), shape);
  const mm = (m: number, k: number, n: number, ta = false, tb = false): SmallCheck => ({
    name: `matMul ${m}×${k}·${k}×${n}${ta ? ' Aᵀ' : ''}${tb ? ' Bᵀ' : ''}`,
    run: () => tf.tidy(() => tf.matMul(t(ta ? [k, m] : [m, k], m + k), t(tb ? [n, k] : [k, n], n + 3), ta, tb)),
  });
  const conv = (n: number, h: number, w: number, cin: number, cout: number, k: number, stride: number, pad: 'same' | 'valid'): SmallCheck[] => {
    const xs = [n, h, w, cin];
    const ws = [k, k, cin, cout];
    const label = `${n}×${h}×${w}×${cin} ∗ ${k}×${k}×${cin}×${cout} stride ${stride} ${pad}`;
    return [
      { name: `conv2d ${label}`, run: () => tf.tidy(() => tf.conv2d(t(xs, 5) as tl.tf.Tensor4D, t(ws, 6) as tl.tf.Tensor4D, stride, pad)) },
      {
        name: `conv2d gradients (input, filter) ${label}`,
        run: () =>
          tf.tidy(() => {
            const x = t(xs, 5) as tl.tf.Tensor4D;
            const f = t(ws, 6) as tl.tf.Tensor4D;
            const g = tf.grads((a: Tensor, b: Tensor) => tf.sum(tf.mul(tf.conv2d(a as tl.tf.Tensor4D, b as tl.tf.Tensor4D, stride, pad), tf.sin(tf.conv2d(a as tl.tf.Tensor4D, b as tl.tf.Tensor4D, stride, pad)))));
            const [dx, df] = g([x, f]);
            return tf.concat([tf.reshape(dx!, [-1]), tf.reshape(df!, [-1])]);
          }),
      },
    ];
  };
  return [
    mm(1, 1, 1),
    mm(7, 13, 5),
    mm(65, 129, 33),
    mm(31, 17, 63, true, false),
    mm(33, 70, 47, false, true),
    { name: 'batchMatMul 3×17×19 · 3×19×23', run: () => tf.tidy(() => tf.matMul(t([3, 17, 19], 1), t([3, 19, 23], 2))) },
    {
      name: 'fused matMul + bias + relu 33×70·70×47',
      run: () => tf.tidy(() => tf.fused.matMul({ a: t([33, 70], 3) as tl.tf.Tensor2D, b: t([70, 47], 4) as tl.tf.Tensor2D, bias: t([47], 5), activation: 'relu' })),
    },
    ...conv(1, 1, 1, 1, 1, 1, 1, 'same'),
    ...conv(1, 9, 11, 3, 5, 3, 1, 'same'),
    ...conv(2, 13, 13, 4, 6, 3, 2, 'same'),
    ...conv(3, 10, 7, 5, 7, 1, 2, 'valid'),
    ...conv(2, 17, 17, 16, 32, 3, 1, 'same'),
    { name: 'sum, mean, max over axes of 7×33×65', run: () => tf.tidy(() => { const x = t([7, 33, 65], 9); return tf.concat([tf.reshape(tf.sum(x, 0), [-1]), tf.reshape(tf.mean(x, [1, 2]), [-1]), tf.reshape(tf.max(x, 2), [-1])]); }) },
  ];
}

async function runSmallChecks(): Promise<{ lines: string[]; ok: boolean }> {
  const checks = smallChecks();
  await tl.initBackend('cpu');
  const refs: Float32Array[] = [];
  for (const c of checks) {
    const r = c.run();
    refs.push((await r.data()) as Float32Array);
    r.dispose();
  }
  await tl.initBackend('webgpu');
  const lines: string[] = [];
  let ok = true;
  let worst = { ours: 0, stock: 0 };
  for (const [i, c] of checks.entries()) {
    const { ours, stock } = await bothKernelSets(async () => {
      const r = c.run();
      const v = (await r.data()) as Float32Array;
      r.dispose();
      return errors(v, refs[i]!);
    });
    const pass = ours.rel <= 1e-4 && stock.rel <= 1e-4;
    worst = { ours: Math.max(worst.ours, ours.rel), stock: Math.max(worst.stock, stock.rel) };
    if (!pass) {
      ok = false;
      lines.push(`**FAILED** ${c.name}: relative error ours ${fe(ours.rel)}, stock ${fe(stock.rel)} (tolerance 1e-4)`);
    }
  }
  lines.unshift(
    `${ok ? 'ok' : '**FAILED**'}: ${checks.length} small odd-shaped ops (matMul 1×1, primes, transposes, batched, fused bias+relu; conv2d forward and input/filter gradients with 1×1, 3×3, stride 2, same/valid; reductions) against the cpu backend: largest max|error| ÷ max|cpu| ours ${fe(worst.ours)}, stock ${fe(worst.stock)}`,
  );
  return { lines, ok };
}

// ---------------------------------------------------------------------------------------------
// 2. Cases timed on both kernel sets and in PyTorch.

interface CaseSpec {
  id: string;
  kind: string;
  inputs: Record<string, { offset: number; shape: number[] }>;
  reps: number;
  inner: number;
  [key: string]: unknown;
}

interface Measured {
  readonly spec: CaseSpec;
  /** Builds the report row from the PyTorch result (undefined when PyTorch failed). */
  readonly row: (torch: Record<string, unknown> | undefined, grads: Float32Array | undefined) => Row;
}

export interface GpuBenchOptions {
  readonly scale?: Scale;
  /** Folder for the data exchanged with PyTorch (and the section, when `sectionFile` is set). */
  readonly workDir: string;
  readonly python: string;
  readonly command: string;
}

export interface GpuBenchResult {
  readonly name: 'gpu' | 'gpu-lavapipe';
  readonly context: SectionContext;
  readonly rows: Row[];
  readonly ok: boolean;
}

/** Device memory errors raised while `f` runs (WebGPU reports them in error scopes, not as exceptions). */
async function withOomScope<T>(f: () => Promise<T>): Promise<{ value: T; oom: string | undefined }> {
  const device = (tf.backend() as unknown as { device?: { pushErrorScope(k: string): void; popErrorScope(): Promise<{ message: string } | null> } }).device;
  device?.pushErrorScope('out-of-memory');
  let value: T;
  try {
    value = await f();
  } catch (e) {
    await device?.popErrorScope().catch(() => null);
    throw e;
  }
  const err = device ? await device.popErrorScope() : null;
  return { value, oom: err ? err.message : undefined };
}

export async function runGpuBench(o: GpuBenchOptions): Promise<GpuBenchResult> {
  const load0 = os.loadavg()[0]!;
  const info = await tl.initBackend('webgpu');
  const software = /llvmpipe|lavapipe|swiftshader|software/i.test(info.detail) || info.detail.includes('(software)');
  if (software && process.env['GPU_BENCH_REQUIRE_HARDWARE'] === '1') {
    throw new Error(`the WebGPU adapter is a software one (${info.device}), not the GPU: the GPU's Vulkan driver was not picked up (VK_DRIVER_FILES / VK_ICD_FILENAMES)`);
  }
  const scale: Scale = o.scale ?? (software ? 'lavapipe' : 'gpu');
  const S = SIZES[scale];
  const kernels = webGpuKernelNames();
  log(`adapter ${info.device}${software ? ' (software)' : ''}; sizes '${scale}'; our kernels: ${kernels.join(', ') || 'none registered'}`);
  mkdirSync(o.workDir, { recursive: true });

  // 1. Correctness on small odd shapes.
  const small = await runSmallChecks();
  log(small.lines[0]!);
  const checks = [...small.lines];

  // 2. Cases.
  const data = new DataFile(path.join(o.workDir, 'data.bin'));
  const cases: Measured[] = [];

  for (const n of S.matmul) {
    const a = randn(n * n, 11 + n);
    const b = randn(n * n, 12 + n);
    const idx = sampleIndices(n * n);
    const refs = idx.map((i) => matmulEntry(a, b, n, i));
    const inputs = { a: data.add(a, [n, n]), b: data.add(b, [n, n]) };
    const flops = 2 * n ** 3;
    const inner = Math.max(1, Math.min(20, Math.round((scale === 'gpu' ? 2e11 : 2e9) / flops)));
    const ta = tf.tensor2d(a, [n, n]);
    const tb = tf.tensor2d(b, [n, n]);
    const res = await bothKernelSets(async () => {
      const ms = await timeOp(() => tf.matMul(ta, tb), S.reps, inner);
      const c = tf.matMul(ta, tb);
      const v = await readSamples(c, idx);
      c.dispose();
      return { ms, v };
    });
    tf.dispose([ta, tb]);
    const spec: CaseSpec = { id: `matmul${n}`, kind: 'matmul', inputs, reps: S.reps, inner, samples: idx };
    cases.push({ spec, row: (t) => sampledRow('matmul', `matmul ${n}×${n} · ${n}×${n} fp32`, flops, res, refs, t) });
    log(`matmul ${n}: ours ${res.ours.ms.toFixed(2)} ms, stock ${res.stock.ms.toFixed(2)} ms`);
  }

  for (const [label, nb, h, cin, cout] of S.conv) {
    const k = 3;
    const shape: ConvShape = { n: nb, h, cin, cout, k };
    const x = randn(nb * h * h * cin, 21 + cin);
    const w = randn(k * k * cin * cout, 22 + cout, Math.sqrt(2 / (k * k * cin)));
    const dy = randn(nb * h * h * cout, 23 + h);
    const inputs = { x: data.add(x, [nb, h, h, cin]), w: data.add(w, [k, k, cin, cout]), dy: data.add(dy, [nb, h, h, cout]) };
    const tx = tf.tensor4d(x, [nb, h, h, cin]);
    const tw = tf.tensor4d(w, [k, k, cin, cout]);
    const tdy = tf.tensor4d(dy, [nb, h, h, cout]);
    const flops = 2 * nb * h * h * k * k * cin * cout;
    const conf = { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1 } as const;
    const ops = {
      conv: () => tf.conv2d(tx, tw, 1, 'same'),
      convBackInput: () => tf.engine().runKernel('Conv2DBackpropInput', { dy: tdy, filter: tw }, { ...conf, inputShape: tx.shape }) as Tensor,
      convBackFilter: () => tf.engine().runKernel('Conv2DBackpropFilter', { x: tx, dy: tdy }, { ...conf, filterShape: tw.shape }) as Tensor,
    };
    const names = { conv: 'forward', convBackInput: 'input gradient', convBackFilter: 'filter gradient' };
    for (const kind of ['conv', 'convBackInput', 'convBackFilter'] as const) {
      const size = kind === 'convBackFilter' ? k * k * cin * cout : kind === 'conv' ? nb * h * h * cout : nb * h * h * cin;
      const idx = sampleIndices(size, kind === 'convBackFilter' ? 64 : 256);
      const refs = idx.map((i) => convEntry(kind, shape, x, w, dy, i));
      const inner = Math.max(1, Math.min(20, Math.round((scale === 'gpu' ? 1e11 : 5e8) / flops)));
      const res = await bothKernelSets(async () => {
        const ms = await timeOp(ops[kind], S.reps, inner);
        const c = ops[kind]();
        const v = await readSamples(c, idx);
        c.dispose();
        return { ms, v };
      });
      const spec: CaseSpec = { id: `${kind}-${nb}-${h}-${cin}-${cout}`, kind, inputs, reps: S.reps, inner, samples: idx };
      const text = `conv 3×3 ${names[kind]}: ${label}, ${nb}×${h}×${h}×${cin} → ${cout}`;
      cases.push({ spec, row: (t) => sampledRow('conv', text, flops, res, refs, t) });
      log(`${text}: ours ${res.ours.ms.toFixed(2)} ms, stock ${res.stock.ms.toFixed(2)} ms`);
    }
    tf.dispose([tx, tw, tdy]);
  }

  // Training: tl.cnn (the model of bench/train.bench.ts) and tl.resnet.
  const trainings = [
    { kind: 'trainCnn', label: 'small CNN (tl.cnn 28×28×1, conv 32/64, dense 128)', make: () => tl.cnn({ inputShape: [28, 28, 1], numClasses: 10, channels: [32, 64], hidden: 128, seed: 0 }), input: [28, 28, 1] as const, classes: 10, ...S.cnn, config: { channels: [32, 64], hidden: 128 } },
    {
      kind: 'trainResnet',
      label: `ResNet (tl.resnet ${S.resnet.size}×${S.resnet.size}×3, width ${S.resnet.width}, blocks ${S.resnet.blocks.join('/')}, BatchNorm, ${S.resnet.classes} classes)`,
      make: () => tl.resnet({ inputShape: [S.resnet.size, S.resnet.size, 3], numClasses: S.resnet.classes, width: S.resnet.width, blocks: S.resnet.blocks, seed: 0 }),
      input: [S.resnet.size, S.resnet.size, 3] as const,
      ...S.resnet,
      config: { width: S.resnet.width, blocks: S.resnet.blocks },
    },
  ];
  for (const tr of trainings) {
    const n = tr.batch * tr.steps;
    const [hh, ww, cc] = tr.input;
    const xs = new Float32Array(n * hh * ww * cc);
    const u = randn(xs.length, 31);
    for (let i = 0; i < xs.length; i++) xs[i] = 0.5 + 0.25 * Math.tanh(u[i]!);
    const labels = Int32Array.from({ length: n }, (_, i) => (i * 7919) % tr.classes);
    const model = tr.make();
    const weights = model.getWeights();
    const names = [...weights.keys()];
    const inputs: CaseSpec['inputs'] = { x: data.add(xs, [n, hh, ww, cc]), y: data.add(labels, [n]) };
    for (const name of names) {
      const t = weights.get(name)!;
      inputs[`w:${name}`] = data.add((await t.data()) as Float32Array, t.shape);
    }
    const lr = 0.01;
    const classes = Array.from({ length: tr.classes }, (_, i) => String(i));
    const x = tf.tensor4d(xs, [n, hh, ww, cc]);
    const dataset = new tl.Dataset('bench', x, tf.tensor1d(labels, 'int32'), classes, labels);
    // Gradients of the first batch (the check against PyTorch), then timed training.
    const res = await bothKernelSets(async () => {
      const m = tr.make();
      const xb = tf.slice(x, 0, tr.batch) as tl.tf.Tensor4D;
      const yb = tf.oneHot(tf.tensor1d(labels.slice(0, tr.batch), 'int32'), tr.classes);
      const vars = names.map((k) => m.variables.get(k)!);
      const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(yb, m.forward(xb, { training: true }).logits) as tl.tf.Scalar, vars);
      const loss0 = (await value.data())[0]!;
      const g = new Float32Array(vars.reduce((s, v) => s + v.size, 0));
      let at = 0;
      for (const v of vars) {
        const d = (await grads[v.name]!.data()) as Float32Array;
        g.set(d, at);
        at += d.length;
      }
      tf.dispose([xb, yb, value, ...Object.values(grads)]);
      m.setWeights(weights);
      const opts = { batchSize: tr.batch, lr, progress: false, recalibrateNorm: false as const };
      const warm = await tl.train(m, dataset.take(tr.batch * Math.min(2, tr.steps)), { ...opts, epochs: 1 });
      warm.dispose();
      const rounds: number[] = [];
      let lastLoss = NaN;
      const { oom } = await withOomScope(async () => {
        for (let r = 0; r < tr.rounds; r++) {
          const t0 = performance.now();
          const run = await tl.train(m, dataset, { ...opts, epochs: 1 });
          await settle(m.variables.get(names[0]!)!);
          rounds.push(n / ((performance.now() - t0) / 1000));
          lastLoss = run.final?.loss ?? NaN;
          run.dispose();
        }
      });
      m.dispose();
      return { exs: median(rounds), rounds, loss0, grads: g, oom, lastLoss };
    });
    model.dispose();
    dataset.dispose();
    const spec: CaseSpec = { id: tr.kind, kind: tr.kind, inputs, reps: 1, inner: 1, batch: tr.batch, rounds: tr.rounds, lr, weights: names, config: tr.config };
    cases.push({ spec, row: (t, grads) => trainRow(tr.label, tr.batch, tr.steps, res, t, grads, names.map((k) => weights.get(k)!.size)) });
    tf.dispose([...weights.values()]);
    log(`${tr.label}: ours ${res.ours.exs.toFixed(1)} ex/s, stock ${res.stock.exs.toFixed(1)} ex/s${res.ours.oom ? ` OUT OF MEMORY: ${res.ours.oom}` : ''}`);
  }

  // CKA.
  const ckaApi = tl.cka as unknown as Record<string, (...a: unknown[]) => unknown>;
  const linear = (X: Tensor, Y: Tensor, opts?: object) => Promise.resolve((ckaApi['linearAsync'] ?? ckaApi['linear'])!(X, Y, opts) as number | Promise<number>);
  for (const [n, p] of S.cka) {
    const xv = randn(n * p, 41 + p);
    const mix = randn(p * p, 42 + p, 1 / Math.sqrt(p));
    const noise = randn(n * p, 43 + p, 0.5);
    const tx = tf.tensor2d(xv, [n, p]);
    const ty = tf.tidy(() => tf.relu(tf.add(tf.matMul(tx, tf.tensor2d(mix, [p, p])), tf.tensor2d(noise, [n, p]))));
    const yv = (await ty.data()) as Float32Array;
    const inputs = { x: data.add(xv, [n, p]), y: data.add(yv, [n, p]) };
    for (const debiased of [false, true]) {
      const res = await bothKernelSets(() => timeAsync(() => linear(tx, ty, debiased ? { debiased: true } : undefined), S.reps));
      const kind = debiased ? 'ckaDebiased' : 'cka';
      const spec: CaseSpec = { id: `${kind}-${n}-${p}`, kind, inputs, reps: S.reps, inner: 1 };
      const label = `${debiased ? 'debiased ' : ''}linear CKA ${n}×${p} vs ${n}×${p}`;
      cases.push({ spec, row: (t) => ckaRow(label, { ours: { ms: res.ours.ms, values: [res.ours.value] }, stock: { ms: res.stock.ms, values: [res.stock.value] } }, t && { ms: t['ms'] as number, values: [t['value'] as number], f64: [t['f64'] as number] }) });
      log(`${label}: ours ${res.ours.ms.toFixed(1)} ms, stock ${res.stock.ms.toFixed(1)} ms`);
    }
    tf.dispose([tx, ty]);
  }

  {
    const { n, widths } = S.heatmap;
    const z = tf.tensor2d(randn(n * 128, 51), [n, 128]);
    const zb = tf.add(z, tf.tensor2d(randn(n * 128, 52, 0.7), [n, 128]));
    const fa = new Map<string, Tensor>();
    const fb = new Map<string, Tensor>();
    const inputs: CaseSpec['inputs'] = {};
    for (const [i, p] of widths.entries()) {
      const a = tf.tidy(() => tf.relu(tf.matMul(z, tf.tensor2d(randn(128 * p, 100 + i), [128, p]))));
      const b = tf.tidy(() => tf.relu(tf.matMul(zb, tf.tensor2d(randn(128 * p, 200 + i), [128, p]))));
      fa.set(`m${i}`, a);
      fb.set(`m${i}`, b);
      inputs[`a${i}`] = data.add((await a.data()) as Float32Array, [n, p]);
      inputs[`b${i}`] = data.add((await b.data()) as Float32Array, [n, p]);
    }
    const matrix = (ckaApi['matrixFromFeaturesAsync'] ?? ckaApi['matrixFromFeatures'])!;
    const reps = scale === 'gpu' ? 3 : 1;
    const res = await bothKernelSets(() => timeAsync(async () => ((await matrix(fa, fb)) as { values: number[][] }).values.flat(), reps));
    tf.dispose([z, zb, ...fa.values(), ...fb.values()]);
    const label = `CKA heatmap ${widths.length}×${widths.length} modules, n = ${n} (widths ${Math.max(...widths)}…${Math.min(...widths)})`;
    const spec: CaseSpec = { id: 'heatmap', kind: 'heatmap', inputs, reps, inner: 1, modules: widths.length };
    cases.push({ spec, row: (t) => ckaRow(label, { ours: { ms: res.ours.ms, values: res.ours.value }, stock: { ms: res.stock.ms, values: res.stock.value } }, t && { ms: t['ms'] as number, values: (t['values'] as number[][]).flat(), f64: (t['f64'] as number[][]).flat() }) });
    log(`${label}: ours ${res.ours.ms.toFixed(1)} ms, stock ${res.stock.ms.toFixed(1)} ms`);
  }

  {
    const { n, batch, widths } = S.minibatch;
    const zv = randn(n * 128, 61);
    const z = tf.tensor2d(zv, [n, 128]);
    const wa = widths.map((p, i) => randn(128 * p, 300 + i, 1 / Math.sqrt(128)));
    const wb = widths.map((p, i) => randn(128 * p, 400 + i, 1 / Math.sqrt(128)));
    const inputs: CaseSpec['inputs'] = { z: data.add(zv, [n, 128]) };
    widths.forEach((p, i) => {
      inputs[`wa${i}`] = data.add(wa[i]!, [128, p]);
      inputs[`wb${i}`] = data.add(wb[i]!, [128, p]);
    });
    const twa = widths.map((p, i) => tf.tensor2d(wa[i]!, [128, p]));
    const twb = widths.map((p, i) => tf.tensor2d(wb[i]!, [128, p]));
    const pass = async () => {
      const acc = new tl.cka.MinibatchCka() as unknown as { updateAsync?: (a: unknown, b: unknown) => Promise<void>; update: (a: unknown, b: unknown) => unknown; result(): { values: number[][] } };
      for (let s = 0; s < n; s += batch) {
        const m = Math.min(batch, n - s);
        const zb = tf.slice(z, [s, 0], [m, 128]);
        const fa: Record<string, Tensor> = {};
        const fb: Record<string, Tensor> = {};
        widths.forEach((_, i) => {
          fa[`m${i}`] = tf.tidy(() => tf.relu(tf.matMul(zb, twa[i]!)));
          fb[`m${i}`] = tf.tidy(() => tf.relu(tf.matMul(zb, twb[i]!)));
        });
        await (acc.updateAsync ? acc.updateAsync(fa, fb) : acc.update(fa, fb));
        tf.dispose([zb, ...Object.values(fa), ...Object.values(fb)]);
      }
      return acc.result().values.flat();
    };
    const res = await bothKernelSets(async () => {
      const { value, oom } = await withOomScope(() => timeAsync(pass, 1));
      return { ...value, oom };
    });
    tf.dispose([z, ...twa, ...twb]);
    const label = `minibatch CKA ${widths.length}×${widths.length} modules, ${n} examples in batches of ${batch} (features made per batch)`;
    const spec: CaseSpec = { id: 'minibatch', kind: 'minibatch', inputs, reps: 1, inner: 1, modules: widths.length, batch };
    cases.push({
      spec,
      row: (t) => {
        const r = ckaRow(label, { ours: { ms: res.ours.ms, values: res.ours.value }, stock: { ms: res.stock.ms, values: res.stock.value } }, t && { ms: t['ms'] as number, values: (t['values'] as number[][]).flat(), f64: (t['f64'] as number[][]).flat() });
        const oom = res.ours.oom ?? res.stock.oom;
        return oom ? { ...r, ok: false, check: `out of device memory: ${oom}; ${r.check}` } : { ...r, check: `no device memory error${t?.['peakMiB'] ? ` (PyTorch peak ${(t['peakMiB'] as number).toFixed(0)} MiB)` : ''}; ${r.check}` };
      },
    });
    log(`${label}: ours ${res.ours.ms.toFixed(1)} ms, stock ${res.stock.ms.toFixed(1)} ms`);
  }
  data.close();
  const load1 = os.loadavg()[0]!;

  // 3. PyTorch on the same data.
  const { writeFileSync } = await import('node:fs');
  writeFileSync(path.join(o.workDir, 'cases.json'), JSON.stringify({ cases: cases.map((c) => c.spec) }));
  log(`PyTorch (${o.python}) on the same data`);
  const t0 = performance.now();
  const py = spawnSync(o.python, [path.join(peerDir(), 'torch_peer.py'), o.workDir], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, GPU_BENCH_TORCH_CPU: software ? '1' : process.env['GPU_BENCH_TORCH_CPU'] ?? '' } });
  log(`PyTorch done in ${((performance.now() - t0) / 1000).toFixed(1)} s (exit ${py.status})`);
  let torch: { info: Record<string, unknown>; results: Record<string, Record<string, unknown>> } | undefined;
  const torchFile = path.join(o.workDir, 'torch.json');
  if (py.status === 0 && existsSync(torchFile)) torch = JSON.parse(readFileSync(torchFile, 'utf8')) as typeof torch;
  const gradsAll = torch ? new Float32Array(readFileSync(path.join(o.workDir, 'torch-grads.bin')).buffer.slice(0)) : undefined;
  const rows = cases.map((c) => {
    const t = torch?.results[c.spec.id];
    const off = t?.['gradOffset'] as number | undefined;
    return c.row(t, gradsAll && off !== undefined ? gradsAll.subarray(off) : undefined);
  });
  const ti = torch?.info;
  const context: SectionContext = {
    command: o.command,
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    adapter: info.device,
    software,
    torch: ti ? `PyTorch ${ti['torch']} on ${ti['device']}${ti['device'] === 'CPU' ? ` (${ti['threads']} threads; ${ti['blas']})` : ` (fp32; TF32 ${ti['tf32']}; cuDNN benchmark mode)`}` : `PyTorch: **failed** (exit ${py.status}; see the run's output)`,
    machine: `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
    load: `load average ${load0.toFixed(1)} → ${load1.toFixed(1)} (TransferLab's part)${software ? '; on a software adapter both sides compute on the CPU, one after the other' : ''}`,
    kernels,
    checks: [
      ...checks,
      'At the benchmark sizes, sampled entries of every matmul and conv output against float64 sums of the same float32 inputs: error ÷ Σ|terms| (float32 accumulation: ≲ 1e-6; TF32 or a wrong index: ≳ 1e-4), tolerance 2e-5, in the table; CKA values against PyTorch float64 on the same features (tolerance 1e-4); training: loss and gradients of the first batch from the same weights against PyTorch fp32 (tolerance 1e-3 of each gradient\'s scale).',
    ],
    notes: [
      `Timings: a warm-up call (shader compilation), then medians of ${S.reps} rounds; each round queues its calls and ends by awaiting a read (WebGPU work is timed to completion, not submission); PyTorch likewise with \`torch.cuda.synchronize()\`. Training: \`tl.train\` (SGD momentum 0.9, lr 0.01, history logging, \`recalibrateNorm: false\`) over in-memory data after a 2-step warm-up, median of rounds of one epoch; PyTorch the same network written functionally from the same weights (TensorFlow's 'same' padding, NHWC flattening), SGD momentum 0.9, after a warm-up epoch. CKA: TransferLab's analysis API as a notebook calls it (float64 reductions); PyTorch fp32 formulas (Gram matrices cached for the heatmap).`,
      ...(software ? ['On lavapipe these are records of a software rasteriser sharing the CPU with PyTorch, not GPU figures; no GPU figure is claimed here.'] : []),
    ],
  };
  const { sectionName } = await import('./markdown');
  const ok = small.ok && rows.every((r) => r.ok);
  return { name: sectionName(software), context, rows, ok };
}

/** The folder of torch_peer.py: next to this file, or next to the bundle on a device. */
function peerDir(): string {
  const here = __dirname;
  return existsSync(path.join(here, 'torch_peer.py')) ? here : path.join(here, 'gpu');
}

// ---------------------------------------------------------------------------------------------
// Rows.

interface OpResult {
  ms: number;
  v: number[];
}

function sampledRow(kind: 'matmul' | 'conv', label: string, flops: number, res: { ours: OpResult; stock: OpResult }, refs: [number, number][], t: Record<string, unknown> | undefined): Row {
  const eo = normalisedError(res.ours.v, refs);
  const es = normalisedError(res.stock.v, refs);
  const tv = t?.['samples'] as number[] | undefined;
  const et = tv ? normalisedError(tv, refs) : NaN;
  const vs = tv ? errors(res.ours.v, tv) : undefined;
  const ok = eo <= SAMPLED_TOLERANCE && es <= SAMPLED_TOLERANCE && (tv === undefined || et <= SAMPLED_TOLERANCE);
  return {
    kind,
    label,
    flops,
    ours: res.ours.ms,
    stock: res.stock.ms,
    torch: (t?.['ms'] as number | undefined) ?? NaN,
    ok,
    check: `${refs.length} entries vs float64, error ÷ Σ|terms|: ours ${fe(eo)}, stock ${fe(es)}, PyTorch ${fe(et)}; ours vs PyTorch max abs ${vs ? fe(vs.abs) : 'n/a'}, rel ${vs ? fe(vs.rel) : 'n/a'}`,
  };
}

function ckaRow(label: string, res: { ours: { ms: number; values: number[] }; stock: { ms: number; values: number[] } }, t: { ms: number; values: number[]; f64: number[] } | undefined): Row {
  const eo = t ? errors(res.ours.values, t.f64).abs : NaN;
  const es = t ? errors(res.stock.values, t.f64).abs : NaN;
  const et = t ? errors(t.values, t.f64).abs : NaN;
  const finite = res.ours.values.every(Number.isFinite) && res.stock.values.every(Number.isFinite);
  return {
    kind: 'cka',
    label,
    ours: res.ours.ms,
    stock: res.stock.ms,
    torch: t?.ms ?? NaN,
    ok: finite && (t === undefined || (eo <= 1e-4 && es <= 1e-4)),
    check: `max |CKA − PyTorch float64| over ${res.ours.values.length} value${res.ours.values.length > 1 ? 's' : ''}: ours ${fe(eo)}, stock ${fe(es)}, PyTorch fp32 ${fe(et)}`,
  };
}

interface TrainResult {
  exs: number;
  rounds: number[];
  loss0: number;
  grads: Float32Array;
  oom: string | undefined;
  lastLoss: number;
}

function trainRow(label: string, batch: number, steps: number, res: { ours: TrainResult; stock: TrainResult }, t: Record<string, unknown> | undefined, grads: Float32Array | undefined, sizes: number[]): Row {
  // Per weight tensor: max |ours − PyTorch| ÷ max |PyTorch|; the worst over tensors.
  const gradErr = (g: Float32Array) => {
    if (!grads) return NaN;
    let worst = 0;
    let at = 0;
    for (const s of sizes) {
      const e = errors(g.subarray(at, at + s), grads.subarray(at, at + s)).rel;
      worst = Number.isNaN(e) ? NaN : Math.max(worst, e);
      at += s;
    }
    return worst;
  };
  const go = gradErr(res.ours.grads);
  const gs = gradErr(res.stock.grads);
  const tl0 = t?.['loss0'] as number | undefined;
  const lo = tl0 === undefined ? NaN : Math.abs(res.ours.loss0 - tl0) / Math.abs(tl0);
  const ls = tl0 === undefined ? NaN : Math.abs(res.stock.loss0 - tl0) / Math.abs(tl0);
  const oom = res.ours.oom ?? res.stock.oom;
  const finite = Number.isFinite(res.ours.lastLoss) && Number.isFinite(res.stock.lastLoss);
  const ok = !oom && finite && (t === undefined || (go <= 1e-3 && gs <= 1e-3 && lo <= 1e-4 && ls <= 1e-4));
  const peak = t?.['peakMiB'] as number | undefined;
  return {
    kind: 'train',
    label: `${label}, batch ${batch}, ${steps} steps per round`,
    ours: res.ours.exs,
    stock: res.stock.exs,
    torch: (t?.['exs'] as number | undefined) ?? NaN,
    ok,
    check: `first batch from the same weights vs PyTorch: loss rel. error ours ${fe(lo)}, stock ${fe(ls)}; gradients (worst tensor, max error ÷ max |PyTorch|) ours ${fe(go)}, stock ${fe(gs)}; ${oom ? `OUT OF DEVICE MEMORY: ${oom}` : 'no device memory error'}, final loss ours ${res.ours.lastLoss.toFixed(3)}, stock ${res.stock.lastLoss.toFixed(3)}${t ? `, PyTorch ${(t['lossLast'] as number).toFixed(3)}` : ''}${peak ? `; PyTorch peak ${(peak / 1024).toFixed(1)} GiB` : ''}`,
  };
}
