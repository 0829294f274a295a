/**
 * Uncertainty over examples: bootstrap intervals and permutation p-values of CKA
 * (kernel/analysis/cka/uncertainty.ts), the resampling helpers (kernel/analysis/resampling.ts) and
 * the barrier interval of interpolation. References are plain float64 JavaScript written here.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../kernel/analysis/tfjs';
import { initBackend } from '../../kernel/analysis/backends';
import * as cka from '../../kernel/analysis/cka';
import { permutedHsicOf, weightedHsicOf } from '../../kernel/analysis/cka/uncertainty';
import { bootstrapMeans, checkUncertainty, percentileInterval, permutationPValue, quantile } from '../../kernel/analysis/resampling';
import { InvalidArgumentError } from '../../kernel/analysis/errors';
import { Mime, type CkaPayload } from '../../kernel/protocol/mime';
import { assertNoLeak } from './leak';
import { cnn } from '../../kernel/analysis/netModel';
import { interpolate } from '../../kernel/analysis/interpolate';
import { evaluateSettings } from '../../kernel/analysis/evalGrid';
import type { NamedWeights } from '../../kernel/analysis/modelContract';
import { type M, normal, rand, randnFrom as randn } from '../helpers/reference';

before(async () => {
  await initBackend('wasm');
});

// ─── Independent float64 references ───────────────────────────────────────────────────────────

function gram(X: M): number[] {
  const n = X.length;
  const K = new Array<number>(n * n).fill(0);
  for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) K[a * n + b] = X[a]!.reduce((s, v, t) => s + v * X[b]![t]!, 0);
  return K;
}
/** Biased linear CKA of the rows of X and Y, from centred features. */
function linearCkaRef(X: M, Y: M): number {
  const centre = (A: M): M => {
    const mean = A[0]!.map((_, j) => A.reduce((s, r) => s + r[j]!, 0) / A.length);
    return A.map((r) => r.map((v, j) => v - mean[j]!));
  };
  const x = centre(X);
  const y = centre(Y);
  const cross = (A: M, B: M) => {
    let s = 0;
    for (let i = 0; i < A[0]!.length; i++) {
      for (let j = 0; j < B[0]!.length; j++) {
        let c = 0;
        for (let k = 0; k < A.length; k++) c += A[k]![i]! * B[k]![j]!;
        s += c * c;
      }
    }
    return s;
  };
  return cross(x, y) / Math.sqrt(cross(x, x) * cross(y, y));
}
/** The unbiased HSIC₁ of Song et al. (2012), closed form, from Gram matrices (n × n). */
function unbiasedHsicRef(n: number, K: number[], L: number[]): number {
  const k = K.map((v, t) => (t % (n + 1) === 0 ? 0 : v));
  const l = L.map((v, t) => (t % (n + 1) === 0 ? 0 : v));
  let tr = 0;
  for (let t = 0; t < n * n; t++) tr += k[t]! * l[t]!;
  const rowK = Array.from({ length: n }, (_, a) => k.slice(a * n, a * n + n).reduce((s, v) => s + v, 0));
  const rowL = Array.from({ length: n }, (_, a) => l.slice(a * n, a * n + n).reduce((s, v) => s + v, 0));
  const sK = rowK.reduce((s, v) => s + v, 0);
  const sL = rowL.reduce((s, v) => s + v, 0);
  const kl = rowK.reduce((s, v, a) => s + v * rowL[a]!, 0);
  return (tr + (sK * sL) / ((n - 1) * (n - 2)) - (2 / (n - 2)) * kl) / (n * (n - 3));
}
/**
 * The unbiased HSIC as a U-statistic of order 4 over quadruples of distinct examples, each
 * weighted by the product of the examples' counts w, by brute force:
 * h = k(i,j)l(i,j) + k(i,j)l(q,r) − 2k(i,j)l(i,q) (Song et al. 2012). With w = 1, HSIC₁.
 */
function weightedUnbiasedRef(n: number, K: number[], L: number[], w: number[]): number {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      for (let q = 0; q < n; q++) {
        if (q === i || q === j) continue;
        for (let r = 0; r < n; r++) {
          if (r === i || r === j || r === q) continue;
          const wt = w[i]! * w[j]! * w[q]! * w[r]!;
          sum += wt * (K[i * n + j]! * L[i * n + j]! + K[i * n + j]! * L[q * n + r]! - 2 * K[i * n + j]! * L[i * n + q]!);
          count += wt;
        }
      }
    }
  }
  return sum / count;
}
const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

