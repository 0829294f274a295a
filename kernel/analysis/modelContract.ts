/**
 * The contract between models and the analyses (CKA, distance, interpolation, criticality,
 * checkpoints). Models are built on tfjs-core variables, not tf.layers, so that every analysis
 * can address a module's parameters and outputs by name.
 *
 * Parameter names are `<module>/<param>`, e.g. `conv1/kernel`, `layer2/block0/conv1/kernel`
 * would be `layer2/...`: the module is the text before the first '/'.
 */
import type * as tf from '@tensorflow/tfjs-core';

/** Weights by parameter name (`<module>/<param>`), detached from any model. */
export type NamedWeights = Map<string, tf.Tensor>;

export interface ForwardOptions {
  /** Training mode (batch statistics for normalisation layers). Default false. */
  readonly training?: boolean;
  /** Module names whose outputs to return in `activations` (each as produced, e.g. NHWC). */
  readonly collect?: readonly string[];
}

export interface ForwardResult {
  readonly logits: tf.Tensor2D;
  /** Outputs of the modules named in `collect`, in that order. The caller disposes them. */
  readonly activations: Map<string, tf.Tensor>;
}

export interface Model {
  /** Architecture name, e.g. `resnet-mini` or `cnn`. */
  readonly arch: string;
  /** Module names in forward order, e.g. ['conv1', 'layer1', 'layer2', 'layer3', 'fc']. */
  readonly moduleNames: readonly string[];
  /** Input shape [H, W, C] and number of classes. */
  readonly inputShape: readonly [number, number, number];
  readonly numClasses: number;
  /** Trainable variables by parameter name; modifying them modifies the model. */
  readonly variables: ReadonlyMap<string, tf.Variable>;
  forward(x: tf.Tensor4D, options?: ForwardOptions): ForwardResult;
  /** Copies of the current weights (caller disposes). */
  getWeights(): NamedWeights;
  /** Assigns weights by name; throws naming any missing or mis-shaped parameter. */
  setWeights(weights: NamedWeights): void;
  /** A new model with the same architecture and a copy of the weights. */
  clone(): Model;
  dispose(): void;
  /**
   * Non-trainable state by name (BatchNorm running mean/variance, `<module>/.../mean`), used in
   * evaluation mode. Not part of `getWeights`/`variables`. Absent or empty for models without.
   */
  readonly buffers?: ReadonlyMap<string, tf.Variable>;
  /**
   * Recomputes normalisation statistics (BatchNorm running mean/variance) as exact averages over
   * `x`, in batches. Needed after weights were set by interpolation (PAPER.md §4). A no-op for
   * models without normalisation.
   */
  recalibrate?(x: tf.Tensor4D, options?: { readonly batchSize?: number }): void;
  /** The module of the classifier that P-T re-initialises (`fc` for `tl.resnet` / `tl.cnn`). */
  readonly headModule?: string;
  /**
   * A copy whose classifier is freshly initialised (seeded) for `numClasses` classes, everything
   * else copied: P-T's starting point (`tl.fineTune`). Absent for models whose head cannot be replaced.
   */
  withNewHead?(numClasses: number, seed: number): Model;
  /**
   * The same architecture with a fresh seeded initialisation (and `numClasses` classes when given):
   * RI-T's starting point (`tl.trainFromScratch`, `tl.compareTransfer`). Absent for models that
   * cannot be rebuilt.
   */
  rebuild?(options: { readonly seed: number; readonly numClasses?: number }): Model;
  /**
   * Throws (naming `fn` and `arg`) when some of the model's weights cannot be interpolated or
   * rewound (e.g. non-trainable state outside BatchNorm); absent when all can.
   */
  checkInterpolable?(fn: string, arg: string): void;
}

/** The module a parameter belongs to. */
export function moduleOf(paramName: string): string {
  const i = paramName.indexOf('/');
  return i < 0 ? paramName : paramName.slice(0, i);
}
