/**
 * Uncertainty of CKA values over examples: a bootstrap interval (resampling the examples) and a
 * permutation null (CKA of X against Y with its examples shuffled, which breaks the pairing and
 * keeps each side's structure), for `tl.cka.linear`, `tl.cka.rbf` and the heatmaps, with the
 * option `uncertainty` (../resampling.ts).
 *
 * How. Each representation's centred Gram matrix G = HKH (n × n, float32 storage) is computed once
 * (linear: products on the backend; RBF: squared distances summed exactly in float64, the bandwidth
 * from the full sample's median and kept fixed across resamples). Every resample is then O(n²) per
 * pair with float64 sums:
 * - Bootstrap: a resample of examples is a count vector w (example i drawn wᵢ times). The biased
 *   HSIC of the resample K[idx][:, idx] is Σᵢⱼ wᵢwⱼ GᵢⱼLᵢⱼ − (2/n) Σᵢ wᵢρᵢρ'ᵢ + (1/n²)(wᵀρ)(wᵀρ')
 *   with ρ = Gw (centring the resample; any centring of G cancels). The unbiased HSIC is a
 *   U-statistic, whose zero diagonal must exclude pairs of copies of one example: a duplicate would
 *   put k(x, x) off the diagonal and bias it. Resamples use the U-statistic of order 4 over
 *   quadruples of distinct examples, each weighted by the product of its counts (a weighted
 *   bootstrap of U-statistics), in O(n²) sums by inclusion–exclusion.
 * - Permutations: CKA(K, L[π][:, π]); the self-HSICs do not change, and a permuted centred matrix
 *   stays centred, so each permutation costs one O(n²) inner product per pair. The same
 *   permutations serve every cell of a heatmap (the column side is permuted).
 *
 * Memory: 2·n² float32 values per representation (8 MB for n = 1000).
 */
import type { Analysis } from '../engine';
import { dot, median } from '../float64';
import { fail } from '../validate';
import { bootstrapWeights, percentileInterval, permutationPValue, resamplingStreams, type UncertaintySettings } from '../resampling';
import { permutationFrom } from '../random';
import type { Estimator } from './options';
import { type Rep, uniqueOf } from './rep';
import { fullGram } from './gramBlocks';

/** What a CKA value's uncertainty holds, per cell of a rows × columns table. */
export interface CkaUncertainty {
  /** Coverage of the intervals (e.g. 0.95). */
  readonly level: number;
  /** Significance level of the marking: p > alpha reads "not distinguishable from the null". */
  readonly alpha: number;
  /** Bootstrap resamples (0: no interval) and permutations (0: no p-value). */
  readonly bootstrap: number;
  readonly permutations: number;
  readonly seed: number;
  /** How the interval is formed: percentiles of the bootstrap distribution. */
  readonly interval: 'percentile';
  /** Interval bounds per cell (present when bootstrap > 0). */
  readonly lower?: readonly (readonly number[])[];
  readonly upper?: readonly (readonly number[])[];
  /** Permutation p-value per cell, (1 + #{null ≥ observed}) / (1 + permutations) (present when permutations > 0). */
  readonly pValue?: readonly (readonly number[])[];
  /** Per cell: p > alpha, the value is not distinguishable from CKA of unrelated examples (present with pValue). */
  readonly indistinguishable?: readonly (readonly boolean[])[];
  /** Bootstrap resamples in which a cell's CKA was undefined (a self-HSIC ≤ 0), left out of its interval; all cells together. */
  readonly undefinedResamples: number;
}

/** A representation's centred Gram matrix and the sums the estimators need. */
interface Centred {
  readonly n: number;
  /** HKH, n × n row-major. */
  readonly g: Float32Array;
  /** Diagonal of g and row sums of its off-diagonal part (float64). */
  readonly diag: Float64Array;
  readonly rowOff: Float64Array;
  /** Sum of the off-diagonal entries. */
  readonly totalOff: number;
}

