import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../kernel/analysis/tfjs';
import { DISPLAY } from '../../kernel/analysis/display';
import { initBackend } from '../../kernel/analysis/backends';
import { cnn, resnet } from '../../kernel/analysis/netModel';
import { synthetic } from '../../kernel/analysis/dataLoaders';
import { train, evaluate, learningRate, TrainingRun } from '../../kernel/analysis/train';
import { fineTune, trainFromScratch, compareTransfer } from '../../kernel/analysis/transfer';
import { setProgressFactory, StderrProgress, type TrainingProgress } from '../../kernel/analysis/progress';
import { InvalidArgumentError, ShapeMismatchError, TrainingDivergedError } from '../../kernel/analysis/errors';
import { Mime, type TrainingPayload } from '../../kernel/protocol/mime';

before(async () => {
  await initBackend('wasm');
});

// Small, fast tasks: 4 texture orientations on 12×12 images.
const task = (n: number, seed: number, classes = 4) => synthetic({ kind: 'textures', n, classes, size: [12, 12], noise: 0.05, seed });
const smallCnn = (numClasses = 4, seed = 0) => cnn({ inputShape: [12, 12, 1], numClasses, channels: [4, 8], hidden: 16, seed });
const quiet = { progress: false } as const;

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

test('tl.train learns, logs history and validation, keeps checkpoints, and leaks nothing', async () => {
  const data = task(192, 1);
  const val = task(64, 2);
  const model = smallCnn();
  const before = tf.memory().numTensors;
  const run = await train(model, data, { epochs: 4, batchSize: 32, lr: 0.1, validation: val, checkpoints: [0, 2, 4], pointsPerEpoch: 3, ...quiet });
  assert.ok(run instanceof TrainingRun);
  assert.equal(run.model, model);
  assert.equal(run.history.length, 12, 'three points per epoch');
  assert.deepEqual(run.history.filter((p) => Number.isInteger(p.epoch)).map((p) => p.epoch), [1, 2, 3, 4]);
  assert.ok(run.history.filter((p) => p.valAccuracy !== undefined).length === 4, 'validation at every epoch end');
  assert.ok(run.final!.loss < run.history[0]!.loss * 0.7, `loss ${run.history[0]!.loss} → ${run.final!.loss}`);
  assert.ok(run.validation!.accuracy > 0.6, `validation accuracy ${run.validation!.accuracy}`);
  assert.deepEqual(run.checkpoints.map((c) => c.epoch), [0, 2, 4]);
  assert.equal(maxDiff(run.checkpoint(4).weights.get('fc/kernel')!, model.variables.get('fc/kernel')!), 0);
  assert.ok(maxDiff(run.checkpoint(0).weights.get('fc/kernel')!, model.variables.get('fc/kernel')!) > 0);
  assert.equal(maxDiff(run.checkpoint(0).weights.get('conv1/kernel')!, run.initial.weights.get('conv1/kernel')!), 0, 'epoch 0 is θ⁰');
  assert.throws(() => run.checkpoint(3), /TrainingRun.checkpoint: epoch 3 has no checkpoint; available: 0, 2, 4/);
  assert.ok(run.examplesPerSecond > 0);
  run.dispose();
  assert.equal(tf.memory().numTensors, before, 'only the model remains');
  assert.ok(!model.isDisposed, 'tl.train does not own the model');
  model.dispose();
  data.dispose();
  val.dispose();
});

test('training is deterministic for a seed and differs across data-order seeds', async () => {
  const data = task(96, 3);
  const weights = async (seed: number) => {
    const m = smallCnn(4, 5);
    await train(m, data, { epochs: 1, batchSize: 16, seed, ...quiet }).then((r) => r.dispose());
    const w = m.variables.get('conv2/kernel')!.dataSync().slice();
    m.dispose();
    return w;
  };
  assert.deepEqual(await weights(1), await weights(1));
  assert.notDeepEqual(await weights(1), await weights(2));
  data.dispose();
});

test('learning-rate schedules', () => {
  assert.equal(learningRate('constant', 0.1, 50, 100, 10), 0.1);
  assert.equal(learningRate('cosine', 0.1, 0, 100, 10), 0.1);
  assert.ok(Math.abs(learningRate('cosine', 0.1, 50, 100, 10) - 0.05) < 1e-12);
  assert.ok(learningRate('cosine', 0.1, 99, 100, 10) < 0.001);
  assert.equal(learningRate({ type: 'step', every: 2 }, 0.1, 19, 100, 10), 0.1);
  assert.ok(Math.abs(learningRate({ type: 'step', every: 2, gamma: 0.5 }, 0.1, 20, 100, 10) - 0.05) < 1e-12);
  assert.ok(Math.abs(learningRate({ type: 'step', every: 2, gamma: 0.5 }, 0.1, 45, 100, 10) - 0.025) < 1e-12);
});

