/**
 * Float64 helpers for the analyses. The heavy products (Gram matrices, cross-covariances) run in
 * float32 on the backend; everything that decides precision runs here in float64: centring
 * features, diagonals and traces, inner products of Gram blocks, medians, sums of partial
 * products. Plain typed-array code; no tensors.
 */

/** A row-major matrix of `rows` × `cols` float32 values. */
export interface MatrixF32 {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float32Array;
}

/**
 * Centres the columns of a row-major n×p matrix in float64 (means and differences in float64,
 * then one rounding to float32), so that a large common offset (ReLU features) costs no digits.
 * Returns the centred values and the squared norm of each centred row, computed in float64 from
 * the rounded values (the exact diagonal of the Gram matrix the backend will see).
 */
export function centreColumns(data: ArrayLike<number>, n: number, p: number): { centred: Float32Array; rowSq: Float64Array } {
  return data instanceof Float32Array ? centreF32(data, n, p) : centreAny(data, n, p);
}

/** Large arrays go to shared memory, so that worker threads can read them without a copy. */
function allocateF32(length: number): Float32Array {
  return length >= 1 << 20 ? new Float32Array(new SharedArrayBuffer(4 * length)) : new Float32Array(length);
}

// Two monomorphic copies (the engine optimises each for its array type); the difference is
// computed in float64 and rounded by the store into the Float32Array, then read back.
function centreF32(data: Float32Array, n: number, p: number): { centred: Float32Array; rowSq: Float64Array } {
  const mean = new Float64Array(p);
  for (let i = 0; i < n; i++) {
    const o = i * p;
    for (let j = 0; j < p; j++) mean[j]! += data[o + j]!;
  }
  for (let j = 0; j < p; j++) mean[j]! /= n;
  const centred = allocateF32(n * p);
  const rowSq = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * p;
    let s = 0;
    for (let j = 0; j < p; j++) {
      centred[o + j] = data[o + j]! - mean[j]!;
      const v = centred[o + j]!;
      s += v * v;
    }
    rowSq[i] = s;
  }
  return { centred, rowSq };
}

function centreAny(data: ArrayLike<number>, n: number, p: number): { centred: Float32Array; rowSq: Float64Array } {
  const mean = new Float64Array(p);
  for (let i = 0; i < n; i++) {
    const o = i * p;
    for (let j = 0; j < p; j++) mean[j]! += data[o + j]!;
  }
  for (let j = 0; j < p; j++) mean[j]! /= n;
  const centred = allocateF32(n * p);
  const rowSq = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * p;
    let s = 0;
    for (let j = 0; j < p; j++) {
      centred[o + j] = data[o + j]! - mean[j]!;
      const v = centred[o + j]!;
      s += v * v;
    }
    rowSq[i] = s;
  }
  return { centred, rowSq };
}

/** The transpose (p × n) of a row-major n × p matrix, in cache-friendly tiles. */
export function transpose(data: Float32Array, n: number, p: number): Float32Array {
  const out = new Float32Array(n * p);
  const T = 32;
  for (let i0 = 0; i0 < n; i0 += T) {
    const i1 = Math.min(n, i0 + T);
    for (let j0 = 0; j0 < p; j0 += T) {
      const j1 = Math.min(p, j0 + T);
      for (let i = i0; i < i1; i++) {
        const o = i * p;
        for (let j = j0; j < j1; j++) out[j * n + i] = data[o + j]!;
      }
    }
  }
  return out;
}

/**
 * Columns [c0, c1) of rows [r0, r1) of a row-major matrix with `p` columns, transposed:
 * a (c1 − c0) × (r1 − r0) row-major block.
 */
export function transposeBlock(data: Float32Array, p: number, r0: number, r1: number, c0: number, c1: number): Float32Array {
  const rows = r1 - r0;
  const out = new Float32Array((c1 - c0) * rows);
  for (let i = r0; i < r1; i++) {
    const o = i * p;
    const k = i - r0;
    for (let j = c0; j < c1; j++) out[(j - c0) * rows + k] = data[o + j]!;
  }
  return out;
}

/** Columns [c0, c1) of rows [r0, r1) of a row-major matrix with `p` columns, as a new block. */
export function subBlock(data: Float32Array, p: number, r0: number, r1: number, c0: number, c1: number): Float32Array {
  const w = c1 - c0;
  if (c0 === 0 && c1 === p) return data.subarray(r0 * p, r1 * p);
  const out = new Float32Array((r1 - r0) * w);
  for (let i = r0; i < r1; i++) out.set(data.subarray(i * p + c0, i * p + c1), (i - r0) * w);
  return out;
}

/** Σ a[i]·b[i] over [from, to), accumulated in float64. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>, from = 0, to = a.length): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = from;
  for (; i + 3 < to; i += 4) {
    s0 += a[i]! * b[i]!;
    s1 += a[i + 1]! * b[i + 1]!;
    s2 += a[i + 2]! * b[i + 2]!;
    s3 += a[i + 3]! * b[i + 3]!;
  }
  for (; i < to; i++) s0 += a[i]! * b[i]!;
  return s0 + s1 + s2 + s3;
}

/** Σ a[i]² in float64. */
export function sumSquares(a: ArrayLike<number>): number {
  return dot(a, a);
}

/** Σ a[i] in float64. */
export function sum(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s;
}

/**
 * The k-th smallest value (0-based) of `a`, reordering `a` in place (Hoare's selection with a
 * median-of-three pivot; linear time on average).
 */
export function select(a: Float64Array | Float32Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    // Median of three as pivot.
    const x = a[lo]!;
    const y = a[mid]!;
    const z = a[hi]!;
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k]!;
  }
  return a[k]!;
}

/** The median of `a` (mean of the two middle values for an even length); reorders `a`. */
export function median(a: Float64Array | Float32Array): number {
  const n = a.length;
  if (n === 0) return NaN;
  const hi = select(a, n >> 1);
  if (n % 2 === 1) return hi;
  // The largest value below position n/2 is the maximum of the left part after selection.
  let lo = -Infinity;
  for (let i = 0; i < n >> 1; i++) if (a[i]! > lo) lo = a[i]!;
  return (lo + hi) / 2;
}

/** Reads a number[][] (or number[] rows) as a row-major Float64Array, checking that rows agree. */
export function fromRows(rows: readonly (readonly number[])[], onBadRow: (i: number, len: number, expected: number) => never, onBadValue: (i: number, j: number, v: unknown) => never): { n: number; p: number; data: Float64Array } {
  const n = rows.length;
  const p = n > 0 ? rows[0]!.length : 0;
  const data = new Float64Array(n * p);
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    if (!Array.isArray(r) || r.length !== p) onBadRow(i, Array.isArray(r) ? r.length : -1, p);
    for (let j = 0; j < p; j++) {
      const v = r[j];
      if (typeof v !== 'number' || !Number.isFinite(v)) onBadValue(i, j, v);
      data[i * p + j] = v;
    }
  }
  return { n, p, data };
}
