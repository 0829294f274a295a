/**
 * Resampling over examples, shared by the analyses that report uncertainty (CKA intervals and
 * permutation nulls in ./cka/uncertainty.ts, barrier intervals in ./interpolate.ts): seeded
 * bootstrap weights and permutations (./random.ts), percentile intervals, permutation p-values,
 * and the option that asks for them. Plain typed-array code; no tensors.
 *
 * What the numbers mean: a bootstrap interval resamples the evaluation examples with the models
 * (or representations) fixed, so it says how much a value would move on other examples from the
 * same distribution; it says nothing about other training runs (other seeds). Intervals are
 * percentile intervals (Efron's percentile method, linear interpolation between order
 * statistics). p-values count the permutations at least as extreme as the observed value,
 * with the +1 correction: p = (1 + #{null ≥ observed}) / (1 + B), so p is never 0 and the test
 * is exact (P(p ≤ α) ≤ α under independence).
 */
import { type Rng, rng } from './random';
import { checkInteger, checkKeys, checkNumber, checkObject, checkSeed, fail, formatValue } from './validate';

/** The `uncertainty` option of the analyses that report intervals: `true` for the defaults. */
export interface UncertaintyOptions {
  /** Bootstrap resamples of the examples for the interval; 0: no interval. Default 200. */
  readonly bootstrap?: number;
  /** Permutations of one side's examples for the null (CKA only); 0: no p-value. Default 200. */
  readonly permutations?: number;
  /** Coverage of the interval, e.g. 0.95 (default) for a 95% interval. */
  readonly level?: number;
  /** Significance level: a cell with p > alpha is marked not distinguishable from the null. Default 0.05. */
  readonly alpha?: number;
  /** Seed of the resampling (the same seed gives the same intervals). Default 0. */
  readonly seed?: number;
}

/** Validated {@link UncertaintyOptions}. */
export interface UncertaintySettings {
  readonly bootstrap: number;
  readonly permutations: number;
  readonly level: number;
  readonly alpha: number;
  readonly seed: number;
}

/**
 * Reads an `uncertainty` option: undefined or false → undefined (none asked for); true → the
 * defaults; an object → its values over the defaults. `withPermutations` false rejects a
 * `permutations` or `alpha` key (analyses without a null).
 */
export function checkUncertainty(fn: string, arg: string, v: unknown, withPermutations = true): UncertaintySettings | undefined {
  if (v === undefined || v === false) return undefined;
  if (v !== true && (v === null || typeof v !== 'object' || Array.isArray(v))) fail(fn, arg, `must be true or an object {bootstrap, ${withPermutations ? 'permutations, ' : ''}level, seed}, got ${formatValue(v)}`);
  const o = v === true ? {} : checkObject(fn, arg, v);
  checkKeys(fn, arg, o, withPermutations ? ['bootstrap', 'permutations', 'level', 'alpha', 'seed'] : ['bootstrap', 'level', 'seed']);
  const bootstrap = checkInteger(fn, `${arg}.bootstrap`, o['bootstrap'] ?? 200, 0, 100000);
  const permutations = withPermutations ? checkInteger(fn, `${arg}.permutations`, o['permutations'] ?? 200, 0, 100000) : 0;
  const level = checkNumber(fn, `${arg}.level`, o['level'] ?? 0.95, 0, 1);
  if (level <= 0 || level >= 1) fail(fn, `${arg}.level`, `must be strictly between 0 and 1 (e.g. 0.95), got ${level}`);
  const alpha = checkNumber(fn, `${arg}.alpha`, o['alpha'] ?? 0.05, 0, 1);
  if (alpha <= 0 || alpha >= 1) fail(fn, `${arg}.alpha`, `must be strictly between 0 and 1 (e.g. 0.05), got ${alpha}`);
  const seed = checkSeed(fn, `${arg}.seed`, o['seed'] ?? 0);
  if (bootstrap === 0 && permutations === 0) fail(fn, arg, 'asks for neither bootstrap resamples nor permutations (both are 0)');
  if (bootstrap > 0 && bootstrap < 20) fail(fn, `${arg}.bootstrap`, `is ${bootstrap}; a percentile interval needs at least 20 resamples (200 or more is usual)`);
  return { bootstrap, permutations, level, alpha, seed };
}

/**
 * Bootstrap weights: how often each of n examples is drawn in n draws with replacement
 * (a multinomial count vector summing to n). Weighted sums over examples then equal sums over
 * the resample, duplicates included.
 */
export function bootstrapWeights(n: number, r: Rng, out = new Float64Array(n)): Float64Array {
  out.fill(0);
  for (let k = 0; k < n; k++) out[Math.floor(r() * n)]! += 1;
  return out;
}

/** Independent generators for the bootstrap and the permutations of one call, from its seed. */
export function resamplingStreams(seed: number): { bootstrap: Rng; permutation: Rng } {
  return { bootstrap: rng(seed ^ 0x5bd1e995), permutation: rng((seed + 0x27d4eb2f) >>> 0) };
}

/**
 * The q-quantile (0 ≤ q ≤ 1) of the finite values of `samples`, by linear interpolation between
 * order statistics (type 7 of Hyndman and Fan, R's default); NaN when none is finite.
 */
export function quantile(samples: ArrayLike<number>, q: number): number {
  const s = Float64Array.from(samples).filter((v) => Number.isFinite(v)).sort();
  if (s.length === 0) return Number.NaN;
  const h = (s.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(s.length - 1, lo + 1);
  return s[lo]! + (h - lo) * (s[hi]! - s[lo]!);
}

/** The percentile interval of `level` coverage: the (1−level)/2 and (1+level)/2 quantiles. */
export function percentileInterval(samples: ArrayLike<number>, level: number): { lower: number; upper: number } {
  return { lower: quantile(samples, (1 - level) / 2), upper: quantile(samples, (1 + level) / 2) };
}

/** The permutation p-value with the +1 correction: (1 + #{null ≥ observed}) / (1 + B). */
export function permutationPValue(atLeast: number, permutations: number): number {
  return (1 + atLeast) / (1 + permutations);
}

/**
 * A percentile bootstrap interval of a statistic of per-example values: `perExample[k]` holds
 * the n values of quantity k (e.g. the loss of each example at the k-th λ); each resample draws
 * n examples with replacement, takes the mean of every quantity over them, and evaluates
 * `statistic(means)`. Returns the interval and the resampled statistics.
 */
export function bootstrapMeans(perExample: readonly ArrayLike<number>[], statistic: (means: number[]) => number, settings: Pick<UncertaintySettings, 'bootstrap' | 'level' | 'seed'>): { lower: number; upper: number; samples: Float64Array } {
  const n = perExample[0]?.length ?? 0;
  const r = resamplingStreams(settings.seed).bootstrap;
  const w = new Float64Array(n);
  const samples = new Float64Array(settings.bootstrap);
  const means = new Array<number>(perExample.length);
  for (let b = 0; b < settings.bootstrap; b++) {
    bootstrapWeights(n, r, w);
    for (let k = 0; k < perExample.length; k++) {
      const v = perExample[k]!;
      let s = 0;
      for (let i = 0; i < n; i++) s += w[i]! * v[i]!;
      means[k] = s / n;
    }
    samples[b] = statistic(means);
  }
  return { ...percentileInterval(samples, settings.level), samples };
}
