/**
 * Running an analysis: one public name per operation, a promise on every backend.
 *
 * An analysis is a generator that yields the tensors it needs to read and receives their values
 * (float32). {@link runAsync} reads them with `await data()`, which every backend offers (WebGPU
 * included, where `dataSync` is not available), so a notebook runs unchanged on cpu, wasm and a
 * GPU. The driver owns each yielded tensor and disposes it after reading; when the analysis fails
 * or is abandoned, its `finally` blocks run.
 */
import { tf } from './tfjs';
import { backendCapabilities } from './backends/registry';

/** An analysis: yields tensors to read, receives their float32 values, returns R. */
export type Analysis<R> = Generator<tf.Tensor, R, Float32Array>;

/** The current backend's name, starting tfjs's default backend if none has started yet. */
export function backendName(): string {
  if (!tf.getBackend()) tf.backend();
  return tf.getBackend();
}

/** Whether the analyses should reduce large intermediate results in JavaScript (CPU backends). */
export function reduceOnHost(): boolean {
  return backendCapabilities(backendName())?.reduceOnHost ?? false;
}

function toFloat32(values: ArrayLike<number>): Float32Array {
  // int32/bool tensors are converted (rare: the analyses cast to float32 before yielding).
  return values instanceof Float32Array ? values : Float32Array.from(values);
}

/** Runs `analysis` reading tensors with `await data()` (any backend). */
export async function runAsync<R>(analysis: Analysis<R>): Promise<R> {
  let step = analysis.next(undefined as never);
  try {
    while (!step.done) {
      const t = step.value;
      let values: Float32Array;
      try {
        values = toFloat32((await t.data()) as ArrayLike<number>);
      } finally {
        t.dispose();
      }
      step = analysis.next(values);
    }
    return step.value;
  } catch (e) {
    analysis.return(undefined as never);
    throw e;
  }
}
