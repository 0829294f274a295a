import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../kernel/analysis/tfjs';
import { DISPLAY } from '../../kernel/analysis/display';
import { initBackend } from '../../kernel/analysis/backends';
import { blockShuffle, pixelShuffle, blockPermutation, shufflePreview } from '../../kernel/analysis/shuffle';
import { synthetic } from '../../kernel/analysis/dataLoaders';
import { InvalidArgumentError } from '../../kernel/analysis/errors';
import { Mime, type ImagesPayload } from '../../kernel/protocol/mime';

before(async () => {
  await initBackend('wasm');
});

/** Images whose every entry is distinct: value = image·10⁴ + (row·W + col)·C + channel. */
function numbered(n: number, h: number, w: number, c: number): tf.Tensor4D {
  return tf.tensor4d(Float32Array.from({ length: n * h * w * c }, (_, i) => i), [n, h, w, c]);
}

test('block shuffle moves whole b×b blocks (all channels together) with one permutation for all images', () => {
  const [n, h, w, c, b] = [3, 8, 12, 2, 4];
  const x = numbered(n, h, w, c);
  const before = tf.memory().numTensors;
  const y = blockShuffle(x, b, { seed: 5 });
  assert.equal(tf.memory().numTensors, before + 1, 'only the result tensor is new');
  const xs = x.arraySync();
  const ys = y.arraySync();
  // For each output block, find the input block it came from in image 0; the same mapping must hold in every image.
  const nbw = w / b;
  const source: number[] = [];
  for (let j = 0; j < (h / b) * nbw; j++) {
    const [r0, c0] = [Math.floor(j / nbw) * b, (j % nbw) * b];
    const v = ys[0]![r0]![c0]![0]!;
    const pixel = v / c; // index of the source pixel in image 0
    const [sr, sc] = [Math.floor(pixel / w), pixel % w];
    assert.equal(sr % b, 0, 'blocks start on block boundaries');
    assert.equal(sc % b, 0);
    source.push((sr / b) * nbw + sc / b);
    for (let img = 0; img < n; img++) {
      for (let dy = 0; dy < b; dy++) for (let dx = 0; dx < b; dx++) for (let k = 0; k < c; k++) {
        assert.equal(ys[img]![r0 + dy]![c0 + dx]![k], xs[img]![sr + dy]![sc + dx]![k], `image ${img} block ${j}`);
      }
    }
  }
  assert.deepEqual([...source].sort((p, q) => p - q), source.map((_, i) => i), 'a permutation of the blocks');
  assert.notDeepEqual(source, source.map((_, i) => i), 'not the identity');
  tf.dispose([x, y]);
});

test('same seed same permutation, other seed other permutation; blockSize = image size is the identity', () => {
  assert.deepEqual(blockPermutation(28, 28, 7, 3), blockPermutation(28, 28, 7, 3));
  assert.notDeepEqual(blockPermutation(28, 28, 7, 3), blockPermutation(28, 28, 7, 4));
  assert.deepEqual([...blockPermutation(8, 8, 8, 1)], Array.from({ length: 64 }, (_, i) => i));
  const x = numbered(2, 8, 8, 1);
  const y = blockShuffle(x, 8, { seed: 9 });
  assert.deepEqual(y.dataSync(), x.dataSync());
  tf.dispose([x, y]);
});

test('block size 1 and pixel shuffle keep each image\'s multiset of values (low-level statistics)', () => {
  const x = numbered(2, 6, 6, 3);
  const b1 = blockShuffle(x, 1, { seed: 2 });
  const px = pixelShuffle(x, { seed: 2 });
  for (const t of [b1, px]) {
    const a = t.arraySync();
    for (let i = 0; i < 2; i++) {
      const got = a[i]!.flat(2).sort((p, q) => p - q);
      const want = x.arraySync()[i]!.flat(2).sort((p, q) => p - q);
      assert.deepEqual(got, want);
    }
  }
  // Block size 1 keeps the channels of a pixel together; pixel shuffle does not.
  const b1a = b1.arraySync()[0]!.flat(1);
  assert.ok(b1a.every((p) => p[1] === p[0]! + 1 && p[2] === p[0]! + 2));
  const pxa = px.arraySync()[0]!.flat(1);
  assert.ok(!pxa.every((p) => p[1] === p[0]! + 1 && p[2] === p[0]! + 2));
  tf.dispose([x, b1, px]);
});

