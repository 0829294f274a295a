/**
 * Making a backend tfjs's current one, for the providers: a refusal becomes a
 * {@link BackendUnavailableError}, and model weights left on a WebGPU backend move along.
 */
import { tf } from '../tfjs';
import { BackendUnavailableError } from '../errors';

/**
 * `tf.setBackend(name)`, throwing {@link BackendUnavailableError} (with `reasonIfFalse` when tfjs
 * just says no). Leaving webgpu moves its variables to the new backend.
 */
export async function activate(name: string, reasonIfFalse: string): Promise<void> {
  const previous = tf.getBackend() as string | undefined;
  let ok: boolean;
  try {
    ok = await tf.setBackend(name);
  } catch (e) {
    throw new BackendUnavailableError(name, e instanceof Error ? e.message : String(e), { cause: e });
  }
  if (!ok || tf.getBackend() !== name) throw new BackendUnavailableError(name, reasonIfFalse);
  if (previous === 'webgpu' && name !== 'webgpu') await moveVariablesFrom('webgpu');
}

interface EngineInternals {
  state: {
    registeredVariables: Record<string, tf.Variable>;
    tensorInfo: WeakMap<object, { backend: tf.KernelBackend; shape: number[]; dtype: tf.DataType }>;
  };
}

/**
 * Moves every variable (model weights) held by backend `from` to the current backend, reading
 * asynchronously. tfjs moves tensors between backends lazily with a synchronous read, which the
 * webgpu backend cannot do under Node; without this, models built on webgpu would be unusable
 * after switching to wasm or cpu. Other tensors still on webgpu must be read with `await t.data()`.
 */
async function moveVariablesFrom(from: string): Promise<void> {
  const engine = tf.engine() as unknown as EngineInternals;
  const src = tf.engine().findBackend(from);
  const dst = tf.backend();
  if (!src || src === dst) return;
  for (const v of Object.values(engine.state.registeredVariables)) {
    const info = engine.state.tensorInfo.get(v.dataId);
    if (!info || info.backend !== src || v.isDisposed) continue;
    const values = await src.read(v.dataId);
    const refCount = src.refCount(v.dataId);
    src.disposeData(v.dataId, true);
    info.backend = dst;
    dst.move(v.dataId, values, info.shape, info.dtype, refCount);
  }
}
