import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../kernel/analysis/tfjs';
import { initBackend } from '../../kernel/analysis/backends';
import { distance, distances } from '../../kernel/analysis/distance';
import { cnn, resnet } from '../../kernel/analysis/netModel';
import { ShapeMismatchError } from '../../kernel/analysis/errors';
import { Mime } from '../../kernel/protocol/mime';
import { compile as compileVegaLite } from 'vega-lite';
import { assertNoLeak } from './leak';

before(async () => {
  await initBackend('wasm');
});

const config = { inputShape: [8, 8, 1] as [number, number, number], numClasses: 3, channels: [4, 6], hidden: 10 };

/** ‖a − b‖ per module in float64 from the raw parameter values. */
function reference(a: ReadonlyMap<string, tf.Tensor>, b: ReadonlyMap<string, tf.Tensor>): Map<string, number> {
  const sq = new Map<string, number>();
  for (const [k, v] of a) {
    const x = v.dataSync();
    const y = b.get(k)!.dataSync();
    let s = 0;
    for (let i = 0; i < x.length; i++) s += (x[i]! - y[i]!) ** 2;
    const m = k.split('/')[0]!;
    sq.set(m, (sq.get(m) ?? 0) + s);
  }
  return new Map([...sq].map(([k, v]) => [k, Math.sqrt(v)]));
}

test('per-module and total distances equal a float64 reference; fc flagged and excludable', async () => {
  const a = cnn({ ...config, seed: 1 });
  const b = cnn({ ...config, seed: 2 });
  try {
    const d = await assertNoLeak('distance', () => distance(a, b, { label: 'seed 1 vs 2' }));
    const ref = reference(a.variables, b.variables);
    const p = d.pairs[0]!;
    assert.deepEqual(p.modules.map((m) => m.module), ['conv1', 'conv2', 'fc1', 'fc']);
    for (const m of p.modules) {
      assert.ok(Math.abs(m.distance - ref.get(m.module)!) <= 1e-12 * ref.get(m.module)!, `${m.module}`);
      assert.equal(m.head, m.module === 'fc');
    }
    assert.equal(d.get('conv2'), p.modules[1]!.distance);
    const all = Math.sqrt([...ref.values()].reduce((s, v) => s + v * v, 0));
    const noHead = Math.sqrt([...ref].filter(([k]) => k !== 'fc').reduce((s, [, v]) => s + v * v, 0));
    assert.ok(Math.abs(p.total - all) < 1e-12 * all);
    assert.ok(Math.abs(p.totalWithoutHead - noHead) < 1e-12 * noHead);
    const ex = await distance(a, b, { exclude: ['fc'] });
    assert.deepEqual(ex.pairs[0]!.modules.map((m) => m.module), ['conv1', 'conv2', 'fc1']);
    assert.ok(Math.abs(ex.pairs[0]!.total - noHead) < 1e-12 * noHead);
    // The distance of a model to itself is 0; weights maps (checkpoints) work like models.
    const w = a.getWeights();
    const self = await distance(a, w);
    assert.equal(self.pairs[0]!.total, 0);
    const viaCheckpoint = await distance({ weights: w }, b);
    assert.equal(viaCheckpoint.pairs[0]!.total, p.total);
    tf.dispose([...w.values()]);

    const many = await distances([{ label: 'A/B', a, b }, { label: 'A/A', a, b: a }], { head: ['fc', 'fc1'] });
    assert.equal(many.pairs.length, 2);
    assert.equal(many.pairs[0]!.modules.find((m) => m.module === 'fc1')!.head, true);
    const bundle = (many as unknown as Record<symbol, () => Record<string, unknown>>)[Symbol.for('Jupyter.display')]!();
    assert.deepEqual(Object.keys(bundle).sort(), [Mime.plain, Mime.vegaLite].sort());
    const text = bundle[Mime.plain] as string;
    assert.match(text, /fc \(head\)/);
    assert.match(text, /total without head/);
    assert.ok(text.includes(p.total.toFixed(4)));
    assert.equal((bundle[Mime.vegaLite] as { data: { values: unknown[] } }).data.values.length, 8);
    compileVegaLite(bundle[Mime.vegaLite] as never);
  } finally {
    a.dispose();
    b.dispose();
  }
});

test('distance errors name the function, the argument and the parameter', async () => {
  const a = cnn({ ...config, seed: 1 });
  const wider = cnn({ ...config, channels: [4, 7], seed: 1 });
  const r = resnet({ inputShape: [8, 8, 1], numClasses: 3, width: 4, blocks: [1] });
  try {
    await assert.rejects(distance(a, wider), (e: unknown) => e instanceof ShapeMismatchError && /^tl\.distance: b has 'conv2\/kernel' of shape \[3, 3, 4, 7\] but a has \[3, 3, 4, 6\]/.test(e.message));
    await assert.rejects(distance(a, r), /tl\.distance: b has no parameter '[a-z0-9/]+' \(which a has\); both must be the same architecture/);
    await assert.rejects(distance(a, 3 as never), /tl\.distance: b must be a model, a checkpoint or a Map of weights/);
    await assert.rejects(distance(a, a, { exclude: ['conv9'] }), /options\.exclude names unknown module 'conv9'/);
    await assert.rejects(distance(a, a, { hed: [] } as never), /options\.hed is not a known option/);
    await assert.rejects(distances([]), /tl\.distances: pairs must be a non-empty array/);
  } finally {
    a.dispose();
    wider.dispose();
    r.dispose();
  }
});
