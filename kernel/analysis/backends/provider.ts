/**
 * What a compute backend is to TransferLab: a provider registered under a name with a priority and
 * a start function, as tfjs registers its own backends (`tf.registerBackend(name, factory,
 * priority)`). One provider per file in this folder; registry.ts lists them.
 */
import type { BackendName } from '../../protocol/backends';

/** What the analyses need to know of a backend before they use it. */
export interface BackendCapabilities {
  /** Tensors can be read synchronously (`dataSync`); WebGPU under Node cannot. */
  readonly syncRead: boolean;
  /** Computes on the CPU: the analyses reduce large intermediate results in JavaScript. */
  readonly reduceOnHost: boolean;
}

/** Options of `tl.initBackend`. */
export interface InitBackendOptions {
  /**
   * WebGPU only: a substring of the adapter's description to prefer (Dawn's `adapter=` toggle),
   * e.g. `NVIDIA`. Default: the first hardware adapter.
   */
  readonly adapter?: string;
}

/** How a provider is asked to start. */
export interface StartContext {
  readonly options: InitBackendOptions;
  /**
   * True during automatic choice: the provider should refuse (throw) where it would start but
   * compute slowly (a software GPU adapter), and not spend time where nothing can be found.
   */
  readonly auto: boolean;
}

/** A started backend, as its provider describes it. */
export interface StartedBackend {
  /** The device: a GPU adapter (`NVIDIA H100 80GB HBM3`), `WebAssembly SIMD`, `JavaScript`. */
  readonly device: string;
  /** CPU threads the backend computes with (1 for wasm under Node); 0 for GPU backends. */
  readonly threads: number;
  /** What people see next to the backend's name: `1 thread`, `NVIDIA H100 80GB HBM3`. */
  readonly detail: string;
  /** GPU backends: the adapter and its limits. */
  readonly gpu?: GpuInfo;
}

/** The GPU adapter a backend computes on, as the driver (Dawn) describes it. */
export interface GpuInfo {
  /** The adapter's description, e.g. `NVIDIA H100 80GB HBM3`, `llvmpipe (Mesa 25.0.7)`. */
  readonly description: string;
  /** Vendor and architecture as the driver names them (may be empty). */
  readonly vendor: string;
  readonly architecture: string;
  /** A software rasteriser (lavapipe, SwiftShader), slower than wasm. */
  readonly software: boolean;
  /** The largest single buffer, in bytes. */
  readonly maxBufferSize: number;
  /** The largest buffer one kernel may bind as storage, in bytes (bounds one tensor's size on WebGPU). */
  readonly maxStorageBufferBindingSize: number;
  /** Workgroup shared memory, in bytes. */
  readonly maxComputeWorkgroupStorageSize: number;
  readonly maxComputeInvocationsPerWorkgroup: number;
  /** Optional features the adapter offers (`timestamp-query`, `shader-f16`, `subgroups`, ...). */
  readonly features: readonly string[];
}

/** A compute backend TransferLab can start. */
export interface BackendProvider {
  /** Its name (one of the protocol's names; also its name in tfjs's registry). */
  readonly name: BackendName;
  /** Automatic choice tries providers from the highest priority down. */
  readonly priority: number;
  readonly capabilities: BackendCapabilities;
  /**
   * Makes this backend tfjs's current one.
   * @throws BackendUnavailableError saying why it cannot start.
   */
  start(context: StartContext): Promise<StartedBackend>;
}
