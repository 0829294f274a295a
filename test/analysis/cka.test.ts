import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWebGpu } from '../helpers/webgpu';
import { tf } from '../../kernel/analysis/tfjs';
import { initBackend } from '../../kernel/analysis/backends';
import * as cka from '../../kernel/analysis/cka';
import { cnn } from '../../kernel/analysis/netModel';
import { InvalidArgumentError, ShapeMismatchError } from '../../kernel/analysis/errors';
import { stopGramWorkers } from '../../kernel/analysis/gram/pool';
import { Mime } from '../../kernel/protocol/mime';
import * as vega from 'vega';
import { assertNoLeak } from './leak';
import { type M, normal, orthogonal, rand, randn } from '../helpers/reference';

before(async () => {
  await initBackend('wasm');
});
after(async () => {
  cka.ckaInternals.reducer = undefined;
  cka.ckaInternals.threads = undefined;
  await stopGramWorkers();
});

// ─── Independent float64 references (plain number[][] arithmetic) ──────────────────────────

function matmul(A: M, B: M): M {
  const q = B[0]!.length;
  return A.map((row) => {
    const out = new Array<number>(q).fill(0);
    row.forEach((a, k) => {
      const b = B[k]!;
      for (let j = 0; j < q; j++) out[j]! += a * b[j]!;
    });
    return out;
  });
}
function transposeM(A: M): M {
  return A[0]!.map((_, j) => A.map((r) => r[j]!));
}
/** Y = relu(X W) + noise: related to X but not a linear image of it. */
function related(X: M, q: number, seed: number, noise = 0.5): M {
  const W = randn(X[0]!.length, q, seed);
  const N = randn(X.length, q, seed + 1, noise);
  return matmul(X, W).map((r, i) => r.map((v, j) => Math.max(0, v) + N[i]![j]!));
}
function gramLinear(X: M): M {
  return matmul(X, transposeM(X));
}
function gramRbf(X: M, threshold: number): M {
  const n = X.length;
  const D: M = X.map((a) => X.map((b) => a.reduce((s, v, k) => s + (v - b[k]!) ** 2, 0)));
  const all = D.flat().sort((a, b) => a - b);
  const med = all.length % 2 ? all[(all.length - 1) / 2]! : (all[all.length / 2 - 1]! + all[all.length / 2]!) / 2;
  void n;
  return D.map((r) => r.map((d) => Math.exp(-d / (2 * threshold * threshold * med))));
}
function centreGram(K: M): M {
  const n = K.length;
  const rm = K.map((r) => r.reduce((a, b) => a + b, 0) / n);
  const g = rm.reduce((a, b) => a + b, 0) / n;
  return K.map((r, i) => r.map((v, j) => v - rm[i]! - rm[j]! + g));
}
function hsicBiased(K: M, L: M): number {
  const Kc = centreGram(K);
  const Lc = centreGram(L);
  let s = 0;
  Kc.forEach((r, i) => r.forEach((v, j) => (s += v * Lc[i]![j]!)));
  return s / (K.length - 1) ** 2;
}
/** PAPER.md §2: zero the diagonals, HSIC₁ = [tr(K̃L̃) + 1ᵀK̃1·1ᵀL̃1/((n−1)(n−2)) − 2/(n−2)·1ᵀK̃L̃1] / (n(n−3)). */
function hsicUnbiased(K: M, L: M): number {
  const n = K.length;
  const Kt = K.map((r, i) => r.map((v, j) => (i === j ? 0 : v)));
  const Lt = L.map((r, i) => r.map((v, j) => (i === j ? 0 : v)));
  let tr = 0;
  Kt.forEach((r, i) => r.forEach((v, j) => (tr += v * Lt[j]![i]!)));
  const k1 = Kt.map((r) => r.reduce((a, b) => a + b, 0));
  const l1 = Lt.map((r) => r.reduce((a, b) => a + b, 0));
  const sk = k1.reduce((a, b) => a + b, 0);
  const sl = l1.reduce((a, b) => a + b, 0);
  const kl = k1.reduce((a, v, i) => a + v * l1[i]!, 0);
  return (tr + (sk * sl) / ((n - 1) * (n - 2)) - (2 / (n - 2)) * kl) / (n * (n - 3));
}
function refCka(K: M, L: M, debiased: boolean): number {
  const h = debiased ? hsicUnbiased : hsicBiased;
  return h(K, L) / Math.sqrt(h(K, K) * h(L, L));
}
const refLinear = (X: M, Y: M, debiased = false) => refCka(gramLinear(X), gramLinear(Y), debiased);
const refRbf = (X: M, Y: M, threshold = 1, debiased = false) => refCka(gramRbf(X, threshold), gramRbf(Y, threshold), debiased);

