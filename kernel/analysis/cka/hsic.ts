/**
 * From kernels to CKA: HSIC for every pair of representations (either kernel), each
 * representation's self-HSIC computed once, and CKA = HSIC(K, L) / √(HSIC(K, K) · HSIC(L, L)).
 */
import { dot } from '../float64';
import type { Analysis } from '../engine';
import { fail } from '../validate';
import type { Estimator } from './options';
import type { Pair, Rep } from './rep';
import { linearOffDiagonal } from './linear';
import { rbfHsic } from './rbf';

/** HSIC sums of a table: rows × columns (row-major), and each row's and column's self-HSIC. */
export interface HsicTable {
  readonly cross: Float64Array;
  readonly selfRows: Float64Array;
  readonly selfCols: Float64Array;
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
export function* hsicTable(fn: string, reps: readonly Rep[], rows: readonly number[], cols: readonly number[], e: Estimator): Analysis<HsicTable> {
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

/** CKA values[i][j] from a table's HSIC sums; fails, naming it, on a representation whose self-HSIC is not positive. */
export function ckaValues(fn: string, labelsRows: readonly string[], labelsCols: readonly string[], t: HsicTable, debiased: boolean): number[][] {
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
