/**
 * The safetensors format (Hugging Face, https://github.com/huggingface/safetensors), read to its
 * specification: 8 bytes of header length N (unsigned little-endian), N bytes of a UTF-8 JSON
 * object `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {key: string}}`, then
 * the data, little-endian and in C order, each tensor at [begin, end) of the data section. As in
 * the reference implementation, the header is at most 100 MB, every tensor's byte count must
 * equal its shape times its element size, and offsets lie inside the file; the tensors are read
 * one at a time, so nothing larger than the file (or one tensor) is ever allocated.
 */
import { open } from 'node:fs/promises';
import { tf } from '../tfjs';
import { DecodeError, ELEMENT_TYPES, type ElementType, decode, elementCount } from './dtypes';
import { asFileError, checkPath } from './npy';

/** The longest header read (the reference implementation's limit). */
export const MAX_SAFETENSORS_HEADER = 100_000_000;

const DTYPES: Record<string, ElementType> = {
  F64: ELEMENT_TYPES['float64']!,
  F32: ELEMENT_TYPES['float32']!,
  F16: ELEMENT_TYPES['float16']!,
  BF16: ELEMENT_TYPES['bfloat16']!,
  I64: ELEMENT_TYPES['int64']!,
  I32: ELEMENT_TYPES['int32']!,
  I16: ELEMENT_TYPES['int16']!,
  I8: ELEMENT_TYPES['int8']!,
  U64: ELEMENT_TYPES['uint64']!,
  U32: ELEMENT_TYPES['uint32']!,
  U16: ELEMENT_TYPES['uint16']!,
  U8: ELEMENT_TYPES['uint8']!,
  BOOL: ELEMENT_TYPES['bool']!,
};

/** One tensor as the header describes it. */
interface Described {
  readonly name: string;
  readonly type: ElementType;
  readonly shape: number[];
  readonly count: number;
  readonly begin: number;
  readonly end: number;
}

/** Parses and checks a safetensors header against the size of the data section. */
function parseHeader(text: string, dataSize: number): { tensors: Described[]; metadata: Record<string, string> } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new DecodeError(`has a header that is not valid JSON (${(e as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new DecodeError('has a header that is not a JSON object');
  const tensors: Described[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (v === null || typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((s) => typeof s !== 'string')) throw new DecodeError("has '__metadata__' that is not an object of strings");
      metadata = v as Record<string, string>;
      continue;
    }
    const at = `the tensor '${name}'`;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new DecodeError(`describes ${at} with ${JSON.stringify(v)}; expected {dtype, shape, data_offsets}`);
    const { dtype, shape, data_offsets: offsets } = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const type = typeof dtype === 'string' ? DTYPES[dtype] : undefined;
    if (type === undefined) throw new DecodeError(`gives ${at} dtype ${JSON.stringify(dtype)}, which TensorFlow.js cannot hold; supported: ${Object.keys(DTYPES).join(', ')}`);
    if (!Array.isArray(shape)) throw new DecodeError(`gives ${at} shape ${JSON.stringify(shape)}; expected an array of integers`);
    const count = elementCount(shape);
    if (typeof count === 'string') throw new DecodeError(`gives ${at} a shape [${shape.join(', ')}] that ${count}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)) throw new DecodeError(`gives ${at} data_offsets ${JSON.stringify(offsets)}; expected [begin, end]`);
    const [begin, end] = offsets as [number, number];
    if (begin > end || end > dataSize) throw new DecodeError(`gives ${at} data_offsets [${begin}, ${end}] outside the ${dataSize} bytes of data (truncated file?)`);
    if (end - begin !== count * type.size) throw new DecodeError(`gives ${at} ${end - begin} bytes, but shape [${shape.join(', ')}] of ${dtype} needs ${count * type.size}`);
    tensors.push({ name, type, shape: shape as number[], count, begin, end });
  }
  // As the reference implementation: the tensors tile the data section, without gaps or overlaps.
  const sorted = [...tensors].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const t of sorted) {
    if (t.begin !== covered) throw new DecodeError(t.begin < covered ? `has tensors that overlap at byte ${t.begin} of the data ('${t.name}')` : `has a gap in its data before '${t.name}' (bytes ${covered}–${t.begin})`);
    covered = t.end;
  }
  if (covered !== dataSize) throw new DecodeError(`has ${dataSize - covered} bytes of data after the last tensor`);
  return { tensors, metadata };
}

