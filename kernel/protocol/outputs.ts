/**
 * The outputs contract: how a kernel's iopub messages become a cell's outputs (nbformat outputs),
 * the one reducer that VS Code's controller and `transferlab run` both use.
 *
 * - `stream`: consecutive text of the same stream name is merged into one output; text of the
 *   other stream, or any other output in between, starts a new one. Carriage returns are applied
 *   as a terminal and Jupyter's front ends apply them ({@link applyCarriageReturns}).
 * - `display_data`, `execute_result`, `error`: a new output each. A display id
 *   (`transient.display_id`) is remembered ({@link ./displayIds}).
 * - `update_display_data`: replaces the data and metadata of every output showing that display id,
 *   in any cell; an unknown id changes nothing.
 * - `clear_output`: clears the cell's outputs at once, or with `wait` just before its next output
 *   (a clear with no output after it leaves the outputs as they were).
 *
 * Pure: {@link reduceOutput} takes the state and one message and returns the new state and the
 * list of changes (append an output, replace an output, clear a cell), so that a front end can
 * apply them one by one (VS Code: appendOutput / replaceOutputItems / clearOutput) or just keep
 * the resulting outputs ({@link outputsOf}). `C` is the caller's key for a cell, compared by
 * identity. Imports nothing of the project beyond kernel/protocol.
 */
import { addDisplay, displayIdOf, displaysOf, emptyDisplayIds, forgetCell, type DisplayIds } from './displayIds';
import {
  isJsonMime,
  type JsonObject,
  type JsonValue,
  type TsnbDisplayDataOutput,
  type TsnbErrorOutput,
  type TsnbExecuteResultOutput,
  type TsnbMimeBundle,
  type TsnbOutput,
  type TsnbStreamOutput,
} from './tsnb';

/** An iopub message as the reducer reads it (only its type and content). */
export interface OutputMessage {
  readonly header: { readonly msg_type: string };
  readonly content: unknown;
}

/** One cell's outputs, and whether a `clear_output(wait=true)` waits for its next output. */
export interface CellOutputs {
  readonly outputs: readonly TsnbOutput[];
  readonly clearPending: boolean;
  /**
   * When the last output is a stream: the text of its last line as it arrived, carriage returns
   * and all, so that the next chunk overwrites from where a terminal's cursor would be.
   */
  readonly streamTail?: string;
}

/** The outputs of the cells seen so far, and the display ids they show. */
export interface OutputState<C> {
  readonly cells: ReadonlyMap<C, CellOutputs>;
  readonly displays: DisplayIds<C>;
}

/** Kinds of {@link OutputChange}. */
export const OutputChangeType = {
  /** A new output at the end of the cell's outputs (at `index`). */
  append: 'append',
  /** The output at `index` has new content (a stream grew, a display was updated). */
  replace: 'replace',
  /** The cell's outputs were cleared. */
  clear: 'clear',
} as const;
export type OutputChangeType = (typeof OutputChangeType)[keyof typeof OutputChangeType];

/** One change to apply to a front end's outputs, in the order given. */
export type OutputChange<C> =
  | { readonly type: typeof OutputChangeType.append; readonly cell: C; readonly index: number; readonly output: TsnbOutput }
  | { readonly type: typeof OutputChangeType.replace; readonly cell: C; readonly index: number; readonly output: TsnbOutput }
  | { readonly type: typeof OutputChangeType.clear; readonly cell: C };

/** The result of a reducer step: the new state and what changed. */
export interface OutputStep<C> {
  readonly state: OutputState<C>;
  readonly changes: readonly OutputChange<C>[];
}

const NO_CELL: CellOutputs = { outputs: [], clearPending: false };

/** No cell has outputs yet. */
export function emptyOutputState<C>(): OutputState<C> {
  return { cells: new Map(), displays: emptyDisplayIds() };
}

/** The outputs of a cell in `state` (none for a cell never seen). */
export function outputsOf<C>(state: OutputState<C>, cell: C): readonly TsnbOutput[] {
  return (state.cells.get(cell) ?? NO_CELL).outputs;
}

function withCell<C>(state: OutputState<C>, cell: C, value: CellOutputs, displays = state.displays): OutputState<C> {
  const cells = new Map(state.cells);
  cells.set(cell, value);
  return { cells, displays };
}

/**
 * A cell starts running (again): its outputs are cleared and its displays forgotten, so that
 * updates of its old display ids no longer reach it.
 */
