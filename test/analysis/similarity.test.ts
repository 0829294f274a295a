/**
 * tl.similarity: SVCCA, PWCCA, orthogonal Procrustes and RSA against independent float64
 * references written here (explicit covariance matrices, Cholesky whitening, a cyclic Jacobi
 * eigensolver, ranks by sorting), their invariances (those each measure has and those it lacks),
 * the module × module matrix with several measures, validation and tensor hygiene.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../kernel/analysis/tfjs';
import { initBackend } from '../../kernel/analysis/backends';
import * as similarity from '../../kernel/analysis/similarity';
import * as cka from '../../kernel/analysis/cka';
import { cnn } from '../../kernel/analysis/netModel';
import { InvalidArgumentError, ShapeMismatchError } from '../../kernel/analysis/errors';
import { stopGramWorkers } from '../../kernel/analysis/gram/pool';
import { symmetricEigen } from '../../kernel/analysis/similarity/linalg';
import { Mime, type CkaPayload } from '../../kernel/protocol/mime';
import { DISPLAY } from '../../kernel/analysis/display';
import { assertNoLeak } from './leak';
import { type M, normal, orthogonal, rand, randn } from '../helpers/reference';

before(async () => {
  await initBackend('wasm');
});
after(async () => {
  await stopGramWorkers();
});

// ─── Independent float64 references (plain number[][] arithmetic) ──────────────────────────

const T = (a: M): M => a[0]!.map((_, j) => a.map((row) => row[j]!));
const mul = (a: M, b: M): M => a.map((row) => b[0]!.map((_, j) => row.reduce((s, v, k) => s + v * b[k]![j]!, 0)));
const add = (a: M, b: M): M => a.map((row, i) => row.map((v, j) => v + b[i]![j]!));
const scale = (a: M, c: number): M => a.map((row) => row.map((v) => v * c));
const centre = (a: M): M => {
  const mean = a[0]!.map((_, j) => a.reduce((s, row) => s + row[j]!, 0) / a.length);
  return a.map((row) => row.map((v, j) => v - mean[j]!));
};
const frob = (a: M): number => Math.sqrt(a.flat().reduce((s, v) => s + v * v, 0));

/** Cyclic Jacobi eigen-decomposition of a symmetric matrix: eigenvalues descending, eigenvectors as columns. */
function jacobiEigen(a0: M): { values: number[]; vectors: M } {
  const n = a0.length;
  const a = a0.map((r) => [...r]);
  const v: M = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) off += a[i]![j]! ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (Math.abs(a[p]![q]!) < 1e-300) continue;
        const theta = (a[q]![q]! - a[p]![p]!) / (2 * a[p]![q]!);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k]![p]!;
          const akq = a[k]![q]!;
          a[k]![p] = c * akp - s * akq;
          a[k]![q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p]![k]!;
          const aqk = a[q]![k]!;
          a[p]![k] = c * apk - s * aqk;
          a[q]![k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k]![p]!;
          const vkq = v[k]![q]!;
          v[k]![p] = c * vkp - s * vkq;
          v[k]![q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = a.map((_, i) => i).sort((i, j) => a[j]![j]! - a[i]![i]!);
  return { values: order.map((i) => a[i]![i]!), vectors: v.map((row) => order.map((i) => row[i]!)) };
}

/** Lower-triangular L with LLᵀ = a (a positive definite). */
function cholesky(a: M): M {
  const n = a.length;
  const l: M = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i]![j]!;
      for (let k = 0; k < j; k++) s -= l[i]![k]! * l[j]![k]!;
      l[i]![j] = i === j ? Math.sqrt(s) : s / l[j]![j]!;
    }
  }
  return l;
}

/** L⁻¹ for lower-triangular L (forward substitution, column by column). */
function invLower(l: M): M {
  const n = l.length;
  const inv: M = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let c = 0; c < n; c++) {
    for (let i = 0; i < n; i++) {
      let s = i === c ? 1 : 0;
      for (let k = 0; k < i; k++) s -= l[i]![k]! * inv[k]![c]!;
      inv[i]![c] = s / l[i]![i]!;
    }
  }
  return inv;
}

/**
 * CCA from explicit covariance matrices: T = Lx⁻¹ Cxy Ly⁻ᵀ (Cholesky whitening), ρ² the
 * eigenvalues of TTᵀ, X's canonical weights w_i = Lx⁻ᵀ a_i (a_i eigenvectors of TTᵀ).
 */
