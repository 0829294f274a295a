/**
 * Choosing and starting the TensorFlow.js backend.
 *
 * Order of choice: the argument of {@link initBackend}, else the environment variable
 * `TRANSFERLAB_BACKEND` (`webgpu`, `wasm`, `cpu`, `tensorflow`), else automatic: tfjs-node-gpu or
 * tfjs-node when the user installed one (optional peers, loaded with a guarded `require`), else
 * WebGPU when Dawn finds a hardware adapter, else wasm, else cpu. A backend that was asked for by
 * name and cannot start throws {@link BackendUnavailableError} naming why: no silent fallback.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { tf } from './tfjs';
import { BackendUnavailableError } from './errors';
import { fail, formatValue } from './validate';
import { registerWasmKernels } from './wasmKernels';

/** Backends TransferLab can start. `tensorflow` is tfjs-node-gpu or tfjs-node (libtensorflow). */
export const BackendName = {
  webgpu: 'webgpu',
  wasm: 'wasm',
  cpu: 'cpu',
  tensorflow: 'tensorflow',
} as const;
export type BackendName = (typeof BackendName)[keyof typeof BackendName];
export const BACKEND_NAMES: readonly BackendName[] = Object.values(BackendName);
export function isBackendName(s: unknown): s is BackendName {
  return typeof s === 'string' && (BACKEND_NAMES as readonly string[]).includes(s);
}

/** The environment variable that picks the backend when {@link initBackend} gets no argument. */
export const BACKEND_ENV = 'TRANSFERLAB_BACKEND';

/** What {@link backend} reports. */
export interface BackendInfo {
  /** The backend: `webgpu`, `wasm`, `cpu` or `tensorflow`; `none` before {@link initBackend}. */
  readonly name: BackendName | 'none';
  /** The device: a GPU adapter (`NVIDIA H100 80GB HBM3`), `WebAssembly SIMD`, `JavaScript`. */
  readonly device: string;
  /** CPU threads the backend computes with (1 for wasm under Node); 0 for GPU backends. */
  readonly threads: number;
  /** One line for people: `wasm · 1 thread`, `webgpu · NVIDIA H100 80GB HBM3`. */
  readonly description: string;
  /** How the backend was chosen. */
  readonly source: 'argument' | 'environment' | 'auto' | 'none';
  /** Backends that automatic choice tried and skipped, with the reason. */
  readonly skipped: readonly { readonly name: BackendName; readonly reason: string }[];
}

export interface InitBackendOptions {
  /**
   * WebGPU only: a substring of the adapter's description to prefer (Dawn's `adapter=` toggle),
   * e.g. `NVIDIA`. Default: the first hardware adapter.
   */
  readonly adapter?: string;
}

