/**
 * What exact Hessian-vector products need from TensorFlow.js: second derivatives of the kernels
 * that gradients are made of, and a cross-entropy whose gradient can be differentiated again.
 *
 * tfjs computes gradients of gradients (nested `tf.grad`/`tf.variableGrads`) as long as every
 * kernel the first backward pass runs has a gradient itself, and every gradient reads only
 * tensors the tape connects to the variables. Two things stop that for the models here:
 *
 * - **Missing gradients.** `Conv2DBackpropFilter` (the filter gradient of every convolution) and
 *   `MaxPoolGrad` have no registered gradient, nor has the wasm kernel `RELU_POOL_GRAD` of
 *   ../fusedOps.ts. {@link ensureSecondOrderGradients} registers them (only where none is
 *   registered): `Conv2DBackpropFilter` as TensorFlow does (`conv2d` and `conv2DBackpropInput`);
 *   the pooling gradients, linear in the pooled gradient, by gathering at each window's maximum
 *   (non-overlapping windows only; overlapping windows keep no second derivative).
 * - **Outputs saved for the gradient are not connected.** A kernel that saves its own output for
 *   its gradient (Exp, Softmax, LogSoftmax, Sigmoid, Tanh, Elu, Pow, LRN) clones it before the
 *   kernel's tape node exists, so the second pass cannot see that the saved output depends on the
 *   input: `tf.grad(tf.grad(x => tf.sum(tf.exp(x))))` fails, and where other paths exist the
 *   second derivative through that output is silently dropped. `tf.losses.softmaxCrossEntropy`
 *   (a custom gradient that saves its log-softmax) loses the whole softmax curvature the same way.
 *   {@link crossEntropySum} recomputes the softmax from the saved logits instead, and
 *   {@link OUTPUT_SAVING_KERNELS} names the kernels whose presence on a model's forward pass makes
 *   the exact product unreliable (the analysis then uses finite differences, and says so).
 *   Max, Min and max-pooling save their outputs too, but only to route gradients (a piecewise
 *   constant choice with zero derivative), so nothing is lost there.
 */
import { tf } from '../tfjs';
import { RELU_POOL_GRAD } from '../fusedOps';

/**
 * Kernels whose tfjs gradient reads the kernel's saved output in a way whose derivative is not
 * zero: on a forward pass, the nested-gradient Hessian-vector product misses their curvature.
 */
export const OUTPUT_SAVING_KERNELS: ReadonlySet<string> = new Set(['Exp', 'Softmax', 'LogSoftmax', 'Sigmoid', 'Tanh', 'Elu', 'Pow', 'LRN']);

type Pair = [number, number];
const pair = (v: number | readonly number[] | undefined, name: string): Pair => {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2) return [v[0] as number, v[1] as number];
  throw new Error(`${name} must be a number or a pair, got ${JSON.stringify(v)}`);
};

/**
 * Σ over each pooling window of `t` (same shape as the pool's input) → the pooled shape, for
 * non-overlapping windows (filter = stride). Padding is zero, as the pool's own padding.
 */
function windowSum(t: tf.Tensor4D, filter: Pair, strides: Pair, pad: unknown, roundingMode: unknown): tf.Tensor4D {
  const [n, h, w, c] = t.shape;
  const info = tf.backend_util.computePool2DInfo(t.shape, filter, strides, 1, pad as 'same' | 'valid', roundingMode as 'floor' | undefined);
  const [fh, fw] = filter;
  const oh = info.outHeight;
  const ow = info.outWidth;
  // Rows [top .. top + h) of the padded image hold the input; the windows cover oh·fh rows.
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  let x: tf.Tensor4D = tf.pad(t, [[0, 0], [top, Math.max(0, oh * fh - h - top)], [left, Math.max(0, ow * fw - w - left)], [0, 0]]);
  if (x.shape[1] !== oh * fh || x.shape[2] !== ow * fw) x = tf.slice(x, [0, 0, 0, 0], [n, oh * fh, ow * fw, c]);
  return tf.sum(tf.reshape(x, [n, oh, fh, ow, fw, c]), [2, 4]) as tf.Tensor4D;
}

let registered = false;

/**
 * Registers the second derivatives tfjs lacks (see the file comment); idempotent, and a kernel
 * that already has a gradient keeps it. Only nested gradients ever run them.
 */
