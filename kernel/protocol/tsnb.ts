/**
 * The .tsnb notebook format: types, a strict parser and a deterministic writer. Pure functions,
 * no I/O; imports nothing else from the project. Used by the VS Code serializer, the command line
 * (`transferlab import` / `export`) and the .ipynb conversion.
 *
 * A .tsnb file is JSON close to nbformat 4:
 * ```json
 * {
 *   "cells": [
 *     {
 *       "cell_type": "code",
 *       "execution_count": 1,
 *       "metadata": {},
 *       "outputs": [{ "name": "stdout", "output_type": "stream", "text": ["hello\n"] }],
 *       "source": ["console.log('hello');"]
 *     }
 *   ],
 *   "metadata": {
 *     "backend": "wasm",
 *     "format_version": 1,
 *     "kernel": { "display_name": "TransferLab (TypeScript)", "language": "typescript", "name": "transferlab" }
 *   }
 * }
 * ```
 * - `source`, stream `text` and textual MIME data are arrays of lines (each but the last ends in
 *   `\n`) so that diffs stay line by line; in memory they are plain strings.
 * - JSON MIME types (`application/json`, `*+json`) hold the JSON value itself; binary types
 *   (images but SVG, audio, video, fonts, `application/octet-stream`, ...: {@link isBinaryMime})
 *   hold base64 on one line. Every other type is text (`application/yaml` included) and is kept
 *   character for character; binary data that is not base64 is kept as given too.
 * - Values come back exactly: numbers keep their digits ({@link JsonNumber}: beyond 2^53, `1e400`,
 *   `1.0`), `__proto__` is an ordinary key, lone surrogates are written as `\udXXX` escapes. A
 *   file the writer could not give back is refused on reading, with line and column: a key given
 *   twice in one object, nesting deeper than {@link MAX_JSON_DEPTH}.
 * - Written with keys sorted, 2-space indent and a trailing newline: re-writing a parsed file is
 *   byte-identical, and a change touches only the lines it must.
 * - Fields this version does not know are kept (`preserved`) and written back unchanged.
 * - Reading is strict: a syntax error names line and column, a schema error names the path
 *   (`cells[3].source`), a newer `format_version` is refused. Nothing is ever read as an empty
 *   notebook by mistake.
 */

/** The format version this code writes, and the newest it reads. */
export const TSNB_FORMAT_VERSION = 1;

/** The kernel a new notebook asks for (the kernelspec the TransferLab kernel installs). */
export const TRANSFERLAB_KERNEL = {
  name: 'transferlab',
  display_name: 'TransferLab (TypeScript)',
  language: 'typescript',
} as const;

// ---- JSON values ------------------------------------------------------------------------------

/** A JSON scalar; numbers a double cannot hold exactly are {@link JsonNumber}s. */
export type JsonPrimitive = null | boolean | number | string | JsonNumber;
export type JsonValue = JsonPrimitive | JsonValue[] | JsonObject;
export type JsonObject = { [key: string]: JsonValue };

// ---- the in-memory notebook ------------------------------------------------------------------

export const CellType = { code: 'code', markdown: 'markdown', raw: 'raw' } as const;
export type CellType = (typeof CellType)[keyof typeof CellType];
export function isCellType(value: unknown): value is CellType {
  return value === CellType.code || value === CellType.markdown || value === CellType.raw;
}

export const OutputType = {
  stream: 'stream',
  displayData: 'display_data',
  executeResult: 'execute_result',
  error: 'error',
} as const;
export type OutputType = (typeof OutputType)[keyof typeof OutputType];
export function isOutputType(value: unknown): value is OutputType {
  return value === 'stream' || value === 'display_data' || value === 'execute_result' || value === 'error';
}

/**
 * MIME type to data. In memory: the JSON value for JSON types, a string for every other type
 * (text as is, binary as base64).
 */
export type TsnbMimeBundle = { [mime: string]: JsonValue };

/** Top-level notebook metadata. Free-form apart from the fields below, which are checked. */
export type TsnbMetadata = JsonObject & {
  /** Format version of the file; see {@link TSNB_FORMAT_VERSION}. */
  format_version: number;
  /** The kernel the notebook runs on. */
  kernel?: { name: string; display_name?: string; language?: string };
  /** Compute backend asked of the kernel (`wasm`, `webgpu`, `cpu`, ...). */
  backend?: string;
  /** TransferLab options stored with the notebook. */
  transferlab?: JsonObject & {
    /** `false`: write this notebook without outputs, whatever the editor's setting says. */
    saveOutputs?: boolean;
  };
};

interface CellBase {
  /** nbformat 4.5 cell id; kept when present, never invented. */
  id?: string;
  /** Cell source; written as an array of lines. */
  source: string;
  metadata: JsonObject;
  /** Fields of the cell this version does not know, written back unchanged. */
  preserved?: JsonObject;
}

export interface TsnbCodeCell extends CellBase {
  cell_type: 'code';
  execution_count: number | null;
  outputs: TsnbOutput[];
}

