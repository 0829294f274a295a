/**
 * Running an analysis written once for synchronous and asynchronous read-back.
 *
 * An analysis is a generator that yields the tensors it needs to read and receives their values
 * (float32). {@link runSync} reads with `dataSync` (cpu, wasm, tfjs-node), {@link runAsync} with
 * `await data()` (every backend, WebGPU included). The driver owns each yielded tensor and
 * disposes it after reading; when the analysis fails or is abandoned, its `finally` blocks run.
 */
import { tf } from './tfjs';
import { TransferLabError } from './errors';
import { backendCapabilities } from './backends/registry';

/** An analysis: yields tensors to read, receives their float32 values, returns R. */
export type Analysis<R> = Generator<tf.Tensor, R, Float32Array>;

/**
 * A synchronous function was called on a backend that can only read results asynchronously
 * (WebGPU under Node). Caused by the choice of function; the message names the asynchronous twin
 * to call instead (e.g. `await tl.cka.linearAsync(X, Y)`).
 */
export class SyncReadError extends TransferLabError {
  override name = 'SyncReadError';
  constructor(
    readonly fn: string,
    readonly asyncFn: string,
    readonly backendName: string,
  ) {
    super(`${fn}: the ${backendName} backend cannot read results synchronously; use \`await ${asyncFn}(…)\` instead`);
  }
}

/** The current backend's name, starting tfjs's default backend if none has started yet. */
export function backendName(): string {
  if (!tf.getBackend()) tf.backend();
  return tf.getBackend();
}

/** Whether the current backend reads synchronously. */
export function canReadSync(): boolean {
  return backendCapabilities(backendName())?.syncRead ?? false;
}

/** Whether the analyses should reduce large intermediate results in JavaScript (CPU backends). */
export function reduceOnHost(): boolean {
  return backendCapabilities(backendName())?.reduceOnHost ?? false;
}

function toFloat32(values: ArrayLike<number>): Float32Array {
  // int32/bool tensors are converted (rare: the analyses cast to float32 before yielding).
  return values instanceof Float32Array ? values : Float32Array.from(values);
}

/** Runs `analysis` reading tensors synchronously. `fn`/`asyncFn` name the caller for errors. */
export function runSync<R>(fn: string, asyncFn: string, analysis: Analysis<R>): R {
  if (!canReadSync()) {
    analysis.return(undefined as never);
    throw new SyncReadError(fn, asyncFn, backendName());
  }
  let step = analysis.next(undefined as never);
  try {
    while (!step.done) {
      const t = step.value;
      let values: Float32Array;
      try {
        values = toFloat32(t.dataSync() as ArrayLike<number>);
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