/** Exact two-sided binomial interval [lo, hi] holding at least `coverage` of Binomial(n, p). */
function binomialInterval(n: number, p: number, coverage: number): [number, number] {
  const pmf: number[] = [];
  let logC = 0;
  for (let k = 0; k <= n; k++) {
    if (k > 0) logC += Math.log((n - k + 1) / k);
    pmf.push(Math.exp(logC + k * Math.log(p) + (n - k) * Math.log(1 - p)));
  }
  const tail = (1 - coverage) / 2;
  let lo = 0;
  let acc = 0;
  while (acc + pmf[lo]! <= tail) acc += pmf[lo++]!;
  let hi = n;
  acc = 0;
  while (acc + pmf[hi]! <= tail) acc += pmf[hi--]!;
  return [lo, hi];
}

// ─── The estimators under resampling, against the references ─────────────────────────────────

test('bootstrap HSIC with counts equals the estimator on the resample (biased) and the weighted U-statistic (debiased)', () => {
  const r = rand(7);
  const n = 9;
  const X = randn(n, 3, r);
  const Y = X.map((row) => [row[0]! + normal(r), row[1]! * row[2]!]);
  const K = gram(X);
  const L = gram(Y);
  // All counts 1: the estimators on the sample.
  const ones = new Array<number>(n).fill(1);
  const ckaW = (w: number[], debiased: boolean) => weightedHsicOf(n, K, L, w, debiased) / Math.sqrt(weightedHsicOf(n, K, K, w, debiased) * weightedHsicOf(n, L, L, w, debiased));
  close(ckaW(ones, false), linearCkaRef(X, Y), 1e-6, 'biased, no resampling');
  close(weightedHsicOf(n, K, L, ones, true), unbiasedHsicRef(n, K, L), 1e-6, 'unbiased HSIC, no resampling');
  close(weightedUnbiasedRef(n, K, L, ones), unbiasedHsicRef(n, K, L), 1e-9, 'the two references agree');
  // A resample with duplicates.
  const w = [2, 0, 1, 3, 0, 1, 0, 1, 1];
  const idx = w.flatMap((c, i) => new Array<number>(c).fill(i));
  close(ckaW(w, false), linearCkaRef(idx.map((i) => X[i]!), idx.map((i) => Y[i]!)), 1e-6, 'biased CKA of the resample, duplicates included');
  for (const [A, B] of [[K, L], [K, K], [L, L]] as const) close(weightedHsicOf(n, A, B, w, true), weightedUnbiasedRef(n, A, B, w), 1e-6, 'unbiased: weighted U-statistic over distinct examples');
  // The U-statistic ignores how copies of one example relate to each other: duplicating is not
  // the same as the plain estimator on the resample, which would put k(x, x) off the diagonal.
  const Kb = idx.flatMap((i) => idx.map((j) => K[i * n + j]!));
  const Lb = idx.flatMap((i) => idx.map((j) => L[i * n + j]!));
  assert.ok(Math.abs(weightedHsicOf(n, K, L, w, true) - unbiasedHsicRef(idx.length, Kb, Lb)) > 1e-3, 'duplicates must not enter the unbiased HSIC as distinct examples');
});

test('permuted HSIC equals HSIC with the rows of Y shuffled (biased and debiased)', () => {
  const r = rand(11);
  const n = 10;
  const X = randn(n, 4, r);
  const Y = X.map((row) => [row[0]! - row[1]!, normal(r)]);
  const perm = [3, 0, 9, 1, 2, 8, 4, 7, 5, 6];
  const K = gram(X);
  const L = gram(Y);
  const Yp = perm.map((i) => Y[i]!);
  const Lp = gram(Yp);
  const biased = permutedHsicOf(n, K, L, perm, false) / Math.sqrt(permutedHsicOf(n, K, K, [...Array(n).keys()], false) * permutedHsicOf(n, L, L, [...Array(n).keys()], false));
  close(biased, linearCkaRef(X, Yp), 1e-6, 'biased');
  // The unbiased HSIC up to the common factor n(n−3).
  close(permutedHsicOf(n, K, L, perm, true) / (n * (n - 3)), unbiasedHsicRef(n, K, Lp), 1e-6, 'debiased');
});

