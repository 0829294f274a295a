/**
 * Element types of tensor files (NumPy's `descr`, safetensors' `dtype`) and their decoding into
 * what TensorFlow.js holds: float32, int32 and bool. Floats of 16 bits (IEEE half, bfloat16) widen
 * exactly to float32; float64 rounds to float32 (the one lossy step, documented); integers become
 * int32, and a value outside int32 is an error naming its index, never a silent wrap-around.
 */
import type { DataType } from '@tensorflow/tfjs-core';

/** One element type of a file. `name` is how NumPy spells it (`float16`, `uint8`, `bool`, `bfloat16`). */
export interface ElementType {
  readonly kind: 'float' | 'bfloat' | 'int' | 'uint' | 'bool';
  /** Bytes per element. */
  readonly size: number;
  readonly name: string;
}

/** The tfjs dtype an element type becomes. */
export function tfDtypeOf(t: ElementType): 'float32' | 'int32' | 'bool' {
  return t.kind === 'float' || t.kind === 'bfloat' ? 'float32' : t.kind === 'bool' ? 'bool' : 'int32';
}

const TYPES: Record<string, ElementType> = {};
for (const [kind, sizes] of [['float', [2, 4, 8]], ['int', [1, 2, 4, 8]], ['uint', [1, 2, 4, 8]]] as const) {
  for (const size of sizes) TYPES[`${kind}${size * 8}`] = { kind, size, name: `${kind}${size * 8}` };
}
TYPES['bool'] = { kind: 'bool', size: 1, name: 'bool' };
TYPES['bfloat16'] = { kind: 'bfloat', size: 2, name: 'bfloat16' };

/** Element types by NumPy name: float16/32/64, int8…int64, uint8…uint64, bool, bfloat16. */
export const ELEMENT_TYPES: Readonly<Record<string, ElementType>> = TYPES;

/** Thrown by {@link decode}; the reader adds the file's name. */
export class DecodeError extends Error {}

/** Half precision (IEEE 754 binary16) to a number; exact in float32. */
export function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return sign * f * 2 ** -24;
  if (e === 31) return f === 0 ? sign * Infinity : NaN;
  return sign * (1 + f / 1024) * 2 ** (e - 15);
}

const isLittleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Decodes `count` elements of type `t` from `bytes` (byte order `littleEndian`; ignored for
 * one-byte types) into a fresh array of the tfjs dtype. Fails with {@link DecodeError} on an
 * integer outside int32.
 */
export function decode(bytes: Uint8Array, t: ElementType, littleEndian: boolean, count: number): { values: Float32Array | Int32Array | Uint8Array; dtype: DataType } {
  if (bytes.length !== count * t.size) throw new DecodeError(`holds ${bytes.length} bytes of data where ${count} ${t.name} values need ${count * t.size}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = littleEndian;
  switch (t.kind) {
    case 'bool': {
      const out = new Uint8Array(count);
      for (let i = 0; i < count; i++) out[i] = bytes[i] === 0 ? 0 : 1;
      return { values: out, dtype: 'bool' };
    }
    case 'float': {
      const out = new Float32Array(count);
      if (t.size === 4) {
        if (le === isLittleEndianHost) new Uint8Array(out.buffer).set(bytes);
        else for (let i = 0; i < count; i++) out[i] = dv.getFloat32(4 * i, le);
      } else if (t.size === 8) {
        for (let i = 0; i < count; i++) out[i] = dv.getFloat64(8 * i, le);
      } else {
        for (let i = 0; i < count; i++) out[i] = halfToNumber(dv.getUint16(2 * i, le));
      }
      return { values: out, dtype: 'float32' };
    }
    case 'bfloat': {
      const bits = new Uint32Array(count);
      for (let i = 0; i < count; i++) bits[i] = dv.getUint16(2 * i, le) << 16;
      return { values: new Float32Array(bits.buffer), dtype: 'float32' };
    }
    case 'int':
    case 'uint': {
      const out = new Int32Array(count);
      const tooLarge = (i: number, v: bigint | number): never => {
        throw new DecodeError(`holds ${v} (a ${t.name}) at flat index ${i}, outside int32 [-2147483648, 2147483647]: TensorFlow.js has no 64-bit or unsigned 32-bit integers; convert the array to float (or a smaller integer type) before saving`);
      };
      const signed = t.kind === 'int';
      if (t.size === 1) {
        for (let i = 0; i < count; i++) out[i] = signed ? dv.getInt8(i) : bytes[i]!;
      } else if (t.size === 2) {
        for (let i = 0; i < count; i++) out[i] = signed ? dv.getInt16(2 * i, le) : dv.getUint16(2 * i, le);
      } else if (t.size === 4) {
        if (signed) {
          if (le === isLittleEndianHost) new Uint8Array(out.buffer).set(bytes);
          else for (let i = 0; i < count; i++) out[i] = dv.getInt32(4 * i, le);
        } else {
          for (let i = 0; i < count; i++) {
            const v = dv.getUint32(4 * i, le);
            if (v > 0x7fffffff) tooLarge(i, v);
            out[i] = v;
          }
        }
      } else {
        for (let i = 0; i < count; i++) {
          const lo = dv.getUint32(8 * i + (le ? 0 : 4), le);
          const hi = dv.getInt32(8 * i + (le ? 4 : 0), le);
          const fits = (hi === 0 && lo <= 0x7fffffff) || (signed && hi === -1 && lo >= 0x80000000);
          if (!fits) tooLarge(i, signed ? dv.getBigInt64(8 * i, le) : dv.getBigUint64(8 * i, le));
          out[i] = lo | 0;
        }
      }
      return { values: out, dtype: 'int32' };
    }
  }
}

/** Element count of `shape`, or a reason it is not a valid shape (negative, fractional, too large). */
export function elementCount(shape: readonly unknown[]): number | string {
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) return `has a dimension ${JSON.stringify(d)} that is not a non-negative integer`;
    n *= d;
  }
  // TensorFlow.js tensors are indexed by 32-bit integers (and typed arrays are at most 2³² bytes).
  if (n > 0x7fffffff) return `has ${shape.join(' × ')} = ${n} elements, more than a TensorFlow.js tensor can hold (2³¹ − 1)`;
  return n;
}

/** Reorders column-major (Fortran order) values of `shape` into row-major order. */
export function fortranToC<T extends Float32Array | Int32Array | Uint8Array>(src: T, shape: readonly number[]): T {
  const r = shape.length;
  if (r < 2 || src.length === 0) return src;
  const out = new (src.constructor as new (n: number) => T)(src.length);
  const stride = new Array<number>(r);
  stride[r - 1] = 1;
  for (let k = r - 2; k >= 0; k--) stride[k] = stride[k + 1]! * shape[k + 1]!;
  const idx = new Array<number>(r).fill(0);
  let off = 0;
  for (let i = 0; i < src.length; i++) {
    out[off] = src[i]!;
    for (let k = 0; k < r; k++) {
      idx[k]!++;
      off += stride[k]!;
      if (idx[k]! < shape[k]!) break;
      off -= stride[k]! * shape[k]!;
      idx[k] = 0;
    }
  }
  return out;
}
