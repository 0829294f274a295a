/**
 * Kernels registered for the wasm backend so that CNNs train there, and train fast.
 *
 * tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropFilter or
 * DepthwiseConv2dNativeBackpropInput (`model.fit` of a CNN throws), its Conv2DBackpropInput is a
 * scalar loop, and its BatchMatMul takes a scalar loop whenever an operand is transposed, which is
 * every matMul in a backward pass. The kernels here are compositions of the backend's fast
 * primitives (XNNPACK convolution and fully-connected GEMM, pad, slice, transpose):
 *
 * - Conv2DBackpropFilter: im2col by k·k strided slices of the padded input, then one GEMM
 *   `dyᵀ · patches` (XNNPACK), transposed to [kh, kw, in, out].
 * - Conv2DBackpropInput: a forward convolution (XNNPACK) of dy, zero-dilated for strides > 1 and
 *   padded, with the filter flipped in space and its channel axes swapped.
 * - Depthwise backprops: the same ideas per channel (depthwise forward convolution for the input
 *   gradient; k·k multiply-and-sum for the filter gradient).
 * - BatchMatMul with transposeA/transposeB (batch 1): transposes the operand explicitly and calls
 *   the backend's GEMM path.
 *
 * Each kernel runs tfjs ops inside `tf.tidy` (ops called from a kernel are not recorded on the
 * gradient tape) and returns the resulting tensor. Tested against the cpu backend in
 * test/analysis/backends.test.ts.
 */
import { tf } from './tfjs';
import { RELU_POOL_GRAD } from './fusedOps';

type KernelFunc = tf.KernelFunc;
type TensorInfo = tf.TensorInfo;
type Backend = tf.KernelBackend;
const asBackend = (b: unknown): Backend => b as Backend;

/** Wraps a kernel input as a tensor that can be used with ops and disposed without freeing it. */
function wrap(backend: Backend, info: TensorInfo): tf.Tensor {
  backend.incRef(info.dataId);
  return tf.engine().makeTensorFromTensorInfo(info, backend);
}

type PadAttr = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;

function convInfo(
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
function padOrCrop(x: tf.Tensor4D, top: number, bottom: number, left: number, right: number): tf.Tensor4D {
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
function dilate(x: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
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
function shiftedViews(x: tf.Tensor4D, info: tf.backend_util.Conv2DInfo): tf.Tensor4D[] {
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

/** The parts of the wasm backend the heap kernels below use. */
interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
}
const heap = (b: unknown) => b as WasmHeapBackend;

/**
 * 2×2 windows with stride 2 tiling the image exactly (the common CNN case): every input pixel
 * belongs to one window, so each is written once (the window's first maximum gets dy, the others 0).
 */
function maxPoolGrad2x2(xs: Float32Array, dy: Float32Array, dx: Float32Array, n: number, OH: number, OW: number, C: number): void {
  const rowStride = 2 * OW * C;
  for (let bi = 0; bi < n; bi++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const p00 = ((bi * 2 * OH + 2 * oh) * 2 * OW + 2 * ow) * C;
        const p01 = p00 + C;
        const p10 = p00 + rowStride;
        const p11 = p10 + C;
        const o = ((bi * OH + oh) * OW + ow) * C;
        for (let c = 0; c < C; c++) {
          const a = xs[p00 + c]!;
          const b = xs[p01 + c]!;
          const d = xs[p10 + c]!;
          const e = xs[p11 + c]!;
          const g = dy[o + c]!;
          // First maximum in row-major order; NaN never wins (as in the general loop).
          let k = a > -Infinity ? 0 : -1;
          let best = k === 0 ? a : -Infinity;
          if (b > best) { best = b; k = 1; }
          if (d > best) { best = d; k = 2; }
          if (e > best) { k = 3; }
          dx[p00 + c] = k === 0 ? g : 0;
          dx[p01 + c] = k === 1 ? g : 0;
          dx[p10 + c] = k === 2 ? g : 0;
          dx[p11 + c] = k === 3 ? g : 0;
        }
      }
    }
  }
}

/** The loop of {@link maxPoolGrad}, a plain function of typed arrays so that V8 optimises it well. */
function maxPoolGradLoop(
  xs: Float32Array, dy: Float32Array, dx: Float32Array,
  n: number, H: number, W: number, C: number, OH: number, OW: number,
  fh: number, fw: number, sh: number, sw: number, pt: number, pl: number,
): void {
  if (fh === 2 && fw === 2 && sh === 2 && sw === 2 && pt === 0 && pl === 0 && H === 2 * OH && W === 2 * OW) {
    maxPoolGrad2x2(xs, dy, dx, n, OH, OW, C);
    return;
  }
  dx.fill(0);
  const offsets = new Int32Array(fh * fw);
  for (let bi = 0; bi < n; bi++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        // Element offsets of the window's pixels inside the image, in row-major window order.
        let count = 0;
        for (let ky = 0; ky < fh; ky++) {
          const ih = oh * sh - pt + ky;
          if (ih < 0 || ih >= H) continue;
          for (let kx = 0; kx < fw; kx++) {
            const iw = ow * sw - pl + kx;
            if (iw >= 0 && iw < W) offsets[count++] = ((bi * H + ih) * W + iw) * C;
          }
        }
        const o = ((bi * OH + oh) * OW + ow) * C;
        for (let c = 0; c < C; c++) {
          let best = -Infinity;
          let pos = -1;
          for (let j = 0; j < count; j++) {
            const v = xs[offsets[j]! + c]!;
            if (v > best) {
              best = v;
              pos = offsets[j]! + c;
            }
          }
          if (pos >= 0) dx[pos]! += dy[o + c]!;
        }
      }
    }
  }
}

