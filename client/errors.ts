/**
 * The failures of a kernel process that a kernel's user can meet, one class each, shared by
 * everyone who drives a kernel through {@link KernelClient}: the VS Code extension, `transferlab
 * run`, the benchmarks and the tests. Tell them apart with `instanceof`; each also spells out its
 * `name` (shown in cell error outputs), as the extension's production bundle is minified.
 */

/** Short, readable text of an unknown thrown value. */
function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The kernel process could not be started or never answered kernel_info in time: a wrong Node
 * executable, a missing kernel script, a port taken, a crash at start-up.
 *
 * Raised by `KernelClient.launch` (with the reason as the message) and by the extension's
 * `KernelProcess.start` (with the Node executable and script it tried, the client's error as
 * `cause`). Handled by the extension's controller, which fails the cell with it and names the
 * `transferlab.nodePath` setting, and by `transferlab run`, which prints it and exits with status 1.
 */
export class KernelStartError extends Error {
  override readonly name = 'KernelStartError';
  /** The Node executable that was to run the kernel, when the starter said. */
  readonly nodePath?: string;
  /** The kernel script, when the starter said. */
  readonly kernelScript?: string;

  constructor(
    /** Why the kernel did not start, in words. */
    message: string,
    options: ErrorOptions & { readonly nodePath?: string; readonly kernelScript?: string } = {},
  ) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    if (options.nodePath !== undefined) this.nodePath = options.nodePath;
    if (options.kernelScript !== undefined) this.kernelScript = options.kernelScript;
  }

  /** The kernel started as `nodePath kernelScript` did not come up, because of `cause`. */
  static ofProcess(nodePath: string, kernelScript: string, cause: unknown): KernelStartError {
    return new KernelStartError(`The TransferLab kernel did not start (${nodePath} ${kernelScript}): ${errorMessage(cause)}.`, { cause, nodePath, kernelScript });
  }
}

/**
 * The kernel process exited while it was in use: killed, out of memory, a native crash; or a
 * kernel on a Jupyter Server is gone (the server restarted, the kernel was culled, the link stayed
 * down too long: `code` and `signal` are then null and the message gives the reason).
 *
 * Raised by `KernelClient` (rejecting every request still waiting for its reply, with the tail of
 * the kernel's stderr) and by the extension's `KernelProcess` when the child exits or vanishes.
 * Handled by the extension's controller (running and queued cells end as failed, a notification
 * offers a restart; the document is left as it is) and by `transferlab run` (the cell fails as
 * `died`, the partial notebook is written, exit status 1).
 */
export class KernelDiedError extends Error {
  override readonly name = 'KernelDiedError';
  constructor(
    /** The process's exit code, or null when a signal ended it. */
    readonly code: number | null,
    /** The signal that ended the process, or null when it exited. */
    readonly signal: string | null,
    /** The last lines the kernel wrote to stderr ('' when unknown). */
    readonly stderrTail = '',
    /** For a kernel that is not a process of ours (on a Jupyter Server): why it is gone, in words. */
    reason?: string,
  ) {
    super(reason ?? `The kernel exited (${signal ? `signal ${signal}` : `code ${code}`})${stderrTail ? `:\n${stderrTail}` : ''}`);
  }
}

/**
 * The kernel stopped answering on its heartbeat socket: the process may be alive but hung
 * (stopped, deadlocked, swapping), or a remote kernel's network is gone.
 *
 * `KernelClient` emits 'unresponsive' rather than throwing it; `transferlab run` makes it the
 * failure of the running cell (and kills the process); the extension shows the kernel as not
 * responding and offers a restart.
 */
export class KernelUnresponsiveError extends Error {
  override readonly name = 'KernelUnresponsiveError';
  constructor(readonly silentMs: number) {
    super(`The kernel has not answered its heartbeat for ${(silentMs / 1000).toFixed(1)} s`);
  }
}
