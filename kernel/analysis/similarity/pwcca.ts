/**
 * PWCCA (Morcos, Raghu, Bengio 2018, "Insights on representational similarity in neural networks
 * with canonical correlation", eq. in §2.3): CCA of the two representations, each canonical
 * correlation ρ_i weighted by how much of X its canonical variate h_i accounts for,
 * α_i ∝ Σ_j |⟨h_i, x_j⟩| over X's (centred) columns x_j, normalised to sum 1; the similarity is
 * Σ α_i ρ_i. The weights come from X, so PWCCA(X, Y) ≠ PWCCA(Y, X) in general. (The authors'
 * code weights by whichever side has fewer neurons; here it is always the first argument, as the
 * paper defines it.)
 */
import { type Analysis, runAsync } from '../engine';
import type { Features } from '../representations';
import { checkKeys, checkNumber, checkObject, fail } from '../validate';
import { ccaOfBases } from './cca';
import { matMul } from './linalg';
import { type Representation, checkPair, pairOf } from './representation';

export interface PwccaOptions {
  /** Singular values below `tolerance` × the largest count as zero (rank deficiency); default 1e-6. */
  readonly tolerance?: number;
}

export interface PwccaSettings {
  readonly tolerance: number;
}

export function pwccaSettings(fn: string, options: unknown, prefix = 'options'): PwccaSettings {
  const o = checkObject(fn, prefix, options);
  checkKeys(fn, prefix, o, ['tolerance']);
  return { tolerance: checkNumber(fn, `${prefix}.tolerance`, o['tolerance'] ?? 1e-6, 0, 1) };
}

/** PWCCA of X = `a` against Y = `b`: the weighted mean, the canonical correlations and weights. */
export function pwccaOf(fn: string, a: Representation, b: Representation, o: PwccaSettings): { value: number; rho: Float64Array; weights: Float64Array } {
  const sa = a.svd(o.tolerance);
  const sb = b.svd(o.tolerance);
  const { rho, a: coef } = ccaOfBases(fn, [a.label, b.label], sa.u, sa.rank, sb.u, sb.rank, a.n, true);
  const { n, p, x } = a.centred;
  const kx = sa.rank;
  const m = rho.length;
  // Canonical variates h_i = Σ_k a_ik u_k (rows, unit norm), then ⟨h_i, x_j⟩ for every column j.
  const h = matMul(coef, m, kx, sa.u, n);
  const proj = matMul(h, m, n, x, p);
  const weights = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let w = 0;
    for (let j = 0; j < p; j++) w += Math.abs(proj[i * p + j]!);
    weights[i] = w;
  }
  let total = 0;
  for (const w of weights) total += w;
  if (!(total > 0)) fail(fn, 'X', 'has no variance along its canonical directions');
  let value = 0;
  for (let i = 0; i < rho.length; i++) {
    weights[i]! /= total;
    value += weights[i]! * rho[i]!;
  }
  return { value, rho, weights };
}

function* pairPwcca(fn: string, X: Features, Y: Features, options: unknown): Analysis<number> {
  const o = pwccaSettings(fn, options);
  checkPair(fn, X, Y, 2, 'PWCCA');
  return yield* pairOf(fn, X, Y, (a, b) => pwccaOf(fn, a, b, o).value);
}

/**
 * Projection-weighted CCA (Morcos et al. 2018) of X against Y, representations of the same
 * examples: canonical correlations ρ_i of the centred representations, weighted by
 * α_i ∝ Σ_j |⟨h_i, x_j⟩| (how much of X's columns x_j the canonical variate h_i accounts for),
 * Σ α_i ρ_i. In [0, 1]; 1 for identical inputs. Invariant to any invertible linear map of Y, and
 * to isotropic scaling, permutations and sign flips of X's columns; the canonical correlations are
 * invariant to invertible maps of X too, but the weights (an L1 sum over X's columns) are not, so
 * PWCCA is not. NOT symmetric: the weights come from X. CCA needs more examples than the rank of either
 * representation: with n ≤ rank every correlation is 1. Computed in float64 on the CPU.
 *
 * @example
 * ```ts
 * const X = tf.randomNormal([500, 32]);
 * const Y = tf.add(tf.matMul(X, tf.randomNormal([32, 16])), tf.randomNormal([500, 16]));
 * await tl.similarity.pwcca(X, Y);   // weights from X
 * await tl.similarity.pwcca(Y, X);   // weights from Y: a different number
 * ```
 */
export async function pwcca(X: Features, Y: Features, options: PwccaOptions = {}): Promise<number> {
  return runAsync(pairPwcca('tl.similarity.pwcca', X, Y, options));
}
