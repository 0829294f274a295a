/** MaxPoolGrad on the wasm heap in plain JavaScript. */
import { tf } from '../tfjs';
import { type KernelFunc, type WasmKernelConfig, heap } from './shared';

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

export const maxPoolGradConfig: WasmKernelConfig = { kernelName: 'MaxPoolGrad', kernelFunc: maxPoolGrad };
