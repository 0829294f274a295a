/**
 * One analysis API on every backend (issue 14): the same notebook-like script of `tl.cka` and
 * `tl.similarity` calls runs unchanged on cpu, wasm and webgpu (lavapipe here), every call
 * awaited, and gives the same numbers; and the public surface has no `…Async` twins left.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tl from '../../kernel/analysis';
import { tf } from '../../kernel/analysis/tfjs';
import { initBackend } from '../../kernel/analysis/backends';
import { stopGramWorkers } from '../../kernel/analysis/gram/pool';
import { startWebGpu } from '../helpers/webgpu';

after(() => stopGramWorkers());

/** Deterministic float32-representable data, [n, p] row-major (a small LCG, Box–Muller). */
function data(n: number, p: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 2 ** 32;
  return Float32Array.from({ length: n * p }, () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()));
}

const N = 40;
const XS = data(N, 6, 1);
const ZS = data(N, 3, 3);
// Y: a noisy nonlinear map of X, so that every measure lands away from its bounds.
const YS = Float32Array.from({ length: N * 5 }, (_, k) => {
  const [i, j] = [Math.floor(k / 5), k % 5];
  return Math.fround(Math.tanh(XS[i * 6 + j]! + 0.5 * XS[i * 6 + j + 1]!) + 0.3 * data(N, 5, 2)[k]!);
});

/** Linear CKA of row-major float32 data in float64: ‖ỸᵀX̃‖²_F / (‖X̃ᵀX̃‖_F ‖ỸᵀỸ‖_F). */
function linearCkaRef(x: Float32Array, px: number, y: Float32Array, py: number): number {
  const centred = (a: Float32Array, p: number) => {
    const out = Float64Array.from(a);
    for (let j = 0; j < p; j++) {
      let m = 0;
      for (let i = 0; i < N; i++) m += out[i * p + j]!;
      for (let i = 0; i < N; i++) out[i * p + j]! -= m / N;
    }
    return out;
  };
  const frob2 = (a: Float64Array, pa: number, b: Float64Array, pb: number) => {
    let s = 0;
    for (let j = 0; j < pa; j++) {
      for (let k = 0; k < pb; k++) {
        let d = 0;
        for (let i = 0; i < N; i++) d += a[i * pa + j]! * b[i * pb + k]!;
        s += d * d;
      }
    }
    return s;
  };
  const [a, b] = [centred(x, px), centred(y, py)];
  return frob2(b, py, a, px) / Math.sqrt(frob2(a, px, a, px) * frob2(b, py, b, py));
}

/** The notebook: every public analysis call awaited, the same on every backend. */
async function notebook(): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const X = tf.tensor2d(XS, [N, 6]);
  const Y = tf.tensor2d(YS, [N, 5]);
  const Z = tf.tensor2d(ZS, [N, 3]);
  const call = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (e) {
      assert.fail(`${name} threw on ${tf.getBackend()}: ${(e as Error).message}`);
    }
  };
  try {
    const pending = tl.cka.linear(X, Y);
    assert.ok(pending instanceof Promise, 'tl.cka.linear returns a promise on every backend');
    out.set('cka.linear', await call('tl.cka.linear', () => pending));
    out.set('cka.linear debiased', await call('tl.cka.linear', () => tl.cka.linear(X, Y, { debiased: true })));
    const est = await call('tl.cka.linear (uncertainty)', () => tl.cka.linear(X, Y, { uncertainty: { bootstrap: 20, permutations: 19, seed: 1 } }));
    out.set('cka.linear uncertainty estimate', est.estimate).set('cka.linear uncertainty lower', est.lower).set('cka.linear uncertainty p', est.pValue);
    out.set('cka.rbf', await call('tl.cka.rbf', () => tl.cka.rbf(X, Y)));
    out.set('cka.rbf debiased', await call('tl.cka.rbf', () => tl.cka.rbf(X, Y, { debiased: true, threshold: 0.8 })));
    const heat = await call('tl.cka.matrixFromFeatures', () => tl.cka.matrixFromFeatures({ x: X, z: Z }, { y: Y, z: Z }));
    for (const [r, c] of [['x', 'y'], ['z', 'y'], ['x', 'z']] as const) out.set(`cka.matrixFromFeatures ${r}/${c}`, heat.get(r, c));
    const acc = new tl.cka.MinibatchCka();
    for (const [a, b] of [[0, 16], [16, 40]] as const) {
      const [xa, ya] = [X.slice([a, 0], [b - a, 6]), Y.slice([a, 0], [b - a, 5])];
      await call('MinibatchCka.update', () => acc.update({ x: xa }, { y: ya }));
      tf.dispose([xa, ya]);
    }
    out.set('MinibatchCka x/y', acc.result().get('x', 'y'));
    out.set('similarity.svcca', await call('tl.similarity.svcca', () => tl.similarity.svcca(X, Y)));
    out.set('similarity.pwcca', await call('tl.similarity.pwcca', () => tl.similarity.pwcca(X, Y)));
    out.set('similarity.procrustes', await call('tl.similarity.procrustes', () => tl.similarity.procrustes(X, Y)));
    out.set('similarity.rsa', await call('tl.similarity.rsa', () => tl.similarity.rsa(X, Y)));
    const sim = await call('tl.similarity.matrixFromFeatures', () => tl.similarity.matrixFromFeatures({ x: X }, { y: Y, z: Z }));
    for (const m of tl.similarity.SIMILARITY_MEASURES) out.set(`similarity.matrixFromFeatures ${m}`, sim.get('x', 'y', m));
  } finally {
    tf.dispose([X, Y, Z]);
  }
  return out;
}