function centred(n: number, k: ArrayLike<number>): Centred {
  const row = new Float64Array(n);
  let grand = 0;
  for (let a = 0; a < n; a++) {
    let s = 0;
    for (let b = 0; b < n; b++) s += k[a * n + b]!;
    row[a] = s / n;
    grand += s;
  }
  grand /= n * n;
  const g = new Float32Array(n * n);
  for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) g[a * n + b] = k[a * n + b]! - row[a]! - row[b]! + grand;
  const diag = new Float64Array(n);
  const rowOff = new Float64Array(n);
  let totalOff = 0;
  for (let a = 0; a < n; a++) {
    let s = 0;
    for (let b = 0; b < n; b++) s += g[a * n + b]!;
    diag[a] = g[a * n + a]!;
    rowOff[a] = s - diag[a]!;
    totalOff += rowOff[a]!;
  }
  return { n, g, diag, rowOff, totalOff };
}

/** The linear Gram matrix X̃X̃ᵀ (products on the backend, exact float64 diagonal), centred. */
function* linearGram(r: Rep): Analysis<Centred> {
  const n = r.n;
  const k = yield* fullGram(r);
  for (let a = 0; a < n; a++) k[a * n + a] = r.d[a]!;
  return centred(n, k);
}

/**
 * The RBF kernel matrix exp(−‖xᵢ−xⱼ‖² / (2·threshold²·m)), m the median of all n² squared
 * distances (Kornblith's convention), distances summed in float64 from the centred features.
 */
function rbfGram(fn: string, r: Rep, threshold: number): Centred {
  const { n, p, x } = r;
  const dist = new Float64Array(n * n);
  for (let a = 0; a < n; a++) {
    const oa = a * p;
    for (let b = a + 1; b < n; b++) {
      const ob = b * p;
      let s = 0;
      for (let t = 0; t < p; t++) {
        const d = x[oa + t]! - x[ob + t]!;
        s += d * d;
      }
      dist[a * n + b] = s;
      dist[b * n + a] = s;
    }
  }
  const med = median(Float64Array.from(dist));
  if (!(med > 0)) fail(fn, r.label, 'has a median squared distance of 0 between examples (most examples are identical), so the RBF bandwidth is undefined');
  const scale = -1 / (2 * threshold * threshold * med);
  for (let t = 0; t < n * n; t++) dist[t] = Math.exp(dist[t]! * scale);
  return centred(n, dist);
}

// ─── HSIC of one pair, under a permutation or with bootstrap weights ──────────────────────────

/** HSIC (up to a positive factor common to all pairs) of G against L with L's examples permuted by π (identity when undefined); `lp` is L[π][:, π] when the caller built it. */
function permutedHsic(G: Centred, L: Centred, debiased: boolean, perm?: Int32Array, lp?: Float32Array): number {
  const n = G.n;
  const g = G.g;
  let full = 0;
  if (lp !== undefined) {
    full = dot(g, lp);
  } else if (perm === undefined) {
    full = dot(g, L.g);
  } else {
    for (let a = 0; a < n; a++) {
      const o = a * n;
      const lo = perm[a]! * n;
      let s = 0;
      for (let b = 0; b < n; b++) s += g[o + b]! * L.g[lo + perm[b]!]!;
      full += s;
    }
  }
  if (!debiased) return full;
  let diag = 0;
  let rows = 0;
  for (let a = 0; a < n; a++) {
    const pa = perm === undefined ? a : perm[a]!;
    diag += G.diag[a]! * L.diag[pa]!;
    rows += G.rowOff[a]! * L.rowOff[pa]!;
  }
  return full - diag + (G.totalOff * L.totalOff) / ((n - 1) * (n - 2)) - (2 / (n - 2)) * rows;
}

/** A bootstrap resample: the support S (examples drawn at least once) and their counts. */
interface Resample {
  readonly support: Int32Array;
  /** Counts wᵢ and their squares, on S. */
  readonly w: Float64Array;
  readonly w2: Float64Array;
  /** Σ wᵢ (= n) and the weighted number of ordered quadruples of distinct examples. */
  readonly total: number;
  readonly n4: number;
}

function resampleOf(counts: Float64Array): Resample {
  const support = Int32Array.from(Array.from({ length: counts.length }, (_, i) => i).filter((i) => counts[i]! > 0));
  const w = Float64Array.from(support, (i) => counts[i]!);
  const w2 = w.map((v) => v * v);
  let p1 = 0;
  let p2 = 0;
  let p3 = 0;
  let p4 = 0;
  for (const v of w) {
    p1 += v;
    p2 += v * v;
    p3 += v * v * v;
    p4 += v * v * v * v;
  }
  return { support, w, w2, total: p1, n4: p1 ** 4 - 6 * p1 * p1 * p2 + 3 * p2 * p2 + 8 * p1 * p3 - 6 * p4 };
}

