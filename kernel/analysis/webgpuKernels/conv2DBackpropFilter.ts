/**
 * Conv2DBackpropFilter (the gradient of a convolution with respect to its filter) on the webgpu
 * backend: an implicit GEMM (see ./convGemm.ts) whose long K dimension, the batch and the output
 * pixels, is split across workgroups (split-K) so that a small filter still fills the GPU; a second
 * small dispatch sums the slices. NHWC float32; the stock kernel for NCHW and other dtypes.
 *
 * Index mapping (x: [batch, inH, inW, inC], dy: [batch, outH, outW, outC], dW: [fH, fW, inC, outC]):
 *   m = (ky·fW + kx)·inC + ci                 M = fH·fW·inC (dW's flat row index)
 *   n = co                                    N = outC
 *   k = (b·outH + oy)·outW + ox               K = batch·outH·outW, slice z owns [z·kChunk, (z+1)·kChunk)
 *   A(m, k) = x[b, oy·sH + ky − padTop, ox·sW + kx − padLeft, ci]   (0 outside the image)
 *   B(k, n) = dy[k·outC + n]
 *   partial[z, m, n] = Σ_{k in slice z} A(m, k)·B(k, n);  dW[m·outC + n] = Σ_z partial[z, m, n]
 */
import { tf } from '../tfjs';
import type { TensorInfo, WebGpuKernelConfig, WebGpuProgram } from './shared';
import { asWebGpu, ceilDiv, runProgram } from './shared';
import { TK, convGeometry, convKernelConfig, fitsDispatch, gemmProgram, intUniforms, tileFor } from './convGemm';
import { float4D, isNHWC } from './conv2D';

/** Workgroups the split aims for: two per SM of a large GPU (132 on an H100). */
const TARGET_WORKGROUPS = 264;
/** A slice walks at least this much of K (amortises its tile loads and its partial sum). */
const MIN_K_PER_SLICE = 256;

/** Sums the S slices of partial [S, size] into the filter gradient: one thread per output. */
function sumSlicesProgram(filterShape: number[]): WebGpuProgram {
  const size = tf.util.sizeFromShape(filterShape);
  return {
    outputShape: filterShape,
    shaderKey: 'tlConvSumSlices',
    dispatchLayout: { x: [0, 1, 2, 3] },
    dispatch: [ceilDiv(size, 64), 1, 1],
    variableNames: ['partial'],
    uniforms: 'S : i32,',
    workgroupSize: [64, 1, 1],
    size: true,
    getUserCode: () => `
fn main(index : i32) {
  if (index < uniforms.size) {
    var s = 0.0;
    for (var z = 0; z < uniforms.S; z = z + 1) { s = s + partial[z * uniforms.size + index]; }
    result[index] = s;
  }
}`,
  };
}

/** dW on our implicit GEMM, or null where the stock kernel should run. */
export function convBackpropFilter(x: TensorInfo, dy: TensorInfo, attrs: Record<string, unknown>, backend: unknown): TensorInfo | null {
  if (!float4D(x) || !float4D(dy) || !isNHWC(attrs['dataFormat'])) return null;
  const filterShape = attrs['filterShape'] as [number, number, number, number];
  if (filterShape.length !== 4 || filterShape.some((d) => d <= 0)) return null;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    attrs['strides'] as number | [number, number],
    1,
    attrs['pad'] as 'same' | 'valid' | number,
    attrs['dimRoundingMode'] as 'floor' | 'round' | 'ceil' | undefined,
    false,
    'channelsLast',
  );
  const m = info.filterHeight * info.filterWidth * info.inChannels;
  const n = info.outChannels;
  const k = info.batchSize * info.outHeight * info.outWidth;
  const { tm, tn } = tileFor(n);
  const tiles = ceilDiv(m, tm) * ceilDiv(n, tn);
  const wanted = Math.max(1, Math.min(ceilDiv(TARGET_WORKGROUPS, tiles), Math.floor(k / MIN_K_PER_SLICE)));
  const kChunk = ceilDiv(ceilDiv(k, wanted), TK) * TK;
  const slices = ceilDiv(k, kChunk);
  const u = intUniforms({ K: k, kChunk, ...convGeometry(info) });
  const helpers = `
fn kRange(z : i32) -> vec2<i32> { return vec2<i32>(z * uniforms.kChunk, min(uniforms.K, (z + 1) * uniforms.kChunk)); }
// Row m: (ky − padTop, kx − padLeft, ci).
fn rowOf(m : i32, z : i32) -> vec4<i32> {
  let tap = m / uniforms.inC;
  return vec4<i32>(tap / uniforms.fW - uniforms.padT, tap % uniforms.fW - uniforms.padL, m % uniforms.inC, 0);
}
// Column k: (b, oy·sH, ox·sW).
fn colOf(k : i32, z : i32) -> vec4<i32> {
  let t = k / uniforms.outW;
  return vec4<i32>(t / uniforms.outH, (t % uniforms.outH) * uniforms.sH, (k % uniforms.outW) * uniforms.sW, 0);
}
fn loadA(r : vec4<i32>, c : vec4<i32>, z : i32) -> f32 {
  let iy = c.y + r.x;
  let ix = c.z + r.y;
  if (iy < 0 || iy >= uniforms.inH || ix < 0 || ix >= uniforms.inW) { return 0.0; }
  return x[((c.x * uniforms.inH + iy) * uniforms.inW + ix) * uniforms.inC + r.z];
}
fn loadB(c : vec4<i32>, k : i32, n : i32, z : i32) -> f32 { return dy[k * uniforms.N + n]; }
fn storeC(m : i32, n : i32, z : i32, v : f32) { result[(z * uniforms.M + m) * uniforms.N + n] = v; }`;
  const { program, uniforms } = gemmProgram({
    key: 'bpf',
    variableNames: ['x', 'dy'],
    outputShape: slices === 1 ? [...filterShape] : [slices, m, n],
    uniforms: u.decl,
    uniformData: u.data,
    m,
    n,
    kLoop: kChunk,
    slices,
    aAlongK: false,
    bAlongK: false,
    helpers,
  });
  if (!fitsDispatch(backend, program)) return null;
  const partial = runProgram(backend, program, [x, dy], 'float32', uniforms);
  if (slices === 1) return partial;
  const out = runProgram(backend, sumSlicesProgram([...filterShape]), [partial], 'float32', [{ type: 'int32', data: [slices] }]);
  asWebGpu(backend).disposeData(partial.dataId);
  return out;
}

export const conv2DBackpropFilterConfig: WebGpuKernelConfig = convKernelConfig('Conv2DBackpropFilter', 'conv2DBackpropFilter', (args) => {
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  return convBackpropFilter(x, dy, (args.attrs ?? {}) as Record<string, unknown>, args.backend);
});
