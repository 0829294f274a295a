/**
 * The notebook controllers: run TypeScript cells of .tsnb notebooks (and of .ipynb notebooks whose
 * language is TypeScript) on a TransferLab kernel, one kernel per notebook. One pair of controllers
 * (.tsnb, .ipynb) per {@link KernelTarget}: local kernel processes, and each connected Jupyter
 * Server (extension/remoteServers.ts); the kernel picker offers them all, and the same session
 * code drives a kernel wherever it runs.
 *
 * Cells run one at a time through a per-notebook queue. Outputs arrive as Jupyter iopub messages
 * and go through the output reducer that `transferlab run` uses too (kernel/protocol/outputs.ts);
 * its changes are applied as they come: streams grow in place, `update_display_data` replaces the
 * outputs carrying that display_id (live progress), `clear_output` (also with `wait`) clears.
 * A failed or interrupted cell cancels the cells still queued (Jupyter's stop_on_error), unless it
 * is tagged `raises-exception` (it shows an error on purpose, as nbclient allows). Outputs use
 * the same metadata as the .tsnb serializer ({@link TsnbOutputMetadata}), so what runs is what saves.
 */
import * as vscode from 'vscode';
import type { KernelConnection } from '../client/connection';
import { KernelDiedError } from '../client/errors';
import type { ErrorContent, ExecuteInputContent, ExecuteReply } from '../kernel/protocol/messages';
import type { DisplayIds } from '../kernel/protocol/displayIds';
import { OutputChangeType, emptyOutputState, reduceOutput, startCell, type OutputChange, type OutputMessage, type OutputState } from '../kernel/protocol/outputs';
import { TSNB_NOTEBOOK_TYPE } from './serializer';
import { cellOutput, cellOutputItems, errorContent, errorOutput } from './cellOutputs';
import { Messages, UntrustedWorkspaceError, errorMessage } from './errors';
import { KernelProcess, KernelState, localLauncher, type KernelLauncher } from './kernelProcess';
import { serverLabel } from './remoteServers';
import { confirmRestartSetting, onDidChangeSettings, stopConfirmingRestart } from './settings';
import { VARIABLES_METADATA_KEY, isVariablesSummary, type VariablesSummary } from '../kernel/protocol/variables';

/** The notebook type of .ipynb files in VS Code (its built-in ipynb serializer). */
export const JUPYTER_NOTEBOOK_TYPE = 'jupyter-notebook';
/** Controller ids: `<extension id>/<id>` is what the `notebookKernel` context key holds. */
export const CONTROLLER_IDS = { tsnb: 'transferlab-kernel', ipynb: 'transferlab-kernel-ipynb' } as const;
const CONTROLLER_LABEL = 'TransferLab (TypeScript)';

/**
 * Where a pair of controllers (.tsnb and .ipynb) runs its notebooks' kernels, as the kernel picker
 * shows it: local processes, or a Jupyter Server.
 */
export interface KernelTarget {
  /** Controller ids; `<extension id>/<id>` is what the `notebookKernel` context key holds (menus match /transferlab/). */
  readonly ids: { readonly tsnb: string; readonly ipynb: string };
  readonly label: string;
  readonly description: string;
  readonly detail: string;
  /** Preferred for .tsnb (and TypeScript .ipynb) notebooks: the local target. */
  readonly preferred: boolean;
  readonly launcher: KernelLauncher;
}

/** The local target: kernel processes on this machine, started from the extension's dist/kernel.js. */
export function localTarget(extensionPath: string): KernelTarget {
  return {
    ids: CONTROLLER_IDS,
    label: CONTROLLER_LABEL,
    description: 'TypeScript on TensorFlow.js',
    detail: 'Runs cells in a TransferLab kernel process (Node), with `tl` and `tf` preloaded.',
    preferred: true,
    launcher: localLauncher(extensionPath),
  };
}

/** A Jupyter Server's target: its `transferlab` kernelspec, labelled with its host and base path (never its token). */
export function remoteTarget(id: string, label: string, url: string, launcher: KernelLauncher): KernelTarget {
  return {
    ids: { tsnb: id, ipynb: `${id}-ipynb` },
    label: `${CONTROLLER_LABEL} on ${label}`,
    description: `Jupyter Server ${url}`,
    detail: `Runs cells in a TransferLab kernel on the Jupyter Server at ${url}, with \`tl\` and \`tf\` preloaded.`,
    preferred: false,
    launcher,
  };
}
const SUPPORTED_LANGUAGES = ['typescript'];

