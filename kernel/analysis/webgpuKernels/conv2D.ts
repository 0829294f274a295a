/**
 * Conv2D on the webgpu backend: the forward convolution as an implicit GEMM (see ./convGemm.ts),
 * one dispatch and no im2col buffer, for NHWC float32 inputs with any stride, dilation and padding
 * ('same', 'valid', explicit); the stock kernel for the rest (NCHW, other dtypes). ./fusedConv2D.ts
 * shares it.
 *
 * Index mapping (x: [batch, inH, inW, inC], W: [fH, fW, inC, outC], y: [batch, outH, outW, outC]):
 *   m = (b·outH + oy)·outW + ox                      M = batch·outH·outW
 *   n = co                                           N = outC
 *   k = (ky·fW + kx)·inC + ci                        K = fH·fW·inC (W's flat row index)
 *   A(m, k) = x[b, oy·sH + ky·dH − padTop, ox·sW + kx·dW − padLeft, ci]   (0 outside the image)
 *   B(k, n) = W[k·outC + n]                          (the filter as a K × outC matrix)
 *   y[m·outC + n] = act(C(m, n) + bias[n])
 */
import { tf } from '../tfjs';
import type { TensorInfo, WebGpuKernelConfig } from './shared';
import { runProgram } from './shared';
import { convGeometry, convKernelConfig, fitsDispatch, gemmProgram, intUniforms } from './convGemm';

/** Fused activations our forward kernel applies in its epilogue (others go to the stock kernel). */
const ACTIVATIONS: Record<string, string> = {
  linear: 'r',
  relu: 'max(r, 0.0)',
  relu6: 'clamp(r, 0.0, 6.0)',
  elu: 'select(exp(r) - 1.0, r, r >= 0.0)',
  sigmoid: '1.0 / (1.0 + exp(-r))',
  leakyrelu: 'select(uniforms.alpha * r, r, r >= 0.0)',
};

export interface ForwardArgs {
  readonly x: TensorInfo;
  readonly filter: TensorInfo;
  readonly attrs: Record<string, unknown>;
  readonly backend: unknown;
  readonly bias?: TensorInfo | null;
  readonly activation?: string;
  readonly leakyreluAlpha?: number;
}

/** Whether `t` is a float32 tensor of rank 4 with no empty dimension. */
export const float4D = (t: TensorInfo | undefined | null): t is TensorInfo =>
  t != null && t.dtype === 'float32' && t.shape.length === 4 && t.shape.every((d) => d > 0);

/** Whether a conv's data format attribute is NHWC (tfjs's default). */
export const isNHWC = (dataFormat: unknown): boolean => dataFormat === undefined || dataFormat === 'NHWC' || dataFormat === 'channelsLast';

/** The forward convolution on our implicit GEMM, or null where the stock kernel should run. */
export function convForward(a: ForwardArgs): TensorInfo | null {
  const { x, filter, attrs, backend } = a;
  const activation = a.activation ?? 'linear';
  if (!float4D(x) || !float4D(filter) || !isNHWC(attrs['dataFormat'])) return null;
  const act = ACTIVATIONS[activation];
  if (act === undefined) return null;
  const bias = a.bias ?? null;
  const outC = filter.shape[3]!;
  // A bias broadcast along the channels only ([outC], [1, outC], …); anything else is stock's.
  if (bias && (bias.dtype !== 'float32' || bias.shape[bias.shape.length - 1] !== outC || tf.util.sizeFromShape(bias.shape) !== outC)) return null;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    attrs['strides'] as number | [number, number],
    (attrs['dilations'] ?? 1) as number | [number, number],
    attrs['pad'] as 'same' | 'valid' | number,
    attrs['dimRoundingMode'] as 'floor' | 'round' | 'ceil' | undefined,
    false,
    'channelsLast',
  );
  if (info.outHeight <= 0 || info.outWidth <= 0) return null;
  const u = intUniforms(convGeometry(info));
  const m = info.batchSize * info.outHeight * info.outWidth;
  const k = info.filterHeight * info.filterWidth * info.inChannels;
  const helpers = `
fn kRange(z : i32) -> vec2<i32> { return vec2<i32>(0, uniforms.K); }
// Row m: (b, oy·sH − padTop, ox·sW − padLeft).
fn rowOf(m : i32, z : i32) -> vec4<i32> {
  let ox = m % uniforms.outW;
  let t = m / uniforms.outW;
  return vec4<i32>(t / uniforms.outH, (t % uniforms.outH) * uniforms.sH - uniforms.padT, ox * uniforms.sW - uniforms.padL, 0);
}
// Column k: (ky·dH, kx·dW, ci).
fn colOf(k : i32, z : i32) -> vec4<i32> {
  let tap = k / uniforms.inC;
  return vec4<i32>((tap / uniforms.fW) * uniforms.dH, (tap % uniforms.fW) * uniforms.dW, k % uniforms.inC, 0);
}
fn loadA(r : vec4<i32>, c : vec4<i32>, z : i32) -> f32 {
  let iy = r.y + c.x;
  let ix = r.z + c.y;
  if (iy < 0 || iy >= uniforms.inH || ix < 0 || ix >= uniforms.inW) { return 0.0; }
  return x[((r.x * uniforms.inH + iy) * uniforms.inW + ix) * uniforms.inC + c.z];
}
fn loadB(c : vec4<i32>, k : i32, n : i32, z : i32) -> f32 { return W[k * uniforms.N + n]; }
fn storeC(m : i32, n : i32, z : i32, v : f32) {
  var r = v${bias ? ' + bias[n]' : ''};
  r = ${act};
  result[m * uniforms.N + n] = r;
}`;
  const { program, uniforms } = gemmProgram({
    key: `fwd_${bias ? 'bias' : 'nobias'}_${activation}`,
    variableNames: bias ? ['x', 'W', 'bias'] : ['x', 'W'],
    outputShape: info.outShape,
    uniforms: `K : i32, ${u.decl}${activation === 'leakyrelu' ? ' alpha : f32,' : ''}`,
    uniformData: [{ type: 'int32', data: [k] }, ...u.data, ...(activation === 'leakyrelu' ? [{ type: 'float32' as const, data: [a.leakyreluAlpha ?? 0.2] }] : [])],
    m,
    n: outC,
    kLoop: k,
    slices: 1,
    aAlongK: true,
    bAlongK: false,
    helpers,
  });
  if (!fitsDispatch(backend, program)) return null;
  return runProgram(backend, program, bias ? [x, filter, bias] : [x, filter], 'float32', uniforms);
}

export const conv2DConfig: WebGpuKernelConfig = convKernelConfig('Conv2D', 'conv2D', (args) => {
  const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
  return convForward({ x, filter, attrs: (args.attrs ?? {}) as Record<string, unknown>, backend: args.backend });
});