function assertClose(actual: number, expected: number, rel: number, what: string): void {
  const err = Math.abs(actual - expected) / Math.max(Math.abs(expected), 1e-12);
  assert.ok(err <= rel, `${what}: got ${actual}, expected ${expected} (relative error ${err.toExponential(2)} > ${rel})`);
}

/** A random orthogonal matrix (Gram–Schmidt on a Gaussian matrix, float64). */

// ─── Agreement with the references ─────────────────────────────────────────────────────────

test('linear CKA equals the float64 reference (both forms, both reductions, biased and debiased)', async () => {
  const cases: [number, number, number][] = [
    [60, 5, 7],
    [300, 40, 24],
    [180, 300, 90], // p > n: the Gram form's natural case
  ];
  for (const [n, p, q] of cases) {
    const X = randn(n, p, n + p, 1, 0.3);
    const Y = related(X, q, n + q);
    for (const debiased of [false, true]) {
      const ref = refLinear(X, Y, debiased);
      for (const algorithm of ['auto', 'gram', 'features'] as const) {
        for (const reducer of ['host', 'device'] as const) {
          if (reducer === 'device' && algorithm === 'features') continue;
          cka.ckaInternals.reducer = reducer;
          const got = await assertNoLeak(`linear ${n}×${p}/${q}`, () => cka.linear(X, Y, { debiased, algorithm }));
          assertClose(got, ref, 1e-6, `linear n=${n} p=${p} q=${q} debiased=${debiased} ${algorithm}/${reducer}`);
        }
      }
      cka.ckaInternals.reducer = undefined;
    }
  }
});

test('Gram blocks smaller than n and column chunks smaller than p give the same values', async () => {
  const X = randn(150, 70, 3);
  const Y = related(X, 33, 4);
  const saved = { ...cka.ckaInternals };
  try {
    cka.ckaInternals.hostBlockRows = 32;
    cka.ckaInternals.kChunk = 16;
    cka.ckaInternals.rowChunk = 40;
    for (const debiased of [false, true]) {
      const ref = refLinear(X, Y, debiased);
      assertClose(await cka.linear(X, Y, { debiased, algorithm: 'gram' }), ref, 1e-6, 'gram, small blocks');
      assertClose(await cka.linear(X, Y, { debiased, algorithm: 'features' }), ref, 1e-6, 'features, small chunks');
    }
  } finally {
    Object.assign(cka.ckaInternals, saved);
  }
});

test('RBF CKA equals the float64 reference (median of all n² distances, thresholds, debiased)', async () => {
  const X = randn(80, 6, 11);
  const Y = related(X, 9, 12, 1);
  for (const threshold of [1, 0.5, 2]) {
    for (const debiased of [false, true]) {
      const got = await assertNoLeak('rbf', () => cka.rbf(X, Y, { threshold, debiased }));
      assertClose(got, refRbf(X, Y, threshold, debiased), 1e-6, `rbf threshold=${threshold} debiased=${debiased}`);
    }
  }
  // Odd n (the median is a single middle element).
  const X2 = randn(41, 4, 13);
  const Y2 = related(X2, 5, 14);
  assertClose(await cka.rbf(X2, Y2), refRbf(X2, Y2), 1e-6, 'rbf odd n');
  // Distances all from the float32 Gram form (where positive), or all by differences in float64.
  const saved = cka.ckaInternals.rbfCancellation;
  try {
    const X3 = randn(120, 40, 15, 1, 0.5);
    const Y3 = related(X3, 30, 16);
    for (const ratio of [1e300, 0]) {
      cka.ckaInternals.rbfCancellation = ratio;
      for (const debiased of [false, true]) assertClose(await cka.rbf(X3, Y3, { debiased }), refRbf(X3, Y3, 1, debiased), 1e-6, `rbf rbfCancellation=${ratio} debiased=${debiased}`);
    }
  } finally {
    cka.ckaInternals.rbfCancellation = saved;
  }
});

