/**
 * Convolution geometry shared by the convolution backprop kernels: conv info from attributes,
 * padding or cropping, zero-dilation, shifted views, and the backprop kernels' attributes.
 */
import { tf } from '../tfjs';

export type PadAttr = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;

export function convInfo(
  xShape: readonly number[],
  filterShape: readonly number[],
  strides: number | [number, number],
  dilations: number | [number, number],
  pad: PadAttr,
  dimRoundingMode: 'floor' | 'round' | 'ceil' | undefined,
  depthwise: boolean,
): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    dilations,
    pad,
    dimRoundingMode,
    depthwise,
    'channelsLast',
  );
}

/** Pads (positive amounts) or crops (negative amounts) the spatial axes 1 and 2 of an NHWC tensor. */
export function padOrCrop(x: tf.Tensor4D, top: number, bottom: number, left: number, right: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  let y = x;
  if (top < 0 || bottom < 0 || left < 0 || right < 0) {
    const t0 = Math.max(0, -top);
    const l0 = Math.max(0, -left);
    y = tf.slice(y, [0, t0, l0, 0], [n, h - t0 - Math.max(0, -bottom), w - l0 - Math.max(0, -right), c]);
  }
  if (top > 0 || bottom > 0 || left > 0 || right > 0) {
    y = tf.pad(y, [
      [0, 0],
      [Math.max(0, top), Math.max(0, bottom)],
      [Math.max(0, left), Math.max(0, right)],
      [0, 0],
    ]);
  }
  return y;
}

/** Inserts s−1 zeros between neighbouring rows (and columns): [N,H,W,C] → [N,(H−1)s+1,(W−1)s+1,C]. */
export function dilate(x: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  if (sh === 1 && sw === 1) return x;
  const [n, h, w, c] = x.shape;
  const spread = tf.pad(tf.reshape(x, [n, h, 1, w, 1, c]), [
    [0, 0],
    [0, 0],
    [0, sh - 1],
    [0, 0],
    [0, sw - 1],
    [0, 0],
  ]);
  const full = tf.reshape(spread, [n, h * sh, w * sw, c]);
  return tf.slice(full, [0, 0, 0, 0], [n, (h - 1) * sh + 1, (w - 1) * sw + 1, c]) as tf.Tensor4D;
}

/**
 * The padded input and the k·k shifted (strided) views of it that a convolution reads:
 * views[kh·kw + kw] is [N, outH, outW, C].
 */
export function shiftedViews(x: tf.Tensor4D, info: tf.backend_util.Conv2DInfo): tf.Tensor4D[] {
  const { top, bottom, left, right } = info.padInfo;
  const xp = padOrCrop(x, top, bottom, left, right);
  const [n, , , c] = xp.shape;
  const views: tf.Tensor4D[] = [];
  for (let kh = 0; kh < info.filterHeight; kh++) {
    for (let kw = 0; kw < info.filterWidth; kw++) {
      const r0 = kh * info.dilationHeight;
      const c0 = kw * info.dilationWidth;
      if (info.strideHeight === 1 && info.strideWidth === 1) {
        views.push(tf.slice(xp, [0, r0, c0, 0], [n, info.outHeight, info.outWidth, c]));
      } else {
        views.push(
          tf.stridedSlice(
            xp,
            [0, r0, c0, 0],
            [n, r0 + (info.outHeight - 1) * info.strideHeight + 1, c0 + (info.outWidth - 1) * info.strideWidth + 1, c],
            [1, info.strideHeight, info.strideWidth, 1],
          ) as tf.Tensor4D,
        );
      }
    }
  }
  return views;
}

/** Attributes of the convolution backprop kernels. */
export interface ConvBackpropAttrs {
  strides: number | [number, number];
  pad: PadAttr;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  dilations?: number | [number, number];
  filterShape?: [number, number, number, number];
  inputShape?: [number, number, number, number];
}

export function checkNhwc(kernel: string, attrs: ConvBackpropAttrs): void {
  if (attrs.dataFormat === 'NCHW') throw new Error(`${kernel} on wasm: only NHWC (channelsLast) is supported, got NCHW`);
}