export function startCell<C>(state: OutputState<C>, cell: C): OutputStep<C> {
  return {
    state: withCell(state, cell, NO_CELL, forgetCell(state.displays, cell)),
    changes: [{ type: OutputChangeType.clear, cell }],
  };
}

/**
 * `state` without the last output of `cell` (a front end that replaces the kernel's error with its
 * own, as `transferlab run` does for a timeout). Returns the output removed, if any.
 */
export function removeLastOutput<C>(state: OutputState<C>, cell: C): { state: OutputState<C>; removed?: TsnbOutput } {
  const current = state.cells.get(cell) ?? NO_CELL;
  const removed = current.outputs[current.outputs.length - 1];
  if (removed === undefined) return { state };
  const outputs = current.outputs.slice(0, -1);
  return { state: withCell(state, cell, { outputs, clearPending: current.clearPending }, forgetCell(state.displays, cell, outputs.length)), removed };
}

/**
 * Applies one iopub message of `cell` (the cell whose request it answers; undefined when it
 * belongs to no running cell, which only an update_display_data may). Messages that produce no
 * output (status, execute_input, unknown types) change nothing.
 * @example
 * let state = emptyOutputState<string>();
 * ({ state } = reduceOutput(state, 'cell-1', { header: { msg_type: 'stream' }, content: { name: 'stdout', text: '10%\r' } }));
 * ({ state } = reduceOutput(state, 'cell-1', { header: { msg_type: 'stream' }, content: { name: 'stdout', text: '20%\n' } }));
 * outputsOf(state, 'cell-1'); // [{ output_type: 'stream', name: 'stdout', text: '20%\n' }]
 */
export function reduceOutput<C>(state: OutputState<C>, cell: C | undefined, msg: OutputMessage): OutputStep<C> {
  const c = objectOr(msg.content);
  const type = msg.header.msg_type;
  if (type === 'update_display_data') return updateDisplay(state, c);
  if (cell === undefined) return { state, changes: [] };
  switch (type) {
    case 'stream': {
      const name = typeof c['name'] === 'string' ? c['name'] : 'stdout';
      const text = typeof c['text'] === 'string' ? c['text'] : '';
      return appendStream(state, cell, name, text);
    }
    case 'display_data': {
      const output: TsnbDisplayDataOutput = { output_type: 'display_data', data: toTsnbBundle(c['data']), metadata: objectOr(c['metadata']) };
      return append(state, cell, output, displayIdOf(c));
    }
    case 'execute_result': {
      const count = c['execution_count'];
      const output: TsnbExecuteResultOutput = {
        output_type: 'execute_result',
        data: toTsnbBundle(c['data']),
        metadata: objectOr(c['metadata']),
        execution_count: typeof count === 'number' ? count : null,
      };
      return append(state, cell, output, displayIdOf(c));
    }
    case 'error': {
      const output: TsnbErrorOutput = {
        output_type: 'error',
        ename: String(c['ename'] ?? 'Error'),
        evalue: String(c['evalue'] ?? ''),
        traceback: Array.isArray(c['traceback']) ? c['traceback'].map(String) : [],
      };
      return append(state, cell, output);
    }
    case 'clear_output': {
      if (c['wait'] === true) {
        const current = state.cells.get(cell) ?? NO_CELL;
        return { state: withCell(state, cell, { ...current, clearPending: true }), changes: [] };
      }
      return clear(state, cell);
    }
    default:
      return { state, changes: [] };
  }
}

function clear<C>(state: OutputState<C>, cell: C): OutputStep<C> {
  return { state: withCell(state, cell, NO_CELL, forgetCell(state.displays, cell)), changes: [{ type: OutputChangeType.clear, cell }] };
}

/** A clear_output(wait=true) takes effect when the next output arrives. */
function beforeOutput<C>(state: OutputState<C>, cell: C): OutputStep<C> {
  return state.cells.get(cell)?.clearPending === true ? clear(state, cell) : { state, changes: [] };
}

function append<C>(state0: OutputState<C>, cell: C, output: TsnbOutput, displayId?: string): OutputStep<C> {
  const cleared = beforeOutput(state0, cell);
  const state = cleared.state;
  const outputs = [...outputsOf(state, cell), output];
  const index = outputs.length - 1;
  const displays = displayId !== undefined ? addDisplay(state.displays, displayId, { cell, index }) : state.displays;
  return {
    state: withCell(state, cell, { outputs, clearPending: false }, displays),
    changes: [...cleared.changes, { type: OutputChangeType.append, cell, index, output }],
  };
}

