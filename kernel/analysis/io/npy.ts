/**
 * NumPy's `.npy` format (numpy.lib.format, versions 1.0, 2.0 and 3.0), read and written to its
 * specification: the magic string `\x93NUMPY`, a version, the header length (2 bytes in 1.0, 4 in
 * 2.0/3.0), a Python dict literal `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`
 * padded with spaces and a newline, then the raw data. The header is parsed by a small parser of
 * Python literals (never evaluated), bounded in size, and checked against the file's length before
 * any data is read, so a lying header fails with a message instead of a huge allocation.
 */
import { open, rename, unlink, writeFile } from 'node:fs/promises';
import { tf } from '../tfjs';
import { TensorFileError } from '../errors';
import { formatValue, fail } from '../validate';
import { DecodeError, ELEMENT_TYPES, type ElementType, decode, elementCount, fortranToC } from './dtypes';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
/** The longest header read (NumPy itself refuses more than 10,000 characters unless told otherwise). */
export const MAX_NPY_HEADER = 1 << 20;

/** A parsed `.npy` header. */
export interface NpyHeader {
  readonly type: ElementType;
  readonly littleEndian: boolean;
  readonly fortranOrder: boolean;
  readonly shape: readonly number[];
  readonly count: number;
  /** Where the data starts. */
  readonly dataOffset: number;
}

// ─── Python literals ─────────────────────────────────────────────────────────────────────────

/** Parses the Python literals NumPy writes in a header: dict, tuple, list, str, int, True/False/None. */
function parsePyLiteral(s: string): unknown {
  let i = 0;
  const ws = () => {
    while (i < s.length && /\s/.test(s[i]!)) i++;
  };
  const bad = (what: string): never => {
    throw new DecodeError(`has a malformed header (${what} at character ${i}): ${JSON.stringify(s.length > 120 ? `${s.slice(0, 120)}…` : s)}`);
  };
  let depth = 0;
  const value = (): unknown => {
    ws();
    const c = s[i];
    if (c === undefined) return bad('unexpected end');
    if (c === '{' || c === '(' || c === '[') {
      if (++depth > 32) bad('nesting too deep');
      const close = c === '{' ? '}' : c === '(' ? ')' : ']';
      i++;
      const items: unknown[] = [];
      const dict = new Map<unknown, unknown>();
      for (;;) {
        ws();
        if (s[i] === close) {
          i++;
          break;
        }
        const v = value();
        if (c === '{') {
          ws();
          if (s[i] !== ':') bad("expected ':'");
          i++;
          if (typeof v !== 'string') bad('a key that is not a string');
          dict.set(v, value());
        } else items.push(v);
        ws();
        if (s[i] === ',') i++;
        else if (s[i] !== close) bad(`expected ',' or '${close}'`);
      }
      depth--;
      return c === '{' ? dict : items;
    }
    if (c === "'" || c === '"') {
      let out = '';
      i++;
      for (;;) {
        const d = s[i++];
        if (d === undefined) return bad('an unterminated string');
        if (d === c) return out;
        if (d === '\\') {
          const e = s[i++];
          if (e === undefined) return bad('an unterminated string');
          out += e === 'n' ? '\n' : e === 't' ? '\t' : e;
        } else out += d;
      }
    }
    const m = /^(-?\d+|True|False|None)/.exec(s.slice(i, i + 24));
    if (!m) return bad('an unexpected character');
    i += m[0].length;
    if (m[0] === 'True') return true;
    if (m[0] === 'False') return false;
    if (m[0] === 'None') return null;
    if (s[i] === 'L') i++; // Python 2 longs in old files
    const n = Number(m[0]);
    return Number.isSafeInteger(n) ? n : bad('an integer too large');
  };
  const v = value();
  ws();
  if (i !== s.length) bad('text after the header');
  return v;
}

// ─── Reading ─────────────────────────────────────────────────────────────────────────────────

