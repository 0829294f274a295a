/**
 * Hessian-vector products of the mean cross-entropy of a model on a data set with respect to one
 * module's parameters (the others fixed), averaged over the data in batches and accumulated in
 * float64: exactly (gradient of ⟨∇L, v⟩, nested tfjs gradients, see ./secondOrder.ts) or by a
 * central finite difference of gradients.
 */
import { tf } from '../tfjs';
import type { Model } from '../modelContract';
import type { DataLike } from '../dataset';
import { crossEntropySum, ensureSecondOrderGradients, OUTPUT_SAVING_KERNELS } from './secondOrder';

export type HvpMethod = 'exact' | 'finite-difference';

/**
 * Frees what a gradient computation that threw left on the tape: tfjs disposes the tensors its
 * kernels saved for the backward pass only when the outermost gradient completes.
 */
function releaseTape(): void {
  const state = tf.engine().state;
  if (state.gradientDepth !== 0 || !state.activeTape) return;
  for (const node of state.activeTape) for (const t of node.saved ?? []) t.dispose();
  state.activeTape = [];
}

/** The step of the finite difference relative to max(‖θ‖, 1), for a unit vector v. */
export const FD_RELATIVE_STEP = 5e-3;

/** One module's parameters and the data: makes H·v for vectors of `dim` entries. */
export class ModuleHessian {
  readonly dim: number;
  private readonly vars: tf.Variable[];
  private readonly sizes: number[];

  constructor(
    private readonly model: Model,
    readonly parameterNames: readonly string[],
    private readonly data: DataLike,
    private readonly batchSize: number,
  ) {
    this.vars = parameterNames.map((n) => model.variables.get(n)!);
    this.sizes = this.vars.map((v) => v.size);
    this.dim = this.sizes.reduce((a, b) => a + b, 0);
  }

  private get n(): number {
    return this.data.x.shape[0];
  }

  /** Examples [i, i + b) as images and one-hot labels. */
  private batch(i: number, b: number): { x: tf.Tensor4D; onehot: tf.Tensor2D } {
    const x = tf.slice(this.data.x, [i, 0, 0, 0], [b, -1, -1, -1]);
    const y = this.data.y;
    const onehot = y.rank === 2 ? (tf.cast(tf.slice(y, [i, 0], [b, -1]), 'float32') as tf.Tensor2D) : (tf.cast(tf.oneHot(tf.slice(y as tf.Tensor1D, [i], [b]), this.model.numClasses), 'float32') as tf.Tensor2D);
    return { x, onehot };
  }

  /** Σ over the batch of the loss, in inference mode (BatchNorm with its running statistics). */
  private lossSum(x: tf.Tensor4D, onehot: tf.Tensor2D): tf.Scalar {
    return crossEntropySum(this.model.forward(x, { training: false }).logits, onehot);
  }

  /** v (float64, concatenated in parameter order) as float32 tensors shaped like the parameters. */
  private split(v: Float64Array): tf.Tensor[] {
    let o = 0;
    return this.vars.map((w, i) => {
      const t = tf.tensor(Float32Array.from(v.subarray(o, o + this.sizes[i]!)), w.shape, 'float32');
      o += this.sizes[i]!;
      return t;
    });
  }

  /**
   * ⟨g, v⟩ over the module's parameters, added one tensor at a time (WebGPU's AddN takes at most
   * 7 inputs: more give a wrong sum with a validation warning, not an error).
   */
  private inner(g: tf.NamedTensorMap, vs: tf.Tensor[]): tf.Scalar {
    return this.vars.map((w, k) => tf.sum(tf.mul(g[w.name] ?? tf.zerosLike(w), vs[k]!)) as tf.Scalar).reduce((a, b) => tf.add(a, b));
  }

  private flat(grads: tf.NamedTensorMap): tf.Tensor1D {
    return tf.concat(this.vars.map((w) => (grads[w.name] ? tf.reshape(grads[w.name]!, [-1]) : tf.zeros([w.size])))) as tf.Tensor1D;
  }

