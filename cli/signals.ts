/**
 * How the command line ends on a termination signal. Node's default for SIGTERM and SIGHUP ends
 * the process at once, without its 'exit' handlers: a kernel it started would keep running and
 * the kernel's connection file (with its key) would stay in the temporary folder. Here the signal
 * makes the process exit with the conventional status, 128 + the signal's number, and the 'exit'
 * handlers do the cleanup: KernelClient stops its kernels and removes their connection files, the
 * atomic writer removes a half-written temporary file. Kernels on a Jupyter Server are shut down
 * through its REST API first (for at most 3 s). Nothing else is written.
 */
import { shutdownRemoteKernels } from '../client/remoteKernel';

/** The signals handled, with the exit status each gives (128 + the signal's number). */
export const TERMINATION_SIGNALS = {
  SIGTERM: 143,
  SIGHUP: 129,
} as const;
export type TerminationSignal = keyof typeof TERMINATION_SIGNALS;
export function isTerminationSignal(value: unknown): value is TerminationSignal {
  return typeof value === 'string' && Object.hasOwn(TERMINATION_SIGNALS, value);
}

/**
 * Until the returned function is called, SIGTERM and SIGHUP make the process say so on stderr (via
 * `report`) and exit with 143 or 129, its 'exit' handlers cleaning up.
 * @example
 * const restore = exitOnTerminationSignals((t) => process.stderr.write(t));
 * try { await work(); } finally { restore(); }
 */
export function exitOnTerminationSignals(report: (text: string) => void): () => void {
  const handlers = (Object.keys(TERMINATION_SIGNALS) as TerminationSignal[]).map((signal) => {
    const handler = () => {
      try {
        report(`transferlab: ${signal}: exiting (a running kernel is stopped, nothing more is written)\n`);
      } catch {
        // the report is best effort
      }
      void shutdownRemoteKernels().finally(() => process.exit(TERMINATION_SIGNALS[signal]));
    };
    process.on(signal, handler);
    return () => void process.off(signal, handler);
  });
  return () => handlers.forEach((off) => off());
}