/** G[S][:, S] as a contiguous |S| × |S| block (diagonal zeroed for the unbiased HSIC), into `out`. */
function compact(G: Centred, r: Resample, debiased: boolean, out: Float32Array): Float32Array {
  const m = r.support.length;
  const n = G.n;
  for (let s = 0; s < m; s++) {
    const o = r.support[s]! * n;
    const d = s * m;
    for (let t = 0; t < m; t++) out[d + t] = G.g[o + r.support[t]!]!;
    if (debiased) out[d + s] = 0;
  }
  return out.subarray(0, m * m);
}

/** Per representation and resample: κ¹ = Gw and, for the unbiased HSIC, κ² = Gw² (w² elementwise) on the compact block. */
interface RowSums {
  readonly r1: Float64Array;
  readonly r2: Float64Array;
}

function weightedRowSums(c: Float32Array, r: Resample, debiased: boolean): RowSums {
  const m = r.support.length;
  const { w, w2 } = r;
  const r1 = new Float64Array(m);
  const r2 = new Float64Array(debiased ? m : 0);
  for (let s = 0; s < m; s++) {
    const o = s * m;
    let a1 = 0;
    let a2 = 0;
    for (let t = 0; t < m; t++) {
      const v = c[o + t]!;
      a1 += w[t]! * v;
      a2 += w2[t]! * v;
    }
    r1[s] = a1;
    if (debiased) r2[s] = a2;
  }
  return { r1, r2 };
}

/**
 * HSIC of a bootstrap resample, from the compact blocks of G and L on its support.
 * - Biased: tr(K_b H L_b H) of the resample's Gram matrices, duplicates included.
 * - Unbiased: the order-4 U-statistic of Song et al. (2012), h = K̃ᵢⱼL̃ᵢⱼ + K̃ᵢⱼL̃_qr − 2K̃ᵢⱼL̃ᵢ_q,
 *   averaged over quadruples of distinct examples weighted by wᵢwⱼw_qw_r (copies of one example
 *   never pair with each other). By inclusion–exclusion this needs only O(|S|²) sums per pair.
 *   Like the unweighted estimator it is unchanged by K̃ᵢⱼ → K̃ᵢⱼ + fᵢ + fⱼ, so any centring of G does.
 * With all counts 1 these are the estimators on the sample (the biased one up to the factor (n−1)²).
 */
