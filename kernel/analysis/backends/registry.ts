/**
 * The registry of compute backends: every provider registered once under its name, from the one
 * list below. Adding a backend: its name in kernel/protocol/backends.ts, a provider file in this
 * folder, and one line in {@link BUILTIN_PROVIDERS}.
 */
import { isBackendName, type BackendName } from '../../protocol/backends';
import type { BackendCapabilities, BackendProvider } from './provider';
import { cpuProvider } from './cpu';
import { tensorflowProvider } from './tensorflow';
import { wasmProvider } from './wasm';
import { webgpuProvider } from './webgpu';

/** The backends TransferLab ships, registered when this module loads. */
const BUILTIN_PROVIDERS: readonly BackendProvider[] = [webgpuProvider, wasmProvider, cpuProvider, tensorflowProvider];

const registry = new Map<BackendName, BackendProvider>();

/** Registers a provider; a name may be registered once, and must be one of the protocol's names. */
function registerBackendProvider(provider: BackendProvider): void {
  if (!isBackendName(provider.name)) throw new Error(`backend provider '${String(provider.name)}' is not a backend name of kernel/protocol/backends.ts`);
  if (registry.has(provider.name)) throw new Error(`backend provider '${provider.name}' is registered twice`);
  registry.set(provider.name, provider);
}

for (const provider of BUILTIN_PROVIDERS) registerBackendProvider(provider);

/** The provider of a backend, if registered. */
export function backendProvider(name: string): BackendProvider | undefined {
  return registry.get(name as BackendName);
}

/** Every registered provider, highest priority first: the order of automatic choice. */
export function backendProviders(): BackendProvider[] {
  return [...registry.values()].sort((a, b) => b.priority - a.priority);
}

/** The names of the registered providers, in the order they were registered. */
export function registeredBackendNames(): BackendName[] {
  return [...registry.keys()];
}

/** What the backend tfjs calls `name` can do; undefined for a backend TransferLab does not provide. */
export function backendCapabilities(name: string): BackendCapabilities | undefined {
  return backendProvider(name)?.capabilities;
}