/**
 * Data on which squared distances from a float32 Gram matrix (‖a‖² + ‖b‖² − 2a·b) cancel: points
 * close together and far from the origin even after centring. Each set is X and a related Y.
 */
function adversarial(): [string, M, M][] {
  const r = rand(1234);
  // Two clusters of spread 1e-2 at ±1e4 (70% / 30% of the points, so that most pairs, and the median
  // distance, are within a cluster), plus a common offset of 1e4.
  const n = 50;
  const p = 4;
  const W = randn(p, 3, 99);
  const clusters: [M, M] = [[], []];
  for (let i = 0; i < n; i++) {
    const side = i < 35 ? 1 : -35 / 15;
    const z = Array.from({ length: p }, () => normal(r));
    clusters[0].push(z.map((v, k) => 1e4 + side * 1e4 * (k + 1) + 1e-2 * v));
    const h = W[0]!.map((_, j) => Math.tanh(z.reduce((s, v, k) => s + v * W[k]![j]!, 0)) + 0.3 * normal(r));
    clusters[1].push(h.map((v) => -1e4 + side * 2e4 + 1e-2 * v));
  }
  // Duplicated points (each row twice) at an offset of 1e3 with spread 1e-3.
  const base = randn(20, 3, 77, 1e-3, 1e3);
  const baseY = related(base.map((row) => row.map((v) => (v - 1e3) * 1e3)), 4, 78).map((row) => row.map((v) => 5e3 + 1e-3 * v));
  const dupX = [...base, ...base];
  const dupY = [...baseY, ...baseY];
  // Mixed scales between columns (1e4, 1, 1e-3) with large offsets, in clusters.
  const mixed = randn(40, 3, 55).map((row, i) => [3e5 + (i % 2) * 1e4 + 1e-1 * row[0]!, -7e4 + row[1]!, 1e-3 * row[2]!]);
  const mixedY = related(mixed.map((row) => [(row[0]! - 3e5) / 1e4, row[1]! + 7e4, row[2]! * 1e3]), 3, 56).map((row) => row.map((v) => 1e4 + v));
  return [
    ['clusters', clusters[0], clusters[1]],
    ['duplicates', dupX, dupY],
    ['mixed scales', mixed, mixedY],
  ];
}

test('RBF CKA equals the float64 reference on adversarial data (tight clusters far out, duplicates, mixed scales)', async () => {
  for (const [name, X, Y] of adversarial()) {
    for (const debiased of [false, true]) {
      for (const threshold of [1, 0.5]) {
        const got = await assertNoLeak('rbf adversarial', () => cka.rbf(X, Y, { threshold, debiased }));
        assertClose(got, refRbf(X, Y, threshold, debiased), 1e-6, `rbf ${name} number[][] threshold=${threshold} debiased=${debiased}`);
      }
    }
    // Tensors hold float32: the reference takes the same float32 values, differences in float64.
    const Xf = X.map((row) => row.map(Math.fround));
    const Yf = Y.map((row) => row.map(Math.fround));
    const tX = tf.tensor2d(Xf);
    const tY = tf.tensor2d(Yf);
    try {
      for (const debiased of [false, true]) {
        const got = await assertNoLeak('rbf adversarial tensors', () => cka.rbf(tX, tY, { debiased }));
        assertClose(got, refRbf(Xf, Yf, 1, debiased), 1e-6, `rbf ${name} tensors debiased=${debiased}`);
      }
      const heat = await assertNoLeak('rbf adversarial matrix', () => cka.matrixFromFeatures({ x: tX }, { y: Y }, { kind: 'rbf' }));
      assertClose(heat.get('x', 'y'), refRbf(Xf, Y), 1e-6, `rbf ${name} matrixFromFeatures`);
    } finally {
      tf.dispose([tX, tY]);
    }
  }
});

