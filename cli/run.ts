/**
 * `transferlab run`: executes a notebook headlessly through the TransferLab kernel, as nbclient
 * and papermill do for Python notebooks.
 *
 *   transferlab run analysis.tsnb [--out executed.tsnb] [--html report.html] [--backend NAME]
 *                                 [--param name=value …] [--timeout SECONDS]
 *
 * - The kernel starts in the notebook's folder, on the backend named by `--backend`.
 * - Parameters go into a new cell tagged `injected-parameters`, right after the cell tagged
 *   `parameters` (a later declaration replaces the earlier one in the kernel). The parameters
 *   cell's type annotations are kept, so a value of the wrong type is a type error naming the cell.
 * - Outputs are collected as nbformat outputs (streams merged, `update_display_data` replacing
 *   the output with that display_id, `clear_output` honoured) and written back with execution
 *   counts, deterministically; the input file is never overwritten unless `--out` names it.
 * - A failing cell stops the run: its error is printed (ANSI colours removed), the notebook is
 *   still written with every output up to the error, and the exit status is 1.
 * - Cells tagged `raises-exception` may fail without stopping the run; cells tagged
 *   `skip-execution` are not run (the nbclient conventions).
 *
 * Exit status: 0 every cell ran, 1 a cell failed (or timed out, or the kernel died or could not
 * start, or a file could not be read or written), 2 bad usage, 130 interrupted with Ctrl-C.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { stripVTControlCharacters as stripAnsi } from 'node:util';
import type * as TS from 'typescript';
import { KernelClient, KernelDiedError, KernelStartError, KernelUnresponsiveError, type HeartbeatOptions } from '../client/kernelClient';
import type { Message } from '../kernel/protocol/messages';
import { Mime, type TrainingPayload } from '../kernel/protocol/mime';
import { ipynbToTsnb, tsnbToIpynb } from '../kernel/protocol/ipynb';
import {
  decodeNotebookBytes,
  isJsonMime,
  parseTsnb,
  serializeTsnb,
  type JsonObject,
  type JsonValue,
  type TsnbCell,
  type TsnbCodeCell,
  type TsnbDisplayDataOutput,
  type TsnbExecuteResultOutput,
  type TsnbMimeBundle,
  type TsnbNotebook,
  type TsnbOutput,
} from '../kernel/protocol/tsnb';
import { writeFileAtomic } from './atomicWrite';
import { notebookToHtml } from './htmlReport';
import { InputError, UsageError, findReportScript, withCliErrors, type CliIo } from './notebookConvert';

// ---- errors --------------------------------------------------------------------------------------

/** How a cell failed. */
export const FailureKind = {
  /** The cell raised an exception (or a TypeScript error). */
  error: 'error',
  /** The cell ran longer than `--timeout` and was interrupted. */
  timeout: 'timeout',
  /** The run was interrupted (Ctrl-C). */
  interrupted: 'interrupted',
  /** The kernel process exited while the cell ran, or stopped answering its heartbeat. */
  died: 'died',
} as const;
export type FailureKind = (typeof FailureKind)[keyof typeof FailureKind];

/**
 * A cell of a headless run failed: it raised an error, ran past the timeout, was interrupted, or
 * its kernel died. Returned by {@link runNotebook} (which still returns the partial notebook) and
 * printed by `transferlab run`, which then exits with status 1 (130 when interrupted).
 */
export class CellExecutionError extends Error {
  override readonly name = 'CellExecutionError';
  constructor(
    readonly kind: FailureKind,
    /** Index of the failing cell among all cells of the executed notebook (0-based). */
    readonly cellIndex: number,
    /** Its position among the code cells that were to run (1-based), and how many there were. */
    readonly position: number,
    readonly total: number,
    /** The kernel's execution count of the cell, when it got one. */
    readonly executionCount: number | null,
    readonly ename: string,
    readonly evalue: string,
    /** As the kernel sent it (may contain ANSI colour codes). */
    readonly traceback: readonly string[],
  ) {
    super(`cell ${position}/${total}${executionCount !== null ? ` [${executionCount}]` : ''} failed: ${ename}: ${evalue}`);
  }

