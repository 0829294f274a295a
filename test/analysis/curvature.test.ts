import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { startWebGpu } from '../helpers/webgpu';
import { tf } from '../../kernel/analysis/tfjs';
import { initBackend } from '../../kernel/analysis/backends';
import { curvature, curvatureTable, CurvatureResult } from '../../kernel/analysis/curvature';
import { hutchinson, powerIteration, rademacherProbe } from '../../kernel/analysis/curvature/eigen';
import { ModuleHessian } from '../../kernel/analysis/curvature/hvp';
import { crossEntropySum } from '../../kernel/analysis/curvature/secondOrder';
import { cnn, hashSeed, resnet, type NetModel } from '../../kernel/analysis/netModel';
import type { ForwardResult, Model, NamedWeights } from '../../kernel/analysis/modelContract';
import { InvalidArgumentError, ShapeMismatchError } from '../../kernel/analysis/errors';
import { criticality } from '../../kernel/analysis/criticality';
import { Mime } from '../../kernel/protocol/mime';
import { compile as compileVegaLite } from 'vega-lite';
import { gaussian, rng } from '../../kernel/analysis/random';
import { assertNoLeak } from './leak';

before(async () => {
  await initBackend('wasm');
});

// ---------------------------------------------------------------------------------------------
// Float64 references, independent of the code under test.

/** Eigenvalues of a symmetric matrix (row-major, size m) by cyclic Jacobi rotations, in float64. */
function jacobiEigenvalues(a: Float64Array, m: number): number[] {
  const A = Float64Array.from(a);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < m; p++) for (let q = p + 1; q < m; q++) off += A[p * m + q]! ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < m; p++) {
      for (let q = p + 1; q < m; q++) {
        const apq = A[p * m + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (A[q * m + q]! - A[p * m + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < m; k++) {
          const akp = A[k * m + p]!;
          const akq = A[k * m + q]!;
          A[k * m + p] = c * akp - s * akq;
          A[k * m + q] = s * akp + c * akq;
        }
        for (let k = 0; k < m; k++) {
          const apk = A[p * m + k]!;
          const aqk = A[q * m + k]!;
          A[p * m + k] = c * apk - s * aqk;
          A[q * m + k] = s * apk + c * aqk;
        }
      }
    }
  }
  return Array.from({ length: m }, (_, i) => A[i * m + i]!);
}

const topByMagnitude = (eig: number[]): number => eig.reduce((a, b) => (Math.abs(b) > Math.abs(a) ? b : a), 0);
const traceOf = (a: Float64Array, m: number): number => Array.from({ length: m }, (_, i) => a[i * m + i]!).reduce((s, v) => s + v, 0);
const rel = (a: number, b: number): number => Math.abs(a - b) / Math.abs(b);

function matVec(a: Float64Array, m: number, v: Float64Array): Float64Array {
  const out = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let s = 0;
    for (let j = 0; j < m; j++) s += a[i * m + j]! * v[j]!;
    out[i] = s;
  }
  return out;
}

/** Softmax probabilities per row, in float64. */
function softmax64(logits: Float64Array, n: number, k: number): Float64Array {
  const p = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    let mx = -Infinity;
    for (let c = 0; c < k; c++) mx = Math.max(mx, logits[i * k + c]!);
    let s = 0;
    for (let c = 0; c < k; c++) s += Math.exp(logits[i * k + c]! - mx);
    for (let c = 0; c < k; c++) p[i * k + c] = Math.exp(logits[i * k + c]! - mx) / s;
  }
  return p;
}

/**
 * The Hessian of the mean softmax cross-entropy of logits = F·W + b in (W [d, K] row-major, then
 * b [K]), for features F [n, d]: (1/n) Σᵢ (diag(pᵢ) − pᵢpᵢᵀ) ⊗ x̃ᵢx̃ᵢᵀ with x̃ = [x; 1]. Float64.
 */
function logisticHessian(F: Float64Array, n: number, d: number, W: Float64Array, b: Float64Array, k: number): Float64Array {
  const logits = new Float64Array(n * k);
  for (let i = 0; i < n; i++) for (let c = 0; c < k; c++) {
    let s = b[c]!;
    for (let j = 0; j < d; j++) s += F[i * d + j]! * W[j * k + c]!;
    logits[i * k + c] = s;
  }
  const p = softmax64(logits, n, k);
  const m = (d + 1) * k;
  const H = new Float64Array(m * m);
  const xt = (i: number, j: number) => (j === d ? 1 : F[i * d + j]!);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= d; j++) for (let c = 0; c < k; c++) {
      const r = j * k + c;
      for (let l = 0; l <= d; l++) for (let e = 0; e < k; e++) {
        const lam = (c === e ? p[i * k + c]! : 0) - p[i * k + c]! * p[i * k + e]!;
        H[r * m + l * k + e]! += (xt(i, j) * xt(i, l) * lam) / n;
      }
    }
  }
  return H;
}

const f64 = (t: tf.Tensor): Float64Array => Float64Array.from(t.dataSync());

// ---------------------------------------------------------------------------------------------
// Models and data.

let modelCount = 0;

