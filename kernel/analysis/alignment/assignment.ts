/**
 * The linear assignment problem: for a square n × n score matrix C, the permutation π that
 * maximises Σᵢ C[i, π(i)]. Solved exactly in O(n³) by the shortest-augmenting-path form of the
 * Hungarian method (Kuhn 1955, Munkres 1957; the row-by-row augmentation with dual potentials of
 * Jonker and Volgenant 1987, without their initialisation heuristics). Weight matching
 * (./weightMatching.ts) solves one such problem per group of hidden units.
 */
import { fail, formatValue } from '../validate';

/** A square score matrix: rows of numbers, or n·n numbers row-major. */
export type ScoreMatrix = readonly (readonly number[])[] | Float64Array | Float32Array;

/** Reads `scores` into a row-major Float64Array and its size, checking that it is square and finite. */
function squareOf(fn: string, scores: unknown): { c: Float64Array; n: number } {
  if (scores instanceof Float64Array || scores instanceof Float32Array) {
    const n = Math.round(Math.sqrt(scores.length));
    if (n * n !== scores.length) fail(fn, 'scores', `has ${scores.length} values, which is not n·n for a square matrix`);
    const c = Float64Array.from(scores);
    const bad = c.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) fail(fn, 'scores', `has ${c[bad]} at row ${Math.floor(bad / n)}, column ${bad % n}; scores must be finite`);
    return { c, n };
  }
  if (!Array.isArray(scores)) fail(fn, 'scores', `must be a square matrix (rows of numbers or a Float64Array of n·n values), got ${formatValue(scores)}`);
  const n = scores.length;
  const c = new Float64Array(n * n);
  scores.forEach((row: unknown, i) => {
    if (!Array.isArray(row) || row.length !== n) fail(fn, `scores[${i}]`, `must be a row of ${n} numbers (the matrix must be square, ${n} × ${n}), got ${formatValue(row)}`);
    row.forEach((x: unknown, j) => {
      if (typeof x !== 'number' || !Number.isFinite(x)) fail(fn, `scores[${i}][${j}]`, `must be a finite number, got ${formatValue(x)}`);
      c[i * n + j] = x;
    });
  });
  return { c, n };
}

/**
 * The assignment that maximises the total score: `π[i]` is the column given to row i, and
 * Σᵢ scores[i][π[i]] is as large as any permutation makes it (ties are broken deterministically).
 * Exact, O(n³) time, O(n²) memory.
 *
 * @example
 * ```ts
 * const pi = tl.linearAssignment([
 *   [1, 9, 2],
 *   [8, 1, 1],
 *   [2, 3, 7],
 * ]);
 * Array.from(pi); // [1, 0, 2]: total 9 + 8 + 7 = 24
 * ```
 */
export function linearAssignment(scores: ScoreMatrix): Int32Array {
  const { c, n } = squareOf('tl.linearAssignment', scores);
  return maximiseAssignment(c, n);
}

/**
 * {@link linearAssignment} on a checked row-major n × n Float64Array (not modified). Minimises
 * the cost −C with potentials u (rows) and v (columns); each row is added by a Dijkstra-like
 * search for the shortest augmenting path in reduced costs.
 */
export function maximiseAssignment(c: Float64Array, n: number): Int32Array {
  // 1-based arrays as in the classic formulation; column 0 is the virtual start of each search.
  const u = new Float64Array(n + 1);
  const v = new Float64Array(n + 1);
  const rowOfCol = new Int32Array(n + 1); // p[j]: the row assigned to column j (0: none)
  const way = new Int32Array(n + 1);
  const minv = new Float64Array(n + 1);
  const used = new Uint8Array(n + 1);
  for (let i = 1; i <= n; i++) {
    rowOfCol[0] = i;
    let j0 = 0;
    minv.fill(Infinity);
    used.fill(0);
    do {
      used[j0] = 1;
      const i0 = rowOfCol[j0]!;
      let delta = Infinity;
      let j1 = 0;
      const base = (i0 - 1) * n;
      const ui0 = u[i0]!;
      for (let j = 1; j <= n; j++) {
        if (used[j]) continue;
        const cur = -c[base + j - 1]! - ui0 - v[j]!;
        if (cur < minv[j]!) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j]! < delta) {
          delta = minv[j]!;
          j1 = j;
        }
      }
      for (let j = 0; j <= n; j++) {
        if (used[j]) {
          const r = rowOfCol[j]!;
          u[r] = u[r]! + delta;
          v[j] = v[j]! - delta;
        } else {
          minv[j] = minv[j]! - delta;
        }
      }
      j0 = j1;
    } while (rowOfCol[j0] !== 0);
    do {
      const j1 = way[j0]!;
      rowOfCol[j0] = rowOfCol[j1]!;
      j0 = j1;
    } while (j0 !== 0);
  }
  const pi = new Int32Array(n);
  for (let j = 1; j <= n; j++) pi[rowOfCol[j]! - 1] = j - 1;
  return pi;
}

/** Σᵢ C[i, π(i)] for a row-major n × n matrix. */
export function assignmentScore(c: Float64Array, n: number, pi: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += c[i * n + pi[i]!]!;
  return s;
}