/**
 * MaxPoolGrad on the wasm heap in plain JavaScript (the backend's own is ~30× slower than memory
 * speed). Same semantics as the cpu backend: each output cell routes its gradient to the first
 * maximum of its window in row-major order; padding never wins.
 */
const maxPoolGrad: KernelFunc = ({ inputs, backend, attrs }) => {
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as {
    filterSize: number | [number, number];
    strides: number | [number, number];
    pad: 'valid' | 'same' | number;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  const x = inputs['input']!;
  const dyInfo = inputs['dy']!;
  const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const b = heap(backend);
  const out = b.makeOutput([...x.shape], 'float32');
  // Views after the allocation: makeOutput may grow (and so move) the heap.
  const dx = b.typedArrayFromHeap(out) as Float32Array;
  const xs = b.typedArrayFromHeap(x) as Float32Array;
  const dy = b.typedArrayFromHeap(dyInfo) as Float32Array;
  maxPoolGradLoop(xs, dy, dx, info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth, info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left);
  return out;
};

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

/**
 * The gradient of maxPool2×2(relu(z)) with respect to z, and its sum over N, H, W (the bias
 * gradient), in one pass: each window's pooled gradient goes to its first maximum when that
 * maximum is positive (relu'(z) = 0 where y = relu(z) = 0). Inputs dy [N, H/2, W/2, C] and
 * y [N, H, W, C] with H, W even. See ./fusedOps.ts.
 */
const reluPoolGrad: KernelFunc = ({ inputs, backend }) => {
  const yInfo = inputs['y']!;
  const dyInfo = inputs['dy']!;
  const [n, H, W, C] = yInfo.shape as [number, number, number, number];
  const b = heap(backend);
  const out = b.makeOutput([n, H, W, C], 'float32');
  const sums = b.makeOutput([C], 'float32');
  const dz = b.typedArrayFromHeap(out) as Float32Array;
  const db = b.typedArrayFromHeap(sums) as Float32Array;
  reluPoolGradLoop(b.typedArrayFromHeap(yInfo) as Float32Array, b.typedArrayFromHeap(dyInfo) as Float32Array, dz, db, n, H / 2, W / 2, C);
  return [out, sums];
};

function reluPoolGradLoop(ys: Float32Array, dy: Float32Array, dz: Float32Array, db: Float32Array, n: number, OH: number, OW: number, C: number): void {
  const acc = new Float64Array(C);
  const rowStride = 2 * OW * C;
  for (let bi = 0; bi < n; bi++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const p00 = ((bi * 2 * OH + 2 * oh) * 2 * OW + 2 * ow) * C;
        const p01 = p00 + C;
        const p10 = p00 + rowStride;
        const p11 = p10 + C;
        const o = ((bi * OH + oh) * OW + ow) * C;
        for (let c = 0; c < C; c++) {
          const a = ys[p00 + c]!;
          const bb = ys[p01 + c]!;
          const d = ys[p10 + c]!;
          const e = ys[p11 + c]!;
          let best = a;
          let k = 0;
          if (bb > best) { best = bb; k = 1; }
          if (d > best) { best = d; k = 2; }
          if (e > best) { best = e; k = 3; }
          const g = best > 0 ? dy[o + c]! : 0;
          acc[c]! += g;
          dz[p00 + c] = k === 0 ? g : 0;
          dz[p01 + c] = k === 1 ? g : 0;
          dz[p10 + c] = k === 2 ? g : 0;
          dz[p11 + c] = k === 3 ? g : 0;
        }
      }
    }
  }
  for (let c = 0; c < C; c++) db[c] = acc[c]!;
}