/** An iopub message as the controller reads it. */
interface IOPubMessage {
  readonly header: { readonly msg_type: string };
  readonly parent_header: { readonly msg_id?: string };
  readonly content: unknown;
}

/** A running kernel for a notebook, with its queue of cell executions. */
export class NotebookSession implements vscode.Disposable {
  readonly kernel: KernelProcess;
  private queue: Promise<void> = Promise.resolve();
  private readonly pending: vscode.NotebookCellExecution[] = [];
  private active: CellRun | undefined;
  /** The outputs of the cells run in this session, and the display ids they show. */
  readonly outputs = new NotebookOutputs();
  /** Display updates applied outside a cell run, one after the other. */
  private background: Promise<void> = Promise.resolve();
  private readonly disposables: vscode.Disposable[] = [];
  private readonly listening = new WeakSet<KernelConnection>();
  private variablesValue: VariablesSummary | undefined;
  private readonly variablesEmitter = new vscode.EventEmitter<VariablesSummary | undefined>();
  /** Fires when the kernel sent a new variables summary, or it was forgotten (restart). */
  readonly onDidChangeVariables = this.variablesEmitter.event;

  constructor(
    readonly notebook: vscode.NotebookDocument,
    extensionPath: string,
    private readonly log: vscode.LogOutputChannel,
    private readonly onKernelDied: (session: NotebookSession, error: KernelDiedError) => void,
    /** Where the kernel starts: local processes (default) or a Jupyter Server. */
    launcher: KernelLauncher = localLauncher(extensionPath),
  ) {
    this.kernel = new KernelProcess(notebook, extensionPath, log, {}, launcher);
    this.disposables.push(
      this.kernel.onDidDie((error) => {
        this.active?.abort(error);
        this.cancelPending();
        this.onKernelDied(this, error);
      }),
    );
  }

  /** The kernel's variables after the last cell that ended (kernel/protocol/variables.ts). */
  get variables(): VariablesSummary | undefined {
    return this.variablesValue;
  }

  private setVariables(summary: VariablesSummary | undefined): void {
    this.variablesValue = summary;
    this.variablesEmitter.fire(summary);
  }

  /** Whether a cell of this notebook is running or queued. */
  get busy(): boolean {
    return this.active !== undefined || this.pending.length > 0;
  }

  /** Queues cells; returns when they have run (or were cancelled). */
  run(cells: readonly vscode.NotebookCell[], controller: vscode.NotebookController): Promise<void> {
    const executions: vscode.NotebookCellExecution[] = [];
    for (const cell of cells) {
      if (cell.kind !== vscode.NotebookCellKind.Code) continue;
      try {
        executions.push(controller.createNotebookCellExecution(cell));
      } catch (err) {
        // Already queued or running: VS Code allows one execution per cell.
        this.log.debug(`cell ${cell.index} not queued: ${errorMessage(err)}`);
      }
    }
    this.pending.push(...executions);
    const batch = this.queue.then(() => this.runBatch(executions, controller));
    this.queue = batch.catch((err) => this.log.error(`cell queue: ${errorMessage(err)}`));
    return this.queue;
  }

  private async runBatch(executions: readonly vscode.NotebookCellExecution[], controller: vscode.NotebookController): Promise<void> {
    for (const execution of executions) {
      const i = this.pending.indexOf(execution);
      if (i < 0) continue; // cancelled while queued
      this.pending.splice(i, 1);
      const ok = await this.runOne(execution, controller);
      if (!ok && !(raisesException(execution.cell) && this.kernel.state !== KernelState.dead)) this.cancelPending();
    }
  }