test('minibatch CKA equals the mean of per-batch unbiased HSIC (reference), linear and RBF', async () => {
  const X = randn(120, 10, 31);
  const Y = related(X, 7, 32);
  const Z = randn(120, 4, 33);
  const batches = [[0, 40], [40, 80], [80, 120]] as const;
  for (const kind of ['linear', 'rbf'] as const) {
    const acc = new cka.MinibatchCka({ kind });
    for (const [a, b] of batches) {
      await assertNoLeak('MinibatchCka.update', () => acc.update({ x: X.slice(a, b), z: Z.slice(a, b) }, { y: Y.slice(a, b) }));
    }
    const res = acc.result();
    assert.deepEqual(res.rows, ['x', 'z']);
    assert.deepEqual(res.columns, ['y']);
    assert.equal(res.estimator, 'minibatch');
    assert.equal(res.n, 120);
    const gram = (A: M) => (kind === 'linear' ? gramLinear(A) : gramRbf(A, 1));
    for (const [name, A] of [['x', X], ['z', Z]] as const) {
      let kl = 0;
      let kk = 0;
      let ll = 0;
      for (const [a, b] of batches) {
        const K = gram(A.slice(a, b));
        const L = gram(Y.slice(a, b));
        kl += hsicUnbiased(K, L);
        kk += hsicUnbiased(K, K);
        ll += hsicUnbiased(L, L);
      }
      assertClose(res.get(name, 'y'), kl / Math.sqrt(kk * ll), 1e-6, `minibatch ${kind} ${name}`);
    }
  }
});

test('minibatch CKA weights a ragged batch by its examples (reference: Σ m·HSIC₁ over batches)', async () => {
  const X = randn(92, 6, 34);
  const Y = related(X, 5, 35, 1);
  const batches = [[0, 40], [40, 80], [80, 92]] as const; // the last batch has 12 examples
  for (const kind of ['linear', 'rbf'] as const) {
    const acc = new cka.MinibatchCka({ kind });
    for (const [a, b] of batches) await assertNoLeak('MinibatchCka.update ragged', () => acc.update({ x: X.slice(a, b) }, { y: Y.slice(a, b) }));
    const res = acc.result();
    const gram = (A: M) => (kind === 'linear' ? gramLinear(A) : gramRbf(A, 1));
    let kl = 0;
    let kk = 0;
    let ll = 0;
    let klMean = 0;
    let kkMean = 0;
    let llMean = 0;
    for (const [a, b] of batches) {
      const m = b - a;
      const K = gram(X.slice(a, b));
      const L = gram(Y.slice(a, b));
      kl += m * hsicUnbiased(K, L);
      kk += m * hsicUnbiased(K, K);
      ll += m * hsicUnbiased(L, L);
      klMean += hsicUnbiased(K, L);
      kkMean += hsicUnbiased(K, K);
      llMean += hsicUnbiased(L, L);
    }
    const want = kl / Math.sqrt(kk * ll);
    const unweighted = klMean / Math.sqrt(kkMean * llMean);
    assert.ok(Math.abs(want - unweighted) > 1e-3, `the test data must tell the weightings apart (${want} vs ${unweighted})`);
    assertClose(res.get('x', 'y'), want, 1e-6, `ragged minibatch ${kind}`);
    assert.deepEqual(res.batchSizes, [40, 40, 12]);
    assert.equal(res.batchWeighting, 'examples');
    assert.equal(res.n, 92);
    assert.match(res.toString(), /minibatch \(3 batches of 40 examples, the last of 12; unbiased HSIC weighted by batch size\), n = 92/);
  }
  // Equal batches: the paper's mean over batches, said without a "last".
  const eq = new cka.MinibatchCka();
  await eq.update({ x: X.slice(0, 46) }, { y: Y.slice(0, 46) });
  await eq.update({ x: X.slice(46) }, { y: Y.slice(46) });
  assert.match(eq.result().description, /2 batches of 46 examples; unbiased HSIC weighted by batch size/);
});

