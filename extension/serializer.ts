/**
 * The VS Code NotebookSerializer for .tsnb files (notebook type `transferlab-notebook`). Bytes in,
 * NotebookData out, and back; the format itself lives in kernel/protocol/tsnb.ts. VS Code writes
 * the returned bytes to disk itself.
 *
 * Mapping between the file and VS Code's notebook model:
 * - Notebook: `NotebookData.metadata` is the file's top-level `metadata` object (kernel, backend,
 *   format_version, transferlab.saveOutputs, anything else), plus {@link PRESERVED_KEY} holding
 *   top-level fields this version does not know. Should the file's metadata itself use one of the
 *   serializer's keys, that entry travels under {@link SHADOWED_KEY} and is written back in place.
 * - Cell: `NotebookCellData.metadata` is {@link TsnbCellMetadata}: the file's cell `metadata`,
 *   `id`, `attachments` and unknown fields. Markdown cells are Markup cells; code cells are Code
 *   cells in the notebook's language (`metadata.vscode.languageId` of a cell overrides it); raw
 *   cells are Code cells in the language `raw` marked `rawCell: true` (a code cell whose language
 *   happens to be `raw` stays a code cell). `execution_count` is the cell's
 *   `executionSummary.executionOrder`.
 * - Output: one NotebookCellOutput per output. Its metadata ({@link TsnbOutputMetadata}) says the
 *   nbformat output type; items are the MIME bundle (JSON as JSON text, binary decoded from base64).
 *   Streams use VS Code's stdout/stderr MIME types, errors its error MIME type. Data that bytes
 *   cannot carry exactly (text with a lone surrogate, binary data that is not base64) is also kept
 *   in the output metadata (`exact`) and used on saving while the item is unchanged. An output without
 *   `outputType` metadata is a stream if all its items are stdout/stderr, an error if it holds an
 *   error item, and display_data otherwise: a controller that creates execute_result outputs should
 *   set `{ outputType: 'execute_result', executionCount }`.
 *
 * Outputs are saved unless the notebook's `metadata.transferlab.saveOutputs` is false or, when the
 * notebook does not say, the setting `transferlab.saveOutputs` is false.
 *
 * A file that cannot be read makes `deserializeNotebook` throw {@link NotebookOpenError}: VS Code
 * shows the message instead of the notebook, and nothing is ever saved over the file. Only a file
 * of zero bytes or only whitespace (just created, e.g. with New File) opens as a new notebook.
 */
import type * as vscode from 'vscode';
import {
  NotebookFileError,
  TRANSFERLAB_KERNEL,
  compactJson,
  createTsnbNotebook,
  decodeNotebookBytes,
  hasJsonKey,
  isBinaryMime,
  isCanonicalBase64,
  JsonNumber,
  isJsonMime,
  isJsonNumber,
  isPlainObject,
  parseJsonText,
  parseTsnb,
  setJsonKey,
  resolveSaveOutputs,
  serializeTsnb,
  type JsonObject,
  type JsonValue,
  type TsnbCell,
  type TsnbMarkdownCell,
  type TsnbRawCell,
  type TsnbMetadata,
  type TsnbMimeBundle,
  type TsnbNotebook,
  type TsnbOutput,
} from '../kernel/protocol/tsnb';

/** The notebook type the extension registers this serializer for (`contributes.notebooks`). */
export const TSNB_NOTEBOOK_TYPE = 'transferlab-notebook';

/** Options to pass with `vscode.workspace.registerNotebookSerializer`. */
export const TSNB_SERIALIZER_OPTIONS: vscode.NotebookDocumentContentOptions = {
  transientOutputs: false,
  transientCellMetadata: {},
  transientDocumentMetadata: {},
};

/** Key of `NotebookData.metadata` holding the file's unknown top-level fields. */
export const PRESERVED_KEY = 'tsnbPreserved';

/**
 * Key of `NotebookData.metadata` holding the entries of the file's `metadata` named like one of
 * the serializer's own keys ({@link PRESERVED_KEY}, this one), so that they are written back into
 * `metadata` and never mistaken for top-level fields.
 */