function ccaRef(X: M, Y: M): { rho: number[]; weightsX: M } {
  const xc = centre(X);
  const yc = centre(Y);
  const lx = invLower(cholesky(mul(T(xc), xc)));
  const ly = invLower(cholesky(mul(T(yc), yc)));
  const t = mul(mul(lx, mul(T(xc), yc)), T(ly));
  const { values, vectors } = jacobiEigen(mul(t, T(t)));
  const k = Math.min(X[0]!.length, Y[0]!.length);
  const rho = values.slice(0, k).map((v) => Math.sqrt(Math.max(0, Math.min(1, v))));
  const w = mul(T(lx), vectors); // columns: X's canonical weights
  return { rho, weightsX: T(w).slice(0, k) };
}

/** Top singular directions of centred X explaining `variance`, as coordinates X̃V_k (n × k). */
function svdReduce(X: M, variance: number): M {
  const xc = centre(X);
  const { values, vectors } = jacobiEigen(mul(T(xc), xc));
  const total = values.reduce((s, v) => s + v, 0);
  let k = 0;
  let acc = 0;
  while (k < values.length && acc < variance * total * (1 - 1e-12)) acc += values[k++]!;
  return mul(xc, vectors.map((row) => row.slice(0, k)));
}

const svccaRef = (X: M, Y: M, variance = 0.99): number => {
  const { rho } = ccaRef(svdReduce(X, variance), svdReduce(Y, variance));
  return rho.reduce((s, r) => s + r, 0) / rho.length;
};

function pwccaRef(X: M, Y: M): number {
  const { rho, weightsX } = ccaRef(X, Y);
  const xc = centre(X);
  const cxx = mul(T(xc), xc);
  // ⟨h_i, x_j⟩ = (X̃ᵀX̃ w_i)_j
  const alpha = weightsX.map((w) => mul(cxx, w.map((v) => [v])).reduce((s, [v]) => s + Math.abs(v!), 0));
  const total = alpha.reduce((s, a) => s + a, 0);
  return alpha.reduce((s, a, i) => s + (a / total) * rho[i]!, 0);
}

/**
 * Singular values by one-sided Jacobi (Hestenes): rotate pairs of columns until all are
 * orthogonal; the singular values are the column norms (accurate for small ones too, unlike the
 * square roots of eigenvalues of MᵀM).
 */
