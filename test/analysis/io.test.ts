/**
 * tl.io against files written by NumPy (Debian's python3-numpy) in the test: every dtype, both byte
 * orders, Fortran order, 0-d and empty arrays, header versions 1–3, .npz stored and deflated (zip64
 * local headers, as NumPy writes them), safetensors written by hand to its specification (F16,
 * BF16, __metadata__), and malformed files of each kind. Values are compared exactly with what
 * Python printed; CKA and distances on the records against float64 references computed by NumPy.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { tf } from '../../kernel/analysis/tfjs';
import { initBackend } from '../../kernel/analysis/backends';
import * as io from '../../kernel/analysis/io';
import { matrixFromFeatures } from '../../kernel/analysis/cka';
import { distance, distances } from '../../kernel/analysis/distance';
import { TensorFileError } from '../../kernel/analysis/errors';
import { PYTHON, requirePythonModule } from '../helpers/tools';
import { assertNoLeak } from './leak';

let dir = '';
/** What Python wrote: per file (and array), its shape and values in C order. */
let expected: Record<string, { shape: number[]; values: (number | string | boolean)[] }> = {};
let refs: { cka: Record<string, number>; distances: Record<string, Record<string, number>>; zip64: boolean } = { cka: {}, distances: {}, zip64: false };

