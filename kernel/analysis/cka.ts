/**
 * Centered kernel alignment (Kornblith et al. 2019; PAPER.md §2): linear and RBF CKA, debiased
 * (unbiased HSIC), minibatch CKA (Nguyen, Raghu, Kornblith 2021), and module×module heatmaps
 * between two models, `tl.cka` in notebooks.
 *
 * Precision and speed. Representations are centred in float64 and rounded once to float32. The
 * products that cost O(n²p) or O(np²) run as float32 matrix products on the backend, blocked so
 * that each float32 sum is short; everything after them runs in float64: Gram diagonals (exact,
 * from the rounded features), traces, inner products of Gram blocks, sums of partial products.
 * Results match a float64 reference to ~1e-7 relative.
 *
 * Two exact forms, chosen by cost (`algorithm: 'auto'`):
 * - features: ‖X̃ᵀỸ‖²_F from p×q cross-products, O(n·p·q) per pair; best when widths ≪ n.
 * - gram: per module, the centred Gram K = X̃X̃ᵀ is computed once, by row blocks of its upper
 *   triangle (half the work), and every pair needs only ⟨K, L⟩ over the block; O(n²p) per module
 *   plus O(n²) per pair. For a heatmap of many wide modules this is far cheaper than per-pair work.
 * With centred features, ⟨HKH, HLH⟩ = ⟨K, L⟩, and the unbiased HSIC needs only the off-diagonal
 * sum Σ_{a≠b} K_ab L_ab, the diagonals d = diag K and the traces, which is what both forms return.
 */
import { tf } from './tfjs';
import type { Model } from './modelContract';
import type { CkaPayload, MimeBundle } from '../protocol/mime';
import { Mime } from '../protocol/mime';
import { DISPLAY, type Displayable } from './display';
import { InvalidArgumentError, ShapeMismatchError } from './errors';
import { checkInteger, checkKeys, checkNumber, checkObject, checkOneOf, formatValue, fail, shapeStr } from './validate';
import { checkModel } from './train';
import type { DataLike } from './dataset';
import { type Analysis, reduceOnHost, runAsync, runSync } from './engine';
import { centreColumns, dot, fromRows, select, subBlock, sumSquares, transposeBlock } from './float64';
import { VEGA_LITE_SCHEMA, fmt, textTable } from './results';
import { addOffDiagonalProducts, gramOffDiagonalParallel, gramThreads } from './gramWorkers';


/** A representation: [n, p] (or higher rank, flattened per example) tensor, or n rows of p numbers. */
export type Features = tf.Tensor | readonly (readonly number[])[];

/** The kernels CKA compares Gram matrices with. */
export const CkaKind = { linear: 'linear', rbf: 'rbf' } as const;
export type CkaKind = (typeof CkaKind)[keyof typeof CkaKind];
export function isCkaKind(s: unknown): s is CkaKind {
  return s === 'linear' || s === 'rbf';
}

/** How the linear kernel's products are organised; both are exact (see the module comment). */
export const CkaAlgorithm = { auto: 'auto', gram: 'gram', features: 'features' } as const;
export type CkaAlgorithm = (typeof CkaAlgorithm)[keyof typeof CkaAlgorithm];

export interface LinearOptions {
  /** Unbiased HSIC (Song et al. 2012) instead of the biased estimator; needs n ≥ 4. Default false. */
  readonly debiased?: boolean;
  /** Which exact form computes the products; default `auto` (the cheaper). */
  readonly algorithm?: CkaAlgorithm;
}

export interface RbfOptions {
  /** Bandwidth as a fraction of the median distance: σ² = threshold² · median‖xᵢ−xⱼ‖². Default 1. */
  readonly threshold?: number;
  /** Unbiased HSIC instead of the biased estimator; needs n ≥ 4. Default false. */
  readonly debiased?: boolean;
}

/** Test and tuning knobs, not part of the public API. */
export const ckaInternals = {
  /** Where Gram blocks are reduced: `host` (JavaScript, float64) or `device` (backend). */
  reducer: undefined as 'host' | 'device' | undefined,
  /** Rows per Gram block on the host path. */
  hostBlockRows: 256,
  /** Columns per product on the backend (the length of each float32 sum). */
  kChunk: 1024,
  /** Examples per cross-product in the features form (the length of each float32 sum). */
  rowChunk: 1024,
  /**
   * Worker threads for the Gram form on the wasm backend: a number forces it (1 = none);
   * undefined = one per core when the products exceed `parallelMinWork` multiply-adds.
   */
  threads: undefined as number | undefined,
  parallelMinWork: 2e10,
};

// ─── Representations ────────────────────────────────────────────────────────────────────────

/** A representation centred in float64 and rounded to float32, with its exact Gram diagonal. */
interface Rep {
  readonly label: string;
  readonly n: number;
  readonly p: number;
  /** n × p row-major, columns centred. */
  readonly x: Float32Array;
  /** Squared norms of the centred rows: the diagonal of K = X̃X̃ᵀ. */
  readonly d: Float64Array;
  /** tr K = Σ d. */
  readonly trace: number;
}

function repFrom(label: string, raw: ArrayLike<number>, n: number, p: number): Rep {
  const { centred, rowSq } = centreColumns(raw, n, p);
  let trace = 0;
  for (let i = 0; i < n; i++) trace += rowSq[i]!;
  return { label, n, p, x: centred, d: rowSq, trace };
}

function checkFinite(fn: string, arg: string, data: ArrayLike<number>, p: number): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (!Number.isFinite(v)) fail(fn, arg, `has a non-finite value (${v}) at row ${Math.floor(i / p)}, column ${i % p}`);
  }
}

/** Shape [n, p] of a features argument, validated (tensors of rank ≥ 2 are flattened per example). */
function featureShape(fn: string, arg: string, X: unknown): [number, number] {
  if (X instanceof tf.Tensor) {
    if (X.isDisposed) fail(fn, arg, 'is a disposed tensor');
    if (X.rank < 2) fail(fn, arg, `must have one row per example ([n, p] or [n, H, W, C]), got shape ${shapeStr(X.shape)}`);
    if (X.dtype === 'string' || X.dtype === 'complex64') fail(fn, arg, `must be numeric, got dtype ${X.dtype}`);
    const n = X.shape[0];
    const p = X.size / Math.max(n, 1);
    if (n === 0 || p === 0) fail(fn, arg, `is empty: shape ${shapeStr(X.shape)}`);
    return [n, p];
  }
  if (Array.isArray(X)) {
    if (X.length === 0) fail(fn, arg, 'is empty (no rows)');
    const first = X[0] as unknown;
    if (!Array.isArray(first)) fail(fn, arg, `must be a tensor or an array of rows (number[][]), got an array whose first row is ${formatValue(first)}`);
    if (first.length === 0) fail(fn, arg, 'has rows of length 0');
    return [X.length, first.length];
  }
  return fail(fn, arg, `must be a tensor [n, p] or number[][], got ${formatValue(X)}`);
}

