/**
 * A representation as CKA uses it: features centred in float64 and rounded once to float32, with
 * the exact diagonal and trace of its Gram matrix; and the pairs of representations a call compares.
 */
import { centreColumns } from '../float64';
import type { Analysis } from '../engine';
import { type Features, readFeatures } from '../representations';

/** A representation centred in float64 and rounded to float32, with its exact Gram diagonal. */
export interface Rep {
  readonly label: string;
  readonly n: number;
  readonly p: number;
  /** n × p row-major, columns centred. */
  readonly x: Float32Array;
  /** Squared norms of the centred rows: the diagonal of K = X̃X̃ᵀ. */
  readonly d: Float64Array;
  /** tr K = Σ d. */
  readonly trace: number;
  /**
   * The values as given (row-major n × p, float64 or float32), kept only where asked for: the RBF
   * kernel recomputes distances from them where the float32 Gram form would cancel (./rbf.ts).
   */
  readonly raw?: ArrayLike<number>;
}

/** Centres `raw` (row-major n × p) into a {@link Rep}; with `keepRaw` (the RBF kernel) the Rep keeps `raw` too. */
export function repFrom(label: string, raw: ArrayLike<number>, n: number, p: number, keepRaw = false): Rep {
  const { centred, rowSq } = centreColumns(raw, n, p);
  let trace = 0;
  for (let i = 0; i < n; i++) trace += rowSq[i]!;
  return { label, n, p, x: centred, d: rowSq, trace, ...(keepRaw ? { raw } : {}) };
}

/** Reads and centres one representation; with `keepRaw` (the RBF kernel) it keeps the values as read too. */
export function* readRep(fn: string, arg: string, X: Features, label = arg, keepRaw = false): Analysis<Rep> {
  const { data, n, p } = yield* readFeatures(fn, arg, X);
  return repFrom(label, data, n, p, keepRaw);
}

/** A pair of representations, as indices into the list a computation receives. */
export type Pair = readonly [number, number];

/** The representations the pairs use, each once. */
export function uniqueOf(pairs: readonly Pair[]): number[] {
  return [...new Set(pairs.flatMap(([i, j]) => [i, j]))];
}