/** Runs Python with NumPy on `script` (argv[1] = the temp folder); returns its stdout as JSON. */
function python(script: string): unknown {
  requirePythonModule('numpy', 'python3-numpy');
  const r = spawnSync(PYTHON, ['-c', script, dir], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `python failed:\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

const WRITE = String.raw`
import json, os, struct, sys, zipfile
import numpy as np
d = sys.argv[1]
out = {}
def j(a):
    a = np.asarray(a)
    if a.dtype == np.bool_:
        return [bool(v) for v in a.ravel(order='C')]
    return [float(v) if np.isfinite(v) else repr(float(v)) for v in a.ravel(order='C').astype(np.float64)]
def save(name, a, version=None):
    p = os.path.join(d, name + '.npy')
    if version is None:
        np.save(p, a)
    else:
        with open(p, 'wb') as f:
            np.lib.format.write_array(f, a, version=version)
    out[name] = {'shape': list(a.shape), 'values': j(a)}

rng = np.random.default_rng(0)
base = rng.standard_normal((2, 3, 4))
ranges = {'i1': (-128, 127), 'i2': (-32768, 32767), 'i4': (-2**31, 2**31 - 1), 'i8': (-2**31, 2**31 - 1),
          'u1': (0, 255), 'u2': (0, 65535), 'u4': (0, 2**31 - 1), 'u8': (0, 2**31 - 1)}
for order in '<>':
    for t in ['f2', 'f4', 'f8']:
        save(f'{t}{order}', (base * 100).astype(order + t))
    for t, (lo, hi) in ranges.items():
        a = rng.integers(lo, hi, size=(2, 3, 4), endpoint=True, dtype=np.int64)
        a.flat[0], a.flat[1] = lo, hi
        save(f'{t}{order}', a.astype(order + t))
save('b1', rng.random((2, 3, 4)) > 0.5)
# Fortran order, float and int; a 2-d one too.
save('fortran_f4', np.asfortranarray(base.astype('<f4')))
save('fortran_i2', np.asfortranarray(rng.integers(-999, 999, size=(3, 4, 5)).astype('>i2')))
save('fortran_2d', np.asfortranarray(rng.standard_normal((5, 7)).astype('<f8')))
# Half precision: subnormals, signed zero, the largest value, infinities.
save('f2_special', np.array([0.0, -0.0, 6e-8, 6.1e-5, 65504, -65504, np.inf, -np.inf, 1/3], dtype='<f2'))
save('scalar', np.float32(3.5))
save('scalar_i8', np.int64(-7))
save('empty', np.zeros((0, 3), dtype='<f4'))
save('empty3', np.zeros((2, 0, 4), dtype='<i8'))
save('v2', rng.standard_normal((3, 2)).astype('<f4'), version=(2, 0))
save('v3', rng.standard_normal((3, 2)).astype('>f4'), version=(3, 0))

# .npz: activations of two "models" (one deflated, one stored), including a rank-4 Fortran array.
n = 40
x = rng.standard_normal((n, 6))
h1 = np.maximum(x @ rng.standard_normal((6, 12)), 0)
q, _ = np.linalg.qr(rng.standard_normal((12, 12)))
acts_a = {'layer1': h1.astype('<f4'), 'layer2': np.tanh(h1 @ rng.standard_normal((12, 8))).astype('<f8'),
          'conv': np.asfortranarray(rng.standard_normal((n, 3, 2, 2)).astype('<f4'))}
acts_b = {'layer1': (h1 @ q).astype('>f4'), 'layer2': rng.standard_normal((n, 5)).astype('<f4'),
          'big': rng.standard_normal((n, 3000)).astype('<f4')}
np.savez_compressed(os.path.join(d, 'acts_a.npz'), **acts_a)
np.savez(os.path.join(d, 'acts_b.npz'), **acts_b)
for f, acts in [('acts_a', acts_a), ('acts_b', acts_b)]:
    for k, a in acts.items():
        out[f'{f}/{k}'] = {'shape': list(a.shape), 'values': j(a)}
# Linear CKA in float64 on the float32 values the reader gives, features flattened per example in C order.
def cka(X, Y):
    X = X.reshape(X.shape[0], -1).astype(np.float32).astype(np.float64); X = X - X.mean(0)
    Y = Y.reshape(Y.shape[0], -1).astype(np.float32).astype(np.float64); Y = Y - Y.mean(0)
    return float(np.linalg.norm(Y.T @ X) ** 2 / (np.linalg.norm(X.T @ X) * np.linalg.norm(Y.T @ Y)))
refs = {'cka': {f'{ka}/{kb}': cka(a, b) for ka, a in acts_a.items() for kb, b in acts_b.items() if kb != 'big'}}
with zipfile.ZipFile(os.path.join(d, 'acts_a.npz')) as z:
    raw = open(os.path.join(d, 'acts_a.npz'), 'rb').read()
    info = z.infolist()[0]
    off = info.header_offset
    nlen, xlen = struct.unpack('<HH', raw[off + 26: off + 30])
    extra = raw[off + 30 + nlen: off + 30 + nlen + xlen]
    refs['zip64'] = extra[:2] == b'\x01\x00'

# Checkpoints: PyTorch-style names, conv weights OIHW, a BatchNorm counter in int64.
def checkpoint(seed, scale):
    r = np.random.default_rng(seed)
    return {'conv1.weight': (r.standard_normal((4, 3, 3, 3)) * scale).astype('<f4'), 'conv1.bias': r.standard_normal(4).astype('<f4'),
            'layer1.0.conv1.weight': r.standard_normal((4, 4, 3, 3)).astype('<f4'), 'layer1.0.bn1.weight': r.standard_normal(4).astype('<f4'),
            'layer1.0.bn1.num_batches_tracked': np.array(seed * 100, dtype='<i8'),
            'layer1.1.conv1.weight': r.standard_normal((4, 4, 3, 3)).astype('<f4'), 'fc.weight': r.standard_normal((10, 4)).astype('<f4'), 'fc.bias': r.standard_normal(10).astype('<f4')}
def write_safetensors(p, tensors, metadata=None):
    codes = {'float32': 'F32', 'float16': 'F16', 'float64': 'F64', 'int64': 'I64', 'int32': 'I32', 'int16': 'I16', 'int8': 'I8',
             'uint8': 'U8', 'uint16': 'U16', 'uint32': 'U32', 'uint64': 'U64', 'bool': 'BOOL'}
    header, blobs, off = {}, [], 0
    if metadata is not None:
        header['__metadata__'] = metadata
    for k, a in tensors.items():
        if isinstance(a, tuple):  # (code, shape, raw bytes)
            code, shape, raw = a
        else:
            a = np.asarray(a)  # (np.ascontiguousarray would make a 0-d array 1-d)
            code, shape, raw = codes[a.dtype.name], list(a.shape), a.astype(a.dtype.newbyteorder('<')).tobytes(order='C')
        header[k] = {'dtype': code, 'shape': shape, 'data_offsets': [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    h += b' ' * (-len(h) % 8)
    with open(p, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))
ck = {name: checkpoint(s, sc) for name, s, sc in [('ft1', 1, 1.0), ('ft2', 2, 1.0), ('ri1', 3, 5.0)]}
write_safetensors(os.path.join(d, 'ft1.safetensors'), ck['ft1'], {'format': 'pt', 'note': 'by hand'})
np.savez(os.path.join(d, 'ft2.npz'), **ck['ft2'])
np.savez_compressed(os.path.join(d, 'ri1.npz'), **ck['ri1'])
def dist(a, b, group):
    sq = {}
    for k in a:
        g = group(k)
        sq[g] = sq.get(g, 0.0) + float(np.sum((a[k].astype(np.float64) - b[k].astype(np.float64)) ** 2))
    return {g: float(np.sqrt(v)) for g, v in sq.items()}
top = lambda k: k.split('.')[0]
refs['distances'] = {'ft1/ft2': dist(ck['ft1'], ck['ft2'], top), 'ft1/ri1': dist(ck['ft1'], ck['ri1'], top),
                     'ft1/ft2 depth 2': dist(ck['ft1'], ck['ft2'], lambda k: '.'.join(k.split('.')[:min(2, len(k.split('.')) - 1)]))}

# Every safetensors dtype, big and small, 0-d and empty; bfloat16 by truncating float32 bits.
f32 = (base * 10).astype('<f4')
bf = (f32.view('<u4') & 0xFFFF0000).astype('<u4').view('<f4')
all_types = {'f32': f32, 'f16': f32.astype('<f2'), 'f64': base * 1e3, 'bf16': ('BF16', list(bf.shape), (bf.view('<u4') >> 16).astype('<u2').tobytes()),
             'i64': np.array([[-2**31, 2**31 - 1, 0]], dtype='<i8'), 'i32': np.array([-5, 7], dtype='<i4'), 'i16': np.array([-32768, 32767], dtype='<i2'),
             'i8': np.array([-128, 127], dtype='i1'), 'u8': np.array([0, 255], dtype='u1'), 'u16': np.array([65535], dtype='<u2'),
             'u32': np.array([2**31 - 1], dtype='<u4'), 'u64': np.array([12345], dtype='<u8'), 'bool': np.array([True, False, True]),
             'scalar': np.array(2.25, dtype='<f4'), 'empty': np.zeros((0, 2), dtype='<f4')}
write_safetensors(os.path.join(d, 'types.safetensors'), all_types)
for k, a in all_types.items():
    out[f'types/{k}'] = {'shape': list(bf.shape), 'values': j(bf)} if k == 'bf16' else {'shape': list(np.shape(a)), 'values': j(a)}

# Integers outside int32.
save('over_u4', np.array([1, 2**31], dtype='<u4'))
save('over_i8', np.array([0, 0, -2**31 - 1], dtype='>i8'))
save('over_u8', np.array([2**63], dtype='<u8'))
# Dtypes TensorFlow.js cannot hold.
np.save(os.path.join(d, 'complex.npy'), np.zeros(3, dtype='<c8'))
np.save(os.path.join(d, 'strings.npy'), np.array(['ab', 'c']))
np.save(os.path.join(d, 'structured.npy'), np.zeros(2, dtype=[('a', '<f4'), ('b', '<i4')]))
print(json.dumps({'arrays': out, 'refs': refs}))
`;

/** Values as the reader must give them: float32-rounded numbers, or booleans as 0/1. */
function asExpected(values: (number | string | boolean)[], dtype: string): number[] {
  return values.map((v) => {
    if (typeof v === 'boolean') return v ? 1 : 0;
    const x = typeof v === 'string' ? Number(v.replace('inf', 'Infinity')) : v;
    return dtype === 'float32' ? Math.fround(x) : x;
  });
}

async function checkTensor(t: tf.Tensor, key: string, dtype: string): Promise<void> {
  const e = expected[key];
  assert.ok(e, `python wrote ${key}`);
  assert.deepEqual(t.shape, e.shape, `${key}: shape`);
  assert.equal(t.dtype, dtype, `${key}: dtype`);
  assert.deepEqual([...(await t.data())], asExpected(e.values, dtype), `${key}: values`);
}

before(async () => {
  await initBackend('cpu');
  dir = mkdtempSync(path.join(tmpdir(), 'tl-io-'));
  const r = python(WRITE) as { arrays: typeof expected; refs: typeof refs };
  expected = r.arrays;
  refs = r.refs;
});

test('readNpy: every dtype in both byte orders, exactly as NumPy wrote it (float64 rounded to float32, integers as int32)', async () => {
  for (const order of ['<', '>']) {
    for (const t of ['f2', 'f4', 'f8', 'i1', 'i2', 'i4', 'i8', 'u1', 'u2', 'u4', 'u8']) {
      const key = `${t}${order}`;
      const x = await io.readNpy(path.join(dir, `${key}.npy`));
      await checkTensor(x, key, t.startsWith('f') ? 'float32' : 'int32');
      x.dispose();
    }
  }
  const b = await io.readNpy(path.join(dir, 'b1.npy'));
  await checkTensor(b, 'b1', 'bool');
  b.dispose();
});

test('readNpy: Fortran order, float16 specials, 0-d, empty arrays, header versions 2.0 and 3.0; no tensor left behind', async () => {
  await assertNoLeak('readNpy', async () => {
    for (const [key, dtype] of [['fortran_f4', 'float32'], ['fortran_i2', 'int32'], ['fortran_2d', 'float32'], ['f2_special', 'float32'], ['scalar', 'float32'], ['scalar_i8', 'int32'], ['empty', 'float32'], ['empty3', 'int32'], ['v2', 'float32'], ['v3', 'float32']] as const) {
      const x = await io.readNpy(path.join(dir, `${key}.npy`));
      await checkTensor(x, key, dtype);
      x.dispose();
    }
  });
  const s = await io.readNpy(path.join(dir, 'f2_special.npy'));
  assert.ok(Object.is((await s.data())[1], -0), 'float16 -0 stays -0');
  s.dispose();
});

test('readNpz: deflated (zip64 local headers, as NumPy writes them) and stored archives, in the archive order', async () => {
  assert.equal(refs.zip64, true, 'NumPy wrote zip64 local headers');
  await assertNoLeak('readNpz', async () => {
    for (const f of ['acts_a', 'acts_b']) {
      const r = await io.readNpz(path.join(dir, `${f}.npz`));
      const keys = Object.keys(expected).filter((k) => k.startsWith(`${f}/`)).map((k) => k.slice(f.length + 1));
      assert.deepEqual(Object.keys(r), keys);
      for (const k of keys) await checkTensor(r[k]!, `${f}/${k}`, 'float32');
      tf.dispose(Object.values(r));
    }
  });
});

test('readSafetensors: every dtype (F16, BF16, F64, I8…I64, U8…U64, BOOL), 0-d and empty tensors; __metadata__ read apart', async () => {
  await assertNoLeak('readSafetensors', async () => {
    const r = await io.readSafetensors(path.join(dir, 'types.safetensors'));
    const keys = Object.keys(expected).filter((k) => k.startsWith('types/')).map((k) => k.slice(6));
    assert.deepEqual(Object.keys(r), keys);
    for (const k of keys) await checkTensor(r[k]!, `types/${k}`, k === 'bool' ? 'bool' : /^[iu]/.test(k) ? 'int32' : 'float32');
    tf.dispose(Object.values(r));
  });
  assert.deepEqual(await io.readSafetensorsMetadata(path.join(dir, 'ft1.safetensors')), { format: 'pt', note: 'by hand' });
  assert.deepEqual(await io.readSafetensorsMetadata(path.join(dir, 'types.safetensors')), {});
});

test('integers outside int32 and dtypes TensorFlow.js cannot hold fail with the file, the value and its index', async () => {
  const rejects = async (file: string, re: RegExp) => {
    await assertNoLeak(file, () => assert.rejects(io.readNpy(path.join(dir, file)), (e: unknown) => e instanceof TensorFileError && re.test(e.message) && e.message.includes(path.join(dir, file))));
  };
  await rejects('over_u4.npy', /holds 2147483648 \(a uint32\) at flat index 1, outside int32/);
  await rejects('over_i8.npy', /holds -2147483649 \(a int64\) at flat index 2, outside int32/);
  await rejects('over_u8.npy', /holds 9223372036854775808 \(a uint64\) at flat index 0/);
  await rejects('complex.npy', /has dtype '<c8', which TensorFlow\.js cannot hold/);
  await rejects('strings.npy', /has dtype '<U2', which TensorFlow\.js cannot hold/);
  await rejects('structured.npy', /holds a structured array/);
});

test('tl.cka.matrixFromFeatures takes two readNpz records as they are (rank > 2 flattened per example, Fortran order), equal to NumPy in float64', async () => {
  const a = await io.readNpz(path.join(dir, 'acts_a.npz'));
  const b = await io.readNpz(path.join(dir, 'acts_b.npz'));
  const big = b['big']!;
  delete b['big'];
  const heat = await assertNoLeak('cka', () => matrixFromFeatures(a, b, { modelA: 'A', modelB: 'B' }));
  assert.deepEqual(heat.rows, ['layer1', 'layer2', 'conv']);
  assert.deepEqual(heat.columns, ['layer1', 'layer2']);
  for (const r of heat.rows) {
    for (const c of heat.columns) {
      const ref = refs.cka[`${r}/${c}`]!;
      assert.ok(Math.abs(heat.get(r, c) - ref) < 1e-5, `${r}/${c}: ${heat.get(r, c)} vs NumPy ${ref}`);
    }
  }
  assert.ok(Math.abs(heat.get('layer1', 'layer1') - 1) < 1e-5, 'a rotation of the same layer: CKA 1');
  tf.dispose([...Object.values(a), ...Object.values(b), big]);
});

test('tl.distance(s) take safetensors and npz checkpoints with PyTorch names, grouped by module (default, depth, function), equal to NumPy in float64', async () => {
  const ft1 = await io.readSafetensors(path.join(dir, 'ft1.safetensors'));
  const ft2 = await io.readNpz(path.join(dir, 'ft2.npz'));
  const ri1 = await io.readNpz(path.join(dir, 'ri1.npz'));
  const close = (got: number, want: number, what: string) => assert.ok(Math.abs(got - want) <= 1e-12 * Math.max(1, want), `${what}: ${got} vs NumPy ${want}`);
  const d = await assertNoLeak('distances', () => distances([{ label: 'ft1/ft2', a: ft1, b: ft2 }, { label: 'ft1/ri1', a: ft1, b: ri1 }]));
  for (const p of d.pairs) {
    const ref = refs.distances[p.label]!;
    assert.deepEqual(p.modules.map((m) => m.module), ['conv1', 'layer1', 'fc']);
    for (const m of p.modules) close(m.distance, ref[m.module]!, `${p.label} ${m.module}`);
    assert.equal(p.modules.find((m) => m.module === 'fc')!.head, true, 'fc is the head, as in a torchvision ResNet');
  }
  const deep = await distance(ft1, ft2, { groupBy: 2 });
  const ref2 = refs.distances['ft1/ft2 depth 2']!;
  assert.deepEqual(deep.pairs[0]!.modules.map((m) => m.module), Object.keys(ref2));
  for (const m of deep.pairs[0]!.modules) close(m.distance, ref2[m.module]!, `depth 2 ${m.module}`);
  // A function: drop the BatchNorm counter, group the rest by the text before the first '.'.
  const noBuffers = await distance(ft1, ft2, { groupBy: (n) => (n.endsWith('num_batches_tracked') ? undefined : n.split('.')[0]) });
  const layer1 = noBuffers.pairs[0]!.modules.find((m) => m.module === 'layer1')!;
  assert.equal(layer1.parameters, 4 * 4 * 9 + 4 + 4 * 4 * 9);
  close(layer1.distance, Math.sqrt(ref2['layer1.0']! ** 2 + ref2['layer1.1']! ** 2 - 100 ** 2), 'layer1 without the counter (100 = |100 − 200|)');
  await assert.rejects(distance(ft1, ft2, { groupBy: 0 }), /tl\.distance: options\.groupBy must be ≥ 1, got 0/);
  await assert.rejects(distance(ft1, ft2, { groupBy: () => 3 as unknown as string }), /tl\.distance: options\.groupBy returned the number 3 for 'conv1\.weight'/);
  await assert.rejects(distance(ft1, { 'conv1.weight': ft2['conv1.weight']!, x: 3 } as never), /tl\.distance: b must map parameter names to tensors, got an entry 'x' → the number 3/);
  tf.dispose([...Object.values(ft1), ...Object.values(ft2), ...Object.values(ri1)]);
});

test('writeNpy and writeNpz: NumPy reads back exactly what was written (float32, int32, bool, 0-d, empty; stored and deflated)', async () => {
  const t = {
    f: tf.tensor([[1.5, -2.25, 3e-8], [Math.fround(Math.PI), 0, -0]], [2, 3]),
    i: tf.tensor([-2147483648, 2147483647, 0, 5], [2, 2], 'int32'),
    b: tf.tensor([true, false, true], [3], 'bool'),
    s: tf.scalar(7.5),
    e: tf.zeros([0, 4]),
  };
  await assertNoLeak('write', async () => {
    await io.writeNpy(path.join(dir, 'js.npy'), t.f);
    await io.writeNpz(path.join(dir, 'js_stored.npz'), t);
    await io.writeNpz(path.join(dir, 'js_deflated.npz'), new Map(Object.entries(t)), { compress: true });
  });
  const back = python(String.raw`
import json, os, sys
import numpy as np
d = sys.argv[1]
def j(a):
    return {'shape': list(a.shape), 'dtype': a.dtype.str, 'values': [v.item() for v in a.ravel()]}
out = {'npy': j(np.load(os.path.join(d, 'js.npy')))}
for f in ['js_stored', 'js_deflated']:
    with np.load(os.path.join(d, f + '.npz')) as z:
        out[f] = {k: j(z[k]) for k in z.files}
print(json.dumps(out))
`) as Record<string, { shape: number[]; dtype: string; values: (number | boolean)[] }> & Record<string, Record<string, { shape: number[]; dtype: string; values: (number | boolean)[] }>>;
  const want = async (x: tf.Tensor) => ({ shape: x.shape, dtype: x.dtype === 'float32' ? '<f4' : x.dtype === 'int32' ? '<i4' : '|b1', values: x.dtype === 'bool' ? [...(await x.data())].map(Boolean) : [...(await x.data())] });
  assert.deepEqual(back['npy'], await want(t.f));
  for (const f of ['js_stored', 'js_deflated']) {
    const z = back[f] as Record<string, unknown>;
    assert.deepEqual(Object.keys(z), Object.keys(t), f);
    for (const [k, x] of Object.entries(t)) assert.deepEqual(z[k], await want(x), `${f}: ${k}`);
  }
  // And our own reader reads them back.
  const again = await io.readNpz(path.join(dir, 'js_deflated.npz'));
  assert.deepEqual([...(await again['i']!.data())], [...(await t.i.data())]);
  tf.dispose([...Object.values(again), ...Object.values(t)]);
  await assert.rejects(io.writeNpz(path.join(dir, 'x.npz'), { 'a/b': tf.scalar(1) }), /tl\.io\.writeNpz: arrays has the name the string "a\/b"/);
  await assert.rejects(io.writeNpz(path.join(dir, 'x.npz'), {}, { compress: 1 as unknown as boolean }), /tl\.io\.writeNpz: arrays is empty|options\.compress must be a boolean/);
});

test('the CRC-32 for Node versions without zlib.crc32 equals zlib\'s', async () => {
  const { crc32Table } = await import('../../kernel/analysis/io/npz');
  const zlib = await import('node:zlib');
  const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7919) % 251);
  for (const b of [new Uint8Array(0), bytes.subarray(0, 1), bytes]) assert.equal(crc32Table(b), zlib.crc32(b));
  assert.equal(crc32Table(new TextEncoder().encode('123456789')), 0xcbf43926);
});

/** Writes `bytes` as a file in the temp folder and returns its path. */
function file(name: string, bytes: Uint8Array | string): string {
  const p = path.join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

/** A .npy file's bytes with `header` (padded as NumPy pads) and `data`. */
function npyBytes(header: string, data: Uint8Array, version = 1): Uint8Array {
  const pre = version === 1 ? 10 : 12;
  const padded = `${header}${' '.repeat((64 - ((pre + header.length + 1) % 64)) % 64)}\n`;
  const out = new Uint8Array(pre + padded.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const dv = new DataView(out.buffer);
  if (version === 1) dv.setUint16(8, padded.length, true);
  else dv.setUint32(8, padded.length, true);
  out.set(new TextEncoder().encode(padded), pre);
  out.set(data, pre + padded.length);
  return out;
}

test('malformed .npy files: a clear error naming the file and the fault, never a crash, a hang or a huge allocation', async () => {
  const good = readFileSync(path.join(dir, 'f4<.npy'));
  const cases: [string, Uint8Array | string, RegExp][] = [
    ['empty.bin', new Uint8Array(0), /is not a \.npy file: 0 bytes, shorter than the 10-byte preamble/],
    ['magic.npy', Buffer.concat([Buffer.from('PK\x03\x04'), good.subarray(4)]), /is not a \.npy file: it starts with "PK\\x03\\x04/],
    ['truncated.npy', good.subarray(0, good.length - 5), /is truncated: \(2, 3, 4\) float32 values need 96 bytes after the 128-byte header, the file has 91/],
    ['longer.npy', Buffer.concat([good, Buffer.alloc(8)]), /has 8 bytes more than its header describes/],
    ['cut-header.npy', good.subarray(0, 40), /is truncated: its header needs 128 bytes, the file has 40/],
    ['lying-shape.npy', npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (10000, 10000), }", new Uint8Array(16)), /is truncated: \(10000, 10000\) float32 values need 400000000 bytes after the 128-byte header, the file has 16/],
    ['huge-shape.npy', npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", new Uint8Array(16)), /more than a TensorFlow\.js tensor can hold/],
    ['negative.npy', npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 4), }", new Uint8Array(16)), /has a dimension -1 that is not a non-negative integer/],
    ['huge-header.npy', (() => {
      const b = npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(4), 2);
      new DataView(b.buffer).setUint32(8, 0xfffffff0, true);
      return b;
    })(), /has a header of 4294967280 bytes, more than the 1048576 read/],
    ['syntax.npy', npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3 }", new Uint8Array(24)), /has a malformed header \(expected ',' or '\)'/],
    ['no-shape.npy', npyBytes("{'descr': '<f4', 'fortran_order': False}", new Uint8Array(4)), /has a header without 'shape'/],
    ['extra-key.npy', npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", new Uint8Array(4)), /has an unknown key 'x'/],
    ['bad-dtype.npy', npyBytes("{'descr': '<q9', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(4)), /has dtype '<q9', which TensorFlow\.js cannot hold/],
    ['bad-order.npy', npyBytes("{'descr': '<f4', 'fortran_order': 'yes', 'shape': (1,), }", new Uint8Array(4)), /has fortran_order the string "yes"; expected True or False/],
    ['version.npy', (() => {
      const b = new Uint8Array(good);
      b[6] = 9;
      return b;
    })(), /has \.npy format version 9\.0; versions 1\.0, 2\.0 and 3\.0 are known/],
    ['deep.npy', npyBytes(`${'('.repeat(100)}${')'.repeat(100)}`, new Uint8Array(0)), /nesting too deep/],
  ];
  for (const [name, bytes, re] of cases) {
    const p = file(name, bytes);
    await assertNoLeak(name, () => assert.rejects(io.readNpy(p), (e: unknown) => e instanceof TensorFileError && e.message.startsWith(`tl.io.readNpy: ${p}: `) && re.test(e.message), `${name}`));
  }
  await assert.rejects(io.readNpy(path.join(dir, 'missing.npy')), /tl\.io\.readNpy: .*missing\.npy: no such file/);
  await assert.rejects(io.readNpy(dir), /is a folder, not a file/);
  await assert.rejects(io.readNpy(3 as unknown as string), /tl\.io\.readNpy: path must be a file path \(a non-empty string\), got the number 3/);
});

test('malformed .npz files: not a zip, truncated, a lying .npy header inside, a corrupt entry, a foreign entry', async () => {
  const good = readFileSync(path.join(dir, 'acts_b.npz'));
  const { zipBytes } = await import('../../kernel/analysis/io/npz');
  const lying = npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1000, 1000), }", new Uint8Array(64));
  const corrupt = new Uint8Array(good);
  corrupt[2000] ^= 0xff; // inside the first (stored) array's data
  const cases: [string, Uint8Array, RegExp][] = [
    ['not-zip.npz', new TextEncoder().encode('hello, this is not a zip archive at all'), /is not a zip archive \(an \.npz is one\)/],
    ['truncated.npz', good.subarray(0, good.length >> 1), /is not a zip archive \(an \.npz is one\)/],
    ['lying.npz', zipBytes([{ name: 'x.npy', data: lying }], false), /\(array 'x'\): has an entry of \d+ bytes, but its \.npy header describes 128 \+ \(1000, 1000\) × 4 = 4000128 bytes/],
    ['corrupt.npz', corrupt, /\(array 'layer1'\): is corrupt: its CRC-32 does not match/],
    ['foreign.npz', zipBytes([{ name: 'readme.txt', data: new Uint8Array(3) }], true), /holds 'readme\.txt', which is not a \.npy array/],
    ['twice.npz', zipBytes([{ name: 'a.npy', data: readFileSync(path.join(dir, 'scalar.npy')) }, { name: 'a.npy', data: readFileSync(path.join(dir, 'scalar.npy')) }], false), /holds the array 'a' twice/],
    ['bad-inner.npz', zipBytes([{ name: 'ok.npy', data: readFileSync(path.join(dir, 'scalar.npy')) }, { name: 'bad.npy', data: new Uint8Array(20) }], true), /\(array 'bad'\): is not a \.npy file/],
  ];
  for (const [name, bytes, re] of cases) {
    const p = file(name, bytes);
    await assertNoLeak(name, () => assert.rejects(io.readNpz(p), (e: unknown) => e instanceof TensorFileError && e.message.startsWith(`tl.io.readNpz: ${p}`) && re.test(e.message), name));
  }
});

test('malformed safetensors files: truncated, a huge or non-JSON header, offsets out of range, byte counts that do not match the shape', async () => {
  const st = (header: unknown, data: Uint8Array, length?: bigint): Uint8Array => {
    const h = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
    const out = new Uint8Array(8 + h.length + data.length);
    new DataView(out.buffer).setBigUint64(0, length ?? BigInt(h.length), true);
    out.set(h, 8);
    out.set(data, 8 + h.length);
    return out;
  };
  const good = readFileSync(path.join(dir, 'ft1.safetensors'));
  const t = (dtype: string, shape: number[], offsets: number[]) => ({ w: { dtype, shape, data_offsets: offsets } });
  const cases: [string, Uint8Array, RegExp][] = [
    ['tiny.safetensors', new Uint8Array(3), /shorter than the 8-byte header length/],
    ['truncated.safetensors', good.subarray(0, good.length - 10), /data_offsets \[\d+, \d+\] outside the \d+ bytes of data \(truncated file\?\)/],
    ['cut-header.safetensors', good.subarray(0, 50), /is truncated: its header needs \d+ bytes, the file has 50/],
    ['huge.safetensors', st({}, new Uint8Array(0), 1n << 60n), /has a header length of 1152921504606846976 bytes, more than the 100000000 allowed/],
    ['not-json.safetensors', st('{"w": [1, 2', new Uint8Array(0)), /has a header that is not valid JSON/],
    ['not-object.safetensors', st('[1, 2]', new Uint8Array(0)), /header does not start with '\{'/],
    ['out-of-range.safetensors', st(t('F32', [4], [0, 16]), new Uint8Array(8)), /data_offsets \[0, 16\] outside the 8 bytes of data/],
    ['mismatch.safetensors', st(t('F32', [3], [0, 16]), new Uint8Array(16)), /gives the tensor 'w' 16 bytes, but shape \[3\] of F32 needs 12/],
    ['dtype.safetensors', st(t('F8_E4M3', [2], [0, 2]), new Uint8Array(2)), /dtype "F8_E4M3", which TensorFlow\.js cannot hold; supported: F64, F32, F16, BF16/],
    ['shape.safetensors', st(t('F32', [2.5], [0, 10]), new Uint8Array(10)), /has a dimension 2\.5 that is not a non-negative integer/],
    ['overlap.safetensors', st({ a: { dtype: 'U8', shape: [4], data_offsets: [0, 4] }, b: { dtype: 'U8', shape: [2], data_offsets: [2, 4] } }, new Uint8Array(4)), /have tensors that overlap|has tensors that overlap at byte 2/],
    ['gap.safetensors', st(t('U8', [2], [2, 4]), new Uint8Array(4)), /has a gap in its data before 'w' \(bytes 0–2\)/],
    ['metadata.safetensors', st({ __metadata__: { n: 3 } }, new Uint8Array(0)), /has '__metadata__' that is not an object of strings/],
    ['overflow.safetensors', st(t('I64', [1], [0, 8]), new Uint8Array([0, 0, 0, 0, 1, 0, 0, 0])), /\(tensor 'w'\): holds 4294967296 \(a int64\) at flat index 0, outside int32/],
  ];
  for (const [name, bytes, re] of cases) {
    const p = file(name, bytes);
    await assertNoLeak(name, () => assert.rejects(io.readSafetensors(p), (e: unknown) => e instanceof TensorFileError && e.message.startsWith(`tl.io.readSafetensors: ${p}`) && re.test(e.message), name));
  }
});

test('mutated files (bytes flipped, cut short): every read either gives tensors or fails with a TensorFileError, and leaves nothing behind', async () => {
  const sources: [string, (p: string) => Promise<unknown>][] = [
    ['fortran_i2.npy', io.readNpy],
    ['v3.npy', io.readNpy],
    ['acts_a.npz', io.readNpz],
    ['ft2.npz', io.readNpz],
    ['ft1.safetensors', io.readSafetensors],
  ];
  let seed = 12345;
  const rand = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const outcomes = { read: 0, refused: 0 };
  for (const [name, read] of sources) {
    const good = readFileSync(path.join(dir, name));
    for (let k = 0; k < 60; k++) {
      const bytes = new Uint8Array(good);
      // The first bytes (magic, lengths, header) most of the time, anywhere otherwise.
      const at = () => (rand(4) === 0 ? rand(bytes.length) : rand(Math.min(bytes.length, 200)));
      let mutated: Uint8Array = bytes;
      if (k % 3 === 0) mutated = bytes.subarray(0, at());
      else for (let m = 0; m <= rand(3); m++) bytes[at()] = rand(256);
      const p = file(`fuzz-${k}-${name}`, mutated);
      await assertNoLeak(`${name} mutation ${k}`, async () => {
        try {
          tf.dispose((await read(p)) as tf.Tensor);
          outcomes.read++;
        } catch (e) {
          assert.ok(e instanceof TensorFileError, `${name} mutation ${k}: ${(e as Error).stack}`);
          outcomes.refused++;
        }
      });
    }
  }
  assert.ok(outcomes.refused > 100, JSON.stringify(outcomes));
});