let current: BackendInfo = {
  name: 'none',
  device: 'none',
  threads: 0,
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
  if (current.name !== 'none' && tf.getBackend() !== tfName(current.name)) {
    const name = tf.getBackend();
    return { ...current, name: isBackendName(name) ? name : 'none', device: name, threads: 0, description: `${name} (set outside TransferLab)` };
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
    if (tf.getBackend() === tfName(info.name as BackendName)) return info;
  }
  const promise = (requested === 'auto' ? startAuto(options) : start(requested, options).then((i) => ({ ...i, skipped: [] }))).then(
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

/** The tfjs registry name of a TransferLab backend. */
function tfName(name: BackendName): string {
  return name === 'tensorflow' ? 'tensorflow' : name;
}

type Started = Omit<BackendInfo, 'source' | 'skipped'>;

async function startAuto(options: InitBackendOptions): Promise<Omit<BackendInfo, 'source'>> {
  const skipped: { name: BackendName; reason: string }[] = [];
  for (const name of ['tensorflow', 'webgpu', 'wasm', 'cpu'] as const) {
    try {
      const info = await start(name, options, true);
      return { ...info, skipped };
    } catch (e) {
      skipped.push({ name, reason: e instanceof BackendUnavailableError ? e.reason : String(e) });
    }
  }
  throw new BackendUnavailableError('auto', `no backend could start: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}

async function start(name: BackendName, options: InitBackendOptions, auto = false): Promise<Started> {
  switch (name) {
    case 'cpu':
      return startCpu();
    case 'wasm':
      return startWasm();
    case 'webgpu':
      return startWebGpu(options, auto);
    case 'tensorflow':
      return startTensorflow(auto);
    default: {
      const never: never = name;
      throw new BackendUnavailableError(String(never), 'unknown backend');
    }
  }
}

async function setOrThrow(name: string, reasonIfFalse: string): Promise<void> {
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

async function startCpu(): Promise<Started> {
  await setOrThrow('cpu', 'tf.setBackend("cpu") failed');
  return { name: 'cpu', device: 'JavaScript', threads: 1, description: 'cpu · JavaScript (slow: last resort)' };
}

async function startWasm(): Promise<Started> {
  let wasm: typeof import('@tensorflow/tfjs-backend-wasm');
  try {
    // Loaded on demand: the package registers its kernels when loaded and is not needed otherwise.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
  } catch (e) {
    throw new BackendUnavailableError('wasm', 'the package @tensorflow/tfjs-backend-wasm cannot be loaded (npm install @tensorflow/tfjs-backend-wasm)', { cause: e });
  }
  if (tf.engine().registry['wasm'] === undefined) {
    const dist = `${path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'))}${path.sep}dist${path.sep}`;
    wasm.setWasmPaths(dist);
  }
  registerWasmKernels();
  // The Emscripten runtime installs process handlers that rethrow every uncaught exception and
  // unhandled rejection, which would turn any stray rejection in a notebook into a crash with a
  // page of minified code. Remove the ones it adds.
  const before = {
    uncaughtException: new Set(process.listeners('uncaughtException')),
    unhandledRejection: new Set(process.listeners('unhandledRejection')),
  };
  try {
    await setOrThrow('wasm', 'the WebAssembly module failed to initialise');
  } finally {
    for (const l of process.listeners('uncaughtException')) {
      if (!before.uncaughtException.has(l)) process.removeListener('uncaughtException', l);
    }
    for (const l of process.listeners('unhandledRejection')) {
      if (!before.unhandledRejection.has(l)) process.removeListener('unhandledRejection', l);
    }
  }
  const threads = wasm.getThreadsCount();
  const simd = tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const device = (await simd) ? 'WebAssembly SIMD' : 'WebAssembly';
  return { name: 'wasm', device, threads, description: `wasm · ${threads} thread${threads === 1 ? '' : 's'}` };
}

interface GpuAdapterLike {
  readonly info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
  readonly isFallbackAdapter?: boolean;
  readonly features: ReadonlySet<string>;
  readonly limits: Record<string, number>;
  requestDevice(desc?: unknown): Promise<unknown>;
}
interface GpuLike {
  requestAdapter(options?: unknown): Promise<GpuAdapterLike | null>;
}

/** On Linux, whether any GPU device node exists (automatic choice skips Dawn when none does). */
function linuxHasGpuDevice(): boolean {
  if (process.platform !== 'linux') return true;
  try {
    if (readdirSync('/dev/dri').some((f) => f.startsWith('render') || f.startsWith('card'))) return true;
  } catch {
    // no DRM devices
  }
  try {
    return readdirSync('/dev').some((f) => /^nvidia\d+$/.test(f));
  } catch {
    return false;
  }
}

/** The adapter the webgpu backend was started on (Dawn is set up once per process). */
let webgpuStarted: { deviceName: string; software: boolean; adapterOption: string | undefined } | undefined;

async function startWebGpu(options: InitBackendOptions, auto: boolean): Promise<Started> {
  if (webgpuStarted && tf.engine().registry['webgpu'] !== undefined) {
    const { deviceName, software, adapterOption } = webgpuStarted;
    if (options.adapter !== undefined && options.adapter !== adapterOption) {
      throw new BackendUnavailableError('webgpu', `already started on ${deviceName}; the adapter cannot be changed within a process`);
    }
    if (software && auto) throw new BackendUnavailableError('webgpu', `only a software adapter was found (${deviceName}); it is slower than wasm`);
    await setOrThrow('webgpu', `the WebGPU device on ${deviceName} is no longer usable`);
    return { name: 'webgpu', device: deviceName, threads: 0, description: `webgpu · ${deviceName}${software ? ' (software)' : ''}` };
  }
  if (auto && !linuxHasGpuDevice()) {
    throw new BackendUnavailableError('webgpu', 'no GPU device (/dev/dri, /dev/nvidia*) on this machine');
  }
  let dawn: { create: (flags: string[]) => GpuLike; globals: Record<string, unknown> };
  try {
    dawn = (await import('webgpu')) as unknown as typeof dawn;
  } catch (e) {
    throw new BackendUnavailableError('webgpu', `the package 'webgpu' (Dawn for Node) cannot be loaded: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const flags = options.adapter ? [`adapter=${options.adapter}`] : [];
  let gpu: GpuLike;
  let adapter: GpuAdapterLike | null;
  try {
    gpu = dawn.create(flags);
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    throw new BackendUnavailableError('webgpu', `Dawn failed to enumerate adapters: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (!adapter) {
    throw new BackendUnavailableError(
      'webgpu',
      'Dawn found no GPU adapter (no Vulkan driver: install the GPU vendor driver, or mesa-vulkan-drivers from bookworm-backports for the software rasteriser lavapipe)',
    );
  }
  const info = adapter.info ?? {};
  const software = info.isFallbackAdapter ?? adapter.isFallbackAdapter ?? info.architecture === 'software';
  const deviceName = info.description || [info.vendor, info.device].filter(Boolean).join(' ') || 'unknown adapter';
  if (software && auto) {
    throw new BackendUnavailableError('webgpu', `only a software adapter was found (${deviceName}); it is slower than wasm`);
  }
  Object.assign(globalThis, dawn.globals);
  const nav = (globalThis as { navigator?: Record<string, unknown> }).navigator;
  if (nav === undefined) {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  } else if (nav['gpu'] === undefined) {
    Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, writable: true });
  }
  let webgpu: { WebGPUBackend: new (device: unknown, adapterInfo: unknown) => tf.KernelBackend };
  try {
    // Loaded only after navigator.gpu exists (see above).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    webgpu = require('@tensorflow/tfjs-backend-webgpu') as typeof webgpu;
  } catch (e) {
    throw new BackendUnavailableError('webgpu', 'the package @tensorflow/tfjs-backend-webgpu cannot be loaded', { cause: e });
  }
  if (tf.engine().registry['webgpu'] === undefined) {
    // Register our own factory so that the adapter we inspected (and the `adapter` option) is the
    // one the backend computes on; the package's factory asks navigator.gpu for any adapter.
    if (tf.findBackendFactory('webgpu') !== null) tf.removeBackend('webgpu');
    tf.registerBackend(
      'webgpu',
      async () => {
        const limits = adapter.limits;
        const requiredFeatures = adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
        const device = await adapter.requestDevice({
          requiredFeatures,
          requiredLimits: {
            maxComputeWorkgroupStorageSize: limits['maxComputeWorkgroupStorageSize'],
            maxComputeWorkgroupsPerDimension: limits['maxComputeWorkgroupsPerDimension'],
            maxStorageBufferBindingSize: limits['maxStorageBufferBindingSize'],
            maxBufferSize: limits['maxBufferSize'],
            maxComputeWorkgroupSizeX: limits['maxComputeWorkgroupSizeX'],
            maxComputeInvocationsPerWorkgroup: limits['maxComputeInvocationsPerWorkgroup'],
          },
        });
        return new webgpu.WebGPUBackend(device, adapter.info);
      },
      3,
    );
  }
  await setOrThrow('webgpu', `the WebGPU device on ${deviceName} failed to initialise`);
  webgpuStarted = { deviceName, software, adapterOption: options.adapter };
  return { name: 'webgpu', device: deviceName, threads: 0, description: `webgpu · ${deviceName}${software ? ' (software)' : ''}` };
}

async function startTensorflow(auto: boolean): Promise<Started> {
  const tried: string[] = [];
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    let resolved: string;
    try {
      resolved = require.resolve(pkg);
    } catch {
      tried.push(`${pkg} is not installed`);
      continue;
    }
    try {
      // An optional peer the user may have installed: a guarded, synchronous require.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require(resolved);
    } catch (e) {
      const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
      if (!auto) throw new BackendUnavailableError('tensorflow', `${pkg} is installed but failed to load: ${msg}`, { cause: e });
      tried.push(`${pkg} failed to load: ${msg}`);
      continue;
    }
    await setOrThrow('tensorflow', `${pkg} loaded but its backend did not start`);
    const gpu = pkg.endsWith('-gpu');
    return { name: 'tensorflow', device: gpu ? 'libtensorflow (CUDA)' : 'libtensorflow (CPU)', threads: 0, description: `tensorflow · ${pkg}` };
  }
  throw new BackendUnavailableError('tensorflow', `${tried.join('; ')} (optional peers: npm install @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu)`);
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
