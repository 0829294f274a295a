import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../kernel/analysis/tfjs';
import { initBackend } from '../../kernel/analysis/backends';
import { criticality } from '../../kernel/analysis/criticality';
import { cnn, resnet, type NetModel } from '../../kernel/analysis/netModel';
import { evaluate } from '../../kernel/analysis/train';
import { Mime } from '../../kernel/protocol/mime';
import { compile as compileVegaLite } from 'vega-lite';
import { assertNoLeak } from './leak';

before(async () => {
  await initBackend('wasm');
});

const config = { inputShape: [8, 8, 1] as [number, number, number], numClasses: 3, channels: [4, 6], hidden: 10 };

function data(n: number, seed: number) {
  const x = tf.randomUniform([n, 8, 8, 1], 0, 1, 'float32', seed) as tf.Tensor4D;
  const y = tf.tensor1d(Array.from({ length: n }, (_, i) => (i * 5 + seed) % 3), 'int32');
  return { x, y };
}

test('rewinding one module: curves at σ = 0 match direct evaluation; μ from the grid; seeded noise', async () => {
  const init = cnn({ ...config, seed: 1 });
  // A "trained" model: the initial weights moved by a fixed amount.
  const final = cnn({ ...config, seed: 1 });
  const moved = new Map([...final.variables].map(([k, v]) => [k, tf.tidy(() => tf.add(v, tf.mul(tf.randomNormal(v.shape, 0, 1, 'float32', 9), 0.3)))]));
  final.setWeights(moved);
  tf.dispose([...moved.values()]);
  const d = data(40, 2);
  try {
    const r = await assertNoLeak('criticality', () => criticality(final, init, d, { modules: ['conv2', 'fc'], alphas: 3, sigmas: [0.05, 0.5], samples: 2, seed: 4, batchSize: 16, group: 3 }));
    assert.deepEqual(r.modules.map((m) => m.module), ['conv2', 'fc']);
    const base = await evaluate(final, d);
    assert.ok(Math.abs(r.baseError - (1 - base.accuracy)) < 1e-9);
    assert.ok(Math.abs(r.epsilon - Math.min(1, r.baseError + 0.05)) < 1e-12, 'default ε is the final error + 0.05');
    for (const m of r.modules) {
      const curve = r.curve(m.module);
      assert.deepEqual(curve.map((c) => c.alpha), [0, 0.5, 1]);
      assert.ok(Math.abs(curve[2]!.error - r.baseError) < 1e-9, 'α = 1 is the final model');
      // α = 0: the module set to its initial weights, directly.
      const probe = final.clone();
      const w = new Map([...final.variables].map(([k, v]) => [k, tf.clone(k.startsWith(`${m.module}/`) ? init.variables.get(k)! : v)]));
      probe.setWeights(w);
      tf.dispose([...w.values()]);
      const e = await evaluate(probe, d);
      probe.dispose();
      assert.ok(Math.abs(curve[0]!.loss - e.loss) < 1e-5, `${m.module} rewound: ${curve[0]!.loss} vs ${e.loss}`);
      assert.equal(m.rewoundLoss, curve[0]!.loss);
      // ‖θᶠ − θ⁰‖ in float64.
      let s = 0;
      for (const [k, v] of final.variables) {
        if (!k.startsWith(`${m.module}/`)) continue;
        const a = v.dataSync();
        const b = init.variables.get(k)!.dataSync();
        for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
      }
      assert.ok(Math.abs(m.distance - Math.sqrt(s)) < 1e-9 * Math.sqrt(s));
      // μ is the minimum of α²‖Δ‖²/σ² over feasible grid points with σ > 0.
      let mu = Infinity;
      for (const g of m.grid) if (g.sigma > 0 && g.error <= r.epsilon) mu = Math.min(mu, (g.alpha * g.alpha * s) / (g.sigma * g.sigma));
      assert.equal(m.criticality, mu);
      assert.equal(m.grid.length, 3 * 3);
    }
    // The same seed gives the same grid; another seed another one.
    const again = await criticality(final, init, d, { modules: ['conv2'], alphas: 3, sigmas: [0.05, 0.5], samples: 2, seed: 4, batchSize: 16, group: 3 });
    assert.deepEqual(again.modules[0]!.grid, r.modules[0]!.grid);
    const other = await criticality(final, init, d, { modules: ['conv2'], alphas: 3, sigmas: [0.05, 0.5], samples: 2, seed: 5, batchSize: 16, group: 3 });
    const moved2 = other.modules[0]!.grid.filter((g, i) => g.sigma > 0 && Math.abs(g.loss - r.modules[0]!.grid[i]!.loss) > 1e-4);
    assert.ok(moved2.length > 0, 'another seed draws other noise');
    other.modules[0]!.grid.forEach((g, i) => g.sigma === 0 && assert.equal(g.loss, r.modules[0]!.grid[i]!.loss));
    // A checkpoint-like {weights} rewinds the same way as the model it was taken from.
    const w = init.getWeights();
    const viaCheckpoint = await criticality(final, { weights: w }, d, { modules: ['conv2'], alphas: 3, sigmas: [0.05, 0.5], samples: 2, seed: 4, batchSize: 16, group: 3 });
    tf.dispose([...w.values()]);
    assert.deepEqual(viaCheckpoint.modules[0]!.grid, r.modules[0]!.grid);
    // A generous ε makes α = 0 feasible: μ = 0 (the module is not critical).
    const easy = await criticality(final, init, d, { modules: ['fc'], alphas: 2, sigmas: [0.01], epsilon: 1 });
    assert.equal(easy.modules[0]!.criticality, 0);
    // An impossible ε: no point qualifies.
    const hard = await criticality(final, init, d, { modules: ['fc'], alphas: 2, sigmas: [0.01], epsilon: 0, metric: 'loss' });
    assert.equal(hard.modules[0]!.criticality, Infinity);

    const bundle = (r as unknown as Record<symbol, () => Record<string, unknown>>)[Symbol.for('Jupyter.display')]!();
    assert.deepEqual(Object.keys(bundle).sort(), [Mime.json, Mime.plain, Mime.vegaLite].sort());
    assert.match(bundle[Mime.plain] as string, /Module criticality, rewinding to init/);
    assert.match(bundle[Mime.plain] as string, /conv2/);
    JSON.stringify(bundle[Mime.json]);
    compileVegaLite(bundle[Mime.vegaLite] as never);
    assert.match(hard.toString(), /∞ \(no σ meets ε\)/);
  } finally {
    init.dispose();
    final.dispose();
    tf.dispose([d.x, d.y]);
  }
});

