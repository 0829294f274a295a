/**
 * `TlHsic`: Σ K_ab · L_ab over two float-float matrices, the second half of the CKA Gram path on
 * WebGPU (../cka/deviceGram.ts), returning a few float-float partial sums for the host to add in
 * float64.
 *
 * Inputs `left`, `right`: [2, rows, cols] hi/lo planes (from ./centeredGram.ts); attr
 * `diagonalOffset`: with d ≥ 0, entries (i, j) with i + d = j are left out (the diagonal of a
 * Gram block: the unbiased HSIC needs Σ_{a≠b}); d < 0 keeps all. Attr `doubleFrom`: entries with
 * j ≥ doubleFrom count twice (a row block of an upper triangle stands for its mirror image too).
 * Output [W, 2] (W = {@link hsicGroups}): per workgroup a Dot2 pair (s, c) (./floatFloat.ts) whose sum is that workgroup's
 * part; the caller adds the W·2 numbers in float64.
 *
 * Each product (Kh + Kl)(Lh + Ll) is taken as TwoProd(Kh, Lh) + (Kh·Ll + Kl·Lh): the dropped Kl·Ll
 * is 2⁻⁴⁸ relative. One dispatch of W ≤ 64 workgroups of 256 threads: each thread walks the matrix
 * with a grid stride keeping its own pair, then the workgroup combines its 256 pairs in a tree
 * with error-free additions.
 */
import { tf } from '../tfjs';
import { FLOAT_FLOAT_WGSL, LOWEST } from './floatFloat';
import { type KernelFunc, type TensorInfo, type WebGpuKernelConfig, type WebGpuProgram, ceilDiv, runProgram } from './shared';

export const HSIC = 'TlHsic';

const WG = 256;
const MAX_GROUPS = 64;

export interface HsicAttrs {
  /** Leave out entries (i, j) with i + diagonalOffset = j; negative: keep every entry. */
  readonly diagonalOffset: number;
  /** Count entries (i, j) with j ≥ doubleFrom twice (the mirror images of an upper triangle). */
  readonly doubleFrom: number;
}

/** `doubleFrom` that doubles nothing. */
const NEVER = 2 ** 31 - 1;

function program(groups: number): WebGpuProgram {
  return {
    outputShape: [groups, 2],
    shaderKey: 'tlHsic',
    dispatchLayout: { x: [0], y: [1] },
    dispatch: [groups, 1, 1],
    variableNames: ['left', 'right'],
    uniforms: 'diagonalOffset : i32, doubleFrom : i32, lowest : f32,',
    workgroupSize: [WG, 1, 1],
    getUserCode: () => /* wgsl */ `
      ${FLOAT_FLOAT_WGSL}
      var<workgroup> partial : array<vec2<f32>, ${WG}>;
      fn main() {
        let rows = uniforms.leftShape.y;
        let cols = uniforms.leftShape.z;
        let total = rows * cols;
        let stride = i32(numWorkgroups.x) * ${WG};
        var acc = vec2<f32>(0.0, 0.0);
        for (var t = i32(workgroupId.x) * ${WG} + i32(localId.x); t < total; t = t + stride) {
          let i = t / cols;
          let j = t - i * cols;
          if (uniforms.diagonalOffset < 0 || i + uniforms.diagonalOffset != j) {
            let kh = left[t];
            let kl = left[total + t];
            let lh = right[t];
            let ll = right[total + t];
            let p = tlTwoProd(tlSplit(kh), tlSplit(lh));
            // × 2 for the mirrored entries: exact.
            let w = select(1.0, 2.0, j >= uniforms.doubleFrom);
            acc = tlAccumulate(acc, w * vec2<f32>(p.x, p.y + (kh * ll + kl * lh)));
          }
        }
        let lid = localId.x;
        partial[lid] = acc;
        workgroupBarrier();
        for (var width = ${WG / 2}u; width > 0u; width = width / 2u) {
          if (lid < width) { partial[lid] = tlCombine(partial[lid], partial[lid + width]); }
          workgroupBarrier();
        }
        if (lid == 0u) {
          let v = tlNormalise(partial[0]);
          result[i32(workgroupId.x) * 2] = v.x;
          result[i32(workgroupId.x) * 2 + 1] = v.y;
        }
      }
    `,
  };
}

/** The workgroups (rows of the output) `TlHsic` uses for a [2, rows, cols] input. */
export function hsicGroups(rows: number, cols: number): number {
  return Math.max(1, Math.min(MAX_GROUPS, ceilDiv(rows * cols, WG)));
}

const kernelFunc: KernelFunc = ({ inputs, backend, attrs }) => {
  const left = (inputs as Record<string, TensorInfo>)['left']!;
  const right = (inputs as Record<string, TensorInfo>)['right']!;
  const { diagonalOffset, doubleFrom } = attrs as unknown as HsicAttrs;
  if (left.shape.length !== 3 || left.shape[0] !== 2 || !tf.util.arraysEqual(left.shape, right.shape)) {
    throw new Error(`${HSIC}: left and right must both be [2, rows, cols] hi/lo planes; got [${left.shape.join(', ')}] and [${right.shape.join(', ')}]`);
  }
  if (left.dtype !== 'float32' || right.dtype !== 'float32') throw new Error(`${HSIC}: float32 inputs only`);
  if (!Number.isInteger(diagonalOffset) || !Number.isInteger(doubleFrom)) throw new Error(`${HSIC}: diagonalOffset and doubleFrom must be integers; got ${diagonalOffset}, ${doubleFrom}`);
  const groups = hsicGroups(left.shape[1]!, left.shape[2]!);
  return runProgram(backend, program(groups), [left, right], 'float32', [
    { type: 'int32', data: [diagonalOffset] },
    { type: 'int32', data: [Math.min(doubleFrom, NEVER)] },
    { type: 'float32', data: [LOWEST] },
  ]);
};

export const hsicConfig: WebGpuKernelConfig = { kernelName: HSIC, kernelFunc };

/** Runs {@link HSIC} (webgpu only): [W, 2] partial sums of Σ left ⊙ right (hi/lo planes). */
export function hsicPartials(left: tf.Tensor3D, right: tf.Tensor3D, diagonalOffset: number, doubleFrom = NEVER): tf.Tensor2D {
  const attrs: HsicAttrs = { diagonalOffset, doubleFrom };
  return tf.engine().runKernel(HSIC, { left, right }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor2D;
}
