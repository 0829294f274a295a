/**
 * Running a notebook's cells on a fresh kernel, one at a time, and how a cell fails (an error, a
 * timeout, Ctrl-C, a kernel that died or stopped answering). Outputs go through the reducer the
 * editor uses too (kernel/protocol/outputs.ts).
 */
import { KernelClient, type HeartbeatOptions } from '../../client/kernelClient';
import type { KernelConnection } from '../../client/connection';
import { KernelDiedError, KernelUnresponsiveError } from '../../client/errors';
import type { Message } from '../../kernel/protocol/messages';
import { AUTO_BACKEND, BACKEND_CHOICES, BACKEND_ENV, kernelBackendInfo, type KernelBackendInfo } from '../../kernel/protocol/backends';
import { emptyOutputState, outputsOf, reduceOutput, removeLastOutput, startCell, toTsnbBundle, OutputChangeType, type OutputState } from '../../kernel/protocol/outputs';
import type { JsonValue, TsnbCell, TsnbCodeCell, TsnbMimeBundle, TsnbNotebook, TsnbOutput } from '../../kernel/protocol/tsnb';
import { CellExecutionError, FailureKind } from '../errors';
import { RAISES_EXCEPTION_TAG, SKIP_EXECUTION_TAG, hasTag, injectParameters } from './parameters';
import { progressText } from './progress';

/**
 * Collects a run's outputs into the cells' `outputs` arrays, through the output reducer
 * (kernel/protocol/outputs.ts): streams merged, carriage returns applied, `update_display_data`
 * replacing every output shown with that display_id (in any cell of the run), `clear_output`
 * honoured. One collector per run, {@link begin} per cell; the arrays always hold the reducer's
 * outputs.
 */
export class OutputCollector {
  /** The reducer's state; a cell is known by its outputs array. */
  private state: OutputState<TsnbOutput[]> = emptyOutputState();
  private outputs: TsnbOutput[] = [];

  /** Starts collecting into `outputs` (the cell's; emptied, and its old displays forgotten). */
  begin(outputs: TsnbOutput[]): void {
    outputs.length = 0;
    this.outputs = outputs;
    this.state = startCell(this.state, outputs).state;
  }

  /** The outputs of the current cell. */
  get current(): readonly TsnbOutput[] {
    return this.outputs;
  }

  /**
   * Applies one iopub message. Returns the new or grown output (for stream, display_data,
   * execute_result, error), the bundle of an update (update_display_data), or undefined.
   */
  handle(msg: Pick<Message, 'header' | 'content'>): { output?: TsnbOutput; update?: TsnbMimeBundle } | undefined {
    const { state, changes } = reduceOutput(this.state, this.outputs, msg);
    this.state = state;
    for (const cell of new Set(changes.map((c) => c.cell))) this.sync(cell);
    if (msg.header.msg_type === 'update_display_data') return { update: toTsnbBundle((msg.content as { data?: unknown }).data) };
    const last = changes[changes.length - 1];
    return last !== undefined && last.type !== OutputChangeType.clear ? { output: last.output } : undefined;
  }

  /** Removes the current cell's last output (to replace the kernel's error with the run's own). */
  removeLast(): TsnbOutput | undefined {
    const { state, removed } = removeLastOutput(this.state, this.outputs);
    this.state = state;
    this.sync(this.outputs);
    return removed;
  }

  private sync(cell: TsnbOutput[]): void {
    cell.splice(0, cell.length, ...outputsOf(this.state, cell));
  }
}

/** What a run reports as it goes (for a progress display). */
export type RunEvent =
  | { readonly type: 'kernel-started'; readonly banner: string; readonly total: number }
  | { readonly type: 'cell-started'; readonly position: number; readonly total: number; readonly cellIndex: number; readonly source: string }
  | { readonly type: 'progress'; readonly position: number; readonly text: string }
  | { readonly type: 'output'; readonly position: number; readonly output: TsnbOutput }
  | { readonly type: 'cell-finished'; readonly position: number; readonly total: number; readonly cellIndex: number; readonly seconds: number; readonly status: 'ok' | 'error' | 'expected-error' };

