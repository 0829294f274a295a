/** Conv2DBackpropInput: a forward convolution (XNNPACK) instead of the backend's scalar loop. */
import { tf } from '../tfjs';
import { type KernelFunc, type TensorInfo, type WasmKernelConfig, input4d } from './shared';
import { type ConvBackpropAttrs, type PadAttr, checkNhwc, convInfo, dilate, padOrCrop } from './conv';

/** dx via a forward convolution of (dilated, padded) dy with the flipped, channel-swapped filter. */
export function conv2dBackpropInputViaConv(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: readonly [number, number, number, number],
  strides: number | [number, number],
  pad: PadAttr,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): tf.Tensor4D {
  return tf.tidy(() => {
    const info = convInfo(inputShape, filter.shape, strides, 1, pad, dimRoundingMode, false);
    const [k1, k2] = filter.shape;
    const d = dilate(dy, info.strideHeight, info.strideWidth);
    const top = k1 - 1 - info.padInfo.top;
    const left = k2 - 1 - info.padInfo.left;
    const bottom = info.inHeight + k1 - 1 - top - d.shape[1];
    const right = info.inWidth + k2 - 1 - left - d.shape[2];
    const dp = padOrCrop(d, top, bottom, left, right);
    const wf = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
    return tf.conv2d(dp, wf, 1, 'valid');
  });
}

const conv2DBackpropInput: KernelFunc = ({ inputs, backend, attrs }) => {
  const a = attrs as unknown as ConvBackpropAttrs;
  checkNhwc('Conv2DBackpropInput', a);
  return tf.tidy(() => {
    const dy = input4d(backend, inputs, 'dy');
    const filter = input4d(backend, inputs, 'filter');
    return conv2dBackpropInputViaConv(dy, filter, a.inputShape!, a.strides, a.pad, a.dimRoundingMode);
  }) as unknown as TensorInfo;
};

export const conv2DBackpropInputConfig: WasmKernelConfig = { kernelName: 'Conv2DBackpropInput', kernelFunc: conv2DBackpropInput };
