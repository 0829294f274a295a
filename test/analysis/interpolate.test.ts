import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../kernel/analysis/tfjs';
import { initBackend } from '../../kernel/analysis/backends';
import { interpolate, interpolateAll, InterpolationResult, barrierOf } from '../../kernel/analysis/interpolate';
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
    await interpolate(a, b, d, { lambdas: 3, recalibrate: () => void calls++ });
    assert.equal(calls, 3);
    const noBn = cnn({ ...config, seed: 1 });
    await assert.rejects(interpolate(noBn, noBn, d, { recalibrate: true }), /tl\.interpolate: options\.recalibrate is true but the model \(cnn\) has no normalisation statistics/);
    noBn.dispose();
  } finally {
    a.dispose();
    b.dispose();
    tf.dispose([d.x, d.y, calib.x, calib.y]);
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