test('resampling helpers: quantiles, intervals, p-values, option checks', () => {
  assert.equal(quantile([3, 1, 2, 4], 0.5), 2.5);
  assert.equal(quantile([1, Number.NaN, 2], 1), 2);
  const iv = percentileInterval(Array.from({ length: 101 }, (_, i) => i), 0.9);
  close(iv.lower, 5, 1e-12, 'lower');
  close(iv.upper, 95, 1e-12, 'upper');
  assert.equal(permutationPValue(0, 199), 1 / 200);
  assert.equal(permutationPValue(199, 199), 1);
  assert.deepEqual(checkUncertainty('f', 'u', true), { bootstrap: 200, permutations: 200, level: 0.95, alpha: 0.05, seed: 0 });
  assert.equal(checkUncertainty('f', 'u', undefined), undefined);
  assert.throws(() => checkUncertainty('f', 'u', { level: 95 }), /f: u\.level must be between 0 and 1, got 95/);
  assert.throws(() => checkUncertainty('f', 'u', { bootstrap: 0, permutations: 0 }), /neither bootstrap resamples nor permutations/);
  assert.throws(() => checkUncertainty('f', 'u', { permutations: 10 }, false), /u\.permutations is not a known option/);
  assert.throws(() => checkUncertainty('f', 'u', { bootstrap: 5 }), /at least 20 resamples/);
  // Barrier-style statistic: the bootstrap of a mean covers the mean's spread.
  const v = Float64Array.from({ length: 400 }, (_, i) => (i % 2 === 0 ? 1 : 0));
  const b = bootstrapMeans([v], (m) => m[0]!, { bootstrap: 400, level: 0.95, seed: 3 });
  assert.ok(b.lower < 0.5 && b.upper > 0.5 && b.upper - b.lower > 0.06 && b.upper - b.lower < 0.14, `${b.lower}, ${b.upper}`);
});

// ─── Properties of the public API ─────────────────────────────────────────────────────────────

test('calibrated: independent Gaussians are rejected at α = 0.05 about 5% of the time (400 seeds each kernel)', async () => {
  const seeds = 400;
  const [lo, hi] = binomialInterval(seeds, 0.05, 0.999);
  for (const variant of ['linear', 'linear debiased', 'rbf'] as const) {
    let rejected = 0;
    let minP = 1;
    for (let s = 0; s < seeds; s++) {
      const r = rand(100 + s);
      const X = randn(20, 3, r);
      const Y = randn(20, 3, r);
      const u = { bootstrap: 0, permutations: 99, seed: s };
      const e = variant === 'rbf' ? await cka.rbf(X, Y, { uncertainty: u }) : await cka.linear(X, Y, { debiased: variant !== 'linear', uncertainty: u });
      if (e.pValue <= 0.05) rejected++;
      minP = Math.min(minP, e.pValue);
      assert.equal(e.indistinguishable, e.pValue > 0.05);
    }
    console.log(`${variant}: ${rejected}/${seeds} independent pairs rejected at α = 0.05 (99.9% binomial interval [${lo}, ${hi}])`);
    assert.ok(rejected >= lo && rejected <= hi, `${variant}: ${rejected} rejections of ${seeds}, outside [${lo}, ${hi}]`);
    assert.equal(minP, 0.01, 'the smallest p-value with 99 permutations is 1/100');
  }
});

