import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { tf } from '../../kernel/analysis/tfjs';
import { initBackend } from '../../kernel/analysis/backends';
import { cifar10, cifar100, idx, CIFAR10_CLASSES, CIFAR100_FINE_CLASSES } from '../../kernel/analysis/dataLoaders';
import { DatasetError } from '../../kernel/analysis/errors';

before(async () => {
  await initBackend('wasm');
});

function tmp(): string {
  // A space and a non-ASCII letter: any path the user gives.
  return mkdtempSync(path.join(os.tmpdir(), 'tl cifar é-'));
}

/** Pixel byte of record `r`, channel c (0 red, 1 green, 2 blue), row y, column x. */
const pixel = (r: number, c: number, y: number, x: number) => (r * 31 + c * 80 + y * 5 + x * 3) % 256;

/** Records in the official layout: label bytes, then the red, green and blue 32×32 planes. */
function records(labels: readonly (readonly number[])[], first = 0): Buffer {
  const parts = labels.map((ls, i) => {
    const r = first + i;
    const rec = Buffer.alloc(ls.length + 3072);
    ls.forEach((l, k) => (rec[k] = l));
    for (let c = 0; c < 3; c++) for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) rec[ls.length + c * 1024 + y * 32 + x] = pixel(r, c, y, x);
    return rec;
  });
  return Buffer.concat(parts);
}

