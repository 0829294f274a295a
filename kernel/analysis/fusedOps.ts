/**
 * Fused operations with hand-written gradients for the models' hot paths.
 *
 * `convReluPool` = max-pool 2×2 (relu(conv 3×3(x, w) + b)), the block of the plain CNN. tfjs
 * un-fuses `tf.fused.conv2d` whenever gradients are recorded (conv, add, relu as separate passes,
 * each output saved for the backward pass). Here the forward pass is one fused convolution kernel
 * and one pooling; the backward pass routes the pooled gradient through the ReLU and sums the bias
 * gradient in one pass (a JavaScript kernel on wasm, `RELU_POOL_GRAD`), then runs the two
 * convolution backprops. The input gradient is skipped for a network's first layer.
 */
import { tf } from './tfjs';

/** Kernel: gradient of maxPool2×2(relu(z)) w.r.t. z from dy (pooled) and y = relu(z); outputs [dz, Σdz over N,H,W]. */
export const RELU_POOL_GRAD = 'TransferLabReluMaxPool2x2Grad';

/** The composite fallback of RELU_POOL_GRAD for backends without the fused kernel. */
function reluPoolGradOps(dp: tf.Tensor4D, y: tf.Tensor4D, p: tf.Tensor4D): [tf.Tensor4D, tf.Tensor1D] {
  return tf.tidy(() => {
    const g = tf.engine().runKernel('MaxPoolGrad', { dy: dp, input: y, output: p }, { filterSize: 2, strides: 2, pad: 'same' }) as tf.Tensor4D;
    // A window whose maximum is 0 routes its gradient to a pixel where relu'(z) = 0.
    const dz = tf.mul(g, tf.step(y)) as tf.Tensor4D;
    return [dz, tf.sum(dz, [0, 1, 2]) as tf.Tensor1D];
  });
}

/**
 * maxPool(relu(conv2d(x, w, stride 1, 'same') + b), 2, 2, 'same') with a fused forward pass and
 * a hand-written gradient. `inputGrad: false` returns a zero gradient for x (first layers, whose
 * input is data) instead of computing it.
 */
export function convReluPool(x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D, inputGrad = true): tf.Tensor4D {
  const f = tf.customGrad(((xi: tf.Tensor4D, wi: tf.Tensor4D, bi: tf.Tensor1D, save: tf.GradSaveFunc) => {
    const y = tf.engine().runKernel(
      'FusedConv2D',
      { x: xi, filter: wi, bias: bi },
      { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1, activation: 'relu', leakyreluAlpha: 0 },
    ) as tf.Tensor4D;
    const p = tf.maxPool(y, 2, 2, 'same');
    save([xi, wi, y, p]);
    return {
      value: p,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [xs, ws, ys, ps] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
        const dp = dy as tf.Tensor4D;
        const [, h, wd] = ys.shape;
        const fused = tf.getBackend() === 'wasm' && h % 2 === 0 && wd % 2 === 0 && tf.getKernel(RELU_POOL_GRAD, 'wasm') !== undefined;
        const [dz, db] = fused ? (tf.engine().runKernel(RELU_POOL_GRAD, { dy: dp, y: ys }, {}) as unknown as [tf.Tensor4D, tf.Tensor1D]) : reluPoolGradOps(dp, ys, ps);
        const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x: xs, dy: dz }, { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: ws.shape }) as tf.Tensor4D;
        const dx = inputGrad
          ? (tf.engine().runKernel('Conv2DBackpropInput', { dy: dz, filter: ws }, { strides: 1, pad: 'same', dataFormat: 'NHWC', inputShape: xs.shape }) as tf.Tensor4D)
          : tf.zerosLike(xs);
        return [dx, dw, db];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x, w, b) as tf.Tensor4D;
}
