/**
 * The CKA Gram path on WebGPU with TransferLab's own kernels (kernel/analysis/webgpuKernels/
 * centeredGram.ts and hsic.ts, used by kernel/analysis/cka/deviceGram.ts), against float64
 * references written here in plain JavaScript (Float64Array).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../kernel/analysis/tfjs';
import { initBackend } from '../../kernel/analysis/backends';
import * as cka from '../../kernel/analysis/cka';
import { InvalidArgumentError } from '../../kernel/analysis/errors';
import { setWebGpuKernels } from '../../kernel/analysis/webgpuKernels';
import { CENTERED_GRAM, centeredGram } from '../../kernel/analysis/webgpuKernels/centeredGram';
import { HSIC } from '../../kernel/analysis/webgpuKernels/hsic';
import { startWebGpu } from '../helpers/webgpu';
import { normal, rand } from '../helpers/reference';
import { assertNoLeak } from './leak';

/** Row-major n × p float32 data: normals times `scale` plus `offset`, and some shared with `base`. */
interface Data {
  readonly n: number;
  readonly p: number;
  readonly x: Float32Array;
}

function data(n: number, p: number, seed: number, offset = 0, base?: Data): Data {
  const r = rand(seed);
  const x = new Float32Array(n * p);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < p; j++) {
      const shared = base ? base.x[i * base.p + (j % base.p)]! - offset : 0;
      x[i * p + j] = offset + normal(r) + 0.8 * shared;
    }
  }
  return { n, p, x };
}

const tensorOf = (d: Data) => tf.tensor2d(d.x, [d.n, d.p]);

// ─── float64 reference: centre, Gram, HSIC (biased tr(K̃L̃), or the unbiased U-statistic) ───

function centredGram64(d: Data): Float64Array {
  const { n, p, x } = d;
  const mean = new Float64Array(p);
  for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) mean[j]! += x[i * p + j]!;
  for (let j = 0; j < p; j++) mean[j]! /= n;
  const c = new Float64Array(n * p);
  for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) c[i * p + j] = x[i * p + j]! - mean[j]!;
  const K = new Float64Array(n * n);
  for (let a = 0; a < n; a++) {
    for (let b = a; b < n; b++) {
      let s = 0;
      for (let k = 0; k < p; k++) s += c[a * p + k]! * c[b * p + k]!;
      K[a * n + b] = s;
      K[b * n + a] = s;
    }
  }
  return K;
}

function hsic64(K: Float64Array, L: Float64Array, n: number, debiased: boolean): number {
  if (!debiased) {
    // K and L are Gram matrices of centred features: tr(KHLH) = Σ K_ab L_ab.
    let s = 0;
    for (let t = 0; t < n * n; t++) s += K[t]! * L[t]!;
    return s;
  }
  // Song et al.'s unbiased estimator on K̃, L̃ (zero diagonals), in full: row sums included.
  const Kt = K.slice();
  const Lt = L.slice();
  for (let a = 0; a < n; a++) {
    Kt[a * n + a] = 0;
    Lt[a * n + a] = 0;
  }
  let tr = 0;
  let sk = 0;
  let sl = 0;
  let rowDot = 0;
  for (let a = 0; a < n; a++) {
    let rk = 0;
    let rl = 0;
    for (let b = 0; b < n; b++) {
      tr += Kt[a * n + b]! * Lt[a * n + b]!;
      rk += Kt[a * n + b]!;
      rl += Lt[a * n + b]!;
    }
    sk += rk;
    sl += rl;
    rowDot += rk * rl;
  }
  return (tr + (sk * sl) / ((n - 1) * (n - 2)) - (2 / (n - 2)) * rowDot) / (n * (n - 3));
}

function cka64(X: Data, Y: Data, debiased = false): number {
  const K = centredGram64(X);
  const L = centredGram64(Y);
  return hsic64(K, L, X.n, debiased) / Math.sqrt(hsic64(K, K, X.n, debiased) * hsic64(L, L, X.n, debiased));
}

