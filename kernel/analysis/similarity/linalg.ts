/**
 * Float64 linear algebra for the similarity measures (./svcca.ts, ./pwcca.ts, ./procrustes.ts,
 * ./rsa.ts): plain typed-array code on the CPU, no tensors.
 *
 * The one decomposition is the eigen-decomposition of a symmetric matrix, by Householder
 * reduction to tridiagonal form and the implicit QL algorithm (`tred2`/`tql2` of EISPACK, as
 * ported in JAMA, public domain: Wilkinson & Reinsch, Handbook for Automatic Computation II, 1971).
 * Everything else is built on it: the thin SVD of a centred representation comes from the
 * eigen-decomposition of its smaller Gram matrix (n×n when p > n, p×p otherwise), so a 500×2048
 * representation costs one 500×500 eigen-decomposition. Squaring the matrix squares its condition
 * number: directions whose singular value is below `tolerance` (default 1e-6) times the largest are
 * treated as absent, and left singular vectors of small singular values are re-orthonormalised
 * (Gram–Schmidt, twice).
 */

/** Eigenvalues (descending) and eigenvectors (row k of `vectors` is the k-th, length m). */
export interface SymmetricEigen {
  readonly values: Float64Array;
  readonly vectors: Float64Array;
}

/**
 * Eigen-decomposition of the symmetric m×m matrix `a` (row-major; only read, never changed):
 * eigenvalues in descending order, eigenvectors as rows of `vectors` (orthonormal). With
 * `wantVectors` false, only the eigenvalues (about a fifth of the work; `vectors` is empty).
 */
export function symmetricEigen(a: Float64Array, m: number, wantVectors = true): SymmetricEigen {
  if (m === 0) return { values: new Float64Array(0), vectors: new Float64Array(0) };
  const V = Float64Array.from(a);
  const d = new Float64Array(m);
  const e = new Float64Array(m);
  // Both work on the transformation transposed: eigenvector i ends as row i.
  tred2(V, d, e, m, wantVectors);
  tql2(V, d, e, m, wantVectors);
  const order = Array.from({ length: m }, (_, i) => i).sort((i, j) => d[j]! - d[i]!);
  const values = new Float64Array(m);
  const vectors = new Float64Array(wantVectors ? m * m : 0);
  order.forEach((src, k) => {
    values[k] = d[src]!;
    if (wantVectors) vectors.set(V.subarray(src * m, src * m + m), k * m);
  });
  return { values, vectors };
}

/**
 * Householder reduction to tridiagonal form (JAMA's tred2) on the transpose of JAMA's V (so that
 * the O(m³) loops run along contiguous memory): V ends holding the transformation transposed.
 */
function tred2(V: Float64Array, d: Float64Array, e: Float64Array, n: number, accumulate: boolean): void {
  for (let j = 0; j < n; j++) d[j] = V[j * n + (n - 1)]!;
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]!);
    if (scale === 0) {
      e[i] = d[i - 1]!;
      for (let j = 0; j < i; j++) {
        d[j] = V[j * n + (i - 1)]!;
        V[j * n + i] = 0;
        V[i * n + j] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k]! /= scale;
        h += d[k]! * d[k]!;
      }
      let f = d[i - 1]!;
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        V[i * n + j] = f;
        g = e[j]! + V[j * n + j]! * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += V[j * n + k]! * d[k]!;
          e[k]! += V[j * n + k]! * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j]! /= h;
        f += e[j]! * d[j]!;
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j]! -= hh * d[j]!;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        g = e[j]!;
        for (let k = j; k <= i - 1; k++) V[j * n + k]! -= f * e[k]! + g * d[k]!;
        d[j] = V[j * n + (i - 1)]!;
        V[j * n + i] = 0;
      }
    }
    d[i] = h;
  }
  if (!accumulate) {
    // The diagonal of the tridiagonal form is on V's diagonal.
    for (let j = 0; j < n; j++) d[j] = V[j * n + j]!;
    e[0] = 0;
    return;
  }
  // Accumulate the transformations.
  for (let i = 0; i < n - 1; i++) {
    V[i * n + (n - 1)] = V[i * n + i]!;
    V[i * n + i] = 1;
    const h = d[i + 1]!;
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = V[(i + 1) * n + k]! / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += V[(i + 1) * n + k]! * V[j * n + k]!;
        for (let k = 0; k <= i; k++) V[j * n + k]! -= g * d[k]!;
      }
    }
    for (let k = 0; k <= i; k++) V[(i + 1) * n + k] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = V[j * n + (n - 1)]!;
    V[j * n + (n - 1)] = 0;
  }
  V[(n - 1) * n + (n - 1)] = 1;
  e[0] = 0;
}