/** The length of the preamble (magic, version, header length) and of the header. */
function preamble(bytes: Uint8Array, fileSize: number): { start: number; length: number; utf8: boolean } {
  if (bytes.length < 10 || MAGIC.some((b, k) => bytes[k] !== b)) {
    const shown = [...bytes.subarray(0, 6)].map((b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('');
    throw new DecodeError(fileSize < 10 ? `is not a .npy file: ${fileSize} bytes, shorter than the 10-byte preamble` : `is not a .npy file: it starts with "${shown}", not the magic string "\\x93NUMPY"`);
  }
  const major = bytes[6]!;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major === 1) return { start: 10, length: dv.getUint16(8, true), utf8: false };
  if (major !== 2 && major !== 3) throw new DecodeError(`has .npy format version ${major}.${bytes[7]}; versions 1.0, 2.0 and 3.0 are known`);
  if (bytes.length < 12) throw new DecodeError(`is truncated: ${fileSize} bytes, shorter than the 12-byte preamble of format ${major}.0`);
  return { start: 12, length: dv.getUint32(8, true), utf8: major === 3 };
}

/** Parses the dict of a `.npy` header (the bytes after the preamble). */
function parseHeader(text: string, dataOffset: number): NpyHeader {
  const d = parsePyLiteral(text.replace(/[\s\0]+$/, ''));
  if (!(d instanceof Map)) throw new DecodeError(`has a header that is not a dict: ${JSON.stringify(text.slice(0, 120))}`);
  for (const k of ['descr', 'fortran_order', 'shape']) if (!d.has(k)) throw new DecodeError(`has a header without '${k}': ${JSON.stringify(text.trim())}`);
  for (const k of d.keys()) if (!['descr', 'fortran_order', 'shape'].includes(k as string)) throw new DecodeError(`has an unknown key '${String(k)}' in its header`);
  const descr = d.get('descr');
  if (typeof descr !== 'string') throw new DecodeError(`holds a structured array (descr ${JSON.stringify(descr)}); only plain numeric and bool arrays can become tensors`);
  const m = /^([<>|=]?)([a-z?])(\d*)$/i.exec(descr);
  const kindOf: Record<string, ElementType['kind']> = { f: 'float', i: 'int', u: 'uint', b: 'bool', '?': 'bool' };
  const kind = m ? kindOf[m[2]!] : undefined;
  const size = m ? (m[3] === '' ? 1 : Number(m[3])) : NaN;
  const type = kind === undefined ? undefined : Object.values(ELEMENT_TYPES).find((t) => t.kind === kind && t.size === size);
  if (!m || type === undefined || (kind === 'bool' && m[2] === 'b' && m[3] !== '1')) {
    throw new DecodeError(`has dtype '${descr}', which TensorFlow.js cannot hold; supported: float16/32/64 ('<f2', '<f4', '<f8'), int8…int64, uint8…uint64 ('|i1'…'<u8') and bool ('|b1'), either byte order`);
  }
  const fortran = d.get('fortran_order');
  if (typeof fortran !== 'boolean') throw new DecodeError(`has fortran_order ${formatValue(fortran)}; expected True or False`);
  const shape = d.get('shape');
  if (!Array.isArray(shape)) throw new DecodeError(`has shape ${formatValue(shape)}; expected a tuple of integers`);
  if (shape.length > 32) throw new DecodeError(`has ${shape.length} dimensions; at most 32 are supported`);
  const count = elementCount(shape);
  if (typeof count === 'string') throw new DecodeError(`has shape (${shape.join(', ')}) that ${count}`);
  return { type, littleEndian: m[1] !== '>', fortranOrder: fortran, shape: shape as number[], count, dataOffset };
}

function headerText(bytes: Uint8Array, utf8: boolean): string {
  try {
    return new TextDecoder(utf8 ? 'utf-8' : 'latin1', { fatal: true }).decode(bytes);
  } catch {
    throw new DecodeError('has a header that is not valid UTF-8');
  }
}

/** Parses the header of a whole `.npy` file held in memory (e.g. an `.npz` entry). */
export function parseNpyHeader(bytes: Uint8Array): NpyHeader {
  const p = preamble(bytes, bytes.length);
  if (p.length > MAX_NPY_HEADER) throw new DecodeError(`has a header of ${p.length} bytes, more than the ${MAX_NPY_HEADER} read`);
  if (p.start + p.length > bytes.length) throw new DecodeError(`is truncated: its header needs ${p.start + p.length} bytes, the file has ${bytes.length}`);
  return parseHeader(headerText(bytes.subarray(p.start, p.start + p.length), p.utf8), p.start + p.length);
}

/** Checks that `dataBytes` bytes of data follow the header, as its shape and dtype say. */
function checkDataLength(h: NpyHeader, dataBytes: number): void {
  const need = h.count * h.type.size;
  const what = `(${h.shape.join(', ')}${h.shape.length === 1 ? ',' : ''}) ${h.type.name} values need ${need} bytes after the ${h.dataOffset}-byte header`;
  if (dataBytes < need) throw new DecodeError(`is truncated: ${what}, the file has ${dataBytes}`);
  if (dataBytes > need) throw new DecodeError(`has ${dataBytes - need} bytes more than its header describes: ${what}, the file has ${dataBytes}`);
}

/** A tensor from a header and its data bytes (the caller disposes it). */
export function tensorFromNpy(h: NpyHeader, data: Uint8Array): tf.Tensor {
  const { values, dtype } = decode(data, h.type, h.littleEndian, h.count);
  const ordered = h.fortranOrder ? fortranToC(values, h.shape) : values;
  return tf.tensor(ordered, [...h.shape], dtype);
}

/** A tensor from the bytes of a whole `.npy` file (the caller disposes it). */
export function decodeNpy(bytes: Uint8Array): tf.Tensor {
  const h = parseNpyHeader(bytes);
  checkDataLength(h, bytes.length - h.dataOffset);
  return tensorFromNpy(h, bytes.subarray(h.dataOffset));
}

/** Wraps a {@link DecodeError} (or a file system error) as a {@link TensorFileError} naming `label`. */
export function asFileError(fn: string, label: string, e: unknown): unknown {
  if (e instanceof DecodeError) return new TensorFileError(fn, label, e.message, { cause: e });
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOENT') return new TensorFileError(fn, label, 'no such file', { cause: e });
  if (code === 'EISDIR') return new TensorFileError(fn, label, 'is a folder, not a file', { cause: e });
  if (code === 'EACCES') return new TensorFileError(fn, label, 'cannot be read (permission denied)', { cause: e });
  return e;
}

export function checkPath(fn: string, arg: string, p: unknown): string {
  if (typeof p !== 'string' || p.length === 0) fail(fn, arg, `must be a file path (a non-empty string), got ${formatValue(p)}`);
  return p;
}

/**
 * Reads a NumPy `.npy` file as a tensor: float16/32/64 become float32 (float64 is rounded: TensorFlow.js
 * has no float64), int8…int64 and uint8…uint64 become int32 (an error names the first value
 * outside int32), bool stays bool; either byte order, C or Fortran order, 0-d and empty arrays.
 * The caller disposes the tensor.
 *
 * @example
 * ```ts
 * // In Python: np.save('features.npy', layer_output)   # shape (n, p)
 * const x = await tl.io.readNpy('features.npy');
 * x.shape;        // [n, p]
 * await tl.cka.linear(x, await tl.io.readNpy('other.npy'));
 * ```
 */
export async function readNpy(path: string): Promise<tf.Tensor> {
  const fn = 'tl.io.readNpy';
  checkPath(fn, 'path', path);
  let fh;
  try {
    fh = await open(path, 'r');
    const size = (await fh.stat()).size;
    const head = new Uint8Array(Math.min(size, 12));
    await fh.read(head, 0, head.length, 0);
    const p = preamble(head, size);
    if (p.length > MAX_NPY_HEADER) throw new DecodeError(`has a header of ${p.length} bytes, more than the ${MAX_NPY_HEADER} read`);
    if (p.start + p.length > size) throw new DecodeError(`is truncated: its header needs ${p.start + p.length} bytes, the file has ${size}`);
    const text = new Uint8Array(p.length);
    await fh.read(text, 0, p.length, p.start);
    const h = parseHeader(headerText(text, p.utf8), p.start + p.length);
    checkDataLength(h, size - h.dataOffset);
    const data = new Uint8Array(size - h.dataOffset);
    const { bytesRead } = await fh.read(data, 0, data.length, h.dataOffset);
    if (bytesRead !== data.length) throw new DecodeError(`changed while it was read (${bytesRead} of ${data.length} bytes of data)`);
    return tensorFromNpy(h, data);
  } catch (e) {
    throw asFileError(fn, path, e);
  } finally {
    await fh?.close();
  }
}

// ─── Writing ─────────────────────────────────────────────────────────────────────────────────

/** The bytes of a `.npy` file (format 1.0, little-endian, C order) holding `values`. */
export function encodeNpy(values: Float32Array | Int32Array | Uint8Array, dtype: 'float32' | 'int32' | 'bool', shape: readonly number[]): Uint8Array {
  const descr = dtype === 'float32' ? '<f4' : dtype === 'int32' ? '<i4' : '|b1';
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${tuple}, }`;
  // NumPy pads the header with spaces so that the data starts at a multiple of 64 bytes.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = `${header}${' '.repeat(total - 10 - header.length - 1)}\n`;
  const out = new Uint8Array(total + values.byteLength);
  out.set(MAGIC);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  const data = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  if (isLittleEndian || values.BYTES_PER_ELEMENT === 1) out.set(data, total);
  else {
    const dv = new DataView(out.buffer, total);
    for (let i = 0; i < values.length; i++) {
      if (values instanceof Float32Array) dv.setFloat32(4 * i, values[i]!, true);
      else dv.setInt32(4 * i, values[i]!, true);
    }
  }
  return out;
}

const isLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A tensor's values as the typed array {@link encodeNpy} takes. */
export async function tensorBytes(fn: string, arg: string, t: unknown): Promise<{ values: Float32Array | Int32Array | Uint8Array; dtype: 'float32' | 'int32' | 'bool'; shape: number[] }> {
  if (!(t instanceof tf.Tensor)) return fail(fn, arg, `must be a tensor, got ${formatValue(t)}`);
  if (t.isDisposed) fail(fn, arg, 'is a disposed tensor');
  if (t.dtype !== 'float32' && t.dtype !== 'int32' && t.dtype !== 'bool') fail(fn, arg, `has dtype ${t.dtype}; float32, int32 and bool tensors can be written`);
  const v = await t.data();
  const values = t.dtype === 'bool' ? Uint8Array.from(v as ArrayLike<number>) : (v as Float32Array | Int32Array);
  return { values, dtype: t.dtype, shape: [...t.shape] };
}

/** Writes `bytes` to `path` through a temporary file, so a crash never leaves half a file. */
export async function writeAtomically(fn: string, path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw new TensorFileError(fn, path, `could not be written: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Writes a tensor as a NumPy `.npy` file (float32 → `<f4`, int32 → `<i4`, bool → `|b1`), for
 * `np.load` in Python.
 *
 * @example
 * ```ts
 * const {activations} = model.forward(x, {collect: ['layer1']});
 * await tl.io.writeNpy('layer1.npy', activations.get('layer1')!);
 * // In Python: np.load('layer1.npy').shape
 * ```
 */
export async function writeNpy(path: string, tensor: tf.Tensor): Promise<void> {
  const fn = 'tl.io.writeNpy';
  checkPath(fn, 'path', path);
  const { values, dtype, shape } = await tensorBytes(fn, 'tensor', tensor);
  await writeAtomically(fn, path, encodeNpy(values, dtype, shape));
}
