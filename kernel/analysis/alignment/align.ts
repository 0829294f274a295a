/**
 * `tl.align`: B with its hidden units reordered to match A by weight matching
 * (./weightMatching.ts), as a new model computing the same function as B. Interpolating from A to
 * the aligned B measures the barrier "modulo permutation symmetries" (Git Re-Basin).
 */
import type { Model } from '../modelContract';
import type { NetModel } from '../netModel';
import type { MimeBundle } from '../../protocol/mime';
import { Mime } from '../../protocol/mime';
import { DISPLAY, type Displayable } from '../display';
import { checkModel } from '../evaluation';
import { checkSameParameters } from '../evalGrid';
import { checkInteger, checkKeys, checkObject, checkSeed, fail } from '../validate';
import { fmt, textTable } from '../results';
import { hostTensors, permutedModel, type Permutations } from './apply';
import { permutationSpec, type PermutationSpec } from './specs';
import { matchWeights, permutedDistance } from './weightMatching';

export interface AlignOptions {
  /** Most sweeps of coordinate descent over the groups. Default 100 (a few usually suffice). */
  readonly maxIterations?: number;
  /** Seeds the order in which groups are visited in each sweep. Default 0. */
  readonly seed?: number;
}

/** One group of units in an {@link AlignmentResult}. */
export interface AlignedGroup {
  readonly name: string;
  readonly size: number;
  /** Units whose position changed (π[i] ≠ i). */
  readonly moved: number;
}

/** B aligned to A: the permuted model, the permutations and how far B moved towards A. */
export class AlignmentResult implements Displayable {
  /** B with its units reordered (a new model: dispose it when done); same function as B. */
  readonly model: NetModel;
  /** Per group, unit i of `model` is unit π[i] of B. */
  readonly permutations: Permutations;
  /** Sweeps of coordinate descent that were run. */
  readonly iterations: number;
  /** Whether the last sweep changed nothing (false: `maxIterations` ran out). */
  readonly converged: boolean;
  /** ‖θA − θB‖₂ over the trainable parameters, before alignment. */
  readonly distanceBefore: number;
  /** ‖θA − π(θB)‖₂ after alignment (never larger). */
  readonly distanceAfter: number;
  readonly groups: readonly AlignedGroup[];

  constructor(init: { model: NetModel; permutations: Permutations; iterations: number; converged: boolean; distanceBefore: number; distanceAfter: number; spec: PermutationSpec }) {
    this.model = init.model;
    this.permutations = init.permutations;
    this.iterations = init.iterations;
    this.converged = init.converged;
    this.distanceBefore = init.distanceBefore;
    this.distanceAfter = init.distanceAfter;
    this.groups = init.spec.groups.map((g) => {
      const pi = init.permutations[g.name]!;
      let moved = 0;
      for (let i = 0; i < pi.length; i++) if (pi[i] !== i) moved++;
      return { name: g.name, size: g.size, moved };
    });
  }

  /** Disposes the aligned model. */
  dispose(): void {
    this.model.dispose();
  }

  toString(): string {
    const head = `Weight matching (${this.model.arch}): ${this.iterations} sweep${this.iterations === 1 ? '' : 's'}${this.converged ? ', converged' : ', stopped at maxIterations'}; ‖θA − θB‖ ${fmt(this.distanceBefore, 4)} → ${fmt(this.distanceAfter, 4)}`;
    return `${head}\n${textTable(['group', 'units', 'moved'], this.groups.map((g) => [g.name, String(g.size), String(g.moved)]))}`;
  }

  [DISPLAY](): MimeBundle {
    return { [Mime.plain]: this.toString() };
  }
}

/** Reads and checks {@link AlignOptions}. */
export function alignOptions(fn: string, arg: string, options: unknown): { maxIterations: number; seed: number } {
  const o = checkObject(fn, arg, options);
  checkKeys(fn, arg, o, ['maxIterations', 'seed']);
  return {
    maxIterations: checkInteger(fn, `${arg}.maxIterations`, o['maxIterations'] ?? 100, 1, 100000),
    seed: checkSeed(fn, `${arg}.seed`, o['seed'] ?? 0),
  };
}

/** {@link align} with the caller's name and argument names (for tl.interpolate's `align` option). */
export async function alignModels(fn: string, argA: string, a: Model, argB: string, b: Model, options: { maxIterations: number; seed: number }): Promise<AlignmentResult> {
  checkModel(fn, argA, a);
  checkModel(fn, argB, b);
  const spec = permutationSpec(a, fn, argA);
  const specB = permutationSpec(b, fn, argB);
  if (specB.arch !== spec.arch) fail(fn, argB, `is a ${specB.arch} but ${argA} is a ${spec.arch}; both must be the same architecture`);
  checkSameParameters(fn, argA, a.variables, argB, b.variables);
  const wa = await hostTensors(a.variables);
  const wb = await hostTensors(b.variables);
  const found = matchWeights(spec, wa, wb, options);
  const identity: Permutations = {};
  for (const g of spec.groups) identity[g.name] = Int32Array.from({ length: g.size }, (_, i) => i);
  return new AlignmentResult({
    model: await permutedModel(spec, b as NetModel, found.permutations),
    permutations: found.permutations,
    iterations: found.iterations,
    converged: found.converged,
    distanceBefore: permutedDistance(spec, wa, wb, identity),
    distanceAfter: permutedDistance(spec, wa, wb, found.permutations),
    spec,
  });
}

/**
 * Reorders the hidden units of `b` to match `a` by weight matching (Ainsworth, Hayase,
 * Srinivasa 2023, "Git Re-Basin"): coordinate descent over the groups of units of
 * {@link permutationSpec}, each step a linear assignment problem, until a sweep changes nothing.
 * Returns B permuted (a new model with the same function as B: dispose it when done), the
 * permutations and ‖θA − θB‖ before and after. BatchNorm statistics move with their channels;
 * the classifier's outputs and the input channels never move. Models built by `tl.cnn` and
 * `tl.resnet` (with or without BatchNorm).
 *
 * @example
 * ```ts
 * const aligned = await tl.align(ri1, ri2, { seed: 0 });
 * aligned;                      // sweeps, ‖θA − θB‖ before → after, units moved per group
 * aligned.permutations.conv1;   // Int32Array: unit i of aligned.model is unit π[i] of ri2
 * const r = await tl.interpolate(ri1, aligned.model, test, { recalibrationData: train });
 * aligned.dispose();
 * ```
 */
export async function align(a: Model, b: Model, options: AlignOptions = {}): Promise<AlignmentResult> {
  const fn = 'tl.align';
  return alignModels(fn, 'a', a, 'b', b, alignOptions(fn, 'options', options));
}