test('the Gram form on worker threads gives the single-thread values', async () => {
  const X = randn(200, 150, 201, 1, 0.5);
  const A = { a: X, b: related(X, 40, 202), c: randn(200, 7, 203) };
  const B = { d: related(X, 90, 204), e: randn(200, 30, 205) };
  const saved = { ...cka.ckaInternals };
  try {
    cka.ckaInternals.hostBlockRows = 48; // several blocks per thread
    cka.ckaInternals.threads = 1;
    const one = await cka.matrixFromFeatures(A, B, { algorithm: 'gram' });
    const oneDeb = await cka.linear(A.a, B.d, { algorithm: 'gram', debiased: true });
    cka.ckaInternals.threads = 2;
    const two = await assertNoLeak('parallel matrix', () => cka.matrixFromFeatures(A, B, { algorithm: 'gram' }));
    one.values.forEach((r, i) => r.forEach((v, j) => assertClose(two.values[i]![j]!, v, 1e-12, `threads ${one.rows[i]}/${one.columns[j]}`)));
    assertClose(two.get('a', 'd'), refLinear(A.a, B.d), 1e-6, 'parallel vs reference');
    assertClose(await cka.linear(A.a, B.d, { algorithm: 'gram', debiased: true }), oneDeb, 1e-12, 'parallel debiased');
    cka.ckaInternals.threads = 3;
    assertClose((await cka.matrixFromFeatures(A, B, { algorithm: 'gram' })).get('c', 'e'), one.get('c', 'e'), 1e-12, 'three threads');
  } finally {
    Object.assign(cka.ckaInternals, saved);
  }
});

// ─── Properties ────────────────────────────────────────────────────────────────────────────

test('properties: CKA(X,X) = 1, symmetry, orthogonal and isotropic-scaling invariance, translation', async () => {
  const X = randn(100, 12, 41);
  const Y = related(X, 8, 42);
  const Q = orthogonal(12, 43);
  const XQ = matmul(X, Q);
  const scaled = X.map((r) => r.map((v) => 37.5 * v));
  const shifted = X.map((r) => r.map((v) => v + 1000)); // a large common offset (ReLU-like)
  for (const debiased of [false, true]) {
    assertClose(await cka.linear(X, X, { debiased }), 1, 1e-9, 'linear(X, X)');
    assertClose(await cka.linear(X, Y.map((r) => [...r]), { debiased }), await cka.linear(Y, X, { debiased }), 1e-9, 'symmetry');
    const base = await cka.linear(X, Y, { debiased });
    assertClose(await cka.linear(XQ, Y, { debiased }), base, 1e-6, 'orthogonal invariance');
    assertClose(await cka.linear(scaled, Y, { debiased }), base, 1e-6, 'isotropic scaling');
    assertClose(await cka.linear(shifted, Y, { debiased }), base, 1e-6, 'translation');
    const rb = await cka.rbf(X, Y, { debiased });
    assertClose(await cka.rbf(XQ, Y, { debiased }), rb, 1e-6, 'rbf orthogonal invariance');
    assertClose(await cka.rbf(scaled, Y, { debiased }), rb, 1e-6, 'rbf isotropic scaling');
  }
  assertClose(await cka.rbf(X, X), 1, 1e-9, 'rbf(X, X)');
});

test('properties: not invariant to an arbitrary invertible linear map', async () => {
  const X = randn(100, 6, 51);
  const Y = related(X, 5, 52);
  // Stretch one direction by 30: invertible, not orthogonal, not isotropic.
  const A = [...Array(6)].map((_, i) => [...Array(6)].map((__, j) => (i === j ? (i === 0 ? 30 : 1) : i === 1 && j === 2 ? 0.8 : 0)));
  const XA = matmul(X, A);
  const diff = Math.abs(await cka.linear(XA, Y) - await cka.linear(X, Y));
  assert.ok(diff > 1e-2, `CKA changed by only ${diff}`);
});

test('tensors of any rank are flattened per example and agree with number[][]', async () => {
  const X = randn(30, 2 * 3 * 4, 61);
  const Y = related(X, 10, 62);
  const X4 = tf.tensor4d(X.flat(), [30, 2, 3, 4]);
  const Y2 = tf.tensor2d(Y);
  try {
    // Tensors hold float32: compare with the same values as arrays.
    const Xf = X.map((r) => r.map(Math.fround));
    const Yf = Y.map((r) => r.map(Math.fround));
    const a = await assertNoLeak('linear on tensors', () => cka.linear(X4, Y2));
    assertClose(a, await cka.linear(Xf, Yf), 1e-12, 'tensor vs arrays');
    assertClose(a, refLinear(X, Y), 1e-6, 'tensor vs float64 reference');
    assertClose(await assertNoLeak('rbf on tensors', () => cka.rbf(X4, Y2)), await cka.rbf(Xf, Yf), 1e-12, 'rbf tensor vs arrays');
    assert.equal(await cka.linear(X4, X4), 1);
  } finally {
    tf.dispose([X4, Y2]);
  }
});

