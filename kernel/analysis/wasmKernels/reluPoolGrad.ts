/** The fused ReLU + max-pool 2×2 gradient of ../fusedOps.ts, on the wasm heap. */
import { RELU_POOL_GRAD } from '../fusedOps';
import { type KernelFunc, type WasmKernelConfig, heap } from './shared';

/**
 * The gradient of maxPool2×2(relu(z)) with respect to z, and its sum over N, H, W (the bias
 * gradient), in one pass: each window's pooled gradient goes to its first maximum when that
 * maximum is positive (relu'(z) = 0 where y = relu(z) = 0). Inputs dy [N, H/2, W/2, C] and
 * y [N, H, W, C] with H, W even. See ../fusedOps.ts.
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

export const reluPoolGradConfig: WasmKernelConfig = { kernelName: RELU_POOL_GRAD, kernelFunc: reluPoolGrad };