test('X against X·Q (Q orthogonal): CKA 1, an interval at 1, the smallest p-value', async () => {
  const r = rand(5);
  const n = 60;
  const X = randn(n, 6, r);
  // Q from Gram–Schmidt of a random matrix.
  const Q: M = [];
  for (const v0 of randn(6, 6, r)) {
    const v = [...v0];
    for (const q of Q) {
      const d = v.reduce((s, x, i) => s + x * q[i]!, 0);
      for (let i = 0; i < 6; i++) v[i]! -= d * q[i]!;
    }
    const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    Q.push(v.map((x) => x / norm));
  }
  const XQ = X.map((row) => Q[0]!.map((_, j) => row.reduce((s, x, k) => s + x * Q[k]![j]!, 0)));
  const u = { bootstrap: 100, permutations: 199, seed: 1 };
  for (const e of [await cka.linear(X, XQ, { uncertainty: u }), await cka.linear(X, XQ, { debiased: true, uncertainty: u }), await cka.rbf(X, XQ, { uncertainty: u })]) {
    close(e.estimate, 1, 1e-5, `${e.kind} estimate`);
    close(e.lower, 1, 1e-5, `${e.kind} lower`);
    close(e.upper, 1, 1e-5, `${e.kind} upper`);
    assert.equal(e.pValue, 1 / 200);
    assert.equal(e.indistinguishable, false);
    assert.equal(+e, e.estimate, 'valueOf is the estimate');
  }
});

test('bootstrap intervals cover the population CKA at about the nominal rate (95%, debiased and biased)', async () => {
  // X ~ N(0, I₂), Y = X + E with E ~ N(0, I₂): population CKA ‖Σxy‖²/(‖Σxx‖‖Σyy‖) = 1/(1+σ²) = 0.5.
  // Over 600 replications of this setting (n = 80, 100 resamples) the 95% percentile interval
  // covered 0.5 in 92% (debiased) and 93% (biased): percentile intervals under-cover a little at
  // small n. With 200 replications, coverage must be within [0.85, 0.99]; the same intervals
  // shrunk to 70% of their width fall below (checked), as would one that resampled one side only.
  const reps = 200;
  const n = 80;
  for (const debiased of [true, false]) {
    let covered = 0;
    let narrowCovered = 0;
    let width = 0;
    for (let s = 0; s < reps; s++) {
      const r = rand(5000 + s);
      const X = randn(n, 2, r);
      const Y = X.map((row) => row.map((v) => v + normal(r)));
      const e = await cka.linear(X, Y, { debiased, uncertainty: { bootstrap: 100, permutations: 0, seed: s } });
      if (e.lower <= 0.5 && 0.5 <= e.upper) covered++;
      const [mid, half] = [(e.lower + e.upper) / 2, (0.7 * (e.upper - e.lower)) / 2];
      if (mid - half <= 0.5 && 0.5 <= mid + half) narrowCovered++;
      width += (e.upper - e.lower) / reps;
      assert.ok(Number.isNaN(e.pValue));
    }
    console.log(`${debiased ? 'debiased' : 'biased'} linear CKA, n = ${n}: 95% bootstrap intervals covered the population value 0.5 in ${covered}/${reps} replications (mean width ${width.toFixed(3)}); shrunk to 70%: ${narrowCovered}/${reps}`);
    assert.ok(covered >= 0.85 * reps && covered <= 0.99 * reps, `coverage ${covered}/${reps}`);
    assert.ok(narrowCovered < 0.85 * reps, `the same intervals shrunk to 70% cover ${narrowCovered}/${reps}: the bounds would not catch them`);
  }
});

test('the same seed gives the same intervals and p-values; another seed, others', async () => {
  const r = rand(3);
  const X = randn(40, 5, r);
  const Y = X.map((row) => [row[0]! + normal(r), row[1]!]);
  const a = await cka.linear(X, Y, { uncertainty: { seed: 4, bootstrap: 50, permutations: 50 } });
  const b = await cka.linear(X, Y, { uncertainty: { seed: 4, bootstrap: 50, permutations: 50 } });
  const c = await cka.linear(X, Y, { uncertainty: { seed: 5, bootstrap: 50, permutations: 50 } });
  assert.deepEqual([a.lower, a.upper, a.pValue], [b.lower, b.upper, b.pValue]);
  assert.notDeepEqual([a.lower, a.upper], [c.lower, c.upper]);
  assert.ok(a.lower <= a.estimate && a.estimate <= a.upper, `${a.lower} ≤ ${a.estimate} ≤ ${a.upper}`);
});

