/**
 * CKA of two representations of the same examples: `tl.cka.linear` and `tl.cka.rbf`.
 */
import { ShapeMismatchError } from '../errors';
import { fail } from '../validate';
import { type Analysis, runAsync } from '../engine';
import { type Features, featureShape } from '../representations';
import { type Estimator, type LinearOptions, type RbfOptions, linearEstimator, rbfEstimator } from './options';
import { readRep } from './rep';
import { ckaValues, hsicTable } from './hsic';
import { checkUncertainty, type UncertaintyOptions } from '../resampling';
import { ckaUncertainty } from './uncertainty';
import { CkaEstimate } from './estimate';

/** Options that ask for an interval and a p-value: the call returns a {@link CkaEstimate}. */
type WithUncertainty<O> = O & { readonly uncertainty: UncertaintyOptions | true };

function checkPairShapes(fn: string, X: unknown, Y: unknown, minN: number, why: string): void {
  const [nx] = featureShape(fn, 'X', X);
  const [ny] = featureShape(fn, 'Y', Y);
  if (nx !== ny) throw new ShapeMismatchError(fn, 'X', `has ${nx} rows but Y has ${ny} (one row per example, the same examples in the same order)`);
  if (nx < minN) fail(fn, 'X', `has ${nx} rows; ${why} needs at least ${minN} examples`);
}

function* pairCka(fn: string, X: Features, Y: Features, e: Estimator, options: unknown): Analysis<number | CkaEstimate> {
  const u = checkUncertainty(fn, 'options.uncertainty', (options as { uncertainty?: unknown } | undefined)?.uncertainty);
  checkPairShapes(fn, X, Y, e.debiased ? 4 : 2, e.debiased ? 'the debiased estimator' : 'CKA');
  const keepRaw = e.kind === 'rbf';
  const a = yield* readRep(fn, 'X', X, 'X', keepRaw);
  const b = X === Y ? a : yield* readRep(fn, 'Y', Y, 'Y', keepRaw);
  const reps = X === Y ? [a] : [a, b];
  const t = yield* hsicTable(fn, reps, [0], [reps.length - 1], e);
  const value = ckaValues(fn, ['X'], ['Y'], t, e.debiased)[0]![0]!;
  if (u === undefined) return value;
  const unc = yield* ckaUncertainty(fn, reps, [0], [reps.length - 1], e, u);
  return new CkaEstimate(value, unc, { kind: e.kind, debiased: e.debiased, n: a.n });
}

/**
 * Linear CKA between two representations of the same examples (rows in the same order):
 * ‖ỸᵀX̃‖²_F / (‖X̃ᵀX̃‖_F ‖ỸᵀỸ‖_F) with centred columns; with `debiased`, the unbiased HSIC
 * estimator. Conv maps ([n, H, W, C]) are flattened per example. Returns a promise on every
 * backend (the products run on the backend and are read back asynchronously): `await` it.
 *
 * @example
 * ```ts
 * const X = tf.randomNormal([500, 64]);
 * const Y = tf.matMul(X, tf.randomNormal([64, 32]));
 * await tl.cka.linear(X, Y);              // ≈ 0.7
 * await tl.cka.linear(X, X);              // 1
 * await tl.cka.linear(X, Y, {debiased: true});
 * const v = await tl.cka.linear(X, Y, {uncertainty: {bootstrap: 200, permutations: 200, seed: 1}});
 * [v.estimate, v.lower, v.upper, v.pValue]; // interval over examples, permutation p-value
 * ```
 *
 * With `uncertainty`, returns a {@link CkaEstimate}: the value with a percentile bootstrap
 * interval over examples and a permutation p-value (X against Y with shuffled rows); see
 * ./uncertainty.ts.
 */
export async function linear(X: Features, Y: Features, options: WithUncertainty<LinearOptions>): Promise<CkaEstimate>;
export async function linear(X: Features, Y: Features, options?: LinearOptions): Promise<number>;
export async function linear(X: Features, Y: Features, options: LinearOptions = {}): Promise<number | CkaEstimate> {
  const fn = 'tl.cka.linear';
  return runAsync(pairCka(fn, X, Y, linearEstimator(fn, options), options));
}

/**
 * RBF CKA: Gram matrices K_ij = exp(−‖xᵢ−xⱼ‖² / (2·threshold²·m)) with m the median of all n²
 * squared distances of that representation (Kornblith et al.'s convention, diagonal included),
 * then CKA of the Gram matrices. Needs O(n²) memory per representation. Returns a promise on
 * every backend: `await` it.
 *
 * @example
 * ```ts
 * const X = tf.randomNormal([300, 16]);
 * await tl.cka.rbf(X, tf.tanh(X));                    // close to 1
 * await tl.cka.rbf(X, tf.tanh(X), {threshold: 0.5, debiased: true});
 * await tl.cka.rbf(X, tf.tanh(X), {uncertainty: true}); // a CkaEstimate: value, interval, p-value
 * ```
 *
 * With `uncertainty`, returns a {@link CkaEstimate} (the bandwidth stays that of all examples in
 * every resample).
 */
export async function rbf(X: Features, Y: Features, options: WithUncertainty<RbfOptions>): Promise<CkaEstimate>;
export async function rbf(X: Features, Y: Features, options?: RbfOptions): Promise<number>;
export async function rbf(X: Features, Y: Features, options: RbfOptions = {}): Promise<number | CkaEstimate> {
  const fn = 'tl.cka.rbf';
  return runAsync(pairCka(fn, X, Y, rbfEstimator(fn, options), options));
}