  /** Runs one cell; false when it failed, was interrupted or could not run. */
  private async runOne(execution: vscode.NotebookCellExecution, controller: vscode.NotebookController): Promise<boolean> {
    let client: KernelConnection;
    try {
      client = await this.kernel.start();
    } catch (err) {
      execution.start(Date.now());
      this.outputs.startCell(execution.cell);
      await execution.replaceOutput(errorOutput(err));
      execution.end(false, Date.now());
      return false;
    }
    this.listenForBackgroundUpdates(client, controller);
    const run = new CellRun(execution, this, this.log);
    this.active = run;
    this.kernel.markBusy(true);
    execution.start(Date.now());
    try {
      this.outputs.startCell(execution.cell);
      await execution.clearOutput();
      const code = execution.cell.document.getText();
      const outcome = await Promise.race([
        client.execute(code, {
          onIOPub: (msg: IOPubMessage) => run.handle(msg),
          stopOnError: false,
          onReply: (reply) => {
            const summary = reply.metadata?.[VARIABLES_METADATA_KEY];
            if (isVariablesSummary(summary)) this.setVariables(summary);
          },
        }) as Promise<ExecuteReply>,
        run.aborted,
      ]);
      await run.settled();
      if (outcome instanceof Error) {
        execution.end(false, Date.now());
        return false;
      }
      execution.executionOrder = outcome.execution_count;
      if (outcome.status === 'error' && !run.sawError) await run.showError(outcome);
      execution.end(outcome.status === 'ok', Date.now());
      return outcome.status === 'ok';
    } catch (err) {
      await run.settled();
      // A kernel that died is reported by a notification; the cell itself only shows it failed.
      if (this.kernel.state !== KernelState.dead && !(err instanceof KernelDiedError)) {
        this.log.error(`cell ${execution.cell.index}: ${errorMessage(err)}`);
        await run.showError(errorContent(err));
      }
      execution.end(false, Date.now());
      return false;
    } finally {
      this.active = undefined;
      this.kernel.markBusy(false);
    }
  }

  /**
   * update_display_data sent outside the running cell's request (a display updated later, from a
   * timer or a promise of an earlier cell) still replaces its output.
   */
  private listenForBackgroundUpdates(client: KernelConnection, controller: vscode.NotebookController): void {
    if (this.listening.has(client)) return;
    this.listening.add(client);
    client.on('iopub', (msg: IOPubMessage) => {
      if (msg.header.msg_type !== 'update_display_data') return;
      const active = this.active;
      if (active && msg.parent_header.msg_id === active.parentMsgId) return; // the run handles its own
      for (const change of this.outputs.handle(undefined, msg)) {
        if (active) {
          active.apply(change);
          continue;
        }
        this.background = this.background
          .then(() => applyOutsideRun(controller, change))
          .catch((err) => this.log.warn(`update_display_data: ${errorMessage(err)}`));
      }
    });
  }

  /** Ends the queued cells without running them. */
  cancelPending(): void {
    for (const execution of this.pending.splice(0)) execution.end(undefined);
  }

  /** Interrupts the running cell and drops the queue (toolbar Interrupt, Stop on a cell). */
  async interrupt(): Promise<void> {
    this.cancelPending();
    if (this.active) await this.kernel.interrupt();
  }

  /** A fresh kernel: queued cells are dropped, the running one ends as failed. */
  async restart(): Promise<void> {
    this.cancelPending();
    this.active?.abort(new Error(Messages.restarting));
    this.outputs.reset();
    this.setVariables(undefined);
    await this.kernel.restart();
  }

  /** The execution currently running in this notebook (it may write to other cells' outputs). */
  get activeRun(): CellRun | undefined {
    return this.active;
  }

  dispose(): void {
    this.cancelPending();
    this.active?.abort(new Error('notebook closed'));
    this.kernel.dispose();
    this.variablesEmitter.dispose();
    for (const d of this.disposables) d.dispose();
  }
}

/** The tag of cells that show an error on purpose (Jupyter, nbclient): Run All goes on past them. */
export const RAISES_EXCEPTION_TAG = 'raises-exception';

/**
 * A cell's tags: `metadata.tags` (.ipynb in recent VS Code), or the Jupyter metadata one level
 * down (`metadata.metadata.tags`: .tsnb, and .ipynb in older VS Code).
 */
export function cellTags(cell: Pick<vscode.NotebookCell, 'metadata'>): string[] {
  const m = cell.metadata as { tags?: unknown; metadata?: { tags?: unknown } } | undefined;
  const tags = m?.tags ?? m?.metadata?.tags;
  return Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [];
}

/** Whether a cell is tagged `raises-exception`. */
export function raisesException(cell: Pick<vscode.NotebookCell, 'metadata'>): boolean {
  return cellTags(cell).includes(RAISES_EXCEPTION_TAG);
}

/**
 * A change to a cell's VS Code outputs, from one change of the output reducer: append an output,
 * replace the items of an output shown earlier (a stream grew, a display was updated), or clear.
 */
