/**
 * What every kernel of this folder shares: its registration record ({@link WebGpuKernelConfig}),
 * the parts of tfjs-backend-webgpu's backend the kernels call, and small helpers for programs.
 *
 * A program is tfjs-backend-webgpu's `WebGPUProgram`: the backend compiles its WGSL once per
 * `shaderKey`, binds the inputs (`variableNames`) and the output, fills the uniforms and
 * dispatches it. Kernels here run their programs with {@link runProgram}.
 */
import { tf } from '../tfjs';

export type KernelFunc = tf.KernelFunc;
export type TensorInfo = tf.TensorInfo;

/** A uniform a program declares in `uniforms` and fills per dispatch. */
export interface ProgramUniform {
  readonly type: 'int32' | 'float32' | 'uint32';
  readonly data: number[];
}

/**
 * tfjs-backend-webgpu's `WebGPUProgram` (4.x), as its backend reads it. `getUserCode` returns the
 * WGSL of the `main` function and its helpers; the backend prepends the bindings, the uniforms
 * (`uniforms.NAME`, from `uniforms` plus the output/input shapes) and index helpers.
 */
export interface WebGpuProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[]; y?: number[]; z?: number[] };
  dispatch: [number, number, number];
  variableNames: string[];
  uniforms?: string;
  workgroupSize: [number, number, number];
  /** Whether `main` gets `index` (flat) rather than global ids; tfjs's `size` programs bound-check it. */
  size?: boolean;
  isVec4?: boolean;
  outputComponent?: number;
  variableComponents?: number[];
  atomic?: boolean;
  getUserCode(): string;
}

/** The parts of tfjs-backend-webgpu's `WebGPUBackend` the kernels use. */
export interface WebGpuBackendLike extends tf.KernelBackend {
  runWebGPUProgram(program: WebGpuProgram, inputs: TensorInfo[], outputDtype: tf.DataType, uniforms?: ProgramUniform[], output?: TensorInfo): TensorInfo;
  readonly device: { readonly limits: Record<string, number>; readonly features: ReadonlySet<string> };
  readonly adapterInfo?: { readonly vendor?: string; readonly architecture?: string };
}

export const asWebGpu = (backend: unknown): WebGpuBackendLike => backend as WebGpuBackendLike;

/** Runs a program on the backend: one dispatch, no read-back. */
export function runProgram(backend: unknown, program: WebGpuProgram, inputs: TensorInfo[], dtype: tf.DataType, uniforms?: ProgramUniform[]): TensorInfo {
  return asWebGpu(backend).runWebGPUProgram(program, inputs, dtype, uniforms);
}

/**
 * One kernel registered for the webgpu backend by ./index.ts: a wrapper around the backend's own
 * kernel of that name, which it calls for the cases it does not cover (so the stock kernel stays
 * the fallback), or a kernel of a name tfjs does not have (ops of TransferLab's own).
 */
export type WebGpuKernelConfig =
  | { readonly kernelName: string; readonly kernelFunc: KernelFunc }
  | { readonly kernelName: string; readonly wraps: (stock: KernelFunc) => KernelFunc };

/** Wraps a kernel input as a tensor for ops, disposable without freeing it (run ops in `tf.tidy`). */
export function wrap(backend: unknown, info: TensorInfo): tf.Tensor {
  (backend as tf.KernelBackend).incRef(info.dataId);
  return tf.engine().makeTensorFromTensorInfo(info, backend as tf.KernelBackend);
}

/** Ceiling division, for dispatch sizes. */
export const ceilDiv = (a: number, b: number): number => Math.ceil(a / b);