// ─── Matrices ──────────────────────────────────────────────────────────────────────────────

test('matrixFromFeatures equals pairwise CKA and displays itself', async () => {
  const X = randn(90, 20, 71);
  const A = { conv1: X, layer1: related(X, 15, 72), fc: related(X, 3, 73) };
  const B = { conv1: related(X, 25, 74), layer1: randn(90, 8, 75) };
  const res = await assertNoLeak('matrixFromFeatures', () => cka.matrixFromFeatures(A, B, { modelA: 'P-T', modelB: 'RI-T' }));
  assert.deepEqual(res.rows, ['conv1', 'layer1', 'fc']);
  assert.deepEqual(res.columns, ['conv1', 'layer1']);
  for (const [r, Xr] of Object.entries(A)) {
    for (const [c, Yc] of Object.entries(B)) assertClose(res.get(r, c), refLinear(Xr, Yc), 1e-6, `${r}/${c}`);
  }
  const self = await cka.matrixFromFeatures(A);
  for (const r of self.rows) assertClose(self.get(r, r), 1, 1e-9, `self ${r}`);
  assertClose(self.get('conv1', 'fc'), self.get('fc', 'conv1'), 1e-12, 'self symmetric');
  const deb = await cka.matrixFromFeatures(A, B, { debiased: true, kind: 'rbf' });
  assertClose(deb.get('layer1', 'conv1'), refRbf(A.layer1, B.conv1, 1, true), 1e-6, 'rbf debiased matrix');

  const bundle = res[Symbol.for('Jupyter.display') as never] as unknown as () => Record<string, unknown>;
  const mime = bundle.call(res);
  // The Jupyter fallback is a Vega spec from the renderer's own builder (kernel/protocol/charts):
  // one path per colour level, so it has no per-cell data rows (test/protocol/charts.test.ts draws it).
  assert.deepEqual(Object.keys(mime).sort(), [Mime.cka, Mime.plain, Mime.vega].sort());
  const payload = mime[Mime.cka] as { rows: string[]; columns: string[]; values: number[][]; kind: string; debiased: boolean; n: number; modelA: string };
  assert.deepEqual(payload.rows, res.rows);
  assert.equal(payload.values[2]![1], res.get('fc', 'layer1'));
  assert.equal(payload.kind, 'linear');
  assert.equal(payload.n, 90);
  assert.equal(payload.modelA, 'P-T');
  const spec = mime[Mime.vega] as { $schema: string; scales: { name: string; domain: unknown }[] };
  assert.match(spec.$schema, /vega\/v5/);
  // Every module of both models is on an axis.
  assert.deepEqual(spec.scales.find((s) => s.name === 'y')?.domain, res.rows);
  assert.deepEqual(spec.scales.find((s) => s.name === 'x')?.domain, res.columns);
  new vega.View(vega.parse(spec as never), { renderer: 'none' }); // a valid vega spec
  const text = mime[Mime.plain] as string;
  assert.match(text, /P-T \\ RI-T/);
  assert.ok(text.includes(res.get('conv1', 'conv1').toFixed(3)));
  assert.equal(JSON.parse(JSON.stringify(payload)).values[0][0], payload.values[0]![0]);
});

