import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../kernel/analysis/tfjs';
import { initBackend } from '../../kernel/analysis/backends';
import { cnn, resnet, modelFromConfig, NetModel, batchNormTrain } from '../../kernel/analysis/netModel';
import { InvalidArgumentError, ShapeMismatchError } from '../../kernel/analysis/errors';
import { assertNoLeak } from './leak';
import { convReluPool } from '../../kernel/analysis/fusedOps';

before(async () => {
  await initBackend('wasm');
});

const images = (n: number, h = 12, w = 12, c = 1, seed = 1) => tf.randomUniform([n, h, w, c], 0, 1, 'float32', seed) as tf.Tensor4D;

test('module names, output shapes and parameter names', () => {
  const r = resnet({ inputShape: [12, 12, 3], numClasses: 4, width: 4, blocks: [1, 2], seed: 3 });
  assert.deepEqual(r.moduleNames, ['conv1', 'layer1', 'layer2', 'fc']);
  assert.equal(r.arch, 'resnet-mini');
  assert.ok(r.variables.has('conv1/kernel'));
  assert.ok(r.variables.has('layer2/block0/shortcut/kernel'));
  assert.ok(r.variables.has('layer2/block1/bn2/gamma'));
  assert.ok(r.buffers.has('layer2/block1/bn2/mean'));
  const x = images(2, 12, 12, 3);
  const { logits, activations } = r.forward(x, { collect: ['conv1', 'layer2', 'fc'] });
  assert.deepEqual(logits.shape, [2, 4]);
  assert.deepEqual(activations.get('conv1')!.shape, [2, 12, 12, 4]);
  assert.deepEqual(activations.get('layer2')!.shape, [2, 6, 6, 8]);
  assert.deepEqual(activations.get('fc')!.shape, [2, 4]);
  tf.dispose([logits, x, ...activations.values()]);
  r.dispose();

  const c = cnn({ inputShape: [12, 12, 1], numClasses: 3, channels: [4, 8], hidden: 16 });
  assert.deepEqual(c.moduleNames, ['conv1', 'conv2', 'fc1', 'fc']);
  assert.deepEqual([...c.variables.keys()], ['conv1/kernel', 'conv1/bias', 'conv2/kernel', 'conv2/bias', 'fc1/kernel', 'fc1/bias', 'fc/kernel', 'fc/bias']);
  assert.deepEqual(c.variables.get('fc1/kernel')!.shape, [3 * 3 * 8, 16]);
  c.dispose();

  const f = resnet({ inputShape: [8, 8, 1], numClasses: 2, width: 2, blocks: [1], norm: 'none' });
  assert.equal(f.arch, 'resnet-mini-nonorm');
  assert.equal(f.buffers.size, 0);
  assert.ok(f.variables.has('layer1/block0/scale'));
  f.dispose();
});

test('seeded initialisation: same seed same weights, different seed different weights', () => {
  const a = resnet({ inputShape: [8, 8, 1], numClasses: 3, width: 4, seed: 7 });
  const b = resnet({ inputShape: [8, 8, 1], numClasses: 3, width: 4, seed: 7 });
  const c = resnet({ inputShape: [8, 8, 1], numClasses: 3, width: 4, seed: 8 });
  const k = 'layer1/block0/conv1/kernel';
  assert.deepEqual(a.variables.get(k)!.dataSync(), b.variables.get(k)!.dataSync());
  assert.notDeepEqual(a.variables.get(k)!.dataSync(), c.variables.get(k)!.dataSync());
  // He initialisation: std ≈ sqrt(2 / fan_in).
  const w = a.variables.get('layer3/block0/conv2/kernel')!;
  const std = Math.sqrt(tf.moments(w).variance.dataSync()[0]!);
  const expected = Math.sqrt(2 / (3 * 3 * 16));
  assert.ok(Math.abs(std - expected) / expected < 0.1, `std ${std} vs ${expected}`);
  tf.dispose([a, b, c].flatMap((m) => [...m.variables.values()]));
});