/**
 * Identity (tf.clone, and every tensor the gradient tape saves) shares the data instead of
 * copying it, as the cpu backend does; tensor data is never written in place.
 */
function sharingIdentity(original: KernelFunc): KernelFunc {
  return (args) => {
    const x = args.inputs['x']!;
    if (x.dtype === 'string') return original(args);
    (args.backend as unknown as Backend).incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  };
}

/** Row-major strides of a shape. */
function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1]! * shape[i + 1]!;
  return s;
}

/**
 * Tile in JavaScript with block copies (the backend's runs an index computation per element and
 * is ~50× slower; tfjs's BatchNorm and mean gradients tile full activation tensors).
 */
const tile: KernelFunc = ({ inputs, backend, attrs }) => {
  const x = inputs['x']!;
  const { reps } = attrs as unknown as { reps: number[] };
  const shape = x.shape;
  const outShape = shape.map((d, i) => d * reps[i]!);
  const b = heap(backend);
  const out = b.makeOutput(outShape, x.dtype);
  if (tf.util.sizeFromShape(outShape) === 0) return out;
  const dst = b.typedArrayFromHeap(out);
  const src = b.typedArrayFromHeap(x);
  const ss = strides(shape);
  const ds = strides(outShape);
  const r = shape.length;
  const write = (dim: number, so: number, dO: number): void => {
    const n = shape[dim]!;
    if (dim === r - 1) {
      dst.set(src.subarray(so, so + n), dO);
    } else {
      for (let i = 0; i < n; i++) write(dim + 1, so + i * ss[dim]!, dO + i * ds[dim]!);
    }
    const block = n * ds[dim]!;
    for (let k = 1; k < reps[dim]!; k++) dst.copyWithin(dO + k * block, dO, dO + block);
  };
  write(0, 0, 0);
  return out;
};

