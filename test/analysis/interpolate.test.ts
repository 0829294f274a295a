import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../kernel/analysis/tfjs';
import { initBackend } from '../../kernel/analysis/backends';
import { interpolate, interpolateAll, InterpolationResult, barrierOf } from '../../kernel/analysis/interpolate';
import { chordEnds, interpolationSpec, lightTheme } from '../../kernel/protocol/charts';
import { cnn, resnet, type NetModel } from '../../kernel/analysis/netModel';
import { evaluate } from '../../kernel/analysis/train';
import type { NamedWeights } from '../../kernel/analysis/modelContract';
import { ShapeMismatchError } from '../../kernel/analysis/errors';
import { Mime } from '../../kernel/protocol/mime';
import { compile as compileVegaLite } from 'vega-lite';
import { assertNoLeak } from './leak';

before(async () => {
  await initBackend('wasm');
});

const config = { inputShape: [8, 8, 1] as [number, number, number], numClasses: 3, channels: [4, 6], hidden: 10 };

function data(n: number, seed: number) {
  const x = tf.randomUniform([n, 8, 8, 1], 0, 1, 'float32', seed) as tf.Tensor4D;
  const y = tf.tensor1d(Array.from({ length: n }, (_, i) => (i * 7 + seed) % 3), 'int32');
  return { x, y };
}

function mixWeights(a: NetModel, b: NetModel, l: number): NamedWeights {
  const out: NamedWeights = new Map();
  for (const [k, v] of a.variables) out.set(k, tf.tidy(() => tf.add(tf.mul(v, 1 - l), tf.mul(b.variables.get(k)!, l))));
  return out;
}

test('loss and accuracy at each λ equal evaluating the interpolated model; barrier as defined', async () => {
  const a = cnn({ ...config, seed: 1 });
  const b = cnn({ ...config, seed: 2 });
  const d = data(50, 3);
  try {
    const r = await assertNoLeak('interpolate', () => interpolate(a, b, d, { lambdas: [0.25, 0.5, 0.75], batchSize: 16, group: 2, label: 'A/B' }));
    const c = r.curves[0]!;
    assert.deepEqual(c.lambdas, [0, 0.25, 0.5, 0.75, 1]);
    assert.equal(c.recalibrated, false);
    const probe = a.clone();
    for (const [i, l] of c.lambdas.entries()) {
      const w = mixWeights(a, b, l);
      probe.setWeights(w);
      tf.dispose([...w.values()]);
      const e = await evaluate(probe, d, { batchSize: 50 });
      assert.ok(Math.abs(c.loss[i]! - e.loss) < 1e-5, `loss at λ=${l}: ${c.loss[i]} vs ${e.loss}`);
      assert.ok(Math.abs(c.accuracy[i]! - e.accuracy) < 1e-9, `accuracy at λ=${l}`);
    }
    probe.dispose();
    let barrier = -Infinity;
    let at = NaN;
    c.lambdas.forEach((l, i) => {
      const v = c.loss[i]! - ((1 - l) * c.loss[0]! + l * c.loss[4]!);
      if (v > barrier) [barrier, at] = [v, l];
    });
    assert.equal(c.barrier, barrier);
    assert.equal(c.barrierLambda, at);
    assert.ok(c.barrier >= 0, 'the endpoints give 0, so the barrier is at least 0');
    // The default grid: 21 points.
    const def = await interpolate(a, a, d);
    assert.equal(def.curves[0]!.lambdas.length, 21);
    assert.ok(Math.abs(def.curves[0]!.barrier) < 1e-6, 'a model with itself has no barrier');
  } finally {
    a.dispose();
    b.dispose();
    tf.dispose([d.x, d.y]);
  }
});

test('barrierOf: max over λ in [0, 1] of the loss above the chord, and where', () => {
  const r = barrierOf([-0.5, 0, 0.5, 1, 1.5], [9, 1, 2.5, 2, 9], [0, 0.9, 0.5, 0.8, 0]);
  assert.equal(r.barrier, 1);
  assert.equal(r.barrierLambda, 0.5);
  assert.ok(Math.abs(r.accuracyBarrier - 0.35) < 1e-12);
});

