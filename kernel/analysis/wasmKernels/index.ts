/**
 * Kernels registered for the wasm backend so that CNNs train there, and train fast.
 *
 * tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropFilter or
 * DepthwiseConv2dNativeBackpropInput (`model.fit` of a CNN throws), its Conv2DBackpropInput is a
 * scalar loop, and its BatchMatMul takes a scalar loop whenever an operand is transposed, which is
 * every matMul in a backward pass. The kernels here are compositions of the backend's fast
 * primitives (XNNPACK convolution and fully-connected GEMM, pad, slice, transpose):
 *
 * - Conv2DBackpropFilter: im2col by k·k strided slices of the padded input, then one GEMM
 *   `dyᵀ · patches` (XNNPACK), transposed to [kh, kw, in, out].
 * - Conv2DBackpropInput: a forward convolution (XNNPACK) of dy, zero-dilated for strides > 1 and
 *   padded, with the filter flipped in space and its channel axes swapped.
 * - Depthwise backprops: the same ideas per channel (depthwise forward convolution for the input
 *   gradient; k·k multiply-and-sum for the filter gradient).
 * - BatchMatMul with transposeA/transposeB (batch 1): transposes the operand explicitly and calls
 *   the backend's GEMM path.
 *
 * Each kernel runs tfjs ops inside `tf.tidy` (ops called from a kernel are not recorded on the
 * gradient tape) and returns the resulting tensor. Tested against the cpu backend in
 * test/analysis/backends.test.ts.
 *
 * One file per kernel, each exporting its registration record (a `WasmKernelConfig`, as
 * tfjs-backend-wasm's kernels do); this file registers them from one list.
 */
import { tf } from '../tfjs';
import type { WasmKernelConfig } from './shared';
import { batchMatMulConfig } from './batchMatMul';
import { conv2DBackpropFilterConfig } from './conv2DBackpropFilter';
import { conv2DBackpropInputConfig } from './conv2DBackpropInput';
import { depthwiseConv2dNativeBackpropFilterConfig } from './depthwiseConv2dNativeBackpropFilter';
import { depthwiseConv2dNativeBackpropInputConfig } from './depthwiseConv2dNativeBackpropInput';
import { maxPoolGradConfig } from './maxPoolGrad';
import { meanConfig, sumConfig } from './blockReduce';
import { tileConfig } from './tile';
import { reluPoolGradConfig } from './reluPoolGrad';
import { identityConfig } from './identity';
import { sliceConfig } from './slice';

export { conv2dBackpropFilterViaConv } from './conv2DBackpropFilter';
export { conv2dBackpropInputViaConv } from './conv2DBackpropInput';
export { depthwiseBackpropFilter } from './depthwiseConv2dNativeBackpropFilter';
export { depthwiseBackpropInput } from './depthwiseConv2dNativeBackpropInput';

/** Every kernel this folder registers, in registration order (one file each). */
const WASM_KERNELS: readonly WasmKernelConfig[] = [
  batchMatMulConfig,
  conv2DBackpropFilterConfig,
  conv2DBackpropInputConfig,
  depthwiseConv2dNativeBackpropFilterConfig,
  depthwiseConv2dNativeBackpropInputConfig,
  maxPoolGradConfig,
  sumConfig,
  meanConfig,
  tileConfig,
  reluPoolGradConfig,
  identityConfig,
  sliceConfig,
];

let registered = false;

/**
 * Registers the kernels of {@link WASM_KERNELS} for the wasm backend (idempotent). Called by
 * `initBackend('wasm')` before the backend starts; safe to call when the wasm package is loaded
 * but not started.
 */
export function registerWasmKernels(): void {
  if (registered) return;
  const backendName = 'wasm';
  for (const c of WASM_KERNELS) {
    if ('wraps' in c && c.required && tf.getKernel(c.kernelName, backendName) === undefined) {
      throw new Error(`registerWasmKernels: the wasm backend package must be loaded first (its ${c.kernelName} kernel is missing)`);
    }
  }
  for (const c of WASM_KERNELS) {
    const old = tf.getKernel(c.kernelName, backendName);
    let kernelFunc: tf.KernelFunc;
    if ('wraps' in c) {
      if (!old) continue;
      kernelFunc = c.wraps(old.kernelFunc);
    } else {
      kernelFunc = c.kernelFunc;
    }
    if (old) tf.unregisterKernel(c.kernelName, backendName);
    // Keep the original setup function: it binds the WebAssembly exports the original kernel
    // function (which the replacement may call) needs.
    tf.registerKernel({ kernelName: c.kernelName, backendName, kernelFunc, ...(old?.setupFunc ? { setupFunc: old.setupFunc } : {}) });
  }
  registered = true;
}
