/**
 * Reordering the hidden units of a network by a set of permutations, one per group of its
 * permutation spec (./specs.ts), on the host: a new model computing the same function, and the
 * arrays weight matching compares. Convention: unit i of the result is unit π[i] of
 * the original, i.e. every listed axis is gathered with π.
 */
import { tf } from '../tfjs';
import type { Model, NamedWeights } from '../modelContract';
import { modelFromConfig, type NetModel } from '../netModel';
import { permutation } from '../random';
import { checkSeed, fail, formatValue } from '../validate';
import { axesByTensor, permutationSpec, type PermutationSpec } from './specs';

/** One permutation per group name: unit i of the result is unit π[i] of the original. */
export type Permutations = Record<string, Int32Array>;

/** Checks `perms` against `spec`: one permutation of 0…n−1 per group, no unknown names. */
export function checkPermutations(fn: string, arg: string, spec: PermutationSpec, perms: unknown): Permutations {
  if (perms === null || typeof perms !== 'object' || Array.isArray(perms)) fail(fn, arg, `must be an object of permutations by group name (${spec.groups.map((g) => g.name).join(', ')}), got ${formatValue(perms)}`);
  const o = perms as Record<string, unknown>;
  const names = new Set(spec.groups.map((g) => g.name));
  for (const k of Object.keys(o)) if (!names.has(k)) fail(fn, `${arg}.${k}`, `is not a permutation group of ${spec.arch} (groups: ${[...names].join(', ')})`);
  const out: Permutations = {};
  for (const g of spec.groups) {
    const p = o[g.name];
    if (p === undefined) {
      out[g.name] = Int32Array.from({ length: g.size }, (_, i) => i);
      continue;
    }
    const isArray = Array.isArray(p) || p instanceof Int32Array || p instanceof Uint32Array || p instanceof Float64Array;
    if (!isArray || (p as ArrayLike<unknown>).length !== g.size) fail(fn, `${arg}.${g.name}`, `must be a permutation of 0…${g.size - 1} (${g.size} units), got ${formatValue(p)}`);
    const seen = new Uint8Array(g.size);
    const pi = new Int32Array(g.size);
    for (let i = 0; i < g.size; i++) {
      const v = (p as ArrayLike<unknown>)[i];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= g.size || seen[v]) {
        fail(fn, `${arg}.${g.name}`, `must be a permutation of 0…${g.size - 1}: position ${i} holds ${String(v)}${typeof v === 'number' && seen[v] ? ', already used' : ''}`);
      }
      seen[v] = 1;
      pi[i] = v;
    }
    out[g.name] = pi;
  }
  return out;
}

