/**
 * The implicit GEMM that TransferLab's WebGPU convolution kernels share (conv2D.ts,
 * fusedConv2D.ts, conv2DBackpropInput.ts, conv2DBackpropFilter.ts).
 *
 * Every 2-D convolution and both of its gradients is a matrix product C[M×N] = A[M×K] · B[K×N]
 * whose A (and for the input gradient, B) are never built in memory: each kernel gives WGSL
 * functions that read A(m, k) and B(k, n) straight from the NHWC tensors (zero outside the image)
 * and store C(m, n) where it belongs. This file writes the tiled product around them:
 *
 * - a workgroup of 256 threads (WX × WY) owns a TM × TN tile of C (TM = 4·WY, TN = 4·WX) and walks
 *   K in steps of TK = 16, staging a TK × TM slice of A and a TK × TN slice of B in workgroup memory;
 * - each thread keeps a 4 × 4 block of C in registers (rows 4·ty…4·ty+3, columns 4·tx…4·tx+3) and
 *   reads its operands from workgroup memory as vec4s;
 * - the tile shape follows N (TN = 16, 32 or 64) so that a narrow output (1 input channel, 32
 *   filters) does not waste most of each tile;
 * - `workgroup_id.z` selects a slice of the problem the kernel defines (a stride phase of the input
 *   gradient, a K split of the filter gradient); the number of K steps is a uniform, the same for
 *   every workgroup (barriers stay in uniform control flow), and `kRange(z)` masks what a slice
 *   does not own.
 *
 * Shapes and convolution parameters are uniforms: one compiled pipeline per kernel, tile shape and
 * fused activation, whatever the sizes.
 */
import type { tf } from '../tfjs';
import type { KernelFunc, ProgramUniform, WebGpuKernelConfig, WebGpuProgram } from './shared';
import { asWebGpu, ceilDiv } from './shared';

/** K step of a tile (rows of A, columns of B staged per barrier). */
export const TK = 16;
/** Threads per workgroup. */
const THREADS = 256;

/** How many times each kernel of ours ran (not the stock fallback): tests check they did. */
export const convKernelRuns = { conv2D: 0, fusedConv2D: 0, conv2DBackpropInput: 0, conv2DBackpropFilter: 0 };

/**
 * The registration of a convolution kernel of ours: `compute` returns its output, or null for a
 * case it does not cover, which the stock kernel then computes; the runs of ours are counted in
 * {@link convKernelRuns}.
 */
export function convKernelConfig(kernelName: string, counter: keyof typeof convKernelRuns, compute: (args: Parameters<KernelFunc>[0]) => ReturnType<KernelFunc> | null): WebGpuKernelConfig {
  return {
    kernelName,
    wraps:
      (stock: KernelFunc): KernelFunc =>
      (args) => {
        const out = compute(args);
        if (out === null) return stock(args);
        convKernelRuns[counter]++;
        return out;
      },
  };
}

/** The tile shape for a product with N columns: [WX, WY] threads, each 4×4 outputs. */
export function tileFor(n: number): { wx: number; wy: number; tm: number; tn: number } {
  const wx = n <= 16 ? 4 : n <= 32 ? 8 : 16;
  const wy = THREADS / wx;
  return { wx, wy, tm: 4 * wy, tn: 4 * wx };
}

/** What a kernel gives the product. */
export interface GemmSpec {
  /** Pipeline cache key: the kernel's name and every compile-time choice it makes. */
  readonly key: string;
  readonly variableNames: string[];
  readonly outputShape: number[];
  /** Extra uniform fields (WGSL struct members, `name : i32,`), filled by `uniformData`. */
  readonly uniforms: string;
  readonly uniformData: ProgramUniform[];
  /** M, N and the number of K steps' worth of K every slice loops over (`kLoop`). */
  readonly m: number;
  readonly n: number;
  readonly kLoop: number;
  /** Slices along workgroup_id.z. */
  readonly slices: number;
  /** Whether A(m, ·) is contiguous along k (stage it k-fastest) or along m. */
  readonly aAlongK: boolean;
  /** Whether B(·, n) is contiguous along k (stage it k-fastest) or along n. */
  readonly bAlongK: boolean;
  /**
   * WGSL defining
   * - `fn kRange(z: i32) -> vec2<i32>`: the K interval slice z owns;
   * - `fn rowOf(m: i32, z: i32) -> vec4<i32>` and `fn colOf(k: i32, z: i32) -> vec4<i32>`: the
   *   coordinates row m and column k of A stand for (the divisions, done once per thread and
   *   K step rather than per element);
   * - `fn loadA(r: vec4<i32>, c: vec4<i32>, z: i32) -> f32`: A(m, k) from rowOf(m), colOf(k);
   * - `fn loadB(c: vec4<i32>, k: i32, n: i32, z: i32) -> f32`: B(k, n) (c = colOf(k) when
   *   bAlongK, else unset);
   * - `fn storeC(m: i32, n: i32, z: i32, v: f32)`.
   * Loads are called with m < M, n < N and k in kRange(z) only; storeC with m < M and n < N.
   */
  readonly helpers: string;
}

