/**
 * SVCCA (Raghu, Gilmer, Yosinski, Sohl-Dickstein 2017, "SVCCA: Singular Vector Canonical
 * Correlation Analysis for Deep Learning Dynamics and Interpretability"): centre each
 * representation, keep its top singular directions explaining a fraction of its variance (99% by
 * default), then CCA of the two reduced representations; the similarity is the mean canonical
 * correlation.
 */
import { type Analysis, runAsync } from '../engine';
import type { Features } from '../representations';
import { checkKeys, checkNumber, checkObject } from '../validate';
import { ccaOfBases } from './cca';
import { type Representation, checkPair, pairOf } from './representation';

export interface SvccaOptions {
  /** Fraction of each representation's variance its kept singular directions explain; default 0.99. */
  readonly variance?: number;
  /** Singular values below `tolerance` × the largest count as zero (rank deficiency); default 1e-6. */
  readonly tolerance?: number;
}

/** Validated {@link SvccaOptions}. */
export interface SvccaSettings {
  readonly variance: number;
  readonly tolerance: number;
}

export function svccaSettings(fn: string, options: unknown, prefix = 'options'): SvccaSettings {
  const o = checkObject(fn, prefix, options);
  checkKeys(fn, prefix, o, ['variance', 'tolerance']);
  return {
    variance: checkNumber(fn, `${prefix}.variance`, o['variance'] ?? 0.99, Number.MIN_VALUE, 1),
    tolerance: checkNumber(fn, `${prefix}.tolerance`, o['tolerance'] ?? 1e-6, 0, 1),
  };
}

/** The number of leading directions whose squared singular values reach `variance` of `total`. */
export function directionsFor(s: Float64Array, total: number, variance: number): number {
  let acc = 0;
  for (let k = 0; k < s.length; k++) {
    acc += s[k]! * s[k]!;
    if (acc >= variance * total * (1 - 1e-12)) return k + 1;
  }
  return s.length;
}

/** SVCCA of two representations: the mean canonical correlation and the directions kept. */
export function svccaOf(fn: string, a: Representation, b: Representation, o: SvccaSettings): { value: number; rho: Float64Array; kx: number; ky: number } {
  const sa = a.svd(o.tolerance);
  const sb = b.svd(o.tolerance);
  const kx = directionsFor(sa.s, sa.total, o.variance);
  const ky = directionsFor(sb.s, sb.total, o.variance);
  const { rho } = ccaOfBases(fn, [a.label, b.label], sa.u, kx, sb.u, ky, a.n);
  let sum = 0;
  for (const r of rho) sum += r;
  return { value: sum / rho.length, rho, kx, ky };
}

function* pairSvcca(fn: string, X: Features, Y: Features, options: unknown): Analysis<number> {
  const o = svccaSettings(fn, options);
  checkPair(fn, X, Y, 2, 'SVCCA');
  return yield* pairOf(fn, X, Y, (a, b) => svccaOf(fn, a, b, o).value);
}

/**
 * SVCCA similarity (Raghu et al. 2017) of two representations of the same examples (rows in the
 * same order; conv maps flattened per example): centre, keep each one's top singular directions
 * explaining `variance` (default 99%) of its variance, then the mean of the canonical correlations
 * between the two reduced representations. In [0, 1]; 1 for identical inputs; symmetric; invariant
 * to invertible linear maps of the kept subspace (so only approximately to those of X, which can
 * change which directions explain 99%). Computed in float64 on the CPU. With fewer examples than
 * kept directions the correlations tend to 1: use n well above the directions kept.
 *
 * @example
 * ```ts
 * const X = tf.randomNormal([500, 64]);
 * const Y = tf.matMul(X, tf.randomNormal([64, 32]));
 * await tl.similarity.svcca(X, Y);                      // close to 1: Y is a linear map of X
 * await tl.similarity.svcca(X, tf.randomNormal([500, 32]), {variance: 0.9});
 * ```
 */
export async function svcca(X: Features, Y: Features, options: SvccaOptions = {}): Promise<number> {
  return runAsync(pairSvcca('tl.similarity.svcca', X, Y, options));
}
