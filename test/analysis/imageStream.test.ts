import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import os from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { tf } from '../../kernel/analysis/tfjs';
import { initBackend } from '../../kernel/analysis/backends';
import { imageFolder, stream, synthetic, type ImageStream } from '../../kernel/analysis/dataLoaders';
import { randomRegion } from '../../kernel/analysis/imageDecode';
import { cnn, resnet } from '../../kernel/analysis/netModel';
import { evaluate, train } from '../../kernel/analysis/train';
import { fineTune, trainFromScratch } from '../../kernel/analysis/transfer';
import * as cka from '../../kernel/analysis/cka';
import { DatasetError, InvalidArgumentError } from '../../kernel/analysis/errors';
import { rng } from '../../kernel/analysis/random';
import { assertNoLeak } from './leak';

before(async () => {
  await initBackend('wasm');
});

function tmp(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'tl-stream-'));
}

/** A PNG whose pixel (x, y) has channels f(x, y, c) (bytes). */
function png(w: number, h: number, f: (x: number, y: number, c: number) => number): Buffer {
  const p = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) p.data[(y * w + x) * 4 + c] = f(x, y, c);
      p.data[(y * w + x) * 4 + 3] = 255;
    }
  }
  return PNG.sync.write(p);
}

/** A folder of `perClass` images in each of `classes` classes, sizes varying, seeded content. */
function makeFolder(dir: string, classes: number, perClass: number, sizes: readonly (readonly [number, number])[] = [[12, 12]]): void {
  const r = rng(11);
  for (let k = 0; k < classes; k++) {
    mkdirSync(path.join(dir, `class${k}`));
    for (let i = 0; i < perClass; i++) {
      const [w, h] = sizes[(k * perClass + i) % sizes.length]!;
      const base = Math.floor(r() * 200);
      writeFileSync(path.join(dir, `class${k}`, `img${String(i).padStart(3, '0')}.png`), png(w, h, (x, y, c) => (base + 7 * x + 3 * y * (c + 1) + 40 * k) % 256));
    }
  }
}

async function passPixels(s: ImageStream, epoch = 0): Promise<{ x: Float32Array; y: Int32Array; shapes: number[] }> {
  const xs: number[] = [];
  const ys: number[] = [];
  const shapes: number[] = [];
  for await (const b of s.batches({ epoch })) {
    xs.push(...b.x.dataSync());
    ys.push(...b.y.dataSync());
    shapes.push(b.x.shape[0]);
    tf.dispose([b.x, b.y]);
  }
  return { x: Float32Array.from(xs), y: Int32Array.from(ys), shapes };
}

/** Bilinear sample (half-pixel centres, clamped) of a region, in float64: the reference. */
function reference(w: number, h: number, f: (x: number, y: number, c: number) => number, region: { x0: number; y0: number; width: number; height: number }, oh: number, ow: number, flip: boolean): Float64Array {
  const out = new Float64Array(oh * ow * 3);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      const fx = Math.min(Math.max(region.x0 + ((x + 0.5) * region.width) / ow - 0.5, 0), w - 1);
      const fy = Math.min(Math.max(region.y0 + ((y + 0.5) * region.height) / oh - 0.5, 0), h - 1);
      const [x0, y0] = [Math.floor(fx), Math.floor(fy)];
      const [x1, y1] = [Math.min(x0 + 1, w - 1), Math.min(y0 + 1, h - 1)];
      const [wx, wy] = [fx - x0, fy - y0];
      const ox = flip ? ow - 1 - x : x;
      for (let c = 0; c < 3; c++) {
        const v = (1 - wy) * ((1 - wx) * f(x0, y0, c) + wx * f(x1, y0, c)) + wy * ((1 - wx) * f(x0, y1, c) + wx * f(x1, y1, c));
        out[(y * ow + ox) * 3 + c] = v / 255;
      }
    }
  }
  return out;
}

