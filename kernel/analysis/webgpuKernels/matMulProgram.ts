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
 * multiple of 4 is read as vec4s (one per thread per stage), otherwise as bounds-checked scalars.
 * Bias and activation are applied to the registers as they are written. Transposes, batch
 * broadcast, bias broadcast and the activation (but prelu) are uniforms, so that few programs
 * compile: one per pair of load paths, with or without bias, prelu or not.
 *
 * {@link runMatMul} returns `undefined` for what it does not cover (non-float32 dtypes, empty
 * operands, batch or bias shapes that do not reduce to the strides below, grids beyond the
 * device's limits); the kernels then call the stock kernel.
 */
import { tf } from '../tfjs';
import { asWebGpu, ceilDiv, runProgram, type ProgramUniform, type TensorInfo, type WebGpuProgram } from './shared';

/**
 * The activations tfjs fuses into a matrix product (`tf.fused.matMul`), as tfjs defines them, by
 * their code in the `activation` uniform (one compiled program serves them all; prelu alone needs
 * a program of its own, for its weights' binding).
 */
const ACTIVATIONS = {
  linear: 'v',
  relu: 'select(v, 0.0, v < 0.0)',
  relu6: 'clamp(v, 0.0, 6.0)',
  elu: 'select(exp(v) - 1.0, v, v >= 0.0)',
  leakyrelu: 'select(v, uniforms.alpha * v, v < 0.0)',
  sigmoid: '1.0 / (1.0 + exp(-v))',
  prelu: 'select(v, preluWeights[batch * uniforms.preluStrideB + row * uniforms.preluStrideM + col * uniforms.preluStrideN] * v, v < 0.0)',
} as const;
type Activation = keyof typeof ACTIVATIONS;
const ACTIVATION_NAMES = Object.keys(ACTIVATIONS) as Activation[];

const isActivation = (a: unknown): a is Activation => typeof a === 'string' && Object.hasOwn(ACTIVATIONS, a);

/** Every program this file builds has a shaderKey starting with this (tests look for it). */
export const MATMUL_SHADER_PREFIX = 'transferlabMatMul';

/** Output tile per workgroup (TILE × TILE), K slice staged per step, outputs per thread (PER × PER). */
const TILE = 64;
const TILE_K = 16;
const PER = 4;
const THREADS = (TILE / PER) * (TILE / PER); // 256, as 16 × 16
/** vec4s per k row of a staged tile: one more than TILE / 4, so that the scattered scalar stores of a k-major slice spread over the banks. */
const ROW = TILE / 4 + 1;
const ROWS = [0, 1, 2, 3]; // a thread's rows (PER of them), unrolled

/**
 * How an operand's K slice is read: `outer4`, vec4s along its outer dimension (M of A, N of B)
 * when that is its contiguous one and a multiple of 4 (A transposed, B as it is); `k4`, vec4s
 * along K when K is contiguous and a multiple of 4; `scalar` otherwise, bounds-checked.
 */
type Load = 'outer4' | 'k4' | 'scalar';

/** What the generated shader depends on (each combination compiles once per backend). */
interface Variant {
  loadA: Load;
  loadB: Load;
  bias: boolean;
  /** Whether the activation is prelu (its weights are a binding); others are the `activation` uniform. */
  prelu: boolean;
}

/**
 * WGSL that stages one operand's K slice into workgroup memory (`tile`, k-major, vec4s along the
 * operand's outer dimension M or N). Element (o, k) of batch entry `batch` of the operand is at
 * `base + o·so + k·sk` (uniforms `<x>StrideO`, `<x>StrideK`: transposes are strides).
 */
function stageSnippet(x: 'a' | 'b', tile: string, outerDim: string, outer0: string, load: Load): string {
  const buf = x.toUpperCase();
  const [so, sk, base] = [`uniforms.${x}StrideO`, `uniforms.${x}StrideK`, `${x}Base`];
  const inBounds = `kk < uniforms.dimK && oo < ${outerDim}`;
  if (load === 'outer4') {
    // One vec4 of 4 consecutive outer indices per load: tile[k][o / 4] directly.
    return `for (var e = t; e < ${(TILE_K * TILE) / 4}; e += ${THREADS}) {
      let k = e / ${TILE / 4}; let o = 4 * (e % ${TILE / 4});
      let kk = k0 + k; let oo = ${outer0} + o;
      var v = vec4<f32>(0.0);
      if (${inBounds}) { v = ${buf}[(${base} + kk * ${sk} + oo) / 4]; }
      ${tile}[k * ${ROW} + o / 4] = v;
    }`;
  }
  if (load === 'k4') {
    // One vec4 of 4 consecutive k per load, scattered over 4 rows of the k-major tile.
    return `for (var e = t; e < ${(TILE_K * TILE) / 4}; e += ${THREADS}) {
      let o = e / ${TILE_K / 4}; let k = 4 * (e % ${TILE_K / 4});
      let kk = k0 + k; let oo = ${outer0} + o;
      var v = vec4<f32>(0.0);
      if (${inBounds}) { v = ${buf}[(${base} + oo * ${so} + kk) / 4]; }
      for (var c = 0; c < 4; c++) { ${tile}[(k + c) * ${ROW} + o / 4][o % 4] = v[c]; }
    }`;
  }
  // Scalars, consecutive threads along the contiguous dimension.
  return `for (var e = t; e < ${TILE_K * TILE}; e += ${THREADS}) {
      let outerMajor = ${so} == 1;
      let k = select(e % ${TILE_K}, e / ${TILE}, outerMajor); let o = select(e / ${TILE_K}, e % ${TILE}, outerMajor);
      let kk = k0 + k; let oo = ${outer0} + o;
      var v = 0.0;
      if (${inBounds}) { v = ${buf}[${base} + oo * ${so} + kk * ${sk}]; }
      ${tile}[k * ${ROW} + o / 4][o % 4] = v;
    }`;
}

/** The activation of `v`: prelu, or the one the `activation` uniform names. */
function activationSnippet(prelu: boolean): string {
  if (prelu) return `return ${ACTIVATIONS.prelu};`;
  const cases = ACTIVATION_NAMES.filter((a) => a !== 'prelu' && a !== 'linear').map((a) => `case ${ACTIVATION_NAMES.indexOf(a)}: { return ${ACTIVATIONS[a]}; }`);
  return `switch (uniforms.activation) {
        ${cases.join('\n        ')}
        default: { return v; }
      }`;
}

function userCode(v: Variant): string {
  const M = 'uniforms.dimM';
  const N = 'uniforms.dimN';
  return `
    // Staged K slices: [k][m / 4] of A and [k][n / 4] of B, as vec4s along M and N (rows padded).
    var<workgroup> tileA : array<vec4<f32>, ${TILE_K * ROW}>;
    var<workgroup> tileB : array<vec4<f32>, ${TILE_K * ROW}>;

    // Bias and activation of one output element (row, col) of batch entry \`batch\`.
    fn epilogue(x : f32, batch : i32, row : i32, col : i32) -> f32 {
      var v = x;
      ${v.bias ? 'v = v + bias[batch * uniforms.biasStrideB + row * uniforms.biasStrideM + col * uniforms.biasStrideN];' : ''}
      ${activationSnippet(v.prelu)}
    }

    // Writes C[row][col … col + 3] (those within bounds), bias and activation applied.
    fn store(batch : i32, row : i32, col : i32, r : vec4<f32>) {
      if (row >= uniforms.dimM) { return; }
      let outIndex = (batch * uniforms.dimM + row) * uniforms.dimN + col;
      for (var c = 0; c < 4; c++) {
        if (col + c < uniforms.dimN) { result[outIndex + c] = epilogue(r[c], batch, row, col + c); }
      }
    }

    fn main() {
      let t = i32(localIndex);
      let tx = i32(localId.x);
      let ty = i32(localId.y);
      let row0 = i32(workgroupId.y) * ${TILE};
      let col0 = i32(workgroupId.x) * ${TILE};
      let batch = i32(workgroupId.z);
      let aBase = batch * uniforms.aStrideBatch;
      let bBase = batch * uniforms.bStrideBatch;

      // acc<i> holds C[row0 + 4·ty + i][col0 + 4·tx … col0 + 4·tx + 3] (in registers).
      ${ROWS.map((i) => `var acc${i} = vec4<f32>(0.0);`).join(' ')}
      for (var k0 = 0; k0 < uniforms.dimK; k0 += ${TILE_K}) {
        ${stageSnippet('a', 'tileA', M, 'row0', v.loadA)}
        ${stageSnippet('b', 'tileB', N, 'col0', v.loadB)}
        workgroupBarrier();
        for (var k = 0; k < ${TILE_K}; k++) {
          let a = tileA[k * ${ROW} + ty];
          let b = tileB[k * ${ROW} + tx];
          ${ROWS.map((i) => `acc${i} = fma(vec4<f32>(a[${i}]), b, acc${i});`).join('\n          ')}
        }
        workgroupBarrier();
      }

      let col = col0 + ${PER} * tx;
      ${ROWS.map((i) => `store(batch, row0 + ${PER} * ty + ${i}, col, acc${i});`).join('\n      ')}
    }
  `;
}

const UNIFORMS = [
  'dimM',
  'dimN',
  'dimK',
  'aStrideBatch',
  'aStrideO',
  'aStrideK',
  'bStrideBatch',
  'bStrideO',
  'bStrideK',
  'biasStrideB',
  'biasStrideM',
  'biasStrideN',
  'preluStrideB',
  'preluStrideM',
  'preluStrideN',
  'activation',
] as const;

function matMulProgram(v: Variant, outputShape: [number, number, number], variableNames: string[]): WebGpuProgram {
  const [batch, m, n] = outputShape;
  return {
    outputShape,
    shaderKey: `${MATMUL_SHADER_PREFIX}_${v.loadA}_${v.loadB}${v.bias ? '_bias' : ''}${v.prelu ? '_prelu' : ''}`,
    dispatchLayout: { x: [2], y: [1], z: [0] },
    dispatch: [ceilDiv(n, TILE), ceilDiv(m, TILE), batch],
    variableNames,
    variableComponents: [v.loadA === 'scalar' ? 1 : 4, v.loadB === 'scalar' ? 1 : 4, ...variableNames.slice(2).map(() => 1)],
    uniforms: `${UNIFORMS.map((u) => `${u} : i32, `).join('')}alpha : f32,`,
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

  // vec4 reads need the operand's contiguous dimension (its rows as stored) to be a multiple of 4.
  const load = (outerMajor: boolean, outer: number): Load => (outerMajor ? (outer % 4 === 0 ? 'outer4' : 'scalar') : k % 4 === 0 ? 'k4' : 'scalar');
  const variant: Variant = { loadA: load(transposeA, m), loadB: load(!transposeB, n), bias: bias !== undefined, prelu: activation === 'prelu' };
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
  // Strides of element (outer, k): A is [M, K] or, transposed, [K, M]; B is [K, N] or [N, K].
  const [aO, aK] = transposeA ? [1, m] : [k, 1];
  const [bO, bK] = transposeB ? [k, 1] : [1, n];
  const uniforms: ProgramUniform[] = [
    ...[m, n, k, batchA === 1 ? 0 : m * k, aO, aK, batchB === 1 ? 0 : k * n, bO, bK, ...biasStrides, ...preluStrides, ACTIVATION_NAMES.indexOf(activation)].map(
      (x): ProgramUniform => ({ type: 'int32', data: [x] }),
    ),
    { type: 'float32', data: [args.leakyreluAlpha ?? 0] },
  ];
  const out = runProgram(backend, matMulProgram(variant, [batch, m, n], names), inputs, 'float32', uniforms);
  // The program's output is [batch, M, N]; the kernel's is [...batch dims, M, N] (same data).
  return { dataId: out.dataId, shape: [...batchShape, m, n], dtype: out.dtype };
}
