/**
 * What CKA computes: the kernel, the estimator and the linear kernel's algorithm, as the public
 * options describe them and as the computations receive them ({@link Estimator}), with the checks
 * that turn one into the other.
 */
import { checkKeys, checkNumber, checkObject, checkOneOf, formatValue, fail } from '../validate';
import type { UncertaintyOptions } from '../resampling';

/** The kernels CKA compares Gram matrices with. */
export const CkaKind = { linear: 'linear', rbf: 'rbf' } as const;
export type CkaKind = (typeof CkaKind)[keyof typeof CkaKind];
export function isCkaKind(s: unknown): s is CkaKind {
  return s === 'linear' || s === 'rbf';
}

/**
 * How the linear kernel's products are organised; both are exact: `features` (cross-products,
 * best when widths ≪ n), `gram` (each module's Gram matrix once, best for many wide modules).
 */
export const CkaAlgorithm = { auto: 'auto', gram: 'gram', features: 'features' } as const;
export type CkaAlgorithm = (typeof CkaAlgorithm)[keyof typeof CkaAlgorithm];

export interface LinearOptions {
  /** Unbiased HSIC (Song et al. 2012) instead of the biased estimator; needs n ≥ 4. Default false. */
  readonly debiased?: boolean;
  /** Which exact form computes the products; default `auto` (the cheaper). */
  readonly algorithm?: CkaAlgorithm;
  /** A bootstrap interval over examples and a permutation p-value (`true` for the defaults); see ./uncertainty.ts. */
  readonly uncertainty?: UncertaintyOptions | boolean;
}

export interface RbfOptions {
  /** Bandwidth as a fraction of the median distance: σ² = threshold² · median‖xᵢ−xⱼ‖². Default 1. */
  readonly threshold?: number;
  /** Unbiased HSIC instead of the biased estimator; needs n ≥ 4. Default false. */
  readonly debiased?: boolean;
  /** A bootstrap interval over examples and a permutation p-value (`true` for the defaults); see ./uncertainty.ts. */
  readonly uncertainty?: UncertaintyOptions | boolean;
}

export interface MatrixOptions {
  /** `linear` (default) or `rbf`. */
  readonly kind?: CkaKind;
  /** Unbiased HSIC; default false. The minibatch estimator always uses unbiased HSIC. */
  readonly debiased?: boolean;
  /** RBF bandwidth factor (see {@link rbf}); default 1. */
  readonly threshold?: number;
  /** Linear kernel: which exact form computes the products; default `auto`. */
  readonly algorithm?: CkaAlgorithm;
  /** A title for the heatmap. */
  readonly title?: string;
  /** Names of the two models (axis titles), e.g. `P-T seed 1`. */
  readonly modelA?: string;
  readonly modelB?: string;
  /**
   * Per cell, a bootstrap interval over examples and a permutation p-value (`true` for the
   * defaults: 200 resamples, 200 permutations, 95%, α = 0.05, seed 0); exact estimator only.
   */
  readonly uncertainty?: UncertaintyOptions | boolean;
}

/** The estimator every computation receives, from validated options. */
export interface Estimator {
  readonly kind: CkaKind;
  readonly debiased: boolean;
  readonly threshold: number;
  readonly algorithm: CkaAlgorithm;
}

/** Options of `tl.cka.linear`. */
export function linearEstimator(fn: string, options: unknown): Estimator {
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, ['debiased', 'algorithm', 'uncertainty']);
  const debiased = o['debiased'] ?? false;
  if (typeof debiased !== 'boolean') fail(fn, 'options.debiased', `must be a boolean, got ${formatValue(debiased)}`);
  const algorithm = checkOneOf(fn, 'options.algorithm', o['algorithm'] ?? 'auto', ['auto', 'gram', 'features'] as const);
  return { kind: 'linear', debiased, threshold: 1, algorithm };
}

/** Options of `tl.cka.rbf`. */
export function rbfEstimator(fn: string, options: unknown): Estimator {
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, ['threshold', 'debiased', 'uncertainty']);
  const debiased = o['debiased'] ?? false;
  if (typeof debiased !== 'boolean') fail(fn, 'options.debiased', `must be a boolean, got ${formatValue(debiased)}`);
  const threshold = checkNumber(fn, 'options.threshold', o['threshold'] ?? 1, Number.MIN_VALUE);
  return { kind: 'rbf', debiased, threshold, algorithm: 'auto' };
}

/** Options of the matrix functions and of {@link MinibatchCka} (its keys checked by the caller). */
export function matrixEstimator(fn: string, o: Record<string, unknown>): Estimator {
  const kind = checkOneOf(fn, 'options.kind', o['kind'] ?? 'linear', ['linear', 'rbf'] as const);
  const debiased = o['debiased'] ?? false;
  if (typeof debiased !== 'boolean') fail(fn, 'options.debiased', `must be a boolean, got ${formatValue(debiased)}`);
  const threshold = checkNumber(fn, 'options.threshold', o['threshold'] ?? 1, Number.MIN_VALUE);
  const algorithm = checkOneOf(fn, 'options.algorithm', o['algorithm'] ?? 'auto', ['auto', 'gram', 'features'] as const);
  if (kind === 'rbf' && o['algorithm'] !== undefined && algorithm !== 'auto') fail(fn, 'options.algorithm', `applies to the linear kernel only (kind is 'rbf')`);
  return { kind, debiased, threshold, algorithm };
}

/** A string option (a title, a model name), or undefined. */
export function checkStringOption(fn: string, arg: string, v: unknown): string | undefined {
  if (v !== undefined && typeof v !== 'string') fail(fn, arg, `must be a string, got ${formatValue(v)}`);
  return v as string | undefined;
}

/** The option keys {@link matrixFromFeatures} accepts. */
export const MATRIX_FEATURE_KEYS = ['kind', 'debiased', 'threshold', 'algorithm', 'title', 'modelA', 'modelB', 'uncertainty'];
