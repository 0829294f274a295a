/**
 * The compute backends as every process names them: the kernel's analysis API (which registers a
 * provider for each name), the kernel's `kernel_info_reply`, the VS Code setting
 * `transferlab.backend` (package.json repeats {@link BACKEND_CHOICES} and their descriptions; a
 * test holds the two equal) and the command line's `--backend`.
 *
 * Adding a backend: its name here, its description in {@link BACKEND_CHOICE_DESCRIPTIONS} (and
 * package.json), one provider file in kernel/analysis/backends/ and one line in its list.
 */
import type { KernelInfoReply } from './messages';

/** Backends TransferLab can start. `tensorflow` is tfjs-node-gpu or tfjs-node (libtensorflow). */
export const BackendName = {
  webgpu: 'webgpu',
  wasm: 'wasm',
  cpu: 'cpu',
  tensorflow: 'tensorflow',
} as const;
export type BackendName = (typeof BackendName)[keyof typeof BackendName];

/** Every {@link BackendName}, in the order messages list them. */
export const BACKEND_NAMES: readonly BackendName[] = Object.values(BackendName);

export function isBackendName(s: unknown): s is BackendName {
  return typeof s === 'string' && (BACKEND_NAMES as readonly string[]).includes(s);
}

/** The choice that lets the kernel pick the fastest backend it can start. */
export const AUTO_BACKEND = 'auto';

/** What a user can ask for: a backend by name, or `auto`. */
export const BackendChoice = { auto: AUTO_BACKEND, ...BackendName } as const;
export type BackendChoice = (typeof BackendChoice)[keyof typeof BackendChoice];

/**
 * One line per choice for people (the setting's `enumDescriptions`), in the order settings and the
 * command line list them. The type makes it name every choice exactly once.
 */
export const BACKEND_CHOICE_DESCRIPTIONS = {
  auto: 'Let the kernel choose the fastest backend it can load.',
  wasm: 'TensorFlow.js WebAssembly (SIMD) backend.',
  cpu: 'TensorFlow.js plain JavaScript backend (slow; a last resort).',
  webgpu: 'TensorFlow.js WebGPU backend through Dawn (the `webgpu` package).',
  tensorflow: 'Native TensorFlow through @tensorflow/tfjs-node, if you installed it.',
} as const satisfies Record<BackendChoice, string>;

/** Every {@link BackendChoice}, `auto` first, in the order settings and the command line list them. */
export const BACKEND_CHOICES = Object.keys(BACKEND_CHOICE_DESCRIPTIONS) as readonly BackendChoice[];

export function isBackendChoice(s: unknown): s is BackendChoice {
  return typeof s === 'string' && (BACKEND_CHOICES as readonly string[]).includes(s);
}

/** The environment variable that picks the kernel's backend (a {@link BackendChoice}; unset means `auto`). */
export const BACKEND_ENV = 'TRANSFERLAB_BACKEND';

/**
 * The kernel's compute backend as data, sent in `kernel_info_reply` under
 * {@link KERNEL_INFO_BACKEND_KEY} (an extra content field, which the Jupyter protocol allows and
 * other clients ignore). The kernel starts its backend in the background: until it has, the
 * reply says `starting`, and clients ask again.
 */
export type KernelBackendInfo =
  | {
      readonly starting: true;
      /** The backend asked for (`TRANSFERLAB_BACKEND` as given, or `auto`). */
      readonly backend: string;
      /** One line for people: `auto (starting)`. */
      readonly description: string;
    }
  | {
      readonly starting: false;
      /** The backend computing: a {@link BackendName}, or tfjs's name of one set outside TransferLab. */
      readonly backend: string;
      /** The device: a GPU adapter (`NVIDIA H100 80GB HBM3`), `WebAssembly SIMD`, `JavaScript`. */
      readonly device: string;
      /** CPU threads the backend computes with; 0 for GPU backends. */
      readonly threads: number;
      /** What people see next to the backend's name: `1 thread`, `NVIDIA H100 80GB HBM3`. */
      readonly detail: string;
      /** One line for people: `wasm · 1 thread`. */
      readonly description: string;
    };

/** The key of `kernel_info_reply`'s content that holds the {@link KernelBackendInfo}. */
export const KERNEL_INFO_BACKEND_KEY = 'transferlab';

/** A TransferLab kernel's `kernel_info_reply` content. */
export type TransferLabKernelInfoReply = KernelInfoReply & { readonly [KERNEL_INFO_BACKEND_KEY]: KernelBackendInfo };

/** What the kernel reports while the backend `choice` (`auto`, `wasm`, …) is still starting. */
export function startingBackend(choice: string): KernelBackendInfo {
  return { starting: true, backend: choice, description: `${choice} (starting)` };
}

/** Whether `value` is a well-formed {@link KernelBackendInfo} (it comes from another process). */
export function isKernelBackendInfo(value: unknown): value is KernelBackendInfo {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  if (typeof v.backend !== 'string' || typeof v.description !== 'string') return false;
  if (v.starting === true) return true;
  return v.starting === false && typeof v.device === 'string' && typeof v.threads === 'number' && typeof v.detail === 'string';
}

/** The {@link KernelBackendInfo} of a `kernel_info_reply`'s content; undefined for other kernels. */
export function kernelBackendInfo(reply: object): KernelBackendInfo | undefined {
  const value = (reply as Record<string, unknown>)[KERNEL_INFO_BACKEND_KEY];
  return isKernelBackendInfo(value) ? value : undefined;
}