// ─── Counting the kernels' dispatches (fails if they are not registered) ───────────────────

const calls = { [CENTERED_GRAM]: 0, [HSIC]: 0 };
const originals: tf.KernelConfig[] = [];

function countKernels(): void {
  for (const name of [CENTERED_GRAM, HSIC] as const) {
    const config = tf.getKernel(name, 'webgpu');
    assert.ok(config, `${name} is not registered for the webgpu backend`);
    originals.push(config);
    tf.unregisterKernel(name, 'webgpu');
    tf.registerKernel({
      ...config,
      kernelFunc: (args) => {
        calls[name]++;
        return config.kernelFunc(args);
      },
    });
  }
}

function restoreKernels(): void {
  for (const config of originals.splice(0)) {
    tf.unregisterKernel(config.kernelName, 'webgpu');
    tf.registerKernel(config);
  }
}

async function counted<T>(f: () => Promise<T>): Promise<{ value: T; gram: number; hsic: number }> {
  const g0 = calls[CENTERED_GRAM];
  const h0 = calls[HSIC];
  const value = await assertNoLeak('CKA on webgpu', f);
  return { value, gram: calls[CENTERED_GRAM] - g0, hsic: calls[HSIC] - h0 };
}

/** n = 4 with a +1000 offset, where the stock path's debiased features form misses 1e-6. */
function hardCase(): [Data, Data] {
  const X = data(4, 3, 154, 1000);
  return [X, data(4, 2, 1154, 1000, X)];
}

function assertClose(got: number, want: number, tol: number, what: string): void {
  assert.ok(Math.abs(got - want) <= tol, `${what}: got ${got}, float64 reference ${want} (|Δ| = ${Math.abs(got - want).toExponential(2)} > ${tol})`);
}

before(async (t) => {
  await startWebGpu(t as never);
  countKernels();
});
after(async () => {
  restoreKernels();
  await initBackend('wasm');
});

/** max over entries of |hi + lo − Σ a·b| / Σ|a·b| for left · rightᵀ (row-major [m, K] and [r, K]). */
async function crossError(left: Float32Array, right: Float32Array, m: number, r: number, depth: number): Promise<number> {
  const l = tf.tensor2d(left, [m, depth]);
  const rt = tf.tensor2d(right, [r, depth]);
  try {
    const g = centeredGram(l, rt, 0, m);
    const v = await g.data();
    g.dispose();
    let worst = 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < r; j++) {
        let s = 0;
        let abs = 0;
        for (let k = 0; k < depth; k++) {
          const prod = left[i * depth + k]! * right[j * depth + k]!;
          s += prod;
          abs += Math.abs(prod);
        }
        if (abs > 0) worst = Math.max(worst, Math.abs(v[i * r + j]! + v[m * r + i * r + j]! - s) / abs);
      }
    }
    return worst;
  } finally {
    tf.dispose([l, rt]);
  }
}

test('TlCenteredGram: float-float cross-products of different operands, any shape', async () => {
  // The cross-products of the features form: centred data of the hard case (4 examples), and odd shapes.
  const [X, Y] = hardCase();
  const centre = (d: Data) => {
    const c = new Float32Array(d.x.length);
    for (let j = 0; j < d.p; j++) {
      let mean = 0;
      for (let i = 0; i < d.n; i++) mean += d.x[i * d.p + j]!;
      mean /= d.n;
      for (let i = 0; i < d.n; i++) c[j * d.n + i] = d.x[i * d.p + j]! - mean;
    }
    return c; // transposed: p × n
  };
  const worst = await assertNoLeak('crossError', async () => {
    let w = await crossError(centre(X), centre(Y), X.p, Y.p, X.n);
    const A = data(13, 97, 71);
    const B = data(1, 97, 72);
    w = Math.max(w, await crossError(A.x, B.x, 13, 1, 97));
    const C = data(17, 1, 73, 1000);
    return Math.max(w, await crossError(C.x, C.x, 17, 17, 1));
  });
  assert.ok(worst < 1e-12, `float-float cross-product error ${worst.toExponential(2)} relative to Σ|products|`);
});