test('heatmaps carry per-cell intervals and p-values, shown in the payload and the text; no tensor leaks', async () => {
  // Independent l2 and m2 get p > 0.05 on 95% of data sets; this one is among them (p = 0.04 with rand(9)).
  const r = rand(10);
  const n = 50;
  const base = randn(n, 4, r);
  const A = { l1: tf.tensor2d(base), l2: tf.tensor2d(randn(n, 3, r)) };
  const B = { m1: tf.tensor2d(base.map((row) => [row[0]! + 0.3 * normal(r), row[1]!, row[2]!])), m2: tf.tensor2d(randn(n, 5, r)) };
  try {
    const u = { bootstrap: 60, permutations: 99, seed: 2 };
    const heat = await assertNoLeak('matrixFromFeatures with uncertainty', () => cka.matrixFromFeatures(A, B, { uncertainty: u, modelA: 'A', modelB: 'B' }));
    await assertNoLeak('matrixFromFeatures with uncertainty', () => cka.matrixFromFeatures(A, B, { uncertainty: u, kind: 'rbf' }));
    await assertNoLeak('linear with uncertainty', () => cka.linear(A.l1, B.m1, { uncertainty: u }));
    const plain = await cka.matrixFromFeatures(A, B);
    assert.deepEqual(heat.values, plain.values, 'the estimates are those of the exact path');
    const related = heat.cell('l1', 'm1');
    assert.ok(related.pValue === 0.01 && !related.indistinguishable && related.lower <= related.estimate && related.estimate <= related.upper, JSON.stringify(related));
    const unrelated = heat.cell('l2', 'm2');
    assert.ok(unrelated.pValue > 0.05 && unrelated.indistinguishable, JSON.stringify(unrelated));
    const payload = (heat as unknown as Record<symbol, () => Record<string, unknown>>)[Symbol.for('Jupyter.display')]!.call(heat)[Mime.cka] as CkaPayload;
    assert.deepEqual(payload.uncertainty?.pValue, heat.uncertainty?.pValue);
    assert.equal(payload.uncertainty?.level, 0.95);
    assert.equal(payload.uncertainty?.alpha, 0.05);
    assert.match(heat.toString(), /95% percentile bootstrap intervals over examples \(60 resamples\)/);
    assert.match(heat.toString(), /\*/);
    assert.equal(plain.toPayload().uncertainty, undefined, 'no uncertainty unless asked for');
    await assert.rejects(() => cka.matrixFromFeatures(A, B, { uncertainty: { level: 2 } }), (e: unknown) => e instanceof InvalidArgumentError && /tl\.cka\.matrixFromFeatures: options\.uncertainty\.level/.test(e.message));
    await assert.rejects(() => cka.linear(A.l1, B.m1, { uncertainty: { resamples: 3 } as never }), /options\.uncertainty\.resamples is not a known option/);
  } finally {
    tf.dispose([...Object.values(A), ...Object.values(B)]);
  }
});

// ─── Barriers ─────────────────────────────────────────────────────────────────────────────────