test('errors: block sizes that do not divide H and W, non-image shapes, bad seeds', () => {
  const x = tf.zeros([2, 28, 28, 1]) as tf.Tensor4D;
  assert.throws(
    () => blockShuffle(x, 5),
    (e: Error) => e instanceof InvalidArgumentError && e.message === 'tl.blockShuffle: blockSize 5 does not divide the image size 28×28 (H = 28); block sizes that divide both: 1, 2, 4, 7, 14, 28',
  );
  const rect = tf.zeros([1, 8, 12, 1]) as tf.Tensor4D;
  assert.throws(() => blockShuffle(rect, 3), /blockSize 3 does not divide the image size 8×12 \(H = 8\); block sizes that divide both: 1, 2, 4/);
  assert.throws(() => blockShuffle(x, 0), /tl.blockShuffle: blockSize must be a positive integer, got the number 0/);
  assert.throws(() => blockShuffle(x, 2.5), /blockSize must be a positive integer/);
  const flat = tf.zeros([4, 784]);
  assert.throws(() => blockShuffle(flat as never, 4), /tl.blockShuffle: images must be images \[N, H, W, C\] or one image \[H, W, C\], got shape \[4, 784\]/);
  assert.throws(() => pixelShuffle([1, 2, 3] as never), /tl.pixelShuffle: images must be images/);
  assert.throws(() => blockShuffle(x, 4, { seed: -1 }), /options.seed must be an integer from 0 to 2³² − 1, got the number -1/);
  tf.dispose([x, rect, flat]);
});

test('datasets are shuffled image by image with their labels kept', () => {
  const d = synthetic({ n: 12, classes: 3, size: [8, 8], seed: 1 });
  const s = blockShuffle(d, 4, { seed: 1 });
  assert.equal(s.size, 12);
  assert.deepEqual([...s.labels], [...d.labels]);
  assert.match(s.name, /block 4/);
  const direct = blockShuffle(d.x, 4, { seed: 1 });
  assert.deepEqual(s.x.dataSync(), direct.dataSync());
  const p = pixelShuffle(d, { seed: 3 });
  assert.match(p.name, /pixel shuffle/);
  for (const t of [d, s, p]) t.dispose();
  direct.dispose();
});

test('the preview is an images bundle with PNGs, a vega-lite fallback and text', async () => {
  const d = synthetic({ n: 8, classes: 2, size: [28, 28], seed: 2 });
  const before = tf.memory().numTensors;
  const r = await shufflePreview(d, { count: 3, seed: 1 });
  assert.equal(tf.memory().numTensors, before);
  const bundle = r[DISPLAY]();
  const payload = bundle[Mime.images] as ImagesPayload;
  assert.deepEqual(payload.rows.map((row) => row.label), ['original', 'block 14', 'block 7', 'block 4', 'block 1', 'pixel']);
  assert.equal(payload.width, 28);
  assert.ok(payload.rows.every((row) => row.images.length === 3));
  const png = Buffer.from(payload.rows[0]!.images[0]!, 'base64');
  assert.deepEqual([...png.subarray(1, 4)], [...Buffer.from('PNG')]);
  const vl = bundle[Mime.vegaLite] as { mark: { type: string }; data: { values: unknown[] } };
  assert.equal(vl.mark.type, 'image');
  assert.equal(vl.data.values.length, 18);
  assert.match(bundle[Mime.plain] as string, /6 rows of 28×28 images/);
  d.dispose();
});
