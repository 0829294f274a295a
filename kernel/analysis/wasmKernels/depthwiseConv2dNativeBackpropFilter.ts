/** DepthwiseConv2dNativeBackpropFilter (missing from tfjs-backend-wasm 4.22): k·k multiply-and-sum. */
import { tf } from '../tfjs';
import { type KernelFunc, type TensorInfo, type WasmKernelConfig, input4d } from './shared';
import { type ConvBackpropAttrs, type PadAttr, convInfo, shiftedViews } from './conv';

/** Depthwise filter gradient: dW[kh,kw,c,m] = Σ xpad[n, oh·s+kh, ow·s+kw, c] · dy[n,oh,ow,c·M+m]. */
export function depthwiseBackpropFilter(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: readonly [number, number, number, number],
  strides: number | [number, number],
  dilations: number | [number, number],
  pad: PadAttr,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): tf.Tensor4D {
  return tf.tidy(() => {
    const info = convInfo(x.shape, filterShape, strides, dilations, pad, dimRoundingMode, true);
    const [kh, kw, c, mult] = filterShape;
    const dy5 = tf.reshape(dy, [info.batchSize, info.outHeight, info.outWidth, c, mult]);
    const views = shiftedViews(x, info);
    const parts = views.map((v) => tf.sum(tf.mul(tf.expandDims(v, 4), dy5), [0, 1, 2])); // [c, mult]
    return tf.reshape(tf.stack(parts), [kh, kw, c, mult]);
  });
}

const depthwiseFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const a = attrs as unknown as ConvBackpropAttrs;
  return tf.tidy(() => {
    const x = input4d(backend, inputs, 'x');
    const dy = input4d(backend, inputs, 'dy');
    return depthwiseBackpropFilter(x, dy, a.filterShape!, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode);
  }) as unknown as TensorInfo;
};

export const depthwiseConv2dNativeBackpropFilterConfig: WasmKernelConfig = { kernelName: 'DepthwiseConv2dNativeBackpropFilter', kernelFunc: depthwiseFilter };