/** Multinomial logistic regression: one module `dense` (kernel [d, K], bias [K]), logits = x·W + b. */
function logistic(inputShape: [number, number, number], k: number, w?: tf.Tensor2D, hooks: { pre?: (h: tf.Tensor2D) => tf.Tensor2D; post?: (z: tf.Tensor2D) => tf.Tensor2D } = {}): Model {
  const d = inputShape[0] * inputShape[1] * inputShape[2];
  const id = ++modelCount;
  const kernel = tf.variable(w ?? tf.randomNormal([d, k], 0, 0.7, 'float32', 11), true, `curv${id}/dense/kernel`);
  const bias = tf.variable(tf.randomNormal([k], 0, 0.3, 'float32', 12), true, `curv${id}/dense/bias`);
  const variables = new Map<string, tf.Variable>([['dense/kernel', kernel], ['dense/bias', bias]]);
  const model: Model = {
    arch: 'logistic',
    moduleNames: ['dense'],
    inputShape,
    numClasses: k,
    variables,
    forward(x: tf.Tensor4D): ForwardResult {
      const logits = tf.tidy(() => {
        const flat = tf.reshape(x, [x.shape[0], d]) as tf.Tensor2D;
        const z = tf.add(tf.matMul(hooks.pre ? hooks.pre(flat) : flat, kernel), bias) as tf.Tensor2D;
        return hooks.post ? hooks.post(z) : z;
      });
      return { logits, activations: new Map() };
    },
    getWeights: () => new Map([...variables].map(([n, v]) => [n, tf.clone(v)])) as NamedWeights,
    setWeights: (ws: NamedWeights) => ws.forEach((t, n) => variables.get(n)!.assign(t)),
    clone: () => { throw new Error('not needed'); },
    dispose: () => { kernel.dispose(); bias.dispose(); },
  };
  return model;
}

function data(n: number, shape: [number, number, number], k: number, seed: number) {
  const x = tf.randomUniform([n, ...shape], 0, 1, 'float32', seed) as tf.Tensor4D;
  const y = tf.tensor1d(Array.from({ length: n }, (_, i) => (i * 7 + seed) % k), 'int32');
  return { x, y };
}

const strip = (r: CurvatureResult) => r.modules.map(({ seconds: _s, ...m }) => m);

// ---------------------------------------------------------------------------------------------
// The linear algebra on quadratics with known answers.

/** A = Q diag(λ) Qᵀ with Q orthogonal (Gram–Schmidt of seeded Gaussians), float64. */
function quadratic(lambdas: number[], seed: number): Float64Array {
  const m = lambdas.length;
  const r = rng(seed);
  const g = Float64Array.from({ length: m * m }, () => gaussian(r));
  const q: Float64Array[] = [];
  for (let i = 0; i < m; i++) {
    const v = g.slice(i * m, (i + 1) * m);
    for (const u of q) {
      let d = 0;
      for (let j = 0; j < m; j++) d += v[j]! * u[j]!;
      for (let j = 0; j < m; j++) v[j]! -= d * u[j]!;
    }
    const nrm = Math.sqrt(v.reduce((s, a) => s + a * a, 0));
    q.push(v.map((a) => a / nrm));
  }
  const A = new Float64Array(m * m);
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) {
    let s = 0;
    for (let c = 0; c < m; c++) s += q[c]![i]! * lambdas[c]! * q[c]![j]!;
    A[i * m + j] = s;
  }
  return A;
}

test('power iteration on a quadratic finds the eigenvalue of largest magnitude, with its sign', async () => {
  const lambdas = [5, 3, 2.5, 1, 0.5, -0.25, 0.1, 0, 0, 0.01, -1, 2, 4, 1.5, 0.2, 0.3];
  const A = quadratic(lambdas, 3);
  const m = lambdas.length;
  const r = await powerIteration(async (v) => matVec(A, m, v), m, { iterations: 500, tolerance: 1e-12, seed: 1 });
  assert.ok(r.converged && r.iterations < 500, `converged in ${r.iterations}`);
  assert.ok(Math.abs(r.eigenvalue - 5) < 1e-9, `λ = ${r.eigenvalue}`);
  assert.ok(r.relativeChange < 1e-12);
  // The vector is the eigenvector: A v = 5 v.
  const av = matVec(A, m, r.vector);
  assert.ok(av.every((a, i) => Math.abs(a - 5 * r.vector[i]!) < 1e-4));
  // Iterations are capped; the result says it did not converge.
  const capped = await powerIteration(async (v) => matVec(A, m, v), m, { iterations: 3, tolerance: 1e-12, seed: 1 });
  assert.equal(capped.iterations, 3);
  assert.equal(capped.converged, false);
  // A dominant negative eigenvalue keeps its sign.
  const B = quadratic([-4, 2, 1, 0.5], 5);
  const neg = await powerIteration(async (v) => matVec(B, 4, v), 4, { iterations: 500, tolerance: 1e-12, seed: 2 });
  assert.ok(Math.abs(neg.eigenvalue + 4) < 1e-9, `λ = ${neg.eigenvalue}`);
  // H = 0: eigenvalue 0 after one product.
  const zero = await powerIteration(async (v) => new Float64Array(v.length), 7, { iterations: 50, tolerance: 1e-6, seed: 0 });
  assert.deepEqual([zero.eigenvalue, zero.iterations, zero.converged], [0, 1, true]);
});