/** `model` with the parameters of `module` set to `init`'s, other modules as they are; statistics optionally recomputed on `x`. */
async function rewoundByHand(model: NetModel, init: NetModel, module: string, d: { x: tf.Tensor4D; y: tf.Tensor1D }, x?: tf.Tensor4D) {
  const probe = model.clone();
  const w = new Map([...model.variables].map(([k, v]) => [k, tf.clone(k.startsWith(`${module}/`) ? init.variables.get(k)! : v)]));
  probe.setWeights(w);
  tf.dispose([...w.values()]);
  if (x) probe.recalibrate(x, { batchSize: 32 });
  const e = await evaluate(probe, d);
  probe.dispose();
  return e;
}

test('BatchNorm: every rewound model has its statistics recomputed (on the evaluated data by default) before it is evaluated', async () => {
  const opts = { inputShape: [8, 8, 1] as [number, number, number], numClasses: 3, width: 4, blocks: [1] };
  const init = resnet({ ...opts, seed: 1 });
  const final = resnet({ ...opts, seed: 1 });
  const moved = new Map([...final.variables].map(([k, v]) => [k, tf.tidy(() => tf.add(v, tf.mul(tf.randomNormal(v.shape, 0, 1, 'float32', 9), 0.3)))]));
  final.setWeights(moved);
  tf.dispose([...moved.values()]);
  const train = data(64, 3);
  const other = data(48, 8);
  // The "trained" model's statistics fit its own weights on the training data, as after training.
  final.recalibrate(train.x, { batchSize: 32 });
  const small = { alphas: 2, sigmas: [0.05], samples: 1, batchSize: 32, group: 3 } as const;
  try {
    const r = await assertNoLeak('criticality with BN', () => criticality(final, init, train, { ...small, modules: ['conv1', 'layer1'] }));
    assert.deepEqual(r.recalibration, { recalibrated: true, source: 'evaluation', examples: 64 });
    for (const m of r.modules) {
      const fresh = await rewoundByHand(final, init, m.module, train, train.x);
      const stale = await rewoundByHand(final, init, m.module, train);
      assert.ok(Math.abs(m.rewoundLoss - fresh.loss) < 1e-5, `${m.module} rewound, statistics recomputed: ${m.rewoundLoss} vs ${fresh.loss}`);
      assert.ok(Math.abs(m.rewoundError - (1 - fresh.accuracy)) < 1e-9, `${m.module} rewound error`);
      assert.ok(Math.abs(stale.loss - fresh.loss) > 1e-2, `${m.module}: stale statistics give another loss (${stale.loss} vs ${fresh.loss}), so the test can tell them apart`);
    }
    // α = 1, σ = 0 is the final model with its statistics recomputed on the same data.
    const base = await evaluate(final, train);
    assert.ok(Math.abs(r.baseLoss - base.loss) < 1e-5, `final model: ${r.baseLoss} vs ${base.loss}`);
    // Other images for the statistics.
    const viaOther = await criticality(final, init, train, { ...small, modules: ['conv1'], recalibrationData: other.x });
    assert.deepEqual(viaOther.recalibration, { recalibrated: true, source: 'recalibrationData', examples: 48 });
    const byOther = await rewoundByHand(final, init, 'conv1', train, other.x);
    assert.ok(Math.abs(viaOther.modules[0]!.rewoundLoss - byOther.loss) < 1e-5, 'statistics from recalibrationData');
    // recalibrate: false keeps the stale statistics (the old behaviour, now asked for by name).
    const kept = await criticality(final, init, train, { ...small, modules: ['conv1'], recalibrate: false });
    assert.equal(kept.recalibration.recalibrated, false);
    const stale = await rewoundByHand(final, init, 'conv1', train);
    assert.ok(Math.abs(kept.modules[0]!.rewoundLoss - stale.loss) < 1e-5);
    // The result says so in every view.
    const bundle = (r as unknown as Record<symbol, () => Record<string, unknown>>)[Symbol.for('Jupyter.display')]!();
    assert.match(bundle[Mime.plain] as string, /BatchNorm statistics recomputed for every setting on the evaluation data \(64 images\)/);
    assert.deepEqual((bundle[Mime.json] as { recalibration: unknown }).recalibration, r.recalibration);
    assert.match(JSON.stringify((bundle[Mime.vegaLite] as { title: unknown }).title), /BatchNorm statistics recomputed/);
    assert.match(viaOther.toString(), /on recalibrationData \(48 images\)/);
    assert.match(kept.toString(), /BatchNorm statistics not recomputed/);
    await assert.rejects(criticality(final, init, train, { ...small, recalibrationData: data(4, 1).x.reshape([4, 4, 16, 1]) as tf.Tensor4D }), /tl\.criticality: options\.recalibrationData has images \[4, 4, 16, 1\] but data has \[64, 8, 8, 1\]/);
    await assert.rejects(criticality(final, init, train, { ...small, recalibrate: 'yes' } as never), /tl\.criticality: options\.recalibrate must be true, false or 'auto'/);
  } finally {
    init.dispose();
    final.dispose();
    tf.dispose([train.x, train.y, other.x, other.y]);
  }
});