test('barrierOf: the linear (Frankle et al. 2020) and mean (Ainsworth et al. 2023) definitions against hand-computed values', () => {
  const lambdas = [-0.5, 0, 0.25, 0.5, 0.75, 1, 1.5];
  const loss = [9, 1, 2, 2.6, 2.9, 3, 9];
  const accuracy = [0, 0.9, 0.5, 0.6, 0.55, 0.6, 0];
  // Linear: L − chord at λ = 0.25, 0.5, 0.75 is 2 − 1.5, 2.6 − 2, 2.9 − 2.5 = 0.5, 0.6, 0.4; 0 at the end points.
  const linear = barrierOf(lambdas, loss, accuracy, 'linear');
  assert.ok(Math.abs(linear.barrier - 0.6) < 1e-12);
  assert.equal(linear.barrierLambda, 0.5);
  // Accuracy chord 0.825, 0.75, 0.675 minus 0.5, 0.6, 0.55.
  assert.ok(Math.abs(linear.accuracyBarrier - 0.325) < 1e-12);
  assert.deepEqual(barrierOf(lambdas, loss, accuracy), linear, 'linear is the default');
  // Mean: max L over λ ∈ [0, 1] is 3 (at λ = 1) minus (1 + 3) / 2: the unequal end points alone give ½|L₁ − L₂| = 1.
  const mean = barrierOf(lambdas, loss, accuracy, 'mean');
  assert.ok(Math.abs(mean.barrier - 1) < 1e-12);
  assert.equal(mean.barrierLambda, 1);
  assert.ok(Math.abs(mean.accuracyBarrier - (0.75 - 0.5)) < 1e-12);
  // Both are ≥ 0 whenever 0 and 1 are on the grid, even for a path below the chord.
  const below = barrierOf([0, 0.5, 1], [1, 0.2, 1], [0.5, 0.9, 0.5], 'linear');
  assert.equal(below.barrier, 0);
  assert.equal(below.accuracyBarrier, 0);
  assert.equal(barrierOf([0, 0.5, 1], [1, 0.2, 1], [0.5, 0.9, 0.5], 'mean').barrier, 0);
  assert.throws(() => barrierOf([0.5, 1], [1, 1], [1, 1]), /barrierOf: lambdas must include 0 and 1/);
});

