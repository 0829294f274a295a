/**
 * Weight matching (Ainsworth, Hayase, Srinivasa 2023, "Git Re-Basin", §3.2, Algorithm 1): the
 * permutations π of B's hidden units that maximise Σ over parameters ⟨θA, π(θB)⟩, i.e. minimise
 * ‖θA − π(θB)‖₂. The problem couples neighbouring layers, so it is solved by coordinate descent:
 * for one group at a time, with the others held fixed, the objective is a linear assignment
 * problem (./assignment.ts) on C[i, j] = Σ over the group's axes of ⟨unit i of A, unit j of B⟩;
 * groups are visited in a seeded random order, sweeps repeat until one changes nothing (or
 * `maxIterations` sweeps). Every sweep can only raise the objective, so it terminates.
 *
 * Runs on the CPU in float64 sums over the float32 weights: C is n × n per group and the cost per
 * sweep is about (number of weights) × (units per group) multiply-adds.
 */
import { permutation } from '../random';
import { hashSeed } from '../netModel';
import { assignmentScore, maximiseAssignment } from './assignment';
import { axisMap, gatherHost, type HostTensor, type Permutations } from './apply';
import { axesByTensor, type PermutationGroup, type PermutationSpec } from './specs';

/** What coordinate descent found. */
export interface MatchOutcome {
  readonly permutations: Permutations;
  /** Sweeps over all groups that were run. */
  readonly iterations: number;
  /** Whether the last sweep changed nothing (a fixed point); false when `maxIterations` ran out first. */
  readonly converged: boolean;
}

/** The units of `t` along `axis` as rows: an n × R array (R = size / n), axis viewed as [repeat, n]. */
function unitRows(t: HostTensor, axis: number, repeat: number, n: number): Float32Array {
  const { data, shape } = t;
  let pre = 1;
  for (let d = 0; d < axis; d++) pre *= shape[d]!;
  let post = 1;
  for (let d = axis + 1; d < shape.length; d++) post *= shape[d]!;
  const r = pre * repeat * post;
  const out = new Float32Array(n * r);
  for (let p = 0; p < pre; p++) {
    for (let q = 0; q < repeat; q++) {
      const col0 = (p * repeat + q) * post;
      const src0 = (p * repeat + q) * n * post;
      for (let c = 0; c < n; c++) {
        const src = src0 + c * post;
        const dst = c * r + col0;
        for (let s = 0; s < post; s++) out[dst + s] = data[src + s]!;
      }
    }
  }
  return out;
}

/** `t` with every permuted axis except `skip` gathered by the current permutations. */
function permutedExcept(t: HostTensor, axes: readonly { group: string; axis: number; repeat: number }[], perms: Permutations, skip: number): Float32Array {
  const maps: (Int32Array | null)[] = t.shape.map(() => null);
  let any = false;
  for (const a of axes) {
    if (a.axis === skip) continue;
    maps[a.axis] = axisMap(perms[a.group]!, a.repeat);
    any = true;
  }
  return any ? gatherHost(t.data, t.shape, maps) : t.data;
}

/**
 * Weight matching of B to A over the trainable tensors in `a` and `b` (same names and shapes;
 * buffers such as BatchNorm statistics are moved with their units but do not enter the objective).
 */
export function matchWeights(spec: PermutationSpec, a: ReadonlyMap<string, HostTensor>, b: ReadonlyMap<string, HostTensor>, options: { readonly maxIterations: number; readonly seed: number }): MatchOutcome {
  const byTensor = axesByTensor(spec);
  const perms: Permutations = {};
  for (const g of spec.groups) perms[g.name] = Int32Array.from({ length: g.size }, (_, i) => i);
  // A's unit rows never change: computed once per (tensor, axis).
  const rowsA = new Map<string, Float32Array>();
  const key = (tensor: string, axis: number) => `${tensor}#${axis}`;

  const scores = (g: PermutationGroup): Float64Array => {
    const n = g.size;
    const c = new Float64Array(n * n);
    for (const ax of g.axes) {
      const ta = a.get(ax.tensor);
      const tb = b.get(ax.tensor);
      if (!ta || !tb) continue; // a buffer: moved, not matched
      const repeat = ax.repeat ?? 1;
      const k = key(ax.tensor, ax.axis);
      let ra = rowsA.get(k);
      if (!ra) {
        ra = unitRows(ta, ax.axis, repeat, n);
        rowsA.set(k, ra);
      }
      const rb = unitRows({ data: permutedExcept(tb, byTensor.get(ax.tensor)!, perms, ax.axis), shape: tb.shape }, ax.axis, repeat, n);
      const r = ra.length / n;
      for (let i = 0; i < n; i++) {
        const oi = i * r;
        for (let j = 0; j < n; j++) {
          const oj = j * r;
          let s = 0;
          for (let t = 0; t < r; t++) s += ra[oi + t]! * rb[oj + t]!;
          c[i * n + j] = c[i * n + j]! + s;
        }
      }
    }
    return c;
  };

  let iterations = 0;
  let converged = false;
  while (iterations < options.maxIterations) {
    iterations++;
    let progress = false;
    const order = permutation(spec.groups.length, hashSeed(options.seed, `sweep ${iterations}`));
    for (const k of order) {
      const g = spec.groups[k]!;
      const c = scores(g);
      const pi = maximiseAssignment(c, g.size);
      const before = assignmentScore(c, g.size, perms[g.name]!);
      const after = assignmentScore(c, g.size, pi);
      // Only a strict gain (beyond rounding) moves a group, so ties cannot make it cycle.
      if (after - before > 1e-12 * Math.max(Math.abs(before), Math.abs(after))) {
        perms[g.name] = pi;
        progress = true;
      }
    }
    if (!progress) {
      converged = true;
      break;
    }
  }
  return { permutations: perms, iterations, converged };
}

/** ‖θA − π(θB)‖₂ over the tensors of `a` (float64 sums). */
export function permutedDistance(spec: PermutationSpec, a: ReadonlyMap<string, HostTensor>, b: ReadonlyMap<string, HostTensor>, perms: Permutations): number {
  const byTensor = axesByTensor(spec);
  let s = 0;
  for (const [name, ta] of a) {
    const tb = b.get(name)!;
    const pb = permutedExcept(tb, byTensor.get(name) ?? [], perms, -1);
    for (let i = 0; i < ta.data.length; i++) {
      const d = ta.data[i]! - pb[i]!;
      s += d * d;
    }
  }
  return Math.sqrt(s);
}
