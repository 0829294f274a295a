/**
 * Values a notebook marks as its results: `tl.result('accuracy', acc)` shows `accuracy = 0.8125`
 * under the cell and records it in the output as `application/vnd.transferlab.result+json`, where
 * `transferlab sweep` reads it back to put it in its summary (one column per name). Where the
 * output goes is pluggable, as for training progress: the notebook kernel installs a display, a
 * plain Node script gets the text line on stdout.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Mime, type MimeBundle, type ResultPayload, type ResultValue } from '../protocol/mime';
import { DISPLAY, type Displayable } from './display';
import { fail, formatValue } from './validate';

/** Named results, shown as `name = value` lines. */
export class SweepResult implements Displayable {
  constructor(readonly results: ResultPayload['results']) {}

  /** The results as the MIME bundle: the JSON payload and its text. */
  [DISPLAY](): MimeBundle {
    const payload: ResultPayload = { results: this.results };
    return { [Mime.result]: payload, [Mime.plain]: this.results.map((r) => `${r.name} = ${JSON.stringify(r.value)}`).join('\n') };
  }
}

let show: ((result: SweepResult) => void) | undefined;

/**
 * Where results go: the notebook kernel passes a function that displays them as a cell output;
 * `undefined` restores the default (a `name = value` line on stdout).
 * @example
 * ```ts
 * tl.setResultDisplay((r) => console.log(r.results));
 * ```
 */
export function setResultDisplay(f: ((result: SweepResult) => void) | undefined): void {
  if (f !== undefined && typeof f !== 'function') fail('tl.setResultDisplay', 'f', `must be a function (result) => void, or undefined; got ${formatValue(f)}`);
  show = f;
}

function emit(result: SweepResult): void {
  if (show !== undefined) show(result);
  else process.stdout.write(`${String(result[DISPLAY]()[Mime.plain])}\n`);
}

/** A value as JSON (NaN and infinities as null, typed arrays as lists), or an error naming where it is not. */
function toResultValue(fn: string, arg: string, v: unknown, seen: Set<object>): ResultValue {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (v instanceof tf.Tensor) return fail(fn, arg, `is ${formatValue(v)}; read its value first, e.g. (await t.data())[0] or await t.array()`);
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<number>, (x) => (Number.isFinite(x) ? Number(x) : null));
  if (typeof v !== 'object') return fail(fn, arg, `is ${formatValue(v)}; a result is JSON: a number, string, boolean, null, or a list or plain object of them`);
  if (seen.has(v)) return fail(fn, arg, 'refers to itself (a cycle); a result is JSON');
  seen.add(v);
  try {
    if (Array.isArray(v)) return v.map((x, i) => toResultValue(fn, `${arg}[${i}]`, x, seen));
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto !== Object.prototype && proto !== null) return fail(fn, arg, `is ${formatValue(v)}; a result is JSON: a number, string, boolean, null, or a list or plain object of them`);
    const out: { [key: string]: ResultValue } = {};
    for (const [k, x] of Object.entries(v)) Object.defineProperty(out, k, { value: toResultValue(fn, `${arg}.${k}`, x, seen), enumerable: true, writable: true, configurable: true });
    return out;
  } finally {
    seen.delete(v);
  }
}

function checkName(fn: string, arg: string, name: unknown): string {
  if (typeof name !== 'string' || name.trim() === '') fail(fn, arg, `must be a non-empty string; got ${formatValue(name)}`);
  if (/[\r\n]/.test(name)) fail(fn, arg, `must be one line; got ${JSON.stringify(name)}`);
  return name.trim();
}

/**
 * Marks a value as a result of the notebook: shows `name = value` under the cell, and
 * `transferlab sweep` puts it in its summary, one column per name (a later result of the same
 * name replaces an earlier one). The value is JSON: a number (NaN and infinities become null), a
 * string, a boolean, null, or a list or plain object of them; a typed array becomes a list.
 * Read a tensor's value first.
 * @example
 * ```ts
 * const evaluation = await tl.evaluate(model, test);
 * tl.result('accuracy', evaluation.accuracy); // accuracy = 0.8125
 * ```
 */
export function result(name: string, value: ResultValue | ArrayLike<number>): void {
  const fn = 'tl.result';
  const n = checkName(fn, 'name', name);
  emit(new SweepResult([{ name: n, value: toResultValue(fn, 'value', value, new Set()) }]));
}

/**
 * Marks several values as results at once, in the object's order: one output with a line each.
 * @example
 * ```ts
 * tl.results({ accuracy: 0.8125, barrier: 0.04, epochs: 3 });
 * // accuracy = 0.8125
 * // barrier = 0.04
 * // epochs = 3
 * ```
 */
export function results(values: { readonly [name: string]: ResultValue | ArrayLike<number> }): void {
  const fn = 'tl.results';
  if (typeof values !== 'object' || values === null || Array.isArray(values)) fail(fn, 'values', `must be an object of name: value; got ${formatValue(values)}`);
  const entries = Object.entries(values);
  if (entries.length === 0) fail(fn, 'values', 'has no entries; give at least one name: value');
  emit(new SweepResult(entries.map(([k, v]) => ({ name: checkName(fn, `name ${JSON.stringify(k)}`, k), value: toResultValue(fn, `values.${k}`, v, new Set()) }))));
}