test("barrier: 'mean' is an option of interpolate, interpolateAll and result.barriers(); the result and its views name the definition", async () => {
  const a = cnn({ ...config, seed: 1 });
  const b = cnn({ ...config, seed: 2 });
  const d = data(30, 4);
  try {
    const lin = await interpolate(a, b, d, { lambdas: 5, label: 'A/B' });
    const mean = await interpolate(a, b, d, { lambdas: 5, label: 'A/B', barrier: 'mean' });
    assert.equal(lin.curves[0]!.barrierDefinition, 'linear');
    assert.equal(mean.curves[0]!.barrierDefinition, 'mean');
    const c = mean.curves[0]!;
    assert.deepEqual(c.loss, lin.curves[0]!.loss, 'the definition changes the barrier, not the curve');
    // Float64 by hand from the curve.
    const ends = (c.loss[0]! + c.loss[4]!) / 2;
    const hand = Math.max(...c.loss) - ends;
    assert.ok(Math.abs(c.barrier - hand) < 1e-12, `mean barrier ${c.barrier} vs ${hand}`);
    assert.ok(c.barrier >= Math.abs(c.loss[0]! - c.loss[4]!) / 2 - 1e-12);
    let linHand = -Infinity;
    c.lambdas.forEach((l, i) => (linHand = Math.max(linHand, c.loss[i]! - ((1 - l) * c.loss[0]! + l * c.loss[4]!))));
    assert.ok(Math.abs(lin.curves[0]!.barrier - linHand) < 1e-12);
    // result.barriers(definition) recomputes from the curve.
    assert.equal(mean.barriers().get('A/B'), c.barrier);
    assert.ok(Math.abs(mean.barriers('linear').get('A/B')! - linHand) < 1e-12);
    assert.ok(Math.abs(lin.barriers('mean').get('A/B')! - hand) < 1e-12);
    assert.throws(() => lin.barriers('max' as never), /InterpolationResult\.barriers: definition must be one of 'linear', 'mean'/);
    const all = await interpolateAll([{ label: 'A/B', a, b }], d, { lambdas: 5, barrier: 'mean' });
    assert.equal(all.curves[0]!.barrier, c.barrier);
    // Views: text, payload and chart name the definition; the chart's reference line is the mean end loss.
    assert.match(mean.toString(), /barrier = max over λ of L\(θλ\) − ½\(L\(θ₁\) \+ L\(θ₂\)\) \(mean of the end losses; Ainsworth et al\. 2023\)/);
    assert.match(lin.toString(), /\(linear; Frankle et al\. 2020\)/);
    const payload = mean.toPayload();
    assert.equal(payload.pairs[0]!.barrierDefinition, 'mean');
    assert.deepEqual(chordEnds(payload.pairs[0]!).map((e) => e.loss), [ends, ends]);
    assert.match(JSON.stringify(interpolationSpec(payload, lightTheme).title), /mean end loss \(Ainsworth et al\. 2023\)/);
    assert.match(JSON.stringify(interpolationSpec(lin.toPayload(), lightTheme).title), /straight line between the end losses \(Frankle et al\. 2020\)/);
    const both = InterpolationResult.combine([lin, mean]);
    assert.match(both.toString(), /linear: barrier = [\s\S]*mean: barrier = /);
    await assert.rejects(interpolate(a, b, d, { barrier: 'max' } as never), /tl\.interpolate: options\.barrier must be one of 'linear', 'mean', got the string "max"/);
  } finally {
    a.dispose();
    b.dispose();
    tf.dispose([d.x, d.y]);
  }
});

test('BatchNorm statistics are recomputed at each λ (or interpolated when asked not to)', async () => {
  const opts = { inputShape: [8, 8, 1] as [number, number, number], numClasses: 3, width: 4, blocks: [1] };
  const a = resnet({ ...opts, seed: 1 });
  const b = resnet({ ...opts, seed: 2 });
  const d = data(40, 5);
  const calib = data(64, 6);
  try {
    const r = await assertNoLeak('interpolate with BN', () => interpolate(a, b, d, { lambdas: 3, recalibrationData: calib.x, batchSize: 32 }));
    const c = r.curves[0]!;
    assert.equal(c.recalibrated, true);
    assert.deepEqual(c.recalibration, { recalibrated: true, source: 'recalibrationData', examples: 64 });
    assert.deepEqual(r.warnings(), []);
    assert.match(r.toString(), /on recalibrationData \(64 images\)/);
    const probe = a.clone();
    const w = mixWeights(a, b, 0.5);
    probe.setWeights(w);
    tf.dispose([...w.values()]);
    probe.recalibrate(calib.x, { batchSize: 32 });
    const e = await evaluate(probe, d);
    probe.dispose();
    assert.ok(Math.abs(c.loss[1]! - e.loss) < 1e-5, `λ=0.5 with recomputed statistics: ${c.loss[1]} vs ${e.loss}`);
    const plain = await interpolate(a, b, d, { lambdas: 3, recalibrate: false });
    assert.equal(plain.curves[0]!.recalibrated, false);
    const e0 = await evaluate(a, d);
    assert.ok(Math.abs(plain.curves[0]!.loss[0]! - e0.loss) < 1e-5, 'λ=0 without recalibration is model A as it is');
    let calls = 0;
    const byFunction = await interpolate(a, b, d, { lambdas: 3, recalibrate: () => void calls++ });
    assert.equal(calls, 3);
    assert.equal(byFunction.curves[0]!.recalibration.source, 'function');
    const noBn = cnn({ ...config, seed: 1 });
    await assert.rejects(interpolate(noBn, noBn, d, { recalibrate: true }), /tl\.interpolate: options\.recalibrate is true but the model \(cnn\) has no normalisation statistics/);
    noBn.dispose();
  } finally {
    a.dispose();
    b.dispose();
    tf.dispose([d.x, d.y, calib.x, calib.y]);
  }
});

