/**
 * TransferLab's WebGPU matrix product, shared by the BatchMatMul and _FusedMatMul kernels:
 * C[b] = act(op(A[b]) · op(B[b]) + bias) in one dispatch, where op is an optional transpose.
 *
 * Tiling (for a real GPU; lavapipe only checks correctness): each workgroup of 16×16 threads
 * computes a 64×64 tile of one batch entry of C, each thread a 4×4 block of it (rows 4·ty…4·ty+3,
 * columns 4·tx…4·tx+3), held in registers. K advances in steps of 16: the workgroup stages the
 * 64×16 slice of A and the 16×64 slice of B in workgroup memory, both k-major as vec4s along M
 * (A) and N (B), so that each step of the inner loop is one vec4 read of A, one of B, and four
 * vec4 multiply-adds. Transposes are indexing only. An operand whose contiguous dimension is a
 * multiple of 4 is read as vec4s (one per thread per stage), otherwise as bounds-checked scalars;
 * the output is written as vec4s when N is a multiple of 4. Bias and activation are applied to
 * the registers before the write.
 *
 * {@link runMatMul} returns `undefined` for what it does not cover (non-float32 dtypes, empty
 * operands, batch or bias shapes that do not reduce to the strides below, grids beyond the
 * device's limits); the kernels then call the stock kernel.
 */
import { tf } from '../tfjs';
import { asWebGpu, ceilDiv, runProgram, type ProgramUniform, type TensorInfo, type WebGpuProgram } from './shared';

/** The activations tfjs fuses into a matrix product (`tf.fused.matMul`), as tfjs defines them. */
const ACTIVATIONS = {
  linear: 'v',
  relu: 'select(v, 0.0, v < 0.0)',
  relu6: 'clamp(v, 0.0, 6.0)',
  elu: 'select(exp(v) - 1.0, v, v >= 0.0)',
  leakyrelu: 'select(v, uniforms.alpha * v, v < 0.0)',
  prelu: 'select(v, preluWeights[batch * uniforms.preluStrideB + row * uniforms.preluStrideM + col * uniforms.preluStrideN] * v, v < 0.0)',
  sigmoid: '1.0 / (1.0 + exp(-v))',
} as const;
export type MatMulActivation = keyof typeof ACTIVATIONS;

const isActivation = (a: unknown): a is MatMulActivation => typeof a === 'string' && Object.hasOwn(ACTIVATIONS, a);

/** Every program this file builds has a shaderKey starting with this (tests look for it). */
export const MATMUL_SHADER_PREFIX = 'transferlabMatMul';

/** Output tile per workgroup (TILE × TILE), K slice staged per step, outputs per thread (PER × PER). */
const TILE = 64;
const TILE_K = 16;
const PER = 4;
const THREADS = (TILE / PER) * (TILE / PER); // 256, as 16 × 16

/** What the generated shader depends on (each combination compiles once per backend). */
interface Variant {
  transposeA: boolean;
  transposeB: boolean;
  /** Whether A, B are read as vec4s along their contiguous dimension, and C written as vec4s. */
  vecA: boolean;
  vecB: boolean;
  vecOut: boolean;
  bias: boolean;
  activation: MatMulActivation;
}

/**
 * WGSL that stages one operand's K slice into workgroup memory (`tile`, k-major, vec4s along the
 * operand's outer dimension M or N). `outerMajor`: the operand is stored [K, outer] (A transposed,
 * B as it is), so its contiguous dimension is the outer one; otherwise [outer, K].
 */
function stageSnippet(buf: string, tile: string, outerDim: string, outer0: string, base: string, outerMajor: boolean, vec: boolean): string {
  const K = 'uniforms.dimK';
  if (vec && outerMajor) {
    // One vec4 of 4 consecutive outer indices per load: tile[k][o4] directly.
    return `for (var e = t; e < ${(TILE_K * TILE) / 4}; e += ${THREADS}) {
      let k = e / ${TILE / 4}; let o = 4 * (e % ${TILE / 4});
      let kk = k0 + k; let oo = ${outer0} + o;
      var v = vec4<f32>(0.0);
      if (kk < ${K} && oo < ${outerDim}) { v = ${buf}[(${base} + kk * ${outerDim} + oo) / 4]; }
      ${tile}[k * ${TILE / 4} + o / 4] = v;
    }`;
  }
  if (vec) {
    // One vec4 of 4 consecutive k per load, scattered over 4 rows of the k-major tile.
    return `for (var e = t; e < ${(TILE_K * TILE) / 4}; e += ${THREADS}) {
      let o = e / ${TILE_K / 4}; let k = 4 * (e % ${TILE_K / 4});
      let kk = k0 + k; let oo = ${outer0} + o;
      var v = vec4<f32>(0.0);
      if (kk < ${K} && oo < ${outerDim}) { v = ${buf}[(${base} + oo * ${K} + kk) / 4]; }
      for (var c = 0; c < 4; c++) { ${tile}[(k + c) * ${TILE / 4} + o / 4][o % 4] = v[c]; }
    }`;
  }
  // Scalars, consecutive threads along the contiguous dimension.
  const [kOf, oOf, index] = outerMajor
    ? [`e / ${TILE}`, `e % ${TILE}`, `${base} + kk * ${outerDim} + oo`]
    : [`e % ${TILE_K}`, `e / ${TILE_K}`, `${base} + oo * ${K} + kk`];
  return `for (var e = t; e < ${TILE_K * TILE}; e += ${THREADS}) {
      let k = ${kOf}; let o = ${oOf};
      let kk = k0 + k; let oo = ${outer0} + o;
      var v = 0.0;
      if (kk < ${K} && oo < ${outerDim}) { v = ${buf}[${index}]; }
      ${tile}[k * ${TILE / 4} + o / 4][o % 4] = v;
    }`;
}