export type CellOutputChange =
  | { readonly type: typeof OutputChangeType.append; readonly cell: vscode.NotebookCell; readonly output: vscode.NotebookCellOutput }
  | {
      readonly type: typeof OutputChangeType.replace;
      readonly cell: vscode.NotebookCell;
      readonly output: vscode.NotebookCellOutput;
      readonly items: vscode.NotebookCellOutputItem[];
    }
  | { readonly type: typeof OutputChangeType.clear; readonly cell: vscode.NotebookCell };

/**
 * A notebook's outputs as the output reducer keeps them (kernel/protocol/outputs.ts), and the VS
 * Code outputs that show them. {@link handle} runs the reducer on one message and returns its
 * changes as VS Code changes, to be applied in order ({@link applyChange}). The bookkeeping is
 * synchronous; only applying the changes waits for VS Code.
 */
export class NotebookOutputs {
  private state: OutputState<vscode.NotebookCell> = emptyOutputState();
  /** The VS Code output showing each of the reducer's outputs, per cell, in the same order. */
  private readonly shown = new Map<vscode.NotebookCell, vscode.NotebookCellOutput[]>();

  /** display_id → the outputs showing it (one display can be shown in several places). */
  get displays(): DisplayIds<vscode.NotebookCell> {
    return this.state.displays;
  }

  /** A cell starts running (its outputs are being cleared): its old displays are forgotten. */
  startCell(cell: vscode.NotebookCell): void {
    this.state = startCell(this.state, cell).state;
    this.shown.set(cell, []);
  }

  /** Forgets every cell (the kernel restarted: its display ids mean nothing any more). */
  reset(): void {
    this.state = emptyOutputState();
    this.shown.clear();
  }

  /** Runs the reducer on a message of `cell` (undefined: of no running cell) and returns the changes. */
  handle(cell: vscode.NotebookCell | undefined, msg: OutputMessage): CellOutputChange[] {
    const { state, changes } = reduceOutput(this.state, cell, msg);
    this.state = state;
    return changes.flatMap((c) => this.toCellChange(c));
  }

  private toCellChange(change: OutputChange<vscode.NotebookCell>): CellOutputChange[] {
    const { cell } = change;
    switch (change.type) {
      case OutputChangeType.append: {
        const output = cellOutput(change.output);
        const list = this.shown.get(cell) ?? [];
        list[change.index] = output;
        this.shown.set(cell, list);
        return [{ type: OutputChangeType.append, cell, output }];
      }
      case OutputChangeType.replace: {
        const output = this.shown.get(cell)?.[change.index];
        return output === undefined ? [] : [{ type: OutputChangeType.replace, cell, output, items: cellOutputItems(change.output) }];
      }
      case OutputChangeType.clear:
        this.shown.set(cell, []);
        return [{ type: OutputChangeType.clear, cell }];
      default: {
        const never: never = change;
        return never;
      }
    }
  }
}

/**
 * Applies one change through a cell execution. The running execution may replace the items of an
 * output in any cell of the notebook (VS Code finds it by its id).
 */
export function applyChange(execution: vscode.NotebookCellExecution, change: CellOutputChange): Thenable<void> {
  switch (change.type) {
    case OutputChangeType.append:
      return execution.appendOutput(change.output);
    case OutputChangeType.replace:
      return execution.replaceOutputItems(change.items, change.output);
    case OutputChangeType.clear:
      return execution.clearOutput();
    default: {
      const never: never = change;
      return never;
    }
  }
}

/**
 * Applies a change when no cell runs (a display updated later, from a timer or a promise of an
 * earlier cell): a short execution on the target cell that keeps its execution order and timing.
 */
async function applyOutsideRun(controller: vscode.NotebookController, change: CellOutputChange): Promise<void> {
  const summary = change.cell.executionSummary;
  const execution = controller.createNotebookCellExecution(change.cell);
  execution.executionOrder = summary?.executionOrder;
  execution.start(summary?.timing?.startTime);
  try {
    await applyChange(execution, change);
  } finally {
    execution.end(summary?.success, summary?.timing?.endTime);
  }
}

/** One cell's execution: turns its iopub messages into outputs, in order. */
export class CellRun {
  private ops: Promise<void> = Promise.resolve();
  private abortWith!: (err: Error) => void;
  /** Resolves (with the reason) when the run is abandoned: kernel died, restarted, notebook closed. */
  readonly aborted: Promise<Error> = new Promise((resolve) => (this.abortWith = resolve));
  /** Whether the kernel sent an error output for this cell. */
  sawError = false;
  /** msg_id of the execute_request, learned from the first iopub message. */
  parentMsgId: string | undefined;

