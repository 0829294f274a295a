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
import { fmtValue, type Row, type SectionContext } from './markdown';

const tf = tl.tf;
type Tensor = tl.tf.Tensor;

/** Sizes: a GPU's, a software adapter's (lavapipe: a few minutes), or tiny (tests of the chain). */
export type Scale = 'gpu' | 'lavapipe' | 'small';

export interface Sizes {
  readonly matmul: readonly number[];
  /** Conv layers: [label, batch, H (= W), cin, cout]. */
  readonly conv: readonly (readonly [string, number, number, number, number])[];
  readonly cnn: { readonly batch: number; readonly steps: number; readonly rounds: number };
  readonly resnet: { readonly size: number; readonly width: number; readonly blocks: readonly number[]; readonly stem: 'small' | 'imagenet'; readonly classes: number; readonly batch: number; readonly steps: number; readonly rounds: number };
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
    resnet: { size: 224, width: 64, blocks: [2, 2, 2, 2], stem: 'imagenet', classes: 1000, batch: 64, steps: 4, rounds: 2 },
    cka: [[2000, 256], [10000, 2048]],
    heatmap: { n: 5000, widths: HEAT_GPU },
    minibatch: { n: 50000, batch: 1000, widths: [2048, 1024, 512, 256] },
    reps: 5,
  },
  lavapipe: {
    matmul: [256, 512, 1024],
    conv: [
      ['ResNet-like layer (28×28, 32→32)', 8, 28, 32, 32],
      ['small CNN conv1', 32, 28, 1, 32],
      ['small CNN conv2', 32, 14, 32, 64],
    ],
    cnn: { batch: 32, steps: 3, rounds: 2 },
    resnet: { size: 32, width: 8, blocks: [2, 2, 2, 2], stem: 'small', classes: 10, batch: 8, steps: 3, rounds: 2 },
    cka: [[600, 96]],
    heatmap: { n: 256, widths: [64, 64, 64, 48, 48, 48, 48, 32, 32, 32, 32, 24, 24, 16, 8, 8] },
    minibatch: { n: 2000, batch: 250, widths: [64, 32, 16, 8] },
    reps: 3,
  },
  small: {
    matmul: [64, 96],
    conv: [['ResNet-like layer', 2, 8, 8, 8], ['small CNN conv1', 4, 28, 1, 8]],
    cnn: { batch: 16, steps: 2, rounds: 1 },
    resnet: { size: 16, width: 4, blocks: [1, 1], stem: 'imagenet', classes: 10, batch: 4, steps: 2, rounds: 1 },
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
    const bytes = new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
    for (let done = 0; done < bytes.length; ) done += writeSync(this.fd, bytes, done, Math.min(bytes.length - done, 1 << 30));
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

/**
 * Median ms per call: a warm-up call (compilation), one timed call to size the rounds, then `reps`
 * rounds of as many calls as fill ~`targetMs` (one round when a call takes over 3 s), each round
 * ending with a read.
 */
async function timeOp(f: () => Tensor, reps: number, targetMs: number): Promise<{ ms: number; inner: number }> {
  let once = 0;
  for (let k = 0; k < 2; k++) {
    const t0 = performance.now();
    const w = f();
    await settle(w);
    w.dispose();
    once = performance.now() - t0;
  }
  const inner = Math.max(1, Math.min(50, Math.round(targetMs / Math.max(once, 1e-3))));
  const rounds = once > 3000 ? 1 : reps;
  const times: number[] = [];
  for (let r = 0; r < rounds; r++) {
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
  return { ms: median(times), inner };
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
    const once = async (which: 'ours' | 'stock') => {
      setWebGpuKernels(which);
      const r = c.run();
      const v = (await r.data()) as Float32Array;
      r.dispose();
      return errors(v, refs[i]!);
    };
    const ours = await once('ours');
    const stock = await once('stock');
    setWebGpuKernels('ours');
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
  [key: string]: unknown;
}

type KernelSet = 'ours' | 'stock';
type PerSet<R> = { ours?: R; stock?: R; skipped?: string };

/** One measurement: its data (written for PyTorch), a timing per kernel set, and its report row. */
interface Case<R> {
  readonly spec: CaseSpec;
  readonly label: string;
  readonly kind: Row['kind'];
  readonly measure: (which: KernelSet) => Promise<R>;
  readonly row: (res: PerSet<R>, torch: Record<string, unknown> | undefined, grads: Float32Array | undefined) => Row;
}

export interface GpuBenchOptions {
  readonly scale?: Scale;
  /** Folder for the data exchanged with PyTorch. */
  readonly workDir: string;
  readonly python: string;
  readonly command: string;
  /** Seconds TransferLab's timings may take before the remaining ones are skipped (default by scale). */
  readonly budgetSeconds?: number;
  /** Called with the report so far after every measurement (so that a run stopped early still leaves it). */
  readonly onProgress?: (result: GpuBenchResult) => void;
}

export interface GpuBenchResult {
  readonly name: 'gpu' | 'gpu-lavapipe';
  readonly context: SectionContext;
  readonly rows: Row[];
  readonly ok: boolean;
  /** Whether every measurement ran (false in the reports made along the way). */
  readonly complete: boolean;
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

/** Seconds TransferLab's timings may take (then the rest is skipped), and PyTorch's. */
const BUDGET: Record<Scale, number> = { gpu: 270, lavapipe: 420, small: 600 };
const TORCH_BUDGET: Record<Scale, number> = { gpu: 120, lavapipe: 300, small: 600 };
const TARGET_MS: Record<Scale, number> = { gpu: 100, lavapipe: 200, small: 20 };
/** Seconds one kernel set may spend on one training measurement (its rounds shrink to fit). */
const TRAIN_BUDGET: Record<Scale, number> = { gpu: 30, lavapipe: 25, small: 10 };

export async function runGpuBench(o: GpuBenchOptions): Promise<GpuBenchResult> {
  const load0 = os.loadavg()[0]!;
  const info = await tl.initBackend('webgpu');
  const software = /llvmpipe|lavapipe|swiftshader|software/i.test(info.detail) || info.detail.includes('(software)');
  if (software && process.env['GPU_BENCH_REQUIRE_HARDWARE'] === '1') {
    throw new Error(`the WebGPU adapter is a software one (${info.device}), not the GPU: the GPU's Vulkan driver was not picked up (VK_DRIVER_FILES / VK_ICD_FILENAMES)`);
  }
  const scale: Scale = o.scale ?? (software ? 'lavapipe' : 'gpu');
  const S = SIZES[scale];
  const target = TARGET_MS[scale];
  const kernels = webGpuKernelNames();
  log(`adapter ${info.device}${software ? ' (software)' : ''}; sizes '${scale}'; our kernels: ${kernels.join(', ') || 'none registered'}`);
  mkdirSync(o.workDir, { recursive: true });
  const { sectionName } = await import('./markdown');

  // 1. Correctness on small odd shapes against the cpu backend.
  const small = await runSmallChecks();
  log(small.lines[0]!);

  // 2. The cases and their data (written for PyTorch; float64 references of sampled entries).
  const data = new DataFile(path.join(o.workDir, 'data.bin'));
  const cases: Case<any>[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any

  for (const n of S.matmul) {
    const a = randn(n * n, 11 + n);
    const b = randn(n * n, 12 + n);
    const idx = sampleIndices(n * n);
    const refs = idx.map((i) => matmulEntry(a, b, n, i));
    const flops = 2 * n ** 3;
    const label = `matmul ${n}×${n} · ${n}×${n} fp32`;
    cases.push({
      spec: { id: `matmul${n}`, kind: 'matmul', inputs: { a: data.add(a, [n, n]), b: data.add(b, [n, n]) }, reps: S.reps, samples: idx },
      label,
      kind: 'matmul',
      measure: async () => {
        const ta = tf.tensor2d(a, [n, n]);
        const tb = tf.tensor2d(b, [n, n]);
        try {
          const { ms } = await timeOp(() => tf.matMul(ta, tb), S.reps, target);
          const c = tf.matMul(ta, tb);
          const v = await readSamples(c, idx);
          c.dispose();
          return { ms, v };
        } finally {
          tf.dispose([ta, tb]);
        }
      },
      row: (res: PerSet<OpResult>, t) => sampledRow('matmul', label, flops, res, refs, t),
    });
  }

  for (const [name, nb, h, cin, cout] of S.conv) {
    const k = 3;
    const shape: ConvShape = { n: nb, h, cin, cout, k };
    const x = randn(nb * h * h * cin, 21 + cin);
    const w = randn(k * k * cin * cout, 22 + cout, Math.sqrt(2 / (k * k * cin)));
    const dy = randn(nb * h * h * cout, 23 + h);
    const inputs = { x: data.add(x, [nb, h, h, cin]), w: data.add(w, [k, k, cin, cout]), dy: data.add(dy, [nb, h, h, cout]) };
    const flops = 2 * nb * h * h * k * k * cin * cout;
    const conf = { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1 } as const;
    const names = { conv: 'forward', convBackInput: 'input gradient', convBackFilter: 'filter gradient' };
    for (const kind of ['conv', 'convBackInput', 'convBackFilter'] as const) {
      const size = kind === 'convBackFilter' ? k * k * cin * cout : kind === 'conv' ? nb * h * h * cout : nb * h * h * cin;
      const idx = sampleIndices(size, kind === 'convBackFilter' ? 64 : 256);
      const refs = idx.map((i) => convEntry(kind, shape, x, w, dy, i));
      const label = `conv 3×3 ${names[kind]}: ${name}, ${nb}×${h}×${h}×${cin} → ${cout}`;
      cases.push({
        spec: { id: `${kind}-${nb}-${h}-${cin}-${cout}`, kind, inputs, reps: S.reps, samples: idx },
        label,
        kind: 'conv',
        measure: async () => {
          const tx = tf.tensor4d(x, [nb, h, h, cin]);
          const tw = tf.tensor4d(w, [k, k, cin, cout]);
          const tdy = tf.tensor4d(dy, [nb, h, h, cout]);
          const op = {
            conv: () => tf.conv2d(tx, tw, 1, 'same'),
            convBackInput: () => tf.engine().runKernel('Conv2DBackpropInput', { dy: tdy, filter: tw }, { ...conf, inputShape: tx.shape }) as Tensor,
            convBackFilter: () => tf.engine().runKernel('Conv2DBackpropFilter', { x: tx, dy: tdy }, { ...conf, filterShape: tw.shape }) as Tensor,
          }[kind];
          try {
            const { ms } = await timeOp(op, S.reps, target);
            const c = op();
            const v = await readSamples(c, idx);
            c.dispose();
            return { ms, v };
          } finally {
            tf.dispose([tx, tw, tdy]);
          }
        },
        row: (res: PerSet<OpResult>, t) => sampledRow('conv', label, flops, res, refs, t),
      });
    }
  }

  // CKA through the analysis API as a notebook calls it.
  const linear = (X: Tensor, Y: Tensor, opts?: { debiased: boolean }) => tl.cka.linear(X, Y, opts);
  for (const [n, p] of S.cka) {
    const xv = randn(n * p, 41 + p);
    const mix = randn(p * p, 42 + p, 1 / Math.sqrt(p));
    const noise = randn(n * p, 43 + p, 0.5);
    const ty = tf.tidy(() => tf.relu(tf.add(tf.matMul(tf.tensor2d(xv, [n, p]), tf.tensor2d(mix, [p, p])), tf.tensor2d(noise, [n, p]))));
    const yv = (await ty.data()) as Float32Array;
    ty.dispose();
    const inputs = { x: data.add(xv, [n, p]), y: data.add(yv, [n, p]) };
    for (const debiased of [false, true]) {
      const kind = debiased ? 'ckaDebiased' : 'cka';
      const label = `${debiased ? 'debiased ' : ''}linear CKA ${n}×${p} vs ${n}×${p}`;
      cases.push({
        spec: { id: `${kind}-${n}-${p}`, kind, inputs, reps: S.reps },
        label,
        kind: 'cka',
        measure: async () => {
          const tx = tf.tensor2d(xv, [n, p]);
          const ty = tf.tensor2d(yv, [n, p]);
          try {
            const r = await timeAsync(() => linear(tx, ty, debiased ? { debiased: true } : undefined), S.reps);
            return { ms: r.ms, values: [r.value] };
          } finally {
            tf.dispose([tx, ty]);
          }
        },
        row: (res: PerSet<CkaMeasured>, t) => ckaRow(label, res, t && { ms: t['ms'] as number, values: [t['value'] as number], f64: [t['f64'] as number] }),
      });
    }
  }

  {
    const { n, widths } = S.heatmap;
    const z = randn(n * 128, 51);
    const zb = randn(n * 128, 52, 0.7).map((v, i) => v + z[i]!);
    const feats = async (zz: Float32Array, seed: number) => {
      const out: Float32Array[] = [];
      for (const [i, p] of widths.entries()) {
        const t = tf.tidy(() => tf.relu(tf.matMul(tf.tensor2d(zz, [n, 128]), tf.tensor2d(randn(128 * p, seed + i), [128, p]))));
        out.push((await t.data()) as Float32Array);
        t.dispose();
      }
      return out;
    };
    const fa = await feats(z, 100);
    const fb = await feats(zb, 200);
    const inputs: CaseSpec['inputs'] = {};
    widths.forEach((p, i) => {
      inputs[`a${i}`] = data.add(fa[i]!, [n, p]);
      inputs[`b${i}`] = data.add(fb[i]!, [n, p]);
    });
    const reps = scale === 'gpu' ? 3 : 1;
    const label = `CKA heatmap ${widths.length}×${widths.length} modules, n = ${n} (widths ${Math.max(...widths)}…${Math.min(...widths)})`;
    cases.push({
      spec: { id: 'heatmap', kind: 'heatmap', inputs, reps, modules: widths.length },
      label,
      kind: 'cka',
      measure: async () => {
        const ta = new Map(widths.map((p, i) => [`m${i}`, tf.tensor2d(fa[i]!, [n, p])]));
        const tb = new Map(widths.map((p, i) => [`m${i}`, tf.tensor2d(fb[i]!, [n, p])]));
        try {
          const r = await timeAsync(async () => (await tl.cka.matrixFromFeatures(ta, tb)).values.flat(), reps);
          return { ms: r.ms, values: r.value };
        } finally {
          tf.dispose([...ta.values(), ...tb.values()]);
        }
      },
      row: (res: PerSet<CkaMeasured>, t) => ckaRow(label, res, t && { ms: t['ms'] as number, values: (t['values'] as number[][]).flat(), f64: (t['f64'] as number[][]).flat() }),
    });
  }

  {
    const { n, batch, widths } = S.minibatch;
    const zv = randn(n * 128, 61);
    const wa = widths.map((p, i) => randn(128 * p, 300 + i, 1 / Math.sqrt(128)));
    const wb = widths.map((p, i) => randn(128 * p, 400 + i, 1 / Math.sqrt(128)));
    const inputs: CaseSpec['inputs'] = { z: data.add(zv, [n, 128]) };
    widths.forEach((p, i) => {
      inputs[`wa${i}`] = data.add(wa[i]!, [128, p]);
      inputs[`wb${i}`] = data.add(wb[i]!, [128, p]);
    });
    const label = `minibatch CKA ${widths.length}×${widths.length} modules, ${n} examples in batches of ${batch} (features made per batch)`;
    cases.push({
      spec: { id: 'minibatch', kind: 'minibatch', inputs, reps: 1, modules: widths.length, batch },
      label,
      kind: 'cka',
      measure: async () => {
        const z = tf.tensor2d(zv, [n, 128]);
        const twa = widths.map((p, i) => tf.tensor2d(wa[i]!, [128, p]));
        const twb = widths.map((p, i) => tf.tensor2d(wb[i]!, [128, p]));
        const pass = async () => {
          const acc = new tl.cka.MinibatchCka();
          for (let s = 0; s < n; s += batch) {
            const m = Math.min(batch, n - s);
            const zb = tf.slice(z, [s, 0], [m, 128]);
            const fa: Record<string, Tensor> = {};
            const fb: Record<string, Tensor> = {};
            widths.forEach((_, i) => {
              fa[`m${i}`] = tf.tidy(() => tf.relu(tf.matMul(zb, twa[i]!)));
              fb[`m${i}`] = tf.tidy(() => tf.relu(tf.matMul(zb, twb[i]!)));
            });
            await acc.update(fa, fb);
            tf.dispose([zb, ...Object.values(fa), ...Object.values(fb)]);
          }
          return acc.result().values.flat();
        };
        try {
          const { value, oom } = await withOomScope(() => timeAsync(pass, 1));
          return { ms: value.ms, values: value.value, oom };
        } finally {
          tf.dispose([z, ...twa, ...twb]);
        }
      },
      row: (res: PerSet<CkaMeasured>, t) => {
        const r = ckaRow(label, res, t && { ms: t['ms'] as number, values: (t['values'] as number[][]).flat(), f64: (t['f64'] as number[][]).flat() });
        const oom = res.ours?.oom ?? res.stock?.oom;
        const peak = t?.['peakMiB'] as number | undefined;
        return oom ? { ...r, ok: false, check: `OUT OF DEVICE MEMORY: ${oom}; ${r.check}` } : { ...r, check: `no device memory error${peak ? ` (PyTorch peak ${peak.toFixed(0)} MiB)` : ''}; ${r.check}` };
      },
    });
  }

  // Training: tl.cnn (the model of bench/train.bench.ts) and tl.resnet, last (the largest).
  const trainings = [
    { kind: 'trainCnn', label: 'small CNN (tl.cnn 28×28×1, conv 32/64, dense 128)', make: () => tl.cnn({ inputShape: [28, 28, 1], numClasses: 10, channels: [32, 64], hidden: 128, seed: 0 }), input: [28, 28, 1] as const, classes: 10, ...S.cnn, config: { channels: [32, 64], hidden: 128 } },
    {
      kind: 'trainResnet',
      label: `ResNet (tl.resnet ${S.resnet.size}×${S.resnet.size}×3, width ${S.resnet.width}, blocks ${S.resnet.blocks.join('/')}, ${S.resnet.stem} stem, BatchNorm, ${S.resnet.classes} classes${S.resnet.stem === 'imagenet' && S.resnet.width === 64 && S.resnet.blocks.join() === '2,2,2,2' ? ': ResNet-18' : ''})`,
      make: () => tl.resnet({ inputShape: [S.resnet.size, S.resnet.size, 3], numClasses: S.resnet.classes, width: S.resnet.width, blocks: S.resnet.blocks, stem: S.resnet.stem, seed: 0 }),
      input: [S.resnet.size, S.resnet.size, 3] as const,
      ...S.resnet,
      config: { width: S.resnet.width, blocks: S.resnet.blocks, stem: S.resnet.stem },
    },
  ];
  for (const tr of trainings) {
    const n = tr.batch * tr.steps;
    const [hh, ww, cc] = tr.input;
    const u = randn(n * hh * ww * cc, 31);
    const xs = u.map((v) => 0.5 + 0.25 * Math.tanh(v));
    const labels = Int32Array.from({ length: n }, (_, i) => (i * 7919) % tr.classes);
    const model = tr.make();
    const weights = model.getWeights();
    model.dispose();
    const names = [...weights.keys()];
    const sizes = names.map((k) => weights.get(k)!.size);
    const weightData = new Map<string, Float32Array>();
    const inputs: CaseSpec['inputs'] = { x: data.add(xs, [n, hh, ww, cc]), y: data.add(labels, [n]) };
    for (const name of names) {
      const t = weights.get(name)!;
      weightData.set(name, (await t.data()) as Float32Array);
      inputs[`w:${name}`] = data.add(weightData.get(name)!, t.shape);
    }
    tf.dispose([...weights.values()]);
    const lr = 0.01;
    const classes = Array.from({ length: tr.classes }, (_, i) => String(i));
    const budget = TRAIN_BUDGET[scale];
    const label = `${tr.label}, batch ${tr.batch}`;
    cases.push({
      spec: { id: tr.kind, kind: tr.kind, inputs, reps: 1, batch: tr.batch, rounds: tr.rounds, lr, weights: names, config: tr.config },
      label,
      kind: 'train',
      measure: async (): Promise<TrainResult> => {
        const m = tr.make();
        const x = tf.tensor4d(xs, [n, hh, ww, cc]);
        const dataset = new tl.Dataset('bench', x, tf.tensor1d(labels, 'int32'), classes, labels);
        try {
          m.setWeights(new Map(names.map((k) => [k, tf.tensor(weightData.get(k)!, m.variables.get(k)!.shape)])));
          const { value, oom } = await withOomScope(async () => {
            // Loss and gradients of the first batch from the shared weights (the check against PyTorch).
            const t0 = performance.now();
            const xb = tf.slice(x, 0, tr.batch) as tl.tf.Tensor4D;
            const yb = tf.oneHot(tf.tensor1d(labels.slice(0, tr.batch), 'int32'), tr.classes);
            const vars = names.map((k) => m.variables.get(k)!);
            const { value: loss, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(yb, m.forward(xb, { training: true }).logits) as tl.tf.Scalar, vars);
            const loss0 = (await loss.data())[0]!;
            const g = new Float32Array(sizes.reduce((a, b) => a + b, 0));
            let at = 0;
            for (const v of vars) {
              const d = (await grads[v.name]!.data()) as Float32Array;
              g.set(d, at);
              at += d.length;
            }
            tf.dispose([xb, yb, loss, ...Object.values(grads)]);
            const firstStep = (performance.now() - t0) / 1000;
            if (firstStep > budget) {
              // Timing would take minutes more: the row says so instead of a figure.
              return { exs: NaN, rounds: [], steps: 0, loss0, grads: g, lastLoss: NaN, firstStep };
            }
            // Timed training: tl.train over in-memory data; rounds shrink to fit the budget.
            const opts = { batchSize: tr.batch, lr, progress: false, recalibrateNorm: false as const };
            const t1 = performance.now();
            (await tl.train(m, dataset.take(tr.batch), { ...opts, epochs: 1 })).dispose();
            await settle(m.variables.get(names[0]!)!);
            const step = (performance.now() - t1) / 1000;
            const steps = Math.max(1, Math.min(tr.steps, Math.floor(budget / tr.rounds / step)));
            const rounds = step * steps * tr.rounds > budget ? 1 : tr.rounds;
            const subset = steps < tr.steps ? dataset.take(steps * tr.batch) : dataset;
            const exs: number[] = [];
            let lastLoss = NaN;
            for (let r = 0; r < rounds; r++) {
              const t2 = performance.now();
              const run = await tl.train(m, subset, { ...opts, epochs: 1 });
              await settle(m.variables.get(names[0]!)!);
              exs.push((steps * tr.batch) / ((performance.now() - t2) / 1000));
              lastLoss = run.final?.loss ?? NaN;
              run.dispose();
            }
            if (subset !== dataset) subset.dispose();
            return { exs: median(exs), rounds: exs, steps, loss0, grads: g, lastLoss, firstStep };
          });
          return { ...value, oom };
        } finally {
          m.dispose();
          dataset.dispose();
        }
      },
      row: (res: PerSet<TrainResult>, t, grads) => trainRow(label, res, t, grads, sizes, budget),
    });
  }
  data.close();

  // 3. PyTorch on the same data (first, so that a run stopped early still has its figures).
  const { writeFileSync } = await import('node:fs');
  writeFileSync(path.join(o.workDir, 'cases.json'), JSON.stringify({ cases: cases.map((c) => c.spec), budgetSeconds: TORCH_BUDGET[scale], targetMs: target }));
  log(`PyTorch (${o.python}) on the same data`);
  const tp = performance.now();
  const py = spawnSync(o.python, [path.join(peerDir(), 'torch_peer.py'), o.workDir], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, GPU_BENCH_TORCH_CPU: software ? '1' : (process.env['GPU_BENCH_TORCH_CPU'] ?? '') } });
  log(`PyTorch done in ${((performance.now() - tp) / 1000).toFixed(1)} s (exit ${py.status})`);
  let torch: { info: Record<string, unknown>; results: Record<string, Record<string, unknown>> } | undefined;
  const torchFile = path.join(o.workDir, 'torch.json');
  if (py.status === 0 && existsSync(torchFile)) torch = JSON.parse(readFileSync(torchFile, 'utf8')) as typeof torch;
  const gradsAll = torch ? new Float32Array(readFileSync(path.join(o.workDir, 'torch-grads.bin')).buffer.slice(0)) : undefined;

  // 4. TransferLab: each case with our kernels, then the stock ones; the report after each.
  const ti = torch?.info;
  const context = (load1: number, complete: boolean): SectionContext => ({
    command: o.command,
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    adapter: info.device,
    software,
    torch: ti
      ? `PyTorch ${ti['torch']} on ${ti['device']}${ti['device'] === 'CPU' ? ` (${ti['threads']} thread${ti['threads'] === 1 ? '' : 's'}; BLAS ${ti['blas']})` : ` (fp32; TF32 ${ti['tf32']}; cuDNN benchmark mode)`}`
      : `PyTorch: **failed** (exit ${py.status}; see the run's output)`,
    machine: `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
    load: `load average ${load0.toFixed(1)} → ${load1.toFixed(1)}${software ? ' (on a software adapter both sides compute on the CPU, one after the other)' : ''}`,
    kernels,
    checks: [
      ...small.lines,
      'At the benchmark sizes, sampled entries of every matmul and conv output against float64 sums of the same float32 inputs: error ÷ Σ|terms| (float32 accumulation: ≲ 1e-6; TF32 or a wrong index: ≳ 1e-4), tolerance 2e-5, in the table; CKA values against PyTorch float64 on the same features (tolerance 1e-4); training: loss and gradients of the first batch from the same weights against PyTorch fp32 (tolerance 1e-3 of each gradient tensor\'s largest entry).',
    ],
    notes: [
      `Timings: a warm-up call (shader compilation), then medians of ${S.reps} rounds of as many calls as fill ~${target} ms; each round ends by awaiting a read (WebGPU work is timed to completion, not submission); PyTorch likewise (on CUDA with \`torch.cuda.synchronize()\`). Training: \`tl.train\` (SGD momentum 0.9, lr 0.01, history logging, \`recalibrateNorm: false\`) over in-memory data after a one-step warm-up, median of rounds of one epoch (fewer steps when a step is slow: see each row's check); PyTorch: the same network written functionally from the same weights (TensorFlow's 'same' padding, NHWC flattening), SGD momentum 0.9, after a warm-up epoch. CKA: TransferLab's analysis API as a notebook calls it (float64 reductions); PyTorch: fp32 formulas (Gram matrices cached for the heatmap).`,
      ...(scale !== 'gpu' ? [] : [`The ResNet row is ResNet-18 (\`tl.resnet\` with \`stem: 'imagenet'\`: a 7×7 stride-2 convolution and a 3×3 stride-2 max-pool, width 64, blocks 2/2/2/2, 11,689,512 parameters); PyTorch runs the same network, with TensorFlow's 'same' padding.`]),
      ...tf32Note(cases.map((c) => [c.spec, torch?.results[c.spec.id]] as const)),
      ...(complete ? [] : ['**This run did not finish**: the rows not measured say so.']),
      ...(software ? ['On lavapipe these are records of a software rasteriser sharing the CPU with PyTorch, not GPU figures; no GPU figure is claimed here.'] : []),
    ],
  });
  const results: PerSet<unknown>[] = cases.map(() => ({}));
  const rowsNow = () =>
    cases.map((c, i) => {
      const t = torch?.results[c.spec.id];
      const off = t?.['gradOffset'] as number | undefined;
      try {
        const r = c.row(results[i]!, t?.['error'] ? undefined : t, gradsAll && off !== undefined ? gradsAll.subarray(off) : undefined);
        const torchNote = t?.['error'] ? `; PyTorch: ${String(t['error'])}` : '';
        return { ...r, measured: results[i]!.ours !== undefined, check: r.check + torchNote };
      } catch (e) {
        return { kind: c.kind, label: c.label, ours: NaN, stock: NaN, torch: NaN, ok: false, check: `**error** building the row: ${(e as Error).message}` };
      }
    });
  const report = (complete: boolean): GpuBenchResult => {
    const rows = rowsNow();
    return { name: sectionName(software), context: context(os.loadavg()[0]!, complete), rows, ok: small.ok && rows.every((r) => r.ok), complete };
  };
  const budget = o.budgetSeconds ?? BUDGET[scale];
  const started = performance.now();
  for (const [i, c] of cases.entries()) {
    for (const which of ['ours', 'stock'] as const) {
      const elapsed = (performance.now() - started) / 1000;
      if (elapsed > budget) {
        results[i]!.skipped = `not measured: the run's time budget (${budget} s) was spent`;
        continue;
      }
      setWebGpuKernels(which);
      try {
        (results[i] as Record<string, unknown>)[which] = await c.measure(which);
      } catch (e) {
        results[i]!.skipped = `${which}: **error** ${(e as Error).message.split('\n')[0]}`;
        log(`${c.label} (${which}) failed: ${(e as Error).stack ?? e}`);
      }
      o.onProgress?.(report(false));
    }
    setWebGpuKernels('ours');
    const r = rowsNow()[i]!;
    log(`${c.label}: ours ${fmtValue(r, r.ours)}, stock ${fmtValue(r, r.stock)}, PyTorch ${fmtValue(r, r.torch)} · ${r.ok ? 'ok' : 'FAILED'}`);
  }
  return report(true);
}


/** PyTorch's matmuls with TF32 (CUDA only), for the record: the goals are against fp32. */
function tf32Note(cases: readonly (readonly [CaseSpec, Record<string, unknown> | undefined])[]): string[] {
  const parts = cases.flatMap(([spec, t]) => {
    const ms = t?.['msTf32'] as number | undefined;
    if (spec.kind !== 'matmul' || ms === undefined) return [];
    const n = spec.inputs['a']!.shape[0]!;
    return [`${n}²: ${(2 * n ** 3 / (ms / 1000) / 1e12).toFixed(1)} TFLOP/s`];
  });
  return parts.length ? [`For the record, PyTorch's matmul with TF32 allowed (10-bit mantissa, not the goals' baseline): ${parts.join(', ')}.`] : [];
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

interface CkaMeasured {
  ms: number;
  values: number[];
  oom?: string | undefined;
}

interface TrainResult {
  exs: number;
  rounds: number[];
  steps: number;
  loss0: number;
  grads: Float32Array;
  oom: string | undefined;
  lastLoss: number;
  /** Seconds of the first forward and backward pass (shader compilation included). */
  firstStep: number;
}

/** What a row says about a kernel set that was not measured. */
const missing = (res: PerSet<unknown>) => (res.skipped ? `; ${res.skipped}` : '');

function sampledRow(kind: 'matmul' | 'conv', label: string, flops: number, res: PerSet<OpResult>, refs: [number, number][], t: Record<string, unknown> | undefined): Row {
  const err = (v: number[] | undefined) => (v ? normalisedError(v, refs) : NaN);
  const eo = err(res.ours?.v);
  const es = err(res.stock?.v);
  const tv = t?.['samples'] as number[] | undefined;
  const et = err(tv);
  const vs = tv && res.ours ? errors(res.ours.v, tv) : undefined;
  const within = (e: number, measured: boolean) => !measured || e <= SAMPLED_TOLERANCE;
  const ok = res.ours !== undefined && within(eo, true) && within(es, res.stock !== undefined) && within(et, tv !== undefined);
  return {
    kind,
    label,
    flops,
    ours: res.ours?.ms ?? NaN,
    stock: res.stock?.ms ?? NaN,
    torch: (t?.['ms'] as number | undefined) ?? NaN,
    ok,
    check: `${refs.length} entries vs float64, error ÷ Σ|terms|: ours ${fe(eo)}, stock ${fe(es)}, PyTorch ${fe(et)}; ours vs PyTorch max abs ${vs ? fe(vs.abs) : 'n/a'}, rel ${vs ? fe(vs.rel) : 'n/a'}${missing(res)}`,
  };
}

function ckaRow(label: string, res: PerSet<CkaMeasured>, t: { ms: number; values: number[]; f64: number[] } | undefined): Row {
  const err = (v: number[] | undefined) => (v && t ? errors(v, t.f64).abs : NaN);
  const eo = err(res.ours?.values);
  const es = err(res.stock?.values);
  const et = err(t?.values);
  const finite = (v: number[] | undefined) => v === undefined || v.every(Number.isFinite);
  const count = res.ours?.values.length ?? t?.values.length ?? 0;
  // Without PyTorch's float64 values there is no reference: not a pass.
  const ok = res.ours !== undefined && t !== undefined && finite(res.ours.values) && finite(res.stock?.values) && eo <= 1e-4 && (res.stock === undefined || es <= 1e-4);
  return {
    kind: 'cka',
    label,
    ours: res.ours?.ms ?? NaN,
    stock: res.stock?.ms ?? NaN,
    torch: t?.ms ?? NaN,
    ok,
    check: `max |CKA − PyTorch float64| over ${count} value${count === 1 ? '' : 's'}: ours ${fe(eo)}, stock ${fe(es)}, PyTorch fp32 ${fe(et)}${missing(res)}`,
  };
}

function trainRow(label: string, res: PerSet<TrainResult>, t: Record<string, unknown> | undefined, grads: Float32Array | undefined, sizes: number[], budget: number): Row {
  // Per weight tensor: max |ours − PyTorch| ÷ max |PyTorch|; the worst over tensors.
  const gradErr = (g: Float32Array | undefined) => {
    if (!grads || !g) return NaN;
    let worst = 0;
    let at = 0;
    for (const s of sizes) {
      const e = errors(g.subarray(at, at + s), grads.subarray(at, at + s)).rel;
      worst = Number.isNaN(e) ? NaN : Math.max(worst, e);
      at += s;
    }
    return worst;
  };
  const go = gradErr(res.ours?.grads);
  const gs = gradErr(res.stock?.grads);
  const tl0 = t?.['loss0'] as number | undefined;
  const lossErr = (r: TrainResult | undefined) => (tl0 === undefined || !r ? NaN : Math.abs(r.loss0 - tl0) / Math.abs(tl0));
  const lo = lossErr(res.ours);
  const ls = lossErr(res.stock);
  const oom = res.ours?.oom ?? res.stock?.oom;
  const finite = (r: TrainResult | undefined) => r === undefined || r.steps === 0 || Number.isFinite(r.lastLoss);
  const good = (g: number, l: number, r: TrainResult | undefined) => r === undefined || (g <= 1e-3 && l <= 1e-4);
  const ok = res.ours !== undefined && t !== undefined && grads !== undefined && !oom && finite(res.ours) && finite(res.stock) && good(go, lo, res.ours) && good(gs, ls, res.stock);
  const peak = t?.['peakMiB'] as number | undefined;
  const plan = (w: string, r: TrainResult | undefined) =>
    !r
      ? `${w} not measured`
      : r.steps === 0
        ? `${w} not timed: its first forward+backward took ${r.firstStep.toFixed(1)} s (shader compilation included), over the ${budget} s budget of a training measurement`
        : `${w} ${r.rounds.length} × ${r.steps} steps (first forward+backward ${r.firstStep.toFixed(1)} s)`;
  return {
    kind: 'train',
    label,
    ours: res.ours?.exs ?? NaN,
    stock: res.stock?.exs ?? NaN,
    torch: (t?.['exs'] as number | undefined) ?? NaN,
    ok,
    check: `first batch from the same weights vs PyTorch: loss rel. error ours ${fe(lo)}, stock ${fe(ls)}; gradients (worst tensor, max error ÷ max |PyTorch|) ours ${fe(go)}, stock ${fe(gs)}; ${oom ? `OUT OF DEVICE MEMORY: ${oom}` : 'no device memory error'}; final loss ours ${res.ours?.lastLoss.toFixed(3) ?? 'n/a'}, stock ${res.stock?.lastLoss.toFixed(3) ?? 'n/a'}${t ? `, PyTorch ${(t['lossLast'] as number).toFixed(3)}` : ''}${peak ? `; PyTorch peak ${(peak / 1024).toFixed(1)} GiB` : ''}; timed: ${plan('ours', res.ours)}, ${plan('stock', res.stock)}${missing(res)}`,
  };
}