test('forward, getWeights/setWeights, clone and dispose leak no tensors', async () => {
  const m = resnet({ inputShape: [8, 8, 1], numClasses: 3, width: 4, seed: 1 });
  const x = images(4, 8, 8);
  await assertNoLeak('forward', () => {
    const r = m.forward(x, { collect: ['layer1'] });
    tf.dispose([r.logits, ...r.activations.values()]);
  });
  await assertNoLeak('forward training', () => m.forward(x, { training: true }).logits.dispose());
  await assertNoLeak('weights round trip', () => {
    const w = m.getWeights();
    m.setWeights(w);
    tf.dispose([...w.values()]);
  });
  await assertNoLeak('clone', () => m.clone().dispose());
  await assertNoLeak('recalibrate', () => m.recalibrate(x, { batchSize: 3 }));
  await assertNoLeak('summary', () => m.summary());
  await assertNoLeak('gradients', () => {
    const g = tf.variableGrads(() => tf.mean(m.forward(x, { training: true }).logits) as tf.Scalar);
    tf.dispose([g.value, ...Object.values(g.grads)]);
  });
  x.dispose();
  const n = tf.memory().numTensors;
  m.dispose();
  assert.equal(tf.memory().numTensors, n - m.variables.size - m.buffers.size);
  assert.throws(() => m.forward(images(1, 8, 8)), /disposed model/);
});

test('clone is independent and equal; withNewHead keeps the body and re-initialises fc', () => {
  const m = cnn({ inputShape: [8, 8, 1], numClasses: 3, channels: [4], hidden: 8, seed: 2 });
  const c = m.clone();
  const x = images(3, 8, 8);
  const [a, b] = [m.forward(x).logits, c.forward(x).logits];
  assert.deepEqual(a.dataSync(), b.dataSync());
  c.variables.get('fc/bias')!.assign(tf.ones([3]));
  assert.equal(m.variables.get('fc/bias')!.dataSync()[0], 0);
  const h = m.withNewHead(5, 9);
  assert.equal(h.numClasses, 5);
  assert.deepEqual(h.variables.get('fc/kernel')!.shape, [8, 5]);
  assert.deepEqual(h.variables.get('conv1/kernel')!.dataSync(), m.variables.get('conv1/kernel')!.dataSync());
  tf.dispose([a, b, x]);
  for (const mm of [m, c, h]) mm.dispose();
});

test('BatchNorm: training updates running statistics; recalibrate sets exact averages', () => {
  const m = resnet({ inputShape: [6, 6, 1], numClasses: 2, width: 2, blocks: [1], seed: 4 });
  const x = tf.add(tf.mul(images(8, 6, 6), 4), 3) as tf.Tensor4D; // inputs far from mean 0 / var 1
  m.forward(x, { training: true }).logits.dispose();
  const mean1 = m.buffers.get('conv1/bn/mean')!.dataSync().slice();
  assert.ok(mean1.some((v) => v !== 0), 'running mean moved');
  m.recalibrate(x, { batchSize: 3 });
  // After recalibration, conv1's running mean equals the mean of conv1's conv output over x.
  const expected = tf.tidy(() => tf.mean(tf.conv2d(x, m.variables.get('conv1/kernel') as tf.Tensor4D, 1, 'same'), [0, 1, 2]).dataSync());
  const got = m.buffers.get('conv1/bn/mean')!.dataSync();
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(got[i]! - expected[i]!) < 1e-4, `channel ${i}: ${got[i]} vs ${expected[i]}`);
  x.dispose();
  m.dispose();
});

