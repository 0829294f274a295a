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
import type { GpuInfo, InitBackendOptions, StartContext } from './provider';
import { DISPLAY } from '../display';
import type { MimeBundle } from '../../protocol/mime';

export { BackendName, BACKEND_NAMES, BACKEND_ENV, isBackendName } from '../../protocol/backends';
export type { GpuInfo, InitBackendOptions } from './provider';

/** The backend's memory when {@link backend} was called (`tf.memory()`). */
export interface BackendMemory {
  /** Live tensors. */
  readonly numTensors: number;
  /** Bytes of all live tensors. */
  readonly numBytes: number;
  /** GPU backends: bytes of GPU buffers in use, and allocated (in use or pooled for reuse). */
  readonly numBytesInGPU?: number;
  readonly numBytesAllocatedInGPU?: number;
}

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
  /** GPU backends: the adapter (vendor, architecture) and its limits (largest buffer and binding). */
  readonly gpu?: GpuInfo;
  /** Memory in use now (when {@link backend} was called; at start for {@link initBackend}). */
  readonly memory: BackendMemory;
}

/** What is kept of the started backend; the memory is read at each call. */
type Current = Omit<BackendInfo, 'memory'>;

let current: Current = {
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
 * The backend TransferLab computes on: its name and device, on WebGPU the adapter (vendor,
 * architecture) and its memory limits, and the memory in use now.
 *
 * @example
 * ```ts
 * await tl.initBackend();
 * tl.backend().description; // e.g. 'wasm · 1 thread' or 'webgpu · NVIDIA H100 80GB HBM3'
 * tl.backend().gpu?.maxStorageBufferBindingSize; // WebGPU: the largest tensor one kernel can bind, in bytes
 * tl.backend().memory; // {numTensors, numBytes, numBytesInGPU (WebGPU), ...} now
 * tl.backend(); // as a cell's value: the device, its limits and the memory in use
 * ```
 */
export function backend(): BackendInfo {
  // Someone may have switched backends behind our back with tf.setBackend.
  if (current.name !== 'none' && tf.getBackend() !== current.name) {
    const name = tf.getBackend();
    const { gpu: _gpu, ...rest } = current;
    return report({ ...rest, name: isBackendName(name) ? name : 'none', device: name, threads: 0, detail: 'set outside TransferLab', description: `${name} (set outside TransferLab)` });
  }
  return report(current);
}

/** Adds the memory in use now, and a display (not enumerable: the fields stay plain data). */
function report(info: Current): BackendInfo {
  // The engine's counts, and the GPU's from the backend itself: tf.memory() would start a
  // backend when none is started yet.
  const state = tf.engine().state;
  const m: { numBytesInGPU?: number; numBytesAllocatedInGPU?: number } =
    info.name === 'webgpu' ? ((tf.backend() as unknown as { memory(): { numBytesInGPU?: number; numBytesAllocatedInGPU?: number } }).memory() ?? {}) : {};
  const memory: BackendMemory = {
    numTensors: state.numTensors,
    numBytes: state.numBytes,
    ...(m.numBytesInGPU !== undefined ? { numBytesInGPU: m.numBytesInGPU } : {}),
    ...(m.numBytesAllocatedInGPU !== undefined ? { numBytesAllocatedInGPU: m.numBytesAllocatedInGPU } : {}),
  };
  const out: BackendInfo = { ...info, memory };
  Object.defineProperty(out, DISPLAY, { value: (): MimeBundle => ({ 'text/plain': backendText(out) }), enumerable: false });
  return out;
}

/** Bytes for people: `1.5 GiB`, `12.0 MiB`, `512 B`. */
function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0;
  let v = n;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** The display of {@link backend}: the description, the GPU's identity and limits, memory in use. */
function backendText(info: BackendInfo): string {
  const lines = [info.description];
  const g = info.gpu;
  if (g) {
    const who = [g.vendor && `vendor ${g.vendor}`, g.architecture && `architecture ${g.architecture}`, g.software ? 'software adapter' : ''].filter(Boolean).join(', ');
    if (who) lines.push(`GPU: ${g.description} (${who})`);
    else lines.push(`GPU: ${g.description}`);
    lines.push(`limits: largest buffer ${bytes(g.maxBufferSize)}, largest storage binding ${bytes(g.maxStorageBufferBindingSize)}, workgroup memory ${bytes(g.maxComputeWorkgroupStorageSize)}, ${g.maxComputeInvocationsPerWorkgroup} invocations per workgroup`);
    if (g.features.length) lines.push(`features: ${g.features.join(', ')}`);
  }
  const m = info.memory;
  const gpuBytes = m.numBytesInGPU !== undefined ? `; GPU buffers ${bytes(m.numBytesInGPU)} in use${m.numBytesAllocatedInGPU !== undefined ? `, ${bytes(m.numBytesAllocatedInGPU)} allocated` : ''}` : '';
  lines.push(`memory: ${m.numTensors} tensors, ${bytes(m.numBytes)}${gpuBytes}`);
  return lines.join('\n');
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
      return report(current);
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

type Started = Omit<BackendInfo, 'source' | 'skipped' | 'memory'>;

async function startAuto(options: InitBackendOptions): Promise<Omit<Current, 'source'>> {
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
  const { device, threads, detail, gpu } = await provider.start(context);
  return { name, device, threads, detail, description: `${name} · ${detail}`, ...(gpu ? { gpu } : {}) };
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