/** A tensor's values and shape on the CPU. */
export interface HostTensor {
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

/** The values of `tensors` on the host, read asynchronously (works on every backend; copies). */
export async function hostTensors(tensors: ReadonlyMap<string, tf.Tensor>): Promise<Map<string, HostTensor>> {
  const out = new Map<string, HostTensor>();
  for (const [k, v] of tensors) out.set(k, { data: Float32Array.from((await v.data()) as Float32Array), shape: v.shape });
  return out;
}

/** Every tensor of `tensors` with its units reordered by `perms` (exact copies of the values). */
export function permuteHost(spec: PermutationSpec, tensors: ReadonlyMap<string, HostTensor>, perms: Permutations): Map<string, HostTensor> {
  const byTensor = axesByTensor(spec);
  const out = new Map<string, HostTensor>();
  for (const [name, t] of tensors) {
    const maps: (Int32Array | null)[] = t.shape.map(() => null);
    for (const a of byTensor.get(name) ?? []) maps[a.axis] = axisMap(perms[a.group]!, a.repeat);
    out.set(name, { data: gatherHost(t.data, t.shape, maps), shape: t.shape });
  }
  return out;
}

/**
 * A new model of `model`'s architecture with its units reordered by `perms` (checked). The values
 * are reordered on the host and uploaded as new tensors: exact copies, and each tensor's storage
 * has its own shape (a wasm Gather's output keeps the 4-D shape it was computed in, which its
 * FusedConv2D then rejects as a bias).
 */
export async function permutedModel(spec: PermutationSpec, model: NetModel, perms: Permutations): Promise<NetModel> {
  const upload = (m: Map<string, HostTensor>): NamedWeights => new Map([...m].map(([k, t]) => [k, tf.tensor(t.data, [...t.shape], 'float32')]));
  const weights = upload(permuteHost(spec, await hostTensors(model.variables), perms));
  const buffers = upload(permuteHost(spec, await hostTensors(model.buffers), perms));
  try {
    return modelFromConfig(model.config, { weights, buffers });
  } finally {
    tf.dispose([...weights.values(), ...buffers.values()]);
  }
}

/** Random permutations of every group of `spec` from `seed` (one derived seed per group). */
export function randomPermutations(spec: PermutationSpec, seed: number): Permutations {
  const out: Permutations = {};
  spec.groups.forEach((g, k) => {
    out[g.name] = permutation(g.size, (seed + 0x9e3779b9 * (k + 1)) >>> 0);
  });
  return out;
}

/**
 * A copy of `model` with its hidden units reordered: the same function (up to float32 rounding in
 * sums), different weights. `permutations` gives one permutation per group of
 * {@link permutationSpec} (groups left out stay in order), or `{seed}` draws random ones. The
 * classifier's outputs and the input channels never move.
 *
 * @example
 * ```ts
 * const m = tl.cnn({inputShape: [28, 28, 1], numClasses: 10, channels: [8, 16], hidden: 32, seed: 1});
 * const { model: shuffled, permutations } = await tl.permuteUnits(m, { seed: 7 });
 * // shuffled.forward(x).logits equals m.forward(x).logits; permutations.conv1 is an Int32Array of 8
 * const swapped = (await tl.permuteUnits(m, { conv1: [1, 0, 2, 3, 4, 5, 6, 7] })).model;  // two channels swapped
 * ```
 */
export async function permuteUnits(model: Model, permutations: Record<string, ArrayLike<number>> | { readonly seed: number }): Promise<{ model: NetModel; permutations: Permutations }> {
  const fn = 'tl.permuteUnits';
  const spec = permutationSpec(model, fn, 'model');
  const o = permutations as Record<string, unknown> | null;
  let perms: Permutations;
  if (o !== null && typeof o === 'object' && 'seed' in o) {
    if (Object.keys(o).length !== 1) fail(fn, 'permutations', `must be either {seed} or permutations by group name, not both (got keys ${Object.keys(o).join(', ')})`);
    perms = randomPermutations(spec, checkSeed(fn, 'permutations.seed', o['seed']));
  } else {
    perms = checkPermutations(fn, 'permutations', spec, permutations);
  }
  return { model: await permutedModel(spec, model as NetModel, perms), permutations: perms };
}

/**
 * `src` gathered along several axes at once: `maps[d]` (or the identity where null) gives, for
 * each index along axis d of the result, the index in `src`. Returns a new array.
 */
export function gatherHost(src: Float32Array, shape: readonly number[], maps: readonly (Int32Array | null)[]): Float32Array {
  const rank = shape.length;
  const out = new Float32Array(src.length);
  if (rank === 0 || src.length === 0) {
    out.set(src);
    return out;
  }
  const strides = new Array<number>(rank);
  strides[rank - 1] = 1;
  for (let d = rank - 2; d >= 0; d--) strides[d] = strides[d + 1]! * shape[d + 1]!;
  // Per axis, the source offset of each index.
  const offsets = shape.map((n, d) => Int32Array.from({ length: n }, (_, k) => (maps[d] ? maps[d]![k]! : k) * strides[d]!));
  const last = offsets[rank - 1]!;
  const inner = shape[rank - 1]!;
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.length; o += inner) {
    let base = 0;
    for (let d = 0; d < rank - 1; d++) base += offsets[d]![idx[d]!]!;
    for (let k = 0; k < inner; k++) out[o + k] = src[base + last[k]!]!;
    for (let d = rank - 2; d >= 0; d--) {
      idx[d] = idx[d]! + 1;
      if (idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}

/** The index map of a group's permutation along an axis that holds `repeat` blocks of its units. */
export function axisMap(pi: Int32Array, repeat: number): Int32Array {
  if (repeat === 1) return pi;
  const n = pi.length;
  const m = new Int32Array(n * repeat);
  for (let r = 0; r < repeat; r++) for (let c = 0; c < n; c++) m[r * n + c] = r * n + pi[c]!;
  return m;
}