  /**
   * Whether the exact product can be trusted for this module: runs it on the first example and
   * returns the reason when it cannot (a kernel without a second derivative, or one whose
   * curvature tfjs drops), undefined when it can.
   */
  async exactProblem(): Promise<string | undefined> {
    ensureSecondOrderGradients();
    const forwardKernels = new Set<string>();
    try {
      const t = tf.tidy(() => {
        const { x, onehot } = this.batch(0, 1);
        const vs = this.vars.map((w) => tf.onesLike(w));
        const { grads } = tf.variableGrads(() => {
          const { grads: g } = tf.variableGrads(() => {
            const tape = tf.engine().state.activeTape;
            const start = tape.length;
            const loss = this.lossSum(x, onehot);
            // The kernels on a path from the module's parameters (the tape is in execution order).
            const reached = new Set<number>(this.vars.map((w) => w.id));
            for (let k = start; k < tape.length; k++) {
              const node = tape[k]!;
              if (!Object.values(node.inputs).some((t) => t !== undefined && reached.has(t.id))) continue;
              forwardKernels.add(node.kernelName);
              for (const t of node.outputs) reached.add(t.id);
            }
            return loss;
          }, this.vars);
          return this.inner(g, vs);
        }, this.vars);
        return this.flat(grads);
      });
      const values = await t.data();
      t.dispose();
      if (values.some((a) => !Number.isFinite(a))) return 'the exact product is not finite';
    } catch (e) {
      releaseTape();
      return `no exact second derivative (${(e as Error).message.split('\n')[0]})`;
    }
    const lost = [...forwardKernels].filter((k) => OUTPUT_SAVING_KERNELS.has(k));
    if (lost.length > 0) return `TensorFlow.js drops the second derivative of ${lost.join(', ')} after the module`;
    return undefined;
  }

  /** H·v exactly: Σ over batches of ∇(⟨∇ΣL, v⟩), / n, accumulated in float64. */
  async exact(v: Float64Array): Promise<Float64Array> {
    const out = new Float64Array(this.dim);
    for (let i = 0; i < this.n; i += this.batchSize) {
      const b = Math.min(this.batchSize, this.n - i);
      const t = tf.tidy(() => {
        const { x, onehot } = this.batch(i, b);
        const vs = this.split(v);
        const { grads } = tf.variableGrads(() => {
          const { grads: g } = tf.variableGrads(() => this.lossSum(x, onehot), this.vars);
          return this.inner(g, vs);
        }, this.vars);
        return this.flat(grads);
      });
      const h = await t.data();
      t.dispose();
      for (let k = 0; k < this.dim; k++) out[k]! += h[k]!;
    }
    for (let k = 0; k < this.dim; k++) out[k]! /= this.n;
    return out;
  }

  /** ∇L (mean over the data) at the current weights, in float64. */
  async gradient(): Promise<Float64Array> {
    const out = new Float64Array(this.dim);
    for (let i = 0; i < this.n; i += this.batchSize) {
      const b = Math.min(this.batchSize, this.n - i);
      const t = tf.tidy(() => {
        const { x, onehot } = this.batch(i, b);
        return this.flat(tf.variableGrads(() => this.lossSum(x, onehot), this.vars).grads);
      });
      const g = await t.data();
      t.dispose();
      for (let k = 0; k < this.dim; k++) out[k]! += g[k]!;
    }
    for (let k = 0; k < this.dim; k++) out[k]! /= this.n;
    return out;
  }

  /** ‖θ‖₂ of the module, in float64. */
  async parameterNorm(): Promise<number> {
    let s = 0;
    for (const w of this.vars) for (const a of await w.data()) s += a * a;
    return Math.sqrt(s);
  }

  /**
   * H·v ≈ (∇L(θ + εv) − ∇L(θ − εv)) / 2ε for a unit vector v; the weights are restored exactly
   * afterwards (also on failure).
   */
  async finiteDifference(v: Float64Array, step: number): Promise<Float64Array> {
    const saved = this.vars.map((w) => tf.clone(w));
    try {
      const at = async (sign: number): Promise<Float64Array> => {
        const vs = this.split(v);
        this.vars.forEach((w, k) => {
          const moved = tf.tidy(() => tf.add(saved[k]!, tf.mul(vs[k]!, sign * step)));
          w.assign(moved);
          moved.dispose();
        });
        tf.dispose(vs);
        return this.gradient();
      };
      const plus = await at(1);
      const minus = await at(-1);
      const out = new Float64Array(this.dim);
      for (let k = 0; k < this.dim; k++) out[k] = (plus[k]! - minus[k]!) / (2 * step);
      return out;
    } finally {
      this.vars.forEach((w, k) => w.assign(saved[k]!));
      tf.dispose(saved);
    }
  }
}