function appendStream<C>(state0: OutputState<C>, cell: C, name: string, text: string): OutputStep<C> {
  const cleared = beforeOutput(state0, cell);
  const state = cleared.state;
  const current = state.cells.get(cell) ?? NO_CELL;
  const outputs = current.outputs;
  const index = outputs.length - 1;
  const last = outputs[index];
  if (last?.output_type === 'stream' && last.name === name) {
    const { text: shown, tail } = continueStream(last.text, current.streamTail, text);
    const output: TsnbStreamOutput = { ...last, text: shown };
    const next = [...outputs];
    next[index] = output;
    return {
      state: withCell(state, cell, { outputs: next, clearPending: false, streamTail: tail }),
      changes: [...cleared.changes, { type: OutputChangeType.replace, cell, index, output }],
    };
  }
  const { text: shown, tail } = continueStream('', '', text);
  const step = append(state, cell, { output_type: 'stream', name, text: shown });
  const after = step.state.cells.get(cell)!;
  return { state: withCell(step.state, cell, { ...after, streamTail: tail }), changes: [...cleared.changes, ...step.changes] };
}

/**
 * A stream's shown text and the raw text of its last line, after the chunk `text`. Exactly
 * `applyCarriageReturns` of everything the stream received (carriage returns act within a line),
 * but only the last line is looked at again, so a long stream costs linear time. Without the raw
 * last line (`tail` undefined), the shown one stands in for it.
 */
function continueStream(shown: string, tail: string | undefined, text: string): { text: string; tail: string } {
  const rawTail = tail ?? shown.slice(shown.lastIndexOf('\n') + 1);
  const head = shown.slice(0, shown.length - applyCarriageReturns(rawTail).length);
  const raw = rawTail + text;
  const cut = raw.lastIndexOf('\n') + 1;
  const rest = raw.slice(cut);
  return { text: head + applyCarriageReturns(raw.slice(0, cut)) + applyCarriageReturns(rest), tail: rest };
}

function updateDisplay<C>(state: OutputState<C>, c: Record<string, unknown>): OutputStep<C> {
  const id = displayIdOf(c);
  if (id === undefined) return { state, changes: [] };
  const data = toTsnbBundle(c['data']);
  const metadata = objectOr(c['metadata']);
  let cells: Map<C, CellOutputs> | undefined;
  const changes: OutputChange<C>[] = [];
  for (const { cell, index } of displaysOf(state.displays, id)) {
    const current = (cells ?? state.cells).get(cell);
    const old = current?.outputs[index];
    if (current === undefined || old === undefined || (old.output_type !== 'display_data' && old.output_type !== 'execute_result')) continue;
    const output: TsnbOutput = { ...old, data, metadata };
    const outputs = [...current.outputs];
    outputs[index] = output;
    cells ??= new Map(state.cells);
    cells.set(cell, { ...current, outputs });
    changes.push({ type: OutputChangeType.replace, cell, index, output });
  }
  return { state: cells === undefined ? state : { cells, displays: state.displays }, changes };
}

// ---- text and bundles ------------------------------------------------------------------------------

/**
 * Carriage returns as a terminal (and Jupyter's own front ends) show them: `\r\n` is a newline; a
 * `\r` returns to the start of its line and what follows overwrites the line character by
 * character; a `\r` at the very end is kept, so that the next chunk of the same stream overwrites
 * the line. Applied to a stream's whole text after each chunk.
 * @example
 * applyCarriageReturns('10%\r20%\r30%\n'); // '30%\n'
 * applyCarriageReturns('abc\rX');          // 'Xbc'
 * applyCarriageReturns('10%\r');           // '10%\r' (the next chunk overwrites)
 */
export function applyCarriageReturns(text: string): string {
  if (!text.includes('\r')) return text;
  return text.replace(/\r+\n/g, '\n').split('\n').map(overwriteLine).join('\n');
}

function overwriteLine(line: string): string {
  if (!line.includes('\r')) return line;
  let shown: string[] = [];
  for (const part of line.split(/\r+/)) {
    const chars = Array.from(part);
    shown = [...chars, ...shown.slice(chars.length)];
  }
  return shown.join('') + (line.endsWith('\r') ? '\r' : '');
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