test('barrier interval over evaluation examples: per-example losses average to the curve, the width matches the standard error, deterministic, no leaks', async () => {
  const config = { inputShape: [8, 8, 1] as [number, number, number], numClasses: 3, channels: [4, 6], hidden: 10 };
  // A confident network and a copy with its hidden units permuted: the same function at both ends,
  // labels that it predicts, and a clear barrier between them (the mixed units disagree).
  const a = cnn({ ...config, seed: 1 });
  const n = 300;
  const x = tf.randomUniform([n, 8, 8, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
  const replace = (m: typeof a, changed: NamedWeights): void => {
    const all: NamedWeights = new Map([...m.variables].map(([k, v]) => [k, changed.get(k) ?? tf.clone(v)]));
    m.setWeights(all);
    tf.dispose([...all.values()]);
  };
  replace(a, new Map([['fc/kernel', tf.mul(a.variables.get('fc/kernel')!, 8)]]));
  const y = tf.tidy(() => {
    const { logits, activations } = a.forward(x);
    tf.dispose([...activations.values()]);
    return tf.argMax(logits, 1).toInt() as tf.Tensor1D;
  });
  const b = a.clone();
  const reverse = tf.tensor1d(Array.from({ length: 10 }, (_, i) => 9 - i), 'int32');
  const permuted: NamedWeights = new Map([
    ['fc1/kernel', tf.gather(a.variables.get('fc1/kernel')!, reverse, 1)],
    ['fc1/bias', tf.gather(a.variables.get('fc1/bias')!, reverse)],
    ['fc/kernel', tf.gather(a.variables.get('fc/kernel')!, reverse, 0)],
  ]);
  replace(b, permuted);
  reverse.dispose();
  const d = { x, y };
  try {
    const lambdas = [0, 0.25, 0.5, 0.75, 1];
    const mix = (l: number): NamedWeights => {
      const out: NamedWeights = new Map();
      for (const [k, v] of a.variables) out.set(k, tf.tidy(() => tf.add(tf.mul(v, 1 - l), tf.mul(b.variables.get(k)!, l))));
      return out;
    };
    const points = await assertNoLeak('evaluateSettings with per-example losses', () => evaluateSettings(a, lambdas.length, (i) => ({ weights: mix(lambdas[i]!) }), d, { batchSize: 64, group: 2, perExample: true }));
    for (const p of points) {
      assert.equal(p.losses!.length, n);
      close(p.losses!.reduce((s, v) => s + v, 0) / n, p.loss, 1e-5, 'mean of per-example losses');
    }
    const u = { bootstrap: 300, seed: 7 };
    const r = await assertNoLeak('interpolate with uncertainty', () => interpolate(a, b, d, { lambdas, batchSize: 64, uncertainty: u }));
    const c = r.curves[0]!;
    const iv = c.barrierInterval!;
    assert.deepEqual([iv.level, iv.bootstrap], [0.95, 300]);
    assert.ok(iv.lower < c.barrier && c.barrier < iv.upper, `${iv.lower} < ${c.barrier} < ${iv.upper}`);
    // Independent scale check: the standard error of the per-example gap at the barrier's λ.
    const k = lambdas.indexOf(c.barrierLambda);
    const l = c.barrierLambda;
    const gap = Array.from({ length: n }, (_, i) => points[k]!.losses![i]! - (1 - l) * points[0]!.losses![i]! - l * points[4]!.losses![i]!);
    const mean = gap.reduce((s, v) => s + v, 0) / n;
    const se = Math.sqrt(gap.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1) / n);
    const ratio = (iv.upper - iv.lower) / (2 * 1.96 * se);
    console.log(`barrier ${c.barrier.toFixed(4)} at λ = ${l}, 95% bootstrap interval [${iv.lower.toFixed(4)}, ${iv.upper.toFixed(4)}]; width / (2·1.96·SE) = ${ratio.toFixed(3)}`);
    assert.ok(ratio > 0.6 && ratio < 1.5, `interval width / normal-theory width = ${ratio}`);
    const again = await interpolate(a, b, d, { lambdas, batchSize: 64, uncertainty: u });
    assert.deepEqual(again.curves[0]!.barrierInterval, iv, 'the same seed, the same interval');
    assert.deepEqual(r.toPayload().pairs[0]!.barrierInterval, iv);
    assert.match(r.toString(), /95% interval/);
    assert.match(r.toString(), /not over training seeds/);
    const plain = await interpolate(a, b, d, { lambdas, batchSize: 64 });
    assert.equal(plain.curves[0]!.barrierInterval, undefined);
    assert.equal(plain.curves[0]!.barrier, c.barrier);
    await assert.rejects(interpolate(a, b, d, { uncertainty: { permutations: 10 } as never }), /tl\.interpolate: options\.uncertainty\.permutations is not a known option/);
    const [m1, m2] = [cnn({ ...config, seed: 3 }), cnn({ ...config, seed: 4 })];
    try {
      await assert.rejects(cka.matrix(m1, m2, x, { estimator: 'minibatch', uncertainty: true }), /tl\.cka\.matrix: options\.uncertainty needs the full estimator/);
      const heat = await assertNoLeak('tl.cka.matrix with uncertainty', () => cka.matrix(m1, m2, x, { layers: ['conv1', 'fc'], uncertainty: { bootstrap: 20, permutations: 19, seed: 1 } }));
      assert.deepEqual(heat.uncertainty?.pValue?.map((r) => r.length), [2, 2]);
      assert.equal(heat.cell('conv1', 'conv1').pValue, 1 / 20, 'the first modules of two networks on the same images are related');
    } finally {
      m1.dispose();
      m2.dispose();
    }
  } finally {
    a.dispose();
    b.dispose();
    tf.dispose([x, y]);
  }
});
