/**
 * FusedConv2D (convolution + bias + activation, what tf.fused.conv2d and layers with a bias
 * call) on the webgpu backend: the implicit-GEMM convolution of ./conv2D.ts with the bias
 * and the activation (linear, relu, relu6, elu, sigmoid, leakyrelu) applied as each output is
 * stored, in one dispatch. PReLU, NCHW and other dtypes go to the stock kernel.
 */
import type { TensorInfo, WebGpuKernelConfig } from './shared';
import { convForward } from './conv2D';
import { convKernelConfig } from './convGemm';

export const fusedConv2DConfig: WebGpuKernelConfig = convKernelConfig('FusedConv2D', 'fusedConv2D', (args) => {
  const inputs = args.inputs as { x: TensorInfo; filter: TensorInfo; bias?: TensorInfo; preluActivationWeights?: TensorInfo };
  const attrs = (args.attrs ?? {}) as Record<string, unknown>;
  if (inputs.preluActivationWeights != null) return null;
  return convForward({
    x: inputs.x,
    filter: inputs.filter,
    attrs,
    backend: args.backend,
    bias: inputs.bias ?? null,
    activation: (attrs['activation'] as string | undefined) ?? 'linear',
    leakyreluAlpha: attrs['leakyreluAlpha'] as number | undefined,
  });
});
