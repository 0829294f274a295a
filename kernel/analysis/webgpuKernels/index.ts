/**
 * Kernels of TransferLab's own for the webgpu backend (tfjs-backend-webgpu on Dawn), registered
 * into tfjs's kernel registry so that every `tf` op and every `tl` analysis on WebGPU uses them.
 *
 * Each kernel wraps the backend's kernel of the same name and calls it for the shapes and options
 * it does not cover: the stock kernel stays the fallback. One file per kernel, each exporting its
 * registration record (a {@link WebGpuKernelConfig}); this file registers them from one list.
 *
 * `setWebGpuKernels('stock')` puts the backend's own kernels back (benchmarks compare both in one
 * process; `TRANSFERLAB_WEBGPU_KERNELS=stock` starts a kernel process with them).
 */
import { tf } from '../tfjs';
import type { KernelFunc, WebGpuKernelConfig } from './shared';
import { centeredGramConfig } from './centeredGram';
import { hsicConfig } from './hsic';
import { conv2DConfig } from './conv2D';
import { conv2DBackpropFilterConfig } from './conv2DBackpropFilter';
import { conv2DBackpropInputConfig } from './conv2DBackpropInput';
import { fusedConv2DConfig } from './fusedConv2D';
import { batchMatMulConfig } from './batchMatMul';
import { fusedMatMulConfig } from './fusedMatMul';
import { sumKernel } from './sum';
import { maxKernel } from './max';
import { optimizerStepConfig } from './optimizerStep';

/** Every kernel this folder registers, in registration order (one file each). */
const WEBGPU_KERNELS: readonly WebGpuKernelConfig[] = [
  centeredGramConfig,
  hsicConfig,
  conv2DConfig,
  fusedConv2DConfig,
  conv2DBackpropInputConfig,
  conv2DBackpropFilterConfig,
  batchMatMulConfig,
  fusedMatMulConfig,
  sumKernel,
  maxKernel,
  optimizerStepConfig,
];

const BACKEND = 'webgpu';

/** The backend's own kernels that ours replaced, by name (to call them, and to put them back). */
const stockKernels = new Map<string, tf.KernelConfig | undefined>();
let current: 'ours' | 'stock' = 'stock';

/** Which kernels the webgpu backend runs now. */
export function webGpuKernels(): 'ours' | 'stock' {
  return current;
}

/** The names of the kernels of {@link WEBGPU_KERNELS} (for reports and tests). */
export function webGpuKernelNames(): string[] {
  return WEBGPU_KERNELS.map((c) => c.kernelName);
}

/**
 * Registers the kernels of {@link WEBGPU_KERNELS} for the webgpu backend ('ours'), or puts the
 * backend's own back ('stock'). Idempotent. Needs tfjs-backend-webgpu loaded (its kernels are
 * registered when the package is required); called by `initBackend('webgpu')`.
 */
export function setWebGpuKernels(which: 'ours' | 'stock'): void {
  if (which === current) return;
  for (const c of WEBGPU_KERNELS) {
    if (!stockKernels.has(c.kernelName)) stockKernels.set(c.kernelName, tf.getKernel(c.kernelName, BACKEND));
    const stock = stockKernels.get(c.kernelName);
    if (tf.getKernel(c.kernelName, BACKEND) !== undefined) tf.unregisterKernel(c.kernelName, BACKEND);
    if (which === 'stock') {
      if (stock) tf.registerKernel(stock);
      continue;
    }
    let kernelFunc: KernelFunc;
    if ('wraps' in c) {
      if (!stock) continue;
      kernelFunc = c.wraps(stock.kernelFunc);
    } else {
      kernelFunc = c.kernelFunc;
    }
    tf.registerKernel({ kernelName: c.kernelName, backendName: BACKEND, kernelFunc, ...(stock?.setupFunc ? { setupFunc: stock.setupFunc } : {}) });
  }
  current = which;
}