  /** The error as a person reads it: which cell, then the traceback without colour codes. */
  report(): string {
    const where = `cell ${this.position} of ${this.total} (notebook cell ${this.cellIndex + 1}${this.executionCount !== null ? `, execution count ${this.executionCount}` : ''})`;
    const what =
      this.kind === FailureKind.timeout ? 'timed out' : this.kind === FailureKind.interrupted ? 'was interrupted' : this.kind === FailureKind.died ? 'lost its kernel' : 'failed';
    const body = this.traceback.length > 0 ? this.traceback.map(stripAnsi).join('\n') : `${this.ename}: ${this.evalue}`;
    const head = stripAnsi(body).includes(this.evalue) ? '' : `${this.ename}: ${this.evalue}\n`;
    return `${where} ${what}:\n${head}${body}\n`;
  }
}

/** A `--param` argument that is not `name=value` with a valid identifier as the name. Exit status 2. */
export class ParameterError extends UsageError {
  constructor(message: string) {
    super(message);
    this.name = 'ParameterError';
  }
}

// ---- parameters ----------------------------------------------------------------------------------

/** Tag of the cell whose declarations are the notebook's parameters (papermill's convention). */
export const PARAMETERS_TAG = 'parameters';
/** Tag of the cell `transferlab run` inserts with the values given on the command line. */
export const INJECTED_PARAMETERS_TAG = 'injected-parameters';
/** A cell that is expected to fail: the run goes on (nbclient's convention). */
export const RAISES_EXCEPTION_TAG = 'raises-exception';
/** A cell that is not run (nbclient's convention). */
export const SKIP_EXECUTION_TAG = 'skip-execution';

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const RESERVED = new Set(
  ('break case catch class const continue debugger default delete do else enum export extends false finally for function if import in ' +
    'instanceof new null return super switch this throw true try typeof var void while with let static yield await implements interface ' +
    'package private protected public')
    .split(' '),
);

/**
 * Reads `--param` values: `name=value`, the value parsed as JSON when it is valid JSON
 * (`3`, `[0, 1]`, `true`, `"text"`), else taken as a string (`mnist`). A later value for the same
 * name wins.
 * @throws ParameterError for a missing `=` or a name that is not a JavaScript identifier.
 * @example
 * parseParameters(['epochs=3', 'seeds=[0,1]', 'dataset=mnist']);
 * // Map { 'epochs' => 3, 'seeds' => [0, 1], 'dataset' => 'mnist' }
 */
export function parseParameters(args: readonly string[]): Map<string, JsonValue> {
  const out = new Map<string, JsonValue>();
  for (const a of args) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new ParameterError(`--param ${JSON.stringify(a)}: expected name=value, e.g. --param epochs=3`);
    const name = a.slice(0, eq).trim();
    if (!IDENTIFIER.test(name) || RESERVED.has(name)) {
      throw new ParameterError(`--param ${JSON.stringify(a)}: ${JSON.stringify(name)} is not a valid variable name`);
    }
    out.set(name, parseParameterValue(a.slice(eq + 1)));
  }
  return out;
}

/** A parameter value: JSON when valid, else the text itself. */
export function parseParameterValue(text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return text;
  }
}

/** A declaration found in a parameters cell: `const epochs: number = 3` → keyword, name, type. */
export interface ParameterDeclaration {
  readonly keyword: 'const' | 'let' | 'var';
  readonly name: string;
  /** The type annotation's text, when there is one. */
  readonly type?: string;
}

/**
 * The top-level variables a parameters cell declares (parsed with the TypeScript parser, so
 * comments, destructuring and odd spacing do not fool it; destructured names are left out).
 */
