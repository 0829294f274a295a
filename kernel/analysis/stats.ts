/**
 * Small-sample statistics for findings over training seeds: Student-t intervals of a mean, of a
 * paired difference, and a jackknife interval for statistics of pairs of seeds (a U-statistic such
 * as "mean CKA between two runs over all pairs of seeds", whose pairs share seeds and so are not
 * independent). Everything in float64, no tensors.
 */
import { fail } from './validate';

/** An interval estimate of a mean over independent units (seeds). */
export interface Interval {
  /** The point estimate (a mean, or the mean over pairs). */
  readonly estimate: number;
  /** Bounds at `level`; NaN when there are fewer than two units. */
  readonly lower: number;
  readonly upper: number;
  /** Confidence level, e.g. 0.95. */
  readonly level: number;
  /** Independent units (seeds) behind the interval. */
  readonly n: number;
  /** Standard error of the estimate (NaN when n < 2). */
  readonly standardError: number;
  /** Two-sided p-value of the t-test of `estimate = 0` (NaN when n < 2). */
  readonly pValue: number;
  /** How the interval was made. */
  readonly method: 'student-t' | 'jackknife-t';
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms: ~1e-15 relative). */
function lnGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  x -= 1;
  let a = c[0]!;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the regularised incomplete beta function (modified Lentz). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 500; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return h;
}

/** I_x(a, b), the regularised incomplete beta function. */
function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2) ? (front * betaContinuedFraction(a, b, x)) / a : 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/**
 * P(T ≤ t) for Student's t with `df` degrees of freedom.
 *
 * @example
 * ```ts
 * tl.stats.studentTCdf(2.776445, 4); // 0.975
 * ```
 */
export function studentTCdf(t: number, df: number): number {
  if (!(df > 0)) fail('stats.studentTCdf', 'df', `must be > 0, got ${df}`);
  if (Number.isNaN(t)) return NaN;
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t > 0 ? 1 - tail : tail;
}

/** Quantiles already computed (the same few levels and seed counts come back again and again). */
const quantiles = new Map<string, number>();

/**
 * The p-quantile of Student's t with `df` degrees of freedom (bisection on the CDF, to ~1e-12).
 *
 * @example
 * ```ts
 * tl.stats.studentTQuantile(0.975, 2); // 4.3027
 * ```
 */
export function studentTQuantile(p: number, df: number): number {
  const fn = 'stats.studentTQuantile';
  if (!(p > 0 && p < 1)) fail(fn, 'p', `must be between 0 and 1 (exclusive), got ${p}`);
  if (!(df > 0)) fail(fn, 'df', `must be > 0, got ${df}`);
  if (p === 0.5) return 0;
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  const key = `${p} ${df}`;
  const known = quantiles.get(key);
  if (known !== undefined) return known;
  let lo = 0;
  let hi = 1;
  while (studentTCdf(hi, df) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * Math.max(1, hi); i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  if (quantiles.size > 1000) quantiles.clear();
  quantiles.set(key, (lo + hi) / 2);
  return (lo + hi) / 2;
}

function checkLevel(fn: string, level: number): void {
  if (!(level > 0 && level < 1)) fail(fn, 'options.level', `must be between 0 and 1 (exclusive), got ${level}`);
}

function checkValues(fn: string, arg: string, values: readonly number[]): void {
  if (!Array.isArray(values) || values.length === 0) fail(fn, arg, 'must be a non-empty list of numbers');
  values.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) fail(fn, arg, `has ${String(v)} at position ${i}; every value must be a finite number`);
  });
}

/** A t-interval around `estimate` with standard error `se` on `df` degrees of freedom. */
function tInterval(estimate: number, se: number, n: number, level: number, method: Interval['method']): Interval {
  if (n < 2 || !Number.isFinite(se)) return { estimate, lower: NaN, upper: NaN, level, n, standardError: NaN, pValue: NaN, method };
  const half = studentTQuantile(0.5 + level / 2, n - 1) * se;
  const pValue = se === 0 ? (estimate === 0 ? 1 : 0) : 2 * (1 - studentTCdf(Math.abs(estimate) / se, n - 1));
  return { estimate, lower: estimate - half, upper: estimate + half, level, n, standardError: se, pValue, method };
}