function userCode(v: Variant): string {
  const M = 'uniforms.dimM';
  const N = 'uniforms.dimN';
  const store = v.vecOut
    ? `if (col < ${N}) {
        var r = acc[i];
        for (var c = 0; c < 4; c++) { r[c] = epilogue(r[c], batch, row, col + c); }
        result[(outBase + row * ${N} + col) / 4] = r;
      }`
    : `for (var c = 0; c < 4; c++) {
        if (col + c < ${N}) { result[outBase + row * ${N} + col + c] = epilogue(acc[i][c], batch, row, col + c); }
      }`;
  return `
    // Staged K slices: [k][m / 4] of A and [k][n / 4] of B, as vec4s along M and N.
    var<workgroup> tileA : array<vec4<f32>, ${(TILE_K * TILE) / 4}>;
    var<workgroup> tileB : array<vec4<f32>, ${(TILE_K * TILE) / 4}>;

    // Bias and activation of one output element (row, col) of batch entry \`batch\`.
    fn epilogue(x : f32, batch : i32, row : i32, col : i32) -> f32 {
      var v = x;
      ${v.bias ? 'v = v + bias[batch * uniforms.biasStrideB + row * uniforms.biasStrideM + col * uniforms.biasStrideN];' : ''}
      return ${ACTIVATIONS[v.activation]};
    }

    fn main() {
      let t = i32(localIndex);
      let tx = i32(localId.x);
      let ty = i32(localId.y);
      let row0 = i32(workgroupId.y) * ${TILE};
      let col0 = i32(workgroupId.x) * ${TILE};
      let batch = i32(workgroupId.z);
      let baseA = batch * uniforms.strideA;
      let baseB = batch * uniforms.strideB;

      // acc[i] holds C[row0 + 4·ty + i][col0 + 4·tx … col0 + 4·tx + 3].
      var acc : array<vec4<f32>, ${PER}>;
      for (var k0 = 0; k0 < uniforms.dimK; k0 += ${TILE_K}) {
        ${stageSnippet('A', 'tileA', M, 'row0', 'baseA', v.transposeA, v.vecA)}
        ${stageSnippet('B', 'tileB', N, 'col0', 'baseB', !v.transposeB, v.vecB)}
        workgroupBarrier();
        for (var k = 0; k < ${TILE_K}; k++) {
          let a = tileA[k * ${TILE / 4} + ty];
          let b = tileB[k * ${TILE / 4} + tx];
          for (var i = 0; i < ${PER}; i++) { acc[i] = fma(vec4<f32>(a[i]), b, acc[i]); }
        }
        workgroupBarrier();
      }

      let outBase = batch * ${M} * ${N};
      let col = col0 + ${PER} * tx;
      for (var i = 0; i < ${PER}; i++) {
        let row = row0 + ${PER} * ty + i;
        if (row >= ${M}) { break; }
        ${store}
      }
    }
  `;
}

function matMulProgram(v: Variant, outputShape: [number, number, number], variableNames: string[]): WebGpuProgram {
  const [batch, m, n] = outputShape;
  const key = [v.transposeA, v.transposeB, v.vecA, v.vecB, v.vecOut, v.bias].map((f) => (f ? 1 : 0)).join('');
  return {
    outputShape,
    shaderKey: `${MATMUL_SHADER_PREFIX}_${key}_${v.activation}`,
    dispatchLayout: { x: [2], y: [1], z: [0] },
    dispatch: [ceilDiv(n, TILE), ceilDiv(m, TILE), batch],
    variableNames,
    variableComponents: [v.vecA ? 4 : 1, v.vecB ? 4 : 1, ...variableNames.slice(2).map(() => 1)],
    outputComponent: v.vecOut ? 4 : 1,
    uniforms:
      'dimM : i32, dimN : i32, dimK : i32, strideA : i32, strideB : i32, biasStrideB : i32, biasStrideM : i32, biasStrideN : i32, ' +
      'preluStrideB : i32, preluStrideM : i32, preluStrideN : i32, alpha : f32,',
    workgroupSize: [TILE / PER, TILE / PER, 1],
    getUserCode: () => userCode(v),
  };
}

