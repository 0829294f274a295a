/**
 * What every kernel of this folder shares: its registration record ({@link WasmKernelConfig}),
 * kernel inputs as tensors for ops, and typed-array views of the wasm heap for the kernels written
 * in plain JavaScript.
 */
import { tf } from '../tfjs';

export type KernelFunc = tf.KernelFunc;
export type TensorInfo = tf.TensorInfo;
export type Backend = tf.KernelBackend;
export const asBackend = (b: unknown): Backend => b as Backend;

/**
 * One kernel registered for the wasm backend by ./index.ts (as tfjs-backend-wasm lists its
 * `KernelConfig`s): a kernel of its own, or a wrapper around the backend's kernel of that name,
 * which it calls for the cases it does not handle (skipped when the backend has no such kernel,
 * unless `required`).
 */
export type WasmKernelConfig =
  | { readonly kernelName: string; readonly kernelFunc: KernelFunc }
  | { readonly kernelName: string; readonly wraps: (original: KernelFunc) => KernelFunc; readonly required?: boolean };

/** Wraps a kernel input as a tensor that can be used with ops and disposed without freeing it. */
export function wrap(backend: Backend, info: TensorInfo): tf.Tensor {
  backend.incRef(info.dataId);
  return tf.engine().makeTensorFromTensorInfo(info, backend);
}

/** Kernel input `name` as a 4-D tensor for ops (see {@link wrap}); the kernel must run its ops in `tf.tidy`. */
export function input4d(backend: unknown, inputs: tf.NamedTensorInfoMap, name: string): tf.Tensor4D {
  return wrap(asBackend(backend), inputs[name]!) as tf.Tensor4D;
}

/** The parts of the wasm backend the heap kernels use. */
export interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
}
export const heap = (b: unknown) => b as WasmHeapBackend;

/** Row-major strides of a shape. */
export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1]! * shape[i + 1]!;
  return s;
}