export interface TsnbMarkdownCell extends CellBase {
  cell_type: 'markdown';
  /** Files referenced from the markdown as `attachment:<name>`. */
  attachments?: { [name: string]: TsnbMimeBundle };
}

export interface TsnbRawCell extends CellBase {
  cell_type: 'raw';
  attachments?: { [name: string]: TsnbMimeBundle };
}

export type TsnbCell = TsnbCodeCell | TsnbMarkdownCell | TsnbRawCell;

interface OutputBase {
  /** Fields of the output this version does not know, written back unchanged. */
  preserved?: JsonObject;
}

/** Text written to stdout or stderr. */
export interface TsnbStreamOutput extends OutputBase {
  output_type: 'stream';
  name: string;
  text: string;
}

/** A value displayed with `display(...)` (possibly updated in place while it ran). */
export interface TsnbDisplayDataOutput extends OutputBase {
  output_type: 'display_data';
  data: TsnbMimeBundle;
  metadata: JsonObject;
}

/** The value of a cell's last expression. */
export interface TsnbExecuteResultOutput extends OutputBase {
  output_type: 'execute_result';
  data: TsnbMimeBundle;
  metadata: JsonObject;
  execution_count: number | null;
}

/** An exception raised by the cell. */
export interface TsnbErrorOutput extends OutputBase {
  output_type: 'error';
  ename: string;
  evalue: string;
  traceback: string[];
}

export type TsnbOutput = TsnbStreamOutput | TsnbDisplayDataOutput | TsnbExecuteResultOutput | TsnbErrorOutput;

export interface TsnbNotebook {
  metadata: TsnbMetadata;
  cells: TsnbCell[];
  /** Top-level fields this version does not know, written back unchanged. */
  preserved?: JsonObject;
}

// ---- errors -------------------------------------------------------------------------------------

/**
 * Base class of the errors raised when a notebook file (.tsnb or .ipynb) cannot be read. The
 * serializer lets it propagate so VS Code shows the message instead of opening the file (and
 * never saves over it); the command line prints it and exits with status 1.
 */