export interface RunNotebookOptions {
  /** The kernel's working directory (the notebook's folder). */
  readonly cwd: string;
  /** `TRANSFERLAB_BACKEND` of the kernel; `auto` or undefined: the kernel chooses. */
  readonly backend?: string;
  /** Injected after the cell tagged `parameters`. */
  readonly parameters?: ReadonlyMap<string, JsonValue>;
  /** Seconds a cell may run before it is interrupted and the run fails (default: no limit). */
  readonly timeoutSeconds?: number;
  /** Aborting interrupts the running cell and ends the run (Ctrl-C). */
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: RunEvent) => void;
  /** Warnings (parameters not declared, and the like). */
  readonly onWarning?: (text: string) => void;
  /** Each chunk the kernel writes to its log. */
  readonly onKernelLog?: (text: string) => void;
  /** The kernel script (default: the package's dist/kernel.js). */
  readonly kernelScript?: string;
  /** Extra environment for the kernel. */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Heartbeat monitoring: a kernel silent this long is taken as lost, and the run fails (default:
   * a ping every 5 s, lost after 6 pings of 10 s without an echo, about a minute and a half).
   */
  readonly heartbeat?: HeartbeatOptions;
  /**
   * Starts the kernel the run uses (a remote one, say: client/remoteKernel.ts), called once per
   * run; the run shuts it down at its end. Default: a fresh local kernel process, started with
   * `cwd`, `backend`, `env`, `kernelScript`, `heartbeat` and `onKernelLog`.
   */
  readonly startKernel?: () => Promise<KernelConnection>;
  /**
   * Keep the outputs and execution counts the notebook had in the cells that do not run (after a
   * failure, after an interrupt, tagged `skip-execution`): what `--in-place` needs so that a
   * failing run loses nothing it did not redo. Default false: every code cell starts empty.
   */
  readonly keepOutputsOfCellsNotRun?: boolean;
}

/** A headless run waits longer than the editor before it gives a silent kernel up. */
const RUN_HEARTBEAT: HeartbeatOptions = { intervalMs: 5000, timeoutMs: 10_000, misses: 6 };

export interface RunNotebookResult {
  /** The executed notebook (up to and including the failing cell when one failed). */
  readonly notebook: TsnbNotebook;
  /** Why the run stopped early; undefined when every cell ran. */
  readonly error?: CellExecutionError;
  /** Code cells run and to run. */
  readonly executed: number;
  readonly total: number;
  readonly seconds: number;
  /** The kernel's compute backend as its banner names it (e.g. `wasm · 1 thread`), when known. */
  readonly backend?: string;
}

/** The backend names the kernel understands (its `TRANSFERLAB_BACKEND`), and `auto`. */
export const RUN_BACKENDS: readonly string[] = BACKEND_CHOICES;

function isCodeToRun(cell: TsnbCell): cell is TsnbCodeCell {
  return cell.cell_type === 'code' && cell.source.trim() !== '' && !hasTag(cell, SKIP_EXECUTION_TAG);
}

/**
 * Runs every code cell of `notebook` in a fresh kernel, in order, and returns the executed copy
 * (the argument is not changed). Stops at the first failing cell (except cells tagged
 * `raises-exception`) and returns what ran, with {@link RunNotebookResult.error} set.
 * @throws KernelStartError when the kernel cannot start.
 * @example
 * const { notebook, error } = await runNotebook(nb, { cwd: path.dirname(file), parameters: new Map([['epochs', 1]]) });
 */