export const SHADOWED_KEY = 'tsnbShadowed';
/**
 * Key of `NotebookData.metadata` listing the numbers of the notebook's metadata that a double
 * cannot hold exactly ({@link ExactNumbers}); cells and outputs keep theirs in `numbers`.
 */
export const NUMBERS_KEY = 'tsnbNumbers';
const RESERVED_KEYS: readonly string[] = [PRESERVED_KEY, SHADOWED_KEY, NUMBERS_KEY];

/**
 * Numbers a double cannot hold exactly (integers beyond 2^53, `1e400`, `1.0`), by path, as the file
 * spells them. VS Code passes notebook, cell and output metadata between its processes as JSON,
 * where a {@link JsonNumber} would become its nearest double (or null), so the metadata handed to
 * VS Code holds that double and this list holds the exact text; on saving, a value still equal to
 * the double it was given is written back as the text, and an edited one as edited.
 */
export type ExactNumbers = [path: (string | number)[], source: string][];

function placeholder(n: JsonNumber): number | null {
  const v = Number(n.source);
  return Number.isFinite(v) ? v : null;
}

/** A copy of `value` with every {@link JsonNumber} replaced by its double, listing them in `found`. */
export function detachExactNumbers(value: unknown, found: ExactNumbers, path: (string | number)[] = []): unknown {
  if (isJsonNumber(value)) {
    found.push([path, value.source]);
    return placeholder(value);
  }
  if (Array.isArray(value)) return value.map((v, i) => detachExactNumbers(v, found, [...path, i]));
  if (value !== null && typeof value === 'object') {
    const out: { [key: string]: unknown } = {};
    for (const [k, v] of Object.entries(value)) setJsonKey(out, k, detachExactNumbers(v, found, [...path, k]));
    return out;
  }
  return value;
}

/** `value` (changed in place) with the listed numbers put back where the double is unchanged. */
export function attachExactNumbers(value: unknown, numbers: unknown): unknown {
  if (!Array.isArray(numbers)) return value;
  for (const entry of numbers as unknown[]) {
    if (!Array.isArray(entry) || entry.length !== 2 || !Array.isArray(entry[0]) || typeof entry[1] !== 'string') continue;
    const [path, source] = entry as [(string | number)[], string];
    if (path.length === 0) continue;
    let parent: unknown = value;
    for (const key of path.slice(0, -1)) parent = parent !== null && typeof parent === 'object' ? (parent as Record<string, unknown>)[key as string] : undefined;
    if (parent === null || typeof parent !== 'object') continue;
    const last = path[path.length - 1]!;
    const container = parent as Record<string, unknown>;
    if (!hasJsonKey(container, String(last))) continue;
    const number = new JsonNumber(source);
    if (container[last as string] !== placeholder(number)) continue; // edited since: keep the edit
    if (Array.isArray(container)) (container as unknown[])[last as number] = number;
    else setJsonKey(container, String(last), number);
  }
  return value;
}


/** VS Code's MIME types for streams and errors. */
export const VscodeMime = {
  stdout: 'application/vnd.code.notebook.stdout',
  stderr: 'application/vnd.code.notebook.stderr',
  error: 'application/vnd.code.notebook.error',
} as const;

/** What `NotebookCellData.metadata` holds for a cell read from a .tsnb file. */
export interface TsnbCellMetadata {
  /** The cell's `metadata` in the file. */
  metadata?: JsonObject;
  /** nbformat cell id. */
  id?: string;
  /** Markdown/raw cell attachments (MIME bundles by name). */
  attachments?: { [name: string]: TsnbMimeBundle };
  /** Cell fields this version does not know. */
  preserved?: JsonObject;
  /** Set on the Code cells that stand for the file's raw cells. */
  rawCell?: true;
  /** The exact numbers of the fields above ({@link ExactNumbers}). */
  numbers?: ExactNumbers;
}

