import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../kernel/analysis/tfjs';
import { initBackend } from '../../kernel/analysis/backends';
import { createOptimizer, isOptimizerName, OptimizerName } from '../../kernel/analysis/optimizers';
import { CheckpointHook, historyHook, notify, preciseBatchNorm, type TrainingHook } from '../../kernel/analysis/trainingHooks';
import { cnn, resnet } from '../../kernel/analysis/netModel';
import { synthetic } from '../../kernel/analysis/dataLoaders';
import type { HistoryPoint, RunRecord } from '../../kernel/analysis/progressGroup';
import { assertNoLeak } from './leak';

before(async () => {
  await initBackend('cpu');
});

const values = (t: tf.Tensor) => [...t.dataSync()];
const close = (a: number[], b: number[]) => a.forEach((x, i) => assert.ok(Math.abs(x - b[i]!) < 1e-6, `${a} ≠ ${b}`));

test('SGD with momentum and decoupled weight decay follows the formulas step by step', async () => {
  const w = tf.variable(tf.tensor1d([1, -2]), true, 'opt-sgd-w');
  await assertNoLeak('two SGD steps, then dispose', () => {
    const opt = createOptimizer({ optimizer: OptimizerName.sgd, momentum: 0.5, weightDecay: 0.1 });
    const g = { [w.name]: tf.tensor1d([0.2, 0.4]) };
    opt.step([['w', w]], g, 0.1);
    // vel = g; w ← w − lr·vel − lr·wd·w
    close(values(w), [1 - 0.02 - 0.01, -2 - 0.04 + 0.02]);
    const w1 = values(w);
    opt.step([['w', w]], g, 0.1);
    // vel = 0.5·g + g
    close(values(w), [w1[0]! - 0.1 * 0.3 - 0.01 * w1[0]!, w1[1]! - 0.1 * 0.6 - 0.01 * w1[1]!]);
    tf.dispose(Object.values(g));
    opt.dispose();
  });
  w.dispose();
});

test('Adam\'s first step moves each weight by lr against the sign of its gradient; a variable without gradient is left alone', () => {
  const w = tf.variable(tf.tensor1d([1, 1]), true, 'opt-adam-w');
  const other = tf.variable(tf.tensor1d([5]), true, 'opt-adam-other');
  const opt = createOptimizer({ optimizer: 'adam', momentum: 0.9, weightDecay: 0 });
  const g = { [w.name]: tf.tensor1d([3, -0.01]) };
  opt.step([['w', w], ['other', other]], g, 0.01);
  close(values(w), [0.99, 1.01]);
  assert.deepEqual(values(other), [5]);
  tf.dispose(Object.values(g));
  opt.dispose();
  w.dispose();
  other.dispose();
  assert.ok(isOptimizerName('adam') && !isOptimizerName('rmsprop'));
});

test('notify delivers events to hooks in order and awaits each', async () => {
  const seen: string[] = [];
  const hooks: TrainingHook[] = [
    { onTrainBegin: async () => { await new Promise((r) => setTimeout(r, 5)); seen.push('a'); } },
    {},
    { onTrainBegin: () => { seen.push('b'); } },
  ];
  await notify(hooks, (h) => h.onTrainBegin?.());
  assert.deepEqual(seen, ['a', 'b']);
});

test('history hook records points and marks the run done; checkpoint hook keeps the asked epochs and frees them on error', async () => {
  const run: RunRecord = { label: 'r', points: [], done: false };
  const h = historyHook(run);
  const p: HistoryPoint = { epoch: 1, step: 3, loss: 1, accuracy: 0.5, lr: 0.1 };
  await h.onHistoryPoint!(p);
  await h.onTrainEnd!();
  assert.deepEqual(run, { label: 'r', points: [p], done: true });

  const model = cnn({ inputShape: [8, 8, 1], numClasses: 2, channels: [2], hidden: 0 });
  const before = tf.memory().numTensors;
  const c = new CheckpointHook(model, 'r', [0, 2], undefined);
  await c.onTrainBegin();
  await c.onEpochEnd({ epoch: 1, order: new Int32Array(0), point: { ...p } });
  await c.onEpochEnd({ epoch: 2, order: new Int32Array(0), point: { ...p } });
  assert.deepEqual(c.checkpoints.map((k) => k.epoch), [0, 2]);
  c.onTrainError();
  assert.ok(c.checkpoints.every((k) => k.isDisposed));
  assert.equal(tf.memory().numTensors, before);
  model.dispose();
});

test('precise BatchNorm is a hook only for models with normalisation statistics, and sets them from the sample', async () => {
  const data = synthetic({ n: 16, classes: 2, size: [8, 8], seed: 1 });
  const plain = cnn({ inputShape: [8, 8, 1], numClasses: 2, channels: [2], hidden: 0 });
  assert.equal(preciseBatchNorm(plain, data, 8, 4), undefined);
  const bn = resnet({ inputShape: [8, 8, 1], numClasses: 2, width: 2, blocks: [1], seed: 0 });
  const hook = preciseBatchNorm(bn, data, 8, 4)!;
  assert.ok(hook);
  const mean = bn.buffers.get('conv1/bn/mean')!;
  assert.deepEqual(values(mean), [0, 0]);
  await assertNoLeak('precise BatchNorm', () => hook.onEpochEnd!({ epoch: 1, order: Int32Array.from({ length: 16 }, (_, i) => i), point: { epoch: 1, step: 1, loss: 1, accuracy: 0, lr: 0 } }));
  assert.ok(values(mean).some((v) => v !== 0), 'running mean recomputed');
  plain.dispose();
  bn.dispose();
  data.dispose();
});