test('TlCenteredGram: float-float Gram entries far closer to float64 than a float32 matmul', async (t) => {
  const X = data(61, 129, 1, 1000);
  const ref = new Float64Array(61 * 61);
  const abs = new Float64Array(61 * 61);
  for (let a = 0; a < 61; a++) {
    for (let b = 0; b < 61; b++) {
      let s = 0;
      let m = 0;
      for (let k = 0; k < 129; k++) {
        const v = X.x[a * 129 + k]! * X.x[b * 129 + k]!;
        s += v;
        m += Math.abs(v);
      }
      ref[a * 61 + b] = s;
      abs[a * 61 + b] = m;
    }
  }
  const x = tensorOf(X);
  try {
    // Rows 7…(7 + 41) of the Gram matrix: a block with an offset, its edge not a multiple of the tile.
    const block = await assertNoLeak('centeredGram', async () => {
      const g = centeredGram(x, x, 7, 41);
      const v = await g.data();
      g.dispose();
      return v;
    });
    const stock = await assertNoLeak('matMul', async () => {
      const g = tf.matMul(x, x, false, true);
      const v = await g.data();
      g.dispose();
      return v;
    });
    let ours = 0;
    let plain = 0;
    for (let i = 0; i < 41; i++) {
      for (let b = 0; b < 61; b++) {
        const o = (7 + i) * 61 + b;
        const hi = block[i * 61 + b]!;
        const lo = block[41 * 61 + i * 61 + b]!;
        ours = Math.max(ours, Math.abs(hi + lo - ref[o]!) / abs[o]!);
        plain = Math.max(plain, Math.abs(stock[o]! - ref[o]!) / abs[o]!);
      }
    }
    t.diagnostic(`largest error relative to Σ|products|: float-float ${ours.toExponential(2)}, float32 matMul ${plain.toExponential(2)}`);
    assert.ok(ours < 1e-12, `float-float Gram error ${ours.toExponential(2)}`);
    assert.ok(plain > 1e3 * ours, `a float32 matmul (${plain.toExponential(2)}) should be far less accurate than float-float (${ours.toExponential(2)})`);
    assert.throws(() => centeredGram(x, x, 50, 20), /TlCenteredGram: rows \[50, 70\) are not within the 61 rows of left/);
  } finally {
    x.dispose();
  }
});

test('on WebGPU with our kernels: linear CKA equals float64 for odd shapes, both algorithms, biased and debiased', async () => {
  // n prime, widths 1, 13, 129 (not multiples of the 16 × 16 tile), a +1000 mean offset.
  const cases: [number, number, number][] = [
    [7, 1, 13],
    [61, 13, 129],
    [97, 129, 1],
  ];
  for (const [n, p, q] of cases) {
    const X = data(n, p, 10 + n, 1000);
    const Y = data(n, q, 20 + n, 1000, X);
    const x = tensorOf(X);
    const y = tensorOf(Y);
    try {
      for (const debiased of [false, true]) {
        const want = cka64(X, Y, debiased);
        for (const algorithm of ['gram', 'features'] as const) {
          const got = await counted(() => cka.linear(x, y, { debiased, algorithm }));
          assertClose(got.value, want, 1e-6, `n=${n} p=${p} q=${q} ${algorithm} debiased=${debiased}`);
          assert.ok(got.gram >= 1 && got.hsic >= 1, `our kernels did not run for ${algorithm} (TlCenteredGram ${got.gram}, TlHsic ${got.hsic})`);
        }
      }
    } finally {
      tf.dispose([x, y]);
    }
  }
});