test('adam, weight decay and a cosine schedule train too', async () => {
  const data = task(128, 4);
  const m = smallCnn();
  const run = await train(m, data, { epochs: 3, batchSize: 32, optimizer: 'adam', lr: 0.01, weightDecay: 1e-4, schedule: 'cosine', ...quiet });
  assert.ok(run.final!.loss < run.history[0]!.loss, `adam loss ${run.history[0]!.loss} → ${run.final!.loss}`);
  assert.ok(run.history[run.history.length - 1]!.lr < 0.01 * 0.2, 'cosine has decayed by the end');
  run.dispose();
  m.dispose();
  data.dispose();
});

test('fineTune (P-T): copies the pre-trained body, re-initialises fc when classes differ or on request', async () => {
  const source = task(128, 5, 4);
  const target = task(96, 6, 3);
  const pre = resnet({ inputShape: [12, 12, 1], numClasses: 4, width: 4, blocks: [1, 1], seed: 1 });
  const preRun = await train(pre, source, { epochs: 1, batchSize: 32, checkpoints: [1], ...quiet });
  const bodyBefore = pre.variables.get('layer1/block0/conv1/kernel')!.dataSync().slice();
  const pt = await fineTune(preRun.checkpoint(1), target, { epochs: 1, batchSize: 32, seed: 3, ...quiet });
  assert.equal(pt.label, 'P-T seed 3');
  assert.equal(pt.model.numClasses, 3);
  assert.deepEqual(pt.model.variables.get('fc/kernel')!.shape, [8, 3]);
  assert.equal(maxDiff(pt.initial.weights.get('layer2/block0/conv1/kernel')!, preRun.checkpoint(1).weights.get('layer2/block0/conv1/kernel')!), 0, 'θ⁰ of P-T is the checkpoint');
  assert.deepEqual(pre.variables.get('layer1/block0/conv1/kernel')!.dataSync(), bodyBefore, 'the pre-trained model is untouched');
  // Same classes: fc kept by default, re-initialised on request.
  const same = await fineTune(pre, source, { epochs: 1, batchSize: 64, ...quiet });
  assert.equal(maxDiff(same.initial.weights.get('fc/kernel')!, pre.variables.get('fc/kernel')!), 0);
  const fresh = await fineTune(pre, source, { epochs: 1, batchSize: 64, reinitHead: true, ...quiet });
  assert.ok(maxDiff(fresh.initial.weights.get('fc/kernel')!, pre.variables.get('fc/kernel')!) > 0);
  const viaRun = await fineTune(preRun, target, { epochs: 1, batchSize: 32, seed: 3, ...quiet });
  assert.equal(maxDiff(viaRun.initial.weights.get('conv1/kernel')!, pre.variables.get('conv1/kernel')!), 0, 'a run stands for its model');
  viaRun.dispose();
  await assert.rejects(fineTune(pre, target, { reinitHead: false, ...quiet }), (e: Error) => e instanceof ShapeMismatchError && /target has 3 classes but the model has 4 outputs/.test(e.message));
  const before = tf.memory().numTensors;
  const nModel = pt.model.variables.size + (pt.model.buffers?.size ?? 0);
  const owned = pt.initial.weights.size + pt.initial.buffers.size;
  pt.dispose();
  assert.equal(tf.memory().numTensors, before - nModel - owned, 'a fine-tuning run owns and frees its model');
  for (const r of [same, fresh, preRun]) r.dispose();
  pre.dispose();
  source.dispose();
  target.dispose();
});

test('trainFromScratch (RI-T): same architecture, fresh seeded init, target classes', async () => {
  const target = task(64, 7, 3);
  const pre = smallCnn(4, 1);
  const rit = await trainFromScratch(pre, target, { epochs: 1, batchSize: 32, seed: 9, ...quiet });
  assert.equal(rit.label, 'RI-T seed 9');
  assert.equal(rit.model.arch, 'cnn');
  assert.equal(rit.model.numClasses, 3);
  assert.ok(maxDiff(rit.initial.weights.get('conv1/kernel')!, pre.variables.get('conv1/kernel')!) > 0, 'not the pre-trained weights');
  const again = await trainFromScratch(pre.config, target, { epochs: 1, batchSize: 32, seed: 9, ...quiet });
  assert.equal(maxDiff(again.initial.weights.get('conv1/kernel')!, rit.initial.weights.get('conv1/kernel')!), 0, 'seeded');
  await assert.rejects(trainFromScratch({ forward: () => 0 } as never, target, quiet), /tl.trainFromScratch: architecture must be a model \(tl.resnet, tl.cnn, tl.fromLayersModel\), a checkpoint or a model config/);
  for (const r of [rit, again]) r.dispose();
  pre.dispose();
  target.dispose();
});