test('Hutchinson: exact for a diagonal matrix; unbiased with the textbook variance otherwise', async () => {
  const diag = [3, -1, 0.5, 2, 7];
  const D = async (v: Float64Array) => v.map((a, i) => a * diag[i]!);
  const d = await hutchinson(D, 5, { probes: 4, seed: 9 });
  // zᵢ² = 1, so zᵀDz = tr D for every Rademacher probe.
  assert.deepEqual(d.samples, [11.5, 11.5, 11.5, 11.5]);
  assert.equal(d.trace, 11.5);
  assert.equal(d.standardError, 0);
  const m = 12;
  const A = quadratic(Array.from({ length: m }, (_, i) => (i % 3) - 0.5 + i / 4), 4);
  const tr = traceOf(A, m);
  const probes = 4000;
  const h = await hutchinson(async (v) => matVec(A, m, v), m, { probes, seed: 1 });
  // Var(zᵀAz) = 2 Σ_{i≠j} A_ij² for Rademacher z.
  let offDiag2 = 0;
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) if (i !== j) offDiag2 += A[i * m + j]! ** 2;
  const se = Math.sqrt((2 * offDiag2) / probes);
  assert.ok(Math.abs(h.standardError - se) < 0.1 * se, `SE ${h.standardError} vs ${se}`);
  assert.ok(Math.abs(h.trace - tr) < 4 * se, `trace ${h.trace} vs ${tr} (SE ${se})`);
  // Each sample is zᵀAz for the seeded probe.
  const z = rademacherProbe(m, 1, 17);
  const az = matVec(A, m, z);
  assert.ok(Math.abs(h.samples[17]! - z.reduce((s, a, i) => s + a * az[i]!, 0)) < 1e-9);
  assert.ok(z.every((a) => a === 1 || a === -1));
  // Seeded: the same probes again, others for another seed.
  assert.deepEqual((await hutchinson(async (v) => matVec(A, m, v), m, { probes: 5, seed: 1 })).samples, h.samples.slice(0, 5));
  assert.notDeepEqual((await hutchinson(async (v) => matVec(A, m, v), m, { probes: 5, seed: 2 })).samples, h.samples.slice(0, 5));
});

// ---------------------------------------------------------------------------------------------
// Exact second derivatives through tfjs.

test('the loss has an exact Hessian in the logits (diag(p) − ppᵀ); tfjs\'s own cross-entropies do not', () => {
  const z0 = tf.tensor2d([[0.3, -1.2, 2.0]]);
  const y = tf.tensor2d([[0, 1, 0]]);
  const hessianRows = (loss: (z: tf.Tensor2D) => tf.Scalar) => [0, 1, 2].map((e) => tf.tidy(() => {
    const u = tf.oneHot(tf.tensor1d([e], 'int32'), 3) as tf.Tensor2D;
    const g = (z: tf.Tensor) => loss(z as tf.Tensor2D);
    return Array.from(tf.grad((z: tf.Tensor) => tf.sum(tf.mul(tf.grad(g)(z), u)) as tf.Scalar)(z0).dataSync());
  }));
  const p = softmax64(f64(z0), 1, 3);
  const rows = hessianRows((z) => crossEntropySum(z, y));
  for (let c = 0; c < 3; c++) for (let e = 0; e < 3; e++) {
    const want = (c === e ? p[c]! : 0) - p[c]! * p[e]!;
    assert.ok(Math.abs(rows[e]![c]! - want) < 1e-6, `H[${c},${e}] = ${rows[e]![c]} vs ${want}`);
  }
  // The same Hessian through tf.logSoftmax or tf.losses.softmaxCrossEntropy: tfjs cannot see that the
  // output they save depends on the logits, so the nested gradient finds no path.
  assert.throws(() => hessianRows((z) => tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(z)))) as tf.Scalar), /Cannot compute gradient/);
  assert.throws(() => hessianRows((z) => tf.losses.softmaxCrossEntropy(y, z) as tf.Scalar), /Cannot compute gradient/);
  // Its value and gradient are the usual ones.
  assert.ok(Math.abs(crossEntropySum(z0, y).dataSync()[0]! + Math.log(p[1]!)) < 1e-6);
  tf.dispose([z0, y]);
});

