/**
 * The grid of a sweep: `--grid 'seed=[1,2,3],blockSize=[1,4,7]'` read into named lists of values,
 * and their cartesian product, in a stable order (the first name varies slowest, as nested loops
 * written in that order would).
 *
 * A list's values are read as `--param` values are: JSON when valid (`3`, `[0, 1]`, `"a,b"`,
 * `{"lr": 0.1}`), else the text itself (`mnist`). Commas split entries and values only at the top
 * level, so values may be JSON arrays, objects or strings with commas inside.
 */
import type { JsonValue } from '../../kernel/protocol/tsnb';
import { ParameterError, UsageError } from '../errors';
import { parseParameterValue, parseParameters } from '../run/parameters';

/** One name of the grid with the values it takes, in the order given. */
export interface GridAxis {
  readonly name: string;
  readonly values: readonly JsonValue[];
}

/** A piece of a `--grid` text: where it starts (0-based) and its text. */
interface Piece {
  readonly start: number;
  readonly text: string;
}

const OPENERS: Readonly<Record<string, string>> = { '[': ']', '{': '}' };
const CLOSERS: Readonly<Record<string, string>> = { ']': '[', '}': '{' };

/**
 * Splits `text` at the commas that are outside brackets, braces and JSON strings; checks that
 * every bracket is closed by its partner. `offset` is added to columns in messages.
 */
function splitTopLevel(spec: string, text: string, offset: number): Piece[] {
  const fault = (column: number, what: string) => new UsageError(`--grid ${spec}: ${what} (column ${column})`);
  const stack: { char: string; at: number }[] = [];
  const pieces: Piece[] = [];
  let stringAt = -1;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (stringAt >= 0) {
      if (c === '\\') i++;
      else if (c === '"') stringAt = -1;
      continue;
    }
    if (c === '"') stringAt = i;
    else if (c in OPENERS) stack.push({ char: c, at: i });
    else if (c in CLOSERS) {
      const open = stack.pop();
      if (open === undefined) throw fault(offset + i + 1, `${c} closes nothing`);
      if (OPENERS[open.char] !== c) throw fault(offset + i + 1, `${c} does not close the ${open.char} at column ${offset + open.at + 1}`);
    } else if (c === ',' && stack.length === 0) {
      pieces.push({ start: offset + start, text: text.slice(start, i) });
      start = i + 1;
    }
  }
  if (stringAt >= 0) throw fault(offset + stringAt + 1, 'the string that starts here is never closed');
  const open = stack.pop();
  if (open !== undefined) throw fault(offset + open.at + 1, `the ${open.char} here is never closed`);
  pieces.push({ start: offset + start, text: text.slice(start) });
  return pieces;
}

/** Leading whitespace of a piece, so that columns point at what was typed. */
function trimmed(p: Piece): Piece {
  const lead = p.text.length - p.text.trimStart().length;
  return { start: p.start + lead, text: p.text.trim() };
}

/** Whether `name` is a variable name a parameter may have (the rule of `--param`). */
function isParameterName(name: string): boolean {
  try {
    parseParameters([`${name}=0`]);
    return true;
  } catch (e) {
    if (e instanceof ParameterError) return false;
    throw e;
  }
}

/** Canonical JSON: object keys sorted, no spaces; equal values give equal text. */
export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (!(value.constructor === Object || Object.getPrototypeOf(value) === null)) return JSON.stringify(value);
  const o = value as { [key: string]: JsonValue };
  return `{${Object.keys(o)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k]!)}`)
    .join(',')}}`;
}

/**
 * Reads the `--grid` arguments (each `name=[v1,v2,…]`, comma-separated; the option may be
 * repeated). `fixed` are the names given with `--param`, which the grid may not name too.
 * @throws UsageError naming the column of a fault: an unbalanced bracket or string, a value that
 * is not a list, an empty list or value, a name given twice, a value listed twice, a name that is
 * not a variable name, a name also given with --param.
 * @example
 * parseGrid(['seed=[1,2],blockSize=[4,7]']);
 * // [{ name: 'seed', values: [1, 2] }, { name: 'blockSize', values: [4, 7] }]
 */
export function parseGrid(specs: readonly string[], fixed: ReadonlySet<string> = new Set()): GridAxis[] {
  const axes: GridAxis[] = [];
  for (const spec of specs) {
    const fault = (column: number, what: string) => new UsageError(`--grid ${spec}: ${what} (column ${column})`);
    for (const raw of splitTopLevel(spec, spec, 0)) {
      const entry = trimmed(raw);
      if (entry.text === '') throw fault(entry.start + 1, 'an empty entry; expected name=[values], e.g. seed=[1,2,3]');
      const eq = entry.text.indexOf('=');
      if (eq < 0) throw fault(entry.start + 1, `${entry.text} is not name=[values]; e.g. seed=[1,2,3]`);
      const name = entry.text.slice(0, eq).trim();
      if (!isParameterName(name)) throw fault(entry.start + 1, `${JSON.stringify(name)} is not a valid variable name`);
      if (axes.some((a) => a.name === name)) throw fault(entry.start + 1, `${name} is given twice`);
      if (fixed.has(name)) throw fault(entry.start + 1, `${name} is also given with --param; give it in one place`);
      const list = trimmed({ start: entry.start + eq + 1, text: entry.text.slice(eq + 1) });
      if (!list.text.startsWith('[') || !list.text.endsWith(']')) {
        throw fault(list.start + 1, `the values of ${name} must be a list in brackets, e.g. ${name}=[${list.text === '' ? '1,2' : list.text}]`);
      }
      const inner = list.text.slice(1, -1);
      if (inner.trim() === '') throw fault(list.start + 1, `${name}=[] lists no values`);
      const values: JsonValue[] = [];
      const seen = new Map<string, number>();
      for (const v of splitTopLevel(spec, inner, list.start + 1).map(trimmed)) {
        if (v.text === '') throw fault(v.start + 1, `an empty value in the list of ${name}`);
        const value = parseParameterValue(v.text);
        const key = canonicalJson(value);
        const before = seen.get(key);
        if (before !== undefined) throw fault(v.start + 1, `${name} lists ${v.text} twice (also at column ${before})`);
        seen.set(key, v.start + 1);
        values.push(value);
      }
      axes.push({ name, values });
    }
  }
  return axes;
}

/**
 * Every combination of the axes' values, the first axis varying slowest; one empty point when
 * there are no axes.
 * @example
 * gridPoints([{ name: 'a', values: [1, 2] }, { name: 'b', values: ['x', 'y'] }]);
 * // [Map{a:1,b:'x'}, Map{a:1,b:'y'}, Map{a:2,b:'x'}, Map{a:2,b:'y'}]
 */
export function gridPoints(axes: readonly GridAxis[]): Map<string, JsonValue>[] {
  let points: Map<string, JsonValue>[] = [new Map()];
  for (const axis of axes) points = points.flatMap((p) => axis.values.map((v) => new Map([...p, [axis.name, v]])));
  return points;
}

/** A grid point as people read it: `seed=1 blockSize=4`. */
export function describePoint(point: ReadonlyMap<string, JsonValue>): string {
  return [...point].map(([k, v]) => `${k}=${typeof v === 'string' ? v : canonicalJson(v)}`).join(' ');
}