/** Reads and centres one representation. */
function* readRep(fn: string, arg: string, X: Features, label = arg): Analysis<Rep> {
  const [n, p] = featureShape(fn, arg, X);
  if (X instanceof tf.Tensor) {
    const flat = tf.tidy(() => tf.cast(tf.reshape(X, [n, p]), 'float32'));
    const values = yield flat;
    checkFinite(fn, arg, values, p);
    return repFrom(label, values, n, p);
  }
  const { data } = fromRows(
    X,
    (i, len, expected) => fail(fn, arg, `has rows of different lengths: row ${i} has ${len < 0 ? 'no array' : len} values, row 0 has ${expected}`),
    (i, j, v) => fail(fn, arg, `has a non-finite or non-numeric value (${formatValue(v)}) at row ${i}, column ${j}`),
  );
  return repFrom(label, data, n, p);
}

// ─── The linear kernel: off-diagonal sums Σ_{a≠b} K_ab L_ab for pairs ─────────────────────────

type Pair = readonly [number, number];

function uniqueOf(pairs: readonly Pair[]): number[] {
  return [...new Set(pairs.flatMap(([i, j]) => [i, j]))];
}

/** Estimated cost of each form, in multiply-adds weighted by where they run. */
function chooseAlgorithm(reps: readonly Rep[], pairs: readonly Pair[], host: boolean, debiased: boolean): 'gram' | 'features' {
  const n = reps[0]!.n;
  const used = uniqueOf(pairs);
  const jsWeight = host ? 20 : 1;
  let sumP = 0;
  for (const u of used) sumP += reps[u]!.p;
  const gram = (n * n * sumP) / 2 + (jsWeight * n * n * pairs.length) / 2;
  let cross = 0;
  for (const [i, j] of pairs) cross += reps[i]!.p * reps[j]!.p;
  const features = cross * (n + (jsWeight * n) / ckaInternals.rowChunk);
  // The unbiased HSIC needs the off-diagonal sum Σ_{a≠b} K_ab L_ab. The features form gets it as
  // ‖X̃ᵀỸ‖² − d_K·d_L, a difference that loses digits when the two are close (nearly independent
  // representations); the Gram form sums the off-diagonal terms directly. Prefer it unless it
  // costs far more.
  return features * (debiased ? 16 : 1) <= gram ? 'features' : 'gram';
}

function* linearOffDiagonal(reps: readonly Rep[], pairs: readonly Pair[], algorithm: CkaAlgorithm, debiased: boolean): Analysis<Float64Array> {
  const host = ckaInternals.reducer ? ckaInternals.reducer === 'host' : reduceOnHost();
  const form = algorithm === 'auto' ? chooseAlgorithm(reps, pairs, host, debiased) : algorithm;
  if (form === 'features') {
    const full = yield* featureCross(reps, pairs);
    return full.map((v, k) => v - dot(reps[pairs[k]![0]]!.d, reps[pairs[k]![1]]!.d));
  }
  return yield* gramOffDiagonal(reps, pairs, host);
}

/** ‖X̃ᵢᵀX̃ⱼ‖²_F per pair, from cross-products over row chunks summed in float64. */
function* featureCross(reps: readonly Rep[], pairs: readonly Pair[]): Analysis<Float64Array> {
  const n = reps[0]!.n;
  const rows = ckaInternals.rowChunk;
  const acc = pairs.map(([i, j]) => new Float64Array(reps[i]!.p * reps[j]!.p));
  const lefts = [...new Set(pairs.map(([i]) => i))];
  const rights = [...new Set(pairs.map(([, j]) => j))];
  for (let r0 = 0; r0 < n; r0 += rows) {
    const r1 = Math.min(n, r0 + rows);
    const L = new Map<number, tf.Tensor2D>();
    const R = new Map<number, tf.Tensor2D>();
    try {
      for (const i of lefts) {
        const r = reps[i]!;
        L.set(i, tf.tensor2d(transposeBlock(r.x, r.p, r0, r1, 0, r.p), [r.p, r1 - r0]));
      }
      for (const j of rights) {
        const r = reps[j]!;
        R.set(j, tf.tensor2d(subBlock(r.x, r.p, r0, r1, 0, r.p), [r1 - r0, r.p]));
      }
      for (let k = 0; k < pairs.length; k++) {
        const [i, j] = pairs[k]!;
        const v = yield tf.matMul(L.get(i)!, R.get(j)!);
        const a = acc[k]!;
        for (let t = 0; t < a.length; t++) a[t]! += v[t]!;
      }
    } finally {
      tf.dispose([...L.values(), ...R.values()]);
    }
  }
  return Float64Array.from(acc, sumSquares);
}

/** Uploads a representation in column chunks (n × kc each) for the Gram products. */
function uploadChunks(r: Rep): { c0: number; c1: number; t: tf.Tensor2D }[] {
  const kc = ckaInternals.kChunk;
  const out: { c0: number; c1: number; t: tf.Tensor2D }[] = [];
  for (let c0 = 0; c0 < r.p; c0 += kc) {
    const c1 = Math.min(r.p, c0 + kc);
    out.push({ c0, c1, t: tf.tensor2d(subBlock(r.x, r.p, 0, r.n, c0, c1), [r.n, c1 - c0]) });
  }
  return out;
}

/** K[from:n, r0:r1] = X̃[from:n] X̃[r0:r1]ᵀ as a (n − from) × (r1 − r0) tensor. */
function gramColumns(r: Rep, chunks: readonly { c0: number; c1: number; t: tf.Tensor2D }[], from: number, r0: number, r1: number): tf.Tensor2D {
  return tf.tidy(() => {
    let acc: tf.Tensor2D | undefined;
    for (const { c0, c1, t } of chunks) {
      const a = from === 0 ? t : tf.slice(t, [from, 0], [r.n - from, c1 - c0]);
      const b = tf.tensor2d(transposeBlock(r.x, r.p, r0, r1, c0, c1), [c1 - c0, r1 - r0]);
      const m = tf.matMul(a, b);
      acc = (acc ? tf.add(acc, m) : m) as tf.Tensor2D;
    }
    return acc!;
  });
}

/**
 * Σ_{a≠b} Kᵢ_ab Kⱼ_ab per pair, from row blocks of the upper triangle of each Gram matrix
 * (computed once per module), reduced in float64 on the host or in short float32 sums on the
 * device.
 */
function* gramOffDiagonal(reps: readonly Rep[], pairs: readonly Pair[], host: boolean): Analysis<Float64Array> {
  const n = reps[0]!.n;
  const used = uniqueOf(pairs);
  const threads = host ? parallelThreads(n, used.map((u) => reps[u]!.p)) : 1;
  if (threads > 1) {
    const local = pairs.map(([i, j]) => [used.indexOf(i), used.indexOf(j)] as const);
    try {
      return gramOffDiagonalParallel(n, used.map((u) => reps[u]!), local, Math.min(n, ckaInternals.hostBlockRows), ckaInternals.kChunk, threads);
    } catch (e) {
      // Worker threads are an optimisation: if they cannot run here, compute on this thread.
      workersBroken = true;
      if (ckaInternals.threads !== undefined) throw e;
      console.warn(`tl.cka: worker threads unavailable, computing on one thread (${(e as Error).message.split('\n')[0]})`);
    }
  }
  const out = new Float64Array(pairs.length);
  const bb = host ? Math.min(n, ckaInternals.hostBlockRows) : Math.max(256, Math.min(n, Math.floor(2 ** 28 / (n * used.length))));
  const uploaded = new Map<number, { c0: number; c1: number; t: tf.Tensor2D }[]>();
  try {
    for (const u of used) uploaded.set(u, uploadChunks(reps[u]!));
    for (let r0 = 0; r0 < n; r0 += bb) {
      const r1 = Math.min(n, r0 + bb);
      const w = r1 - r0;
      if (host) {
        const blocks = new Map<number, Float32Array>();
        for (const u of used) blocks.set(u, yield gramColumns(reps[u]!, uploaded.get(u)!, r0, r0, r1));
        addOffDiagonalProducts(blocks, pairs, w, n - r0, out);
      } else {
        const values = yield reduceBlocksOnDevice(reps, uploaded, pairs, r0, r1);
        const lefts = [...new Set(pairs.map(([i]) => i))];
        const rights = [...new Set(pairs.map(([, j]) => j))];
        const q = values.length / (lefts.length * rights.length);
        pairs.forEach(([i, j], k) => {
          const o = lefts.indexOf(i) * rights.length + rights.indexOf(j);
          let s = 0;
          for (let t = 0; t < q; t++) s += values[t * lefts.length * rights.length + o]!;
          out[k]! += s;
        });
      }
    }
  } finally {
    for (const chunks of uploaded.values()) tf.dispose(chunks.map((c) => c.t));
  }
  return out;
}