/** What `NotebookCellOutput.metadata` holds for an output read from a .tsnb file. */
export interface TsnbOutputMetadata {
  outputType: TsnbOutput['output_type'];
  /** The output's own `metadata` (display_data, execute_result). */
  metadata?: JsonObject;
  /** execute_result's execution count. */
  executionCount?: number | null;
  /** Stream name when it is neither stdout nor stderr. */
  streamName?: string;
  /** The error as the file had it, so that it is written back unchanged. */
  originalError?: { ename: string; evalue: string; traceback: string[] };
  /** Output fields this version does not know. */
  preserved?: JsonObject;
  /**
   * By item MIME type: the data exactly as in the file, where the item's bytes cannot carry it
   * (a lone surrogate in text, binary data that is not canonical base64). Used on saving as long
   * as the item's bytes are still those made from it.
   */
  exact?: { [mime: string]: string };
  /** The exact numbers of the fields above ({@link ExactNumbers}). */
  numbers?: ExactNumbers;
}

/**
 * A .tsnb file could not be opened: wraps the {@link NotebookFileError} (syntax error with line and
 * column, schema error with path, newer format version) as `cause`. Thrown by
 * `deserializeNotebook`; VS Code shows it in place of the notebook.
 */
export class NotebookOpenError extends Error {
  constructor(override readonly cause: NotebookFileError) {
    super(
      `Cannot open this TransferLab notebook: ${cause.detail}. The file was left unchanged; reopen it with the text editor to repair it.`,
      { cause },
    );
    this.name = 'NotebookOpenError';
  }
}

/** The constructors of the `vscode` module the serializer uses (tests pass their own). */
export interface NotebookApi {
  readonly NotebookData: new (cells: vscode.NotebookCellData[]) => vscode.NotebookData;
  readonly NotebookCellData: new (kind: vscode.NotebookCellKind, value: string, languageId: string) => vscode.NotebookCellData;
  readonly NotebookCellOutput: new (items: vscode.NotebookCellOutputItem[], metadata?: { [key: string]: unknown }) => vscode.NotebookCellOutput;
  readonly NotebookCellOutputItem: new (data: Uint8Array, mime: string) => vscode.NotebookCellOutputItem;
  readonly NotebookCellKind: { readonly Markup: vscode.NotebookCellKind; readonly Code: vscode.NotebookCellKind };
}

export interface TsnbSerializerOptions {
  /** Default: the `vscode` module of the extension host. */
  readonly api?: NotebookApi;
  /** The `transferlab.saveOutputs` setting; default: read from the workspace configuration. */
  readonly saveOutputsSetting?: () => boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const RAW_LANGUAGE = 'raw';

/**
 * Reads and writes .tsnb notebooks for VS Code.
 * @example
 * context.subscriptions.push(
 *   vscode.workspace.registerNotebookSerializer(TSNB_NOTEBOOK_TYPE, new TsnbSerializer(), TSNB_SERIALIZER_OPTIONS),
 * );
 */
export class TsnbSerializer implements vscode.NotebookSerializer {
  private readonly api: NotebookApi;
  private readonly saveOutputsSetting: () => boolean;

  constructor(options: TsnbSerializerOptions = {}) {
    // The vscode module exists only inside the extension host; tests inject `api`.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const host = options.api === undefined || options.saveOutputsSetting === undefined ? (require('vscode') as typeof vscode) : undefined;
    this.api = options.api ?? (host as NotebookApi);
    this.saveOutputsSetting =
      options.saveOutputsSetting ??
      (() => {
        const value = host!.workspace.getConfiguration('transferlab').get<unknown>('saveOutputs', true);
        return typeof value === 'boolean' ? value : true;
      });
  }

  /**
   * @throws NotebookOpenError when the bytes are not a .tsnb notebook this version can read.
   */
  deserializeNotebook(content: Uint8Array, _token?: vscode.CancellationToken): vscode.NotebookData {
    let notebook: TsnbNotebook;
    try {
      const text = decodeNotebookBytes(content);
      notebook = text.trim() === '' ? createTsnbNotebook() : parseTsnb(text);
    } catch (e) {
      if (e instanceof NotebookFileError) throw new NotebookOpenError(e);
      throw e;
    }
    return this.toNotebookData(notebook);
  }

  serializeNotebook(data: vscode.NotebookData, _token?: vscode.CancellationToken): Uint8Array {
    const notebook = this.fromNotebookData(data);
    const outputs = resolveSaveOutputs(notebook.metadata, this.saveOutputsSetting());
    return encoder.encode(serializeTsnb(notebook, { outputs }));
  }

