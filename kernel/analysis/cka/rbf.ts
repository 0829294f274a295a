/**
 * The RBF kernel: Gram matrices K_ij = exp(−‖xᵢ−xⱼ‖² / (2·threshold²·m)), m the median of all n²
 * squared distances of the representation; then tr(KHLH) (or the unbiased HSIC) in float64.
 *
 * Squared distances, accurate to float64 on every input. The backend's float32 Gram matrix G of
 * the centred features gives ‖a‖² + ‖b‖² − 2·G_ab, which is as accurate as G wherever the distance
 * is not small next to ‖a‖² + ‖b‖² (most pairs of most representations, at the cost of one matrix
 * product). Where it is (points close together and far from the centre, such as tight clusters
 * far apart, and duplicates), the form cancels: an error of 1e-7 of ‖a‖² swamps the distance, and
 * rounding the centred features to float32 already moves such points. Those pairs (‖a‖² + ‖b‖² at
 * least `ckaInternals.rbfCancellation` times the Gram form's value, or that value not positive)
 * are recomputed on the host as Σ (aₖ − bₖ)² in float64 from the
 * values as given (float64 arrays, or the float32 values of a tensor, whose differences are exact
 * in float64). The cost stays O(n²p), paid in JavaScript only for the pairs that need it.
 */
import type { Analysis } from '../engine';
import { fail } from '../validate';
import { dot, select } from '../float64';
import { type Pair, type Rep, uniqueOf } from './rep';
import { fullGram } from './gramBlocks';
import { ckaInternals } from './internals';

/** ‖xₐ − x_b‖² by differences in float64, over rows a and b of the row-major n × p `x`. */
function squaredDistance(x: ArrayLike<number>, p: number, a: number, b: number): number {
  const oa = a * p;
  const ob = b * p;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let k = 0;
  for (; k + 3 < p; k += 4) {
    const e0 = x[oa + k]! - x[ob + k]!;
    const e1 = x[oa + k + 1]! - x[ob + k + 1]!;
    const e2 = x[oa + k + 2]! - x[ob + k + 2]!;
    const e3 = x[oa + k + 3]! - x[ob + k + 3]!;
    s0 += e0 * e0;
    s1 += e1 * e1;
    s2 += e2 * e2;
    s3 += e3 * e3;
  }
  for (; k < p; k++) {
    const e = x[oa + k]! - x[ob + k]!;
    s0 += e * e;
  }
  return s0 + s1 + s2 + s3;
}

/** The median of all n² squared distances (diagonal zeros included, Kornblith's convention), from the upper triangle. */
function fullMatrixMedian(upper: Float64Array, n: number): number {
  const N = n * n;
  const at = (k: number): number => (k < n ? 0 : select(upper, Math.floor((k - n) / 2)));
  return N % 2 === 1 ? at((N - 1) / 2) : (at(N / 2 - 1) + at(N / 2)) / 2;
}

interface RbfGram {
  /**
   * Biased: the centred kernel matrix HKH. Debiased: K with a zero diagonal. n × n, in float64:
   * rounded to float32, a kernel whose entries vary little around a common level (tight clusters
   * far apart) would lose its variation, and the unbiased estimator's terms cancel.
   */
  readonly k: Float64Array;
  /** Debiased only: row sums of K with a zero diagonal, and their total. */
  readonly rowSum: Float64Array;
  readonly total: number;
}

function* rbfGram(fn: string, r: Rep, threshold: number, debiased: boolean): Analysis<RbfGram> {
  const n = r.n;
  const lin = yield* fullGram(r);
  const d = r.d;
  const raw = r.raw;
  if (raw === undefined) throw new Error(`${fn}: internal error: the RBF kernel needs the values as given (readRep with keepRaw)`);
  const ratio = ckaInternals.rbfCancellation;
  const dist = new Float64Array(n * n);
  const upper = new Float64Array((n * (n - 1)) / 2);
  let u = 0;
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      const norms = d[a]! + d[b]!;
      const fromGram = norms - 2 * lin[a * n + b]!;
      // A zero or negative value (cancelled) fails the test too and goes to the exact form.
      const v = fromGram * ratio > norms ? fromGram : squaredDistance(raw, r.p, a, b);
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
    const k = kv;
    for (let a = 0; a < n; a++) {
      let s = 0;
      k[a * n + a] = 0;
      for (let b = 0; b < n; b++) s += k[a * n + b]!;
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
  const k = kv; // centred in place
  for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) k[a * n + b] = kv[a * n + b]! - rowSum[a]! - rowSum[b]! + grand;
  return { k, rowSum, total: 0 };
}

/** HSIC per pair (biased tr(KHLH), or n(n−3)·HSIC₁ unbiased) of the RBF Gram matrices. */
export function* rbfHsic(fn: string, reps: readonly Rep[], pairs: readonly Pair[], threshold: number, debiased: boolean): Analysis<Float64Array> {
  const n = reps[0]!.n;
  const used = uniqueOf(pairs);
  const bytes = used.length * n * n * 8;
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