export function parameterDeclarations(source: string): ParameterDeclaration[] {
  // Loaded only here: the other commands should not pay for the compiler.
  const ts = require('typescript') as typeof TS;
  const file = ts.createSourceFile('parameters.ts', source, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out: ParameterDeclaration[] = [];
  for (const statement of file.statements) {
    if (!ts.isVariableStatement(statement)) continue;
    const flags = statement.declarationList.flags;
    const keyword = flags & ts.NodeFlags.Const ? 'const' : flags & ts.NodeFlags.Let ? 'let' : 'var';
    for (const d of statement.declarationList.declarations) {
      if (!ts.isIdentifier(d.name)) continue;
      out.push({ keyword, name: d.name.text, ...(d.type !== undefined ? { type: d.type.getText(file) } : {}) });
    }
  }
  return out;
}

function tagsOf(cell: TsnbCell): string[] {
  const tags = cell.metadata['tags'];
  return Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [];
}

function hasTag(cell: TsnbCell, tag: string): boolean {
  return tagsOf(cell).includes(tag);
}

/** The source of the injected cell: one declaration per parameter, typed like the parameters cell's. */
export function injectedSource(parameters: ReadonlyMap<string, JsonValue>, declared: readonly ParameterDeclaration[]): string {
  const lines = ['// Parameters injected by `transferlab run`.'];
  for (const [name, value] of parameters) {
    const d = declared.find((x) => x.name === name);
    const keyword = d?.keyword ?? 'const';
    lines.push(`${keyword} ${name}${d?.type !== undefined ? `: ${d.type}` : ''} = ${JSON.stringify(value)};`);
  }
  return lines.join('\n');
}

/**
 * A copy of `notebook` with the parameters in a cell tagged `injected-parameters` right after the
 * cell tagged `parameters` (or first, with a warning, when no cell has that tag). A previous run's
 * injected cell is removed first. With no parameters, the copy only loses that old cell.
 * @example
 * const { notebook, warnings } = injectParameters(nb, new Map([['epochs', 1]]));
 */
export function injectParameters(notebook: TsnbNotebook, parameters: ReadonlyMap<string, JsonValue>): { notebook: TsnbNotebook; warnings: string[] } {
  const nb = structuredClone(notebook);
  const warnings: string[] = [];
  nb.cells = nb.cells.filter((c) => !hasTag(c, INJECTED_PARAMETERS_TAG));
  if (parameters.size === 0) return { notebook: nb, warnings };
  const at = nb.cells.findIndex((c) => c.cell_type === 'code' && hasTag(c, PARAMETERS_TAG));
  const declared = at >= 0 ? parameterDeclarations(nb.cells[at]!.source) : [];
  if (at < 0) {
    warnings.push(`no cell is tagged "${PARAMETERS_TAG}": the parameters go into a new first cell`);
  } else {
    for (const name of parameters.keys()) {
      if (!declared.some((d) => d.name === name)) {
        const known = declared.map((d) => d.name).join(', ');
        warnings.push(`parameter ${name} is not declared in the parameters cell${known ? ` (it declares ${known})` : ''}; injected anyway`);
      }
    }
  }
  const cell: TsnbCodeCell = {
    cell_type: 'code',
    execution_count: null,
    metadata: { tags: [INJECTED_PARAMETERS_TAG] },
    outputs: [],
    source: injectedSource(parameters, declared),
  };
  if (nb.cells.some((c) => c.id !== undefined)) {
    const ids = new Set(nb.cells.map((c) => c.id));
    let id = INJECTED_PARAMETERS_TAG;
    for (let k = 2; ids.has(id); k++) id = `${INJECTED_PARAMETERS_TAG}-${k}`;
    cell.id = id;
  }
  nb.cells.splice(at + 1, 0, cell);
  return { notebook: nb, warnings };
}

// ---- outputs -------------------------------------------------------------------------------------

/**
 * Text as a terminal would leave it: on each line, a carriage return lets what follows overwrite
 * what came before (`'10%\r20%\n'` → `'20%\n'`); a trailing one is kept until text follows it.
 */
export function collapseCarriageReturns(text: string): string {
  if (!text.includes('\r')) return text;
  return text
    .replace(/\r\n/g, '\n')
    .split('\n')
    .map((line) => {
      const trailing = /\r+$/.exec(line)?.[0] ?? '';
      const body = line.slice(0, line.length - trailing.length);
      const cut = body.lastIndexOf('\r');
      return (cut >= 0 ? body.slice(cut + 1) : body) + trailing;
    })
    .join('\n');
}

/** A MIME bundle from the wire as stored in a notebook: text as strings, JSON as values. */
export function toTsnbBundle(data: unknown): TsnbMimeBundle {
  const out: TsnbMimeBundle = {};
  if (data === null || typeof data !== 'object') return out;
  for (const [mime, value] of Object.entries(data as Record<string, unknown>)) {
    if (value === undefined) continue;
    if (isJsonMime(mime)) out[mime] = value as JsonValue;
    else if (typeof value === 'string') out[mime] = value;
    // Text split into lines (as nbformat stores it) or base64 in pieces: joined back.
    else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) out[mime] = value.join('');
    else out[mime] = JSON.stringify(value);
  }
  return out;
}

function objectOr(value: unknown): JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as JsonObject) : {};
}

type Displayed = TsnbDisplayDataOutput | TsnbExecuteResultOutput;

/**
 * Turns a kernel's iopub messages into nbformat outputs, as nbclient does: consecutive stream
 * text of the same name merged (carriage returns applied), `update_display_data` replacing every
 * output shown with that display_id (in any cell of the run), `clear_output` clearing the cell's
 * outputs now or, with `wait`, just before its next output. One collector per run, `begin` per cell.
 */