  /** The VS Code model of a parsed notebook. */
  toNotebookData(notebook: TsnbNotebook): vscode.NotebookData {
    const { api } = this;
    const language = notebookLanguage(notebook.metadata);
    const cells = notebook.cells.map((cell) => {
      const kind = cell.cell_type === 'markdown' ? api.NotebookCellKind.Markup : api.NotebookCellKind.Code;
      const languageId =
        cell.cell_type === 'markdown' ? 'markdown' : cell.cell_type === 'raw' ? RAW_LANGUAGE : (cellLanguage(cell.metadata) ?? language);
      const data = new api.NotebookCellData(kind, cell.source, languageId);
      const meta: TsnbCellMetadata = { metadata: cell.metadata };
      if (cell.cell_type === 'raw') meta.rawCell = true;
      if (cell.id !== undefined) meta.id = cell.id;
      if (cell.cell_type !== 'code' && cell.attachments !== undefined) meta.attachments = cell.attachments;
      if (cell.preserved !== undefined) meta.preserved = cell.preserved;
      data.metadata = withExactNumbers(meta) as { [key: string]: unknown };
      if (cell.cell_type === 'code') {
        data.outputs = cell.outputs.map((o) => this.toCellOutput(o));
        if (cell.execution_count !== null) data.executionSummary = { executionOrder: cell.execution_count };
      }
      return data;
    });
    const nb = new api.NotebookData(cells);
    const metadata: { [key: string]: unknown } = { ...notebook.metadata };
    const shadowed: JsonObject = {};
    for (const key of RESERVED_KEYS) {
      if (!hasJsonKey(metadata, key)) continue;
      shadowed[key] = metadata[key] as JsonValue;
      delete metadata[key];
    }
    if (Object.keys(shadowed).length > 0) metadata[SHADOWED_KEY] = shadowed;
    if (notebook.preserved !== undefined) metadata[PRESERVED_KEY] = notebook.preserved;
    const numbers: ExactNumbers = [];
    const detached = detachExactNumbers(metadata, numbers) as { [key: string]: unknown };
    if (numbers.length > 0) detached[NUMBERS_KEY] = numbers;
    nb.metadata = detached;
    return nb;
  }

  private toCellOutput(o: TsnbOutput): vscode.NotebookCellOutput {
    const { api } = this;
    const meta: TsnbOutputMetadata = { outputType: o.output_type };
    if (o.preserved !== undefined) meta.preserved = o.preserved;
    let items: vscode.NotebookCellOutputItem[];
    switch (o.output_type) {
      case 'stream': {
        const mime = o.name === 'stderr' ? VscodeMime.stderr : VscodeMime.stdout;
        const bytes = encoder.encode(o.text);
        items = [new api.NotebookCellOutputItem(bytes, mime)];
        if (decoder.decode(bytes) !== o.text) meta.exact = { [mime]: o.text };
        if (o.name !== 'stdout' && o.name !== 'stderr') meta.streamName = o.name;
        break;
      }
      case 'error':
        items = [
          new api.NotebookCellOutputItem(
            encoder.encode(JSON.stringify({ name: o.ename, message: o.evalue, stack: o.traceback.join('\n') })),
            VscodeMime.error,
          ),
        ];
        meta.originalError = { ename: o.ename, evalue: o.evalue, traceback: o.traceback };
        break;
      case 'execute_result':
      case 'display_data':
        items = Object.entries(o.data).map(([mime, value]) => {
          const bytes = mimeDataToBytes(mime, value);
          if (typeof value === 'string' && !isJsonMime(mime) && bytesToMimeData(mime, bytes) !== value) {
            meta.exact ??= {};
            setJsonKey(meta.exact, mime, value);
          }
          return new api.NotebookCellOutputItem(bytes, mime);
        });
        meta.metadata = o.metadata;
        if (o.output_type === 'execute_result') meta.executionCount = o.execution_count;
        break;
      default: {
        const never: never = o;
        return never;
      }
    }
    return new api.NotebookCellOutput(items, withExactNumbers(meta) as unknown as { [key: string]: unknown });
  }