function weightedHsic(cg: Float32Array, cl: Float32Array, r: Resample, rg: RowSums, rl: RowSums, debiased: boolean): number {
  const m = r.support.length;
  const { w, w2 } = r;
  // With M = G∘L (zero diagonal when debiased) and mₖ = Σⱼ wⱼᵏ Mᵢⱼ:
  let p = 0; // Σᵢⱼ wᵢwⱼ Mᵢⱼ
  let u = 0; // Σᵢⱼ wᵢwⱼ² Mᵢⱼ
  let v3 = 0; // Σᵢⱼ wᵢ³wⱼ Mᵢⱼ
  let q = 0; // Σᵢⱼ wᵢ²wⱼ² Mᵢⱼ
  for (let s = 0; s < m; s++) {
    const o = s * m;
    let m1 = 0;
    let m2 = 0;
    if (debiased) {
      for (let t = 0; t < m; t++) {
        const v = cg[o + t]! * cl[o + t]!;
        m1 += w[t]! * v;
        m2 += w2[t]! * v;
      }
    } else {
      for (let t = 0; t < m; t++) m1 += w[t]! * cg[o + t]! * cl[o + t]!;
    }
    const wi = w[s]!;
    p += wi * m1;
    u += wi * m2;
    v3 += wi * wi * wi * m1;
    q += wi * wi * m2;
  }
  let r1 = 0; // Σᵢ wᵢ κ¹ᵢ λ¹ᵢ
  let r2 = 0; // Σᵢ wᵢ² κ¹ᵢ λ¹ᵢ
  let sg = 0; // Σᵢ wᵢ κ¹ᵢ
  let sl = 0;
  let rk2 = 0; // Σᵢ wᵢ κ²ᵢ λ¹ᵢ
  let rl2 = 0; // Σᵢ wᵢ κ¹ᵢ λ²ᵢ
  for (let s = 0; s < m; s++) {
    const wi = w[s]!;
    const prod = rg.r1[s]! * rl.r1[s]!;
    r1 += wi * prod;
    r2 += wi * wi * prod;
    sg += wi * rg.r1[s]!;
    sl += wi * rl.r1[s]!;
    if (debiased) {
      rk2 += wi * rg.r2[s]! * rl.r1[s]!;
      rl2 += wi * rg.r1[s]! * rl.r2[s]!;
    }
  }
  const a = r.total;
  if (!debiased) return p - (2 / a) * r1 + (sg * sl) / (a * a);
  // Σ over distinct quadruples of W·K̃ᵢⱼL̃ᵢⱼ: each pair weighted by the weight of the other two.
  let totalSq = 0;
  for (let s = 0; s < m; s++) totalSq += w2[s]!;
  const t2 = (a * a - totalSq) * p - 4 * a * u + 4 * v3 + 2 * q;
  // ... of W·K̃ᵢⱼL̃ᵢ_q: distinct triples S(α,β,γ) = Σ wᵢ^α wⱼ^β w_q^γ K̃ᵢⱼL̃ᵢ_q, times the fourth weight.
  const s111 = r1 - u;
  const s211 = r2 - q;
  const s121 = rk2 - v3;
  const s112 = rl2 - v3;
  const t3 = a * s111 - s211 - s121 - s112;
  // ... of W·K̃ᵢⱼL̃_qr: all quadruples less those sharing one or two indices.
  const t4 = sg * sl - 4 * s211 - 2 * q;
  return (t2 - 2 * t3 + t4) / r.n4;
}

/** @internal For tests: HSIC of explicit Gram matrices (n × n, row-major) with bootstrap counts w. */
export function weightedHsicOf(n: number, K: ArrayLike<number>, L: ArrayLike<number>, w: ArrayLike<number>, debiased: boolean): number {
  const r = resampleOf(Float64Array.from(w));
  const cg = compact(centred(n, K), r, debiased, new Float32Array(n * n));
  const cl = compact(centred(n, L), r, debiased, new Float32Array(n * n));
  return weightedHsic(cg, cl, r, weightedRowSums(cg, r, debiased), weightedRowSums(cl, r, debiased), debiased);
}

/** @internal For tests: HSIC of explicit Gram matrices with L's examples permuted by π. */
export function permutedHsicOf(n: number, K: ArrayLike<number>, L: ArrayLike<number>, perm: ArrayLike<number>, debiased: boolean): number {
  return permutedHsic(centred(n, K), centred(n, L), debiased, Int32Array.from(perm));
}

// ─── The whole table ──────────────────────────────────────────────────────────────────────────

/**
 * Bootstrap intervals and permutation p-values for every (row, column) pair of representations,
 * with the estimator `e` (kernel, debiased or not). `values` are the point estimates (the
 * caller's, from the exact path); the p-values compare the permuted statistics with the observed
 * one computed from the same Gram matrices.
 */