test('on WebGPU with our kernels: the Gram form in row blocks (diagonal offsets, a last short block)', async () => {
  const X = data(61, 13, 81, 1000);
  const Y = data(61, 129, 82, 1000, X);
  const x = tensorOf(X);
  const y = tensorOf(Y);
  try {
    cka.ckaInternals.deviceBlockEntries = 61 * 2 * 7; // 7 rows per block: 9 blocks, the last of 5 rows
    for (const debiased of [false, true]) {
      const got = await counted(() => cka.linear(x, y, { debiased, algorithm: 'gram' }));
      assertClose(got.value, cka64(X, Y, debiased), 1e-6, `blocks debiased=${debiased}`);
      assert.equal(got.gram, 9 * 2, 'a Gram block per module per block of rows');
    }
  } finally {
    cka.ckaInternals.deviceBlockEntries = 2 ** 24;
    tf.dispose([x, y]);
  }
});

test('on WebGPU with our kernels: the smallest n allowed, and clear errors below it', async () => {
  const X2 = data(2, 3, 31);
  const Y2 = data(2, 5, 32);
  const X4 = data(4, 3, 33, 1000);
  const Y4 = data(4, 2, 34, 1000, X4);
  const ts = [X2, Y2, X4, Y4].map(tensorOf);
  try {
    for (const algorithm of ['gram', 'features'] as const) {
      const two = await counted(() => cka.linear(ts[0]!, ts[1]!, { algorithm }));
      assertClose(two.value, cka64(X2, Y2), 1e-6, `n = 2 ${algorithm}`);
      const four = await counted(() => cka.linear(ts[2]!, ts[3]!, { debiased: true, algorithm }));
      assertClose(four.value, cka64(X4, Y4, true), 1e-6, `n = 4 debiased ${algorithm}`);
      assert.ok(two.hsic >= 1 && four.hsic >= 1, 'our kernels did not run');
    }
    const [X, Y] = hardCase();
    const [x, y] = [tensorOf(X), tensorOf(Y)];
    try {
      for (const algorithm of ['gram', 'features'] as const) {
        assertClose(await cka.linear(x, y, { debiased: true, algorithm }), cka64(X, Y, true), 1e-6, `the case the stock path misses, ${algorithm}`);
      }
    } finally {
      tf.dispose([x, y]);
    }
  } finally {
    tf.dispose(ts);
  }
  await assert.rejects(() => cka.linear([[1, 2]], [[3]]), (e: unknown) => e instanceof InvalidArgumentError && /X.*has 1 rows; CKA needs at least 2 examples/.test((e as Error).message));
  await assert.rejects(
    () => cka.linear([[1], [2], [4]], [[3], [1], [0]], { debiased: true }),
    (e: unknown) => e instanceof InvalidArgumentError && /has 3 rows; the debiased estimator needs at least 4 examples/.test((e as Error).message),
  );
  await assert.rejects(() => cka.linear([[1], [1], [1]], [[3], [1], [0]]), /constant across examples/);
});

test('on WebGPU with our kernels: a 3 × 3 CKA heatmap equals float64, reading back features and one tensor of sums', async () => {
  const n = 61;
  const A = data(n, 13, 41, 1000);
  const mods = { a: A, b: data(n, 1, 42, 0, A), c: data(n, 129, 43, 1000, A) };
  const others = { d: data(n, 7, 44), e: data(n, 33, 45, 1000, A), f: A };
  const ta = Object.fromEntries(Object.entries(mods).map(([k, v]) => [k, tensorOf(v)]));
  const tb = Object.fromEntries(Object.entries(others).map(([k, v]) => [k, tensorOf(v)]));
  try {
    for (const algorithm of ['gram', 'features'] as const) {
      for (const debiased of [false, true]) {
        let reads = 0;
        const data0 = tf.Tensor.prototype.data;
        tf.Tensor.prototype.data = function (this: tf.Tensor) {
          reads++;
          return data0.call(this);
        } as typeof data0;
        let got;
        try {
          got = await counted(() => cka.matrixFromFeatures(ta, tb, { algorithm, debiased }));
        } finally {
          tf.Tensor.prototype.data = data0;
        }
        // Six modules' features (centred in float64 on the host), then the partial sums of all
        // 9 + 6 pairs (cross and self) in one read: no Gram or cross-product matrix comes back.
        assert.equal(reads, 7, `${algorithm}: reads`);
        assert.ok(got.gram >= 1 && got.hsic >= 9, `our kernels did not run for the heatmap (${got.gram}, ${got.hsic})`);
        for (const [r, X] of Object.entries(mods)) {
          for (const [c, Y] of Object.entries(others)) assertClose(got.value.get(r, c), cka64(X, Y, debiased), 1e-6, `heatmap ${algorithm} debiased=${debiased} ${r}/${c}`);
        }
      }
    }
  } finally {
    tf.dispose([...Object.values(ta), ...Object.values(tb)]);
  }
});