  /** The .tsnb notebook of VS Code's model. */
  fromNotebookData(data: vscode.NotebookData): TsnbNotebook {
    const { api } = this;
    const { [NUMBERS_KEY]: numbers, ...withNumbers } = (data.metadata ?? {}) as { [key: string]: unknown };
    const { [PRESERVED_KEY]: preserved, [SHADOWED_KEY]: shadowed, ...rest } = attachExactNumbers(structuredClone(withNumbers), numbers) as { [key: string]: unknown };
    if (shadowed !== null && typeof shadowed === 'object') Object.assign(rest, shadowed);
    const metadata = (Object.keys(rest).length === 0 ? createTsnbNotebook().metadata : { ...rest }) as TsnbMetadata;
    const language = notebookLanguage(metadata);
    const cells = data.cells.map((c): TsnbCell => {
      const meta = withoutExactNumbers((c.metadata ?? {}) as TsnbCellMetadata);
      let cellMetadata: JsonObject = { ...(meta.metadata ?? {}) };
      const base = { source: c.value, metadata: cellMetadata } as { source: string; metadata: JsonObject; id?: string; preserved?: JsonObject };
      if (meta.id !== undefined) base.id = meta.id;
      if (meta.preserved !== undefined) base.preserved = meta.preserved;
      const raw = c.kind === api.NotebookCellKind.Code && c.languageId === RAW_LANGUAGE && meta.rawCell === true;
      if (c.kind === api.NotebookCellKind.Markup || raw) {
        const cell: TsnbMarkdownCell | TsnbRawCell = { cell_type: c.kind === api.NotebookCellKind.Markup ? 'markdown' : 'raw', ...base };
        if (meta.attachments !== undefined) cell.attachments = meta.attachments;
        return cell;
      }
      cellMetadata = withCellLanguage(cellMetadata, c.languageId, language);
      const executionCount = c.executionSummary?.executionOrder ?? null;
      return {
        cell_type: 'code',
        ...base,
        metadata: cellMetadata,
        execution_count: executionCount,
        outputs: (c.outputs ?? []).map((o) => fromCellOutput(o, executionCount)),
      };
    });
    const nb: TsnbNotebook = { metadata, cells };
    if (preserved !== undefined) nb.preserved = preserved as JsonObject;
    return nb;
  }
}

function notebookLanguage(metadata: JsonObject): string {
  const kernel = metadata['kernel'];
  const lang = isPlainObject(kernel) ? kernel['language'] : undefined;
  return typeof lang === 'string' && lang !== '' ? lang : TRANSFERLAB_KERNEL.language;
}

function cellLanguage(metadata: JsonObject): string | undefined {
  const v = metadata['vscode'];
  if (!isPlainObject(v)) return undefined;
  const id = v['languageId'];
  return typeof id === 'string' ? id : undefined;
}

/** Records a cell's language in `metadata.vscode.languageId` when it differs from the notebook's (or was recorded before). */
function withCellLanguage(metadata: JsonObject, languageId: string, notebookLanguageId: string): JsonObject {
  const recorded = cellLanguage(metadata);
  if (recorded === languageId || (recorded === undefined && languageId === notebookLanguageId)) return metadata;
  const vscodeMeta = metadata['vscode'];
  const base = isPlainObject(vscodeMeta) ? (vscodeMeta as JsonObject) : {};
  return { ...metadata, vscode: { ...base, languageId } };
}

/** The bytes of an output item: JSON types as exact JSON text, binary (base64) types decoded, text as UTF-8. */
function mimeDataToBytes(mime: string, value: JsonValue): Uint8Array {
  if (isJsonMime(mime)) return encoder.encode(compactJson(value));
  const s = typeof value === 'string' ? value : compactJson(value);
  return isBinaryMime(mime) && isCanonicalBase64(s) ? Buffer.from(s, 'base64') : encoder.encode(s);
}

function bytesToMimeData(mime: string, bytes: Uint8Array): JsonValue {
  if (isJsonMime(mime)) {
    const text = decoder.decode(bytes);
    try {
      return parseJsonText(text) as JsonValue;
    } catch {
      return text;
    }
  }
  if (isBinaryMime(mime)) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  return decoder.decode(bytes);
}

function isStreamMime(mime: string): boolean {
  return mime === VscodeMime.stdout || mime === VscodeMime.stderr;
}

/** The data of an item: what the file had when the bytes are still those made from it, else read from the bytes. */
function itemData(item: vscode.NotebookCellOutputItem, exact: TsnbOutputMetadata['exact']): JsonValue {
  const original = exact !== undefined && hasJsonKey(exact, item.mime) ? exact[item.mime] : undefined;
  if (typeof original === 'string' && sameBytes(mimeDataToBytes(item.mime, original), item.data)) return original;
  return bytesToMimeData(item.mime, item.data);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function fromCellOutput(o: vscode.NotebookCellOutput, cellExecutionCount: number | null): TsnbOutput {
  const meta = withoutExactNumbers((o.metadata ?? {}) as Partial<TsnbOutputMetadata>);
  const outputType =
    meta.outputType ??
    (o.items.length > 0 && o.items.every((i) => isStreamMime(i.mime))
      ? 'stream'
      : o.items.some((i) => i.mime === VscodeMime.error)
        ? 'error'
        : 'display_data');
  let out: TsnbOutput;
  switch (outputType) {
    case 'stream': {
      const streamItems = o.items.filter((i) => isStreamMime(i.mime));
      const name = meta.streamName ?? (streamItems[0]?.mime === VscodeMime.stderr ? 'stderr' : 'stdout');
      out = { output_type: 'stream', name, text: streamItems.map((i) => itemData(i, meta.exact) as string).join('') };
      break;
    }
    case 'error': {
      const item = o.items.find((i) => i.mime === VscodeMime.error);
      let shown: { name?: unknown; message?: unknown; stack?: unknown } = {};
      try {
        shown = item === undefined ? {} : (JSON.parse(decoder.decode(item.data)) as typeof shown);
      } catch {
        shown = { message: item === undefined ? '' : decoder.decode(item.data) };
      }
      const original = meta.originalError;
      if (original !== undefined && original.ename === shown.name && original.evalue === shown.message) {
        out = { output_type: 'error', ename: original.ename, evalue: original.evalue, traceback: [...original.traceback] };
      } else {
        const name = typeof shown.name === 'string' ? shown.name : 'Error';
        const message = typeof shown.message === 'string' ? shown.message : '';
        const stack = typeof shown.stack === 'string' && shown.stack !== '' ? shown.stack.split('\n') : [`${name}: ${message}`];
        out = { output_type: 'error', ename: name, evalue: message, traceback: stack };
      }
      break;
    }
    case 'display_data':
    case 'execute_result': {
      const data: TsnbMimeBundle = {};
      for (const item of o.items) setJsonKey(data, item.mime, itemData(item, meta.exact));
      const metadata = meta.metadata ?? {};
      // null is a count the file gave (an execute_result without one); only a missing one takes the cell's
      const executionCount = meta.executionCount === undefined ? cellExecutionCount : meta.executionCount;
      out =
        outputType === 'execute_result'
          ? { output_type: 'execute_result', data, metadata, execution_count: executionCount }
          : { output_type: 'display_data', data, metadata };
      break;
    }
    default: {
      // An outputType this version does not know: keep what can be kept as display data.
      const data: TsnbMimeBundle = {};
      for (const item of o.items) setJsonKey(data, item.mime, itemData(item, meta.exact));
      out = { output_type: 'display_data', data, metadata: meta.metadata ?? {} };
    }
  }
  if (meta.preserved !== undefined) out.preserved = meta.preserved;
  return out;
}

/** `meta` as VS Code is given it: exact numbers as doubles, with their list in `numbers`. */
function withExactNumbers<T extends { numbers?: ExactNumbers }>(meta: T): T {
  const numbers: ExactNumbers = [];
  const detached = detachExactNumbers(meta, numbers) as T;
  if (numbers.length > 0) detached.numbers = numbers;
  return detached;
}

/** `meta` as VS Code gives it back, with the exact numbers restored where unchanged (a copy). */
function withoutExactNumbers<T extends { numbers?: ExactNumbers }>(meta: T): T {
  const { numbers, ...rest } = meta;
  return attachExactNumbers(structuredClone(rest), numbers) as T;
}