/** Worker threads for a Gram computation on the host (1: the single-thread path). */
let workersBroken = false;

function parallelThreads(n: number, widths: readonly number[]): number {
  if (ckaInternals.threads !== undefined) return ckaInternals.threads;
  if (workersBroken || tf.getBackend() !== 'wasm') return 1;
  const work = (n * n * widths.reduce((a, b) => a + b, 0)) / 2;
  return work >= ckaInternals.parallelMinWork ? gramThreads() : 1;
}

/**
 * The same reduction on the backend (for GPU backends, where reading Gram blocks back would cost
 * more than the products): weighted Gram blocks stacked per module, multiplied in chunks of 256
 * (short float32 sums), 16 chunks added on the device, returning [groups, lefts, rights] partial
 * sums for the host to add in float64.
 */
function reduceBlocksOnDevice(reps: readonly Rep[], uploaded: ReadonlyMap<number, { c0: number; c1: number; t: tf.Tensor2D }[]>, pairs: readonly Pair[], r0: number, r1: number): tf.Tensor {
  const n = reps[0]!.n;
  const w = r1 - r0;
  const C = n - r0;
  const L = C * w;
  const chunk = 256;
  const group = 16;
  const q = Math.ceil(L / (chunk * group)) * group;
  const lefts = [...new Set(pairs.map(([i]) => i))];
  const rights = [...new Set(pairs.map(([, j]) => j))];
  const weights = new Float32Array(L);
  for (let c = 0; c < C; c++) for (let r = 0; r < w; r++) weights[c * w + r] = c < w ? (c === r ? 0 : 1) : 2;
  return tf.tidy(() => {
    const grams = new Map<number, tf.Tensor>();
    for (const u of new Set([...lefts, ...rights])) grams.set(u, tf.reshape(gramColumns(reps[u]!, uploaded.get(u)!, r0, r0, r1), [L]));
    const wt = tf.tensor1d(weights);
    const pad = (t: tf.Tensor) => tf.pad(t, [[0, 0], [0, q * chunk - L]]);
    const A = tf.transpose(tf.reshape(pad(tf.stack(lefts.map((u) => tf.mul(grams.get(u)!, wt)))), [lefts.length, q, chunk]), [1, 0, 2]);
    const B = tf.transpose(tf.reshape(pad(tf.stack(rights.map((u) => grams.get(u)!))), [rights.length, q, chunk]), [1, 2, 0]);
    const partial = tf.matMul(A as tf.Tensor3D, B as tf.Tensor3D);
    return tf.sum(tf.reshape(partial, [q / group, group, lefts.length, rights.length]), 1);
  });
}

// ─── The RBF kernel ──────────────────────────────────────────────────────────────────────────

/** The median of all n² squared distances (diagonal zeros included, Kornblith's convention), from the upper triangle. */
function fullMatrixMedian(upper: Float64Array, n: number): number {
  const N = n * n;
  const at = (k: number): number => (k < n ? 0 : select(upper, Math.floor((k - n) / 2)));
  return N % 2 === 1 ? at((N - 1) / 2) : (at(N / 2 - 1) + at(N / 2)) / 2;
}

interface RbfGram {
  /** Biased: the centred kernel matrix HKH. Debiased: K with a zero diagonal. n × n. */
  readonly k: Float32Array;
  /** Debiased only: row sums of K with a zero diagonal, and their total. */
  readonly rowSum: Float64Array;
  readonly total: number;
}

function* rbfGram(fn: string, r: Rep, threshold: number, debiased: boolean): Analysis<RbfGram> {
  const n = r.n;
  const lin = new Float32Array(n * n);
  const chunks = uploadChunks(r);
  try {
    const bb = Math.min(n, 512);
    for (let r0 = 0; r0 < n; r0 += bb) {
      const r1 = Math.min(n, r0 + bb);
      const cols = yield gramColumns(r, chunks, 0, r0, r1);
      const w = r1 - r0;
      for (let c = 0; c < n; c++) lin.set(cols.subarray(c * w, c * w + w), c * n + r0);
    }
  } finally {
    tf.dispose(chunks.map((c) => c.t));
  }
  const d = r.d;
  const dist = new Float64Array(n * n);
  const upper = new Float64Array((n * (n - 1)) / 2);
  let u = 0;
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      const v = Math.max(0, d[a]! + d[b]! - 2 * lin[a * n + b]!);
      dist[a * n + b] = v;
      dist[b * n + a] = v;
      upper[u++] = v;
    }
  }
  const med = fullMatrixMedian(upper, n);
  if (!(med > 0)) fail(fn, r.label, `has a median squared distance of 0 between examples (most examples are identical), so the RBF bandwidth is undefined`);
  const scale = -1 / (2 * threshold * threshold * med);
  const kv = dist; // reuse: kernel values in float64
  for (let t = 0; t < n * n; t++) kv[t] = Math.exp(dist[t]! * scale);
  const rowSum = new Float64Array(n);
  if (debiased) {
    let total = 0;
    const k = new Float32Array(n * n);
    for (let a = 0; a < n; a++) {
      let s = 0;
      for (let b = 0; b < n; b++) {
        if (a === b) continue;
        const v = kv[a * n + b]!;
        k[a * n + b] = v;
        s += v;
      }
      rowSum[a] = s;
      total += s;
    }
    return { k, rowSum, total };
  }
  let grand = 0;
  for (let a = 0; a < n; a++) {
    let s = 0;
    for (let b = 0; b < n; b++) s += kv[a * n + b]!;
    rowSum[a] = s / n;
    grand += s;
  }
  grand /= n * n;
  const k = new Float32Array(n * n);
  for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) k[a * n + b] = kv[a * n + b]! - rowSum[a]! - rowSum[b]! + grand;
  return { k, rowSum, total: 0 };
}