  constructor(
    readonly execution: vscode.NotebookCellExecution,
    private readonly session: Pick<NotebookSession, 'outputs'>,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  abort(reason: Error): void {
    this.abortWith(reason);
  }

  /** Waits until every output operation queued so far is applied. */
  settled(): Promise<void> {
    return this.ops;
  }

  private enqueue(op: () => Thenable<unknown> | void): void {
    this.ops = this.ops.then(op).then(
      () => undefined,
      (err) => this.log.warn(`output of cell ${this.execution.cell.index}: ${errorMessage(err)}`),
    );
  }

  /** Queues a change of the outputs, after those queued before (also another cell's display update). */
  apply(change: CellOutputChange): void {
    this.enqueue(() => applyChange(this.execution, change));
  }

  /** Handles one iopub message whose parent is this cell's execute_request. */
  handle(msg: IOPubMessage): void {
    this.parentMsgId ??= msg.parent_header.msg_id;
    const type = msg.header.msg_type;
    switch (type) {
      case 'status':
        return;
      case 'execute_input': {
        const count = (msg.content as ExecuteInputContent).execution_count;
        this.enqueue(() => void (this.execution.executionOrder = count));
        return;
      }
      case 'error':
        this.sawError = true;
        break;
      case 'stream':
      case 'display_data':
      case 'execute_result':
      case 'update_display_data':
      case 'clear_output':
        break;
      default:
        this.log.debug(`iopub ${type} ignored`);
        return;
    }
    for (const change of this.session.outputs.handle(this.execution.cell, msg)) this.apply(change);
  }

  /** Shows an error the kernel sent only in its execute_reply, or an extension-side failure. */
  showError(error: ErrorContent): Promise<void> {
    this.handle({ header: { msg_type: 'error' }, parent_header: {}, content: { ename: error.ename, evalue: error.evalue, traceback: error.traceback } });
    return this.ops;
  }
}

// ---- the controllers ----------------------------------------------------------------------------

/** Whether an .ipynb notebook declares TypeScript as its language (kernelspec or language_info). */
export function isTypeScriptIpynb(notebook: vscode.NotebookDocument): boolean {
  const m = notebook.metadata as Record<string, unknown>;
  const inner = (m['metadata'] ?? m) as Record<string, unknown>;
  const kernelspec = inner['kernelspec'] as { language?: unknown } | undefined;
  const languageInfo = inner['language_info'] as { name?: unknown } | undefined;
  const lang = String(kernelspec?.language ?? languageInfo?.name ?? '').toLowerCase();
  return lang === 'typescript' || lang === 'ts';
}

/**
 * The TransferLab notebook controllers (one for .tsnb, one offered for .ipynb) and the kernel
 * sessions behind them. Owns the restart command's logic; the status item and the language
 * features read sessions from it.
 */
export class TransferLabController implements vscode.Disposable {
  /** The controllers of each target, by the target's .tsnb id. */
  private readonly targets = new Map<string, { readonly target: KernelTarget; readonly controllers: vscode.NotebookController[]; readonly disposables: vscode.Disposable[] }>();
  private readonly sessions = new Map<string, NotebookSession>();
  /** The target each notebook's selected controller runs on (notebook key → target's .tsnb id). */
  private readonly selected = new Map<string, string>();
  private readonly changeEmitter = new vscode.EventEmitter<vscode.NotebookDocument>();
  private readonly disposables: vscode.Disposable[] = [];
  /** Fires when a notebook's session starts, changes state or description, or ends. */
  readonly onDidChangeSession = this.changeEmitter.event;

  constructor(
    private readonly extensionPath: string,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.addTarget(localTarget(extensionPath));
    this.disposables.push(
      vscode.workspace.onDidOpenNotebookDocument((nb) => this.setAffinity(nb)),
      onDidChangeSettings(() => this.settingsChanged(), ['nodePath', 'backend']),
      vscode.workspace.onDidCloseNotebookDocument((nb) => {
        this.closeSession(nb);
        this.selected.delete(key(nb));
      }),
      this.changeEmitter,
    );
  }