/**
 * The mean of independent values (one per seed) with its Student-t confidence interval and the
 * two-sided p-value of "mean = 0".
 *
 * @example
 * ```ts
 * const ci = tl.stats.meanInterval([0.12, 0.08, 0.15]); // { estimate: 0.1167, lower: 0.03, upper: 0.20, … }
 * ```
 */
export function meanInterval(values: readonly number[], options: { readonly level?: number } = {}): Interval {
  const fn = 'stats.meanInterval';
  checkValues(fn, 'values', values);
  const level = options.level ?? 0.95;
  checkLevel(fn, level);
  const n = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const variance = n > 1 ? values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1) : NaN;
  return tInterval(mean, Math.sqrt(variance / n), n, level, 'student-t');
}

/**
 * The mean of the paired differences a[i] − b[i] (the same seed on both sides), with its
 * t-interval: the paired t-test.
 *
 * @example
 * ```ts
 * tl.stats.pairedDifference([0.91, 0.88, 0.93], [0.84, 0.83, 0.86]).lower > 0; // P-T beats RI-T
 * ```
 */
export function pairedDifference(a: readonly number[], b: readonly number[], options: { readonly level?: number } = {}): Interval {
  const fn = 'stats.pairedDifference';
  checkValues(fn, 'a', a);
  checkValues(fn, 'b', b);
  if (a.length !== b.length) fail(fn, 'b', `has ${b.length} values but a has ${a.length}; a paired difference needs one value of each per seed`);
  return meanInterval(
    a.map((x, i) => x - b[i]!),
    options,
  );
}

/**
 * A statistic of pairs of seeds, averaged over all pairs i < j of `k` seeds, with a jackknife
 * interval over seeds. Pairs share seeds, so they are not independent: the jackknife leaves out
 * one seed (and every pair it is in) at a time, which accounts for that, and the interval uses
 * Student's t on k − 1 degrees of freedom. Needs k ≥ 3 for an interval.
 *
 * @param values `values[i][j]` for i < j (the rest is not read).
 *
 * @example
 * ```ts
 * // CKA between P-T runs of seeds i and j, for 3 seeds:
 * tl.stats.pairsInterval([[NaN, 0.8, 0.7], [NaN, NaN, 0.75]], 3);
 * ```
 */
export function pairsInterval(values: readonly (readonly number[])[], k: number, options: { readonly level?: number } = {}): Interval {
  const fn = 'stats.pairsInterval';
  if (!Number.isInteger(k) || k < 2) fail(fn, 'k', `must be an integer ≥ 2 (seeds), got ${k}`);
  const level = options.level ?? 0.95;
  checkLevel(fn, level);
  const at = (i: number, j: number): number => {
    const v = values[i]?.[j];
    if (typeof v !== 'number' || !Number.isFinite(v)) fail(fn, 'values', `has ${String(v)} at [${i}][${j}]; every pair i < j needs a finite value`);
    return v;
  };
  const meanWithout = (skip: number): number => {
    let sum = 0;
    let count = 0;
    for (let i = 0; i < k; i++) for (let j = i + 1; j < k; j++) if (i !== skip && j !== skip) {
      sum += at(i, j);
      count++;
    }
    return sum / count;
  };
  const estimate = meanWithout(-1);
  if (k < 3) return tInterval(estimate, NaN, 1, level, 'jackknife-t');
  const leaveOut = Array.from({ length: k }, (_, i) => meanWithout(i));
  const mean = leaveOut.reduce((s, v) => s + v, 0) / k;
  const variance = ((k - 1) / k) * leaveOut.reduce((s, v) => s + (v - mean) ** 2, 0);
  return tInterval(estimate, Math.sqrt(variance), k, level, 'jackknife-t');
}