function* rbfHsic(fn: string, reps: readonly Rep[], pairs: readonly Pair[], threshold: number, debiased: boolean): Analysis<Float64Array> {
  const n = reps[0]!.n;
  const used = uniqueOf(pairs);
  const bytes = used.length * n * n * 4;
  if (bytes > 2 ** 31) {
    fail(fn, 'options', `asks for full-batch RBF CKA of ${used.length} representations of ${n} examples (${(bytes / 2 ** 30).toFixed(1)} GiB of kernel matrices); use the minibatch estimator (estimator: 'minibatch') or fewer examples`);
  }
  const grams = new Map<number, RbfGram>();
  for (const u of used) grams.set(u, yield* rbfGram(fn, reps[u]!, threshold, debiased));
  return Float64Array.from(pairs, ([i, j]) => {
    const a = grams.get(i)!;
    const b = grams.get(j)!;
    const tr = dot(a.k, b.k);
    if (!debiased) return tr;
    return tr + (a.total * b.total) / ((n - 1) * (n - 2)) - (2 / (n - 2)) * dot(a.rowSum, b.rowSum);
  });
}

// ─── From HSIC to CKA ────────────────────────────────────────────────────────────────────────

interface Estimator {
  readonly kind: CkaKind;
  readonly debiased: boolean;
  readonly threshold: number;
  readonly algorithm: CkaAlgorithm;
}

/**
 * HSIC (up to a common positive factor) for every pair: biased tr(KHLH), or unbiased n(n−3)·HSIC₁.
 */
function* hsicPairs(fn: string, reps: readonly Rep[], pairs: readonly Pair[], e: Estimator): Analysis<Float64Array> {
  const n = reps[0]!.n;
  if (e.kind === 'rbf') return yield* rbfHsic(fn, reps, pairs, e.threshold, e.debiased);
  const off = yield* linearOffDiagonal(reps, pairs, e.algorithm, e.debiased);
  return Float64Array.from(pairs, ([i, j], k) => {
    const a = reps[i]!;
    const b = reps[j]!;
    const dd = dot(a.d, b.d);
    if (!e.debiased) return off[k]! + dd;
    return off[k]! - (2 / (n - 2)) * dd + (a.trace * b.trace) / ((n - 1) * (n - 2));
  });
}

/**
 * CKA for each (row, column) pair of representations, computing each representation's
 * self-similarity once. Returns values[i][j] for rows × columns, plus the raw HSIC sums (for
 * minibatch accumulation).
 */
function* hsicTable(fn: string, reps: readonly Rep[], rows: readonly number[], cols: readonly number[], e: Estimator): Analysis<{ cross: Float64Array; selfRows: Float64Array; selfCols: Float64Array }> {
  const pairs: Pair[] = [];
  for (const i of rows) for (const j of cols) pairs.push([i, j]);
  const selves = [...new Set([...rows, ...cols])];
  const selfStart = pairs.length;
  for (const s of selves) pairs.push([s, s]);
  const h = yield* hsicPairs(fn, reps, pairs, e);
  const self = (s: number) => h[selfStart + selves.indexOf(s)]!;
  return {
    cross: h.subarray(0, selfStart),
    selfRows: Float64Array.from(rows, self),
    selfCols: Float64Array.from(cols, self),
  };
}

function ckaValues(fn: string, labelsRows: readonly string[], labelsCols: readonly string[], t: { cross: Float64Array; selfRows: Float64Array; selfCols: Float64Array }, debiased: boolean): number[][] {
  const bad = (label: string, v: number) =>
    fail(fn, label, v === 0 || !debiased ? 'is constant across examples (its centred Gram matrix is zero), so CKA with it is undefined' : `has a non-positive unbiased self-HSIC (${v.toExponential(3)}): too few examples for the debiased estimator`);
  t.selfRows.forEach((v, i) => {
    if (!(v > 0)) bad(labelsRows[i]!, v);
  });
  t.selfCols.forEach((v, j) => {
    if (!(v > 0)) bad(labelsCols[j]!, v);
  });
  return labelsRows.map((_, i) => labelsCols.map((__, j) => t.cross[i * labelsCols.length + j]! / Math.sqrt(t.selfRows[i]! * t.selfCols[j]!)));
}

// ─── Public API: two representations ─────────────────────────────────────────────────────────

function checkPairShapes(fn: string, X: unknown, Y: unknown, minN: number, why: string): void {
  const [nx] = featureShape(fn, 'X', X);
  const [ny] = featureShape(fn, 'Y', Y);
  if (nx !== ny) throw new ShapeMismatchError(fn, 'X', `has ${nx} rows but Y has ${ny} (one row per example, the same examples in the same order)`);
  if (nx < minN) fail(fn, 'X', `has ${nx} rows; ${why} needs at least ${minN} examples`);
}

function linearEstimator(fn: string, options: unknown): Estimator {
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, ['debiased', 'algorithm']);
  const debiased = o['debiased'] ?? false;
  if (typeof debiased !== 'boolean') fail(fn, 'options.debiased', `must be a boolean, got ${formatValue(debiased)}`);
  const algorithm = checkOneOf(fn, 'options.algorithm', o['algorithm'] ?? 'auto', ['auto', 'gram', 'features'] as const);
  return { kind: 'linear', debiased, threshold: 1, algorithm };
}

function rbfEstimator(fn: string, options: unknown): Estimator {
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, ['threshold', 'debiased']);
  const debiased = o['debiased'] ?? false;
  if (typeof debiased !== 'boolean') fail(fn, 'options.debiased', `must be a boolean, got ${formatValue(debiased)}`);
  const threshold = checkNumber(fn, 'options.threshold', o['threshold'] ?? 1, Number.MIN_VALUE);
  return { kind: 'rbf', debiased, threshold, algorithm: 'auto' };
}

function* pairCka(fn: string, X: Features, Y: Features, e: Estimator): Analysis<number> {
  checkPairShapes(fn, X, Y, e.debiased ? 4 : 2, e.debiased ? 'the debiased estimator' : 'CKA');
  const a = yield* readRep(fn, 'X', X);
  const b = X === Y ? a : yield* readRep(fn, 'Y', Y);
  const reps = X === Y ? [a] : [a, b];
  const t = yield* hsicTable(fn, reps, [0], [reps.length - 1], e);
  return ckaValues(fn, ['X'], ['Y'], t, e.debiased)[0]![0]!;
}

/**
 * Linear CKA between two representations of the same examples (rows in the same order):
 * ‖ỸᵀX̃‖²_F / (‖X̃ᵀX̃‖_F ‖ỸᵀỸ‖_F) with centred columns; with `debiased`, the unbiased HSIC
 * estimator. Conv maps ([n, H, W, C]) are flattened per example. Synchronous: on WebGPU use
 * {@link linearAsync}.
 *
 * @example
 * ```ts
 * const X = tf.randomNormal([500, 64]);
 * const Y = tf.matMul(X, tf.randomNormal([64, 32]));
 * tl.cka.linear(X, Y);                    // ≈ 0.7
 * tl.cka.linear(X, X);                    // 1
 * tl.cka.linear(X, Y, {debiased: true});
 * ```
 */
export function linear(X: Features, Y: Features, options: LinearOptions = {}): number {
  const fn = 'tl.cka.linear';
  return runSync(fn, 'tl.cka.linearAsync', pairCka(fn, X, Y, linearEstimator(fn, options)));
}

/**
 * {@link linear} for any backend (WebGPU included): products on the backend, read back
 * asynchronously.
 *
 * @example
 * ```ts
 * const v = await tl.cka.linearAsync(X, Y, {debiased: true});
 * ```
 */
export async function linearAsync(X: Features, Y: Features, options: LinearOptions = {}): Promise<number> {
  const fn = 'tl.cka.linearAsync';
  return runAsync(pairCka(fn, X, Y, linearEstimator(fn, options)));
}