  /**
   * Offers a target's controllers (.tsnb and .ipynb) in the kernel picker. Disposing the result
   * takes them away and shuts down the kernels that ran on it.
   */
  addTarget(target: KernelTarget): vscode.Disposable {
    this.removeTarget(target.ids.tsnb);
    const controllers: vscode.NotebookController[] = [];
    const disposables: vscode.Disposable[] = [];
    for (const [id, type] of [
      [target.ids.tsnb, TSNB_NOTEBOOK_TYPE],
      [target.ids.ipynb, JUPYTER_NOTEBOOK_TYPE],
    ] as const) {
      const controller = vscode.notebooks.createNotebookController(id, type, target.label);
      controller.supportedLanguages = SUPPORTED_LANGUAGES;
      controller.supportsExecutionOrder = true;
      controller.description = target.description;
      controller.detail = target.detail;
      controller.executeHandler = (cells, notebook, c) => this.execute(cells, notebook, c, target);
      controller.interruptHandler = (notebook) => this.sessions.get(key(notebook))?.interrupt();
      disposables.push(
        controller,
        controller.onDidChangeSelectedNotebooks(({ notebook, selected }) => {
          const k = key(notebook);
          if (selected) {
            this.selected.set(k, target.ids.tsnb);
            // A kernel of another target (the notebook switched kernels) is not used any more.
            if (this.sessions.get(k) && this.sessions.get(k)!.kernel.launcher !== target.launcher) this.closeSession(notebook);
          } else if (this.selected.get(k) === target.ids.tsnb) {
            this.selected.delete(k);
            if (this.sessions.get(k)?.kernel.launcher === target.launcher) this.closeSession(notebook);
          }
          this.changeEmitter.fire(notebook);
        }),
      );
      controllers.push(controller);
    }
    this.targets.set(target.ids.tsnb, { target, controllers, disposables });
    if (target.preferred) vscode.workspace.notebookDocuments.forEach((nb) => this.setAffinity(nb));
    return new vscode.Disposable(() => this.removeTarget(target.ids.tsnb));
  }

  /** Takes a target's controllers away; its notebooks' kernels are shut down. */
  private removeTarget(id: string): void {
    const entry = this.targets.get(id);
    if (!entry) return;
    this.targets.delete(id);
    for (const session of [...this.sessions.values()]) {
      if (session.kernel.launcher === entry.target.launcher) this.closeSession(session.notebook);
    }
    for (const [k, t] of [...this.selected]) if (t === id) this.selected.delete(k);
    for (const d of entry.disposables) d.dispose();
  }

  /** The targets offered in the kernel picker, local first. */
  get kernelTargets(): readonly KernelTarget[] {
    return [...this.targets.values()].map((t) => t.target);
  }

  private setAffinity(nb: vscode.NotebookDocument): void {
    for (const { target, controllers } of this.targets.values()) {
      if (!target.preferred) continue;
      const [tsnb, ipynb] = controllers as [vscode.NotebookController, vscode.NotebookController];
      if (nb.notebookType === TSNB_NOTEBOOK_TYPE) tsnb.updateNotebookAffinity(nb, vscode.NotebookControllerAffinity.Preferred);
      if (nb.notebookType === JUPYTER_NOTEBOOK_TYPE && isTypeScriptIpynb(nb)) ipynb.updateNotebookAffinity(nb, vscode.NotebookControllerAffinity.Preferred);
    }
  }

  /** The target a notebook's kernel runs on: its selected controller's, else its session's, else local. */
  private targetOf(notebook: vscode.NotebookDocument): KernelTarget {
    const id = this.selected.get(key(notebook));
    const selected = id ? this.targets.get(id)?.target : undefined;
    if (selected) return selected;
    const launcher = this.sessions.get(key(notebook))?.kernel.launcher;
    const running = launcher ? this.kernelTargets.find((t) => t.launcher === launcher) : undefined;
    return running ?? this.targets.get(CONTROLLER_IDS.tsnb)!.target;
  }

  /** The session of a notebook, if its kernel was started. */
  session(notebook: vscode.NotebookDocument): NotebookSession | undefined {
    return this.sessions.get(key(notebook));
  }

  /** Whether a notebook runs on a TransferLab controller (selected, or a .tsnb). */
  isOurs(notebook: vscode.NotebookDocument): boolean {
    return notebook.notebookType === TSNB_NOTEBOOK_TYPE || this.selected.has(key(notebook)) || this.sessions.has(key(notebook));
  }

