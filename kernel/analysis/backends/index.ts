/**
 * Choosing and starting the TensorFlow.js backend.
 *
 * Order of choice: the argument of {@link initBackend}, else the environment variable
 * `TRANSFERLAB_BACKEND` (`webgpu`, `wasm`, `cpu`, `tensorflow`), else automatic: the registered
 * backends (registry.ts) from the highest priority down: tfjs-node-gpu or tfjs-node when the user
 * installed one, else WebGPU when Dawn finds a hardware adapter, else wasm, else cpu. A backend
 * that was asked for by name and cannot start throws {@link BackendUnavailableError} naming why:
 * no silent fallback.
 */
import { tf } from '../tfjs';
import { BackendUnavailableError } from '../errors';
import { fail, formatValue } from '../validate';
import { BACKEND_ENV, BACKEND_NAMES, isBackendName, type BackendName } from '../../protocol/backends';
import { backendProvider, backendProviders } from './registry';
import type { InitBackendOptions, StartContext } from './provider';

export { BackendName, BACKEND_NAMES, BACKEND_ENV, isBackendName } from '../../protocol/backends';
export type { InitBackendOptions } from './provider';

/** What {@link backend} reports. */
export interface BackendInfo {
  /** The backend: `webgpu`, `wasm`, `cpu` or `tensorflow`; `none` before {@link initBackend}. */
  readonly name: BackendName | 'none';
  /** The device: a GPU adapter (`NVIDIA H100 80GB HBM3`), `WebAssembly SIMD`, `JavaScript`. */
  readonly device: string;
  /** CPU threads the backend computes with (1 for wasm under Node); 0 for GPU backends. */
  readonly threads: number;
  /** What people see next to the backend's name: `1 thread`, `NVIDIA H100 80GB HBM3`. */
  readonly detail: string;
  /** One line for people: `wasm · 1 thread`, `webgpu · NVIDIA H100 80GB HBM3`. */
  readonly description: string;
  /** How the backend was chosen. */
  readonly source: 'argument' | 'environment' | 'auto' | 'none';
  /** Backends that automatic choice tried and skipped, with the reason. */
  readonly skipped: readonly { readonly name: BackendName; readonly reason: string }[];
}

let current: BackendInfo = {
  name: 'none',
  device: 'none',
  threads: 0,
  detail: 'no backend started',
  description: 'no backend started: tensors use the cpu backend until tl.initBackend()',
  source: 'none',
  skipped: [],
};
let pending: { key: string; promise: Promise<BackendInfo> } | undefined;

/**
 * The backend TransferLab computes on.
 *
 * @example
 * ```ts
 * await tl.initBackend();
 * tl.backend().description; // e.g. 'wasm · 1 thread' or 'webgpu · NVIDIA H100 80GB HBM3'
 * ```
 */
export function backend(): BackendInfo {
  // Someone may have switched backends behind our back with tf.setBackend.
  if (current.name !== 'none' && tf.getBackend() !== current.name) {
    const name = tf.getBackend();
    return { ...current, name: isBackendName(name) ? name : 'none', device: name, threads: 0, detail: 'set outside TransferLab', description: `${name} (set outside TransferLab)` };
  }
  return current;
}

/**
 * Starts the backend (idempotent: calling it again with the same choice returns at once; a
 * concurrent call waits for the first). Without `name`, uses `TRANSFERLAB_BACKEND` or picks
 * automatically. Throws {@link BackendUnavailableError} when a backend asked for cannot start.
 *
 * @example
 * ```ts
 * const info = await tl.initBackend('wasm');
 * console.log(info.description); // 'wasm · 1 thread'
 * ```
 */
export async function initBackend(name?: BackendName, options: InitBackendOptions = {}): Promise<BackendInfo> {
  const fn = 'tl.initBackend';
  if (name !== undefined && !isBackendName(name)) fail(fn, 'name', `must be one of ${BACKEND_NAMES.join(', ')}, got ${formatValue(name)}`);
  if (options === null || typeof options !== 'object') fail(fn, 'options', `must be an object, got ${formatValue(options)}`);
  if (options.adapter !== undefined && typeof options.adapter !== 'string') fail(fn, 'options.adapter', `must be a string, got ${formatValue(options.adapter)}`);

  let source: BackendInfo['source'] = 'argument';
  let requested: BackendName | 'auto' | undefined = name;
  if (requested === undefined) {
    const env = process.env[BACKEND_ENV]?.trim();
    if (env) {
      if (!isBackendName(env)) {
        throw new BackendUnavailableError(env, `${BACKEND_ENV}=${env} is not a backend; use one of ${BACKEND_NAMES.join(', ')}`);
      }
      requested = env;
      source = 'environment';
    } else {
      requested = 'auto';
      source = 'auto';
    }
  }
  const key = `${requested}|${options.adapter ?? ''}`;
  if (pending && pending.key === key) {
    const info = await pending.promise;
    if (tf.getBackend() === info.name) return info;
  }
  const promise = (requested === 'auto' ? startAuto(options) : start(requested, { options, auto: false }).then((i) => ({ ...i, skipped: [] }))).then(
    (info) => {
      current = { ...info, source };
      return current;
    },
  );
  pending = { key, promise };
  try {
    return await promise;
  } catch (e) {
    if (pending?.promise === promise) pending = undefined;
    throw e;
  }
}

type Started = Omit<BackendInfo, 'source' | 'skipped'>;

async function startAuto(options: InitBackendOptions): Promise<Omit<BackendInfo, 'source'>> {
  const skipped: { name: BackendName; reason: string }[] = [];
  for (const provider of backendProviders()) {
    try {
      const info = await start(provider.name, { options, auto: true });
      return { ...info, skipped };
    } catch (e) {
      skipped.push({ name: provider.name, reason: e instanceof BackendUnavailableError ? e.reason : String(e) });
    }
  }
  throw new BackendUnavailableError('auto', `no backend could start: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}

async function start(name: BackendName, context: StartContext): Promise<Started> {
  const provider = backendProvider(name);
  if (!provider) throw new BackendUnavailableError(name, 'unknown backend');
  const { device, threads, detail } = await provider.start(context);
  return { name, device, threads, detail, description: `${name} · ${detail}` };
}

/**
 * Starts a backend if none was started yet (automatic choice); used by asynchronous entry points
 * such as `tl.train` so that plain scripts need no explicit {@link initBackend}.
 */
export async function ensureBackend(): Promise<BackendInfo> {
  if (current.name !== 'none') return backend();
  if (pending) {
    try {
      return await pending.promise;
    } catch {
      // fall through to a fresh attempt, which throws the error again for this caller
    }
  }
  return initBackend();
}