test('logistic regression: top eigenvalue and trace agree with the analytic Hessian to 1e-3', async () => {
  const shape: [number, number, number] = [4, 4, 1];
  const k = 3;
  const n = 60;
  const model = logistic(shape, k);
  const d = data(n, shape, k, 5);
  try {
    const r = await assertNoLeak('curvature', () => curvature(model, d, { iterations: 400, tolerance: 1e-9, hutchinsonSamples: 30, seed: 3, batchSize: 25 }));
    const H = logisticHessian(f64(tf.reshape(d.x, [n, 16])), n, 16, f64(model.variables.get('dense/kernel')!), f64(model.variables.get('dense/bias')!), k);
    const m = 17 * k;
    const eig = jacobiEigenvalues(H, m);
    const top = topByMagnitude(eig);
    const dense = r.module('dense');
    assert.equal(dense.parameters, m);
    assert.equal(dense.method, 'exact');
    assert.ok(rel(dense.topEigenvalue, top) < 1e-3, `λ_max ${dense.topEigenvalue} vs ${top}`);
    // Each Hutchinson sample is zᵀHz for its probe; the estimate is their mean, within 4 SE of tr H.
    const tr = traceOf(H, m);
    dense.traceSamples.forEach((s, j) => {
      const z = rademacherProbe(m, hashSeed(3, 'dense'), j);
      const hz = matVec(H, m, z);
      const want = z.reduce((a, zi, i) => a + zi * hz[i]!, 0);
      assert.ok(Math.abs(s - want) < 1e-3 * Math.abs(want), `probe ${j}: ${s} vs ${want}`);
    });
    assert.equal(dense.traceSamples.length, 30);
    assert.ok(Math.abs(dense.trace - tr) < 4 * dense.traceStandardError, `trace ${dense.trace} ± ${dense.traceStandardError} vs ${tr}`);
    // With the default tolerance (1e-4) the eigenvalue is still within 1e-3.
    const quick = await curvature(model, d, { hutchinsonSamples: 2 });
    assert.ok(quick.modules[0]!.converged);
    assert.ok(rel(quick.modules[0]!.topEigenvalue, top) < 1e-3, `default options: ${quick.modules[0]!.topEigenvalue} vs ${top}`);
  } finally {
    model.dispose();
    tf.dispose([d.x, d.y]);
  }
});

test('a toy with a known answer: logistic regression at W = 0 on ±s patterns has λ_max = max(s²)/K, trace = (K−1)/K·(Σs² + 1)', async () => {
  // Every sign pattern of 4 pixels ±sⱼ: (1/n)Σ x̃x̃ᵀ = diag(s², 1), and p = 1/K for every example, so
  // H = (I/K − 11ᵀ/K²) ⊗ diag(s², 1).
  const s = [2, 1, 0.5, 0.25];
  const rows: number[][] = [];
  for (let mask = 0; mask < 16; mask++) rows.push(s.map((v, j) => (mask & (1 << j) ? v : -v)));
  const x = tf.tensor4d(rows.flat(), [16, 2, 2, 1]);
  const y = tf.tensor1d(rows.map((_, i) => i % 3), 'int32');
  const k = 3;
  const model = logistic([2, 2, 1], k, tf.zeros([4, k]) as tf.Tensor2D);
  model.variables.get('dense/bias')!.assign(tf.zeros([k]));
  try {
    const r = await curvature(model, { x, y }, { iterations: 300, tolerance: 1e-10, hutchinsonSamples: 200, seed: 1 });
    const m = r.module('dense');
    assert.ok(Math.abs(m.topEigenvalue - 4 / 3) < 1e-5, `λ_max ${m.topEigenvalue}`);
    const tr = ((k - 1) / k) * (4 + 1 + 0.25 + 0.0625 + 1);
    assert.ok(Math.abs(m.trace - tr) < 4 * m.traceStandardError && m.traceStandardError < 0.1 * tr, `trace ${m.trace} ± ${m.traceStandardError} vs ${tr}`);
  } finally {
    model.dispose();
    tf.dispose([x, y]);
  }
});

/**
 * Each example's Jacobian of the logits in the module's parameters (first-order gradients only),
 * then G·v = (1/n) Σᵢ Jᵢᵀ (diag(pᵢ) − pᵢpᵢᵀ) Jᵢ v in float64: the Gauss–Newton product. For a ReLU
 * network it equals H·v wherever the logits are linear in the parameters v moves (one layer's
 * weights, or BatchNorm's scale and shift in inference mode).
 */
function gaussNewton(model: Model, params: string[], x: tf.Tensor4D, y: number[]): { dim: number; gv: (v: Float64Array) => Float64Array } {
  const n = x.shape[0];
  const k = model.numClasses;
  const vars = params.map((p) => model.variables.get(p)!);
  const dim = vars.reduce((a, v) => a + v.size, 0);
  const J: Float64Array[] = []; // J[i*k + c] = ∂zᵢc/∂θ
  const logits = f64(model.forward(x).logits);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < k; c++) {
      const g = tf.tidy(() => {
        const xi = tf.slice(x, [i, 0, 0, 0], [1, -1, -1, -1]);
        const { grads } = tf.variableGrads(() => tf.sum(tf.slice(model.forward(xi).logits, [0, c], [1, 1])) as tf.Scalar, vars);
        return tf.concat(vars.map((v) => tf.reshape(grads[v.name] ?? tf.zerosLike(v), [-1])));
      });
      J.push(f64(g));
      g.dispose();
    }
  }
  const p = softmax64(logits, n, k);
  void y;
  return {
    dim,
    gv: (v) => {
      const out = new Float64Array(dim);
      for (let i = 0; i < n; i++) {
        const jv = Array.from({ length: k }, (_, c) => J[i * k + c]!.reduce((s, a, t) => s + a * v[t]!, 0));
        for (let c = 0; c < k; c++) {
          let lam = 0;
          for (let e = 0; e < k; e++) lam += ((c === e ? p[i * k + c]! : 0) - p[i * k + c]! * p[i * k + e]!) * jv[e]!;
          const row = J[i * k + c]!;
          for (let t = 0; t < dim; t++) out[t]! += (row[t]! * lam) / n;
        }
      }
      return out;
    },
  };
}

