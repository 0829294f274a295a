/**
 * The runs of a sweep on a pool of kernel slots, as many at a time as there are slots. A slot is
 * a place where one kernel runs at a time: a local kernel process, or a kernel on a Jupyter
 * Server; each run gets a fresh kernel, started and shut down by `runNotebook`.
 *
 * - A run whose kernel died (or whose link to it failed) is requeued, preferably on another slot,
 *   up to `retries` times; then it fails.
 * - A slot whose kernel does not start `maxStartFailures` times in a row is retired (its server is
 *   gone) and the sweep goes on with the others; its run is requeued without counting as a retry.
 *   When every slot is retired, the runs still queued fail.
 * - A cell that fails (an error, a timeout) fails its run, which is not retried: it would fail
 *   again.
 * - Aborting the signal (Ctrl-C) interrupts the running cells; runs not finished are reported as
 *   interrupted and nothing more starts.
 */
import type { KernelConnection } from '../../client/connection';
import type { JsonValue, TsnbNotebook } from '../../kernel/protocol/tsnb';
import { FailureKind } from '../errors';
import { runNotebook, type RunEvent, type RunNotebookResult } from '../run/execution';

/** A place where the sweep runs one kernel at a time. */
export interface KernelSlot {
  /** For people: `local #1`, `http://host/base/ #2` (never a token). */
  readonly label: string;
  /** Where its runs ran, as the summary says it: `local`, or the server's URL (no token). */
  readonly where: string;
  /** Starts a fresh kernel for one run. */
  start(): Promise<KernelConnection>;
}

/** One run of the sweep: a grid point. */
export interface SweepTask {
  /** runKey (runKey.ts). */
  readonly key: string;
  /** The grid point (for people and file names). */
  readonly point: ReadonlyMap<string, JsonValue>;
  /** Every parameter of the run: `--param` values and the grid point. */
  readonly parameters: ReadonlyMap<string, JsonValue>;
}

/** How a run ended. */
export const RunStatus = {
  ok: 'ok',
  /** A cell failed, timed out, or the run lost its kernel more often than allowed. */
  failed: 'failed',
  /** Ctrl-C: stopped before it finished (not recorded). */
  interrupted: 'interrupted',
} as const;
export type RunStatus = (typeof RunStatus)[keyof typeof RunStatus];

export interface RunOutcome {
  readonly status: RunStatus;
  /** The executed notebook and how the run went; absent when no kernel ever ran it. */
  readonly result?: RunNotebookResult;
  /** Why it failed, in one paragraph (never a token). */
  readonly error?: string;
  /** The slot of its last attempt (absent when it never started). */
  readonly slot?: KernelSlot;
  /** Attempts that started a kernel. */
  readonly attempts: number;
}

/** What the pool reports as it goes. */
export type PoolEvent =
  | { readonly type: 'run-started'; readonly task: SweepTask; readonly slot: KernelSlot; readonly attempt: number; readonly kernel: KernelConnection }
  | { readonly type: 'run-event'; readonly task: SweepTask; readonly slot: KernelSlot; readonly event: RunEvent }
  | { readonly type: 'run-requeued'; readonly task: SweepTask; readonly slot: KernelSlot; readonly reason: string }
  | { readonly type: 'slot-retired'; readonly slot: KernelSlot; readonly reason: string }
  | { readonly type: 'run-finished'; readonly task: SweepTask; readonly outcome: RunOutcome };

export interface PoolOptions {
  readonly notebook: TsnbNotebook;
  /** The working directory of local kernels (the notebook's folder). */
  readonly cwd: string;
  readonly timeoutSeconds?: number;
  /** Requeues of a run whose kernel died (default 2). */
  readonly retries?: number;
  /** Consecutive failed kernel starts that retire a slot (default 2). */
  readonly maxStartFailures?: number;
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: PoolEvent) => void;
  /** Called as each run ends (before the next event); the pool waits for it (writing files). */
  readonly onFinished?: (task: SweepTask, outcome: RunOutcome) => Promise<void>;
  readonly onWarning?: (text: string) => void;
  /** Text from anywhere (errors of a server) passes through this before it is shown or kept. */
  readonly redact?: (text: string) => string;
}