/**
 * RBF CKA: Gram matrices K_ij = exp(−‖xᵢ−xⱼ‖² / (2·threshold²·m)) with m the median of all n²
 * squared distances of that representation (Kornblith et al.'s convention, diagonal included),
 * then CKA of the Gram matrices. Needs O(n²) memory per representation. Synchronous: on WebGPU
 * use {@link rbfAsync}.
 *
 * @example
 * ```ts
 * const X = tf.randomNormal([300, 16]);
 * tl.cka.rbf(X, tf.tanh(X));                    // close to 1
 * tl.cka.rbf(X, tf.tanh(X), {threshold: 0.5, debiased: true});
 * ```
 */
export function rbf(X: Features, Y: Features, options: RbfOptions = {}): number {
  const fn = 'tl.cka.rbf';
  return runSync(fn, 'tl.cka.rbfAsync', pairCka(fn, X, Y, rbfEstimator(fn, options)));
}

/**
 * {@link rbf} for any backend (WebGPU included).
 *
 * @example
 * ```ts
 * const v = await tl.cka.rbfAsync(X, Y, {threshold: 1});
 * ```
 */
export async function rbfAsync(X: Features, Y: Features, options: RbfOptions = {}): Promise<number> {
  const fn = 'tl.cka.rbfAsync';
  return runAsync(pairCka(fn, X, Y, rbfEstimator(fn, options)));
}

// ─── Public API: module × module matrices ────────────────────────────────────────────────────

/** Named representations: module name → features (the same examples, in the same order, for all). */
export type NamedFeatures = ReadonlyMap<string, Features> | Readonly<Record<string, Features>>;

export interface MatrixOptions {
  /** `linear` (default) or `rbf`. */
  readonly kind?: CkaKind;
  /** Unbiased HSIC; default false. The minibatch estimator always uses unbiased HSIC. */
  readonly debiased?: boolean;
  /** RBF bandwidth factor (see {@link rbf}); default 1. */
  readonly threshold?: number;
  /** Linear kernel: which exact form computes the products; default `auto`. */
  readonly algorithm?: CkaAlgorithm;
  /** A title for the heatmap. */
  readonly title?: string;
  /** Names of the two models (axis titles), e.g. `P-T seed 1`. */
  readonly modelA?: string;
  readonly modelB?: string;
}

function matrixEstimator(fn: string, o: Record<string, unknown>): Estimator {
  const kind = checkOneOf(fn, 'options.kind', o['kind'] ?? 'linear', ['linear', 'rbf'] as const);
  const debiased = o['debiased'] ?? false;
  if (typeof debiased !== 'boolean') fail(fn, 'options.debiased', `must be a boolean, got ${formatValue(debiased)}`);
  const threshold = checkNumber(fn, 'options.threshold', o['threshold'] ?? 1, Number.MIN_VALUE);
  const algorithm = checkOneOf(fn, 'options.algorithm', o['algorithm'] ?? 'auto', ['auto', 'gram', 'features'] as const);
  if (kind === 'rbf' && o['algorithm'] !== undefined && algorithm !== 'auto') fail(fn, 'options.algorithm', `applies to the linear kernel only (kind is 'rbf')`);
  return { kind, debiased, threshold, algorithm };
}

function checkStringOption(fn: string, arg: string, v: unknown): string | undefined {
  if (v !== undefined && typeof v !== 'string') fail(fn, arg, `must be a string, got ${formatValue(v)}`);
  return v as string | undefined;
}

function namedEntries(fn: string, arg: string, f: unknown): [string, Features][] {
  let entries: [string, unknown][];
  if (f instanceof Map) entries = [...f.entries()];
  else if (f !== null && typeof f === 'object' && !Array.isArray(f) && !(f instanceof tf.Tensor)) entries = Object.entries(f);
  else return fail(fn, arg, `must map module names to features ({conv1: X1, layer1: X2} or a Map), got ${formatValue(f)}`);
  if (entries.length === 0) fail(fn, arg, 'is empty (no modules)');
  for (const [k, v] of entries) {
    if (typeof k !== 'string') fail(fn, arg, `has a non-string key ${formatValue(k)}`);
    featureShape(fn, `${arg}.${k}`, v);
  }
  return entries as [string, Features][];
}

function* featuresMatrix(fn: string, A: NamedFeatures, B: NamedFeatures | undefined, o: Record<string, unknown>): Analysis<CkaResult> {
  const e = matrixEstimator(fn, o);
  const ea = namedEntries(fn, 'featuresA', A);
  const eb = B === undefined || B === A ? ea : namedEntries(fn, 'featuresB', B);
  const n = featureShape(fn, `featuresA.${ea[0]![0]}`, ea[0]![1])[0];
  for (const [arg, entries] of [['featuresA', ea], ['featuresB', eb]] as const) {
    for (const [k, v] of entries) {
      const [m] = featureShape(fn, `${arg}.${k}`, v);
      if (m !== n) throw new ShapeMismatchError(fn, `${arg}.${k}`, `has ${m} rows but featuresA.${ea[0]![0]} has ${n} (one row per example, the same examples for every module)`);
    }
  }
  if (n < (e.debiased ? 4 : 2)) fail(fn, 'featuresA', `has ${n} examples; ${e.debiased ? 'the debiased estimator needs at least 4' : 'CKA needs at least 2'}`);
  const reps: Rep[] = [];
  const seen = new Map<Features, number>();
  const indexOf = function* (arg: string, name: string, f: Features): Analysis<number> {
    const known = seen.get(f);
    if (known !== undefined) return known;
    reps.push(yield* readRep(fn, `${arg}.${name}`, f, `${arg}.${name}`));
    seen.set(f, reps.length - 1);
    return reps.length - 1;
  };
  const rows: number[] = [];
  for (const [k, v] of ea) rows.push(yield* indexOf('featuresA', k, v));
  const cols: number[] = [];
  for (const [k, v] of eb) cols.push(yield* indexOf('featuresB', k, v));
  const t = yield* hsicTable(fn, reps, rows, cols, e);
  const values = ckaValues(fn, ea.map(([k]) => `featuresA.${k}`), eb.map(([k]) => `featuresB.${k}`), t, e.debiased);
  return new CkaResult({
    rows: ea.map(([k]) => k),
    columns: eb.map(([k]) => k),
    values,
    kind: e.kind,
    debiased: e.debiased,
    estimator: 'full',
    n,
    title: checkStringOption(fn, 'options.title', o['title']),
    modelA: checkStringOption(fn, 'options.modelA', o['modelA']),
    modelB: checkStringOption(fn, 'options.modelB', o['modelB']),
  });
}

const MATRIX_FEATURE_KEYS = ['kind', 'debiased', 'threshold', 'algorithm', 'title', 'modelA', 'modelB'];

/**
 * CKA between every module of A and every module of B, from representations you computed: each
 * a tensor [n, …] or number[][] of the same n examples in the same order. Without `featuresB`,
 * A against itself. Each module's Gram matrix (or cross-products) is computed once and reused for
 * all its pairs. Synchronous: on WebGPU use {@link matrixFromFeaturesAsync}.
 *
 * @example
 * ```ts
 * const {activations: a} = modelA.forward(x, {collect: ['conv1', 'layer1']});
 * const {activations: b} = modelB.forward(x, {collect: ['conv1', 'layer1']});
 * const heat = tl.cka.matrixFromFeatures(a, b, {modelA: 'P-T', modelB: 'RI-T'});
 * heat.get('conv1', 'conv1');
 * heat; // displays a heatmap
 * ```
 */
