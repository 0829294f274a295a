/** DepthwiseConv2dNativeBackpropInput (missing from tfjs-backend-wasm 4.22): a depthwise forward convolution. */
import { tf } from '../tfjs';
import { type KernelFunc, type TensorInfo, type WasmKernelConfig, input4d } from './shared';
import { type ConvBackpropAttrs, type PadAttr, convInfo, dilate, padOrCrop } from './conv';

/** Depthwise input gradient: a depthwise forward convolution of dy with the flipped filter. */
export function depthwiseBackpropInput(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: readonly [number, number, number, number],
  strides: number | [number, number],
  dilations: number | [number, number],
  pad: PadAttr,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): tf.Tensor4D {
  return tf.tidy(() => {
    const info = convInfo(inputShape, filter.shape, strides, dilations, pad, dimRoundingMode, true);
    const [k1, k2, c, mult] = filter.shape;
    const dh = info.dilationHeight;
    const dw = info.dilationWidth;
    const ek1 = (k1 - 1) * dh + 1;
    const ek2 = (k2 - 1) * dw + 1;
    const d = dilate(dy, info.strideHeight, info.strideWidth); // [n, ., ., c·mult]
    const top = ek1 - 1 - info.padInfo.top;
    const left = ek2 - 1 - info.padInfo.left;
    const bottom = info.inHeight + ek1 - 1 - top - d.shape[1];
    const right = info.inWidth + ek2 - 1 - left - d.shape[2];
    const dp = padOrCrop(d, top, bottom, left, right);
    const flipped = tf.reverse(filter, [0, 1]);
    if (mult === 1) return tf.depthwiseConv2d(dp, flipped as tf.Tensor4D, 1, 'valid', 'NHWC', [dh, dw]);
    // Channel c of dx gathers the mult output channels c·M..c·M+M−1.
    const [n, hh, ww] = dp.shape;
    const dp5 = tf.reshape(dp, [n, hh!, ww!, c!, mult]);
    let acc: tf.Tensor4D | undefined;
    for (let m = 0; m < mult; m++) {
      const slice = tf.reshape(tf.slice(dp5, [0, 0, 0, 0, m], [n, hh!, ww!, c!, 1]), [n, hh!, ww!, c!]) as tf.Tensor4D;
      const f = tf.slice(flipped, [0, 0, 0, m], [k1, k2, c, 1]) as tf.Tensor4D;
      const part = tf.depthwiseConv2d(slice, f, 1, 'valid', 'NHWC', [dh, dw]);
      acc = acc ? (tf.add(acc, part) as tf.Tensor4D) : part;
    }
    return acc!;
  });
}

const depthwiseInput: KernelFunc = ({ inputs, backend, attrs }) => {
  const a = attrs as unknown as ConvBackpropAttrs;
  return tf.tidy(() => {
    const dy = input4d(backend, inputs, 'dy');
    const filter = input4d(backend, inputs, 'filter');
    return depthwiseBackpropInput(dy, filter, a.inputShape!, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode);
  }) as unknown as TensorInfo;
};

export const depthwiseConv2dNativeBackpropInputConfig: WasmKernelConfig = { kernelName: 'DepthwiseConv2dNativeBackpropInput', kernelFunc: depthwiseInput };