/**
 * Implicit QL on the tridiagonal (d, e) (JAMA's tql2), accumulating rotations into W, which holds
 * the transformation transposed (eigenvector i ends as row i).
 */
function tql2(W: Float64Array, d: Float64Array, e: Float64Array, n: number, accumulate: boolean): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i]!;
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]!) + Math.abs(e[l]!));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]!) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 100) throw new Error('symmetricEigen: the QL iteration did not converge');
        let g = d[l]!;
        let p = (d[l + 1]! - g) / (2 * e[l]!);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l]! / (p + r);
        d[l + 1] = e[l]! * (p + r);
        const dl1 = d[l + 1]!;
        let h = g - d[l]!;
        for (let i = l + 2; i < n; i++) d[i]! -= h;
        f += h;
        p = d[m]!;
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1]!;
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i]!;
          h = c * p;
          r = Math.hypot(p, e[i]!);
          e[i + 1] = s * r;
          s = e[i]! / r;
          c = p / r;
          p = c * d[i]! - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]!);
          if (!accumulate) continue;
          const oi = i * n;
          const oj = oi + n;
          for (let k = 0; k < n; k++) {
            const hk = W[oj + k]!;
            const wk = W[oi + k]!;
            W[oj + k] = s * wk + c * hk;
            W[oi + k] = c * wk - s * hk;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]!) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]!) > eps * tst1);
    }
    d[l] = d[l]! + f;
    e[l] = 0;
  }
}

/** A representation with its columns centred, in float64. */
export interface Centred {
  readonly n: number;
  readonly p: number;
  /** n × p row-major. */
  readonly x: Float64Array;
}

/** Centres the columns of row-major n × p `data` in float64. */
export function centre(data: ArrayLike<number>, n: number, p: number): Centred {
  const mean = new Float64Array(p);
  for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) mean[j]! += data[i * p + j]!;
  for (let j = 0; j < p; j++) mean[j]! /= n;
  const x = new Float64Array(n * p);
  for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) x[i * p + j] = data[i * p + j]! - mean[j]!;
  return { n, p, x };
}

/** Σ a_k b_k over k in [0, len) of a from offset ia and b from offset ib. */
export function dotAt(a: Float64Array, ia: number, b: Float64Array, ib: number, len: number): number {
  let s0 = 0;
  let s1 = 0;
  let k = 0;
  for (; k + 1 < len; k += 2) {
    s0 += a[ia + k]! * b[ib + k]!;
    s1 += a[ia + k + 1]! * b[ib + k + 1]!;
  }
  if (k < len) s0 += a[ia + k]! * b[ib + k]!;
  return s0 + s1;
}

/** The m×m Gram matrix of the m rows (length len) of `rows`: G_ij = ⟨row i, row j⟩. */
export function gramOfRows(rows: Float64Array, m: number, len: number): Float64Array {
  return crossRows(rows, m, rows, m, len, true);
}

/** The transpose of row-major r × c `a` (c × r). */
export function transposed(a: Float64Array, r: number, c: number): Float64Array {
  const t = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) t[j * r + i] = a[i * c + j]!;
  return t;
}

/**
 * The thin SVD of a centred representation, directions below the tolerance dropped:
 * X ≈ Σ_k s_k u_k v_kᵀ with the u_k (length n) orthonormal, s descending.
 */
