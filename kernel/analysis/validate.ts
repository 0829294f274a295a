/**
 * Argument checks shared by the public functions. Each throws an {@link InvalidArgumentError}
 * naming the function and the argument; messages are built only when a check fails.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError } from './errors';

/** A short description of a value for error messages: `a number (3.5)`, `a tensor of shape [2,3]`. */
export function formatValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (v instanceof tf.Tensor) return `a ${v.dtype} tensor of shape [${v.shape.join(', ')}]`;
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (typeof v === 'number') return `the number ${v}`;
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'object') return `an object (${Object.prototype.toString.call(v).slice(8, -1)})`;
  return `a ${typeof v}`;
}

export function fail(fn: string, arg: string, detail: string): never {
  throw new InvalidArgumentError(fn, arg, detail);
}

/**
 * A range as a person writes it, for `must be …` messages: `> 0` (a lower bound of
 * Number.MIN_VALUE: any positive number), `≥ 1`, `≤ 10`, `between 2 and 8` (inclusive), `> 0 and ≤ 1`;
 * an upper bound of Infinity (or, for integers, Number.MAX_SAFE_INTEGER) is no bound. Undefined for
 * no bound at all.
 */
export function describeRange(min: number, max: number, integer = false): string | undefined {
  const lower = min === -Infinity ? undefined : min === Number.MIN_VALUE ? '> 0' : `≥ ${min}`;
  const upper = max === Infinity || (integer && max === Number.MAX_SAFE_INTEGER) ? undefined : `≤ ${max}`;
  if (lower === undefined) return upper;
  if (upper === undefined) return lower;
  if (lower.startsWith('≥')) return `between ${min} and ${max}`;
  return `${lower} and ${upper}`;
}

/** An integer in [min, max] (both inclusive; max = Number.MAX_SAFE_INTEGER for no upper bound). */
export function checkInteger(fn: string, arg: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) fail(fn, arg, `must be an integer, got ${formatValue(v)}`);
  if (v < min || v > max) fail(fn, arg, `must be ${describeRange(min, max, true)}, got ${v}`);
  return v;
}

/** A finite number in [min, max] (both inclusive; min = Number.MIN_VALUE for any positive number). */
export function checkNumber(fn: string, arg: string, v: unknown, min = -Infinity, max = Infinity): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(fn, arg, `must be a finite number, got ${formatValue(v)}`);
  if (v < min || v > max) fail(fn, arg, `must be ${describeRange(min, max)}, got ${v}`);
  return v;
}

export function checkSeed(fn: string, arg: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    fail(fn, arg, `must be an integer from 0 to 2³² − 1, got ${formatValue(v)}`);
  }
  return v;
}

export function checkOneOf<T extends string>(fn: string, arg: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    fail(fn, arg, `must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${formatValue(v)}`);
  }
  return v as T;
}

export function checkObject(fn: string, arg: string, v: unknown): Record<string, unknown> {
  if (v === undefined) return {};
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(fn, arg, `must be an object, got ${formatValue(v)}`);
  return v as Record<string, unknown>;
}

export function checkTensor(fn: string, arg: string, v: unknown, rank?: number): tf.Tensor {
  if (!(v instanceof tf.Tensor)) fail(fn, arg, `must be a tensor${rank === undefined ? '' : ` of rank ${rank}`}, got ${formatValue(v)}`);
  if (v.isDisposed) fail(fn, arg, 'is a disposed tensor');
  if (rank !== undefined && v.rank !== rank) fail(fn, arg, `must have rank ${rank}, got shape [${v.shape.join(', ')}]`);
  return v;
}

/** An NHWC float image batch [N, H, W, C] with N, H, W, C ≥ 1. */
export function checkImages(fn: string, arg: string, v: unknown): tf.Tensor4D {
  if (!(v instanceof tf.Tensor)) fail(fn, arg, `must be an image tensor [N, H, W, C], got ${formatValue(v)}`);
  if (v.isDisposed) fail(fn, arg, 'is a disposed tensor');
  if (v.rank !== 4) fail(fn, arg, `must be an image tensor [N, H, W, C], got shape [${v.shape.join(', ')}]`);
  if (v.shape.some((d: number) => d < 1)) fail(fn, arg, `has an empty dimension: shape [${v.shape.join(', ')}]`);
  if (v.dtype !== 'float32') fail(fn, arg, `must be float32, got ${v.dtype}`);
  return v as tf.Tensor4D;
}

/** Rejects options the function does not know (catches typos such as `batchsize`). */
export function checkKeys(fn: string, arg: string, o: Record<string, unknown>, known: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) fail(fn, `${arg}.${k}`, `is not a known option (known: ${known.join(', ')})`);
  }
}

export function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