test('CIFAR-10: official files by split in a folder or its parent, or given as files (gzip too); CHW bytes become HWC floats', async () => {
  const root = tmp();
  try {
    const dir = path.join(root, 'cifar-10-batches-bin');
    mkdirSync(dir);
    for (let b = 1; b <= 5; b++) writeFileSync(path.join(dir, `data_batch_${b}.bin`), records([[b], [(b + 3) % 10]], 2 * (b - 1)));
    writeFileSync(path.join(dir, 'test_batch.bin.gz'), gzipSync(records([[9], [0], [4]], 100)));
    const train = await cifar10({ dir: root, seed: 1 });
    assert.deepEqual(train.x.shape, [10, 32, 32, 3]);
    assert.deepEqual(train.classes, CIFAR10_CLASSES);
    assert.equal(String(train).split(':')[0], 'CIFAR-10 train');
    // Find each example's record by its first red byte, then check every byte and the label.
    const x = train.x.dataSync();
    const recordOf = new Map(Array.from({ length: 10 }, (_, r) => [pixel(r, 0, 0, 0), r] as const));
    for (let i = 0; i < 10; i++) {
      const r = recordOf.get(Math.round(x[i * 3072]! * 255))!;
      const b = Math.floor(r / 2) + 1;
      assert.equal(train.labels[i], r % 2 === 0 ? b : (b + 3) % 10, `label of record ${r}`);
      for (let y = 0; y < 32; y += 7) for (let xx = 0; xx < 32; xx += 5) for (let c = 0; c < 3; c++) {
        assert.ok(Math.abs(x[i * 3072 + (y * 32 + xx) * 3 + c]! - pixel(r, c, y, xx) / 255) < 1e-7, `record ${r} (${y}, ${xx}, ${c})`);
      }
    }
    train.dispose();
    const test = await cifar10({ dir, split: 'test', limit: 2 });
    assert.deepEqual(test.x.shape, [2, 32, 32, 3]);
    assert.equal(test.name, 'CIFAR-10 test (2)');
    test.dispose();
    const one = await cifar10({ files: [path.join(dir, 'data_batch_3.bin')] });
    assert.deepEqual([...one.labels].sort(), [3, 6]);
    one.dispose();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('CIFAR-100: fine or coarse labels, names from the folder when present', async () => {
  const dir = tmp();
  try {
    writeFileSync(path.join(dir, 'test.bin'), records([[3, 99], [19, 0], [0, 42]]));
    const fine = await cifar100({ dir, split: 'test' });
    assert.deepEqual([...fine.labels].sort((a, b) => a - b), [0, 42, 99]);
    assert.deepEqual(fine.classes, CIFAR100_FINE_CLASSES);
    assert.equal(fine.classes[99], 'worm');
    fine.dispose();
    writeFileSync(path.join(dir, 'coarse_label_names.txt'), Array.from({ length: 20 }, (_, i) => `super${i}`).join('\n') + '\n');
    const coarse = await cifar100({ dir, split: 'test', labels: 'coarse' });
    assert.deepEqual([...coarse.labels].sort((a, b) => a - b), [0, 3, 19]);
    assert.equal(coarse.classes[19], 'super19');
    const x = tf.tidy(() => tf.max(coarse.x).dataSync()[0]!);
    assert.ok(x <= 1 && x > 0.9);
    coarse.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('malformed CIFAR files: an error naming the file and the byte offset', async () => {
  const dir = tmp();
  try {
    const cut = path.join(dir, 'cut.bin');
    writeFileSync(cut, records([[1], [2], [3]]).subarray(0, 3073 * 2 + 100));
    await assert.rejects(cifar10({ files: [cut] }), (e: Error) => e instanceof DatasetError && e.message.includes(cut) && /is 6246 bytes, not a whole number of 3073-byte records .*: the record at byte offset 6146 is cut short after 100 bytes/.test(e.message));
    const badLabel = path.join(dir, 'label.bin');
    writeFileSync(badLabel, records([[1], [12]]));
    await assert.rejects(cifar10({ files: [badLabel] }), /label.bin: has label 12 at byte offset 3073 \(record 1\); CIFAR-10: .* labels are 0–9/);
    const badFine = path.join(dir, 'fine.bin');
    writeFileSync(badFine, records([[1, 5], [2, 100]]));
    await assert.rejects(cifar100({ files: [badFine] }), /fine.bin: has label 100 at byte offset 3075 \(record 1\); CIFAR-100: .* labels in byte 2 are 0–99/);
    // A CIFAR-10 file read as CIFAR-100 does not divide into 3074-byte records.
    await assert.rejects(cifar100({ files: [badLabel] }), /not a whole number of 3074-byte records/);
    writeFileSync(path.join(dir, 'empty.bin'), Buffer.alloc(0));
    await assert.rejects(cifar10({ files: [path.join(dir, 'empty.bin')] }), /empty.bin: is empty/);
    writeFileSync(path.join(dir, 'bad.gz'), Buffer.from([0x1f, 0x8b, 1, 2, 3]));
    await assert.rejects(cifar10({ files: [path.join(dir, 'bad.gz')] }), /bad.gz: is not a valid gzip file/);
    await assert.rejects(cifar10({ dir }), (e: Error) => e instanceof DatasetError && /has no data_batch_1.bin, .*data_batch_5.bin/.test(e.message));
    await assert.rejects(cifar10({ files: [path.join(dir, 'missing.bin')] }), /missing.bin: no such file/);
    await assert.rejects(cifar10({ dir, files: [cut] }), /takes either dir or files, not both/);
    await assert.rejects(cifar100({ dir, labels: 'super' as never }), /options.labels/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('IDX files at any path, gzip-compressed whatever their name', async () => {
  const dir = tmp();
  try {
    const header = (dims: number[]) => {
      const h = Buffer.alloc(4 + 4 * dims.length);
      h[2] = 0x08;
      h[3] = dims.length;
      dims.forEach((d, i) => h.writeUInt32BE(d, 4 + 4 * i));
      return h;
    };
    const images = Buffer.concat([header([4, 2, 3]), Buffer.from(Array.from({ length: 24 }, (_, i) => i * 10))]);
    writeFileSync(path.join(dir, 'images (copy).idx3'), gzipSync(images));
    writeFileSync(path.join(dir, 'labels.idx1.gz'), gzipSync(Buffer.concat([header([4]), Buffer.from([0, 1, 1, 0])])));
    const d = await idx({ images: path.join(dir, 'images (copy).idx3'), labels: path.join(dir, 'labels.idx1.gz') });
    assert.deepEqual(d.x.shape, [4, 2, 3, 1]);
    assert.deepEqual(d.counts(), [2, 2]);
    d.dispose();
    // Malformed: the file and the byte offset of the fault.
    writeFileSync(path.join(dir, 'cut.idx'), images.subarray(0, 30));
    await assert.rejects(idx({ images: path.join(dir, 'cut.idx'), labels: path.join(dir, 'labels.idx1.gz') }), /cut.idx: has 14 data bytes but its header \[4, 2, 3\] says 24 \(the data from byte offset 16 ends at byte offset 30\)/);
    writeFileSync(path.join(dir, 'float.idx'), Buffer.from([0, 0, 0x0d, 1, 0, 0, 0, 0]));
    await assert.rejects(idx({ images: path.join(dir, 'float.idx'), labels: path.join(dir, 'labels.idx1.gz') }), /float.idx: has IDX element type 0xd at byte offset 2/);
    await assert.rejects(idx({ images: path.join(dir, 'images (copy).idx3'), labels: path.join(dir, 'labels.idx1.gz'), classes: ['only'] }), /labels.idx1.gz: has label 1 at byte offset 9 but only 1 class names were given/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
