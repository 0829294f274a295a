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

export function checkInteger(fn: string, arg: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) fail(fn, arg, `must be an integer, got ${formatValue(v)}`);
  if (v < min || v > max) fail(fn, arg, `must be in [${min}, ${max === Number.MAX_SAFE_INTEGER ? '∞' : max}], got ${v}`);
  return v;
}

export function checkNumber(fn: string, arg: string, v: unknown, min = -Infinity, max = Infinity): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(fn, arg, `must be a finite number, got ${formatValue(v)}`);
  if (v < min || v > max) fail(fn, arg, `must be in [${min}, ${max}], got ${v}`);
  return v;
}

export function checkSeed(fn: string, arg: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    fail(fn, arg, `must be an integer in [0, 2^32), got ${formatValue(v)}`);
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