test('on WebGPU with the stock kernels: CKA takes the older float32 path (our kernels unregistered)', async (t) => {
  const X = data(97, 129, 51, 1000);
  const Y = data(97, 13, 52, 1000, X);
  const x = tensorOf(X);
  const y = tensorOf(Y);
  try {
    restoreKernels();
    setWebGpuKernels('stock');
    assert.equal(tf.getKernel(CENTERED_GRAM, 'webgpu'), undefined);
    const errs: string[] = [];
    for (const debiased of [false, true]) {
      const stock = await assertNoLeak('stock CKA', () => cka.linear(x, y, { debiased, algorithm: 'gram' }));
      assertClose(stock, cka64(X, Y, debiased), 1e-6, `stock path debiased=${debiased}`);
      errs.push(`debiased=${debiased}: ${Math.abs(stock - cka64(X, Y, debiased)).toExponential(2)}`);
    }
    t.diagnostic(`stock path |Δ| from float64: ${errs.join(', ')}`);
    // Four examples with a +1000 offset (seed found by a search over 180 small cases): the
    // debiased features form, a difference of nearly equal sums, misses 1e-6 on the stock path.
    const [X4, Y4] = hardCase();
    const [x4, y4] = [tensorOf(X4), tensorOf(Y4)];
    try {
      const miss = Math.abs((await cka.linear(x4, y4, { debiased: true, algorithm: 'features' })) - cka64(X4, Y4, true));
      t.diagnostic(`stock path, n = 4 debiased features: |Δ| from float64 ${miss.toExponential(2)}`);
      assert.ok(miss > 1e-6, `the stock path missed the reference by only ${miss.toExponential(2)}`);
    } finally {
      tf.dispose([x4, y4]);
    }
  } finally {
    setWebGpuKernels('ours');
    countKernels();
    tf.dispose([x, y]);
  }
});

test('on WebGPU with our kernels: a mean offset of 1e5 costs no digits, where float32 tensor ops miss 1e-6', async (t) => {
  const X = data(97, 129, 61, 1e5);
  const Y = data(97, 13, 62, 1e5, X);
  const x = tensorOf(X);
  const y = tensorOf(Y);
  try {
    const want = cka64(X, Y);
    for (const algorithm of ['gram', 'features'] as const) {
      const got = await counted(() => cka.linear(x, y, { algorithm }));
      assertClose(got.value, want, 1e-6, `offset 1e5 ${algorithm}`);
      assert.ok(got.hsic >= 1, 'our kernels did not run');
    }
    // The same CKA in float32 tensor ops throughout (centred on the device, plain float32 sums).
    const naive = tf.tidy(() => {
      const gram = (z: tf.Tensor2D) => {
        const c = tf.sub(z, tf.mean(z, 0));
        return tf.matMul(c, c, false, true);
      };
      const K = gram(x);
      const L = gram(y);
      const h = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(a, b));
      return tf.div(h(K, L), tf.sqrt(tf.mul(h(K, K), h(L, L))));
    });
    const naiveErr = Math.abs((await naive.data())[0]! - want);
    naive.dispose();
    t.diagnostic(`float32 tensor ops throughout: |Δ| from float64 ${naiveErr.toExponential(2)}`);
    assert.ok(naiveErr > 1e-6, `plain float32 CKA missed the reference by only ${naiveErr.toExponential(2)}`);
  } finally {
    tf.dispose([x, y]);
  }
});