function gaussNewtonMatrix(gv: (v: Float64Array) => Float64Array, dim: number): Float64Array {
  const G = new Float64Array(dim * dim);
  for (let j = 0; j < dim; j++) {
    const e = new Float64Array(dim);
    e[j] = 1;
    const col = gv(e);
    for (let i = 0; i < dim; i++) G[i * dim + j] = col[i]!;
  }
  return G;
}

/** tl.cnn's modules against their Gauss–Newton blocks (see below), on the current backend. */
async function checkCnnAgainstGaussNewton(): Promise<void> {
  const model = cnn({ inputShape: [6, 6, 1], numClasses: 3, channels: [3, 4], hidden: 8, seed: 2 });
  const n = 6;
  const d = data(n, [6, 6, 1], 3, 7);
  const labels = Array.from(d.y.dataSync());
  try {
    const r = await assertNoLeak('curvature on tl.cnn', () => curvature(model, d, { iterations: 300, tolerance: 1e-8, hutchinsonSamples: 3, seed: 1, batchSize: 4 }));
    for (const mod of model.moduleNames) {
      const params = [...model.variables.keys()].filter((p) => p.startsWith(`${mod}/`));
      const { dim, gv } = gaussNewton(model, params, d.x, labels);
      const G = gaussNewtonMatrix(gv, dim);
      const top = topByMagnitude(jacobiEigenvalues(G, dim));
      const m = r.module(mod);
      assert.equal(m.method, 'exact');
      assert.equal(m.parameters, dim);
      assert.ok(rel(m.topEigenvalue, top) < 1e-3, `${mod}: λ_max ${m.topEigenvalue} vs Gauss–Newton ${top}`);
      // One product against the reference, entry by entry.
      const hessian = new ModuleHessian(model, params, d, 4);
      const v = Float64Array.from({ length: dim }, (_, i) => Math.sin(i + 1));
      const hv = await hessian.exact(v);
      const want = gv(v);
      const norm = Math.sqrt(want.reduce((s, a) => s + a * a, 0));
      const err = Math.sqrt(hv.reduce((s, a, i) => s + (a - want[i]!) ** 2, 0));
      assert.ok(err < 1e-4 * norm, `${mod}: ‖Hv − Gv‖ = ${err}, ‖Gv‖ = ${norm}`);
    }
  } finally {
    model.dispose();
    tf.dispose([d.x, d.y]);
  }
}

test('tl.cnn: every module\'s exact Hessian equals its Gauss–Newton block (the logits are piecewise linear in one layer)', async () => {
  // 6×6 input: on wasm conv1's pooling runs the fused ReLU-pool gradient, conv2's (3×3, odd) the MaxPoolGrad path.
  await checkCnnAgainstGaussNewton();
});

test('tl.resnet (BatchNorm in inference mode): exact products match Gauss–Newton on each parameter tensor; fc is logistic regression', async () => {
  const model = resnet({ inputShape: [6, 6, 1], numClasses: 3, width: 3, blocks: [1, 1], seed: 4 });
  const n = 6;
  const d = data(n, [6, 6, 1], 3, 8);
  const labels = Array.from(d.y.dataSync());
  // Non-trivial running statistics, as after training.
  for (const [name, b] of model.buffers) b.assign(tf.fill(b.shape, name.endsWith('/mean') ? 0.1 : 1.5));
  try {
    const r = await assertNoLeak('curvature on tl.resnet', () => curvature(model, d, { modules: ['layer1', 'fc'], iterations: 5, hutchinsonSamples: 2, seed: 2, batchSize: 4 }));
    const precise = await curvature(model, d, { modules: ['fc'], iterations: 300, tolerance: 1e-8, hutchinsonSamples: 1, seed: 2 });
    assert.equal(r.batchNorm, true);
    assert.match(r.toString(), /BatchNorm in inference mode \(running statistics\)/);
    // fc: multinomial logistic regression on the pooled features of the last stage.
    const feats = tf.tidy(() => tf.mean(model.forward(d.x, { collect: ['layer2'] }).activations.get('layer2')!, [1, 2]));
    const ch = feats.shape[1]!;
    const H = logisticHessian(f64(feats), n, ch, f64(model.variables.get('fc/kernel')!), f64(model.variables.get('fc/bias')!), 3);
    feats.dispose();
    const top = topByMagnitude(jacobiEigenvalues(H, (ch + 1) * 3));
    assert.ok(rel(precise.module('fc').topEigenvalue, top) < 1e-3, `fc: ${precise.module('fc').topEigenvalue} vs ${top}`);
    // layer1 (two convolutions, two BatchNorms): for v on one parameter tensor, (Hv) on that tensor
    // is the Gauss–Newton product (the logits are linear in one tensor; not in two).
    const params = [...model.variables.keys()].filter((p) => p.startsWith('layer1/'));
    const hessian = new ModuleHessian(model, params, d, 4);
    const { gv } = gaussNewton(model, params, d.x, labels);
    let offset = 0;
    for (const p of params) {
      const size = model.variables.get(p)!.size;
      const v = new Float64Array(hessian.dim);
      for (let i = 0; i < size; i++) v[offset + i] = Math.cos(3 * i + 1);
      const hv = (await hessian.exact(v)).subarray(offset, offset + size);
      const want = gv(v).subarray(offset, offset + size);
      const norm = Math.sqrt(want.reduce((s, a) => s + a * a, 0));
      const err = Math.sqrt(hv.reduce((s, a, i) => s + (a - want[i]!) ** 2, 0));
      assert.ok(err < 1e-4 * norm + 1e-9, `${p}: ‖Hv − Gv‖ = ${err}, ‖Gv‖ = ${norm}`);
      offset += size;
    }
    assert.equal(r.module('layer1').method, 'exact');
    assert.equal(r.module('layer1').parameters, hessian.dim);
  } finally {
    model.dispose();
    tf.dispose([d.x, d.y]);
  }
});