/** A matrix product as the BatchMatMul and _FusedMatMul kernels receive it. */
export interface MatMulArgs {
  a: TensorInfo;
  b: TensorInfo;
  transposeA: boolean;
  transposeB: boolean;
  bias?: TensorInfo | undefined;
  preluWeights?: TensorInfo | undefined;
  activation?: unknown;
  leakyreluAlpha?: number | undefined;
}

const size = (shape: readonly number[]): number => shape.reduce((p, d) => p * d, 1);

/**
 * Strides [batch, row, col] of a tensor broadcast against the output [batch, M, N] (batch: the
 * output's batch dimensions flattened), or undefined where its leading dimensions are neither
 * all 1 nor the output's (e.g. [3, 1, N] against batch dimensions [2, 3]).
 */
function broadcastStrides(shape: readonly number[], batch: number, m: number, n: number): [number, number, number] | undefined {
  const cols = shape.length >= 1 ? shape[shape.length - 1]! : 1;
  const rows = shape.length >= 2 ? shape[shape.length - 2]! : 1;
  const lead = size(shape.slice(0, -2));
  if ((cols !== n && cols !== 1) || (rows !== m && rows !== 1) || (lead !== batch && lead !== 1)) return undefined;
  return [lead === 1 ? 0 : rows * cols, rows === 1 ? 0 : cols, cols === 1 ? 0 : 1];
}

/** One float32 tensor viewed flat (same data, no copy): the shader does its own indexing. */
const flat = (t: TensorInfo): TensorInfo => ({ dataId: t.dataId, shape: [size(t.shape)], dtype: t.dtype });

/**
 * act(op(a) · op(b) + bias) as one dispatch of TransferLab's program, or `undefined` when the
 * case is not covered (the caller then runs the stock kernel). Batch dimensions broadcast as in
 * tfjs's BatchMatMul when one operand's batch is 1 or both equal the output's.
 */
export function runMatMul(backend: unknown, args: MatMulArgs): TensorInfo | undefined {
  const { a, b, transposeA, transposeB, bias, preluWeights } = args;
  const activation = args.activation ?? 'linear';
  if (!isActivation(activation) || (activation === 'prelu') !== (preluWeights !== undefined)) return undefined;
  if ([a, b, bias, preluWeights].some((t) => t !== undefined && t.dtype !== 'float32')) return undefined;
  if (a.shape.length < 2 || b.shape.length < 2) return undefined;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const [m, k] = transposeA ? [a.shape[ra - 1]!, a.shape[ra - 2]!] : [a.shape[ra - 2]!, a.shape[ra - 1]!];
  const [kb, n] = transposeB ? [b.shape[rb - 1]!, b.shape[rb - 2]!] : [b.shape[rb - 2]!, b.shape[rb - 1]!];
  if (k !== kb || m === 0 || n === 0 || k === 0) return undefined; // the stock kernel reports a mismatch
  let batchShape: number[];
  try {
    batchShape = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  } catch {
    return undefined;
  }
  const batch = size(batchShape);
  const batchA = size(a.shape.slice(0, -2));
  const batchB = size(b.shape.slice(0, -2));
  if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) return undefined;
  const biasStrides = bias ? broadcastStrides(bias.shape, batch, m, n) : [0, 0, 0];
  const preluStrides = preluWeights ? broadcastStrides(preluWeights.shape, batch, m, n) : [0, 0, 0];
  if (!biasStrides || !preluStrides) return undefined;
  const maxGrid = asWebGpu(backend).device.limits['maxComputeWorkgroupsPerDimension'] ?? 65535;
  if (batch > maxGrid || ceilDiv(m, TILE) > maxGrid || ceilDiv(n, TILE) > maxGrid) return undefined;
  if (Math.max(batch * m * n, size(a.shape), size(b.shape)) >= 2 ** 31) return undefined;

  const variant: Variant = {
    transposeA,
    transposeB,
    // vec4 reads need the contiguous dimension (rows of the stored matrix) to be a multiple of 4.
    vecA: (transposeA ? m : k) % 4 === 0,
    vecB: (transposeB ? k : n) % 4 === 0,
    vecOut: n % 4 === 0,
    bias: bias !== undefined,
    activation,
  };
  const inputs = [flat(a), flat(b)];
  const names = ['A', 'B'];
  if (bias) {
    inputs.push(flat(bias));
    names.push('bias');
  }
  if (preluWeights) {
    inputs.push(flat(preluWeights));
    names.push('preluWeights');
  }
  const int = (x: number): ProgramUniform => ({ type: 'int32', data: [x] });
  const uniforms: ProgramUniform[] = [
    int(m),
    int(n),
    int(k),
    int(batchA === 1 ? 0 : m * k),
    int(batchB === 1 ? 0 : k * n),
    ...biasStrides.map(int),
    ...preluStrides.map(int),
    { type: 'float32', data: [args.leakyreluAlpha ?? 0] },
  ];
  const out = runProgram(backend, matMulProgram(variant, [batch, m, n], names), inputs, 'float32', uniforms);
  // The program's output is [batch, M, N]; the kernel's is [...batch dims, M, N] (same data).
  return { dataId: out.dataId, shape: [...batchShape, m, n], dtype: out.dtype };
}
