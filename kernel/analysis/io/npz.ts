/**
 * NumPy's `.npz`: a zip archive of `.npy` files, one per array (`np.savez` stores them,
 * `np.savez_compressed` deflates them; NumPy writes zip64 local headers). The archive is read
 * with yauzl (random access through the central directory, zip64, entry sizes validated against
 * what the stream yields); each entry's `.npy` header is checked against the entry's declared size
 * before its data is gathered, and its CRC-32 after. Writing needs no zip64 (a tensor is below
 * 4 GiB of float32 in practice) and is a plain zip of stored or deflated entries.
 */
import * as zlib from 'node:zlib';
import { openPromise, type Entry, type ZipFile } from 'yauzl';
import { tf } from '../tfjs';
import { formatValue, fail } from '../validate';
import { DecodeError } from './dtypes';
import { MAX_NPY_HEADER, asFileError, checkPath, decodeNpy, encodeNpy, parseNpyHeader, tensorBytes, writeAtomically } from './npy';

// ─── CRC-32 (the zip polynomial 0xEDB88320) ─────────────────────────────────────────────────

let crcTable: Uint32Array | undefined;
/** CRC-32 of `bytes`, as zip stores it (Node's own from 20.15 and 22.2, a table in JavaScript before). */
export function crc32(bytes: Uint8Array): number {
  const native = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;
  return native ? native(bytes) >>> 0 : crc32Table(bytes);
}

/** CRC-32 by a table, for Node versions without `zlib.crc32`. */
export function crc32Table(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// ─── Reading ─────────────────────────────────────────────────────────────────────────────────

/** The uncompressed bytes of one `.npy` entry, its header checked against the entry's size first. */
async function readEntry(zip: ZipFile, entry: Entry): Promise<Uint8Array> {
  if (entry.isEncrypted()) throw new DecodeError('is encrypted');
  if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) throw new DecodeError(`uses zip compression method ${entry.compressionMethod}; NumPy writes stored (0) or deflated (8) entries`);
  const stream = await zip.openReadStreamPromise(entry);
  const chunks: Buffer[] = [];
  let got = 0;
  let checked = false;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      got += chunk.length;
      if (!checked && got >= 12) {
        const head = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, got);
        chunks.length = 0;
        chunks.push(head);
        const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
        const need = head[6] === 1 ? 10 + dv.getUint16(8, true) : 12 + dv.getUint32(8, true);
        if (head[6] !== 1 && need - 12 > MAX_NPY_HEADER) parseNpyHeader(head); // fails with the size
        if (got >= need) {
          const h = parseNpyHeader(head.subarray(0, need));
          const expected = h.dataOffset + h.count * h.type.size;
          if (expected !== entry.uncompressedSize) {
            throw new DecodeError(`has an entry of ${entry.uncompressedSize} bytes, but its .npy header describes ${h.dataOffset} + (${h.shape.join(', ')}) × ${h.type.size} = ${expected} bytes (shape/dtype mismatch or truncated data)`);
          }
          checked = true;
        }
      }
    }
  } catch (e) {
    stream.destroy();
    if (e instanceof DecodeError) throw e;
    throw new DecodeError(`could not be decompressed: ${(e as Error).message}`);
  }
  const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, got);
  if (crc32(bytes) !== entry.crc32 >>> 0) throw new DecodeError('is corrupt: its CRC-32 does not match the one the archive records');
  return bytes;
}

/**
 * Reads a NumPy `.npz` archive (`np.savez` or `np.savez_compressed`) as a record of array name →
 * tensor, in the archive's order. Each array is read as {@link readNpy} reads a `.npy` file
 * (float64 rounds to float32, integers become int32, bool stays bool; Fortran order and either
 * byte order). The caller disposes the tensors (`tf.dispose(Object.values(arrays))`).
 *
 * The record goes as it is to `tl.cka.matrixFromFeatures` (one array per layer, one row per
 * example) and to `tl.distance`/`tl.distances` (one array per parameter, grouped into modules by
 * name).
 *
 * @example
 * ```ts
 * // In Python: np.savez('acts.npz', layer1=h1, layer2=h2)   # each (n, …), the same n examples
 * const a = await tl.io.readNpz('acts_model_a.npz');
 * const b = await tl.io.readNpz('acts_model_b.npz');
 * await tl.cka.matrixFromFeatures(a, b, {modelA: 'A', modelB: 'B'});  // a heatmap
 * ```
 */