test('the module restriction: a module\'s numbers are its own block\'s, whatever else is analysed', async () => {
  const model = cnn({ inputShape: [6, 6, 1], numClasses: 3, channels: [3], hidden: 5, seed: 3 });
  const d = data(12, [6, 6, 1], 3, 2);
  try {
    const all = await curvature(model, d, { iterations: 60, hutchinsonSamples: 4, seed: 5 });
    const fc = await curvature(model, d, { modules: ['fc'], iterations: 60, hutchinsonSamples: 4, seed: 5 });
    assert.deepEqual(all.modules.map((m) => m.module), ['conv1', 'fc1', 'fc']);
    assert.deepEqual(strip(fc), strip(all).filter((m) => m.module === 'fc'));
    // fc's block is logistic regression on fc1's outputs; fc1 holds 5·(3·3·3 + 1)... parameters of its own.
    const feats = model.forward(d.x, { collect: ['fc1'] }).activations.get('fc1')!;
    const H = logisticHessian(f64(feats), 12, 5, f64(model.variables.get('fc/kernel')!), f64(model.variables.get('fc/bias')!), 3);
    feats.dispose();
    const top = topByMagnitude(jacobiEigenvalues(H, 18));
    const precise = await curvature(model, d, { modules: ['fc'], iterations: 500, tolerance: 1e-9, hutchinsonSamples: 1 });
    assert.ok(rel(precise.modules[0]!.topEigenvalue, top) < 1e-3, `${precise.modules[0]!.topEigenvalue} vs ${top}`);
    assert.equal(all.module('fc1').parameters, 3 * 3 * 3 * 5 + 5);
  } finally {
    model.dispose();
    tf.dispose([d.x, d.y]);
  }
});

test('deterministic by seed; another seed draws other probes', async () => {
  const model = logistic([3, 3, 1], 3);
  const d = data(20, [3, 3, 1], 3, 1);
  try {
    const a = await curvature(model, d, { iterations: 30, hutchinsonSamples: 5, seed: 7 });
    const b = await curvature(model, d, { iterations: 30, hutchinsonSamples: 5, seed: 7 });
    assert.deepEqual(strip(a), strip(b));
    const c = await curvature(model, d, { iterations: 30, hutchinsonSamples: 5, seed: 8 });
    assert.notDeepEqual(c.modules[0]!.traceSamples, a.modules[0]!.traceSamples);
    // The batch size only changes how the sum is split.
    const e = await curvature(model, d, { iterations: 30, hutchinsonSamples: 5, seed: 7, batchSize: 3 });
    assert.ok(rel(e.modules[0]!.topEigenvalue, a.modules[0]!.topEigenvalue) < 1e-5);
    e.modules[0]!.traceSamples.forEach((s, i) => assert.ok(rel(s, a.modules[0]!.traceSamples[i]!) < 1e-5));
  } finally {
    model.dispose();
    tf.dispose([d.x, d.y]);
  }
});

