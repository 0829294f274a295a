/**
 * The proof that a streamed image folder keeps memory bounded: 20,000 generated 32×32 PNGs
 * (234 MiB as float32 in memory) stream through `tl.data.imageFolder` in a child process that
 * loads the built bundle as a user's script would; its peak RSS growth over the pass must stay
 * under BOUND_MB, and loading the same folder into memory (`load()`) must exceed it, so the
 * measurement can fail. Then, on a subset, streamed results equal the in-memory path.
 *
 * 32×32 rather than smaller: at 16×16 the whole folder is 59 MiB as float32, too close to what the
 * garbage collector lets a stream accumulate (~45 MiB measured) for an honest margin. Writing the
 * 20,000 files takes ~7 s on a loaded 2-core machine (deflate level 1).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { tf } from '../../kernel/analysis/tfjs';
import { initBackend } from '../../kernel/analysis/backends';
import { imageFolder } from '../../kernel/analysis/dataLoaders';
import { cnn } from '../../kernel/analysis/netModel';
import { evaluate } from '../../kernel/analysis/train';
import * as cka from '../../kernel/analysis/cka';

const N = 20_000;
const SIDE = 32;
/** Peak RSS growth allowed while streaming the whole folder once (MiB). */
const BOUND_MB = 160;

let dir: string;

before(async () => {
  await initBackend('wasm');
  dir = mkdtempSync(path.join(os.tmpdir(), 'tl-stream-memory-'));
  for (let k = 0; k < 10; k++) mkdirSync(path.join(dir, `class${k}`));
  const p = new PNG({ width: SIDE, height: SIDE });
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < p.data.length; j++) p.data[j] = (j & 3) === 3 ? 255 : (i * 7 + j * 13 + ((i * j) >> 5)) & 255;
    writeFileSync(path.join(dir, `class${i % 10}`, `${String(i).padStart(5, '0')}.png`), PNG.sync.write(p, { deflateLevel: 1, filterType: 0 }));
  }
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Measured {
  readonly n: number;
  readonly growthMB: number;
}

/** Runs one pass (`stream`) or `load()` in a fresh process; the peak RSS growth after the first batch. */
function measure(mode: 'stream' | 'load'): Measured {
  const script = `const tl = require(${JSON.stringify(path.resolve('dist/analysis.js'))});
(async () => {
  await tl.initBackend('cpu');
  const s = await tl.data.imageFolder(${JSON.stringify(dir)}, { batchSize: 64, workers: 2 });
  const it = s.batches();
  const first = (await it.next()).value;
  let n = first.x.shape[0];
  tl.tf.dispose([first.x, first.y]);
  const base = process.memoryUsage().rss;
  let peak = base;
  const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  if (${JSON.stringify(mode)} === 'stream') {
    for await (const b of it) { n += b.x.shape[0]; peak = Math.max(peak, process.memoryUsage().rss); tl.tf.dispose([b.x, b.y]); }
  } else {
    await it.return();
    const d = await s.load();
    n = d.size;
    peak = Math.max(peak, process.memoryUsage().rss);
  }
  clearInterval(sample);
  console.log(JSON.stringify({ n, growthMB: (peak - base) / 2 ** 20 }));
})();`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `${mode}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Measured;
}

test(`a streamed folder of ${N} images: peak RSS growth under ${BOUND_MB} MiB; loading it all exceeds that`, () => {
  const streamed = measure('stream');
  const loaded = measure('load');
  const floats = (N * SIDE * SIDE * 3 * 4) / 2 ** 20;
  console.log(`RSS growth: streamed ${streamed.growthMB.toFixed(0)} MiB, loaded ${loaded.growthMB.toFixed(0)} MiB (the images are ${floats.toFixed(0)} MiB as float32), bound ${BOUND_MB} MiB`);
  assert.equal(streamed.n, N);
  assert.equal(loaded.n, N);
  assert.ok(streamed.growthMB < BOUND_MB, `streaming grew RSS by ${streamed.growthMB.toFixed(1)} MiB, over the bound of ${BOUND_MB} MiB`);
  assert.ok(loaded.growthMB > BOUND_MB, `loading everything grew RSS by only ${loaded.growthMB.toFixed(1)} MiB: the bound would not catch it`);
});

test('on a subset, streamed batches, evaluation and minibatch CKA equal the in-memory path', async () => {
  const folder = await imageFolder(dir, { batchSize: 64, workers: 2 });
  const subset = folder.take(300, 1);
  const whole = await imageFolder(dir, { batchSize: 300, workers: 2 });
  const oneBatch = whole.take(300, 1);
  const data = await subset.load();
  try {
    assert.deepEqual(subset.paths, oneBatch.paths);
    // Same images, same order, the centre crop of a same-size image: the bytes / 255.
    const x = data.x.dataSync();
    let k = 0;
    for await (const b of subset.batches()) {
      const bx = b.x.dataSync();
      assert.deepEqual(bx, x.subarray(k * SIDE * SIDE * 3, k * SIDE * SIDE * 3 + bx.length));
      assert.deepEqual(b.y.dataSync(), data.y.dataSync().subarray(k, k + b.x.shape[0]));
      k += b.x.shape[0];
      tf.dispose([b.x, b.y]);
    }
    assert.equal(k, 300);
    for (const i of [0, 137, 299]) {
      const png = PNG.sync.read(readFileSync(subset.paths[i]!));
      for (let p = 0; p < SIDE * SIDE; p++) for (let c = 0; c < 3; c++) assert.equal(x[(i * SIDE * SIDE + p) * 3 + c], Math.fround(png.data[p * 4 + c]! / 255));
    }
    const a = cnn({ inputShape: [SIDE, SIDE, 3], numClasses: 10, channels: [4, 8], hidden: 16, seed: 1 });
    const b = cnn({ inputShape: [SIDE, SIDE, 3], numClasses: 10, channels: [4, 8], hidden: 16, seed: 2 });
    const e1 = await evaluate(a, subset);
    const e2 = await evaluate(a, data);
    assert.equal(e1.n, 300);
    assert.ok(Math.abs(e1.loss - e2.loss) < 1e-5 && e1.accuracy === e2.accuracy, `${JSON.stringify(e1)} vs ${JSON.stringify(e2)}`);
    const streamed = await cka.minibatch(a, b, subset, { layers: ['conv2', 'fc'] });
    const inMemory = await cka.matrix(a, b, data, { estimator: 'minibatch', batchSize: 64, layers: ['conv2', 'fc'] });
    const single = await cka.minibatch(a, b, oneBatch, { layers: ['conv2', 'fc'] });
    const full = await cka.matrix(a, b, data, { debiased: true, layers: ['conv2', 'fc'] });
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 2; j++) {
        assert.ok(Math.abs(streamed.values[i]![j]! - inMemory.values[i]![j]!) < 1e-9, `streamed minibatch CKA ${i},${j}`);
        assert.ok(Math.abs(single.values[i]![j]! - full.values[i]![j]!) < 1e-6, `one streamed batch = full debiased CKA ${i},${j}`);
      }
    }
    a.dispose();
    b.dispose();
  } finally {
    data.dispose();
    await Promise.all([folder.dispose(), subset.dispose(), whole.dispose(), oneBatch.dispose()]);
  }
});
