/**
 * `TlCenteredGram`: products of centred features with float-float accumulation, the first half of
 * the CKA Gram path on WebGPU (../cka/deviceGram.ts).
 *
 * Inputs `left` [m, K] and `right` [r, K] (float32, row-major); attrs `rowStart`, `rows` and
 * `colStart`. Output [2, rows, r − colStart]: plane 0 holds hi, plane 1 lo, with hi + lo =
 * Σₖ left[rowStart + i, k] · right[colStart + j, k] to ~2⁻⁴⁸ relative (Dot2, ./floatFloat.ts).
 * Two uses:
 * - a row block of the upper triangle of the Gram matrix K = X̃X̃ᵀ (left = right = X̃, the
 *   columns centred in float64 on the host, so K is the centred Gram matrix HKH; colStart =
 *   rowStart);
 * - the cross-products X̃ᵀỸ of the features form (left = X̃ᵀ, right = Ỹᵀ, contracting over
 *   examples).
 *
 * One dispatch: 16 × 16 workgroups, each computing a 16 × 16 output tile from 16 × 16 tiles of both
 * operands staged in workgroup memory, already split into halves for the exact products (padded
 * rows avoid bank conflicts); a tile edge past the matrix loads zeros, so any shape works (1 × 1,
 * primes, widths not a multiple of 16). About 20 float32 operations per multiply-add: the price of
 * float64-grade sums on hardware without float64.
 */
import { tf } from '../tfjs';
import { FLOAT_FLOAT_WGSL, LOWEST } from './floatFloat';
import { type KernelFunc, type TensorInfo, type WebGpuKernelConfig, type WebGpuProgram, ceilDiv, runProgram } from './shared';

export const CENTERED_GRAM = 'TlCenteredGram';

const T = 16;

export interface CenteredGramAttrs {
  /** First row of `left` to multiply. */
  readonly rowStart: number;
  /** Rows of `left` to multiply, from `rowStart`. */
  readonly rows: number;
  /** First row of `right` to multiply (the output has r − colStart columns). */
  readonly colStart: number;
}

function program(rows: number, r: number): WebGpuProgram {
  // r: output columns, rows colStart… of `right`.
  return {
    outputShape: [2, rows, r],
    shaderKey: 'tlCenteredGram',
    dispatchLayout: { x: [2], y: [1] },
    dispatch: [ceilDiv(r, T), ceilDiv(rows, T), 1],
    variableNames: ['left', 'right'],
    uniforms: 'rowStart : i32, rows : i32, colStart : i32, lowest : f32,',
    workgroupSize: [T, T, 1],
    getUserCode: () => /* wgsl */ `
      ${FLOAT_FLOAT_WGSL}
      var<workgroup> tileL : array<array<vec2<f32>, ${T + 1}>, ${T}>;
      var<workgroup> tileR : array<array<vec2<f32>, ${T + 1}>, ${T}>;
      fn main() {
        let ty = i32(localId.y);
        let tx = i32(localId.x);
        let rowBase = i32(workgroupId.y) * ${T};
        let colBase = i32(workgroupId.x) * ${T};
        let depth = uniforms.leftShape.y;
        let r = uniforms.rightShape.x - uniforms.colStart;
        var acc = vec2<f32>(0.0, 0.0);
        for (var k0 = 0; k0 < depth; k0 = k0 + ${T}) {
          let k = k0 + tx;
          let lr = rowBase + ty;
          var lv = 0.0;
          if (lr < uniforms.rows && k < depth) { lv = left[(uniforms.rowStart + lr) * depth + k]; }
          tileL[ty][tx] = tlSplit(lv);
          let rr = colBase + ty;
          var rv = 0.0;
          if (rr < r && k < depth) { rv = right[(uniforms.colStart + rr) * depth + k]; }
          tileR[ty][tx] = tlSplit(rv);
          workgroupBarrier();
          for (var kk = 0; kk < ${T}; kk = kk + 1) {
            acc = tlAccumulate(acc, tlTwoProd(tileL[ty][kk], tileR[tx][kk]));
          }
          workgroupBarrier();
        }
        let row = rowBase + ty;
        let col = colBase + tx;
        if (row < uniforms.rows && col < r) {
          let v = tlNormalise(acc);
          let o = row * r + col;
          result[o] = v.x;
          result[uniforms.rows * r + o] = v.y;
        }
      }
    `,
  };
}

const kernelFunc: KernelFunc = ({ inputs, backend, attrs }) => {
  const left = (inputs as Record<string, TensorInfo>)['left']!;
  const right = (inputs as Record<string, TensorInfo>)['right']!;
  const { rowStart, rows, colStart } = attrs as unknown as CenteredGramAttrs;
  const [m, depth] = left.shape;
  if (left.shape.length !== 2 || right.shape.length !== 2 || right.shape[1] !== depth) {
    throw new Error(`${CENTERED_GRAM}: left [m, K] and right [r, K] must agree in K; got [${left.shape.join(', ')}] and [${right.shape.join(', ')}]`);
  }
  if (left.dtype !== 'float32' || right.dtype !== 'float32') throw new Error(`${CENTERED_GRAM}: float32 inputs only`);
  if (!(Number.isInteger(rowStart) && Number.isInteger(rows) && rowStart >= 0 && rows >= 1 && rowStart + rows <= m!)) {
    throw new Error(`${CENTERED_GRAM}: rows [${rowStart}, ${rowStart + rows}) are not within the ${m} rows of left`);
  }
  if (!(Number.isInteger(colStart) && colStart >= 0 && colStart < right.shape[0]!)) {
    throw new Error(`${CENTERED_GRAM}: colStart ${colStart} is not a row of right (${right.shape[0]} rows)`);
  }
  const r = right.shape[0]! - colStart;
  return runProgram(backend, program(rows, r), [left, right], 'float32', [
    { type: 'int32', data: [rowStart] },
    { type: 'int32', data: [rows] },
    { type: 'int32', data: [colStart] },
    { type: 'float32', data: [LOWEST] },
  ]);
};

export const centeredGramConfig: WebGpuKernelConfig = { kernelName: CENTERED_GRAM, kernelFunc };

/** Runs {@link CENTERED_GRAM} (webgpu only): [2, rows, r − colStart] hi/lo planes of left[rowStart…] · right[colStart…]ᵀ. */
export function centeredGram(left: tf.Tensor2D, right: tf.Tensor2D, rowStart: number, rows: number, colStart = 0): tf.Tensor3D {
  const attrs: CenteredGramAttrs = { rowStart, rows, colStart };
  return tf.engine().runKernel(CENTERED_GRAM, { left, right }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor3D;
}