/** Slice in JavaScript: contiguous runs of the innermost sliced dimensions copied at once. */
function jsSlice(original: KernelFunc): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const x = inputs['x']!;
    const { begin, size } = attrs as unknown as { begin: number | number[]; size: number | number[] };
    if (x.dtype === 'string' || x.shape.length === 0) return original(args);
    const [b0, s0] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, begin, size);
    const shape = x.shape;
    const r = shape.length;
    const hb = heap(backend);
    const out = hb.makeOutput(s0, x.dtype);
    if (tf.util.sizeFromShape(s0) === 0) return out;
    const dst = hb.typedArrayFromHeap(out);
    const src = hb.typedArrayFromHeap(x);
    // Merge trailing dimensions that are taken whole into one contiguous run.
    let k = r - 1;
    while (k > 0 && s0[k] === shape[k] && b0[k] === 0) k--;
    const run = s0.slice(k).reduce((p, d) => p * d, 1) * 1;
    const ss = strides(shape);
    let di = 0;
    const walk = (dim: number, so: number): void => {
      if (dim === k) {
        const start = so + b0[k]! * ss[k]!;
        dst.set(src.subarray(start, start + run), di);
        di += run;
        return;
      }
      for (let i = 0; i < s0[dim]!; i++) walk(dim + 1, so + (b0[dim]! + i) * ss[dim]!);
    };
    walk(0, 0);
    return out;
  };
}

interface ConvBackpropAttrs {
  strides: number | [number, number];
  pad: PadAttr;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  dilations?: number | [number, number];
  filterShape?: [number, number, number, number];
  inputShape?: [number, number, number, number];
}

function checkNhwc(kernel: string, attrs: ConvBackpropAttrs): void {
  if (attrs.dataFormat === 'NCHW') throw new Error(`${kernel} on wasm: only NHWC (channelsLast) is supported, got NCHW`);
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
      const dy = wrap(asBackend(backend), inputs['dy']!);
      const dyT = tf.transpose(tf.reshape(dy, [-1, co]));
      return tf.reshape(tf.transpose(tf.matMul(dyT, p)), [kh, kw, ci, co]);
    }) as unknown as TensorInfo;
  }
  return tf.tidy(() => {
    const xt = wrap(asBackend(backend), x) as tf.Tensor4D;
    const dy = wrap(asBackend(backend), inputs['dy']!) as tf.Tensor4D;
    return conv2dBackpropFilterViaConv(xt, dy, a.filterShape!, a.strides, a.pad, a.dimRoundingMode, a.dilations ?? 1);
  }) as unknown as TensorInfo;
};

const conv2DBackpropInput: KernelFunc = ({ inputs, backend, attrs }) => {
  const a = attrs as unknown as ConvBackpropAttrs;
  checkNhwc('Conv2DBackpropInput', a);
  return tf.tidy(() => {
    const dy = wrap(asBackend(backend), inputs['dy']!) as tf.Tensor4D;
    const filter = wrap(asBackend(backend), inputs['filter']!) as tf.Tensor4D;
    return conv2dBackpropInputViaConv(dy, filter, a.inputShape!, a.strides, a.pad, a.dimRoundingMode);
  }) as unknown as TensorInfo;
};

const depthwiseFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const a = attrs as unknown as ConvBackpropAttrs;
  return tf.tidy(() => {
    const x = wrap(asBackend(backend), inputs['x']!) as tf.Tensor4D;
    const dy = wrap(asBackend(backend), inputs['dy']!) as tf.Tensor4D;
    return depthwiseBackpropFilter(x, dy, a.filterShape!, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode);
  }) as unknown as TensorInfo;
};

const depthwiseInput: KernelFunc = ({ inputs, backend, attrs }) => {
  const a = attrs as unknown as ConvBackpropAttrs;
  return tf.tidy(() => {
    const dy = wrap(asBackend(backend), inputs['dy']!) as tf.Tensor4D;
    const filter = wrap(asBackend(backend), inputs['filter']!) as tf.Tensor4D;
    return depthwiseBackpropInput(dy, filter, a.inputShape!, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode);
  }) as unknown as TensorInfo;
};

