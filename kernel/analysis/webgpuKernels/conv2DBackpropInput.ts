/**
 * Conv2DBackpropInput (the gradient of a convolution with respect to its input, and
 * tf.conv2dTranspose) on the webgpu backend: the transposed convolution as an implicit GEMM (see
 * ./convGemm.ts), one dispatch, NHWC float32; the stock kernel for NCHW and other dtypes.
 *
 * Strides without a zero-dilated dy: an input pixel iy only receives the taps ky with
 * (iy + padTop − ky) divisible by sH, and which taps those are depends only on iy mod sH. The
 * input is therefore split into sH·sW stride phases (workgroup_id.z = py·sW + px), and each phase
 * sums over its own taps only (ky = ky0 + j·sH with ky0 = (py + padTop) mod sH), so taps that miss
 * the stride grid are never visited.
 *
 * Index mapping for phase (py, px) (dy: [batch, outH, outW, outC], W: [fH, fW, inC, outC],
 * dx: [batch, inH, inW, inC]; jCount = ⌈inH/sH⌉, iCount = ⌈inW/sW⌉; nky, nkx: the phase's taps):
 *   m = (b·jCount + j)·iCount + i,  iy = py + j·sH, ix = px + i·sW     M = batch·jCount·iCount
 *   n = ci                                                              N = inC
 *   k = (ty·nkx + tx)·outC + co,    ky = ky0 + ty·sH, kx = kx0 + tx·sW  K = nky·nkx·outC
 *   A(m, k) = dy[b, (iy + padTop − ky)/sH, (ix + padLeft − kx)/sW, co]  (0 outside dy; the
 *             divisions are exact: the row is qy + j − ty with py + padTop = qy·sH + ky0)
 *   B(k, n) = W[ky, kx, ci, co]
 *   dx[b, iy, ix, ci] = C(m, n)   (rows with iy ≥ inH or ix ≥ inW are padding of the phase grid)
 */
import { tf } from '../tfjs';
import type { TensorInfo, WebGpuKernelConfig } from './shared';
import { ceilDiv, runProgram } from './shared';
import { convGeometry, convKernelConfig, fitsDispatch, gemmProgram, intUniforms } from './convGemm';
import { float4D, isNHWC } from './conv2D';