export function matrixFromFeatures(featuresA: NamedFeatures, featuresB?: NamedFeatures, options: MatrixOptions = {}): CkaResult {
  const fn = 'tl.cka.matrixFromFeatures';
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, MATRIX_FEATURE_KEYS);
  return runSync(fn, 'tl.cka.matrixFromFeaturesAsync', featuresMatrix(fn, featuresA, featuresB, o));
}

/**
 * {@link matrixFromFeatures} for any backend (WebGPU included).
 *
 * @example
 * ```ts
 * const heat = await tl.cka.matrixFromFeaturesAsync(a, b);
 * ```
 */
export async function matrixFromFeaturesAsync(featuresA: NamedFeatures, featuresB?: NamedFeatures, options: MatrixOptions = {}): Promise<CkaResult> {
  const fn = 'tl.cka.matrixFromFeaturesAsync';
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, MATRIX_FEATURE_KEYS);
  return runAsync(featuresMatrix(fn, featuresA, featuresB, o));
}

// ─── Minibatch CKA ───────────────────────────────────────────────────────────────────────────

export interface MinibatchOptions {
  /** `linear` (default) or `rbf` (bandwidth from each minibatch's own median distance). */
  readonly kind?: CkaKind;
  readonly threshold?: number;
  readonly title?: string;
  readonly modelA?: string;
  readonly modelB?: string;
}

/**
 * Minibatch CKA (Nguyen, Raghu, Kornblith 2021) as an accumulator, for n beyond memory: feed the
 * same examples, in the same order, to both sides one minibatch at a time; each minibatch adds
 * its unbiased HSIC₁ for every pair, in float64; {@link result} gives
 * CKA = Σ HSIC₁(K, L) / √(Σ HSIC₁(K, K) · Σ HSIC₁(L, L)). Minibatches need ≥ 4 examples; use equal
 * sizes for the estimator of the paper.
 *
 * @example
 * ```ts
 * const acc = new tl.cka.MinibatchCka();
 * for (const [xa, xb] of batches) acc.update({layer1: xa}, {layer1: xb});
 * acc.result().get('layer1', 'layer1');
 * ```
 */
export class MinibatchCka {
  private rows: string[] | undefined;
  private cols: string[] | undefined;
  private cross: Float64Array | undefined;
  private selfRows: Float64Array | undefined;
  private selfCols: Float64Array | undefined;
  private examples = 0;
  private batches = 0;
  private readonly estimator: Estimator;
  private readonly options: Record<string, unknown>;

  constructor(options: MinibatchOptions = {}) {
    const fn = 'tl.cka.MinibatchCka';
    const o = checkObject(fn, 'options', options);
    checkKeys(fn, 'options', o, ['kind', 'threshold', 'title', 'modelA', 'modelB']);
    this.estimator = { ...matrixEstimator(fn, { kind: o['kind'], threshold: o['threshold'] }), debiased: true };
    for (const k of ['title', 'modelA', 'modelB']) checkStringOption(fn, `options.${k}`, o[k]);
    this.options = o;
  }

  /** Number of minibatches and examples accumulated so far. */
  get count(): { batches: number; examples: number } {
    return { batches: this.batches, examples: this.examples };
  }

  /**
   * Adds one minibatch: module name → features of these examples for side A and side B (B
   * defaults to A). Module names must be the same in every call. Synchronous: on WebGPU use
   * {@link updateAsync}.
   */
  update(featuresA: NamedFeatures, featuresB?: NamedFeatures): void {
    const fn = 'MinibatchCka.update';
    runSync(fn, 'MinibatchCka.updateAsync', this.step(fn, featuresA, featuresB));
  }

  /** {@link update} for any backend. */
  async updateAsync(featuresA: NamedFeatures, featuresB?: NamedFeatures): Promise<void> {
    await runAsync(this.step('MinibatchCka.updateAsync', featuresA, featuresB));
  }

  /** @internal Used by {@link matrix}: one step as an analysis. */
  *step(fn: string, featuresA: NamedFeatures, featuresB?: NamedFeatures): Analysis<void> {
    const ea = namedEntries(fn, 'featuresA', featuresA);
    const eb = featuresB === undefined || featuresB === featuresA ? ea : namedEntries(fn, 'featuresB', featuresB);
    const names = (e: [string, Features][]) => e.map(([k]) => k);
    if (this.rows === undefined) {
      this.rows = names(ea);
      this.cols = names(eb);
      this.cross = new Float64Array(this.rows.length * this.cols.length);
      this.selfRows = new Float64Array(this.rows.length);
      this.selfCols = new Float64Array(this.cols.length);
    } else {
      if (names(ea).join('\u0000') !== this.rows.join('\u0000')) fail(fn, 'featuresA', `has modules [${names(ea).join(', ')}] but earlier minibatches had [${this.rows.join(', ')}]`);
      if (names(eb).join('\u0000') !== this.cols!.join('\u0000')) fail(fn, 'featuresB', `has modules [${names(eb).join(', ')}] but earlier minibatches had [${this.cols!.join(', ')}]`);
    }
    const n = featureShape(fn, `featuresA.${ea[0]![0]}`, ea[0]![1])[0];
    for (const [arg, entries] of [['featuresA', ea], ['featuresB', eb]] as const) {
      for (const [k, v] of entries) {
        const [m] = featureShape(fn, `${arg}.${k}`, v);
        if (m !== n) throw new ShapeMismatchError(fn, `${arg}.${k}`, `has ${m} rows but featuresA.${ea[0]![0]} has ${n} (the same minibatch for every module)`);
      }
    }
    if (n < 4) fail(fn, 'featuresA', `has a minibatch of ${n} examples; the unbiased HSIC needs at least 4`);
    const reps: Rep[] = [];
    const seen = new Map<Features, number>();
    const index = function* (arg: string, k: string, f: Features): Analysis<number> {
      const known = seen.get(f);
      if (known !== undefined) return known;
      reps.push(yield* readRep(fn, `${arg}.${k}`, f));
      seen.set(f, reps.length - 1);
      return reps.length - 1;
    };
    const rows: number[] = [];
    for (const [k, v] of ea) rows.push(yield* index('featuresA', k, v));
    const cols: number[] = [];
    for (const [k, v] of eb) cols.push(yield* index('featuresB', k, v));
    const t = yield* hsicTable(fn, reps, rows, cols, this.estimator);
    // Scale n(n−3)·HSIC₁ back to HSIC₁ so that minibatches of different sizes weigh alike.
    const s = 1 / (n * (n - 3));
    t.cross.forEach((v, i) => (this.cross![i]! += v * s));
    t.selfRows.forEach((v, i) => (this.selfRows![i]! += v * s));
    t.selfCols.forEach((v, i) => (this.selfCols![i]! += v * s));
    this.examples += n;
    this.batches++;
  }