export interface ThinSvd {
  /** Singular values kept, descending. */
  readonly s: Float64Array;
  /** Left singular vectors, row k of length n is u_k. */
  readonly u: Float64Array;
  /** Σ of all squared singular values (‖X‖²_F), the dropped ones included. */
  readonly total: number;
  readonly rank: number;
}

/**
 * The thin SVD of centred `c` from the eigen-decomposition of its smaller Gram matrix (XXᵀ when
 * p > n, XᵀX otherwise), keeping directions with s_k > tolerance · s_max.
 */
export function thinSvd(c: Centred, tolerance: number): ThinSvd {
  const { n, p, x } = c;
  let total = 0;
  for (let i = 0; i < x.length; i++) total += x[i]! * x[i]!;
  const rowsForm = p > n;
  // Rows of the matrix whose Gram matrix is taken: X's rows (n of length p), or Xᵀ's (p of length n).
  const xt = rowsForm ? x : transposed(x, n, p);
  const m = rowsForm ? n : p;
  const len = rowsForm ? p : n;
  const { values, vectors } = symmetricEigen(gramOfRows(xt, m, len), m);
  const top = Math.max(0, values[0] ?? 0);
  const cut = tolerance * tolerance * top;
  let rank = 0;
  while (rank < m && values[rank]! > cut && values[rank]! > 0) rank++;
  const s = new Float64Array(rank);
  const u = new Float64Array(rank * n);
  for (let k = 0; k < rank; k++) s[k] = Math.sqrt(values[k]!);
  if (rowsForm) {
    // The eigenvectors of XXᵀ: orthonormal already.
    u.set(vectors.subarray(0, rank * n));
  } else {
    // u_k = X v_k / s_k, as rows: (V_rank · Xᵀ) scaled. Their orthogonality errs by about
    // ε·(s_0/s_k)² (the Gram matrix squared the condition number): rows with s_0/s_k > 100 are
    // made orthonormal again against all before them.
    const xv = matMul(vectors, rank, p, xt, n);
    for (let k = 0; k < rank; k++) for (let a = 0; a < n; a++) u[k * n + a] = xv[k * n + a]! / s[k]!;
    let from = 0;
    while (from < rank && s[0]! <= 100 * s[from]!) from++;
    orthonormaliseRows(u, rank, n, from);
  }
  return { s, u, total, rank };
}

/**
 * Modified Gram–Schmidt, twice, on rows `from`…m−1 (length len) of `a`, in place: each made
 * orthogonal to all rows before it and normalised (rows before `from` are taken as orthonormal).
 */
export function orthonormaliseRows(a: Float64Array, m: number, len: number, from = 0): void {
  for (let pass = 0; pass < 2; pass++) {
    for (let i = from; i < m; i++) {
      const oi = i * len;
      for (let j = 0; j < i; j++) {
        const oj = j * len;
        const r = dotAt(a, oi, a, oj, len);
        for (let k = 0; k < len; k++) a[oi + k]! -= r * a[oj + k]!;
      }
      const norm = Math.sqrt(dotAt(a, oi, a, oi, len));
      for (let k = 0; k < len; k++) a[oi + k]! /= norm;
    }
  }
}

/** Length of the stretch of a row the blocked products keep in cache. */
const CHUNK = 256;

/**
 * The r×q matrix of inner products ⟨a_i, b_j⟩ of the r rows of `a` and the q rows of `b` (each
 * of length len), in 2 × 4 tiles over stretches of {@link CHUNK} (each pair of rows read once per
 * tile, the stretch of `b` kept in cache). With `symmetric` (a = b, r = q) only tiles on or above
 * the diagonal are computed and mirrored.
 */