test('models without BatchNorm are evaluated as they are', async () => {
  const init = cnn({ ...config, seed: 1 });
  const final = cnn({ ...config, seed: 2 });
  const d = data(30, 2);
  try {
    const r = await criticality(final, init, d, { modules: ['conv1'], alphas: 2, sigmas: [0.05], samples: 1 });
    assert.deepEqual(r.recalibration, { recalibrated: false, source: null, examples: null });
    const e = await rewoundByHand(final, init, 'conv1', d);
    assert.ok(Math.abs(r.modules[0]!.rewoundLoss - e.loss) < 1e-5);
    await assert.rejects(criticality(final, init, d, { recalibrate: true }), /tl\.criticality: options\.recalibrate is true but the model \(cnn\) has no normalisation statistics/);
  } finally {
    init.dispose();
    final.dispose();
    tf.dispose([d.x, d.y]);
  }
});

test('criticality errors name the function and the argument', async () => {
  const m = cnn({ ...config, seed: 1 });
  const other = cnn({ ...config, channels: [5, 6], seed: 1 });
  const d = data(10, 1);
  try {
    await assert.rejects(criticality(m, other, d), /tl\.criticality: initial has 'conv1\/kernel' of shape \[3, 3, 1, 5\] but model has \[3, 3, 1, 4\]/);
    await assert.rejects(criticality(m, m, d, { modules: ['layer9'] }), /options\.modules names the string "layer9", which has no parameters/);
    await assert.rejects(criticality(m, m, d, { alphas: [0, 2] }), /options\.alphas has the number 2 at position 1; α must be in \[0, 1\]/);
    await assert.rejects(criticality(m, m, d, { sigmas: [-1] }), /options\.sigmas has the number -1 at position 0/);
    await assert.rejects(criticality(m, 'x' as never, d), /tl\.criticality: initial must be a model, a checkpoint or a Map of weights/);
    await assert.rejects(criticality(m, m, d, { metric: 'auc' } as never), /options\.metric must be one of 'error', 'loss'/);
  } finally {
    m.dispose();
    other.dispose();
    tf.dispose([d.x, d.y]);
  }
});