test('finite differences: used where tfjs has no exact second derivative, said so, and within 1e-3 of exact on a smooth loss', async () => {
  const n = 40;
  const d = data(n, [4, 4, 1], 3, 3);
  // Smooth (logistic regression): differences agree with the analytic Hessian.
  const lr = logistic([4, 4, 1], 3);
  // tanh saves its output for its gradient: tfjs drops its curvature, so auto uses differences.
  const tanh = logistic([4, 4, 1], 3, undefined, { post: (z) => tf.mul(tf.tanh(z), 2) });
  // ... but only after the module: on the data it does not matter.
  const tanhData = logistic([4, 4, 1], 3, undefined, { pre: (h) => tf.tanh(h) });
  // Overlapping max-pooling windows: MaxPoolGrad has no second derivative.
  const pool = logistic([4, 4, 1], 3, undefined, { post: (z) => tf.reshape(tf.maxPool(tf.reshape(z, [-1, 1, 3, 1]) as tf.Tensor4D, 3, 1, 'same'), [-1, 3]) as tf.Tensor2D });
  try {
    const exact = await curvature(lr, d, { iterations: 400, tolerance: 1e-9, hutchinsonSamples: 5, seed: 1 });
    const fd = await assertNoLeak('finite differences', () => curvature(lr, d, { iterations: 400, tolerance: 1e-9, hutchinsonSamples: 5, seed: 1, method: 'finite-difference' }));
    const H = logisticHessian(f64(tf.reshape(d.x, [n, 16])), n, 16, f64(lr.variables.get('dense/kernel')!), f64(lr.variables.get('dense/bias')!), 3);
    const top = topByMagnitude(jacobiEigenvalues(H, 51));
    const m = fd.modules[0]!;
    assert.equal(m.method, 'finite-difference');
    assert.ok(m.step > 0 && Number.isNaN(exact.modules[0]!.step));
    assert.ok(rel(m.topEigenvalue, top) < 1e-3, `finite differences: ${m.topEigenvalue} vs ${top}`);
    m.traceSamples.forEach((s, i) => assert.ok(rel(s, exact.modules[0]!.traceSamples[i]!) < 1e-3, `probe ${i}: ${s} vs ${exact.modules[0]!.traceSamples[i]}`));
    assert.match(fd.toString(), /dense: central finite differences of gradients, ε = /);
    // The weights are restored exactly.
    assert.deepEqual(f64(lr.variables.get('dense/kernel')!), f64(lr.variables.get('dense/kernel')!));
    const before = f64(lr.variables.get('dense/kernel')!);
    await curvature(lr, d, { iterations: 2, hutchinsonSamples: 1, method: 'finite-difference' });
    assert.deepEqual(f64(lr.variables.get('dense/kernel')!), before);

    const t = await assertNoLeak('finite differences after a lost second derivative', () => curvature(tanh, d, { iterations: 20, hutchinsonSamples: 2 }));
    assert.equal(t.modules[0]!.method, 'finite-difference');
    assert.match(t.modules[0]!.methodNote!, /Tanh/);
    assert.match(t.toString(), /drops the second derivative of Tanh/);
    assert.equal((await curvature(tanhData, d, { iterations: 5, hutchinsonSamples: 1 })).modules[0]!.method, 'exact');
    await assert.rejects(curvature(tanh, d, { method: 'exact' }), (e: Error) => e instanceof InvalidArgumentError && /tl\.curvature: options\.method is 'exact' but module dense has .*Tanh/.test(e.message));

    const p = await assertNoLeak('finite differences after a failed exact product', () => curvature(pool, d, { iterations: 20, hutchinsonSamples: 2 }));
    assert.equal(p.modules[0]!.method, 'finite-difference');
    assert.match(p.modules[0]!.methodNote!, /no exact second derivative \(no second derivative for MaxPoolGrad with overlapping windows\)/);
  } finally {
    for (const m of [lr, tanh, tanhData, pool]) m.dispose();
    tf.dispose([d.x, d.y]);
  }
});

test('clear errors: unknown module, empty data, wrong shapes, bad options', async () => {
  const model = cnn({ inputShape: [6, 6, 1], numClasses: 3, channels: [2], hidden: 0, seed: 1 });
  const d = data(4, [6, 6, 1], 3, 1);
  const empty = { x: tf.zeros([0, 6, 6, 1]) as tf.Tensor4D, y: tf.zeros([0], 'int32') as tf.Tensor1D };
  const wrong = data(4, [5, 5, 1], 3, 1);
  try {
    const bad = (p: Promise<unknown>, re: RegExp, cls: new (...a: never[]) => Error = InvalidArgumentError) => assert.rejects(p, (e: Error) => e instanceof cls && re.test(e.message));
    await bad(curvature(model, d, { modules: ['conv9'] }), /tl\.curvature: options\.modules names the string "conv9", which has no parameters; modules: conv1, fc/);
    await bad(curvature(model, d, { modules: [] }), /options\.modules must be a non-empty array/);
    await bad(curvature(model, d, { modules: ['fc', 'fc'] }), /names a module twice/);
    await bad(curvature(model, empty), /tl\.curvature: data is empty/);
    await bad(curvature(model, wrong), /tl\.curvature: data\.x has images 5×5×1 but the model \(cnn\) expects 6×6×1/, ShapeMismatchError);
    await bad(curvature(model, d, { iterations: 0 }), /options\.iterations must be between 1 and 100000, got 0/);
    await bad(curvature(model, d, { hutchinsonSamples: 1.5 }), /options\.hutchinsonSamples must be an integer/);
    await bad(curvature(model, d, { method: 'newton' as 'exact' }), /options\.method must be one of 'auto', 'exact', 'finite-difference'/);
    await bad(curvature(model, d, { iterationz: 3 } as never), /options\.iterationz is not a known option/);
    await bad(curvature({} as Model, d), /tl\.curvature: model must be a model/);
    const r = await curvature(model, d, { modules: ['fc'], iterations: 2, hutchinsonSamples: 1 });
    assert.throws(() => r.module('conv1'), /CurvatureResult\.module: name the string "conv1" was not analysed; modules: fc/);
    assert.throws(() => r.withCriticality({} as never), /must be a result of tl\.criticality/);
    assert.throws(() => curvatureTable([]), /tl\.curvatureTable: results must be a non-empty array/);
    assert.throws(() => curvatureTable([r, r]), /two results labelled 'cnn'/);
    assert.ok(Number.isNaN(r.modules[0]!.traceStandardError), 'one probe: no standard error');
  } finally {
    model.dispose();
    tf.dispose([d.x, d.y, empty.x, empty.y, wrong.x, wrong.y]);
  }
});

