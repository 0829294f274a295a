import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../kernel/analysis/tfjs';
import { initBackend } from '../../kernel/analysis/backends';
import { cnn, resnet, type NetModel } from '../../kernel/analysis/netModel';
import { train } from '../../kernel/analysis/train';
import { interpolate, interpolateAll } from '../../kernel/analysis/interpolate';
import { align, AlignmentResult, linearAssignment, permuteUnits, permutationSpec } from '../../kernel/analysis/alignment';
import { InvalidArgumentError, ShapeMismatchError } from '../../kernel/analysis/errors';
import type { Model, NamedWeights } from '../../kernel/analysis/modelContract';
import { assertNoLeak } from './leak';

before(async () => {
  await initBackend('wasm');
});

/** mulberry32 in the test, independent of the code under test. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The best total over all n! permutations (Heap's algorithm), in float64. */
function bruteForceMax(c: number[][]): number {
  const n = c.length;
  const p = Array.from({ length: n }, (_, i) => i);
  const score = () => p.reduce((s, j, i) => s + c[i]![j]!, 0);
  let best = score();
  const k = new Array<number>(n).fill(0);
  let i = 1;
  while (i < n) {
    if (k[i]! < i) {
      const j = i % 2 === 0 ? 0 : k[i]!;
      [p[j], p[i]] = [p[i]!, p[j]!];
      best = Math.max(best, score());
      k[i]!++;
      i = 1;
    } else {
      k[i] = 0;
      i++;
    }
  }
  return best;
}

function isPermutation(p: ArrayLike<number>, n: number): boolean {
  if (p.length !== n) return false;
  const seen = new Set<number>();
  for (let i = 0; i < n; i++) {
    const v = p[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= n || seen.has(v)) return false;
    seen.add(v);
  }
  return true;
}

const total = (c: number[][], p: ArrayLike<number>) => c.reduce((s, row, i) => s + row[p[i]!]!, 0);

test('linearAssignment: the maximum of Σ C[i, π(i)] over all permutations, for n ≤ 7', () => {
  let cases = 0;
  for (let n = 1; n <= 7; n++) {
    for (let trial = 0; trial < (n <= 5 ? 40 : 12); trial++) {
      const r = prng(1000 * n + trial);
      // Continuous scores, small integers (many ties), and wide ranges with negatives.
      const kind = trial % 3;
      const c = Array.from({ length: n }, () => Array.from({ length: n }, () => (kind === 0 ? r() : kind === 1 ? Math.floor(r() * 3) : (r() - 0.5) * 10 ** Math.floor(r() * 6))));
      const p = linearAssignment(c);
      assert.ok(isPermutation(p, n), `n=${n} trial ${trial}: ${Array.from(p)}`);
      const best = bruteForceMax(c);
      assert.ok(Math.abs(total(c, p) - best) <= 1e-9 * Math.max(1, Math.abs(best)), `n=${n} trial ${trial}: ${total(c, p)} vs brute force ${best}`);
      cases++;
    }
  }
  assert.equal(cases, 5 * 40 + 2 * 12);
});

test('linearAssignment: known answers, ties and degenerate square matrices', () => {
  assert.deepEqual(Array.from(linearAssignment([[1, 9, 2], [8, 1, 1], [2, 3, 7]])), [1, 0, 2]);
  // Maximising, not minimising: the anti-diagonal wins.
  assert.deepEqual(Array.from(linearAssignment([[0, 0, 5], [0, 5, 0], [5, 0, 0]])), [2, 1, 0]);
  assert.deepEqual(Array.from(linearAssignment([[42]])), [0]);
  assert.deepEqual(Array.from(linearAssignment([])), []);
  // All equal, all zero: any permutation is optimal; a valid one comes back.
  for (const v of [0, 3.5, -2]) {
    const c = Array.from({ length: 6 }, () => new Array<number>(6).fill(v));
    const p = linearAssignment(c);
    assert.ok(isPermutation(p, 6));
    assert.equal(total(c, p), 6 * v);
  }
  // A rank-one matrix u·vᵀ with u, v increasing: sorted order pairs largest with largest.
  const u = [1, 2, 3, 4, 5];
  const rank1 = u.map((a) => u.map((b) => a * b));
  assert.deepEqual(Array.from(linearAssignment(rank1)), [0, 1, 2, 3, 4]);
  // A hidden permutation on a large offset: exact despite the magnitude.
  const hidden = [3, 0, 4, 1, 2];
  const big = hidden.map((h) => Array.from({ length: 5 }, (_, j) => 1e12 + (j === h ? 1 : 0)));
  assert.deepEqual(Array.from(linearAssignment(big)), hidden);
  // Row-major typed arrays as well as rows.
  assert.deepEqual(Array.from(linearAssignment(Float64Array.from([1, 9, 2, 8, 1, 1, 2, 3, 7]))), [1, 0, 2]);
  // Duplicate rows: both optimal assignments score the same.
  const dup = [[5, 1, 0], [5, 1, 0], [0, 0, 3]];
  assert.equal(total(dup, linearAssignment(dup)), 9);
});