  /** CKA for all module pairs from the minibatches so far. */
  result(): CkaResult {
    const fn = 'MinibatchCka.result';
    if (this.rows === undefined) fail(fn, 'this', 'has no minibatches yet (call update first)');
    const o = this.options;
    const values = ckaValues(fn, this.rows.map((r) => `featuresA.${r}`), this.cols!.map((c) => `featuresB.${c}`), { cross: this.cross!, selfRows: this.selfRows!, selfCols: this.selfCols! }, true);
    return new CkaResult({
      rows: this.rows,
      columns: this.cols!,
      values,
      kind: this.estimator.kind,
      debiased: true,
      estimator: 'minibatch',
      n: this.examples,
      batches: this.batches,
      title: o['title'] as string | undefined,
      modelA: o['modelA'] as string | undefined,
      modelB: o['modelB'] as string | undefined,
    });
  }
}

// ─── Public API: two models ──────────────────────────────────────────────────────────────────

export interface ModelMatrixOptions extends MatrixOptions {
  /** Modules to compare: one list for both models, or `{a, b}`. Default: every module of each model. */
  readonly layers?: readonly string[] | { readonly a?: readonly string[]; readonly b?: readonly string[] };
  /** Examples per forward pass (and per minibatch with the minibatch estimator). Default 256. */
  readonly batchSize?: number;
  /**
   * `full` (default): exact CKA on all examples (keeps every module's representation in memory);
   * `minibatch`: the unbiased minibatch estimator over forward batches (memory of one batch).
   */
  readonly estimator?: 'full' | 'minibatch';
}

function checkLayers(fn: string, arg: string, model: Model, layers: unknown): string[] {
  if (layers === undefined) return [...model.moduleNames];
  if (!Array.isArray(layers) || layers.length === 0 || layers.some((l) => typeof l !== 'string')) fail(fn, arg, `must be a non-empty array of module names, got ${formatValue(layers)}`);
  for (const l of layers as string[]) {
    if (!model.moduleNames.includes(l)) fail(fn, arg, `names unknown module '${l}'; the model (${model.arch}) has ${model.moduleNames.join(', ')}`);
  }
  return [...(layers as string[])];
}

/** Images of a DataLike or an image tensor. */
function imagesOf(fn: string, data: unknown): tf.Tensor4D {
  const x = data instanceof tf.Tensor ? data : data !== null && typeof data === 'object' ? (data as Partial<DataLike>).x : undefined;
  if (!(x instanceof tf.Tensor) || x.rank !== 4) fail(fn, 'data', `must be a data set {x, y} or images [N, H, W, C], got ${formatValue(data)}`);
  if (x.isDisposed) fail(fn, 'data', 'holds a disposed tensor');
  return x as tf.Tensor4D;
}

function* modelMatrix(fn: string, modelA: Model, modelB: Model, data: DataLike | tf.Tensor4D, options: ModelMatrixOptions): Analysis<CkaResult> {
  checkModel(fn, 'modelA', modelA);
  checkModel(fn, 'modelB', modelB);
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, [...MATRIX_FEATURE_KEYS, 'layers', 'batchSize', 'estimator']);
  const e = matrixEstimator(fn, o);
  const x = imagesOf(fn, data);
  for (const [arg, m] of [['modelA', modelA], ['modelB', modelB]] as const) {
    const [, h, w, c] = x.shape;
    if (h !== m.inputShape[0] || w !== m.inputShape[1] || c !== m.inputShape[2]) {
      throw new ShapeMismatchError(fn, 'data', `has images ${h}×${w}×${c} but ${arg} (${m.arch}) expects ${m.inputShape.join('×')}`);
    }
  }
  const layersOpt = o['layers'];
  const split = layersOpt !== undefined && !Array.isArray(layersOpt) && typeof layersOpt === 'object' && layersOpt !== null;
  const la = checkLayers(fn, split ? 'options.layers.a' : 'options.layers', modelA, split ? (layersOpt as { a?: unknown }).a : layersOpt);
  const lb = checkLayers(fn, split ? 'options.layers.b' : 'options.layers', modelB, split ? (layersOpt as { b?: unknown }).b : layersOpt);
  const batchSize = checkInteger(fn, 'options.batchSize', o['batchSize'] ?? 256, 1);
  const estimator = checkOneOf(fn, 'options.estimator', o['estimator'] ?? 'full', ['full', 'minibatch'] as const);
  const n = x.shape[0];
  const same = modelA === modelB;
  const meta = {
    title: checkStringOption(fn, 'options.title', o['title']),
    modelA: checkStringOption(fn, 'options.modelA', o['modelA']) ?? modelA.arch,
    modelB: checkStringOption(fn, 'options.modelB', o['modelB']) ?? modelB.arch,
  };

  if (estimator === 'minibatch') {
    if (batchSize < 4) fail(fn, 'options.batchSize', `is ${batchSize}; the minibatch estimator needs at least 4 examples per batch`);
    const acc = new MinibatchCka({ kind: e.kind, threshold: e.threshold, ...meta });
    for (let i = 0; i + 4 <= n; i += batchSize) {
      const b = Math.min(batchSize, n - i);
      if (b < 4) break;
      const fa = forwardCollect(modelA, x, i, b, la);
      const fb = same ? fa : forwardCollect(modelB, x, i, b, lb);
      try {
        yield* acc.step(fn, fa, fb);
      } finally {
        tf.dispose([...fa.values(), ...(same ? [] : fb.values())]);
      }
    }
    return acc.result();
  }

  if (n < (e.debiased ? 4 : 2)) fail(fn, 'data', `has ${n} examples; ${e.debiased ? 'the debiased estimator needs at least 4' : 'CKA needs at least 2'}`);
  const reps: Rep[] = [];
  const indexA = new Map<string, number>();
  const indexB = new Map<string, number>();
  const addAll = function* (model: Model, layers: readonly string[], side: string, index: Map<string, number>): Analysis<void> {
    const raw = yield* collectAll(model, x, layers, batchSize);
    for (const [name, r] of raw) {
      reps.push(repFrom(`${side} module '${name}'`, r.data, n, r.p));
      index.set(name, reps.length - 1);
      raw.delete(name); // let the uncentred copy go
    }
  };
  if (same) {
    yield* addAll(modelA, [...new Set([...la, ...lb])], 'the model', indexA);
    for (const [k, v] of indexA) indexB.set(k, v);
  } else {
    yield* addAll(modelA, la, 'modelA', indexA);
    yield* addAll(modelB, lb, 'modelB', indexB);
  }
  const rows = la.map((l) => indexA.get(l)!);
  const cols = lb.map((l) => indexB.get(l)!);
  const t = yield* hsicTable(fn, reps, rows, cols, e);
  const values = ckaValues(fn, rows.map((i) => reps[i]!.label), cols.map((j) => reps[j]!.label), t, e.debiased);
  return new CkaResult({ rows: la, columns: lb, values, kind: e.kind, debiased: e.debiased, estimator: 'full', n, ...meta });
}

function forwardCollect(model: Model, x: tf.Tensor4D, start: number, b: number, layers: readonly string[]): Map<string, tf.Tensor> {
  const xb = tf.slice(x, [start, 0, 0, 0], [b, -1, -1, -1]);
  try {
    const { logits, activations } = model.forward(xb, { collect: layers });
    const out = new Map<string, tf.Tensor>();
    for (const l of layers) out.set(l, activations.get(l)!);
    // The classifier's output may be the logits tensor itself.
    if (![...activations.values()].includes(logits)) logits.dispose();
    return out;
  } finally {
    xb.dispose();
  }
}