export async function readNpz(path: string): Promise<Record<string, tf.Tensor>> {
  const fn = 'tl.io.readNpz';
  checkPath(fn, 'path', path);
  const out = new Map<string, tf.Tensor>();
  let label = path;
  let zip: ZipFile | undefined;
  try {
    try {
      zip = await openPromise(path, { lazyEntries: true, autoClose: false, validateEntrySizes: true, decodeStrings: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== undefined) throw e;
      throw new DecodeError(`is not a zip archive (an .npz is one): ${(e as Error).message}`);
    }
    for await (const entry of zip.eachEntry()) {
      if (entry.fileName.endsWith('/')) continue;
      if (!entry.fileName.endsWith('.npy')) throw new DecodeError(`holds '${entry.fileName}', which is not a .npy array (an .npz holds only NAME.npy entries)`);
      const name = entry.fileName.slice(0, -4);
      if (out.has(name)) throw new DecodeError(`holds the array '${name}' twice`);
      label = `${path} (array '${name}')`;
      out.set(name, decodeNpy(await readEntry(zip, entry)));
      label = path;
    }
  } catch (e) {
    tf.dispose([...out.values()]);
    if (e instanceof DecodeError || (e as NodeJS.ErrnoException).code !== undefined) throw asFileError(fn, label, e);
    throw asFileError(fn, label, new DecodeError(`is not a valid zip archive: ${(e as Error).message}`));
  } finally {
    zip?.close();
  }
  return Object.fromEntries(out);
}

// ─── Writing ─────────────────────────────────────────────────────────────────────────────────

/** A zip archive of `files` (stored, or deflated where that makes them smaller), without zip64. */
export function zipBytes(files: readonly { name: string; data: Uint8Array }[], compress: boolean): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const f of files) {
    const name = new TextEncoder().encode(f.name);
    const deflated = compress ? zlib.deflateRawSync(f.data) : undefined;
    const useDeflate = deflated !== undefined && deflated.length < f.data.length;
    const body = useDeflate ? deflated : f.data;
    if (f.data.length > 0xfffffffe || offset > 0xfffffffe) throw new RangeError(`'${f.name}' is too large for a zip archive without zip64 (4 GiB)`);
    const crc = crc32(f.data);
    const flags = /[^\x20-\x7e]/.test(f.name) ? 0x0800 : 0; // UTF-8 names
    const local = new Uint8Array(30 + name.length);
    const l = new DataView(local.buffer);
    l.setUint32(0, 0x04034b50, true);
    l.setUint16(4, 20, true);
    l.setUint16(6, flags, true);
    l.setUint16(8, useDeflate ? 8 : 0, true);
    l.setUint16(10, 0, true); // time 00:00
    l.setUint16(12, 0x21, true); // date 1980-01-01: the same bytes for the same tensors
    l.setUint32(14, crc, true);
    l.setUint32(18, body.length, true);
    l.setUint32(22, f.data.length, true);
    l.setUint16(26, name.length, true);
    l.setUint16(28, 0, true);
    local.set(name, 30);
    const cd = new Uint8Array(46 + name.length);
    const c = new DataView(cd.buffer);
    c.setUint32(0, 0x02014b50, true);
    c.setUint16(4, 20, true);
    c.setUint16(6, 20, true);
    c.setUint16(8, flags, true);
    c.setUint16(10, useDeflate ? 8 : 0, true);
    c.setUint16(12, 0, true);
    c.setUint16(14, 0x21, true);
    c.setUint32(16, crc, true);
    c.setUint32(20, body.length, true);
    c.setUint32(24, f.data.length, true);
    c.setUint16(28, name.length, true);
    c.setUint32(38, 0o100644 << 16, true); // a regular file, rw-r--r--
    c.setUint32(42, offset, true);
    cd.set(name, 46);
    parts.push(local, body);
    central.push(cd);
    offset += local.length + body.length;
  }
  const cdSize = central.reduce((s, b) => s + b.length, 0);
  const end = new Uint8Array(22);
  const e = new DataView(end.buffer);
  e.setUint32(0, 0x06054b50, true);
  e.setUint16(8, files.length, true);
  e.setUint16(10, files.length, true);
  e.setUint32(12, cdSize, true);
  e.setUint32(16, offset, true);
  if (files.length > 0xffff) throw new RangeError(`${files.length} arrays are too many for a zip archive without zip64 (65,535)`);
  const out = new Uint8Array(offset + cdSize + 22);
  let at = 0;
  for (const b of [...parts, ...central, end]) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/**
 * Writes tensors as a NumPy `.npz` archive (one `NAME.npy` per entry, float32/int32/bool), for
 * `np.load` in Python. `compress: true` deflates the arrays as `np.savez_compressed` does.
 *
 * @example
 * ```ts
 * const {activations} = model.forward(x, {collect: ['conv1', 'layer1']});
 * await tl.io.writeNpz('acts.npz', Object.fromEntries(activations), {compress: true});
 * // In Python: d = np.load('acts.npz'); d['conv1'].shape
 * ```
 */
export async function writeNpz(path: string, arrays: Readonly<Record<string, tf.Tensor>> | ReadonlyMap<string, tf.Tensor>, options: { readonly compress?: boolean } = {}): Promise<void> {
  const fn = 'tl.io.writeNpz';
  checkPath(fn, 'path', path);
  if (options === null || typeof options !== 'object') fail(fn, 'options', `must be an object, got ${formatValue(options)}`);
  const extra = Object.keys(options).filter((k) => k !== 'compress');
  if (extra.length > 0) fail(fn, 'options', `has unknown key '${extra[0]}'; known: compress`);
  if (options.compress !== undefined && typeof options.compress !== 'boolean') fail(fn, 'options.compress', `must be a boolean, got ${formatValue(options.compress)}`);
  let entries: [string, unknown][];
  if (arrays instanceof Map) entries = [...arrays.entries()];
  else if (arrays !== null && typeof arrays === 'object' && !(arrays instanceof tf.Tensor) && !Array.isArray(arrays)) entries = Object.entries(arrays);
  else return fail(fn, 'arrays', `must map names to tensors ({a: t1, b: t2} or a Map), got ${formatValue(arrays)}`);
  if (entries.length === 0) fail(fn, 'arrays', 'is empty');
  const files: { name: string; data: Uint8Array }[] = [];
  for (const [name, t] of entries) {
    if (typeof name !== 'string' || name === '' || name.includes('/') || name.includes('\\')) fail(fn, 'arrays', `has the name ${formatValue(name)}; names must be non-empty and hold no '/' or '\\'`);
    const { values, dtype, shape } = await tensorBytes(fn, `arrays.${name}`, t);
    files.push({ name: `${name}.npy`, data: encodeNpy(values, dtype, shape) });
  }
  let bytes: Uint8Array;
  try {
    bytes = zipBytes(files, options.compress ?? false);
  } catch (e) {
    return fail(fn, 'arrays', (e as Error).message);
  }
  await writeAtomically(fn, path, bytes);
}