export function* ckaUncertainty(fn: string, reps: readonly Rep[], rows: readonly number[], cols: readonly number[], e: Estimator, u: UncertaintySettings): Analysis<CkaUncertainty> {
  const n = reps[0]!.n;
  const used = uniqueOf(rows.flatMap((i) => cols.map((j) => [i, j] as const)));
  const bytes = (2 * used.length + 1) * n * n * 4 + (e.kind === 'rbf' ? 16 * n * n : 0);
  if (bytes > 2 ** 31) {
    fail(fn, 'options.uncertainty', `needs the Gram matrices of ${used.length} representations of ${n} examples (${(bytes / 2 ** 30).toFixed(1)} GiB); use fewer examples (a random subset of a few thousand gives the intervals)`);
  }
  if (e.debiased && n < 8) fail(fn, 'options.uncertainty', `needs at least 8 examples with the debiased estimator (a resample must keep 4 distinct examples), got ${n}`);
  const grams = new Map<number, Centred>();
  for (const k of used) grams.set(k, e.kind === 'rbf' ? rbfGram(fn, reps[k]!, e.threshold) : yield* linearGram(reps[k]!));
  const cells = rows.length * cols.length;
  const streams = resamplingStreams(u.seed);
  const out: { -readonly [K in keyof CkaUncertainty]: CkaUncertainty[K] } = { level: u.level, alpha: u.alpha, bootstrap: u.bootstrap, permutations: u.permutations, seed: u.seed, interval: 'percentile', undefinedResamples: 0 };
  const table = <T>(f: (c: number) => T): T[][] => rows.map((_, i) => cols.map((__, j) => f(i * cols.length + j)));

  if (u.permutations > 0) {
    const self = new Map<number, number>();
    for (const k of used) self.set(k, permutedHsic(grams.get(k)!, grams.get(k)!, e.debiased));
    const cka = (h: number, i: number, j: number) => h / Math.sqrt(self.get(i)! * self.get(j)!);
    const observed = table((c) => cka(permutedHsic(grams.get(rows[Math.floor(c / cols.length)]!)!, grams.get(cols[c % cols.length]!)!, e.debiased), rows[Math.floor(c / cols.length)]!, cols[c % cols.length]!)).flat();
    const atLeast = new Float64Array(cells);
    const perm = new Int32Array(n);
    const lp = new Float32Array(n * n);
    for (let b = 0; b < u.permutations; b++) {
      permutationFrom(n, streams.permutation, perm);
      for (let cj = 0; cj < cols.length; cj++) {
        const L = grams.get(cols[cj]!)!;
        for (let a = 0; a < n; a++) {
          const o = a * n;
          const lo = perm[a]! * n;
          for (let t = 0; t < n; t++) lp[o + t] = L.g[lo + perm[t]!]!;
        }
        for (let ri = 0; ri < rows.length; ri++) {
          const v = cka(permutedHsic(grams.get(rows[ri]!)!, L, e.debiased, perm, lp), rows[ri]!, cols[cj]!);
          if (v >= observed[ri * cols.length + cj]!) atLeast[ri * cols.length + cj]!++;
        }
      }
    }
    out.pValue = table((c) => permutationPValue(atLeast[c]!, u.permutations));
    out.indistinguishable = out.pValue.map((r) => r.map((p) => p > u.alpha));
  }

  if (u.bootstrap > 0) {
    const samples = Array.from({ length: cells }, () => new Float64Array(u.bootstrap));
    const w = new Float64Array(n);
    const buffers = new Map(used.map((k) => [k, new Float32Array(n * n)]));
    let undefinedResamples = 0;
    for (let b = 0; b < u.bootstrap; b++) {
      bootstrapWeights(n, streams.bootstrap, w);
      const r = resampleOf(w);
      const blocks = new Map<number, Float32Array>();
      const rho = new Map<number, RowSums>();
      for (const k of used) {
        const c = compact(grams.get(k)!, r, e.debiased, buffers.get(k)!);
        blocks.set(k, c);
        rho.set(k, weightedRowSums(c, r, e.debiased));
      }
      const h = (i: number, j: number) => weightedHsic(blocks.get(i)!, blocks.get(j)!, r, rho.get(i)!, rho.get(j)!, e.debiased);
      const self = new Map<number, number>();
      for (const k of used) self.set(k, h(k, k));
      for (let ri = 0; ri < rows.length; ri++) {
        for (let cj = 0; cj < cols.length; cj++) {
          const i = rows[ri]!;
          const j = cols[cj]!;
          const si = self.get(i)!;
          const sj = self.get(j)!;
          const v = si > 0 && sj > 0 ? h(i, j) / Math.sqrt(si * sj) : Number.NaN;
          if (Number.isNaN(v)) undefinedResamples++;
          samples[ri * cols.length + cj]![b] = v;
        }
      }
    }
    const intervals = samples.map((s) => percentileInterval(s, u.level));
    out.lower = table((c) => intervals[c]!.lower);
    out.upper = table((c) => intervals[c]!.upper);
    out.undefinedResamples = undefinedResamples;
  }
  return out;
}