test('BatchNorm statistics come from the training data: required for BatchNorm models; the evaluation data only when asked, with a warning', async (t) => {
  const opts = { inputShape: [8, 8, 1] as [number, number, number], numClasses: 3, width: 4, blocks: [1] };
  const a = resnet({ ...opts, seed: 1 });
  const b = resnet({ ...opts, seed: 2 });
  const test = data(40, 5);
  // Training images with other statistics than the evaluation images (as after a domain shift), so that the choice shows.
  const raw = data(64, 6);
  const train = { x: tf.tidy(() => tf.add(tf.mul(raw.x, 0.5), 0.4)) as tf.Tensor4D, y: raw.y };
  raw.x.dispose();
  const warn = t.mock.method(console, 'warn', () => undefined);
  try {
    // No silent default to the evaluation data.
    await assert.rejects(interpolate(a, b, test, { lambdas: 3 }), /tl\.interpolate: options\.recalibrationData is required for a model with BatchNorm \(resnet-mini\): pass the training data/);
    await assert.rejects(interpolateAll([{ label: 'A/B', a, b }], test, { lambdas: 3 }), /tl\.interpolateAll: options\.recalibrationData is required/);
    // The training data as a data set: statistics from its images, not from the evaluation images.
    const r = await interpolate(a, b, test, { lambdas: 3, recalibrationData: train, batchSize: 32 });
    assert.deepEqual(r.curves[0]!.recalibration, { recalibrated: true, source: 'recalibrationData', examples: 64 });
    assert.equal(warn.mock.callCount(), 0);
    const probe = a.clone();
    const w = mixWeights(a, b, 0.5);
    probe.setWeights(w);
    tf.dispose([...w.values()]);
    probe.recalibrate(train.x, { batchSize: 32 });
    const onTrain = await evaluate(probe, test);
    probe.recalibrate(test.x, { batchSize: 32 });
    const onTest = await evaluate(probe, test);
    probe.dispose();
    assert.ok(Math.abs(r.curves[0]!.loss[1]! - onTrain.loss) < 1e-5, `λ=0.5, statistics from the training data: ${r.curves[0]!.loss[1]} vs ${onTrain.loss}`);
    assert.ok(Math.abs(onTrain.loss - onTest.loss) > 1e-3, `the two choices differ on this data (${onTrain.loss} vs ${onTest.loss}), so the test tells them apart`);
    // The evaluation data, asked for by name: used, recorded, warned about in the result, its views and the console.
    const e = await assertNoLeak('interpolate on evaluation statistics', () => interpolate(a, b, test, { lambdas: 3, recalibrationData: 'evaluation', batchSize: 32, label: 'A/B' }));
    const c = e.curves[0]!;
    assert.equal(c.recalibration.source, 'evaluation');
    assert.equal(c.recalibration.examples, 40);
    assert.match(c.recalibration.warning ?? '', /recomputed on the evaluation data, not the training data; pass the training data as recalibrationData/);
    assert.ok(Math.abs(c.loss[1]! - onTest.loss) < 1e-5, `λ=0.5, statistics from the evaluation data: ${c.loss[1]} vs ${onTest.loss}`);
    assert.deepEqual(e.warnings(), [`A/B: ${c.recalibration.warning}`]);
    assert.equal(warn.mock.callCount(), 1);
    assert.match(String(warn.mock.calls[0]!.arguments[0]), /^A\/B: BatchNorm statistics were recomputed on the evaluation data/);
    assert.match(e.toString(), /on the evaluation data \(40 images\)[\s\S]*⚠ A\/B: BatchNorm statistics were recomputed on the evaluation data/);
    assert.deepEqual(e.toPayload().warnings, e.warnings());
    assert.match(JSON.stringify(interpolationSpec(e.toPayload(), lightTheme).title), /⚠ A\/B: BatchNorm statistics/);
    assert.equal(r.toPayload().warnings, undefined);
    // recalibrate: false needs no data; so does a model without BatchNorm.
    assert.equal((await interpolate(a, b, test, { lambdas: 3, recalibrate: false })).curves[0]!.recalibration.recalibrated, false);
    const noBn = cnn({ ...config, seed: 1 });
    const plain = await interpolate(noBn, noBn, test, { lambdas: 3 });
    assert.deepEqual(plain.curves[0]!.recalibration, { recalibrated: false, source: null, examples: null });
    assert.match(plain.toString(), /\bno\b/);
    noBn.dispose();
    await assert.rejects(interpolate(a, b, test, { recalibrationData: 'train' } as never), /options\.recalibrationData must be a data set \{x, y\}, images \[N, H, W, C\] or 'evaluation', got the string "train"/);
    const wrong = tf.zeros([4, 4, 4, 1]) as tf.Tensor4D;
    await assert.rejects(interpolate(a, b, test, { recalibrationData: wrong }), (err: unknown) => err instanceof ShapeMismatchError && /options\.recalibrationData has images \[4, 4, 4, 1\] but data has \[40, 8, 8, 1\]/.test(err.message));
    wrong.dispose();
  } finally {
    a.dispose();
    b.dispose();
    tf.dispose([test.x, test.y, train.x, train.y]);
  }
});