test('linearAssignment: clear errors for non-square or non-finite scores', () => {
  assert.throws(() => linearAssignment([[1, 2], [3]]), /tl\.linearAssignment: scores\[1\] must be a row of 2 numbers \(the matrix must be square, 2 × 2\)/);
  assert.throws(() => linearAssignment([[1, 2, 3], [4, 5, 6]]), /scores\[0\] must be a row of 2 numbers/);
  assert.throws(() => linearAssignment([[1, NaN], [0, 1]]), /tl\.linearAssignment: scores\[0\]\[1\] must be a finite number, got the number NaN/);
  assert.throws(() => linearAssignment(new Float64Array(5)), /has 5 values, which is not n·n/);
  assert.throws(() => linearAssignment(Float64Array.from([1, Infinity, 0, 0])), /has Infinity at row 0, column 1; scores must be finite/);
  assert.throws(() => linearAssignment('abc' as never), InvalidArgumentError);
});

const cnnOpts = { inputShape: [8, 8, 1] as [number, number, number], numClasses: 3, channels: [4, 6], hidden: 10 };
const resOpts = { inputShape: [8, 8, 2] as [number, number, number], numClasses: 3, width: 4, blocks: [2, 1] };

/** Replaces every parameter (and BatchNorm buffer) with seeded random values, so no unit ties with another. */
function randomize(m: NetModel, seed: number): NetModel {
  const r = prng(seed);
  const rand = (src: ReadonlyMap<string, tf.Tensor>, positive: (k: string) => boolean): NamedWeights => {
    const out: NamedWeights = new Map();
    for (const [k, v] of src) out.set(k, tf.tensor(Float32Array.from({ length: v.size }, () => (positive(k) ? 0.5 + r() : (r() - 0.5) * 0.8)), v.shape));
    return out;
  };
  const w = rand(m.variables, (k) => k.endsWith('/gamma'));
  m.setWeights(w);
  tf.dispose([...w.values()]);
  if (m.buffers.size > 0) {
    const b = rand(m.buffers, (k) => k.endsWith('/variance'));
    m.setBuffers(b);
    tf.dispose([...b.values()]);
  }
  return m;
}

async function values(t: tf.Tensor): Promise<Float64Array> {
  return Float64Array.from(await t.data());
}