test('centre crop and flip against a float64 reference; random resized crops stay in range', async () => {
  const dir = tmp();
  try {
    const f = (x: number, y: number, c: number) => (17 * x + 29 * y + 61 * c) % 256;
    mkdirSync(path.join(dir, 'a'));
    mkdirSync(path.join(dir, 'b'));
    writeFileSync(path.join(dir, 'a', 'wide.png'), png(12, 8, f));
    writeFileSync(path.join(dir, 'b', 'wide.png'), png(12, 8, f));
    // Centre crop of a 12×8 image to 4×4: the central 8×8 region; with cropFraction 0.5 the central 4×4.
    for (const [fraction, region] of [
      [1, { x0: 2, y0: 0, width: 8, height: 8 }],
      [0.5, { x0: 4, y0: 2, width: 4, height: 4 }],
    ] as const) {
      const s = await imageFolder(dir, { size: [4, 4], cropFraction: fraction, workers: 0 });
      const got = await passPixels(s);
      const want = reference(12, 8, f, region, 4, 4, false);
      assert.equal(got.x.length, 2 * want.length);
      for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got.x[i]! - want[i]!) < 1e-6, `fraction ${fraction}, value ${i}: ${got.x[i]} vs ${want[i]}`);
    }
    // A crop of the whole image (scale 1, the image's own aspect ratio) always flipped: the mirrored resize.
    const flipped = await imageFolder(dir, { size: [4, 6], augment: { scale: [1, 1], ratio: [1.5, 1.5], flip: 1 }, workers: 0 });
    const got = await passPixels(flipped);
    const want = reference(12, 8, f, { x0: 0, y0: 0, width: 12, height: 8 }, 4, 6, true);
    for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got.x[i]! - want[i]!) < 1e-6, `flipped value ${i}: ${got.x[i]} vs ${want[i]}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // torchvision's ranges: area 8–100%, aspect 3/4–4/3, inside the image, both ends reached.
  const r = rng(5);
  let [minArea, maxArea] = [1, 0];
  for (let i = 0; i < 2000; i++) {
    const g = randomRegion(40, 30, { scale: [0.08, 1], ratio: [3 / 4, 4 / 3], flip: 0.5 }, r);
    assert.ok(g.x0 >= 0 && g.y0 >= 0 && g.x0 + g.width <= 40 && g.y0 + g.height <= 30, JSON.stringify(g));
    const area = (g.width * g.height) / 1200;
    minArea = Math.min(minArea, area);
    maxArea = Math.max(maxArea, area);
    assert.ok(area <= 1 && g.width / g.height > 0.7 && g.width / g.height < 1.45, JSON.stringify(g));
  }
  assert.ok(minArea < 0.12 && maxArea > 0.7, `areas ${minArea}–${maxArea}`);
});

test('the same seed gives the same batches whatever the number of workers; epochs and seeds differ', async () => {
  const dir = tmp();
  try {
    makeFolder(dir, 3, 9, [[12, 12], [16, 10], [10, 14]]);
    const opts = { size: [8, 8] as const, batchSize: 5, shuffle: true, augment: true, seed: 3 };
    const streams = await Promise.all([0, 1, 2].map((workers) => imageFolder(dir, { ...opts, workers })));
    const passes: Awaited<ReturnType<typeof passPixels>>[] = [];
    for (const s of streams) passes.push(await passPixels(s, 1));
    assert.deepEqual(passes[0]!.shapes, [5, 5, 5, 5, 5, 2]);
    for (const p of passes.slice(1)) {
      assert.deepEqual(p.y, passes[0]!.y);
      assert.deepEqual(p.x, passes[0]!.x);
    }
    const epoch0 = await passPixels(streams[1]!, 0);
    assert.notDeepEqual(epoch0.x, passes[0]!.x, 'each epoch has its own order and crops');
    const other = await passPixels(await imageFolder(dir, { ...opts, seed: 4, workers: 1 }), 1);
    assert.notDeepEqual(other.x, passes[0]!.x);
    // The labels follow the order: every class appears 9 times.
    assert.deepEqual([0, 1, 2].map((k) => passes[0]!.y.filter((l) => l === k).length), [9, 9, 9]);
    for (const s of streams) await s.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stopping early stops the workers; a bad file fails with its name; a plain script exits without dispose', async () => {
  const dir = tmp();
  try {
    makeFolder(dir, 2, 12);
    const s = await imageFolder(dir, { batchSize: 4, workers: 2 });
    const pool = () => (s as unknown as { pool?: unknown }).pool;
    for await (const b of s.batches()) {
      tf.dispose([b.x, b.y]);
      assert.ok(pool() !== undefined, 'decoding on workers');
      break;
    }
    assert.equal(pool(), undefined, 'workers stopped by break');
    await assertNoLeak('a whole pass', () => passPixels(s));
    writeFileSync(path.join(dir, 'class1', 'img005.png'), Buffer.from('not a png'));
    await assert.rejects(passPixels(s), (e: Error) => e instanceof DatasetError && /class1\/img005.png: cannot be decoded as PNG/.test(e.message));
    assert.equal(pool(), undefined, 'workers stopped by the failure');
    await s.dispose();
    await assert.rejects(passPixels(s), /disposed stream/);
    await assert.rejects(imageFolder(dir, { augment: { scale: [0.5, 2] } }), (e: Error) => e instanceof InvalidArgumentError && /options.augment.scale must be \[low, high\]/.test(e.message));
    await assert.rejects(imageFolder(dir, { workers: -1 }), /options.workers/);
    rmSync(path.join(dir, 'class1', 'img005.png'));
    // The bundle as a user's script loads it: a pass stopped early and a whole pass, no dispose, exit in time.
    const script = `const tl = require(${JSON.stringify(path.resolve('dist/analysis.js'))});
      (async () => { await tl.initBackend('cpu');
        const s = await tl.data.imageFolder(${JSON.stringify(dir)}, {batchSize: 4, workers: 2});
        for await (const b of s.batches()) { tl.tf.dispose([b.x, b.y]); break; }
        let n = 0; for await (const b of s.batches()) { n += b.x.shape[0]; tl.tf.dispose([b.x, b.y]); }
        console.log('seen', n, Date.now()); })();`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
    const exited = Date.now();
    assert.equal(r.status, 0, r.stderr);
    const [, seen, done] = /seen (\d+) (\d+)/.exec(r.stdout) ?? [];
    assert.equal(seen, '23');
    // Idle workers stop after 5 s; until then they must not hold the process.
    assert.ok(exited - Number(done) < 3000, `the script exited ${exited - Number(done)} ms after its last line (idle workers must not hold the process)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a slow consumer never has more than `prefetch` batches decoded ahead', async () => {
  const dir = tmp();
  const post = Worker.prototype.postMessage;
  let posted = 0;
  Worker.prototype.postMessage = function (this: Worker, ...args: Parameters<Worker['postMessage']>) {
    posted++;
    return post.apply(this, args);
  };
  try {
    makeFolder(dir, 2, 12);
    const s = await imageFolder(dir, { batchSize: 2, workers: 2, prefetch: 3 });
    let consumed = 0;
    let most = 0;
    for await (const b of s.batches()) {
      tf.dispose([b.x, b.y]);
      consumed++;
      await new Promise((r) => setTimeout(r, 40)); // the backend at work
      most = Math.max(most, posted - consumed);
    }
    assert.equal(consumed, 12);
    assert.equal(posted, 12, 'one job per batch');
    assert.ok(most <= 3, `${most} batches were issued ahead of the consumer (prefetch 3)`);
    await s.dispose();
  } finally {
    Worker.prototype.postMessage = post;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('train, fineTune, trainFromScratch and evaluate take a stream, with the in-memory results', async () => {
  const data = synthetic({ n: 40, classes: 3, size: [12, 12], seed: 2 });
  try {
    // tl.data.stream shuffles per epoch exactly as tl.train orders an in-memory data set.
    const make = () => resnet({ inputShape: [12, 12, 1], numClasses: 3, width: 4, blocks: [1, 1], seed: 1 });
    const [a, b] = [make(), make()];
    const opts = { epochs: 2, lr: 0.05, seed: 5, recalibrateNorm: 18, progress: false } as const;
    // A run keeps its initial weights: the streamed run keeps as many tensors as the in-memory one.
    let before = tf.memory().numTensors;
    const inMemory = await train(a, data, { ...opts, batchSize: 16, validation: data });
    const kept = tf.memory().numTensors - before;
    const s = stream(data, { batchSize: 16, shuffle: true, seed: 5 });
    before = tf.memory().numTensors;
    const streamed = await train(b, s, { ...opts, validation: stream(data, { batchSize: 7 }) });
    assert.equal(tf.memory().numTensors - before, kept, 'no tensor left behind by the streamed run');
    for (const [k, v] of a.variables) assert.ok(tf.tidy(() => tf.max(tf.abs(tf.sub(v, b.variables.get(k)!))).dataSync()[0]!) < 1e-5, `weights ${k}`);
    for (const [k, v] of a.buffers!) assert.ok(tf.tidy(() => tf.max(tf.abs(tf.sub(v, b.buffers!.get(k)!))).dataSync()[0]!) < 1e-5, `BatchNorm statistics ${k}`);
    assert.ok(Math.abs(inMemory.validation!.accuracy - streamed.validation!.accuracy) < 1e-6);
    assert.ok(Math.abs(inMemory.validation!.loss - streamed.validation!.loss) < 1e-5);
    const e1 = await evaluate(a, data, { batchSize: 9 });
    const e2 = await assertNoLeak('evaluate a stream', () => evaluate(a, stream(data, { batchSize: 9 })));
    assert.equal(e2.n, 40);
    assert.ok(Math.abs(e1.loss - e2.loss) < 1e-5 && e1.accuracy === e2.accuracy);
    await assert.rejects(train(b, s, { batchSize: 8, progress: false }), /options.batchSize is 8 but the stream's batches hold 16/);
    await assert.rejects(evaluate(b, s, { batchSize: 8 }), /tl.evaluate: options.batchSize is the number 8 but the stream's batches hold 16/);
    await assert.rejects(evaluate(cnn({ inputShape: [8, 8, 1], numClasses: 3 }), s), /has images 12×12×1 but the model \(cnn\) expects 8×8×1/);
    const pt = await fineTune(inMemory, stream(data, { batchSize: 20 }), { epochs: 1, progress: false });
    const rit = await trainFromScratch(a, stream(data, { batchSize: 20 }), { epochs: 1, progress: false });
    assert.equal(pt.history.at(-1)!.step, 2);
    assert.equal(rit.model.numClasses, 3);
    for (const r of [inMemory, streamed, pt, rit]) r.dispose();
    a.dispose();
    b.dispose();
  } finally {
    data.dispose();
  }
});

test('minibatch CKA over a stream: the full debiased CKA in one batch, the in-memory minibatch estimator in several', async () => {
  const a = cnn({ inputShape: [8, 8, 1], numClasses: 3, channels: [4, 6], hidden: 10, seed: 1 });
  const b = cnn({ inputShape: [8, 8, 1], numClasses: 3, channels: [4, 6], hidden: 10, seed: 2 });
  for (const n of [34, 36]) {
    const data = synthetic({ n, classes: 3, size: [8, 8], seed: n });
    const full = await cka.matrix(a, b, data, { debiased: true });
    const one = await assertNoLeak('minibatch over a stream', () => cka.minibatch(a, b, stream(data, { batchSize: n })));
    const inMemory = await cka.matrix(a, b, data, { estimator: 'minibatch', batchSize: 8 });
    const streamed = await cka.matrix(a, b, stream(data, { batchSize: 8 }));
    assert.equal(streamed.estimator, 'minibatch');
    assert.deepEqual(streamed.batchSizes, inMemory.batchSizes, 'a tail under 4 joins the batch before it');
    for (let i = 0; i < full.rows.length; i++) {
      for (let j = 0; j < full.columns.length; j++) {
        assert.ok(Math.abs(one.values[i]![j]! - full.values[i]![j]!) < 1e-6, `one batch = full debiased at ${i},${j}`);
        assert.ok(Math.abs(streamed.values[i]![j]! - inMemory.values[i]![j]!) < 1e-9, `streamed = in memory at ${i},${j}`);
      }
    }
    await assert.rejects(cka.matrix(a, b, stream(data, { batchSize: 8 }), { estimator: 'full' }), /is 'full' but data is a stream/);
    data.dispose();
  }
  a.dispose();
  b.dispose();
});
