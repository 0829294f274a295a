/**
 * Representational dissimilarity matrices (Kriegeskorte, Mur, Bandettini 2008) and the
 * correlations RSA compares them with, in float64.
 */
import { fail } from '../validate';

/** How two examples' patterns are compared: 1 − Pearson correlation, or Euclidean distance. */
export const RdmKind = { correlation: 'correlation', euclidean: 'euclidean' } as const;
export type RdmKind = (typeof RdmKind)[keyof typeof RdmKind];

/**
 * The upper triangle (pairs a < b, row by row: n(n−1)/2 values) of the RDM of row-major n × p
 * `raw`: `correlation`: 1 − r(x_a, x_b), the Pearson correlation across features of the two
 * examples' patterns (each row centred and scaled, columns untouched); `euclidean`: ‖x_a − x_b‖,
 * summed directly (no ‖a‖² + ‖b‖² − 2a·b cancellation).
 */
export function rdmOf(fn: string, label: string, raw: ArrayLike<number>, n: number, p: number, kind: RdmKind): Float64Array {
  const out = new Float64Array((n * (n - 1)) / 2);
  const z = new Float64Array(n * p);
  for (let a = 0; a < n; a++) for (let j = 0; j < p; j++) z[a * p + j] = raw[a * p + j]!;
  if (kind === 'correlation') {
    for (let a = 0; a < n; a++) {
      const o = a * p;
      let mean = 0;
      for (let j = 0; j < p; j++) mean += z[o + j]!;
      mean /= p;
      let ss = 0;
      for (let j = 0; j < p; j++) {
        const v = z[o + j]! - mean;
        z[o + j] = v;
        ss += v * v;
      }
      const norm = Math.sqrt(ss);
      if (!(norm > 0)) fail(fn, label, `has a constant row ${a} (all ${p} features equal): its correlation with other examples is undefined; use rdm: 'euclidean'`);
      for (let j = 0; j < p; j++) z[o + j]! /= norm;
    }
  }
  let k = 0;
  for (let a = 0; a < n; a++) {
    const oa = a * p;
    for (let b = a + 1; b < n; b++) {
      const ob = b * p;
      let s = 0;
      if (kind === 'correlation') {
        for (let j = 0; j < p; j++) s += z[oa + j]! * z[ob + j]!;
        out[k++] = 1 - s;
      } else {
        for (let j = 0; j < p; j++) {
          const d = z[oa + j]! - z[ob + j]!;
          s += d * d;
        }
        out[k++] = Math.sqrt(s);
      }
    }
  }
  return out;
}

/** Ranks 1..m of `v`, ties given the mean of the ranks they span. */
export function ranks(v: Float64Array): Float64Array {
  const sorted = Float64Array.from(v).sort();
  const out = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    const lo = bound(sorted, x, false);
    const hi = bound(sorted, x, true);
    out[i] = (lo + hi + 1) / 2; // mean of ranks lo+1 … hi
  }
  return out;
}

/** First index with sorted[i] ≥ x (or > x when `upper`). */
function bound(sorted: Float64Array, x: number, upper: boolean): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < x || (upper && sorted[mid] === x)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Pearson correlation of two equal-length vectors (NaN when either is constant). */
export function pearson(a: Float64Array, b: Float64Array): number {
  const m = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < m; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= m;
  mb /= m;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < m; i++) {
    const da = a[i]! - ma;
    const db = b[i]! - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : NaN;
}
