/**
 * Orthogonal Procrustes distance (Ding, Denain, Steinhardt 2021, "Grounding representation
 * similarity through statistical testing"; Williams, Kunz, Kornblith, Linderman 2021, "Generalized
 * shape metrics on neural representations"): centre each representation and scale it to unit
 * Frobenius norm, then d² = min over orthogonal Q of ‖X − YQ‖²_F = 2 − 2‖XᵀY‖_* (nuclear norm).
 * d is a metric in [0, √2]; the similarity 1 − d²/2 = ‖XᵀY‖_* lies in [0, 1].
 *
 * The nuclear norm is computed in the n-dimensional form: with X = U_x S_x V_xᵀ (thin SVD),
 * ‖XᵀY‖_* = ‖S_x U_xᵀ U_y S_y‖_*, a rank × rank matrix whatever the widths.
 */
import { type Analysis, runAsync } from '../engine';
import type { Features } from '../representations';
import { checkKeys, checkNumber, checkObject, checkOneOf, fail } from '../validate';
import { crossRows, singularValues } from './linalg';
import { type Representation, checkPair, pairOf } from './representation';

/** What {@link procrustes} returns: the distance d (default), d², or the similarity 1 − d²/2. */
export const ProcrustesOutput = { distance: 'distance', squared: 'squared', similarity: 'similarity' } as const;
export type ProcrustesOutput = (typeof ProcrustesOutput)[keyof typeof ProcrustesOutput];

export interface ProcrustesOptions {
  /** `distance` (d in [0, √2], default), `squared` (d² in [0, 2]) or `similarity` (1 − d²/2 in [0, 1]). */
  readonly output?: ProcrustesOutput;
  /** Singular values below `tolerance` × the largest count as zero; default 1e-6. */
  readonly tolerance?: number;
}

export interface ProcrustesSettings {
  readonly tolerance: number;
}

export function procrustesSettings(fn: string, options: unknown, prefix = 'options'): ProcrustesSettings {
  const o = checkObject(fn, prefix, options);
  checkKeys(fn, prefix, o, ['tolerance']);
  return { tolerance: checkNumber(fn, `${prefix}.tolerance`, o['tolerance'] ?? 1e-6, 0, 1) };
}

/** ‖X̂ᵀŶ‖_* of the centred, unit-norm representations: the similarity 1 − d²/2, in [0, 1]. */
export function procrustesSimilarityOf(fn: string, a: Representation, b: Representation, o: ProcrustesSettings): number {
  const sa = a.svd(o.tolerance);
  const sb = b.svd(o.tolerance);
  if (sa.rank === 0) fail(fn, a.label, 'is constant (no direction left after centring): it cannot be scaled to unit norm');
  if (sb.rank === 0) fail(fn, b.label, 'is constant (no direction left after centring): it cannot be scaled to unit norm');
  const m = crossRows(sa.u, sa.rank, sb.u, sb.rank, a.n);
  for (let i = 0; i < sa.rank; i++) for (let j = 0; j < sb.rank; j++) m[i * sb.rank + j]! *= sa.s[i]! * sb.s[j]!;
  let nuclear = 0;
  for (const s of singularValues(m, sa.rank, sb.rank)) nuclear += s;
  return Math.min(1, Math.max(0, nuclear / Math.sqrt(sa.total * sb.total)));
}

function* pairProcrustes(fn: string, X: Features, Y: Features, options: unknown): Analysis<number> {
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, ['output', 'tolerance']);
  const output = checkOneOf(fn, 'options.output', o['output'] ?? 'distance', ['distance', 'squared', 'similarity'] as const);
  const settings = procrustesSettings(fn, { ...(o['tolerance'] !== undefined ? { tolerance: o['tolerance'] } : {}) });
  checkPair(fn, X, Y, 2, 'the Procrustes distance');
  const sim = yield* pairOf(fn, X, Y, (a, b) => procrustesSimilarityOf(fn, a, b, settings));
  const squared = Math.max(0, 2 - 2 * sim);
  return output === 'similarity' ? sim : output === 'squared' ? squared : Math.sqrt(squared);
}

/**
 * Orthogonal Procrustes distance (Ding et al. 2021; Williams et al. 2021) between two
 * representations of the same examples: each centred and scaled to unit Frobenius norm,
 * d = min_Q ‖X − YQ‖_F over orthogonal Q, d² = 2 − 2‖XᵀY‖_*. Returns d in [0, √2] (0 for identical
 * inputs); `output: 'squared'` gives d², `output: 'similarity'` gives 1 − d²/2 = ‖XᵀY‖_* in [0, 1]
 * (what the heatmaps show). A metric: symmetric, invariant to orthogonal transforms and isotropic
 * scaling of either side, NOT to arbitrary invertible linear maps. Different widths are handled
 * by zero-padding the narrower (implicitly). Computed in float64 on the CPU.
 *
 * @example
 * ```ts
 * const X = tf.randomNormal([500, 64]);
 * await tl.similarity.procrustes(X, tf.mul(X, 3));                              // 0
 * await tl.similarity.procrustes(X, tf.randomNormal([500, 64]));                // large
 * await tl.similarity.procrustes(X, tf.tanh(X), {output: 'similarity'});        // in [0, 1]
 * ```
 */
export async function procrustes(X: Features, Y: Features, options: ProcrustesOptions = {}): Promise<number> {
  return runAsync(pairProcrustes('tl.similarity.procrustes', X, Y, options));
}
