/** Identity that shares the data. */
import { type Backend, type KernelFunc, type WasmKernelConfig } from './shared';

/**
 * Identity (tf.clone, and every tensor the gradient tape saves) shares the data instead of
 * copying it, as the cpu backend does; tensor data is never written in place.
 */
function sharingIdentity(original: KernelFunc): KernelFunc {
  return (args) => {
    const x = args.inputs['x']!;
    if (x.dtype === 'string') return original(args);
    (args.backend as unknown as Backend).incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  };
}

export const identityConfig: WasmKernelConfig = { kernelName: 'Identity', wraps: sharingIdentity };
