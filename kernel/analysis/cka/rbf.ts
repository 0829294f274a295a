/**
 * The RBF kernel: Gram matrices K_ij = exp(−‖xᵢ−xⱼ‖² / (2·threshold²·m)), m the median of all n²
 * squared distances of the representation, from the linear Gram matrix and its diagonal; then
 * tr(KHLH) (or the unbiased HSIC) in float64.
 */
import { tf } from '../tfjs';
import type { Analysis } from '../engine';
import { fail } from '../validate';
import { dot, select } from '../float64';
import { type Pair, type Rep, uniqueOf } from './rep';
import { gramColumns, uploadChunks } from './gramBlocks';

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

/** HSIC per pair (biased tr(KHLH), or n(n−3)·HSIC₁ unbiased) of the RBF Gram matrices. */
export function* rbfHsic(fn: string, reps: readonly Rep[], pairs: readonly Pair[], threshold: number, debiased: boolean): Analysis<Float64Array> {
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