test('matrix(modelA, modelB, data): module outputs of two models, full and minibatch', async () => {
  const a = cnn({ inputShape: [8, 8, 1], numClasses: 3, channels: [4, 6], hidden: 10, seed: 1 });
  const b = cnn({ inputShape: [8, 8, 1], numClasses: 3, channels: [4, 6], hidden: 10, seed: 2 });
  const x = tf.randomUniform([64, 8, 8, 1], 0, 1, 'float32', 5) as tf.Tensor4D;
  const y = tf.zeros([64], 'int32') as tf.Tensor1D;
  try {
    const res = await assertNoLeak('matrix', () => cka.matrix(a, b, { x, y }, { batchSize: 24, modelA: 'seed 1', modelB: 'seed 2' }));
    assert.deepEqual(res.rows, ['conv1', 'conv2', 'fc1', 'fc']);
    const fa = a.forward(x, { collect: [...a.moduleNames] }).activations;
    const fb = b.forward(x, { collect: [...b.moduleNames] }).activations;
    try {
      const ref = await cka.matrixFromFeatures(fa, fb);
      for (const r of res.rows) for (const c of res.columns) assertClose(res.get(r, c), ref.get(r, c), 1e-6, `matrix ${r}/${c}`);
      const mb = await assertNoLeak('minibatch matrix', () => cka.matrix(a, b, x, { estimator: 'minibatch', batchSize: 32, layers: ['conv2', 'fc'] }));
      const acc = new cka.MinibatchCka();
      for (const s of [0, 32]) {
        const sl = (m: Map<string, tf.Tensor>) => ({ conv2: tf.slice(m.get('conv2')!, s, 32), fc: tf.slice(m.get('fc')!, s, 32) });
        const pa = sl(fa);
        const pb = sl(fb);
        await acc.update(pa, pb);
        tf.dispose([...Object.values(pa), ...Object.values(pb)]);
      }
      const want = acc.result();
      assert.equal(mb.batches, 2);
      for (const r of ['conv2', 'fc']) for (const c of ['conv2', 'fc']) assertClose(mb.get(r, c), want.get(r, c), 1e-9, `minibatch ${r}/${c}`);
      // Ragged: 64 = 24 + 24 + 16 (the last weighted by its size); 64 = 31 + 33 (a tail of 2 joins the batch before it).
      for (const [batchSize, sizes] of [[24, [24, 24, 16]], [31, [31, 33]]] as const) {
        const rag = await assertNoLeak('ragged minibatch matrix', () => cka.matrix(a, b, x, { estimator: 'minibatch', batchSize, layers: ['fc'] }));
        assert.deepEqual(rag.batchSizes, sizes);
        assert.equal(rag.n, 64);
        const accR = new cka.MinibatchCka();
        let s = 0;
        for (const m of sizes) {
          const pa = { fc: tf.slice(fa.get('fc')!, s, m) };
          const pb = { fc: tf.slice(fb.get('fc')!, s, m) };
          await accR.update(pa, pb);
          tf.dispose([pa.fc, pb.fc]);
          s += m;
        }
        assertClose(rag.get('fc', 'fc'), accR.result().get('fc', 'fc'), 1e-9, `ragged minibatch matrix, batchSize ${batchSize}`);
      }
    } finally {
      tf.dispose([...fa.values(), ...fb.values()]);
    }
    const self = await cka.matrix(a, a, x, { layers: { a: ['conv1', 'fc'], b: ['fc', 'conv2'] } });
    assert.deepEqual(self.columns, ['fc', 'conv2']);
    assertClose(self.get('fc', 'fc'), 1, 1e-9, 'same model, same module');
  } finally {
    a.dispose();
    b.dispose();
    tf.dispose([x, y]);
  }
});

// ─── Errors ────────────────────────────────────────────────────────────────────────────────