export async function runNotebook(notebook: TsnbNotebook, options: RunNotebookOptions): Promise<RunNotebookResult> {
  const started = performance.now();
  const { notebook: nb, warnings } = injectParameters(notebook, options.parameters ?? new Map());
  for (const w of warnings) options.onWarning?.(w);
  for (const cell of nb.cells) {
    if (cell.cell_type !== 'code' || options.keepOutputsOfCellsNotRun) continue;
    cell.outputs = [];
    cell.execution_count = null;
  }
  const toRun = nb.cells.map((c, i) => [c, i] as const).filter(([c]) => isCodeToRun(c)) as [TsnbCodeCell, number][];
  const total = toRun.length;
  const emit = options.onEvent ?? (() => undefined);
  const backend = options.backend === undefined || options.backend === AUTO_BACKEND ? '' : options.backend;
  const client: KernelConnection = options.startKernel
    ? await options.startKernel()
    : await KernelClient.launch({
        cwd: options.cwd,
        env: { ...options.env, [BACKEND_ENV]: backend },
        ...(options.onKernelLog ? { onLog: options.onKernelLog } : {}),
        ...(options.kernelScript ? { kernelScript: options.kernelScript } : {}),
        heartbeat: options.heartbeat ?? RUN_HEARTBEAT,
      });
  emit({ type: 'kernel-started', banner: client.kernelInfo?.banner ?? '', total });
  const collector = new OutputCollector();
  let executed = 0;
  let error: CellExecutionError | undefined;
  let computeBackend: KernelBackendInfo | undefined;
  try {
    for (const [position0, [cell, cellIndex]] of toRun.entries()) {
      const position = position0 + 1;
      if (options.signal?.aborted) {
        error = new CellExecutionError(FailureKind.interrupted, cellIndex, position, total, null, 'Interrupted', 'the run was interrupted before this cell', []);
        break;
      }
      emit({ type: 'cell-started', position, total, cellIndex, source: cell.source });
      const t0 = performance.now();
      // A cell that runs loses its old outputs and count, whatever happens to it.
      cell.execution_count = null;
      collector.begin(cell.outputs);
      const outcome = await executeCell(client, cell, collector, position, options, emit);
      executed++;
      const expected = hasTag(cell, RAISES_EXCEPTION_TAG);
      const seconds = (performance.now() - t0) / 1000;
      if (outcome.kind === 'ok') {
        emit({ type: 'cell-finished', position, total, cellIndex, seconds, status: 'ok' });
        continue;
      }
      if (outcome.kind === FailureKind.error && expected) {
        emit({ type: 'cell-finished', position, total, cellIndex, seconds, status: 'expected-error' });
        continue;
      }
      emit({ type: 'cell-finished', position, total, cellIndex, seconds, status: 'error' });
      error = new CellExecutionError(outcome.kind, cellIndex, position, total, cell.execution_count, outcome.ename, outcome.evalue, outcome.traceback);
      break;
    }
    if (error?.kind !== FailureKind.died) {
      computeBackend = await client
        .request('shell', 'kernel_info_request', {}, 3000)
        .then((m) => kernelBackendInfo(m.content))
        .catch(() => undefined);
    }
  } finally {
    await client.shutdown().catch(() => undefined);
  }
  // The backend as the kernel reports it in kernel_info (structured, not read from the banner).
  const backendDescription = computeBackend !== undefined && !computeBackend.starting ? computeBackend.description : undefined;
  if (computeBackend !== undefined && !computeBackend.starting) {
    nb.metadata.backend = computeBackend.backend;
  } else if (backend !== '') {
    nb.metadata.backend = backend;
  }
  const seconds = (performance.now() - started) / 1000;
  return { notebook: nb, executed, total, seconds, ...(error ? { error } : {}), ...(backendDescription !== undefined ? { backend: backendDescription } : {}) };
}

type CellOutcome =
  | { readonly kind: 'ok' }
  | { readonly kind: FailureKind; readonly ename: string; readonly evalue: string; readonly traceback: readonly string[] };