/** The program and uniforms of the tiled implicit GEMM of `spec`. */
export function gemmProgram(spec: GemmSpec): { program: WebGpuProgram; uniforms: ProgramUniform[] } {
  const { wx, wy, tm, tn } = tileFor(spec.n);
  const rank = spec.outputShape.length;
  // Threads stage tiles in rounds of 256 elements: A's TK×TM slice takes TM/16 rounds, B's TN/16.
  // Element e = localIndex + 256·r of a slice. As 256 is a multiple of TK, TM and TN, the fastest
  // index of e is the same in every round: staged k-fastest, a thread always loads column
  // k0 + li % TK (one colOf per K step) of rows that do not change along K (rowOf once, before
  // the loop); staged m-fastest, always row m0 + li % TM (rowOf once) of columns
  // k0 + li / TM + (256 / TM)·r.
  const aRounds = (TK * tm) / THREADS;
  const bRounds = (TK * tn) / THREADS;
  const aLoads = spec.aAlongK
    ? `for (var r = 0; r < ${aRounds}; r = r + 1) {
      let mm = li / ${TK} + r * ${THREADS / TK};
      var v = 0.0;
      if (m0 + mm < uniforms.M && kMine < kr.y) { v = loadA(aRows[r], kCol, z); }
      As[li % ${TK}][mm / 4][mm % 4] = v;
    }`
    : `for (var r = 0; r < ${aRounds}; r = r + 1) {
      let kk = li / ${tm} + r * ${THREADS / tm};
      let k = k0 + kk;
      var v = 0.0;
      if (aRowOk && k < kr.y) { v = loadA(aRow, colOf(k, z), z); }
      As[kk][(li % ${tm}) / 4][li % 4] = v;
    }`;
  const bLoads = spec.bAlongK
    ? `for (var r = 0; r < ${bRounds}; r = r + 1) {
      let nn = li / ${TK} + r * ${THREADS / TK};
      let n = n0 + nn;
      var v = 0.0;
      if (n < uniforms.N && kMine < kr.y) { v = loadB(kCol, kMine, n, z); }
      Bs[li % ${TK}][nn / 4][nn % 4] = v;
    }`
    : `for (var r = 0; r < ${bRounds}; r = r + 1) {
      let kk = li / ${tn} + r * ${THREADS / tn};
      let k = k0 + kk;
      let n = n0 + li % ${tn};
      var v = 0.0;
      if (n < uniforms.N && k < kr.y) { v = loadB(vec4<i32>(0), k, n, z); }
      Bs[kk][(li % ${tn}) / 4][li % 4] = v;
    }`;
  const needCol = spec.aAlongK || spec.bAlongK;
  const userCode = `
${spec.helpers}

// As[kk][q] holds A(m0 + 4q … m0 + 4q + 3, k0 + kk); Bs[kk][q] holds B(k0 + kk, n0 + 4q … +3).
var<workgroup> As : array<array<vec4<f32>, ${tm / 4}>, ${TK}>;
var<workgroup> Bs : array<array<vec4<f32>, ${tn / 4}>, ${TK}>;

fn main() {
  let tx = i32(localId.x);
  let ty = i32(localId.y);
  let li = i32(localIndex);
  let n0 = i32(workgroupId.x) * ${tn};
  let m0 = i32(workgroupId.y) * ${tm};
  let z = i32(workgroupId.z);
  let kr = kRange(z);
  ${
    spec.aAlongK
      ? `var aRows : array<vec4<i32>, ${aRounds}>;
  for (var r = 0; r < ${aRounds}; r = r + 1) { aRows[r] = rowOf(min(m0 + li / ${TK} + r * ${THREADS / TK}, uniforms.M - 1), z); }`
      : `let aRowOk = m0 + li % ${tm} < uniforms.M;
  let aRow = rowOf(min(m0 + li % ${tm}, uniforms.M - 1), z);`
  }
  // acc[i][j] = C(m0 + 4·ty + i, n0 + 4·tx + j), in registers.
  var acc : array<vec4<f32>, 4>;
  // The trip count is a uniform (the longest slice); shorter slices read zeros past kr.y.
  for (var t = 0; t < uniforms.kLoop; t = t + ${TK}) {
    let k0 = kr.x + t;
    let kMine = k0 + li % ${TK};
    ${needCol ? 'let kCol = colOf(min(kMine, max(kr.y - 1, 0)), z);' : ''}
    ${aLoads}
    ${bLoads}
    workgroupBarrier();
    for (var kk = 0; kk < ${TK}; kk = kk + 1) {
      let a = As[kk][ty];
      let b = Bs[kk][tx];
      acc[0] = fma(vec4<f32>(a.x), b, acc[0]);
      acc[1] = fma(vec4<f32>(a.y), b, acc[1]);
      acc[2] = fma(vec4<f32>(a.z), b, acc[2]);
      acc[3] = fma(vec4<f32>(a.w), b, acc[3]);
    }
    workgroupBarrier();
  }
  for (var i = 0; i < 4; i = i + 1) {
    let m = m0 + ty * 4 + i;
    if (m >= uniforms.M) { break; }
    for (var j = 0; j < 4; j = j + 1) {
      let n = n0 + tx * 4 + j;
      if (n < uniforms.N) { storeC(m, n, z, acc[i][j]); }
    }
  }
}
`;
  const program: WebGpuProgram = {
    outputShape: spec.outputShape,
    shaderKey: `tlConvGemm_${spec.key}_${wx}x${wy}_${spec.aAlongK ? 'ak' : 'am'}${spec.bAlongK ? 'bk' : 'bn'}`,
    // Not a flat layout: `main()` takes no index and the coordinates are ours.
    dispatchLayout: rank === 4 ? { x: [3], y: [1, 2], z: [0] } : { x: [rank - 1], y: [0] },
    dispatch: [ceilDiv(spec.n, tn), ceilDiv(spec.m, tm), spec.slices],
    variableNames: spec.variableNames,
    uniforms: `M : i32, N : i32, kLoop : i32, ${spec.uniforms}`,
    workgroupSize: [wx, wy, 1],
    getUserCode: () => userCode,
  };
  const kLoop = ceilDiv(spec.kLoop, TK) * TK;
  const uniforms: ProgramUniform[] = [
    { type: 'int32', data: [spec.m] },
    { type: 'int32', data: [spec.n] },
    { type: 'int32', data: [kLoop] },
    ...spec.uniformData,
  ];
  return { program, uniforms };
}