export class OutputCollector {
  private readonly displays = new Map<string, Displayed[]>();
  private outputs: TsnbOutput[] = [];
  private clearPending = false;

  /** Starts collecting into `outputs` (the cell's, emptied by the caller). */
  begin(outputs: TsnbOutput[]): void {
    this.outputs = outputs;
    this.clearPending = false;
  }

  /** The outputs of the current cell. */
  get current(): readonly TsnbOutput[] {
    return this.outputs;
  }

  private beforeOutput(): void {
    if (this.clearPending) {
      this.outputs.length = 0;
      this.clearPending = false;
    }
  }

  private remember(displayId: unknown, output: Displayed): void {
    if (typeof displayId !== 'string' || displayId === '') return;
    const list = this.displays.get(displayId) ?? [];
    list.push(output);
    this.displays.set(displayId, list);
  }

  /**
   * Applies one iopub message. Returns the new output (for stream, display_data, execute_result,
   * error), the bundle of an update (update_display_data), or undefined.
   */
  handle(msg: Pick<Message, 'header' | 'content'>): { output?: TsnbOutput; update?: TsnbMimeBundle } | undefined {
    const c = msg.content as Record<string, unknown>;
    switch (msg.header.msg_type) {
      case 'stream': {
        this.beforeOutput();
        const name = typeof c['name'] === 'string' ? c['name'] : 'stdout';
        const text = typeof c['text'] === 'string' ? c['text'] : '';
        const last = this.outputs[this.outputs.length - 1];
        if (last !== undefined && last.output_type === 'stream' && last.name === name) {
          last.text = collapseCarriageReturns(last.text + text);
          return { output: last };
        }
        const output: TsnbOutput = { output_type: 'stream', name, text: collapseCarriageReturns(text) };
        this.outputs.push(output);
        return { output };
      }
      case 'display_data': {
        this.beforeOutput();
        const output: TsnbDisplayDataOutput = { output_type: 'display_data', data: toTsnbBundle(c['data']), metadata: objectOr(c['metadata']) };
        this.outputs.push(output);
        this.remember(objectOr(c['transient'])['display_id'], output);
        return { output };
      }
      case 'execute_result': {
        this.beforeOutput();
        const count = c['execution_count'];
        const output: TsnbExecuteResultOutput = {
          output_type: 'execute_result',
          data: toTsnbBundle(c['data']),
          metadata: objectOr(c['metadata']),
          execution_count: typeof count === 'number' ? count : null,
        };
        this.outputs.push(output);
        this.remember(objectOr(c['transient'])['display_id'], output);
        return { output };
      }
      case 'update_display_data': {
        const id = objectOr(c['transient'])['display_id'];
        const data = toTsnbBundle(c['data']);
        for (const o of typeof id === 'string' ? (this.displays.get(id) ?? []) : []) {
          o.data = data;
          o.metadata = objectOr(c['metadata']);
        }
        return { update: data };
      }
      case 'error': {
        this.beforeOutput();
        const output: TsnbOutput = {
          output_type: 'error',
          ename: String(c['ename'] ?? 'Error'),
          evalue: String(c['evalue'] ?? ''),
          traceback: Array.isArray(c['traceback']) ? c['traceback'].map(String) : [],
        };
        this.outputs.push(output);
        return { output };
      }
      case 'clear_output':
        if (c['wait'] === true) this.clearPending = true;
        else this.outputs.length = 0;
        return undefined;
      default:
        return undefined;
    }
  }
}

/**
 * One line saying where a long cell stands, from a display update: the running run of a training
 * payload (`P-T seed 1 · epoch 2.0/5 · loss 0.4123 · acc 87.5%`), else the last line of its text.
 */