  private async execute(cells: vscode.NotebookCell[], notebook: vscode.NotebookDocument, controller: vscode.NotebookController, target: KernelTarget): Promise<void> {
    if (!vscode.workspace.isTrusted) {
      this.log.warn(new UntrustedWorkspaceError().message);
      void vscode.window.showWarningMessage(Messages.untrusted, Messages.trustAction).then((choice) => {
        if (choice === Messages.trustAction) void vscode.commands.executeCommand('workbench.trust.manage');
      });
      return;
    }
    await this.sessionFor(notebook, target).run(cells, controller);
  }

  /** The notebook's session on `target` (one on another target is closed first: the notebook switched kernels). */
  private sessionFor(notebook: vscode.NotebookDocument, target: KernelTarget = this.targetOf(notebook)): NotebookSession {
    let session = this.sessions.get(key(notebook));
    if (session && session.kernel.launcher !== target.launcher) {
      this.closeSession(notebook);
      session = undefined;
    }
    if (!session) {
      session = new NotebookSession(notebook, this.extensionPath, this.log, (s, error) => this.kernelDied(s, error), target.launcher);
      const s = session;
      s.kernel.onDidChangeState(() => this.changeEmitter.fire(notebook));
      s.kernel.onDidChangeDescription(() => this.changeEmitter.fire(notebook));
      s.kernel.onDidChangeLink(() => this.changeEmitter.fire(notebook));
      s.onDidChangeVariables(() => this.changeEmitter.fire(notebook));
      s.kernel.onDidStopResponding((seconds) => {
        const server = s.kernel.server;
        const text = server ? Messages.remoteKernelStopsResponding(serverLabel(server), seconds) : Messages.kernelStopsResponding(seconds);
        void vscode.window.showWarningMessage(text, Messages.restartAction).then((choice) => {
          if (choice === Messages.restartAction) void this.restart(notebook);
        });
      });
      this.sessions.set(key(notebook), session);
      this.changeEmitter.fire(notebook);
    }
    return session;
  }

  private kernelDied(session: NotebookSession, error: KernelDiedError): void {
    this.changeEmitter.fire(session.notebook);
    const server = session.kernel.server;
    const text = server ? Messages.remoteKernelDied(serverLabel(server), session.kernel.launcher.redact(error.message)) : Messages.kernelDied(error.code, error.signal);
    void vscode.window.showErrorMessage(text, Messages.restartAction).then((choice) => {
      if (choice === Messages.restartAction) void this.restart(session.notebook);
    });
  }

  /** Running local kernels keep the Node and backend they started with: offer a restart. */
  private settingsChanged(): void {
    const running = [...this.sessions.values()].filter((s) => s.kernel.server === undefined).filter((s) => s.kernel.state === KernelState.idle || s.kernel.state === KernelState.busy || s.kernel.state === KernelState.unresponsive);
    if (running.length === 0) return;
    void vscode.window.showInformationMessage(Messages.settingsChanged, Messages.restartAction).then(async (choice) => {
      if (choice !== Messages.restartAction) return;
      for (const s of running) await this.restart(s.notebook);
    });
  }