test('the hand-written BatchNorm gradient equals the one tfjs derives through moments and batchNorm', () => {
  const [x, g, b, r] = [tf.randomNormal([3, 4, 5, 6], 1, 2, 'float32', 1), tf.randomNormal([6], 1, 0.5, 'float32', 2), tf.randomNormal([6], 0, 1, 'float32', 3), tf.randomNormal([3, 4, 5, 6], 0, 1, 'float32', 4)];
  const ours = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => {
    const { y, mean, variance } = batchNormTrain(xx as tf.Tensor4D, gg as tf.Tensor1D, bb as tf.Tensor1D);
    mean.dispose();
    variance.dispose();
    return tf.sum(tf.mul(y, r));
  };
  const reference = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => {
    const m = tf.moments(xx, [0, 1, 2]);
    return tf.sum(tf.mul(tf.batchNorm(xx, m.mean, m.variance, bb as tf.Tensor1D, gg as tf.Tensor1D, 1e-5), r));
  };
  const before = tf.memory().numTensors;
  const got = tf.grads(ours)([x, g, b]);
  assert.equal(tf.memory().numTensors, before + 3, 'only the three gradients remain');
  const want = tf.grads(reference)([x, g, b]);
  got.forEach((t, i) => {
    const err = tf.tidy(() => tf.max(tf.abs(tf.sub(t, want[i]!))).dataSync()[0]! / tf.max(tf.abs(want[i]!)).dataSync()[0]!);
    assert.ok(err < 1e-4, `gradient ${['x', 'gamma', 'beta'][i]} differs by ${err}`);
  });
  const { y, mean, variance } = batchNormTrain(x as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D);
  const m = tf.moments(x, [0, 1, 2]);
  assert.ok(tf.tidy(() => tf.max(tf.abs(tf.sub(mean, m.mean))).dataSync()[0]!) < 1e-5);
  assert.ok(tf.tidy(() => tf.max(tf.abs(tf.sub(variance, m.variance))).dataSync()[0]!) < 1e-4);
  tf.dispose([x, g, b, r, y, mean, variance, m.mean, m.variance, ...got, ...want]);
});

test('the fused conv–ReLU–pool block has tfjs\'s gradients (wasm kernel and composite path), and skips dx when asked', async () => {
  const run = (fused: boolean, inputGrad = true): unknown[] => {
    const out: unknown[] = [];
    tf.tidy(() => {
      const x = tf.randomNormal([2, 6, 8, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
      const w = tf.randomNormal([3, 3, 3, 4], 0, 0.5, 'float32', 2) as tf.Tensor4D;
      const b = tf.randomNormal([4], 0, 0.5, 'float32', 3) as tf.Tensor1D;
      const r = tf.randomNormal([2, 3, 4, 4], 0, 1, 'float32', 4);
      const f = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
        tf.sum(tf.mul(r, fused ? convReluPool(xx as tf.Tensor4D, ww as tf.Tensor4D, bb as tf.Tensor1D, inputGrad) : tf.maxPool(tf.relu(tf.add(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, 1, 'same'), bb)) as tf.Tensor4D, 2, 2, 'same')));
      for (const g of tf.grads(f)([x, w, b])) out.push(g.arraySync());
    });
    return out;
  };
  for (const backend of ['cpu', 'wasm'] as const) {
    await initBackend(backend);
    const want = run(false) as number[][];
    const got = run(true) as number[][];
    const flat = (a: unknown) => (a as number[]).flat(4) as number[];
    for (let i = 0; i < 3; i++) {
      const [g, e] = [flat(got[i]), flat(want[i])];
      const err = Math.max(...g.map((v, j) => Math.abs(v - e[j]!)));
      assert.ok(err < 1e-4, `${backend}: gradient ${['x', 'w', 'b'][i]} differs by ${err}`);
    }
    const noDx = run(true, false) as number[][];
    assert.ok(flat(noDx[0]).every((v) => v === 0), 'inputGrad false gives a zero input gradient');
  }
  await initBackend('wasm');
});

test('Fixup ResNet without normalisation starts with zero output and trains', () => {
  const m = resnet({ inputShape: [8, 8, 1], numClasses: 3, width: 4, blocks: [1, 1], norm: 'none', seed: 5 });
  // Class k: brightness 0.1 + 0.4·k plus noise.
  const x = tf.tidy(() => tf.add(tf.mul(images(6, 8, 8), 0.1), tf.reshape(tf.tensor1d([0.1, 0.5, 0.9, 0.1, 0.5, 0.9]), [6, 1, 1, 1]))) as tf.Tensor4D;
  const logits = m.forward(x).logits;
  assert.deepEqual([...logits.dataSync()], new Array(18).fill(0));
  logits.dispose();
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2], 'int32'), 3);
  const opt = tf.train.sgd(0.2);
  const losses: number[] = [];
  for (let i = 0; i < 25; i++) {
    const l = opt.minimize(() => tf.losses.softmaxCrossEntropy(y, m.forward(x, { training: true }).logits) as tf.Scalar, true)!;
    losses.push(l.dataSync()[0]!);
    l.dispose();
  }
  assert.ok(losses[24]! < losses[0]! * 0.8, `loss ${losses[0]} → ${losses[24]}`);
  tf.dispose([x, y]);
  opt.dispose();
  m.dispose();
});