export function crossRows(a: Float64Array, r: number, b: Float64Array, q: number, len: number, symmetric = false): Float64Array {
  const out = new Float64Array(r * q);
  for (let k0 = 0; k0 < len; k0 += CHUNK) {
    const k1 = Math.min(len, k0 + CHUNK);
    for (let i = 0; i < r; i += 2) {
      // Rows past the end repeat the last one; their sums are not stored.
      const a0 = i * len;
      const a1 = Math.min(i + 1, r - 1) * len;
      for (let j = symmetric ? i - (i % 4) : 0; j < q; j += 4) {
        const b0 = j * len;
        const b1 = Math.min(j + 1, q - 1) * len;
        const b2 = Math.min(j + 2, q - 1) * len;
        const b3 = Math.min(j + 3, q - 1) * len;
        let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
        for (let k = k0; k < k1; k++) {
          const x0 = a[a0 + k]!;
          const x1 = a[a1 + k]!;
          const y0 = b[b0 + k]!;
          const y1 = b[b1 + k]!;
          const y2 = b[b2 + k]!;
          const y3 = b[b3 + k]!;
          s00 += x0 * y0;
          s01 += x0 * y1;
          s02 += x0 * y2;
          s03 += x0 * y3;
          s10 += x1 * y0;
          s11 += x1 * y1;
          s12 += x1 * y2;
          s13 += x1 * y3;
        }
        const o0 = i * q + j;
        out[o0] += s00;
        if (j + 1 < q) out[o0 + 1] += s01;
        if (j + 2 < q) out[o0 + 2] += s02;
        if (j + 3 < q) out[o0 + 3] += s03;
        if (i + 1 < r) {
          const o1 = o0 + q;
          out[o1] += s10;
          if (j + 1 < q) out[o1 + 1] += s11;
          if (j + 2 < q) out[o1 + 2] += s12;
          if (j + 3 < q) out[o1 + 3] += s13;
        }
      }
    }
  }
  if (symmetric) for (let i = 0; i < r; i++) for (let j = i + 1; j < q; j++) out[j * q + i] = out[i * q + j]!;
  return out;
}

/**
 * C = A·B for row-major A (m × k) and B (k × p): each output row gathers rows of B, four output
 * rows at a time over column stretches of {@link CHUNK}.
 */
export function matMul(a: Float64Array, m: number, k: number, b: Float64Array, p: number): Float64Array {
  const c = new Float64Array(m * p);
  for (let j0 = 0; j0 < p; j0 += CHUNK) {
    const j1 = Math.min(p, j0 + CHUNK);
    for (let i = 0; i < m; i += 4) {
      const i1 = Math.min(i + 1, m - 1);
      const i2 = Math.min(i + 2, m - 1);
      const i3 = Math.min(i + 3, m - 1);
      const c0 = i * p;
      const c1 = i1 * p;
      const c2 = i2 * p;
      const c3 = i3 * p;
      // Rows past the end alias the last row with coefficient 0 (they add nothing).
      for (let t = 0; t < k; t++) {
        const x0 = a[i * k + t]!;
        const x1 = i + 1 < m ? a[i1 * k + t]! : 0;
        const x2 = i + 2 < m ? a[i2 * k + t]! : 0;
        const x3 = i + 3 < m ? a[i3 * k + t]! : 0;
        if (x0 === 0 && x1 === 0 && x2 === 0 && x3 === 0) continue;
        const bt = t * p;
        for (let j = j0; j < j1; j++) {
          const y = b[bt + j]!;
          c[c0 + j] += x0 * y;
          c[c1 + j] += x1 * y;
          c[c2 + j] += x2 * y;
          c[c3 + j] += x3 * y;
        }
      }
    }
  }
  return c;
}

/** Singular values (descending) of row-major r × q `m`, from the eigenvalues of the smaller of MMᵀ, MᵀM. */
export function singularValues(m: Float64Array, r: number, q: number): Float64Array {
  const rows = r <= q ? m : transposed(m, r, q);
  const k = Math.min(r, q);
  const { values } = symmetricEigen(gramOfRows(rows, k, Math.max(r, q)), k, false);
  return values.map((v) => Math.sqrt(Math.max(0, v)));
}