export function ensureSecondOrderGradients(): void {
  if (registered) return;
  registered = true;
  if (tf.getGradient('Conv2DBackpropFilter') === undefined) {
    tf.registerGradient({
      kernelName: 'Conv2DBackpropFilter',
      inputsToSave: ['x', 'dy'],
      gradFunc: (g, saved, attrs) => {
        const [x, dy] = saved as [tf.Tensor4D, tf.Tensor4D];
        const a = attrs as unknown as { strides: number | Pair; pad: 'same' | 'valid' | number; dataFormat?: 'NHWC' | 'NCHW'; dimRoundingMode?: 'floor' | 'round' | 'ceil' };
        if (a.dataFormat !== undefined && a.dataFormat !== 'NHWC') throw new Error(`no second derivative for Conv2DBackpropFilter in ${a.dataFormat}`);
        const G = g as tf.Tensor4D;
        return {
          // ⟨G, dW(x, dy)⟩ = ⟨conv2d(x, G), dy⟩ = ⟨x, conv2DBackpropInput(dy, G)⟩.
          x: () => tf.conv2dTranspose(dy, G, x.shape, a.strides, a.pad as 'same' | 'valid', a.dimRoundingMode),
          dy: () => tf.conv2d(x, G, a.strides, a.pad as 'same' | 'valid', 'NHWC', 1, a.dimRoundingMode),
        };
      },
    });
  }
  if (tf.getGradient('MaxPoolGrad') === undefined) {
    tf.registerGradient({
      kernelName: 'MaxPoolGrad',
      inputsToSave: ['input', 'output'],
      gradFunc: (g, saved, attrs) => {
        const [input, output] = saved as [tf.Tensor4D, tf.Tensor4D];
        const a = attrs as unknown as { filterSize: number | Pair; strides: number | Pair; pad: unknown; dimRoundingMode?: unknown };
        const filter = pair(a.filterSize, 'filterSize');
        const strides = pair(a.strides, 'strides');
        if (filter[0] !== strides[0] || filter[1] !== strides[1]) throw new Error('no second derivative for MaxPoolGrad with overlapping windows');
        return {
          // MaxPoolGrad is linear in dy (each window's gradient goes to its maximum): its adjoint
          // reads G at the position the kernel routes to, marked by routing ones.
          dy: () => {
            const routed = tf.engine().runKernel('MaxPoolGrad', { dy: tf.onesLike(output), input, output }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
            return windowSum(tf.mul(g as tf.Tensor4D, routed) as tf.Tensor4D, filter, strides, a.pad, a.dimRoundingMode);
          },
          input: () => tf.zerosLike(input),
          output: () => tf.zerosLike(output),
        };
      },
    });
  }
  if (tf.getGradient(RELU_POOL_GRAD) === undefined) {
    tf.registerGradient({
      kernelName: RELU_POOL_GRAD,
      inputsToSave: ['dy', 'y'],
      gradFunc: (gs, saved) => {
        const [dy, y] = saved as [tf.Tensor4D, tf.Tensor4D];
        const [gz, gb] = gs as [tf.Tensor4D, tf.Tensor1D];
        return {
          // dz = route(dy)·relu'(z) and db = Σ dz are linear in dy; route(1)·relu'(z) marks where
          // each window's gradient goes.
          dy: () => {
            const [mask, sums] = tf.engine().runKernel(RELU_POOL_GRAD, { dy: tf.onesLike(dy), y }, {}) as unknown as [tf.Tensor4D, tf.Tensor1D];
            sums.dispose();
            return windowSum(tf.mul(tf.add(gz, gb), mask) as tf.Tensor4D, [2, 2], [2, 2], 'same', undefined);
          },
          y: () => tf.zerosLike(y),
        };
      },
    });
  }
}

/**
 * Σ over the batch of the softmax cross-entropy of `logits` [B, K] against `onehot` [B, K], with
 * a gradient (softmax(z) − onehot) computed from the saved logits, so that it can be
 * differentiated again (tf.logSoftmax and tf.losses.softmaxCrossEntropy cannot, see above).
 */
export function crossEntropySum(logits: tf.Tensor2D, onehot: tf.Tensor2D): tf.Scalar {
  const f = tf.customGrad(((z: tf.Tensor2D, save: tf.GradSaveFunc) => {
    save([z]);
    return {
      value: tf.neg(tf.sum(tf.mul(onehot, tf.logSoftmax(z)))),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => [tf.mul(dy as tf.Tensor, tf.sub(tf.softmax(saved[0]!), onehot))],
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(logits) as tf.Scalar;
}