interface Pending {
  readonly task: SweepTask;
  attempts: number;
  startFailures: number;
  /** Slots where it lost its kernel (or could not start one): tried elsewhere first. */
  readonly avoid: Set<KernelSlot>;
  lastSlot?: KernelSlot;
  lastResult?: RunNotebookResult;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Runs every task on the slots and resolves with each task's outcome (by key) once all have
 * ended (or, after an abort, once the running ones have stopped).
 * @example
 * const outcomes = await runPool(tasks, [localSlot(1), localSlot(2)], { notebook, cwd });
 */
export async function runPool(tasks: readonly SweepTask[], slots: readonly KernelSlot[], options: PoolOptions): Promise<Map<string, RunOutcome>> {
  const retries = options.retries ?? 2;
  const maxStartFailures = options.maxStartFailures ?? 2;
  const redact = options.redact ?? ((t: string) => t);
  const emit = options.onEvent ?? (() => undefined);
  const queue: Pending[] = tasks.map((task) => ({ task, attempts: 0, startFailures: 0, avoid: new Set() }));
  const outcomes = new Map<string, RunOutcome>();
  const live = new Set(slots);
  const consecutiveStartFailures = new Map<KernelSlot, number>();
  let running = 0;
  let wake: () => void = () => undefined;
  let changed = new Promise<void>((r) => (wake = r));
  const notify = () => {
    const w = wake;
    changed = new Promise<void>((r) => (wake = r));
    w();
  };
  options.signal?.addEventListener('abort', notify);

  const finish = async (p: Pending, outcome: RunOutcome) => {
    outcomes.set(p.task.key, outcome);
    await options.onFinished?.(p.task, outcome);
    emit({ type: 'run-finished', task: p.task, outcome });
  };

  /** The first queued run this slot should take: one that did not fail here, unless no other slot is left for it. */
  const take = (slot: KernelSlot): Pending | undefined => {
    const i = queue.findIndex((p) => !p.avoid.has(slot) || [...live].every((s) => p.avoid.has(s)));
    return i < 0 ? undefined : queue.splice(i, 1)[0];
  };

  const requeue = async (p: Pending, slot: KernelSlot, reason: string, countsAsRetry: boolean) => {
    p.avoid.add(slot);
    const exhausted = countsAsRetry ? p.attempts > retries : p.startFailures > slots.length * maxStartFailures;
    if (exhausted) {
      const why = countsAsRetry ? `lost its kernel ${p.attempts} times (--retries ${retries}); last: ${reason}` : `no kernel could be started for it (${p.startFailures} tries); last: ${reason}`;
      await finish(p, { status: RunStatus.failed, error: why, attempts: p.attempts, ...(p.lastResult ? { result: p.lastResult } : {}), ...(p.lastSlot ? { slot: p.lastSlot } : {}) });
      return;
    }
    emit({ type: 'run-requeued', task: p.task, slot, reason });
    queue.unshift(p);
  };

  const runOne = async (slot: KernelSlot, p: Pending): Promise<void> => {
    let kernel: KernelConnection | undefined;
    let startError: unknown;
    const startKernel = async (): Promise<KernelConnection> => {
      try {
        kernel = await slot.start();
      } catch (e) {
        startError = e;
        throw e;
      }
      p.attempts++;
      p.lastSlot = slot;
      consecutiveStartFailures.set(slot, 0);
      emit({ type: 'run-started', task: p.task, slot, attempt: p.attempts, kernel });
      return kernel;
    };
    let result: RunNotebookResult;
    try {
      result = await runNotebook(options.notebook, {
        cwd: options.cwd,
        parameters: p.task.parameters,
        ...(options.timeoutSeconds !== undefined ? { timeoutSeconds: options.timeoutSeconds } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        startKernel,
        onEvent: (event) => emit({ type: 'run-event', task: p.task, slot, event }),
        ...(options.onWarning ? { onWarning: options.onWarning } : {}),
      });
    } catch (e) {
      if (kernel === undefined) {
        // The kernel did not start: the slot's fault, not the run's.
        p.startFailures++;
        const reason = redact(`the kernel did not start on ${slot.label}: ${messageOf(startError ?? e)}`);
        const failures = (consecutiveStartFailures.get(slot) ?? 0) + 1;
        consecutiveStartFailures.set(slot, failures);
        if (failures >= maxStartFailures && live.delete(slot)) emit({ type: 'slot-retired', slot, reason: `${failures} kernel starts failed in a row; last: ${reason}` });
        if (options.signal?.aborted) return finish(p, { status: RunStatus.interrupted, attempts: p.attempts });
        return requeue(p, slot, reason, false);
      }
      // The link to a started kernel failed in a way runNotebook does not turn into a cell failure.
      if (options.signal?.aborted) return finish(p, { status: RunStatus.interrupted, attempts: p.attempts, slot });
      return requeue(p, slot, redact(`the run failed on ${slot.label}: ${messageOf(e)}`), true);
    }
    p.lastResult = result;
    const error = result.error;
    if (error === undefined) return finish(p, { status: RunStatus.ok, result, attempts: p.attempts, slot });
    if (error.kind === FailureKind.interrupted) return finish(p, { status: RunStatus.interrupted, result, attempts: p.attempts, slot });
    if (error.kind === FailureKind.died) {
      if (options.signal?.aborted) return finish(p, { status: RunStatus.interrupted, result, attempts: p.attempts, slot });
      // The kernel's own words: a process that exited, or (client/remoteKernel.ts) a kernel no longer on its server.
      return requeue(p, slot, redact(`its kernel on ${slot.label} was lost: ${error.evalue} (cell ${error.position}/${error.total})`), true);
    }
    return finish(p, { status: RunStatus.failed, result, error: redact(error.report().trimEnd()), attempts: p.attempts, slot });
  };

  const worker = async (slot: KernelSlot): Promise<void> => {
    while (live.has(slot) && !options.signal?.aborted && outcomes.size < tasks.length) {
      const p = take(slot);
      if (p === undefined) {
        // Nothing for this slot now: a run may come back (requeued) while others still run.
        if (running === 0 && queue.length === 0) break;
        await changed;
        continue;
      }
      running++;
      try {
        await runOne(slot, p);
      } finally {
        running--;
        notify();
      }
    }
    notify();
  };

  try {
    await Promise.all(slots.map(worker));
    // Every slot retired (or the sweep was interrupted) with runs still queued.
    for (const p of queue.splice(0)) {
      if (options.signal?.aborted) {
        outcomes.set(p.task.key, { status: RunStatus.interrupted, attempts: p.attempts });
        continue;
      }
      await finish(p, {
        status: RunStatus.failed,
        error: 'no kernel slot was left to run it (every slot was retired after its kernels failed to start)',
        attempts: p.attempts,
        ...(p.lastResult ? { result: p.lastResult } : {}),
        ...(p.lastSlot ? { slot: p.lastSlot } : {}),
      });
    }
  } finally {
    options.signal?.removeEventListener('abort', notify);
  }
  return outcomes;
}
