/** Sum and Mean over a block of axes that is not innermost, as one XNNPACK average pooling. */
import { tf } from '../tfjs';
import { type KernelFunc, type TensorInfo, type WasmKernelConfig, asBackend, wrap } from './shared';

/**
 * Sum or Mean over a contiguous block of axes that is not innermost (the [N, H, W] of an NHWC
 * tensor for bias gradients and BatchNorm statistics, [H, W] for global average pooling) as one
 * XNNPACK average pooling. The backend's own kernel transposes the whole tensor first. Other
 * reductions go to the original kernel.
 */
function blockReduce(original: KernelFunc, mean: boolean): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const x = inputs['x']!;
    const { axis, keepDims } = attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const rank = x.shape.length;
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
    const contiguous = axes.length > 0 && axes.every((a, i) => i === 0 || a === axes[i - 1]! + 1);
    if (!contiguous || x.dtype !== 'float32' || axes.length === rank || tf.util.sizeFromShape(x.shape) === 0) return original(args);
    const first = axes[0]!;
    const last = axes[axes.length - 1]!;
    const outer = x.shape.slice(0, first).reduce((p, d) => p * d, 1);
    const red = x.shape.slice(first, last + 1).reduce((p, d) => p * d, 1);
    const inner = x.shape.slice(last + 1).reduce((p, d) => p * d, 1);
    const outShape = keepDims ? x.shape.map((d, i) => (i >= first && i <= last ? 1 : d)) : x.shape.filter((_, i) => i < first || i > last);
    if (inner === 1) return original(args); // innermost reductions are native to the backend
    // XNNPACK's average pooling over an [outer, red, 1, inner] "image" with a red×1 window: SIMD
    // across the inner (channel) axis, ~20× faster than a JavaScript loop and than the backend's
    // transpose-then-reduce, with float32 accumulation like the other backends.
    return tf.tidy(() => {
      const xt = tf.reshape(wrap(asBackend(backend), x), [outer, red, 1, inner]) as tf.Tensor4D;
      const m = tf.avgPool(xt, [red, 1], 1, 'valid');
      return tf.reshape(mean ? m : tf.mul(m, red), outShape);
    }) as unknown as TensorInfo;
  };
}

export const sumConfig: WasmKernelConfig = { kernelName: 'Sum', wraps: (original) => blockReduce(original, false) };
export const meanConfig: WasmKernelConfig = { kernelName: 'Mean', wraps: (original) => blockReduce(original, true) };