function singularValuesRef(a: M): number[] {
  const u = a.map((r) => [...r]);
  const q = u[0]!.length;
  for (let sweep = 0; sweep < 60; sweep++) {
    let rotated = false;
    for (let p = 0; p < q; p++) {
      for (let r = p + 1; r < q; r++) {
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (const row of u) {
          alpha += row[p]! ** 2;
          beta += row[r]! ** 2;
          gamma += row[p]! * row[r]!;
        }
        if (Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (const row of u) {
          const up = row[p]!;
          const ur = row[r]!;
          row[p] = c * up - s * ur;
          row[r] = s * up + c * ur;
        }
      }
    }
    if (!rotated) break;
  }
  return Array.from({ length: q }, (_, j) => Math.sqrt(u.reduce((s, row) => s + row[j]! ** 2, 0)));
}

/** ‖X̂ᵀŶ‖_*: the sum of the singular values of M = X̂ᵀŶ (one-sided Jacobi on the taller of M, Mᵀ). */
function procrustesSimilarityRef(X: M, Y: M): number {
  const xc = centre(X);
  const yc = centre(Y);
  const m = mul(T(scale(xc, 1 / frob(xc))), scale(yc, 1 / frob(yc)));
  return singularValuesRef(m.length >= m[0]!.length ? m : T(m)).reduce((s, v) => s + v, 0);
}

/** ‖X̂ᵀŶ‖_* from the eigenvalues of MᵀM (cross-check of the Jacobi SVD where all singular values are large). */
function procrustesByEigenRef(X: M, Y: M): number {
  const xc = centre(X);
  const yc = centre(Y);
  const m = mul(T(scale(xc, 1 / frob(xc))), scale(yc, 1 / frob(yc)));
  return jacobiEigen(mul(T(m), m)).values.reduce((s, v) => s + Math.sqrt(Math.max(0, v)), 0);
}

function rdmRef(X: M, kind: 'correlation' | 'euclidean'): number[] {
  const out: number[] = [];
  for (let a = 0; a < X.length; a++) {
    for (let b = a + 1; b < X.length; b++) {
      const xa = X[a]!;
      const xb = X[b]!;
      if (kind === 'euclidean') {
        out.push(Math.sqrt(xa.reduce((s, v, j) => s + (v - xb[j]!) ** 2, 0)));
      } else {
        out.push(1 - pearsonRef(xa, xb));
      }
    }
  }
  return out;
}
function pearsonRef(a: readonly number[], b: readonly number[]): number {
  const ma = a.reduce((s, v) => s + v, 0) / a.length;
  const mb = b.reduce((s, v) => s + v, 0) / b.length;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  a.forEach((v, i) => {
    sab += (v - ma) * (b[i]! - mb);
    saa += (v - ma) ** 2;
    sbb += (b[i]! - mb) ** 2;
  });
  return sab / Math.sqrt(saa * sbb);
}
/** Ranks 1..m, ties averaged: sort the indices, walk each group of equal values. */
function ranksRef(v: readonly number[]): number[] {
  const idx = v.map((_, i) => i).sort((i, j) => v[i]! - v[j]!);
  const out = new Array<number>(v.length);
  for (let s = 0; s < idx.length; ) {
    let e = s;
    while (e + 1 < idx.length && v[idx[e + 1]!] === v[idx[s]!]) e++;
    for (let k = s; k <= e; k++) out[idx[k]!] = (s + e) / 2 + 1;
    s = e + 1;
  }
  return out;
}
const rsaRef = (X: M, Y: M, rdm: 'correlation' | 'euclidean' = 'correlation', compare: 'spearman' | 'pearson' = 'spearman'): number => {
  const a = rdmRef(X, rdm);
  const b = rdmRef(Y, rdm);
  return compare === 'spearman' ? pearsonRef(ranksRef(a), ranksRef(b)) : pearsonRef(a, b);
};

/** A random orthogonal p×p matrix (Gram–Schmidt of a Gaussian matrix). */

/** Test data: X (n × 6) with an offset, Y a noisy linear map of X (n × 5), Z independent. */
function data(n = 40, seed = 1): { X: M; Y: M; Z: M } {
  const X = randn(n, 6, seed).map((row) => row.map((v, j) => v * (1 + j) + (j === 0 ? 5 : 0)));
  const Y = add(mul(X, randn(6, 5, seed + 1)), scale(randn(n, 5, seed + 2), 2));
  return { X, Y, Z: randn(n, 4, seed + 3) };
}

const close = (a: number, b: number, tol: number, what: string): void => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (|Δ| = ${Math.abs(a - b)})`);

// ─── Against the references ────────────────────────────────────────────────────────────────

test('the eigensolver agrees with a cyclic Jacobi reference', () => {
  const a = randn(12, 12, 3);
  const s = mul(T(a), a);
  const ref = jacobiEigen(s);
  const got = symmetricEigen(Float64Array.from(s.flat()), 12);
  ref.values.forEach((v, i) => close(got.values[i]!, v, 1e-10 * ref.values[0]!, `eigenvalue ${i}`));
  for (let k = 0; k < 12; k++) {
    // A v = λ v, and the vector agrees with the reference's up to sign
    const v = Array.from(got.vectors.subarray(k * 12, k * 12 + 12));
    const av = s.map((row) => row.reduce((acc, x, j) => acc + x * v[j]!, 0));
    av.forEach((x, i) => close(x, got.values[k]! * v[i]!, 1e-9 * ref.values[0]!, `A v_${k}`));
    const dotRef = v.reduce((acc, x, i) => acc + x * ref.vectors[i]![k]!, 0);
    close(Math.abs(dotRef), 1, 1e-9, `v_${k} against the reference`);
  }
  const values = symmetricEigen(Float64Array.from(s.flat()), 12, false).values;
  ref.values.forEach((v, i) => close(values[i]!, v, 1e-10 * ref.values[0]!, `eigenvalue ${i} (values only)`));
});

test('SVCCA, PWCCA, Procrustes and RSA match float64 references (number[][], 1e-9)', async () => {
  for (const seed of [1, 7]) {
    const { X, Y, Z } = data(40, seed);
    for (const [A, B, name] of [[X, Y, 'X,Y'], [Y, X, 'Y,X'], [X, Z, 'X,Z']] as const) {
      close(await similarity.svcca(A, B), svccaRef(A, B), 1e-9, `svcca ${name}`);
      close(await similarity.svcca(A, B, { variance: 0.9 }), svccaRef(A, B, 0.9), 1e-9, `svcca 90% ${name}`);
      close(await similarity.pwcca(A, B), pwccaRef(A, B), 1e-9, `pwcca ${name}`);
      const sim = procrustesSimilarityRef(A, B);
      close(procrustesByEigenRef(A, B), sim, 1e-9, `the two Procrustes references ${name}`);
      close(await similarity.procrustes(A, B, { output: 'similarity' }), sim, 1e-9, `procrustes similarity ${name}`);
      close(await similarity.procrustes(A, B, { output: 'squared' }), 2 - 2 * sim, 1e-9, `procrustes d² ${name}`);
      close(await similarity.procrustes(A, B), Math.sqrt(2 - 2 * sim), 1e-9, `procrustes d ${name}`);
      close(await similarity.rsa(A, B), rsaRef(A, B), 1e-9, `rsa ${name}`);
      close(await similarity.rsa(A, B, { rdm: 'euclidean' }), rsaRef(A, B, 'euclidean'), 1e-9, `rsa euclidean ${name}`);
      close(await similarity.rsa(A, B, { compare: 'pearson' }), rsaRef(A, B, 'correlation', 'pearson'), 1e-9, `rsa pearson ${name}`);
    }
  }
});

test('wide representations (p > n) take the n×n form and still match the references', async () => {
  // 12 examples, 20 and 16 features: CCA on the full spans is degenerate (every ρ = 1), SVCCA at
  // 90% variance and Procrustes are not.
  const X = randn(12, 20, 11);
  const Y = add(mul(X, randn(20, 16, 12)), scale(randn(12, 16, 13), 3));
  close(await similarity.pwcca(X, Y), 1, 1e-9, 'PWCCA with n ≤ rank: every canonical correlation is 1');
  close(await similarity.procrustes(X, Y, { output: 'similarity' }), procrustesSimilarityRef(X, Y), 1e-9, 'procrustes');
  close(await similarity.rsa(X, Y), rsaRef(X, Y), 1e-9, 'rsa');
  // The SVCCA reference takes the p×p route (Jacobi on X̃ᵀX̃): an independent check of the n×n form.
  close(await similarity.svcca(X, Y, { variance: 0.8 }), svccaRef(X, Y, 0.8), 1e-8, 'svcca 80%');
});

test('ill-conditioned representations (singular values over five decades) still match the references', async () => {
  // Columns scaled from 1 down to 1e-5: the Gram matrix's condition number is 1e10, and the left
  // singular vectors of the small directions are re-orthonormalised.
  const X = randn(60, 8, 21).map((row) => row.map((v, j) => v * 10 ** (-5 * j / 7)));
  const Y = add(mul(X, randn(8, 5, 22)), scale(randn(60, 5, 23), 0.01));
  close(await similarity.svcca(X, Y, { variance: 1 }), svccaRef(X, Y, 1), 1e-8, 'svcca, all variance');
  close(await similarity.pwcca(X, Y), pwccaRef(X, Y), 1e-8, 'pwcca');
  close(await similarity.pwcca(Y, X), pwccaRef(Y, X), 1e-8, 'pwcca (Y, X)');
  close(await similarity.procrustes(X, Y, { output: 'similarity' }), procrustesSimilarityRef(X, Y), 1e-9, 'procrustes');
});

test('tensors are read as float32 and agree with the reference on the same values', async () => {
  const { X, Y } = data(30, 3);
  const tx = tf.tensor2d(X);
  const ty = tf.tensor2d(Y);
  try {
    const x32 = tx.arraySync();
    const y32 = ty.arraySync();
    close(await similarity.svcca(tx, ty), svccaRef(x32, y32), 1e-9, 'svcca');
    close(await similarity.pwcca(tx, ty), pwccaRef(x32, y32), 1e-9, 'pwcca');
    close(await similarity.procrustes(tx, ty, { output: 'similarity' }), procrustesSimilarityRef(x32, y32), 1e-9, 'procrustes');
    close(await similarity.rsa(tx, ty), rsaRef(x32, y32), 1e-9, 'rsa');
  } finally {
    tf.dispose([tx, ty]);
  }
});

test('Spearman ranks ties by their mean rank', async () => {
  // Integer features: many equal distances, so the RDM has ties.
  const r = rand(5);
  const X = Array.from({ length: 14 }, () => Array.from({ length: 3 }, () => Math.floor(r() * 3)));
  const Y = Array.from({ length: 14 }, () => Array.from({ length: 3 }, () => Math.floor(r() * 3)));
  const rd = rdmRef(X, 'euclidean');
  assert.ok(new Set(rd).size < rd.length / 3, 'the RDM has many ties');
  close(await similarity.rsa(X, Y, { rdm: 'euclidean' }), rsaRef(X, Y, 'euclidean'), 1e-12, 'rsa with ties');
});

// ─── Properties: invariances each measure has, and those it does not ─────────────────────────

test('identical inputs give the maximum similarity', async () => {
  const { X, Y } = data(40, 2);
  for (const A of [X, Y]) {
    close(await similarity.svcca(A, A), 1, 1e-12, 'svcca');
    close(await similarity.pwcca(A, A), 1, 1e-12, 'pwcca');
    close(await similarity.procrustes(A, A), 0, 1e-7, 'procrustes distance');
    close(await similarity.procrustes(A, A, { output: 'similarity' }), 1, 1e-12, 'procrustes similarity');
    close(await similarity.rsa(A, A), 1, 1e-12, 'rsa');
    // the same values in another array: not the shortcut for X === Y
    const copy = A.map((row) => [...row]);
    close(await similarity.svcca(A, copy), 1, 1e-12, 'svcca (copy)');
    close(await similarity.pwcca(A, copy), 1, 1e-12, 'pwcca (copy)');
    close(await similarity.procrustes(A, copy, { output: 'similarity' }), 1, 1e-12, 'procrustes (copy)');
  }
});

test('SVCCA, Procrustes and RSA are symmetric; PWCCA is not', async () => {
  const { X, Y } = data(40, 4);
  close(await similarity.svcca(X, Y), await similarity.svcca(Y, X), 1e-12, 'svcca');
  close(await similarity.procrustes(X, Y), await similarity.procrustes(Y, X), 1e-12, 'procrustes');
  close(await similarity.rsa(X, Y), await similarity.rsa(Y, X), 1e-12, 'rsa');
  const xy = await similarity.pwcca(X, Y);
  const yx = await similarity.pwcca(Y, X);
  assert.ok(Math.abs(xy - yx) > 1e-3, `PWCCA weights by the first argument: ${xy} vs ${yx}`);
  close(xy, pwccaRef(X, Y), 1e-9, 'pwcca(X, Y)');
  close(yx, pwccaRef(Y, X), 1e-9, 'pwcca(Y, X)');
});

test('CCA-based measures: invariant to invertible linear maps (SVCCA exactly only when all variance is kept)', async () => {
  const { X, Y } = data(40, 5);
  const A = add(randn(6, 6, 50), scale(orthogonal(6, 51), 3)); // invertible, far from orthogonal
  const XA = mul(X, A);
  close(await similarity.svcca(XA, Y, { variance: 1 }), await similarity.svcca(X, Y, { variance: 1 }), 1e-9, 'svcca, variance 1: invariant to X → XA');
  close(await similarity.pwcca(X, mul(Y, randn(5, 5, 52))), await similarity.pwcca(X, Y), 1e-9, 'pwcca: invariant to Y → YB');
  // PWCCA's canonical correlations are invariant to X → XA, its weights are not.
  assert.ok(Math.abs(await similarity.pwcca(XA, Y) - await similarity.pwcca(X, Y)) > 1e-4, 'pwcca changes with X → XA (the weights sum |⟨h, x_j⟩| over X\'s columns)');
  const perm = [3, 0, 5, 1, 4, 2];
  const Xp = X.map((row) => perm.map((j) => -2.5 * row[j]!));
  close(await similarity.pwcca(Xp, Y), await similarity.pwcca(X, Y), 1e-9, 'pwcca: invariant to permuting, flipping and scaling X\'s columns');

  // SVCCA at 99%: a direction of X with < 1% of the variance is dropped; stretching it (an
  // invertible map) brings it back, and with it what Y shares with it.
  const r = rand(60);
  const n = 60;
  const big = Array.from({ length: n }, () => [normal(r) * 10, normal(r) * 10, normal(r) * 10]);
  const small = Array.from({ length: n }, () => normal(r) * 0.1);
  const X2 = big.map((row, i) => [...row, small[i]!]);
  const Y2 = big.map((row, i) => [row[0]! + normal(r), small[i]! * 50 + normal(r) * 0.1]);
  const stretched = X2.map((row) => [row[0]!, row[1]!, row[2]!, row[3]! * 1000]);
  const before = await similarity.svcca(X2, Y2);
  const afterStretch = await similarity.svcca(stretched, Y2);
  assert.ok(afterStretch - before > 0.2, `SVCCA at 99% is not invariant to invertible maps: ${before} → ${afterStretch}`);
  close(await similarity.svcca(stretched, Y2, { variance: 1 }), await similarity.svcca(X2, Y2, { variance: 1 }), 1e-9, 'with variance 1 the same map changes nothing');
});

test('Procrustes: invariant to orthogonal maps, isotropic scaling and translation, not to invertible linear maps; a metric', async () => {
  const { X, Y, Z } = data(40, 6);
  const d = await similarity.procrustes(X, Y);
  const XQ = mul(X, orthogonal(6, 70)).map((row) => row.map((v) => 4 * v + 3));
  close(await similarity.procrustes(XQ, Y), d, 1e-9, 'X → 4·XQ + 3');
  close(await similarity.procrustes(X, mul(Y, orthogonal(5, 71))), d, 1e-9, 'Y → YQ');
  const XA = mul(X, add(randn(6, 6, 72), scale(orthogonal(6, 73), 2)));
  assert.ok(Math.abs(await similarity.procrustes(XA, Y) - d) > 1e-2, `not invariant to X → XA: ${d} vs ${await similarity.procrustes(XA, Y)}`);
  // triangle inequality (widths differ: the narrower is zero-padded)
  const dxz = await similarity.procrustes(X, Z);
  const dyz = await similarity.procrustes(Y, Z);
  assert.ok(dxz <= d + dyz + 1e-12 && d <= dxz + dyz + 1e-12 && dyz <= d + dxz + 1e-12, 'triangle inequality');
  assert.ok(d >= 0 && d <= Math.SQRT2);
});

test('RSA: correlation RDMs ignore per-example scale and offset and feature order, not orthogonal maps or per-feature offsets; Euclidean RDMs the reverse', async () => {
  const { X, Y } = data(30, 8);
  const r0 = await similarity.rsa(X, Y);
  const r = rand(80);
  const perExample = X.map((row) => {
    const a = 0.2 + 3 * r();
    const b = 10 * normal(r);
    return row.map((v) => a * v + b);
  });
  close(await similarity.rsa(perExample, Y), r0, 1e-9, 'x_a → s_a·x_a + c_a');
  close(await similarity.rsa(X.map((row) => [row[2]!, row[0]!, row[5]!, row[1]!, row[4]!, row[3]!]), Y), r0, 1e-12, 'features permuted');
  const XQ = mul(X, orthogonal(6, 81));
  assert.ok(Math.abs(await similarity.rsa(XQ, Y) - r0) > 1e-3, 'correlation RDMs change under an orthogonal map of the features');
  const shifted = X.map((row) => row.map((v, j) => v + 3 * j));
  assert.ok(Math.abs(await similarity.rsa(shifted, Y) - r0) > 1e-3, 'correlation RDMs change when one feature is shifted for every example');

  const e0 = await similarity.rsa(X, Y, { rdm: 'euclidean' });
  for (const compare of ['spearman', 'pearson'] as const) {
    const e = await similarity.rsa(X, Y, { rdm: 'euclidean', compare });
    close(await similarity.rsa(XQ.map((row) => row.map((v) => 7 * v - 2)), Y, { rdm: 'euclidean', compare }), e, 1e-9, `euclidean ${compare}: X → 7·XQ − 2`);
  }
  const XA = mul(X, add(randn(6, 6, 82), scale(orthogonal(6, 83), 2)));
  assert.ok(Math.abs(await similarity.rsa(XA, Y, { rdm: 'euclidean' }) - e0) > 1e-3, 'euclidean RDMs change under an invertible map');
  assert.ok(Math.abs(await similarity.rsa(perExample, Y, { rdm: 'euclidean' }) - e0) > 1e-3, 'euclidean RDMs change under per-example scaling');
});

// ─── The module × module matrix ───────────────────────────────────────────────────────────

test('matrixFromFeatures: one result with every measure, each cell the pair function\'s value', async () => {
  const { X, Y, Z } = data(40, 9);
  const res = await assertNoLeak('matrixFromFeatures', () => similarity.matrixFromFeatures({ x: X, y: Y }, { y: Y, z: Z }, { modelA: 'A', modelB: 'B', rsa: { rdm: 'euclidean' } }));
  assert.deepEqual(res.measures.map((m) => m.measure), ['cka', 'svcca', 'pwcca', 'procrustes', 'rsa'], 'all five by default');
  const pairs = [['x', X], ['y', Y]] as const;
  const cols = [['y', Y], ['z', Z]] as const;
  for (const [r, A] of pairs) {
    for (const [c, B] of cols) {
      close(res.get(r, c, 'cka'), await cka.linear(A, B), 1e-9, `cka ${r},${c}`);
      close(res.get(r, c, 'svcca'), await similarity.svcca(A, B), 1e-12, `svcca ${r},${c}`);
      close(res.get(r, c, 'pwcca'), await similarity.pwcca(A, B), 1e-12, `pwcca ${r},${c}`);
      close(res.get(r, c, 'procrustes'), await similarity.procrustes(A, B, { output: 'similarity' }), 1e-12, `procrustes ${r},${c}`);
      close(res.get(r, c, 'rsa'), await similarity.rsa(A, B, { rdm: 'euclidean' }), 1e-12, `rsa ${r},${c}`);
    }
  }
  assert.equal(res.get('x', 'y'), res.get('x', 'y', 'cka'), 'the first measure by default');
  assert.match(res.measures.find((m) => m.measure === 'rsa')!.label, /RSA, Spearman of euclidean RDMs \(−1–1\)/);
  assert.match(res.measures.find((m) => m.measure === 'procrustes')!.label, /1 − d²\/2 \(0–1\)/);
  const bundle = res[DISPLAY]();
  const payload = bundle[Mime.cka] as CkaPayload;
  assert.equal(payload.measures?.length, 5);
  assert.deepEqual(payload.values, payload.measures![0]!.values, 'values: the first measure, for views that show one');
  assert.ok(bundle[Mime.vega] !== undefined);
  assert.match(bundle[Mime.plain] as string, /SVCCA, 99% variance \(0–1\)[\s\S]*PWCCA/);
  await assert.rejects(async () => res.get('x', 'y', 'svcca' as never) && (await similarity.matrixFromFeatures({ x: X }, undefined, { measures: ['svcca'] })).get('x', 'x', 'rsa'), /SimilarityResult\.values: measure 'rsa' was not computed; measures: svcca/);

  const self = await similarity.matrixFromFeatures({ x: X, y: Y }, undefined, { measures: ['procrustes', 'pwcca'] });
  assert.deepEqual(self.measures.map((m) => m.measure), ['procrustes', 'pwcca']);
  close(self.get('x', 'x'), 1, 1e-12, 'a module with itself');
  close(self.get('x', 'y', 'pwcca'), await similarity.pwcca(X, Y), 1e-12, 'PWCCA weights from the row');
  close(self.get('y', 'x', 'pwcca'), await similarity.pwcca(Y, X), 1e-12, 'PWCCA weights from the row');
});

test('matrix(modelA, modelB, data): module outputs of two models, every measure', async () => {
  const a = cnn({ inputShape: [8, 8, 1], numClasses: 3, channels: [4, 6], hidden: 10, seed: 1 });
  const b = cnn({ inputShape: [8, 8, 1], numClasses: 3, channels: [4, 6], hidden: 10, seed: 2 });
  const x = tf.randomUniform([48, 8, 8, 1], 0, 1, 'float32', 5) as tf.Tensor4D;
  const labels = tf.zeros([48], 'int32') as tf.Tensor1D;
  try {
    const res = await assertNoLeak('matrix', () => similarity.matrix(a, b, { x, y: labels }, { layers: ['conv2', 'fc'], batchSize: 20 }));
    assert.deepEqual(res.rows, ['conv2', 'fc']);
    const ckaHeat = await cka.matrix(a, b, x, { layers: ['conv2', 'fc'] });
    close(res.get('fc', 'fc', 'cka'), ckaHeat.get('fc', 'fc'), 1e-9, 'CKA as tl.cka.matrix computes it');
    const fa = a.forward(x, { collect: ['fc'] });
    const fb = b.forward(x, { collect: ['fc'] });
    try {
      close(res.get('fc', 'fc', 'svcca'), await similarity.svcca(fa.activations.get('fc')!, fb.activations.get('fc')!), 1e-9, 'svcca from the collected outputs');
    } finally {
      tf.dispose([...fa.activations.values(), fa.logits, ...fb.activations.values(), fb.logits]);
    }
    const same = await similarity.matrix(a, a, x, { layers: ['conv1', 'fc'], measures: ['svcca', 'rsa'] });
    close(same.get('conv1', 'conv1'), 1, 1e-9, 'a module with itself');
    await assert.rejects(similarity.matrix(a, b, x, { measures: ['cka', 'cca' as never] }), /tl\.similarity\.matrix: options\.measures names an unknown measure 'cca'; the measures are cka, svcca, pwcca, procrustes, rsa/);
  } finally {
    tf.dispose([x, labels]);
    a.dispose();
    b.dispose();
  }
});

// ─── Validation, hygiene, speed ───────────────────────────────────────────────────────────

test('arguments are validated with messages naming the function, the argument and the shapes', async () => {
  const { X, Y } = data(20, 10);
  await assert.rejects(() => similarity.svcca(X, Y.slice(0, 19)), (e: unknown) => e instanceof ShapeMismatchError && /tl\.similarity\.svcca: X has 20 rows but Y has 19/.test(e.message));
  await assert.rejects(() => similarity.pwcca(X, [[1], [2]]), ShapeMismatchError);
  await assert.rejects(() => similarity.svcca(X, Y, { variance: 1.5 }), /tl\.similarity\.svcca: options\.variance must be/);
  await assert.rejects(() => similarity.procrustes(X, Y, { output: 'angle' as never }), /tl\.similarity\.procrustes: options\.output must be one of/);
  await assert.rejects(() => similarity.rsa(X, Y, { rdm: 'cosine' as never }), /options\.rdm/);
  await assert.rejects(() => similarity.rsa(X, Y, { unknown: 1 } as never), InvalidArgumentError);
  const constantRow = X.map((row, i) => (i === 4 ? row.map(() => 2) : row));
  await assert.rejects(() => similarity.rsa(constantRow, Y), /tl\.similarity\.rsa: X has a constant row 4 .*use rdm: 'euclidean'/);
  await assert.doesNotReject(() => similarity.rsa(constantRow, Y, { rdm: 'euclidean' }));
  const constant = X.map(() => [1, 2, 3]);
  await assert.rejects(() => similarity.svcca(constant, Y), /tl\.similarity\.svcca: X is constant/);
  await assert.rejects(() => similarity.rsa(X.slice(0, 2), Y.slice(0, 2)), /RSA needs at least 3 examples/);
  await assert.rejects(() => similarity.matrixFromFeatures({ a: X }, { b: Y.slice(0, 5) }), /featuresB\.b has 5 rows but featuresA\.a has 20/);
  await assert.rejects(() => similarity.svcca(X, [[1, Number.NaN], ...Y.slice(1)]), /Y has a non-finite or non-numeric value \(the number NaN\) at row 0, column 1/);
});

test('no tensor leaks from the pair functions on tensor input', async () => {
  const x = tf.randomNormal([30, 6], 0, 1, 'float32', 1);
  const y = tf.randomNormal([30, 2, 2, 2], 0, 1, 'float32', 2); // conv maps: flattened per example
  try {
    await assertNoLeak('svcca', () => similarity.svcca(x, y));
    await assertNoLeak('pwcca', () => similarity.pwcca(x, y));
    await assertNoLeak('procrustes', () => similarity.procrustes(x, y));
    await assertNoLeak('rsa', () => similarity.rsa(x, y));
    await assertNoLeak('matrixFromFeatures', () => similarity.matrixFromFeatures({ x, y }));
  } finally {
    tf.dispose([x, y]);
  }
});

test('a constant module is named in the matrix\'s error', async () => {
  const { X } = data(20, 12);
  const flat = X.map(() => [1, 1, 1]);
  for (const measure of ['svcca', 'pwcca', 'procrustes'] as const) {
    await assert.rejects(() => similarity.matrixFromFeatures({ good: X, flat }, undefined, { measures: [measure] }), /tl\.similarity\.matrixFromFeatures: featuresA\.flat is constant/, measure);
  }
  await assert.rejects(() => similarity.procrustes(X, flat), /tl\.similarity\.procrustes: Y is constant/);
});