  /** Restarts (or starts) the kernel of a notebook; false when it could not. */
  async restart(notebook: vscode.NotebookDocument): Promise<boolean> {
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage(Messages.untrusted);
      return false;
    }
    const session = this.sessionFor(notebook);
    try {
      await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: Messages.restarting }, () => session.restart());
      void vscode.window.showInformationMessage(Messages.restarted);
      return true;
    } catch (err) {
      void vscode.window.showErrorMessage(session.kernel.launcher.redact(errorMessage(err)));
      return false;
    }
  }

  /**
   * Asks before a restart (the kernel's variables are lost), unless `transferlab.confirmRestart`
   * is off; "Don't Ask Again" turns it off and restarts.
   */
  private async confirmRestart(title: string): Promise<boolean> {
    if (!confirmRestartSetting()) return true;
    const choice = await vscode.window.showWarningMessage(Messages.confirmRestart(title), { modal: true }, Messages.restartConfirm, Messages.dontAskAgain);
    if (choice === Messages.dontAskAgain) await stopConfirmingRestart();
    return choice === Messages.restartConfirm || choice === Messages.dontAskAgain;
  }

  /**
   * Restarts the kernel (after confirming) and runs the notebook's code cells: all of them, or
   * those above `before` (Restart and Run All Above).
   */
  async restartAndRun(notebook: vscode.NotebookDocument, before?: number): Promise<void> {
    const title = before === undefined ? Messages.restartRunAllTitle : Messages.restartRunAboveTitle;
    if (!(await this.confirmRestart(title))) return;
    if (!(await this.restart(notebook))) return;
    const end = before === undefined ? notebook.cellCount : Math.min(before, notebook.cellCount);
    if (end === 0) return;
    // Through VS Code's own execution (as Run All does): it picks this notebook's controller, which
    // runs the cells in our queue; the cells show as queued at once.
    await vscode.commands.executeCommand('notebook.cell.execute', { ranges: [{ start: 0, end }], document: notebook.uri });
  }

  /**
   * `transferlab.restartKernel`: from the notebook toolbar (VS Code passes the editor's context),
   * the command palette (the active notebook) or a caller passing a notebook URI.
   */
  registerCommands(): vscode.Disposable[] {
    const withNotebook = (fn: (notebook: vscode.NotebookDocument, arg: unknown) => Promise<unknown>) => async (arg?: unknown) => {
      const notebook = notebookFromCommandArg(arg);
      if (!notebook) {
        void vscode.window.showWarningMessage(Messages.noNotebook);
        return;
      }
      await fn(notebook, arg);
    };
    return [
      vscode.commands.registerCommand(
        RESTART_COMMAND,
        withNotebook(async (notebook) => {
          if (await this.confirmRestart(Messages.restartTitle)) await this.restart(notebook);
        }),
      ),
      vscode.commands.registerCommand(RESTART_RUN_ALL_COMMAND, withNotebook((notebook) => this.restartAndRun(notebook))),
      vscode.commands.registerCommand(
        RESTART_RUN_ABOVE_COMMAND,
        withNotebook((notebook, arg) => this.restartAndRun(notebook, cellIndexFromCommandArg(arg, notebook))),
      ),
    ];
  }

  private closeSession(notebook: vscode.NotebookDocument): void {
    const session = this.sessions.get(key(notebook));
    if (!session) return;
    this.sessions.delete(key(notebook));
    session.dispose();
    this.changeEmitter.fire(notebook);
  }

  dispose(): void {
    for (const s of this.sessions.values()) s.dispose();
    this.sessions.clear();
    for (const id of [...this.targets.keys()]) this.removeTarget(id);
    for (const d of this.disposables) d.dispose();
  }
}

/** Command id of Restart Kernel (package.json `contributes.commands`). */
export const RESTART_COMMAND = 'transferlab.restartKernel';
/** Command id of Restart Kernel and Run All. */
export const RESTART_RUN_ALL_COMMAND = 'transferlab.restartKernelAndRunAll';
/** Command id of Restart Kernel and Run All Above (the cells above the selected one). */
export const RESTART_RUN_ABOVE_COMMAND = 'transferlab.restartKernelAndRunAllAbove';

/** The cell a command was invoked for (a cell toolbar passes the cell), else the editor's selected cell. */
export function cellIndexFromCommandArg(arg: unknown, notebook: vscode.NotebookDocument): number {
  if (typeof arg === 'object' && arg !== null && typeof (arg as { index?: unknown }).index === 'number' && (arg as { notebook?: unknown }).notebook === notebook) {
    return (arg as { index: number }).index;
  }
  const editor = vscode.window.activeNotebookEditor;
  return editor && editor.notebook === notebook ? editor.selection.start : notebook.cellCount;
}

/** The notebook a command was invoked for: a URI, a toolbar context, or the active editor. */
export function notebookFromCommandArg(arg: unknown): vscode.NotebookDocument | undefined {
  let uri: vscode.Uri | undefined;
  if (arg instanceof vscode.Uri) uri = arg;
  else if (typeof arg === 'object' && arg !== null) {
    const a = arg as { notebookEditor?: { notebookUri?: unknown }; notebookUri?: unknown; notebook?: { uri?: unknown } };
    const candidate = a.notebookEditor?.notebookUri ?? a.notebookUri ?? a.notebook?.uri;
    if (candidate instanceof vscode.Uri) uri = candidate;
  }
  if (uri) return vscode.workspace.notebookDocuments.find((nb) => nb.uri.toString() === uri!.toString());
  return vscode.window.activeNotebookEditor?.notebook;
}

function key(notebook: vscode.NotebookDocument): string {
  return notebook.uri.toString();
}