export function progressText(bundle: TsnbMimeBundle): string | undefined {
  const training = bundle[Mime.training] as unknown as TrainingPayload | undefined;
  if (training !== undefined && training !== null && Array.isArray(training.runs) && training.runs.length > 0) {
    const runs = training.runs;
    const run = [...runs].reverse().find((r) => !r.done) ?? runs[runs.length - 1]!;
    const p = run.points[run.points.length - 1];
    const finished = runs.filter((r) => r.done).length;
    const head = `${run.label}${runs.length > 1 ? ` (${finished}/${runs.length} runs done)` : ''}`;
    if (p === undefined) return `${head} · starting`;
    const parts = [head, `epoch ${p.epoch.toFixed(2)}`, `loss ${p.loss.toFixed(4)}`];
    if (p.accuracy !== undefined) parts.push(`acc ${(p.accuracy * 100).toFixed(1)}%`);
    if (p.valAccuracy !== undefined) parts.push(`val ${(p.valAccuracy * 100).toFixed(1)}%`);
    if (p.examplesPerSecond !== undefined) parts.push(`${Math.round(p.examplesPerSecond)} ex/s`);
    return parts.join(' · ');
  }
  const text = bundle[Mime.plain];
  if (typeof text !== 'string') return undefined;
  const lines = stripAnsi(text)
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return lines.find((l) => l.endsWith('(running)')) ?? lines[lines.length - 1];
}

// ---- running -------------------------------------------------------------------------------------

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
export const RUN_BACKENDS: readonly string[] = ['auto', 'wasm', 'cpu', 'webgpu', 'tensorflow'];

/** The compute backend named in a kernel banner (`…; compute backend: wasm · 1 thread. …`). */
export function backendFromBanner(banner: string): string | undefined {
  const m = /compute backend:\s*(.+?)\.(?:\s|$)/i.exec(banner);
  const d = m?.[1]?.trim();
  return d === undefined || /\(starting\)\s*$/.test(d) ? undefined : d;
}

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
    if (cell.cell_type !== 'code') continue;
    cell.outputs = [];
    cell.execution_count = null;
  }
  const toRun = nb.cells.map((c, i) => [c, i] as const).filter(([c]) => isCodeToRun(c)) as [TsnbCodeCell, number][];
  const total = toRun.length;
  const emit = options.onEvent ?? (() => undefined);
  const backend = options.backend === undefined || options.backend === 'auto' ? '' : options.backend;
  const client = await KernelClient.launch({
    cwd: options.cwd,
    env: { ...options.env, TRANSFERLAB_BACKEND: backend },
    ...(options.onKernelLog ? { onLog: options.onKernelLog } : {}),
    ...(options.kernelScript ? { kernelScript: options.kernelScript } : {}),
    heartbeat: options.heartbeat ?? RUN_HEARTBEAT,
  });
  emit({ type: 'kernel-started', banner: client.kernelInfo?.banner ?? '', total });
  const collector = new OutputCollector();
  let executed = 0;
  let error: CellExecutionError | undefined;
  let backendDescription: string | undefined;
  try {
    for (const [position0, [cell, cellIndex]] of toRun.entries()) {
      const position = position0 + 1;
      if (options.signal?.aborted) {
        error = new CellExecutionError(FailureKind.interrupted, cellIndex, position, total, null, 'Interrupted', 'the run was interrupted before this cell', []);
        break;
      }
      emit({ type: 'cell-started', position, total, cellIndex, source: cell.source });
      const t0 = performance.now();
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
      backendDescription = await client
        .request('shell', 'kernel_info_request', {}, 3000)
        .then((m) => backendFromBanner(String((m.content as { banner?: unknown }).banner ?? '')))
        .catch(() => undefined);
    }
  } finally {
    await client.shutdown().catch(() => undefined);
  }
  if (backendDescription !== undefined) {
    nb.metadata.backend = backendDescription.split(/\s+·\s+/)[0]!;
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
  client: KernelClient,
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
  if (options.timeoutSeconds !== undefined) timer = setTimeout(() => interrupt('timeout'), options.timeoutSeconds * 1000);
  try {
    const reply = await Promise.race([client.execute(cell.source, { onIOPub, stopOnError: true }), stuck, unresponsive]);
    if (reply instanceof KernelUnresponsiveError) {
      const evalue = `${reply.message}; its process was killed`;
      client.process?.kill('SIGKILL');
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
      const outputs = collector.current as TsnbOutput[];
      const last = outputs[outputs.length - 1];
      const where = reply !== 'stuck' && reply.status === 'error' && last?.output_type === 'error' ? outputs.pop()! : undefined;
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
      collector.handle({ header: { msg_type: 'error' } as Message['header'], content: { ename: 'KernelDiedError', evalue, traceback: [] } });
      return { kind: FailureKind.died, ename: 'KernelDiedError', evalue, traceback: [] };
    }
    throw e;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    if (stuckTimer !== undefined) clearTimeout(stuckTimer);
    client.off('unresponsive', onUnresponsive);
    options.signal?.removeEventListener('abort', onAbort);
  }
}

// ---- progress on stderr --------------------------------------------------------------------------