/** dx on our implicit GEMM, or null where the stock kernel should run. */
export function convBackpropInput(dy: TensorInfo, filter: TensorInfo, attrs: Record<string, unknown>, backend: unknown): TensorInfo | null {
  if (!float4D(dy) || !float4D(filter) || !isNHWC(attrs['dataFormat'])) return null;
  const inputShape = attrs['inputShape'] as [number, number, number, number];
  if (inputShape.length !== 4 || inputShape.some((d) => d <= 0)) return null;
  const info = tf.backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
    attrs['strides'] as number | [number, number],
    1,
    attrs['pad'] as 'same' | 'valid' | number,
    attrs['dimRoundingMode'] as 'floor' | 'round' | 'ceil' | undefined,
    false,
    'channelsLast',
  );
  const { strideHeight: sH, strideWidth: sW, filterHeight: fH, filterWidth: fW } = info;
  const jCount = ceilDiv(info.inHeight, sH);
  const iCount = ceilDiv(info.inWidth, sW);
  const u = intUniforms({ ...convGeometry(info), jCount, iCount });
  // For phase (py, px): the taps ky = ky0 + ty·sH with ky0 = (py + padTop) mod sH, and, writing
  // py + padTop = qy·sH + ky0, the dy row of input row iy = py + j·sH and tap ty is exactly
  // (iy + padTop − ky)/sH = qy + j − ty: no division per element (likewise for columns).
  const helpers = `
// The phase's (ky0, kx0, nky, nkx) and (qy, qx).
fn phaseTaps(z : i32) -> vec4<i32> {
  let ky0 = (z / uniforms.sW + uniforms.padT) % uniforms.sH;
  let kx0 = (z % uniforms.sW + uniforms.padL) % uniforms.sW;
  return vec4<i32>(ky0, kx0, (uniforms.fH - ky0 + uniforms.sH - 1) / uniforms.sH, (uniforms.fW - kx0 + uniforms.sW - 1) / uniforms.sW);
}
fn phaseQ(z : i32) -> vec2<i32> {
  return vec2<i32>((z / uniforms.sW + uniforms.padT) / uniforms.sH, (z % uniforms.sW + uniforms.padL) / uniforms.sW);
}
fn kRange(z : i32) -> vec2<i32> {
  let p = phaseTaps(z);
  return vec2<i32>(0, p.z * p.w * uniforms.outC);
}
// (b, j, i) of row m: input pixel (py + j·sH, px + i·sW) of image b.
fn rowCoords(m : i32) -> vec3<i32> {
  let t = m / uniforms.iCount;
  return vec3<i32>(t / uniforms.jCount, t % uniforms.jCount, m % uniforms.iCount);
}
// Row m: (b, qy + j, qx + i, whether the pixel is in the image).
fn rowOf(m : i32, z : i32) -> vec4<i32> {
  let c = rowCoords(m);
  let q = phaseQ(z);
  let inside = z / uniforms.sW + c.y * uniforms.sH < uniforms.inH && z % uniforms.sW + c.z * uniforms.sW < uniforms.inW;
  return vec4<i32>(c.x, q.x + c.y, q.y + c.z, select(0, 1, inside));
}
// Column k: (ty, tx, co, ky·fW + kx): tap (ty, tx) of the phase and the output channel.
fn colOf(k : i32, z : i32) -> vec4<i32> {
  let p = phaseTaps(z);
  let tap = k / uniforms.outC;
  let ty = tap / max(p.w, 1);
  let tx = tap % max(p.w, 1);
  return vec4<i32>(ty, tx, k % uniforms.outC, (p.x + ty * uniforms.sH) * uniforms.fW + p.y + tx * uniforms.sW);
}
fn loadA(r : vec4<i32>, c : vec4<i32>, z : i32) -> f32 {
  let oy = r.y - c.x;
  let ox = r.z - c.y;
  if (r.w == 0 || oy < 0 || oy >= uniforms.outH || ox < 0 || ox >= uniforms.outW) { return 0.0; }
  return dy[((r.x * uniforms.outH + oy) * uniforms.outW + ox) * uniforms.outC + c.z];
}
fn loadB(c : vec4<i32>, k : i32, n : i32, z : i32) -> f32 {
  return W[(c.w * uniforms.N + n) * uniforms.outC + c.z];
}
fn storeC(m : i32, n : i32, z : i32, v : f32) {
  let c = rowCoords(m);
  let iy = z / uniforms.sW + c.y * uniforms.sH;
  let ix = z % uniforms.sW + c.z * uniforms.sW;
  if (iy < uniforms.inH && ix < uniforms.inW) {
    result[((c.x * uniforms.inH + iy) * uniforms.inW + ix) * uniforms.N + n] = v;
  }
}`;
  const { program, uniforms } = gemmProgram({
    key: 'bpi',
    variableNames: ['dy', 'W'],
    outputShape: [...inputShape],
    uniforms: `fH : i32, ${u.decl}`,
    uniformData: [{ type: 'int32', data: [fH] }, ...u.data],
    m: info.batchSize * jCount * iCount,
    n: info.inChannels,
    // The longest phase (ky0 = kx0 = 0) has ⌈fH/sH⌉·⌈fW/sW⌉ taps.
    kLoop: ceilDiv(fH, sH) * ceilDiv(fW, sW) * info.outChannels,
    slices: sH * sW,
    aAlongK: true,
    bAlongK: true,
    helpers,
  });
  if (!fitsDispatch(backend, program)) return null;
  return runProgram(backend, program, [dy, filter], 'float32', uniforms);
}

export const conv2DBackpropInputConfig: WebGpuKernelConfig = convKernelConfig('Conv2DBackpropInput', 'conv2DBackpropInput', (args) => {
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  return convBackpropInput(dy, filter, (args.attrs ?? {}) as Record<string, unknown>, args.backend);
});