async function readHeader(fh: import('node:fs/promises').FileHandle, size: number): Promise<{ tensors: Described[]; metadata: Record<string, string>; dataStart: number }> {
  if (size < 8) throw new DecodeError(`is not a safetensors file: ${size} bytes, shorter than the 8-byte header length`);
  const len = new Uint8Array(8);
  await fh.read(len, 0, 8, 0);
  const n = new DataView(len.buffer).getBigUint64(0, true);
  if (n > BigInt(MAX_SAFETENSORS_HEADER)) throw new DecodeError(`has a header length of ${n} bytes, more than the ${MAX_SAFETENSORS_HEADER} allowed (not a safetensors file?)`);
  const hlen = Number(n);
  if (8 + hlen > size) throw new DecodeError(`is truncated: its header needs ${8 + hlen} bytes, the file has ${size}`);
  const bytes = new Uint8Array(hlen);
  await fh.read(bytes, 0, hlen, 8);
  if (bytes[0] !== 0x7b) throw new DecodeError(`is not a safetensors file: its header does not start with '{'`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new DecodeError('has a header that is not valid UTF-8');
  }
  return { ...parseHeader(text, size - 8 - hlen), dataStart: 8 + hlen };
}

/**
 * Reads a `.safetensors` file (PyTorch's `safetensors.torch.save_file`, Flax/JAX's
 * `safetensors.flax.save_file`) as a record of tensor name → tensor, in the header's order. F32, F16
 * and BF16 become float32 exactly, F64 is rounded to float32 (TensorFlow.js has no float64),
 * I8…I64 and U8…U64 become int32 (an error names the first value outside int32), BOOL stays bool.
 * `__metadata__` is checked and left out (see {@link readSafetensorsMetadata}). The caller
 * disposes the tensors.
 *
 * @example
 * ```ts
 * // In Python: safetensors.torch.save_file(model.state_dict(), 'ft1.safetensors')
 * const ft1 = await tl.io.readSafetensors('ft1.safetensors');
 * const ft2 = await tl.io.readSafetensors('ft2.safetensors');
 * await tl.distance(ft1, ft2);   // ‖θA − θB‖ per module: 'layer1.0.conv1.weight' → layer1
 * ```
 */
export async function readSafetensors(path: string): Promise<Record<string, tf.Tensor>> {
  const fn = 'tl.io.readSafetensors';
  checkPath(fn, 'path', path);
  const out = new Map<string, tf.Tensor>();
  let label = path;
  let fh;
  try {
    fh = await open(path, 'r');
    const size = (await fh.stat()).size;
    const { tensors, dataStart } = await readHeader(fh, size);
    for (const t of tensors) {
      label = `${path} (tensor '${t.name}')`;
      const bytes = new Uint8Array(t.end - t.begin);
      const { bytesRead } = await fh.read(bytes, 0, bytes.length, dataStart + t.begin);
      if (bytesRead !== bytes.length) throw new DecodeError(`changed while it was read (${bytesRead} of ${bytes.length} bytes)`);
      const { values, dtype } = decode(bytes, t.type, true, t.count);
      out.set(t.name, tf.tensor(values, t.shape, dtype));
    }
    label = path;
  } catch (e) {
    tf.dispose([...out.values()]);
    throw asFileError(fn, label, e);
  } finally {
    await fh?.close();
  }
  return Object.fromEntries(out);
}

/**
 * The `__metadata__` of a `.safetensors` file (string → string; `{}` when it has none), read from
 * the header alone.
 *
 * @example
 * ```ts
 * await tl.io.readSafetensorsMetadata('model.safetensors');   // e.g. {format: 'pt'}
 * ```
 */
export async function readSafetensorsMetadata(path: string): Promise<Record<string, string>> {
  const fn = 'tl.io.readSafetensorsMetadata';
  checkPath(fn, 'path', path);
  let fh;
  try {
    fh = await open(path, 'r');
    return { ...(await readHeader(fh, (await fh.stat()).size)).metadata };
  } catch (e) {
    throw asFileError(fn, path, e);
  } finally {
    await fh?.close();
  }
}