function maxAbsDiff(a: Float64Array, b: Float64Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** max |f(x) − g(x)| relative to max |f(x)| over the logits, eval mode and (with BatchNorm) training mode. */
async function sameFunction(a: Model, b: Model, x: tf.Tensor4D, training: boolean): Promise<number> {
  const fa = a.forward(x, { training });
  const fb = b.forward(x, { training });
  const va = await values(fa.logits);
  const vb = await values(fb.logits);
  tf.dispose([fa.logits, fb.logits]);
  const scale = Math.max(...va.map(Math.abs));
  assert.ok(scale > 1e-3, 'logits are not trivially zero');
  return maxAbsDiff(va, vb) / scale;
}

function weightDistance(a: Model, b: Model): number {
  let s = 0;
  for (const [k, v] of a.variables) {
    const d = tf.tidy(() => tf.sum(tf.square(tf.sub(v, b.variables.get(k)!))).dataSync()[0]!);
    s += d;
  }
  return Math.sqrt(s);
}

const models: [string, () => NetModel][] = [
  ['cnn (conv, flatten, hidden dense)', () => randomize(cnn({ ...cnnOpts, seed: 1 }), 11)],
  ['cnn without hidden layer (flatten into the classifier)', () => randomize(cnn({ ...cnnOpts, hidden: 0, seed: 2 }), 12)],
  ['resnet with BatchNorm (residual streams, projections)', () => randomize(resnet({ ...resOpts, seed: 3 }), 13)],
  ['resnet without normalisation (Fixup scalars)', () => randomize(resnet({ ...resOpts, norm: 'none', seed: 4 }), 14)],
];

for (const [name, make] of models) {
  test(`permuteUnits: a copy with permuted hidden units computes the same function: ${name}`, async () => {
    const m = make();
    const x = tf.randomNormal([16, ...m.inputShape], 0, 1, 'float32', 5) as tf.Tensor4D;
    try {
      await assertNoLeak('permuteUnits', async () => (await permuteUnits(m, { seed: 9 })).model.dispose());
      const { model: p, permutations } = await permuteUnits(m, { seed: 9 });
      try {
        const spec = permutationSpec(m);
        assert.deepEqual(Object.keys(permutations), spec.groups.map((g) => g.name));
        for (const g of spec.groups) assert.ok(isPermutation(permutations[g.name]!, g.size));
        assert.ok(spec.groups.some((g) => permutations[g.name]!.some((v, i) => v !== i)), 'not the identity');
        assert.ok(weightDistance(m, p) > 0.5, 'the weights moved');
        assert.ok((await sameFunction(m, p, x, false)) < 1e-5, 'eval mode (BatchNorm running statistics)');
        if (m.buffers.size > 0) assert.ok((await sameFunction(m, p, x, true)) < 1e-5, 'training mode (batch statistics)');
      } finally {
        p.dispose();
      }
    } finally {
      m.dispose();
      x.dispose();
    }
  });

  test(`align recovers the permutation of a permuted copy exactly: ${name}`, async () => {
    const m = make();
    const { model: p, permutations: sigma } = await permuteUnits(m, { seed: 21 });
    try {
      await assertNoLeak('align', async () => (await align(m, p, { seed: 3 })).dispose());
      const r = await align(m, p, { seed: 3 });
      try {
        assert.ok(r instanceof AlignmentResult);
        assert.ok(r.converged);
        // Unit i of p is unit σ[i] of m; unit i of the aligned model is unit π[i] of p: π = σ⁻¹.
        for (const [g, s] of Object.entries(sigma)) {
          const pi = r.permutations[g]!;
          for (let i = 0; i < s.length; i++) assert.equal(s[pi[i]!], i, `group ${g}, unit ${i}`);
        }
        assert.equal(r.distanceAfter, 0);
        assert.ok(r.distanceBefore > 0.5);
        assert.equal(weightDistance(m, r.model), 0, 'every weight back in place');
        for (const [k, v] of m.buffers) assert.equal(tf.tidy(() => tf.max(tf.abs(tf.sub(v, r.model.buffers.get(k)!))).dataSync()[0]), 0, `buffer ${k}`);
        assert.match(r.toString(), /^Weight matching \(.+\): \d+ sweeps?, converged; ‖θA − θB‖ [\d.]+ → 0\.0000\n/);
      } finally {
        r.dispose();
      }
    } finally {
      m.dispose();
      p.dispose();
    }
  });
}

test('permutationSpec: the groups of each architecture', () => {
  const c = cnn({ ...cnnOpts, seed: 0 });
  const r = resnet({ ...resOpts, seed: 0 });
  const f = resnet({ ...resOpts, norm: 'none', seed: 0 });
  try {
    const cs = permutationSpec(c);
    assert.deepEqual(cs.groups.map((g) => [g.name, g.size]), [['conv1', 4], ['conv2', 6], ['fc1', 10]]);
    // 8×8 → 4×4 → 2×2: fc1's rows are 4 positions × 6 channels, channel fastest.
    assert.deepEqual(cs.groups[1]!.axes.at(-1), { tensor: 'fc1/kernel', axis: 0, repeat: 4 });
    assert.deepEqual(cs.fixed, ['fc/bias']);
    const rs = permutationSpec(r);
    assert.deepEqual(rs.groups.map((g) => [g.name, g.size]), [['layer1', 4], ['layer1/block0', 4], ['layer1/block1', 4], ['layer2', 8], ['layer2/block0', 8]]);
    const stream = rs.groups[0]!.axes.map((a) => `${a.tensor}:${a.axis}`);
    for (const t of ['conv1/kernel:3', 'conv1/bn/mean:0', 'layer1/block0/conv2/kernel:3', 'layer1/block1/bn2/gamma:0', 'layer1/block1/conv1/kernel:2', 'layer2/block0/shortcut/kernel:2', 'layer2/block0/conv1/kernel:2']) {
      assert.ok(stream.includes(t), `layer1's residual stream includes ${t}`);
    }
    assert.ok(rs.groups[3]!.axes.some((a) => a.tensor === 'fc/kernel' && a.axis === 0), 'the last stream feeds the classifier');
    assert.ok(!rs.groups.some((g) => g.axes.some((a) => a.tensor === 'fc/kernel' && a.axis === 1)), 'the classifier outputs never move');
    assert.ok(!rs.groups.some((g) => g.axes.some((a) => a.tensor === 'conv1/kernel' && a.axis === 2)), 'the input channels never move');
    const fs = permutationSpec(f);
    assert.ok(fs.fixed.includes('layer1/block0/bias1a') && fs.fixed.includes('conv1/bias'));
    assert.equal(fs.arch, 'resnet-mini-nonorm');
  } finally {
    for (const m of [c, r, f]) m.dispose();
  }
});

test('permuteUnits: explicit permutations move the units named; activations are gathered the same way', async () => {
  const m = randomize(cnn({ ...cnnOpts, seed: 1 }), 5);
  const x = tf.randomNormal([4, 8, 8, 1], 0, 1, 'float32', 2) as tf.Tensor4D;
  const sigma = [2, 0, 3, 1];
  const { model: p, permutations } = await permuteUnits(m, { conv1: sigma });
  try {
    assert.deepEqual(Array.from(permutations.conv1!), sigma);
    assert.deepEqual(Array.from(permutations.fc1!), Array.from({ length: 10 }, (_, i) => i), 'groups left out stay in order');
    const a = m.forward(x, { collect: ['conv1'] });
    const b = p.forward(x, { collect: ['conv1'] });
    const va = await a.activations.get('conv1')!.array() as number[][][][];
    const vb = await b.activations.get('conv1')!.array() as number[][][][];
    tf.dispose([a.logits, b.logits, ...a.activations.values(), ...b.activations.values()]);
    // Channel i of the permuted model is channel σ[i] of the original.
    for (let n = 0; n < 4; n++) for (let y = 0; y < 4; y++) for (let z = 0; z < 4; z++) for (let i = 0; i < 4; i++) assert.equal(vb[n]![y]![z]![i], va[n]![y]![z]![sigma[i]!]);
  } finally {
    for (const t of [m, p, x]) t.dispose();
  }
  const q = cnn({ ...cnnOpts, seed: 1 });
  try {
    await assert.rejects(permuteUnits(q, { conv1: [0, 1, 2] }), /tl\.permuteUnits: permutations\.conv1 must be a permutation of 0…3 \(4 units\)/);
    await assert.rejects(permuteUnits(q, { conv1: [0, 1, 1, 3] }), /permutations\.conv1 must be a permutation of 0…3: position 2 holds 1, already used/);
    await assert.rejects(permuteUnits(q, { fc: [0, 1, 2] }), /tl\.permuteUnits: permutations\.fc is not a permutation group of cnn \(groups: conv1, conv2, fc1\)/);
    await assert.rejects(permuteUnits(q, { seed: -1 }), /permutations\.seed must be an integer from 0 to 2³² − 1/);
  } finally {
    q.dispose();
  }
});

/** A model of the Model contract that no architecture spec describes (a user's own). */
function customModel(): Model {
  const inner = cnn({ ...cnnOpts, seed: 0 });
  return {
    arch: 'my-mlp',
    moduleNames: inner.moduleNames,
    inputShape: inner.inputShape,
    numClasses: inner.numClasses,
    variables: inner.variables,
    forward: (x, o) => inner.forward(x, o),
    getWeights: () => inner.getWeights(),
    setWeights: (w) => inner.setWeights(w),
    clone: () => inner.clone(),
    dispose: () => inner.dispose(),
  };
}

test('align: clear errors for unsupported models, mismatched pairs and bad options', async () => {
  const custom = customModel();
  const a = cnn({ ...cnnOpts, seed: 1 });
  const wider = cnn({ ...cnnOpts, channels: [4, 7], seed: 1 });
  const r = resnet({ ...resOpts, inputShape: [8, 8, 1], seed: 1 });
  try {
    await assert.rejects(align(custom, a), /tl\.align: a \(arch 'my-mlp'\) is not a model built by tl\.cnn or tl\.resnet, so there is no permutation spec saying which of its tensors share a hidden unit; alignment supports the architectures cnn, resnet-mini/);
    await assert.rejects(align(a, custom), /tl\.align: b \(arch 'my-mlp'\)/);
    await assert.rejects(align(a, r), /tl\.align: b is a resnet-mini but a is a cnn; both must be the same architecture/);
    await assert.rejects(align(a, wider), (e: unknown) => e instanceof ShapeMismatchError && /conv2\/kernel' of shape \[3, 3, 4, 7\] but a has \[3, 3, 4, 6\]/.test(e.message));
    await assert.rejects(align(a, a, { maxIterations: 0 }), /tl\.align: options\.maxIterations must be/);
    await assert.rejects(align(a, a, { sweeps: 3 } as never), /tl\.align: options\.sweeps is not a known option \(known: maxIterations, seed\)/);
    await assert.rejects(align(a, {} as never), /tl\.align: b must be a model/);
    await assert.rejects(permuteUnits(custom, { seed: 1 }), /tl\.permuteUnits: model \(arch 'my-mlp'\) is not a model built by tl\.cnn or tl\.resnet/);
    const gone = cnn({ ...cnnOpts, seed: 2 });
    gone.dispose();
    await assert.rejects(align(a, gone), /tl\.align: b is a disposed model/);
  } finally {
    for (const m of [custom, a, wider, r]) m.dispose();
  }
});

test('align: maxIterations bounds the sweeps; the seed fixes the result', async () => {
  const m = randomize(cnn({ ...cnnOpts, seed: 1 }), 31);
  const other = randomize(cnn({ ...cnnOpts, seed: 2 }), 32);
  const { model: p } = await permuteUnits(m, { seed: 4 });
  try {
    const once = await align(m, p, { maxIterations: 1 });
    assert.equal(once.iterations, 1);
    assert.equal(once.converged, false, 'the first sweep moved units, so one sweep cannot tell it converged');
    once.dispose();
    const r1 = await align(m, other, { seed: 5 });
    const r2 = await align(m, other, { seed: 5 });
    assert.deepEqual(r1.permutations, r2.permutations);
    assert.ok(r1.converged && r1.iterations >= 2);
    assert.ok(r1.distanceAfter < r1.distanceBefore, `${r1.distanceAfter} < ${r1.distanceBefore}`);
    // The aligned model is B up to the permutation: same function as B.
    const x = tf.randomNormal([8, 8, 8, 1], 0, 1, 'float32', 8) as tf.Tensor4D;
    assert.ok((await sameFunction(other, r1.model, x, false)) < 1e-5);
    x.dispose();
    for (const r of [r1, r2]) r.dispose();
  } finally {
    for (const t of [m, other, p]) t.dispose();
  }
});

test('align: a model with itself stays in place; tied units (zero-initialised Fixup layers) converge without cycling', async () => {
  const m = randomize(cnn({ ...cnnOpts, seed: 1 }), 51);
  const f1 = resnet({ ...resOpts, norm: 'none', seed: 1 });
  const f2 = resnet({ ...resOpts, norm: 'none', seed: 2 });
  try {
    const self = await align(m, m);
    assert.equal(self.iterations, 1);
    assert.ok(self.converged);
    assert.ok(self.groups.every((g) => g.moved === 0));
    self.dispose();
    // conv2 and the classifier start at zero: many units score the same.
    const tied = await align(f1, f2, { maxIterations: 50 });
    assert.ok(tied.converged, `stopped after ${tied.iterations} sweeps without converging`);
    for (const g of permutationSpec(f1).groups) assert.ok(isPermutation(tied.permutations[g.name]!, g.size), g.name);
    assert.ok(tied.distanceAfter <= tied.distanceBefore);
    tied.dispose();
  } finally {
    for (const t of [m, f1, f2]) t.dispose();
  }
});

/** A learnable 3-class task on 8×8 images: the class is the brightest of three bands. */
function task(n: number, seed: number, channels = 1) {
  const r = prng(seed);
  const x = new Float32Array(n * 64 * channels);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = Math.floor(r() * 3);
    for (let p = 0; p < 64 * channels; p++) {
      const row = Math.floor(p / (8 * channels));
      const band = row < 3 ? 0 : row < 6 ? 1 : 2;
      x[i * 64 * channels + p] = 0.3 * r() + (band === y[i] ? 0.6 : 0);
    }
  }
  return { x: tf.tensor4d(x, [n, 8, 8, channels]), y: tf.tensor1d(y, 'int32') };
}

test('interpolate with align: a trained network against its permuted copy has a raw barrier and none once aligned', async () => {
  const trainSet = task(96, 1);
  const testSet = task(60, 2);
  const m = cnn({ ...cnnOpts, seed: 7 });
  const run = await train(m, trainSet, { epochs: 8, batchSize: 16, lr: 0.1, progress: false });
  const { model: p } = await permuteUnits(m, { seed: 3 });
  try {
    const plain = await interpolate(m, p, testSet, { lambdas: 5 });
    const r = await assertNoLeak('interpolate with align', () => interpolate(m, p, testSet, { lambdas: 5, align: true, label: 'A/πA' }));
    const c = r.curves[0]!;
    assert.deepEqual(c.loss, plain.curves[0]!.loss, 'the raw curve does not depend on the option');
    assert.ok(c.barrier > 0.05, `raw barrier ${c.barrier}`);
    assert.ok(c.aligned, 'the aligned curve is there');
    assert.ok(Math.abs(c.aligned.barrier) < 1e-5, `aligned barrier ${c.aligned.barrier}`);
    for (const l of c.aligned.loss) assert.ok(Math.abs(l - c.loss[0]!) < 1e-5, 'aligned, every θ(λ) is A itself');
    assert.equal(c.aligned.distanceAfter, 0);
    assert.deepEqual(r.alignedBarriers(), new Map([['A/πA', c.aligned.barrier]]));
    const payload = r.toPayload().pairs[0]!;
    assert.deepEqual(payload.aligned, { loss: c.aligned.loss, accuracy: c.aligned.accuracy, barrier: c.aligned.barrier, barrierLambda: c.aligned.barrierLambda });
    assert.match(r.toString(), /Aligned by weight matching \(B's hidden units permuted to match A\):\npair +raw barrier +aligned barrier +at λ +acc\. barrier +‖θA − θB‖\n.*\nA\/πA +[\d.]+ +-?0\.0000 /);
    assert.equal(plain.toPayload().pairs[0]!.aligned, undefined);
    await assert.rejects(interpolate(m, p, testSet, { align: 'yes' as never }), /tl\.interpolate: options\.align must be an object, got the string "yes"/);
    await assert.rejects(interpolate(m, p, testSet, { align: { seeds: 1 } as never }), /tl\.interpolate: options\.align\.seeds is not a known option/);
  } finally {
    run.dispose();
    for (const t of [m, p, trainSet.x, trainSet.y, testSet.x, testSet.y]) t.dispose();
  }
});

test('interpolateAll with align on a BatchNorm ResNet: statistics recomputed along both curves; the aligned barrier of a permuted copy is 0', async () => {
  const data = task(64, 3, 2);
  const m = resnet({ ...resOpts, seed: 1 });
  const other = resnet({ ...resOpts, seed: 2 });
  for (const net of [m, other]) (await train(net, data, { epochs: 6, batchSize: 16, lr: 0.1, progress: false })).dispose();
  const { model: p } = await permuteUnits(m, { seed: 6 });
  try {
    const r = await assertNoLeak('interpolateAll with align', () =>
      interpolateAll(
        [
          { label: 'A/πA', a: m, b: p },
          { label: 'A/B', a: m, b: other },
        ],
        data,
        { lambdas: 5, recalibrationData: data, align: { seed: 1, maxIterations: 20 } },
      ),
    );
    const [self, pair] = r.curves as [(typeof r.curves)[number], (typeof r.curves)[number]];
    assert.ok(self.recalibrated && self.aligned && pair.aligned);
    assert.ok(Math.abs(self.aligned.barrier) < 1e-5, `aligned barrier ${self.aligned.barrier}`);
    assert.ok(self.barrier > 0.1, `raw barrier ${self.barrier}`);
    // Two networks trained from different seeds: matching their units lowers the barrier (1.42 → 0.14 here).
    assert.ok(pair.aligned.barrier < pair.barrier / 2, `A/B: aligned ${pair.aligned.barrier}, raw ${pair.barrier}`);
    assert.ok(pair.aligned.distanceAfter < pair.aligned.distanceBefore);
    // The end points are the same functions: B and B aligned have the same loss.
    assert.ok(Math.abs(pair.aligned.loss.at(-1)! - pair.loss.at(-1)!) < 1e-4);
    assert.ok(Math.abs(pair.aligned.loss[0]! - pair.loss[0]!) < 1e-6);
  } finally {
    for (const t of [m, other, p, data.x, data.y]) t.dispose();
  }
});
