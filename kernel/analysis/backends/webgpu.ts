/**
 * WebGPU through Dawn for Node (the `webgpu` package): GPUs. Automatic choice takes it when Dawn
 * finds a hardware adapter, and skips software adapters (slower than wasm).
 */
import { readdirSync } from 'node:fs';
import { tf } from '../tfjs';
import { BackendUnavailableError } from '../errors';
import { setWebGpuKernels } from '../webgpuKernels';
import { activate } from './activate';
import type { BackendProvider, GpuInfo, StartContext, StartedBackend } from './provider';

export const webgpuProvider: BackendProvider = {
  name: 'webgpu',
  priority: 3,
  capabilities: { syncRead: false, reduceOnHost: false },
  start: startWebGpu,
};

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
let webgpuStarted: { adapterOption: string | undefined; gpu: GpuInfo } | undefined;

function started(gpu: GpuInfo): StartedBackend {
  return { device: gpu.description, threads: 0, detail: `${gpu.description}${gpu.software ? ' (software)' : ''}`, gpu };
}

/** The adapter's description and the limits that bound tensor sizes and kernels. */
function gpuInfo(adapter: GpuAdapterLike, deviceName: string, software: boolean): GpuInfo {
  const limit = (name: string): number => Number(adapter.limits[name] ?? 0);
  return {
    description: deviceName,
    vendor: adapter.info?.vendor ?? '',
    architecture: adapter.info?.architecture ?? '',
    software,
    maxBufferSize: limit('maxBufferSize'),
    maxStorageBufferBindingSize: limit('maxStorageBufferBindingSize'),
    maxComputeWorkgroupStorageSize: limit('maxComputeWorkgroupStorageSize'),
    maxComputeInvocationsPerWorkgroup: limit('maxComputeInvocationsPerWorkgroup'),
    features: [...adapter.features].sort(),
  };
}

async function startWebGpu({ options, auto }: StartContext): Promise<StartedBackend> {
  if (webgpuStarted && tf.engine().registry['webgpu'] !== undefined) {
    const { adapterOption, gpu } = webgpuStarted;
    const { description: deviceName, software } = gpu;
    if (options.adapter !== undefined && options.adapter !== adapterOption) {
      throw new BackendUnavailableError('webgpu', `already started on ${deviceName}; the adapter cannot be changed within a process`);
    }
    if (software && auto) throw new BackendUnavailableError('webgpu', `only a software adapter was found (${deviceName}); it is slower than wasm`);
    await activate('webgpu', `the WebGPU device on ${deviceName} is no longer usable`);
    return started(gpu);
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
  let found: GpuAdapterLike | null;
  try {
    gpu = dawn.create(flags);
    found = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    throw new BackendUnavailableError('webgpu', `Dawn failed to enumerate adapters: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (!found) {
    throw new BackendUnavailableError(
      'webgpu',
      'Dawn found no GPU adapter (no Vulkan driver: install the GPU vendor driver, or mesa-vulkan-drivers from bookworm-backports for the software rasteriser lavapipe)',
    );
  }
  const adapter: GpuAdapterLike = found;
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
  // Our kernels for the hot paths replace the package's (which stay their fallback);
  // TRANSFERLAB_WEBGPU_KERNELS=stock keeps the package's alone.
  setWebGpuKernels(process.env['TRANSFERLAB_WEBGPU_KERNELS'] === 'stock' ? 'stock' : 'ours');
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
  await activate('webgpu', `the WebGPU device on ${deviceName} failed to initialise`);
  const gpuDescription = gpuInfo(adapter, deviceName, software);
  webgpuStarted = { adapterOption: options.adapter, gpu: gpuDescription };
  return started(gpuDescription);
}