test('the same notebook runs on cpu, wasm and webgpu, every call awaited, with the same results (1e-6)', async (t) => {
  const runs = new Map<string, Map<string, number>>();
  try {
    for (const name of ['cpu', 'wasm', 'webgpu'] as const) {
      if (name === 'webgpu') await startWebGpu(t);
      else await initBackend(name);
      const before = tf.memory().numTensors;
      runs.set(name, await notebook());
      assert.equal(tf.memory().numTensors, before, `the notebook leaves no tensors on ${name}`);
    }
  } finally {
    await initBackend('cpu');
  }
  const cpu = runs.get('cpu')!;
  assert.ok(Math.abs(cpu.get('cka.linear')! - linearCkaRef(XS, 6, YS, 5)) < 1e-6, `cpu linear CKA ${cpu.get('cka.linear')} vs the float64 reference ${linearCkaRef(XS, 6, YS, 5)}`);
  assert.ok(Math.abs(cpu.get('cka.matrixFromFeatures z/y')! - linearCkaRef(ZS, 3, YS, 5)) < 1e-6, 'cpu heatmap cell z/y vs the float64 reference');
  for (const [key, v] of cpu) assert.ok(Number.isFinite(v), `${key} on cpu: ${v}`);
  assert.ok(cpu.get('cka.linear')! > 0.3 && cpu.get('cka.linear')! < 0.99, `a value away from the bounds: ${cpu.get('cka.linear')}`);
  for (const name of ['wasm', 'webgpu']) {
    const got = runs.get(name)!;
    assert.deepEqual([...got.keys()], [...cpu.keys()], `${name} computed every value`);
    for (const [key, want] of cpu) assert.ok(Math.abs(got.get(key)! - want) <= 1e-6, `${key} on ${name}: ${got.get(key)} vs cpu ${want}`);
  }
});

/** Every name on `owner` (own keys of a namespace, statics and prototype methods of a class). */
function namesOf(owner: object): string[][] {
  const groups: string[][] = [Object.keys(owner)];
  if (typeof owner === 'function') {
    groups.push(Object.getOwnPropertyNames(owner));
    const proto = (owner as { prototype?: object }).prototype;
    if (proto) groups.push(Object.getOwnPropertyNames(proto));
  }
  return groups;
}

test('the public surface has one name per operation: no `…Async` twin beside its base name', () => {
  const twins: string[] = [];
  let checked = 0;
  const visit = (path: string, owner: object, depth: number) => {
    for (const names of namesOf(owner)) {
      const set = new Set(names);
      checked += names.length;
      for (const n of names) if (n.endsWith('Async') && set.has(n.slice(0, -'Async'.length))) twins.push(`${path}.${n}`);
    }
    if (depth === 0) return;
    for (const k of Object.keys(owner)) {
      const v = (owner as Record<string, unknown>)[k];
      if (k === 'tf') continue; // TensorFlow.js's own API (its dataSync/data pairs are tensors', not ours)
      if ((typeof v === 'object' && v !== null && !ArrayBuffer.isView(v) && !Array.isArray(v)) || typeof v === 'function') visit(`${path}.${k}`, v as object, depth - 1);
    }
  };
  visit('tl', tl, 2);
  assert.ok(checked > 200, `walked the surface (${checked} names)`);
  assert.deepEqual(twins, []);
  // The names of the twins removed in issue 14 are gone for good.
  for (const [owner, names] of [
    [tl.cka, ['linearAsync', 'rbfAsync', 'matrixFromFeaturesAsync']],
    [tl.similarity, ['svccaAsync', 'pwccaAsync', 'procrustesAsync', 'rsaAsync', 'matrixFromFeaturesAsync']],
    [tl.MinibatchCka.prototype, ['updateAsync']],
    [tl, ['SyncReadError']],
  ] as const) {
    for (const n of names) assert.equal((owner as Record<string, unknown>)[n], undefined, n);
  }
});