/** BatchMatMul that sends transposed operands through the GEMM path instead of the scalar loop. */
function gemmBatchMatMul(original: KernelFunc): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const a = inputs['a']!;
    const b = inputs['b']!;
    const batchA = a.shape.slice(0, -2).reduce((p, d) => p * d, 1);
    const batchB = b.shape.slice(0, -2).reduce((p, d) => p * d, 1);
    if ((!transposeA && !transposeB) || batchA !== 1 || batchB !== 1) return original(args);
    const [m, k] = transposeA ? [a.shape[a.shape.length - 1]!, a.shape[a.shape.length - 2]!] : [a.shape[a.shape.length - 2]!, a.shape[a.shape.length - 1]!];
    const n = transposeB ? b.shape[b.shape.length - 2]! : b.shape[b.shape.length - 1]!;
    if (!transposeA && transposeB && m * (k + n) < k * n) {
      // A·Bᵀ with B large (dx = dy·Wᵀ of a dense layer): XNNPACK repacks the right operand on
      // every call, so compute (B·Aᵀ)ᵀ: B [n, k] is used as it is and only the small Aᵀ is packed.
      return tf.tidy(() => {
        const a2 = tf.reshape(wrap(asBackend(backend), a), [m, k]);
        const b2 = tf.reshape(wrap(asBackend(backend), b), [n, k]);
        const batchShape = (a.shape.length >= b.shape.length ? a.shape : b.shape).slice(0, -2);
        return tf.reshape(tf.transpose(tf.matMul(b2, tf.transpose(a2))), [...batchShape, m, n]);
      }) as unknown as TensorInfo;
    }
    const a2 = transposeA ? tf.tidy(() => tf.transpose(tf.reshape(wrap(asBackend(backend), a), a.shape.slice(-2)))) : undefined;
    const b2 = transposeB ? tf.tidy(() => tf.transpose(tf.reshape(wrap(asBackend(backend), b), b.shape.slice(-2)))) : undefined;
    try {
      return original({ inputs: { a: a2 ?? a, b: b2 ?? b }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } });
    } finally {
      a2?.dispose();
      b2?.dispose();
    }
  };
}

let registered = false;

/**
 * Registers the kernels above for the wasm backend (idempotent). Called by `initBackend('wasm')`
 * before the backend starts; safe to call when the wasm package is loaded but not started.
 */
export function registerWasmKernels(): void {
  if (registered) return;
  const backendName = 'wasm';
  const replace = (kernelName: string, kernelFunc: KernelFunc) => {
    const old = tf.getKernel(kernelName, backendName);
    if (old) tf.unregisterKernel(kernelName, backendName);
    // Keep the original setup function: it binds the WebAssembly exports the original kernel
    // function (which the replacement may call) needs.
    tf.registerKernel({ kernelName, backendName, kernelFunc, ...(old?.setupFunc ? { setupFunc: old.setupFunc } : {}) });
  };
  const bmm = tf.getKernel('BatchMatMul', backendName);
  if (bmm === undefined) {
    throw new Error('registerWasmKernels: the wasm backend package must be loaded first (its BatchMatMul kernel is missing)');
  }
  replace('BatchMatMul', gemmBatchMatMul(bmm.kernelFunc));
  replace('Conv2DBackpropFilter', conv2DBackpropFilter);
  replace('Conv2DBackpropInput', conv2DBackpropInput);
  replace('DepthwiseConv2dNativeBackpropFilter', depthwiseFilter);
  replace('DepthwiseConv2dNativeBackpropInput', depthwiseInput);
  replace('MaxPoolGrad', maxPoolGrad);
  const sum = tf.getKernel('Sum', backendName);
  const mean = tf.getKernel('Mean', backendName);
  if (sum) replace('Sum', blockReduce(sum.kernelFunc, false));
  if (mean) replace('Mean', blockReduce(mean.kernelFunc, true));
  replace('Tile', tile);
  replace(RELU_POOL_GRAD, reluPoolGrad);
  const identity = tf.getKernel('Identity', backendName);
  if (identity) replace('Identity', sharingIdentity(identity.kernelFunc));
  const slice = tf.getKernel('Slice', backendName);
  if (slice) replace('Slice', jsSlice(slice.kernelFunc));
  registered = true;
}
