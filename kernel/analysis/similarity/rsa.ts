/**
 * Representational similarity analysis (Kriegeskorte, Mur, Bandettini 2008, "Representational
 * similarity analysis: connecting the branches of systems neuroscience"): each representation
 * gives an n × n dissimilarity matrix between examples (1 − Pearson correlation of their
 * patterns by default, or Euclidean distance), and the two RDMs' upper triangles are compared by
 * Spearman's rank correlation (ties averaged; default) or Pearson's.
 */
import { type Analysis, runAsync } from '../engine';
import type { Features } from '../representations';
import { checkKeys, checkObject, checkOneOf, fail } from '../validate';
import { RdmKind, pearson, ranks } from './rdm';
import { type Representation, checkPair, pairOf } from './representation';

/** How the two RDMs are compared. */
export const RsaComparison = { spearman: 'spearman', pearson: 'pearson' } as const;
export type RsaComparison = (typeof RsaComparison)[keyof typeof RsaComparison];

export interface RsaOptions {
  /** The dissimilarity between two examples: `correlation` (1 − r, default) or `euclidean`. */
  readonly rdm?: RdmKind;
  /** The correlation of the RDMs' upper triangles: `spearman` (default) or `pearson`. */
  readonly compare?: RsaComparison;
}

export interface RsaSettings {
  readonly rdm: RdmKind;
  readonly compare: RsaComparison;
}

export function rsaSettings(fn: string, options: unknown, prefix = 'options'): RsaSettings {
  const o = checkObject(fn, prefix, options);
  checkKeys(fn, prefix, o, ['rdm', 'compare']);
  return {
    rdm: checkOneOf(fn, `${prefix}.rdm`, o['rdm'] ?? 'correlation', ['correlation', 'euclidean'] as const),
    compare: checkOneOf(fn, `${prefix}.compare`, o['compare'] ?? 'spearman', ['spearman', 'pearson'] as const),
  };
}

const rankCache = new WeakMap<Float64Array, Float64Array>();

function ranked(v: Float64Array): Float64Array {
  let r = rankCache.get(v);
  if (r === undefined) rankCache.set(v, (r = ranks(v)));
  return r;
}

/** RSA of two representations: the correlation of their RDMs' upper triangles, in [−1, 1]. */
export function rsaOf(fn: string, a: Representation, b: Representation, o: RsaSettings): number {
  const ra = a.rdm(fn, o.rdm);
  const rb = b.rdm(fn, o.rdm);
  const v = o.compare === 'spearman' ? pearson(ranked(ra), ranked(rb)) : pearson(ra, rb);
  if (Number.isNaN(v)) fail(fn, 'X', `or Y has a constant RDM (every pair of examples equally dissimilar): the ${o.compare === 'spearman' ? 'Spearman' : 'Pearson'} correlation is undefined`);
  return v;
}

function* pairRsa(fn: string, X: Features, Y: Features, options: unknown): Analysis<number> {
  const o = rsaSettings(fn, options);
  checkPair(fn, X, Y, 3, 'RSA');
  return yield* pairOf(fn, X, Y, (a, b) => rsaOf(fn, a, b, o));
}

/**
 * RSA (Kriegeskorte et al. 2008) between two representations of the same examples: the
 * representational dissimilarity matrix of each (`rdm: 'correlation'`, 1 − Pearson r between two
 * examples' patterns, default; or `'euclidean'`), then the Spearman (default, ties averaged) or
 * Pearson correlation of their upper triangles. In [−1, 1]; 1 for identical inputs; symmetric.
 * Correlation RDMs are invariant to scaling (by a positive factor) and shifting each example's
 * pattern, and to permuting features, but not to orthogonal maps of the features; Euclidean RDMs
 * are invariant to orthogonal maps, translation and (with Spearman, or with Pearson) isotropic
 * scaling, not to arbitrary invertible linear maps. Needs O(n²) memory. Computed in float64.
 *
 * @example
 * ```ts
 * const X = tf.randomNormal([200, 64]);
 * await tl.similarity.rsa(X, tf.relu(X));                                  // ≈ 0.7
 * await tl.similarity.rsa(X, tf.relu(X), {rdm: 'euclidean', compare: 'pearson'});
 * ```
 */
export async function rsa(X: Features, Y: Features, options: RsaOptions = {}): Promise<number> {
  return runAsync(pairRsa('tl.similarity.rsa', X, Y, options));
}