test('errors name the function, the argument and the shapes', async () => {
  const X = randn(100, 4, 81);
  const Y = randn(90, 4, 82);
  await assert.rejects(() => cka.linear(X, Y), (e: unknown) => e instanceof ShapeMismatchError && /^tl\.cka\.linear: X has 100 rows but Y has 90/.test(e.message));
  const t1 = tf.tensor1d([1, 2, 3]);
  await assert.rejects(() => cka.rbf(t1, t1), /tl\.cka\.rbf: X must have one row per example .* got shape \[3\]/);
  t1.dispose();
  await assert.rejects(() => cka.linear(X.slice(0, 3), X.slice(0, 3), { debiased: true }), /X has 3 rows; the debiased estimator needs at least 4/);
  await assert.rejects(() => cka.linear([[1, 2], [3]], [[1], [2]]), /X has rows of different lengths: row 1 has 1 values, row 0 has 2/);
  await assert.rejects(() => cka.linear([[1, NaN], [3, 4]], [[1], [2]]), /X has a non-finite or non-numeric value \(the number NaN\) at row 0, column 1/);
  const nanT = tf.tensor2d([[1, 2], [Infinity, 4], [5, 6]]);
  await assert.rejects(() => cka.linear(nanT, X.slice(0, 3)), /X has a non-finite value \(Infinity\) at row 1, column 0/);
  nanT.dispose();
  await assert.rejects(() => cka.linear(X, X.map(() => [1, 1])), /tl\.cka\.linear: Y is constant across examples/);
  await assert.rejects(() => cka.linear(X, X, { debaised: true } as never), (e: unknown) => e instanceof InvalidArgumentError && /options\.debaised is not a known option/.test(e.message));
  await assert.rejects(() => cka.rbf(X, X, { threshold: 0 }), /tl\.cka\.rbf: options\.threshold must be > 0, got 0/);
  await assert.rejects(() => cka.linear('x' as never, X), /X must be a tensor \[n, p\] or number\[\]\[\], got the string "x"/);
  const d = tf.zeros([4, 2]);
  d.dispose();
  await assert.rejects(() => cka.linear(d, d), /X is a disposed tensor/);
  await assert.rejects(() => cka.matrixFromFeatures({ a: X, b: Y }), /featuresA\.b has 90 rows but featuresA\.a has 100/);
  await assert.rejects(() => cka.matrixFromFeatures({}), /featuresA is empty/);
  const acc = new cka.MinibatchCka();
  assert.throws(() => acc.result(), /has no minibatches yet/);
  await acc.update({ a: X.slice(0, 10) });
  await assert.rejects(() => acc.update({ b: X.slice(0, 10) }), /featuresA has modules \[b\] but earlier minibatches had \[a\]/);
  await assert.rejects(() => acc.update({ a: X.slice(0, 3) }), /minibatch of 3 examples; the unbiased HSIC needs at least 4/);
  const m = cnn({ inputShape: [8, 8, 1], numClasses: 3, channels: [2], hidden: 4 });
  const x = tf.zeros([8, 6, 6, 1]) as tf.Tensor4D;
  try {
    await assert.rejects(cka.matrix(m, m, x), /tl\.cka\.matrix: data has images 6×6×1 but modelA \(cnn\) expects 8×8×1/);
    const x8 = tf.zeros([8, 8, 8, 1]) as tf.Tensor4D;
    await assert.rejects(cka.matrix(m, m, x8, { layers: ['conv9'] }), /options\.layers names unknown module 'conv9'/);
    x8.dispose();
    await assert.rejects(cka.matrix({} as never, m, x), /tl\.cka\.matrix: modelA must be a model/);
  } finally {
    m.dispose();
    x.dispose();
  }
  assert.equal(tf.memory().numTensors >= 0, true);
});

// ─── WebGPU (lavapipe without a GPU): the device reduction path ─────────────────────────────

test('on WebGPU: CKA (linear, rbf, heatmap, minibatch) equals the float64 reference', async (t) => {
  await startWebGpu(t);
  try {
    const X = randn(70, 90, 91, 1, 0.2);
    const Y = related(X, 24, 92);
    const Z = randn(70, 9, 93);
    for (const debiased of [false, true]) {
      for (const algorithm of ['gram', 'features'] as const) {
        const got = await assertNoLeak('linear on webgpu', () => cka.linear(X, Y, { debiased, algorithm }));
        assertClose(got, refLinear(X, Y, debiased), 1e-6, `webgpu linear ${algorithm} debiased=${debiased}`);
      }
    }
    assertClose(await cka.rbf(X, Y, { debiased: true }), refRbf(X, Y, 1, true), 1e-6, 'webgpu rbf');
    const res = await assertNoLeak('matrixFromFeatures on webgpu', () => cka.matrixFromFeatures({ x: X, z: Z }, { y: Y, z: Z }, { algorithm: 'gram' }));
    assertClose(res.get('x', 'y'), refLinear(X, Y), 1e-6, 'webgpu matrix x/y');
    assertClose(res.get('z', 'z'), 1, 1e-9, 'webgpu matrix z/z');
    assertClose(res.get('z', 'y'), refLinear(Z, Y), 1e-6, 'webgpu matrix z/y');
    const acc = new cka.MinibatchCka();
    await assertNoLeak('MinibatchCka.update on webgpu', () => acc.update({ x: X }, { y: Y }));
    assertClose(acc.result().get('x', 'y'), refLinear(X, Y, true), 1e-6, 'webgpu minibatch (one batch: the debiased CKA)');
  } finally {
    await initBackend('wasm');
  }
});