test('several pairs in one result; display bundle; errors', async () => {
  const a = cnn({ ...config, seed: 1 });
  const b = cnn({ ...config, seed: 2 });
  const other = cnn({ ...config, hidden: 12, seed: 2 });
  const d = data(30, 7);
  try {
    const r = await interpolateAll([{ label: 'A/B', a, b }, { label: 'B/A', a: b, b: a }], d, { lambdas: 5 });
    assert.deepEqual([...r.barriers().keys()], ['A/B', 'B/A']);
    // The path from B to A is the path from A to B reversed.
    const ab = r.curves[0]!;
    const ba = r.curves[1]!;
    ab.loss.forEach((v, i) => assert.ok(Math.abs(v - ba.loss[ab.loss.length - 1 - i]!) < 1e-5));
    const both = InterpolationResult.combine([r, r], 'twice');
    assert.equal(both.curves.length, 4);
    const bundle = (r as unknown as Record<symbol, () => Record<string, unknown>>)[Symbol.for('Jupyter.display')]!();
    assert.deepEqual(Object.keys(bundle).sort(), [Mime.interpolation, Mime.plain, Mime.vegaLite].sort());
    const payload = bundle[Mime.interpolation] as { pairs: { label: string; lambdas: number[]; loss: number[]; barrier: number; barrierLambda: number }[] };
    assert.equal(payload.pairs.length, 2);
    assert.deepEqual(payload.pairs[0]!.lambdas, [0, 0.25, 0.5, 0.75, 1]);
    assert.equal(payload.pairs[1]!.barrier, ba.barrier);
    assert.match(bundle[Mime.plain] as string, /A\/B .* B\/A|A\/B[\s\S]*B\/A/);
    assert.equal((bundle[Mime.vegaLite] as { data: { values: unknown[] } }).data.values.length, 20);
    compileVegaLite(bundle[Mime.vegaLite] as never);

    await assert.rejects(interpolate(a, other, d), (e: unknown) => e instanceof ShapeMismatchError && /^tl\.interpolate: b has 'fc1\/kernel' of shape \[24, 12\] but a has \[24, 10\]/.test(e.message));
    await assert.rejects(interpolate(a, b, d, { lambdas: [0, NaN] }), /options\.lambdas has the number NaN at position 1/);
    await assert.rejects(interpolate(a, b, d, { lambdas: 1 }), /options\.lambdas must be between 2 and 10000/);
    await assert.rejects(interpolate(a, b, { x: d.x } as never), /tl\.interpolate: data\.y must be labels/);
    await assert.rejects(interpolateAll([{ label: 'x', a, b: other }], d), /tl\.interpolateAll: pairs\[0\]\.b has 'fc1\/kernel'/);
  } finally {
    a.dispose();
    b.dispose();
    other.dispose();
    tf.dispose([d.x, d.y]);
  }
});