/** The terminal the progress goes to: a TTY gets a redrawn bar, anything else a line per event. */
export interface ProgressTerminal {
  write(text: string): void;
  readonly isTTY: boolean;
  /** Width in characters (TTY only). */
  readonly columns?: number;
}

function firstLine(source: string): string {
  const line = source.split('\n').find((l) => l.trim() !== '' && !l.trim().startsWith('//')) ?? source.split('\n')[0] ?? '';
  return line.trim();
}

function formatSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${String(Math.round(s - m * 60)).padStart(2, '0')} s`;
}

/**
 * The progress of a run on stderr. On a terminal: a bar redrawn in place, `▕████░░░░▏ cell 3/12 ·
 * 14.2 s · P-T seed 1 · epoch 2.00 · loss 0.41`, and a line kept per finished cell. Elsewhere (logs,
 * CI): a line per cell, and the latest training progress at most every `intervalMs`.
 */
export class ProgressReporter {
  private position = 0;
  private total = 0;
  private cellStart = 0;
  private latest = '';
  private source = '';
  private lastLineAt = 0;
  private ticker: NodeJS.Timeout | undefined;

  constructor(
    private readonly term: ProgressTerminal,
    private readonly intervalMs = 5000,
  ) {}

  readonly onEvent = (e: RunEvent): void => {
    switch (e.type) {
      case 'kernel-started':
        this.total = e.total;
        this.line(`kernel started; ${e.total} code cell${e.total === 1 ? '' : 's'} to run`);
        break;
      case 'cell-started':
        this.position = e.position;
        this.total = e.total;
        this.cellStart = performance.now();
        this.latest = '';
        this.source = firstLine(e.source);
        if (this.term.isTTY) {
          this.redraw();
          this.ticker ??= setInterval(() => this.redraw(), 1000);
          this.ticker.unref();
        } else {
          this.lastLineAt = Date.now();
        }
        break;
      case 'progress':
        this.latest = e.text;
        if (this.term.isTTY) this.redraw();
        else if (Date.now() - this.lastLineAt >= this.intervalMs) {
          this.lastLineAt = Date.now();
          this.line(`cell ${this.position}/${this.total} · ${formatSeconds((performance.now() - this.cellStart) / 1000)} · ${this.latest}`);
        }
        break;
      case 'cell-finished': {
        const mark = e.status === 'ok' ? 'ok' : e.status === 'expected-error' ? 'raised (expected)' : 'FAILED';
        this.clearBar();
        this.line(`cell ${e.position}/${e.total} ${mark} · ${formatSeconds(e.seconds)}${this.latest ? ` · ${this.latest}` : ''}`);
        break;
      }
      case 'output':
        break;
      default: {
        const never: never = e;
        return never;
      }
    }
  };

  /** Stops redrawing (call when the run ends). */
  finish(): void {
    if (this.ticker !== undefined) clearInterval(this.ticker);
    this.ticker = undefined;
    this.clearBar();
  }

  private line(text: string): void {
    this.term.write(`${text}\n`);
  }

  private clearBar(): void {
    if (this.term.isTTY) this.term.write('\r\x1b[K');
  }

  private redraw(): void {
    const width = Math.max(40, this.term.columns ?? 100);
    const barWidth = 20;
    const done = (this.position - 1) / Math.max(1, this.total);
    const filled = Math.round(done * barWidth);
    const bar = `▕${'█'.repeat(filled)}${'░'.repeat(barWidth - filled)}▏`;
    const elapsed = formatSeconds((performance.now() - this.cellStart) / 1000);
    const detail = this.latest || this.source;
    let text = `${bar} cell ${this.position}/${this.total} · ${elapsed}${detail ? ` · ${detail}` : ''}`;
    if (text.length > width - 1) text = `${text.slice(0, width - 2)}…`;
    this.term.write(`\r\x1b[K${text}`);
  }
}

// ---- the command ---------------------------------------------------------------------------------

export const RUN_USAGE = `usage: transferlab run NOTEBOOK [--out FILE] [--html FILE] [--backend NAME] [--param name=value …] [--timeout SECONDS]

Runs every code cell of a notebook (.tsnb or .ipynb) in a fresh TransferLab kernel started in the
notebook's folder, and writes the executed notebook with its outputs.
  --out FILE         where to write (default: NOTEBOOK.executed.tsnb next to the input; .ipynb
                     output when FILE ends in .ipynb). The input is only replaced when FILE names it.
  --html FILE        also write a standalone HTML report with the charts drawn
  --backend NAME     compute backend of the kernel: ${RUN_BACKENDS.join(', ')} (default: auto)
  --param name=value a parameter (repeatable), injected after the cell tagged "parameters";
                     the value is JSON when valid (3, [0,1], true), otherwise a string
  --timeout SECONDS  interrupt and fail a cell that runs longer (default: no limit)
  --quiet            no progress on stderr
Exit status: 0 all cells ran, 1 a cell failed (the notebook is still written), 2 bad usage.
`;

/** The process's stderr as a progress terminal (a redrawn bar when it is a TTY). */
export function stderrTerminal(): ProgressTerminal {
  return {
    write: (t) => void process.stderr.write(t),
    get isTTY() {
      return process.stderr.isTTY === true;
    },
    get columns() {
      return process.stderr.columns;
    },
  };
}

export interface RunCommandOptions {
  /** The progress terminal; default: process.stderr. */
  readonly terminal?: ProgressTerminal;
  /** Handle Ctrl-C (default true for the real command line). */
  readonly handleSigint?: boolean;
}

interface RunArgs {
  input: string;
  out: string | undefined;
  html: string | undefined;
  backend: string | undefined;
  parameters: Map<string, JsonValue>;
  timeout: number | undefined;
  quiet: boolean;
}

export function parseRunArgs(args: readonly string[]): RunArgs | 'help' {
  let input: string | undefined;
  const values = new Map<string, string>();
  const params: string[] = [];
  let quiet = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-h' || a === '--help') return 'help';
    if (a === '--quiet' || a === '-q') {
      quiet = true;
      continue;
    }
    if (a.startsWith('-') && a !== '-') {
      const eq = a.indexOf('=');
      let name = (eq > 0 ? a.slice(0, eq) : a).replace(/^--?/, '');
      if (name === 'o') name = 'out';
      if (name === 'p') name = 'param';
      if (!['out', 'html', 'backend', 'param', 'timeout'].includes(name)) throw new UsageError(`unknown option ${a}`);
      const value = eq > 0 ? a.slice(eq + 1) : args[++i];
      if (value === undefined || value === '') throw new UsageError(`--${name} needs a value`);
      if (name === 'param') params.push(value);
      else values.set(name, value);
      continue;
    }
    if (input !== undefined) throw new UsageError(`unexpected argument ${a} (one notebook at a time)`);
    input = a;
  }
  if (input === undefined) throw new UsageError('which notebook? give a .tsnb or .ipynb file');
  const backend = values.get('backend');
  if (backend !== undefined && !RUN_BACKENDS.includes(backend)) {
    throw new UsageError(`--backend ${backend}: expected one of ${RUN_BACKENDS.join(', ')}`);
  }
  let timeout: number | undefined;
  const t = values.get('timeout');
  if (t !== undefined) {
    timeout = Number(t);
    if (!Number.isFinite(timeout) || timeout <= 0) throw new UsageError(`--timeout ${t}: expected a positive number of seconds`);
  }
  return { input, out: values.get('out'), html: values.get('html'), backend, parameters: parseParameters(params), timeout, quiet };
}

function isIpynb(file: string): boolean {
  return path.extname(file).toLowerCase() === '.ipynb';
}

/** The default output: `x.tsnb` → `x.executed.tsnb`, `x.ipynb` → `x.executed.ipynb`. */
export function defaultOutput(input: string): string {
  const p = path.parse(input);
  return path.join(p.dir, `${p.name}.executed${isIpynb(input) ? '.ipynb' : '.tsnb'}`);
}

/** Reads a .tsnb, or an .ipynb converted to one (warnings go to `warn`). */
export async function readNotebook(file: string, warn: (text: string) => void): Promise<TsnbNotebook> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(file, code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder' : (e as Error).message, e);
  }
  const text = decodeNotebookBytes(bytes, file);
  if (!isIpynb(file)) return parseTsnb(text, { file });
  const { notebook, warnings } = ipynbToTsnb(text, file);
  for (const w of warnings) warn(w);
  return notebook;
}

/** Writes the executed notebook as .tsnb, or as .ipynb when the file name ends so. */
export async function writeNotebook(file: string, nb: TsnbNotebook, warn: (text: string) => void): Promise<void> {
  if (isIpynb(file)) {
    const { notebook, warnings } = tsnbToIpynb(nb);
    for (const w of warnings) warn(w);
    await writeFileAtomic(file, notebook);
  } else {
    await writeFileAtomic(file, serializeTsnb(nb));
  }
}

/** Writes the HTML report of a notebook (charts drawn by the report bundle). */
export async function writeHtmlReport(file: string, nb: TsnbNotebook, source: string): Promise<void> {
  const script = await fs.readFile(findReportScript(), 'utf8');
  await writeFileAtomic(file, notebookToHtml(nb, { script, source }));
}

/**
 * Runs a notebook file and writes the results: the shared body of `transferlab run` and
 * `transferlab demo`. Returns the exit status (0, 1 or 130).
 */
export async function runNotebookFile(
  io: CliIo,
  command: string,
  spec: { input: string; out: string; html?: string; backend?: string; parameters: Map<string, JsonValue>; timeout?: number; quiet: boolean; cwd?: string },
  options: RunCommandOptions = {},
): Promise<number> {
  const warn = (t: string) => io.stderr(`transferlab ${command}: warning: ${t}\n`);
  const notebook = await readNotebook(spec.input, warn);
  const terminal: ProgressTerminal = options.terminal ?? {
    write: (t) => io.stderr(t),
    isTTY: false,
  };
  const reporter = spec.quiet ? undefined : new ProgressReporter(terminal);
  const controller = new AbortController();
  let sigints = 0;
  const onSigint = () => {
    sigints++;
    if (sigints > 1) process.exit(130);
    io.stderr(`\ntransferlab ${command}: interrupting (Ctrl-C again to quit at once)\n`);
    controller.abort();
  };
  if (options.handleSigint) process.on('SIGINT', onSigint);
  let result: RunNotebookResult;
  try {
    result = await runNotebook(notebook, {
      cwd: spec.cwd ?? path.dirname(path.resolve(spec.input)),
      ...(spec.backend !== undefined ? { backend: spec.backend } : {}),
      parameters: spec.parameters,
      ...(spec.timeout !== undefined ? { timeoutSeconds: spec.timeout } : {}),
      signal: controller.signal,
      onWarning: warn,
      ...(reporter ? { onEvent: reporter.onEvent } : {}),
    });
  } catch (e) {
    if (e instanceof KernelStartError) {
      io.stderr(`transferlab ${command}: the kernel did not start: ${e.message}\n`);
      return 1;
    }
    throw e;
  } finally {
    reporter?.finish();
    if (options.handleSigint) process.off('SIGINT', onSigint);
  }
  await writeNotebook(spec.out, result.notebook, warn);
  if (spec.html !== undefined) await writeHtmlReport(spec.html, result.notebook, path.basename(spec.input));
  const wrote = [spec.out, spec.html].filter((f): f is string => f !== undefined).join(' and ');
  if (result.error) {
    io.stderr(`transferlab ${command}: ${result.error.report()}`);
    io.stderr(`transferlab ${command}: ran ${result.executed} of ${result.total} code cells in ${formatSeconds(result.seconds)}; wrote the partial notebook to ${wrote}\n`);
    return result.error.kind === FailureKind.interrupted ? 130 : 1;
  }
  io.stdout(`ran ${result.total} code cell${result.total === 1 ? '' : 's'} in ${formatSeconds(result.seconds)}${result.backend ? ` on ${result.backend}` : ''}; wrote ${wrote}\n`);
  return 0;
}

const processIo: CliIo = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
};

/**
 * `transferlab run …`: returns the exit status.
 * @example
 * process.exitCode = await runRun(['analysis.tsnb', '--param', 'epochs=1', '--html', 'report.html']);
 */
export function runRun(args: string[], io: CliIo = processIo, options: RunCommandOptions = {}): Promise<number> {
  return withCliErrors('run', RUN_USAGE, io, async () => {
    const parsed = parseRunArgs(args);
    if (parsed === 'help') {
      io.stdout(RUN_USAGE);
      return 0;
    }
    const out = parsed.out ?? defaultOutput(parsed.input);
    if (parsed.html !== undefined && path.resolve(parsed.html) === path.resolve(parsed.input)) {
      throw new UsageError(`--html ${parsed.html} is the input file; choose another name`);
    }
    return runNotebookFile(
      io,
      'run',
      {
        input: parsed.input,
        out,
        ...(parsed.html !== undefined ? { html: parsed.html } : {}),
        ...(parsed.backend !== undefined ? { backend: parsed.backend } : {}),
        parameters: parsed.parameters,
        ...(parsed.timeout !== undefined ? { timeout: parsed.timeout } : {}),
        quiet: parsed.quiet,
      },
      options,
    );
  });
}