/** Every module's representation of all examples, as row-major float32 n × p (uncentred). */
function* collectAll(model: Model, x: tf.Tensor4D, layers: readonly string[], batchSize: number): Analysis<Map<string, { data: Float32Array; p: number }>> {
  const n = x.shape[0];
  const out = new Map<string, { data: Float32Array; p: number }>();
  for (let i = 0; i < n; i += batchSize) {
    const b = Math.min(batchSize, n - i);
    const acts = forwardCollect(model, x, i, b, layers);
    try {
      for (const l of layers) {
        const t = acts.get(l)!;
        const p = t.size / b;
        if (!out.has(l)) out.set(l, { data: new Float32Array(n * p), p });
        const v = yield tf.reshape(t, [b, p]);
        checkFinite('tl.cka.matrix', `module '${l}' of ${model.arch}`, v, p);
        out.get(l)!.data.set(v, i * p);
      }
    } finally {
      tf.dispose([...acts.values()]);
    }
  }
  return out;
}

/**
 * CKA between every module of `modelA` and every module of `modelB` on the same examples (the
 * paper's Figure: P-T/P-T, P-T/P, P-T/RI-T, RI-T/RI-T), as a heatmap result. Runs the models in
 * evaluation mode in batches and collects module outputs (conv maps flattened). The default
 * estimator is exact on all examples; `estimator: 'minibatch'` scales to any n.
 *
 * @example
 * ```ts
 * const heat = await tl.cka.matrix(ptA, ptB, test.take(1000), {modelA: 'P-T 1', modelB: 'P-T 2'});
 * heat.diagonal();          // CKA of each module with its counterpart
 * heat;                     // displays the heatmap
 * await tl.cka.matrix(ptA, riA, test, {estimator: 'minibatch', batchSize: 256});
 * ```
 */
export async function matrix(modelA: Model, modelB: Model, data: DataLike | tf.Tensor4D, options: ModelMatrixOptions = {}): Promise<CkaResult> {
  return runAsync(modelMatrix('tl.cka.matrix', modelA, modelB, data, options));
}

// ─── The result ──────────────────────────────────────────────────────────────────────────────

/** What a {@link CkaResult} holds. */
export interface CkaResultInit {
  readonly rows: readonly string[];
  readonly columns: readonly string[];
  readonly values: readonly (readonly number[])[];
  readonly kind: CkaKind;
  readonly debiased: boolean;
  readonly estimator: 'full' | 'minibatch';
  readonly n: number;
  readonly batches?: number;
  readonly title?: string;
  readonly modelA?: string;
  readonly modelB?: string;
}

/**
 * A module×module CKA matrix that displays itself as a heatmap (the TransferLab CKA renderer,
 * with a vega-lite chart and a text table as fallbacks).
 */
export class CkaResult implements Displayable, CkaResultInit {
  readonly rows: readonly string[];
  readonly columns: readonly string[];
  readonly values: readonly (readonly number[])[];
  readonly kind: CkaKind;
  readonly debiased: boolean;
  readonly estimator: 'full' | 'minibatch';
  readonly n: number;
  readonly batches?: number;
  readonly title?: string;
  readonly modelA?: string;
  readonly modelB?: string;

  constructor(init: CkaResultInit) {
    this.rows = [...init.rows];
    this.columns = [...init.columns];
    this.values = init.values.map((r) => [...r]);
    this.kind = init.kind;
    this.debiased = init.debiased;
    this.estimator = init.estimator;
    this.n = init.n;
    if (init.batches !== undefined) this.batches = init.batches;
    if (init.title !== undefined) this.title = init.title;
    if (init.modelA !== undefined) this.modelA = init.modelA;
    if (init.modelB !== undefined) this.modelB = init.modelB;
  }

  /** CKA of module `row` (model A) with module `column` (model B). */
  get(row: string, column: string): number {
    const i = this.rows.indexOf(row);
    const j = this.columns.indexOf(column);
    if (i < 0) throw new InvalidArgumentError('CkaResult.get', 'row', `'${row}' is not a row; rows: ${this.rows.join(', ')}`);
    if (j < 0) throw new InvalidArgumentError('CkaResult.get', 'column', `'${column}' is not a column; columns: ${this.columns.join(', ')}`);
    return this.values[i]![j]!;
  }

  /** CKA of each module with the module of the same name in the other model (modules in both). */
  diagonal(): Map<string, number> {
    const out = new Map<string, number>();
    for (const r of this.rows) if (this.columns.includes(r)) out.set(r, this.get(r, r));
    return out;
  }

  /** A one-line description of the estimator. */
  get description(): string {
    const est = this.estimator === 'minibatch' ? `minibatch (${this.batches ?? '?'} batches, unbiased HSIC)` : this.debiased ? 'debiased' : 'biased';
    return `${this.kind} CKA, ${est}, n = ${this.n}`;
  }

  get label(): string {
    return this.title ?? `CKA: ${this.modelA ?? 'A'} vs ${this.modelB ?? 'B'}`;
  }

  toPayload(): CkaPayload {
    return {
      title: this.label,
      rows: this.rows,
      columns: this.columns,
      values: this.values,
      kind: this.kind,
      debiased: this.debiased,
      ...(this.modelA !== undefined ? { modelA: this.modelA } : {}),
      ...(this.modelB !== undefined ? { modelB: this.modelB } : {}),
      n: this.n,
    };
  }

  /** A vega-lite heatmap (values in [0, 1] on a fixed colour scale, numbers on the cells). */
  toVegaLite(): Record<string, unknown> {
    const values = this.rows.flatMap((r, i) => this.columns.map((c, j) => ({ row: r, column: c, cka: this.values[i]![j]! })));
    const size = Math.max(160, Math.min(480, 36 * Math.max(this.rows.length, this.columns.length)));
    return {
      $schema: VEGA_LITE_SCHEMA,
      title: { text: this.label, subtitle: this.description },
      data: { values },
      width: size,
      height: size,
      encoding: {
        x: { field: 'column', type: 'nominal', sort: this.columns, title: this.modelB ?? 'model B' },
        y: { field: 'row', type: 'nominal', sort: this.rows, title: this.modelA ?? 'model A' },
      },
      layer: [
        {
          mark: 'rect',
          encoding: {
            color: { field: 'cka', type: 'quantitative', title: 'CKA', scale: { domain: [0, 1], scheme: 'viridis' } },
            tooltip: [
              { field: 'row', title: this.modelA ?? 'A' },
              { field: 'column', title: this.modelB ?? 'B' },
              { field: 'cka', format: '.3f', title: 'CKA' },
            ],
          },
        },
        {
          mark: { type: 'text', fontSize: 10 },
          encoding: {
            text: { field: 'cka', format: '.2f' },
            color: { condition: { test: 'datum.cka > 0.6', value: 'black' }, value: 'white' },
          },
        },
      ],
    };
  }

  toString(): string {
    const header = [`${this.modelA ?? 'A'} \\ ${this.modelB ?? 'B'}`, ...this.columns];
    const body = this.rows.map((r, i) => [r, ...this.values[i]!.map((v) => fmt(v))]);
    return `${this.label} (${this.description})\n${textTable(header, body)}`;
  }

  [DISPLAY](): MimeBundle {
    return {
      [Mime.cka]: this.toPayload(),
      [Mime.vegaLite]: this.toVegaLite(),
      [Mime.plain]: this.toString(),
    };
  }
}