test('input validation names function, argument and shapes', () => {
  assert.throws(() => resnet({ inputShape: [8, 8], numClasses: 3 } as never), (e: Error) => e instanceof InvalidArgumentError && /tl.resnet: options.inputShape/.test(e.message));
  assert.throws(() => cnn({ inputShape: [8, 8, 1], numClasses: 1 }), /tl.cnn: options.numClasses must be ≥ 2, got 1/);
  assert.throws(() => resnet({ inputShape: [8, 8, 1], numClasses: 3, norm: 'group' as never }), /options.norm must be one of 'batch', 'none'/);
  assert.throws(() => cnn({ inputShape: [8, 8, 1], numClasses: 3, chanels: [3] } as never), /options.chanels is not a known option/);
  const m = cnn({ inputShape: [8, 8, 1], numClasses: 3, channels: [2], hidden: 0 });
  const bad = images(2, 9, 8);
  assert.throws(() => m.forward(bad), (e: Error) => e instanceof ShapeMismatchError && /cnn.forward: x has shape \[2, 9, 8, 1\] but the model expects \[N, 8, 8, 1\]/.test(e.message));
  assert.throws(() => m.forward(images(1, 8, 8), { collect: ['layer9'] }), /options.collect names unknown module/);
  const w = m.getWeights();
  w.get('fc/kernel')!.dispose();
  w.set('fc/kernel', tf.zeros([3, 3]));
  assert.throws(() => m.setWeights(w), /cnn.setWeights: weights parameter 'fc\/kernel' has shape \[3, 3\], expected \[32, 3\]/);
  w.get('fc/kernel')!.dispose();
  w.set('fc/kernel', tf.zeros([32, 3]));
  w.get('fc/bias')!.dispose();
  w.delete('fc/bias');
  assert.throws(() => m.setWeights(w), /missing parameter 'fc\/bias'/);
  tf.dispose([bad, ...w.values()]);
  m.dispose();
});

test('modelFromConfig rebuilds the same model from its JSON config', () => {
  const m = resnet({ inputShape: [8, 8, 2], numClasses: 3, width: 3, blocks: [1, 1], norm: 'none', seed: 11 });
  const config = JSON.parse(JSON.stringify(m.config));
  const r = modelFromConfig(config);
  assert.ok(r instanceof NetModel);
  assert.deepEqual(r.variables.get('layer2/block0/conv1/kernel')!.dataSync(), m.variables.get('layer2/block0/conv1/kernel')!.dataSync());
  assert.throws(() => modelFromConfig({ ...config, arch: 'vgg' }), /tl.modelFromConfig: config.arch must be 'cnn' or 'resnet-mini'/);
  m.dispose();
  r.dispose();
});