test('compareTransfer runs P-T and RI-T per seed under one progress and displays all curves', async () => {
  const source = task(128, 8);
  const target = task(64, 9);
  const test_ = task(64, 10);
  const pre = smallCnn(4, 2);
  (await train(pre, source, { epochs: 2, batchSize: 32, lr: 0.1, ...quiet })).dispose();
  const updates: TrainingProgress[] = [];
  let titles: string[] = [];
  let doneCalls = 0;
  setProgressFactory((title) => {
    titles.push(title);
    return { update: (p) => updates.push(p), done: () => doneCalls++ };
  });
  try {
    const cmp = await compareTransfer(pre, target, { seeds: [1, 2], epochs: 2, batchSize: 32, test: test_, pointsPerEpoch: 1 });
    assert.deepEqual(titles, ['P-T vs RI-T'], 'one display for all runs');
    assert.equal(doneCalls, 1);
    assert.deepEqual(cmp.pt.map((r) => r.label), ['P-T seed 1', 'P-T seed 2']);
    assert.deepEqual(cmp.rit.map((r) => r.label), ['RI-T seed 1', 'RI-T seed 2']);
    assert.equal(cmp.test!.pt.length, 2);
    assert.equal(updates.length, 12, '4 runs × (2 epochs × 1 point + one update when the run ends)');
    const last = updates[updates.length - 1]!;
    assert.equal(last.payload.runs.length, 4);
    assert.ok(last.payload.runs.every((r) => r.done), 'the live display ends with every run finished');
    assert.equal(last.run, 'RI-T seed 2');
    const bundle = last.bundle();
    assert.ok(bundle[Mime.training] && bundle[Mime.vegaLite] && typeof bundle[Mime.plain] === 'string');
    const shown = cmp[DISPLAY]();
    const payload = shown[Mime.training] as TrainingPayload;
    assert.deepEqual(payload.runs.map((r) => r.points.length), [2, 2, 2, 2]);
    assert.ok(payload.runs.every((r) => r.done));
    assert.match(shown[Mime.plain] as string, /test accuracy: P-T \d+\.\d%, RI-T \d+\.\d% \(mean over 2 seeds\)/);
    cmp.dispose();
  } finally {
    setProgressFactory(undefined);
    titles = [];
  }
  pre.dispose();
  for (const d of [source, target, test_]) d.dispose();
});

test('the default progress writes compact lines to stderr', () => {
  const lines: string[] = [];
  const stream = { isTTY: false, write: (s: string) => lines.push(s) } as unknown as NodeJS.WriteStream;
  const p = new StderrProgress('pre-train', stream, 0);
  p.update({ run: 'pre-train', epoch: 1, epochs: 5, loss: 0.41234, accuracy: 0.875, valAccuracy: 0.851, valLoss: 0.5, examplesPerSecond: 812.4 } as TrainingProgress);
  p.done();
  assert.deepEqual(lines, ['[pre-train] pre-train · epoch 1.0/5 · loss 0.4123 · acc 87.5% · val 85.1% (loss 0.5000) · 812 ex/s\n']);
});

test('evaluate: accuracy and loss as computed by hand, labels or one-hot, no leaks', async () => {
  const data = task(50, 11);
  const m = smallCnn();
  const before = tf.memory().numTensors;
  const e = await evaluate(m, data, { batchSize: 7 });
  assert.equal(tf.memory().numTensors, before);
  const [acc, loss] = tf.tidy(() => {
    const logits = m.forward(data.x).logits;
    const pred = tf.argMax(logits, 1);
    const a = tf.mean(tf.cast(tf.equal(pred, data.y), 'float32')).dataSync()[0]!;
    const l = tf.losses.softmaxCrossEntropy(tf.oneHot(data.y, 4), logits).dataSync()[0]!;
    return [a, l];
  });
  assert.equal(e.n, 50);
  assert.ok(Math.abs(e.accuracy - acc) < 1e-6);
  assert.ok(Math.abs(e.loss - loss) < 1e-5, `${e.loss} vs ${loss}`);
  const onehot = tf.oneHot(data.y, 4);
  const e2 = await evaluate(m, { x: data.x, y: onehot as tf.Tensor2D });
  assert.ok(Math.abs(e2.accuracy - acc) < 1e-6);
  onehot.dispose();
  m.dispose();
  data.dispose();
});