/**
 * Whether the device can dispatch `program` in one go (at most maxComputeWorkgroupsPerDimension
 * workgroups along each axis, 65535 by default); kernels leave larger problems to the stock kernel.
 */
export function fitsDispatch(backend: unknown, program: WebGpuProgram): boolean {
  const limit = asWebGpu(backend).device.limits['maxComputeWorkgroupsPerDimension'] ?? 65535;
  return program.dispatch.every((d) => d <= limit);
}

/** `name : i32,` fields and their values, in one order. */
/**
 * The geometry every convolution kernel here declares as int uniforms (sizes, filter width,
 * strides, dilations, top/left padding), from tfjs's Conv2DInfo; a kernel adds its own.
 */
export function convGeometry(info: tf.backend_util.Conv2DInfo): Record<string, number> {
  return {
    inH: info.inHeight,
    inW: info.inWidth,
    inC: info.inChannels,
    outH: info.outHeight,
    outW: info.outWidth,
    outC: info.outChannels,
    fW: info.filterWidth,
    sH: info.strideHeight,
    sW: info.strideWidth,
    dH: info.dilationHeight,
    dW: info.dilationWidth,
    padT: info.padInfo.top,
    padL: info.padInfo.left,
  };
}

export function intUniforms(values: Record<string, number>): { decl: string; data: ProgramUniform[] } {
  const names = Object.keys(values);
  return {
    decl: names.map((n) => `${n} : i32,`).join(' '),
    data: names.map((n) => ({ type: 'int32' as const, data: [values[n]!] })),
  };
}