test('the result displays a table and bar charts, and joins module criticality', async () => {
  const init = cnn({ inputShape: [6, 6, 1], numClasses: 3, channels: [3], hidden: 5, seed: 1 }) as NetModel;
  const final = init.clone() as NetModel;
  const moved = new Map([...final.variables].map(([k, v]) => [k, tf.tidy(() => tf.add(v, tf.mul(tf.randomNormal(v.shape, 0, 1, 'float32', 9), 0.3)))]));
  final.setWeights(moved);
  tf.dispose([...moved.values()]);
  const d = data(16, [6, 6, 1], 3, 4);
  try {
    const c = await curvature(final, d, { iterations: 20, hutchinsonSamples: 3, label: 'P-T' });
    const k = await criticality(final, init, d, { alphas: 3, sigmas: [0.05], samples: 1 });
    const joined = c.withCriticality(k);
    assert.equal(c.criticality, undefined, 'withCriticality returns a new result');
    const bundle = joined[Symbol.for('Jupyter.display') as never] as unknown as () => Record<string, unknown>;
    const b = bundle.call(joined);
    assert.ok(b[Mime.vegaLite] && b[Mime.json] && b[Mime.plain]);
    const text = b[Mime.plain] as string;
    assert.match(text, /Hessian curvature of P-T per module \(mean cross-entropy over 16 examples; 3 Hutchinson probes, seed 0\)/);
    assert.match(text, /module\s+params\s+λ_max\s+iters\s+rel\. change\s+trace ± SE\s+HVP\s+μ\s+error rewound/);
    assert.match(text, /Criticality: μ rewinding to init\./);
    for (const m of k.modules) {
      const mu = Number.isFinite(m.criticality) ? String(Number(m.criticality.toPrecision(4))) : '∞';
      assert.ok(text.split('\n').some((l) => l.startsWith(m.module) && l.includes(mu)), `${m.module} row shows μ ${mu}`);
    }
    const spec = b[Mime.vegaLite] as { hconcat: unknown[] };
    assert.equal(spec.hconcat.length, 3, 'λ_max, trace and μ panels');
    compileVegaLite(spec as never);
    assert.equal((c.toVegaLite() as { hconcat: unknown[] }).hconcat.length, 2);
    const json = JSON.parse(JSON.stringify(b[Mime.json])) as { modules: { module: string; criticality: number | null }[] };
    assert.deepEqual(json.modules.map((m) => m.module), ['conv1', 'fc1', 'fc']);
    // Several models in one table and chart.
    const other = await curvature(init, d, { iterations: 20, hutchinsonSamples: 3, label: 'RI-T' });
    const both = curvatureTable([joined, other]);
    const t = both.toString();
    assert.match(t, /^Hessian curvature per module/);
    assert.equal(t.split('\n').filter((l) => /^(P-T|RI-T)\s/.test(l)).length, 6);
    const values = (both.toVegaLite() as { hconcat: { data: { values: { label: string }[] } }[] }).hconcat[0]!.data.values;
    assert.deepEqual([...new Set(values.map((v) => v.label))], ['P-T', 'RI-T']);
    compileVegaLite(both.toVegaLite() as never);
  } finally {
    init.dispose();
    final.dispose();
    tf.dispose([d.x, d.y]);
  }
});

test('tl.cnn on the cpu backend (MaxPoolGrad everywhere): the same agreement', async () => {
  await initBackend('cpu');
  await checkCnnAgainstGaussNewton();
});

test('on WebGPU (lavapipe without a GPU): the numbers the cpu gives, also for a module of more than 7 parameter tensors', async (t) => {
  await initBackend('cpu');
  const model = resnet({ inputShape: [8, 8, 1], numClasses: 3, width: 3, blocks: [1, 1], seed: 1 });
  const d = data(16, [8, 8, 1], 3, 1);
  // layer2's first block has a projection: 9 parameter tensors (WebGPU's AddN takes at most 7).
  assert.equal([...model.variables.keys()].filter((p) => p.startsWith('layer2/')).length, 9);
  const options = { modules: ['layer2', 'fc'], iterations: 25, tolerance: 0, hutchinsonSamples: 2, seed: 1 };
  try {
    const onCpu = await curvature(model, d, options);
    await startWebGpu(t);
    const onGpu = await curvature(model, d, options);
    onCpu.modules.forEach((c, i) => {
      const g = onGpu.modules[i]!;
      assert.equal(g.method, 'exact');
      assert.ok(rel(g.topEigenvalue, c.topEigenvalue) < 1e-4, `${c.module}: ${g.topEigenvalue} on webgpu, ${c.topEigenvalue} on cpu`);
      g.traceSamples.forEach((s, j) => assert.ok(rel(s, c.traceSamples[j]!) < 1e-4, `${c.module} probe ${j}: ${s} vs ${c.traceSamples[j]}`));
    });
  } finally {
    await initBackend('cpu');
    model.dispose();
    tf.dispose([d.x, d.y]);
  }
});