test('bad input is rejected before training, naming function, argument and shapes', async () => {
  const data = task(32, 12);
  const m = smallCnn();
  await assert.rejects(train(m, data, { epochs: 0, ...quiet }), (e: Error) => e instanceof InvalidArgumentError && /tl.train: options.epochs must be between 1 and 100000, got 0/.test(e.message));
  await assert.rejects(train(m, data, { epoch: 3 } as never), /tl.train: options.epoch is not a known option/);
  await assert.rejects(train(m, data, { schedule: 'linear' as never, ...quiet }), /options.schedule must be 'constant', 'cosine' or \{type: 'step', every, gamma\?\}/);
  await assert.rejects(train(m, data, { checkpoints: [7], epochs: 5, ...quiet }), /options.checkpoints\[0\] must be between 0 and 5, got 7/);
  const big = synthetic({ n: 8, size: [16, 16], seed: 1 });
  await assert.rejects(train(m, big, quiet), (e: Error) => e instanceof ShapeMismatchError && e.message === 'tl.train: data.x has images 16×16×1 but the model (cnn) expects 12×12×1');
  const five = task(10, 13, 5);
  await assert.rejects(train(m, five, quiet), /tl.train: data has 5 classes but the model \(cnn\) has 4 outputs/);
  await assert.rejects(train({} as never, data, quiet), /tl.train: model must be a model \(tl.resnet, tl.cnn, …\), got an object/);
  await assert.rejects(evaluate(m, { x: data.x, y: tf.tensor1d([1, 2], 'int32') }), /tl.evaluate: data has 32 images \(x \[32, 12, 12, 1\]\) but 2 labels \(y \[2\]\)/);
  for (const d of [data, big, five]) d.dispose();
  m.dispose();
});

test('a run whose loss becomes NaN stops with TrainingDivergedError and frees what it made', async () => {
  const data = task(64, 14);
  const m = smallCnn();
  // Poison one weight: the loss is NaN from the first step, as after a blow-up.
  m.variables.get('fc/bias')!.assign(tf.tensor1d([NaN, 0, 0, 0]));
  const before = tf.memory().numTensors;
  await assert.rejects(train(m, data, { epochs: 3, lr: 100, batchSize: 16, ...quiet }), (e: Error) => e instanceof TrainingDivergedError && /run 'train' diverged at epoch \d, step \d+ \(loss (NaN|Infinity)\); try a smaller learning rate than 100/.test(e.message));
  assert.equal(tf.memory().numTensors, before);
  m.dispose();
  data.dispose();
});

test('BatchNorm statistics are recomputed exactly at the end of each epoch (recalibrateNorm)', async () => {
  const data = synthetic({ n: 96, classes: 3, size: [12, 12], seed: 4 });
  const stats = (m: ReturnType<typeof resnet>) => {
    const b = m.getBuffers();
    const out = new Map([...b].map(([k, v]) => [k, Array.from(v.dataSync())]));
    for (const v of b.values()) v.dispose();
    return out;
  };
  const statDiff = (a: Map<string, number[]>, b: Map<string, number[]>) => Math.max(...[...a].map(([k, v]) => Math.max(...v.map((x, i) => Math.abs(x - b.get(k)![i]!)))));
  for (const recalibrateNorm of [undefined, false] as const) {
    const model = resnet({ inputShape: [12, 12, 1], numClasses: 3, seed: 1, width: 4, blocks: [1, 1] });
    const run = await train(model, data, { epochs: 1, lr: 0.1, batchSize: 16, progress: false, ...(recalibrateNorm === false ? { recalibrateNorm } : {}) });
    const after = stats(model);
    model.recalibrate(data.x);
    const exact = stats(model);
    const d = statDiff(after, exact);
    if (recalibrateNorm === undefined) assert.ok(d < 1e-4, `statistics after training differ from exact averages by ${d}`);
    else assert.ok(d > 1e-3, `running averages should lag behind exact averages (difference ${d})`);
    run.dispose();
    model.dispose();
  }
  const plain = cnn({ inputShape: [12, 12, 1], numClasses: 3 });
  await assert.rejects(train(plain, data, { recalibrateNorm: -1 }), /options\.recalibrateNorm/);
  plain.dispose();
  data.dispose();
});
