/**
 * The kernel slots of a sweep: local kernel processes (`--kernels N`) and kernels on Jupyter
 * Servers (`--server URL`, `--server-kernels K` slots each).
 */
import type { KernelConnection } from '../../client/connection';
import { KernelClient, type HeartbeatOptions } from '../../client/kernelClient';
import { AUTO_BACKEND, BACKEND_ENV } from '../../kernel/protocol/backends';
import type { KernelSlot } from './pool';

/** As `transferlab run`: a headless run waits about a minute and a half for a silent kernel. */
const SWEEP_HEARTBEAT: HeartbeatOptions = { intervalMs: 5000, timeoutMs: 10_000, misses: 6 };

export interface LocalSlotOptions {
  /** The kernel's working directory (the notebook's folder). */
  readonly cwd: string;
  /** `TRANSFERLAB_BACKEND` of the kernel; `auto` or undefined: the kernel chooses. */
  readonly backend?: string;
  /** The kernel script (default: the package's dist/kernel.js). */
  readonly kernelScript?: string;
  readonly onKernelLog?: (text: string) => void;
}

/**
 * Slot `n` (1-based) for local kernel processes.
 * @example
 * const slots = [1, 2].map((n) => localSlot(n, { cwd: path.dirname(notebookFile), backend: 'wasm' }));
 */
export function localSlot(n: number, options: LocalSlotOptions): KernelSlot {
  const backend = options.backend === undefined || options.backend === AUTO_BACKEND ? '' : options.backend;
  return {
    label: `local #${n}`,
    where: 'local',
    start: () =>
      KernelClient.launch({
        cwd: options.cwd,
        env: { [BACKEND_ENV]: backend },
        heartbeat: SWEEP_HEARTBEAT,
        ...(options.kernelScript ? { kernelScript: options.kernelScript } : {}),
        ...(options.onKernelLog ? { onLog: options.onKernelLog } : {}),
      }),
  };
}

/** What a sweep needs of a Jupyter Server client (client/jupyterServer.ts's `JupyterServer`). */
export interface KernelServer {
  /** The server's URL with its base path; never holds the token. */
  readonly url: string;
  startKernel(): Promise<KernelConnection>;
}

/**
 * Slot `n` (1-based) on a Jupyter Server: each run starts a fresh kernel there.
 * @example
 * const slot = serverSlot(new JupyterServer({ url, token }), 1);
 */
export function serverSlot(server: KernelServer, n: number): KernelSlot {
  return {
    label: `${server.url} #${n}`,
    where: server.url,
    start: () => server.startKernel(),
  };
}