async function executeCell(
  client: KernelConnection,
  cell: TsnbCodeCell,
  collector: OutputCollector,
  position: number,
  options: RunNotebookOptions,
  emit: (e: RunEvent) => void,
): Promise<CellOutcome> {
  const onIOPub = (msg: Message) => {
    if (msg.header.msg_type === 'execute_input') {
      const count = (msg.content as { execution_count?: unknown }).execution_count;
      if (typeof count === 'number') cell.execution_count = count;
      return;
    }
    const r = collector.handle(msg);
    if (r?.output) emit({ type: 'output', position, output: r.output });
    if (r?.update) {
      const text = progressText(r.update);
      if (text !== undefined) emit({ type: 'progress', position, text });
    }
  };
  let stop: 'timeout' | 'interrupted' | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stuckTimer: NodeJS.Timeout | undefined;
  let markStopping: () => void = () => undefined;
  // An interrupt the cell ignores (a native call that never returns) must not hang the run.
  const stuck = new Promise<'stuck'>((resolve) => {
    markStopping = () => (stuckTimer = setTimeout(() => resolve('stuck'), 10_000));
  });
  const interruptions: Promise<void>[] = [];
  const interrupt = (why: 'timeout' | 'interrupted') => {
    if (stop !== undefined) return;
    stop = why;
    markStopping();
    interruptions.push(client.interrupt().catch(() => undefined));
  };
  // A kernel that stops answering its heartbeat (stopped, hung in native code) would never reply.
  let onUnresponsive: (silentMs: number) => void = () => undefined;
  const unresponsive = new Promise<KernelUnresponsiveError>((resolve) => {
    onUnresponsive = (silentMs) => resolve(new KernelUnresponsiveError(silentMs));
  });
  client.once('unresponsive', onUnresponsive);
  if (!client.responsive) onUnresponsive(client.silentMs);
  const onAbort = () => interrupt('interrupted');
  options.signal?.addEventListener('abort', onAbort);
  // An abort between the run's check and the listener above (from a 'cell-started' handler, say).
  if (options.signal?.aborted) onAbort();
  if (options.timeoutSeconds !== undefined) timer = setTimeout(() => interrupt('timeout'), options.timeoutSeconds * 1000);
  try {
    const reply = await Promise.race([client.execute(cell.source, { onIOPub, stopOnError: true }), stuck, unresponsive]);
    if (reply instanceof KernelUnresponsiveError) {
      const evalue = `${reply.message}; its process was killed`;
      client.kill();
      collector.handle({ header: { msg_type: 'error' } as Message['header'], content: { ename: reply.name, evalue, traceback: [] } });
      return { kind: FailureKind.died, ename: reply.name, evalue, traceback: [] };
    }
    await Promise.all(interruptions);
    if (reply !== 'stuck' && typeof reply.execution_count === 'number') cell.execution_count = reply.execution_count;
    if (stop !== undefined) {
      const ename = stop === 'timeout' ? 'CellTimeoutError' : 'Interrupted';
      const evalue =
        stop === 'timeout'
          ? `the cell ran longer than ${options.timeoutSeconds} s (--timeout) and was interrupted${reply === 'stuck' ? '; it did not stop, so its kernel was shut down' : ''}`
          : `the run was interrupted (Ctrl-C)${reply === 'stuck' ? '; the cell did not stop, so its kernel was shut down' : ''}`;
      // The kernel's own error (where the cell was stopped) becomes the rest of the traceback.
      const last = collector.current[collector.current.length - 1];
      const where = reply !== 'stuck' && reply.status === 'error' && last?.output_type === 'error' ? collector.removeLast() : undefined;
      const traceback = [`${ename}: ${evalue}`, ...(where?.output_type === 'error' ? where.traceback.slice(1) : [])];
      collector.handle({ header: { msg_type: 'error' } as Message['header'], content: { ename, evalue, traceback } });
      if (reply === 'stuck') await client.shutdown().catch(() => undefined);
      return { kind: stop === 'timeout' ? FailureKind.timeout : FailureKind.interrupted, ename, evalue, traceback };
    }
    if (reply === 'stuck' || reply.status === 'ok') return { kind: 'ok' };
    if (reply.status === 'error') return { kind: FailureKind.error, ename: reply.ename, evalue: reply.evalue, traceback: reply.traceback };
    return { kind: FailureKind.error, ename: 'Aborted', evalue: 'the kernel aborted the cell', traceback: [] };
  } catch (e) {
    if (e instanceof KernelDiedError) {
      const evalue = e.message;
      collector.handle({ header: { msg_type: 'error' } as Message['header'], content: { ename: e.name, evalue, traceback: [] } });
      return { kind: FailureKind.died, ename: e.name, evalue, traceback: [] };
    }
    throw e;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    if (stuckTimer !== undefined) clearTimeout(stuckTimer);
    client.off('unresponsive', onUnresponsive);
    options.signal?.removeEventListener('abort', onAbort);
  }
}
