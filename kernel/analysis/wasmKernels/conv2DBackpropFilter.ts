/**
 * Conv2DBackpropFilter (missing from tfjs-backend-wasm 4.22): im2col + one GEMM for few input
 * channels, otherwise one forward convolution with the roles of batch and channels swapped.
 */
import { tf } from '../tfjs';
import { type KernelFunc, type TensorInfo, type Backend, type WasmKernelConfig, heap, input4d } from './shared';
import { type ConvBackpropAttrs, type PadAttr, checkNhwc, convInfo, padOrCrop } from './conv';

/**
 * dW[kh,kw,ci,co] = Σ_{n,oh,ow} xpad[n, oh·s+kh·d, ow·s+kw·d, ci] · dy[n,oh,ow,co], computed as
 * one forward convolution with the roles swapped: the input is x with channels as batch and batch
 * as channels ([Ci, H, W, N]), the filter is dy as [outH, outW, N, Co] dilated by the stride, and
 * the [Ci, kh, kw, Co] output is transposed to [kh, kw, Ci, Co]. XNNPACK does the im2col.
 */
export function conv2dBackpropFilterViaConv(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: readonly [number, number, number, number],
  strides: number | [number, number],
  pad: PadAttr,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
  dilations: number | [number, number] = 1,
): tf.Tensor4D {
  return tf.tidy(() => {
    const info = convInfo(x.shape, filterShape, strides, dilations, pad, dimRoundingMode, false);
    const [kh, kw] = filterShape;
    const { top, left } = info.padInfo;
    // Rows the swapped convolution reads: output row kh' reads xpad rows kh'·d + oh·s.
    const needH = (kh - 1) * info.dilationHeight + (info.outHeight - 1) * info.strideHeight + 1;
    const needW = (kw - 1) * info.dilationWidth + (info.outWidth - 1) * info.strideWidth + 1;
    const xp = padOrCrop(x, top, needH - info.inHeight - top, left, needW - info.inWidth - left);
    const xT = tf.transpose(xp, [3, 1, 2, 0]) as tf.Tensor4D; // [Ci, H', W', N]
    const dyT = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D; // [outH, outW, N, Co]
    let g: tf.Tensor4D;
    if (info.dilationHeight === 1 && info.dilationWidth === 1) {
      // Filter dilation = forward stride; output stride = forward dilation (1).
      g = tf.conv2d(xT, dyT, 1, 'valid', 'NHWC', [info.strideHeight, info.strideWidth]);
    } else {
      // Dilated forward convolutions: the output stride would be the dilation, which conv2d
      // cannot combine with a filter dilation; take every d-th output of a stride-1 result.
      const full = tf.conv2d(xT, dyT, 1, 'valid', 'NHWC', [info.strideHeight, info.strideWidth]);
      g = tf.stridedSlice(full, [0, 0, 0, 0], full.shape, [1, info.dilationHeight, info.dilationWidth, 1]) as tf.Tensor4D;
    }
    return tf.transpose(g, [1, 2, 0, 3]) as tf.Tensor4D; // [kh, kw, Ci, Co]
  });
}

/**
 * The im2col matrix P [N·outH·outW, kh·kw·Ci] of x (row m: the receptive field of output pixel
 * m), written in JavaScript straight into a new backend tensor (padding reads as 0).
 */
function im2col(backend: unknown, x: TensorInfo, info: tf.backend_util.Conv2DInfo): tf.Tensor2D {
  const { batchSize: n, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = info;
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const { top: pt, left: pl } = info.padInfo;
  const K = fh * fw * C;
  const b = heap(backend);
  const out = b.makeOutput([n * OH * OW, K], 'float32');
  const P = b.typedArrayFromHeap(out) as Float32Array;
  const X = b.typedArrayFromHeap(x) as Float32Array;
  let o = 0;
  for (let bi = 0; bi < n; bi++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        for (let ky = 0; ky < fh; ky++) {
          const ih = oh * sh + ky * dh - pt;
          for (let kx = 0; kx < fw; kx++, o += C) {
            const iw = ow * sw + kx * dw - pl;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) {
              P.fill(0, o, o + C);
            } else {
              const src = ((bi * H + ih) * W + iw) * C;
              for (let c = 0; c < C; c++) P[o + c] = X[src + c]!;
            }
          }
        }
      }
    }
  }
  return tf.engine().makeTensorFromTensorInfo(out, backend as Backend) as tf.Tensor2D;
}

/**
 * Filter gradients with kh·kw·Ci at most this and below Co use im2col + GEMM (few input channels,
 * e.g. a first layer on grey images).
 */
const IM2COL_MAX_ROWS = 64;

const conv2DBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const a = attrs as unknown as ConvBackpropAttrs;
  checkNhwc('Conv2DBackpropFilter', a);
  const x = inputs['x']!;
  const [kh, kw, ci, co] = a.filterShape!;
  const k = kh * kw * ci;
  if (k <= IM2COL_MAX_ROWS && k < co && x.dtype === 'float32') {
    // Few input channels (a first layer): the swapped convolution would have only kh·kw output
    // pixels, which XNNPACK handles poorly. dWᵀ = dyᵀ · P as one GEMM instead; XNNPACK repacks
    // its right operand on every call, so the small P [M, k] goes there, not dy [M, Co].
    const info = convInfo(x.shape, a.filterShape!, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, false);
    return tf.tidy(() => {
      const p = im2col(backend, x, info);
      const dy = input4d(backend, inputs, 'dy');
      const dyT = tf.transpose(tf.reshape(dy, [-1, co]));
      return tf.reshape(tf.transpose(tf.matMul(dyT, p)), [kh, kw, ci, co]);
    }) as unknown as TensorInfo;
  }
  return tf.tidy(() => {
    const xt = input4d(backend, inputs, 'x');
    const dy = input4d(backend, inputs, 'dy');
    return conv2dBackpropFilterViaConv(xt, dy, a.filterShape!, a.strides, a.pad, a.dimRoundingMode, a.dilations ?? 1);
  }) as unknown as TensorInfo;
};

export const conv2DBackpropFilterConfig: WasmKernelConfig = { kernelName: 'Conv2DBackpropFilter', kernelFunc: conv2DBackpropFilter };
