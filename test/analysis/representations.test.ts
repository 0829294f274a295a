import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../kernel/analysis/tfjs';
import { initBackend } from '../../kernel/analysis/backends';
import { cnn } from '../../kernel/analysis/netModel';
import { runAsync } from '../../kernel/analysis/engine';
import { InvalidArgumentError } from '../../kernel/analysis/errors';
import { collectAll, readFeatures } from '../../kernel/analysis/representations';

before(async () => {
  await initBackend('wasm');
});

test('readFeatures flattens each example and names the caller, the argument and the bad value', async () => {
  const x = tf.tensor4d(Array.from({ length: 2 * 2 * 2 * 3 }, (_, i) => i), [2, 2, 2, 3]);
  const { data, n, p } = await runAsync(readFeatures('f', 'X', x));
  assert.deepEqual([n, p], [2, 12]);
  assert.deepEqual(Array.from(data), Array.from({ length: 24 }, (_, i) => i));
  const rows = await runAsync(readFeatures('f', 'X', [[1, 2], [3, 4], [5, 6]]));
  assert.deepEqual([rows.n, rows.p, Array.from(rows.data)], [3, 2, [1, 2, 3, 4, 5, 6]]);
  const bad = tf.tensor2d([1, 2, NaN, 4], [2, 2]);
  await assert.rejects(() => runAsync(readFeatures('f', 'X', bad)), (e: unknown) => e instanceof InvalidArgumentError && /f: X .*NaN.*row 1, column 0/.test((e as Error).message));
  await assert.rejects(() => runAsync(readFeatures('f', 'Y', [[1, 2], [3]])), /f: Y has rows of different lengths: row 1 has 1 values/);
  tf.dispose([x, bad]);
});

test('collectAll gathers each module of a model over forward batches, as one forward pass gives it', async () => {
  const model = cnn({ inputShape: [8, 8, 1], numClasses: 3, channels: [4, 6], hidden: 10, seed: 1 });
  const x = tf.randomUniform([7, 8, 8, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
  const layers = model.moduleNames.slice(0, 2);
  const before = tf.memory().numTensors;
  const got = await runAsync(collectAll('f', model, x, layers, 3));
  assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
  const { logits, activations } = model.forward(x, { collect: layers });
  for (const l of layers) {
    const want = activations.get(l)!;
    const p = want.size / 7;
    assert.equal(got.get(l)!.p, p);
    const w = want.dataSync();
    got.get(l)!.data.forEach((v, i) => assert.ok(Math.abs(v - w[i]!) <= 1e-5 * (1 + Math.abs(w[i]!)), `${l}[${i}]: ${v} vs ${w[i]}`));
  }
  tf.dispose([x, logits, ...activations.values()]);
});