export abstract class NotebookFileError extends Error {
  constructor(
    /** The file as the caller named it, or undefined when only text was given. */
    readonly file: string | undefined,
    /** The problem, without the file name. */
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${file ?? 'notebook'}: ${detail}`, options);
    this.name = new.target.name;
  }
}

/**
 * The file is not valid JSON (truncated, hand-edited, a merge conflict left in it). Carries the
 * 1-based line and column of the first error.
 */
export class NotebookSyntaxError extends NotebookFileError {
  constructor(
    file: string | undefined,
    /** 1-based line of the first error. */
    readonly line: number,
    /** 1-based column (UTF-16 code units) of the first error. */
    readonly column: number,
    /** 0-based offset of the first error in the text. */
    readonly offset: number,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(file, `not valid JSON at line ${line}, column ${column}: ${problem}`, options);
  }
}

/**
 * The file is valid JSON but not a notebook of the expected shape: a missing field, a value of
 * the wrong type. `path` names the value, e.g. `cells[3].source`.
 */
export class NotebookSchemaError extends NotebookFileError {
  constructor(
    file: string | undefined,
    /** Where the problem is, e.g. `cells[3].outputs[0].output_type` (empty for the root). */
    readonly path: string,
    readonly problem: string,
  ) {
    super(file, `${path === '' ? 'the top level' : path} ${problem}`);
  }
}

/**
 * The file was written in a newer format version than this code reads (a newer TransferLab, or an
 * nbformat this converter does not know). Opening it would lose what the new version added, so it
 * is refused; updating TransferLab is the fix.
 */
export class NotebookVersionError extends NotebookFileError {
  constructor(
    file: string | undefined,
    /** The version found in the file. */
    readonly found: number,
    /** The newest version this code reads. */
    readonly supported: number,
    detail: string,
  ) {
    super(file, detail);
  }
}

// ---- JSON text with positions ------------------------------------------------------------------

/**
 * The deepest nesting of arrays and objects a notebook file may have. Deeper files are refused
 * with the line and column where the limit is crossed, so that every file that opens can be
 * written back (writing, like reading, walks the value recursively).
 */
export const MAX_JSON_DEPTH = 1000;

/**
 * A JSON number kept as its source text, because the nearest double would not give the same text
 * back: integers beyond 2^53 (`12345678901234567890`), numbers beyond the double range (`1e400`),
 * and spellings the shortest form changes (`1.0`, `1E5`, `-0`). The writers put the text back as
 * it was; `valueOf()` gives the nearest double for arithmetic.
 * @example
 * const n = parseJsonText('12345678901234567891') as JsonNumber;
 * n.source; // '12345678901234567891'
 * stableStringify(n); // '12345678901234567891'
 */
export class JsonNumber {
  constructor(
    /** The number as the file spells it (valid JSON number syntax). */
    readonly source: string,
  ) {
    Object.freeze(this);
  }
  /** The nearest double (may be `Infinity`). */
  valueOf(): number {
    return Number(this.source);
  }
  /** For `JSON.stringify` outside this module: the nearest double (lossy; the writers here keep the text). */
  toJSON(): number | null {
    const n = Number(this.source);
    return Number.isFinite(n) ? n : null;
  }
  toString(): string {
    return this.source;
  }
}

/** Whether a value is a {@link JsonNumber}. */
export function isJsonNumber(value: unknown): value is JsonNumber {
  return value instanceof JsonNumber;
}

/**
 * Sets `obj[key] = value` as an own, enumerable property, also when the key is `__proto__` (which a
 * plain assignment would take as the prototype instead of a field).
 */
export function setJsonKey<T>(obj: { [key: string]: T }, key: string, value: T): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

/** Whether `obj` has `key` as its own property (`in` would also see `Object.prototype`). */
export function hasJsonKey(obj: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(obj, key);
}

/**
 * Parses JSON text exactly, throwing {@link NotebookSyntaxError} with the line and column of the
 * first error. A leading byte-order mark is ignored. Unlike `JSON.parse`: numbers a double would
 * not give back are kept as {@link JsonNumber}, `__proto__` is an ordinary key, a key given twice
 * and nesting deeper than {@link MAX_JSON_DEPTH} are refused (either would lose data on writing).
 */
export function parseJsonText(text: string, file?: string): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const shift = body.length === text.length ? 0 : 1;
  const r = scanJson(body, true);
  if (r.ok) return r.value;
  const offset = r.offset + shift;
  const { line, column } = lineAndColumn(text, offset);
  throw new NotebookSyntaxError(file, line, column, offset, r.problem);
}

/** 1-based line and column of a 0-based offset. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}

/**
 * Finds the first syntax error of a JSON text (JSON.parse does not report positions portably),
 * including nesting deeper than {@link MAX_JSON_DEPTH}. Returns undefined when the text is valid.
 */
export function locateJsonError(text: string): { offset: number; problem: string } | undefined {
  const r = scanJson(text, false);
  return r.ok ? undefined : { offset: r.offset, problem: r.problem };
}

type ScanResult = { ok: true; value: unknown } | { ok: false; offset: number; problem: string };

const NUMBER_TOKEN = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

/** One pass over JSON text: checks it and, when `build`, builds the value (see {@link parseJsonText}). */
function scanJson(text: string, build: boolean): ScanResult {
  let i = 0;
  const n = text.length;
  class Stop {
    constructor(
      readonly offset: number,
      readonly problem: string,
    ) {}
  }
  const describe = (at: number): string =>
    at >= n ? 'the end of the file' : JSON.stringify(text.slice(at, at + 1)).replace(/^"|"$/g, "'");
  const fail = (problem: string, at = i): never => {
    throw new Stop(at, problem);
  };
  const ws = (): void => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13) i++;
      else break;
    }
  };
  const str = (): string => {
    const start = i;
    let escaped = false;
    i++; // opening quote
    for (;;) {
      if (i >= n) fail('unterminated string (the file ends inside it)', start);
      const c = text.charCodeAt(i);
      if (c === 34) {
        i++;
        if (!build) return '';
        return escaped ? (JSON.parse(text.slice(start, i)) as string) : text.slice(start + 1, i - 1);
      }
      if (c === 92) {
        escaped = true;
        const e = text[i + 1];
        if (e === undefined) fail('unterminated string (the file ends inside it)', start);
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail('bad \\u escape: expected 4 hex digits');
          i += 6;
        } else if ('"\\/bfnrt'.includes(e as string)) {
          i += 2;
        } else {
          fail(`bad escape '\\${e}' in a string`);
        }
        continue;
      }
      if (c < 32) fail(c === 10 ? 'line break inside a string (missing closing quote?)' : 'control character inside a string');
      i++;
    }
  };
  const num = (): number | JsonNumber => {
    NUMBER_TOKEN.lastIndex = i;
    const m = NUMBER_TOKEN.exec(text);
    if (m === null) fail(`expected a value, found ${describe(i)}`);
    const source = (m as RegExpExecArray)[0];
    i += source.length;
    const v = Number(source);
    return JSON.stringify(v) === source ? v : new JsonNumber(source);
  };
  const word = <T>(w: string, v: T): T => {
    if (text.startsWith(w, i)) i += w.length;
    else fail(`expected a value, found ${describe(i)}`);
    return v;
  };
  const value = (depth: number): unknown => {
    ws();
    if (i >= n) fail('unexpected end of the file (truncated?): expected a value');
    const c = text[i];
    if ((c === '{' || c === '[') && depth >= MAX_JSON_DEPTH) fail(`nesting deeper than ${MAX_JSON_DEPTH} levels`);
    if (c === '{') {
      i++;
      const obj: { [key: string]: unknown } = {};
      ws();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (i >= n) fail("unexpected end of the file (truncated?): expected a property name or '}'");
        if (text[i] !== '"') fail(`expected a property name in double quotes, found ${describe(i)}`);
        const keyAt = i;
        const key = str();
        ws();
        if (i >= n) fail("unexpected end of the file (truncated?): expected ':'");
        if (text[i] !== ':') fail(`expected ':' after the property name, found ${describe(i)}`);
        i++;
        const v = value(depth + 1);
        if (build) {
          if (hasJsonKey(obj, key)) fail(`the key ${JSON.stringify(key)} appears twice in one object`, keyAt);
          setJsonKey(obj, key, v);
        }
        ws();
        if (i >= n) fail("unexpected end of the file (truncated?): expected ',' or '}'");
        if (text[i] === ',') {
          const comma = i;
          i++;
          ws();
          if (text[i] === '}') fail("trailing comma before '}'", comma);
          continue;
        }
        if (text[i] === '}') {
          i++;
          return obj;
        }
        fail(`expected ',' or '}' after a property value, found ${describe(i)}`);
      }
    }
    if (c === '[') {
      i++;
      const arr: unknown[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      for (;;) {
        const v = value(depth + 1);
        if (build) arr.push(v);
        ws();
        if (i >= n) fail("unexpected end of the file (truncated?): expected ',' or ']'");
        if (text[i] === ',') {
          const comma = i;
          i++;
          ws();
          if (text[i] === ']') fail("trailing comma before ']'", comma);
          continue;
        }
        if (text[i] === ']') {
          i++;
          return arr;
        }
        fail(`expected ',' or ']' after an array element, found ${describe(i)}`);
      }
    }
    if (c === '"') return str();
    if (c === 't') return word('true', true);
    if (c === 'f') return word('false', false);
    if (c === 'n') return word('null', null);
    return num();
  };
  const conflict = (at: number): boolean =>
    text.startsWith('<<<<<<<', at) || text.startsWith('=======', at) || text.startsWith('>>>>>>>', at);
  try {
    ws();
    if (i >= n) return { ok: false, offset: i, problem: 'the file is empty' };
    const v = value(0);
    ws();
    if (i < n) {
      if (conflict(i)) return { ok: false, offset: i, problem: 'a merge-conflict marker' };
      return { ok: false, offset: i, problem: `unexpected ${describe(i)} after the end of the JSON value` };
    }
    return { ok: true, value: v };
  } catch (e) {
    if (e instanceof Stop) {
      if (conflict(e.offset)) return { ok: false, offset: e.offset, problem: 'a merge-conflict marker' };
      return { ok: false, offset: e.offset, problem: e.problem };
    }
    throw e;
  }
}

// ---- lines and MIME helpers ---------------------------------------------------------------------

/** Splits text into nbformat lines: each but the last keeps its `\n`; '' gives []. */
export function splitLines(text: string): string[] {
  if (text === '') return [];
  const out: string[] = [];
  let start = 0;
  for (;;) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) {
      if (start < text.length) out.push(text.slice(start));
      return out;
    }
    out.push(text.slice(start, nl + 1));
    start = nl + 1;
  }
}

/** JSON MIME types hold a JSON value, not text. */
export function isJsonMime(mime: string): boolean {
  const base = mimeBase(mime);
  return base === 'application/json' || base.endsWith('+json');
}

/**
 * Binary MIME types, stored as base64 (images but SVG, audio, video, fonts, archives, PDF,
 * `application/octet-stream`). Only these may be normalised (whitespace taken out of their base64);
 * every other type is text and is kept character for character.
 */
export function isBinaryMime(mime: string): boolean {
  const base = mimeBase(mime);
  if (base.endsWith('+json') || base.endsWith('+xml') || base === 'application/json') return false;
  const slash = base.indexOf('/');
  const top = base.slice(0, slash);
  if (top === 'image' || top === 'audio' || top === 'video' || top === 'font') return true;
  return BINARY_APPLICATION_TYPES.has(base);
}

const BINARY_APPLICATION_TYPES = new Set([
  'application/octet-stream',
  'application/pdf',
  'application/zip',
  'application/gzip',
  'application/x-tar',
  'application/wasm',
  'application/vnd.apache.arrow.file',
  'application/vnd.apache.arrow.stream',
  'application/vnd.apache.parquet',
  'application/x-npy',
  'application/msword',
]);

/** Textual MIME types (neither JSON nor binary): kept exactly, written as lines. */
export function isTextMime(mime: string): boolean {
  return !isJsonMime(mime) && !isBinaryMime(mime);
}

function mimeBase(mime: string): string {
  return mime.split(';')[0]!.trim().toLowerCase();
}

const CANONICAL_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$/;

/**
 * Whether a string is base64 in the one spelling that decoding and encoding again gives back
 * (padded, no whitespace, unused bits zero), so that it can travel as bytes and come back the same.
 */
export function isCanonicalBase64(s: string): boolean {
  return CANONICAL_BASE64.test(s);
}

/**
 * The in-memory form of a binary MIME type's data: the base64 without whitespace when that is
 * canonical base64; otherwise the data exactly as given (it is not base64, so nothing is removed).
 */
export function normalizeBinaryData(data: string): string {
  if (isCanonicalBase64(data)) return data;
  const stripped = data.replace(/\s+/g, '');
  return stripped !== '' && isCanonicalBase64(stripped) ? stripped : data;
}

// ---- reading -----------------------------------------------------------------------------------

export interface ParseOptions {
  /** The file name, for messages. */
  readonly file?: string;
}

/**
 * Parses the text of a .tsnb file.
 * @throws NotebookSyntaxError when the text is not JSON (with line and column).
 * @throws NotebookVersionError when `metadata.format_version` is newer than {@link TSNB_FORMAT_VERSION}.
 * @throws NotebookSchemaError when a field is missing or of the wrong type (with its path).
 * @example
 * const nb = parseTsnb(fs.readFileSync('a.tsnb', 'utf8'), { file: 'a.tsnb' });
 * nb.cells[0].source; // 'console.log(1);'
 */
export function parseTsnb(text: string, options: ParseOptions = {}): TsnbNotebook {
  const file = options.file;
  return tsnbFromJson(parseJsonText(text, file), file);
}

/**
 * Decodes the bytes of a notebook file as strict UTF-8.
 * @throws NotebookSyntaxError naming the line and column of the first byte that is not UTF-8.
 */
export function decodeNotebookBytes(bytes: Uint8Array, file?: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (cause) {
    const bad = firstInvalidUtf8(bytes);
    const before = new TextDecoder('utf-8').decode(bytes.subarray(0, bad));
    const { line, column } = lineAndColumn(before, before.length);
    const byte = (bytes[bad] ?? 0).toString(16).padStart(2, '0');
    throw new NotebookSyntaxError(file, line, column, before.length, `byte 0x${byte} at offset ${bad} is not UTF-8 text (a binary file?)`, { cause });
  }
}

function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    const need = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (need < 0) return i;
    for (let k = 1; k <= need; k++) {
      const d = b[i + k];
      if (d === undefined || (d & 0xc0) !== 0x80) return i;
    }
    const d1 = b[i + 1] ?? 0;
    if ((c === 0xe0 && d1 < 0xa0) || (c === 0xed && d1 > 0x9f) || (c === 0xf0 && d1 < 0x90) || (c === 0xf4 && d1 > 0x8f)) return i;
    i += need + 1;
  }
  return b.length;
}

/** {@link parseTsnb} of the bytes of a file (strict UTF-8). */
export function parseTsnbBytes(bytes: Uint8Array, options: ParseOptions = {}): TsnbNotebook {
  return parseTsnb(decodeNotebookBytes(bytes, options.file), options);
}

/** Validates an already parsed JSON value as a .tsnb notebook (see {@link parseTsnb}). */
export function tsnbFromJson(root: unknown, file?: string): TsnbNotebook {
  const r = new Reader(file);
  const top = r.object(root, '');
  if (hasJsonKey(top, 'nbformat') && !(hasJsonKey(top, 'metadata') && isPlainObject(top['metadata']) && hasJsonKey(top['metadata'], 'format_version'))) {
    throw new NotebookSchemaError(
      file,
      '',
      'looks like a Jupyter .ipynb notebook (it has `nbformat`), not a .tsnb; convert it with `transferlab import <file>.ipynb`',
    );
  }
  const metaRaw = r.object(r.required(top, 'metadata', ''), 'metadata');
  const version = r.required(metaRaw, 'format_version', 'metadata');
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    throw new NotebookSchemaError(file, 'metadata.format_version', `must be a positive integer, found ${describeValue(version)}`);
  }
  if (version > TSNB_FORMAT_VERSION) {
    throw new NotebookVersionError(
      file,
      version,
      TSNB_FORMAT_VERSION,
      `written in .tsnb format version ${version} by a newer TransferLab; this version reads format versions up to ${TSNB_FORMAT_VERSION}. Update TransferLab to open it.`,
    );
  }
  const metadata = r.metadata(metaRaw);
  const cellsRaw = r.array(r.required(top, 'cells', ''), 'cells');
  const cells = cellsRaw.map((c, i) => r.cell(c, `cells[${i}]`));
  const preserved = pickUnknown(top, ['cells', 'metadata']);
  return preserved === undefined ? { metadata, cells } : { metadata, cells, preserved };
}

/**
 * Validates one nbformat-4-shaped cell (the shape .tsnb and .ipynb share); `path` names it in
 * errors, e.g. `cells[3]`.
 * @throws NotebookSchemaError
 */
export function tsnbCellFromJson(value: unknown, path: string, file?: string): TsnbCell {
  return new Reader(file).cell(value, path);
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof JsonNumber);
}

/** A short description of a JSON value for messages: `number 42`, `an array`, `a string ("x")`. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v instanceof JsonNumber) return `number ${v.source.length > 40 ? `${v.source.slice(0, 40)}…` : v.source}`;
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `a string (${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)})`;
  return `${typeof v} ${String(v)}`;
}

/** `a.b`, `a[3]`, `a["image/png"]`. */
export function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)) return parent === '' ? key : `${parent}.${key}`;
  return `${parent}[${JSON.stringify(key)}]`;
}

function pickUnknown(obj: Record<string, unknown>, known: readonly string[]): JsonObject | undefined {
  let out: JsonObject | undefined;
  for (const k of Object.keys(obj)) {
    if (known.includes(k)) continue;
    out ??= {};
    setJsonKey(out, k, obj[k] as JsonValue);
  }
  return out;
}

/** Schema checks that name the path of the offending value. */
class Reader {
  constructor(readonly file: string | undefined) {}

  fail(path: string, problem: string): never {
    throw new NotebookSchemaError(this.file, path, problem);
  }
  object(v: unknown, path: string): Record<string, unknown> {
    if (!isPlainObject(v)) this.fail(path, `must be an object, found ${describeValue(v)}`);
    return v;
  }
  array(v: unknown, path: string): unknown[] {
    if (!Array.isArray(v)) this.fail(path, `must be an array, found ${describeValue(v)}`);
    return v;
  }
  string(v: unknown, path: string): string {
    if (typeof v !== 'string') this.fail(path, `must be a string, found ${describeValue(v)}`);
    return v;
  }
  required(obj: Record<string, unknown>, key: string, path: string): unknown {
    if (!hasJsonKey(obj, key)) this.fail(childPath(path, key), 'is missing');
    return obj[key];
  }
  /** A string, or an array of strings joined (nbformat's multiline string). */
  multiline(v: unknown, path: string): string {
    if (typeof v === 'string') return v;
    if (Array.isArray(v)) {
      v.forEach((line, i) => {
        if (typeof line !== 'string') this.fail(childPath(path, i), `must be a string, found ${describeValue(line)}`);
      });
      return v.join('');
    }
    return this.fail(path, `must be a string or an array of strings, found ${describeValue(v)}`);
  }
  count(v: unknown, path: string): number | null {
    if (v === null || v === undefined) return null;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) this.fail(path, `must be a non-negative integer or null, found ${describeValue(v)}`);
    return v;
  }
  metadata(raw: Record<string, unknown>): TsnbMetadata {
    if (hasJsonKey(raw, 'kernel')) {
      const k = this.object(raw['kernel'], 'metadata.kernel');
      this.string(this.required(k, 'name', 'metadata.kernel'), 'metadata.kernel.name');
      if (hasJsonKey(k, 'display_name')) this.string(k['display_name'], 'metadata.kernel.display_name');
      if (hasJsonKey(k, 'language')) this.string(k['language'], 'metadata.kernel.language');
    }
    if (hasJsonKey(raw, 'backend')) this.string(raw['backend'], 'metadata.backend');
    if (hasJsonKey(raw, 'transferlab')) {
      const t = this.object(raw['transferlab'], 'metadata.transferlab');
      if (hasJsonKey(t, 'saveOutputs') && typeof t['saveOutputs'] !== 'boolean') {
        this.fail('metadata.transferlab.saveOutputs', `must be true or false, found ${describeValue(t['saveOutputs'])}`);
      }
    }
    return raw as TsnbMetadata;
  }
  bundle(v: unknown, path: string): TsnbMimeBundle {
    const obj = this.object(v, path);
    const out: TsnbMimeBundle = {};
    for (const [mime, data] of Object.entries(obj)) {
      const p = childPath(path, mime);
      if (isJsonMime(mime)) {
        setJsonKey(out, mime, data as JsonValue);
      } else {
        const s = this.multiline(data, p);
        setJsonKey(out, mime, isBinaryMime(mime) ? normalizeBinaryData(s) : s);
      }
    }
    return out;
  }
  attachments(v: unknown, path: string): { [name: string]: TsnbMimeBundle } {
    const obj = this.object(v, path);
    const out: { [name: string]: TsnbMimeBundle } = {};
    for (const [name, b] of Object.entries(obj)) setJsonKey(out, name, this.bundle(b, childPath(path, name)));
    return out;
  }
  cell(v: unknown, path: string): TsnbCell {
    const c = this.object(v, path);
    const type = this.required(c, 'cell_type', path);
    if (!isCellType(type)) {
      this.fail(childPath(path, 'cell_type'), `must be "code", "markdown" or "raw", found ${describeValue(type)}`);
    }
    const source = this.multiline(this.required(c, 'source', path), childPath(path, 'source'));
    const metadata = hasJsonKey(c, 'metadata') ? (this.object(c['metadata'], childPath(path, 'metadata')) as JsonObject) : {};
    const base: CellBase = { source, metadata };
    if (hasJsonKey(c, 'id')) base.id = this.string(c['id'], childPath(path, 'id'));
    if (type === 'code') {
      const outputs = hasJsonKey(c, 'outputs') ? this.array(c['outputs'], childPath(path, 'outputs')) : [];
      const cell: TsnbCodeCell = {
        cell_type: 'code',
        ...base,
        execution_count: this.count(c['execution_count'], childPath(path, 'execution_count')),
        outputs: outputs.map((o, i) => this.output(o, `${path}.outputs[${i}]`)),
      };
      const preserved = pickUnknown(c, ['cell_type', 'source', 'metadata', 'id', 'outputs', 'execution_count']);
      if (preserved !== undefined) cell.preserved = preserved;
      return cell;
    }
    const cell: TsnbMarkdownCell | TsnbRawCell = { cell_type: type, ...base };
    if (hasJsonKey(c, 'attachments')) cell.attachments = this.attachments(c['attachments'], childPath(path, 'attachments'));
    const preserved = pickUnknown(c, ['cell_type', 'source', 'metadata', 'id', 'attachments']);
    if (preserved !== undefined) cell.preserved = preserved;
    return cell;
  }
  output(v: unknown, path: string): TsnbOutput {
    const o = this.object(v, path);
    const type = this.required(o, 'output_type', path);
    const tp = childPath(path, 'output_type');
    if (!isOutputType(type)) {
      this.fail(tp, `must be "stream", "display_data", "execute_result" or "error", found ${describeValue(type)}`);
    }
    let out: TsnbOutput;
    let known: string[];
    switch (type) {
      case 'stream':
        out = {
          output_type: 'stream',
          name: this.string(this.required(o, 'name', path), childPath(path, 'name')),
          text: this.multiline(this.required(o, 'text', path), childPath(path, 'text')),
        };
        known = ['output_type', 'name', 'text'];
        break;
      case 'display_data':
        out = {
          output_type: 'display_data',
          data: this.bundle(this.required(o, 'data', path), childPath(path, 'data')),
          metadata: hasJsonKey(o, 'metadata') ? (this.object(o['metadata'], childPath(path, 'metadata')) as JsonObject) : {},
        };
        known = ['output_type', 'data', 'metadata'];
        break;
      case 'execute_result':
        out = {
          output_type: 'execute_result',
          data: this.bundle(this.required(o, 'data', path), childPath(path, 'data')),
          metadata: hasJsonKey(o, 'metadata') ? (this.object(o['metadata'], childPath(path, 'metadata')) as JsonObject) : {},
          execution_count: this.count(o['execution_count'], childPath(path, 'execution_count')),
        };
        known = ['output_type', 'data', 'metadata', 'execution_count'];
        break;
      case 'error': {
        const tb = this.array(this.required(o, 'traceback', path), childPath(path, 'traceback'));
        out = {
          output_type: 'error',
          ename: this.string(this.required(o, 'ename', path), childPath(path, 'ename')),
          evalue: this.string(this.required(o, 'evalue', path), childPath(path, 'evalue')),
          traceback: tb.map((line, i) => this.string(line, `${path}.traceback[${i}]`)),
        };
        known = ['output_type', 'ename', 'evalue', 'traceback'];
        break;
      }
      default: {
        const never: never = type;
        return never;
      }
    }
    const preserved = pickUnknown(o, known);
    if (preserved !== undefined) out.preserved = preserved;
    return out;
  }
}

// ---- writing -----------------------------------------------------------------------------------

export interface SerializeOptions {
  /** Write outputs and execution counts (default true). `false` writes code cells bare. */
  readonly outputs?: boolean;
}

/**
 * Whether a notebook's outputs are saved: the notebook's own `metadata.transferlab.saveOutputs`
 * when set, otherwise the editor setting (`transferlab.saveOutputs`, default true).
 */
export function resolveSaveOutputs(metadata: JsonObject, setting: boolean): boolean {
  const t = metadata['transferlab'];
  if (isPlainObject(t) && typeof t['saveOutputs'] === 'boolean') return t['saveOutputs'];
  return setting;
}

/**
 * Writes a notebook as .tsnb text: keys sorted, 2-space indent, trailing newline. Writing the
 * result of {@link parseTsnb} of a written file gives the same bytes.
 * @example
 * fs.writeFileSync('a.tsnb', serializeTsnb(nb));
 * serializeTsnb(nb, { outputs: false }); // for committing without outputs
 */
export function serializeTsnb(notebook: TsnbNotebook, options: SerializeOptions = {}): string {
  return `${stableStringify(tsnbToJson(notebook, options))}\n`;
}

/** The JSON object written for a notebook (before stringifying). */
export function tsnbToJson(notebook: TsnbNotebook, options: SerializeOptions = {}): JsonObject {
  const withOutputs = options.outputs ?? true;
  const out: JsonObject = { ...notebook.preserved };
  out['metadata'] = { ...notebook.metadata, format_version: TSNB_FORMAT_VERSION };
  out['cells'] = notebook.cells.map((c) => tsnbCellToJson(c, withOutputs));
  return out;
}

/** The JSON object written for a cell (nbformat 4 shape, plus its preserved fields). */
export function tsnbCellToJson(cell: TsnbCell, withOutputs = true): JsonObject {
  const out: JsonObject = { ...cell.preserved };
  out['cell_type'] = cell.cell_type;
  if (cell.id !== undefined) out['id'] = cell.id;
  out['metadata'] = cell.metadata;
  out['source'] = splitLines(cell.source);
  if (cell.cell_type === 'code') {
    out['execution_count'] = withOutputs ? cell.execution_count : null;
    out['outputs'] = withOutputs ? cell.outputs.map(outputToJson) : [];
  } else if (cell.attachments !== undefined) {
    const att: JsonObject = {};
    for (const [name, b] of Object.entries(cell.attachments)) setJsonKey(att, name, bundleToJson(b));
    out['attachments'] = att;
  }
  return out;
}

/**
 * A MIME bundle as written: text as lines, binary (canonical base64) on one line, JSON as is.
 * Binary data that is not base64 is written as lines, exactly as given.
 */
export function bundleToJson(bundle: TsnbMimeBundle): JsonObject {
  const out: JsonObject = {};
  for (const [mime, data] of Object.entries(bundle)) {
    if (isJsonMime(mime) || typeof data !== 'string') setJsonKey(out, mime, data);
    else {
      const binary = isBinaryMime(mime) ? normalizeBinaryData(data) : undefined;
      setJsonKey(out, mime, binary !== undefined && isCanonicalBase64(binary) ? binary : splitLines(data));
    }
  }
  return out;
}

function outputToJson(o: TsnbOutput): JsonObject {
  const out: JsonObject = { ...o.preserved };
  out['output_type'] = o.output_type;
  switch (o.output_type) {
    case 'stream':
      out['name'] = o.name;
      out['text'] = splitLines(o.text);
      break;
    case 'display_data':
      out['data'] = bundleToJson(o.data);
      out['metadata'] = o.metadata;
      break;
    case 'execute_result':
      out['data'] = bundleToJson(o.data);
      out['metadata'] = o.metadata;
      out['execution_count'] = o.execution_count;
      break;
    case 'error':
      out['ename'] = o.ename;
      out['evalue'] = o.evalue;
      out['traceback'] = o.traceback;
      break;
    default: {
      const never: never = o;
      return never;
    }
  }
  return out;
}

/**
 * JSON text with object keys sorted (by UTF-16 code units) at every depth and `indent` spaces per
 * level; `undefined` properties are left out as JSON.stringify does. Deterministic for a given value.
 */
export function stableStringify(value: unknown, indent = 2): string {
  const pad = ' '.repeat(indent);
  const write = (v: unknown, prefix: string, path: string): string | undefined => {
    if (v === null) return 'null';
    switch (typeof v) {
      case 'string':
        return JSON.stringify(v);
      case 'boolean':
        return v ? 'true' : 'false';
      case 'number':
        if (!Number.isFinite(v)) throw new TypeError(`stableStringify: ${path || 'value'} is ${v}, which JSON cannot hold`);
        return JSON.stringify(v);
      case 'undefined':
      case 'function':
      case 'symbol':
        return undefined;
      case 'bigint':
        throw new TypeError(`stableStringify: ${path || 'value'} is a bigint, which JSON cannot hold`);
      default:
        break;
    }
    if (v instanceof JsonNumber) return v.source;
    const inner = prefix + pad;
    if (Array.isArray(v)) {
      if (v.length === 0) return '[]';
      const items = v.map((x, i) => write(x, inner, `${path}[${i}]`) ?? 'null');
      return `[\n${items.map((s) => inner + s).join(',\n')}\n${prefix}]`;
    }
    const obj = v as Record<string, unknown>;
    if (typeof (obj as { toJSON?: unknown }).toJSON === 'function') {
      return write((obj as { toJSON: () => unknown }).toJSON(), prefix, path);
    }
    const parts: string[] = [];
    for (const k of Object.keys(obj).sort()) {
      const s = write(obj[k], inner, childPath(path, k));
      if (s !== undefined) parts.push(`${inner}${JSON.stringify(k)}: ${s}`);
    }
    if (parts.length === 0) return '{}';
    return `{\n${parts.join(',\n')}\n${prefix}}`;
  };
  return write(value, '', '') ?? 'null';
}

/**
 * Compact JSON text of a value (keys in their order, no whitespace), as `JSON.stringify` writes it
 * but exact: {@link JsonNumber}s are written as their source text. Lone surrogates are escaped
 * (`\udc00`), so the text is valid UTF-8 once encoded. {@link parseJsonText} gives the value back.
 */
export function compactJson(value: unknown): string {
  const write = (v: unknown): string | undefined => {
    if (v instanceof JsonNumber) return v.source;
    if (v === null || typeof v !== 'object') return JSON.stringify(v);
    if (Array.isArray(v)) return `[${v.map((x) => write(x) ?? 'null').join(',')}]`;
    if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return write((v as { toJSON: () => unknown }).toJSON());
    const parts: string[] = [];
    for (const [k, x] of Object.entries(v)) {
      const s = write(x);
      if (s !== undefined) parts.push(`${JSON.stringify(k)}:${s}`);
    }
    return `{${parts.join(',')}}`;
  };
  return write(value) ?? 'null';
}

// ---- building ----------------------------------------------------------------------------------

/** A new, empty notebook on the TransferLab kernel. */
export function createTsnbNotebook(metadata: Partial<TsnbMetadata> = {}): TsnbNotebook {
  return {
    metadata: { kernel: { ...TRANSFERLAB_KERNEL }, ...metadata, format_version: TSNB_FORMAT_VERSION } as TsnbMetadata,
    cells: [],
  };
}
