/**
 * The `align` option of `tl.interpolate` / `tl.interpolateAll`: besides the raw curve from A to B,
 * the curve from A to B aligned by weight matching (./align.ts), with its own barrier, so that the
 * two barriers can be read side by side. The aligned curve uses the same λ grid, data, batch size
 * and BatchNorm treatment as the raw one.
 */
import type { Model } from '../modelContract';
import { fmt, textTable } from '../results';
import { alignModels, alignOptions, type AlignOptions } from './align';

/** The `align` option: `true` for the defaults of {@link AlignOptions}, or those options. */
export type AlignOption = boolean | AlignOptions;

/** The curve from A to B aligned to A (same λ grid as the raw curve it belongs to). */
export interface AlignedCurve {
  readonly loss: readonly number[];
  readonly accuracy: readonly number[];
  /** The barrier of the aligned curve, defined as the raw one's. */
  readonly barrier: number;
  readonly barrierLambda: number;
  readonly accuracyBarrier: number;
  /** Weight matching: sweeps run, whether it converged, ‖θA − θB‖ before and after. */
  readonly iterations: number;
  readonly converged: boolean;
  readonly distanceBefore: number;
  readonly distanceAfter: number;
}

interface CurveLike {
  readonly label: string;
  readonly lambdas: readonly number[];
  readonly loss: readonly number[];
  readonly accuracy: readonly number[];
  readonly barrier: number;
  readonly barrierLambda: number;
  readonly accuracyBarrier: number;
  readonly aligned?: AlignedCurve;
}

/**
 * Runs `curve(b)` (the raw curve, which also checks the arguments); when `option` asks for it,
 * aligns `b` to `a` and runs `curve(aligned)` too, returning the raw curve with `aligned` set.
 * The aligned model is disposed before returning.
 */
export async function withAlignment<C extends CurveLike>(fn: string, option: unknown, argA: string, a: Model, argB: string, b: Model, curve: (b: Model) => Promise<C>): Promise<C> {
  const optionArg = 'options.align';
  const opts = option === undefined || option === false ? undefined : option === true ? alignOptions(fn, optionArg, {}) : alignOptions(fn, optionArg, option);
  const raw = await curve(b);
  if (!opts) return raw;
  const found = await alignModels(fn, argA, a, argB, b, opts);
  try {
    const c = await curve(found.model);
    const aligned: AlignedCurve = {
      loss: c.loss,
      accuracy: c.accuracy,
      barrier: c.barrier,
      barrierLambda: c.barrierLambda,
      accuracyBarrier: c.accuracyBarrier,
      iterations: found.iterations,
      converged: found.converged,
      distanceBefore: found.distanceBefore,
      distanceAfter: found.distanceAfter,
    };
    return { ...raw, aligned };
  } finally {
    found.dispose();
  }
}

/** The aligned barriers of `curves` as a text table (empty when none is aligned). */
export function alignedTable(curves: readonly CurveLike[]): string {
  const rows = curves.flatMap((c) => (c.aligned ? [[c.label, fmt(c.barrier, 4), fmt(c.aligned.barrier, 4), fmt(c.aligned.barrierLambda, 2), fmt(c.aligned.accuracyBarrier, 4), `${fmt(c.aligned.distanceBefore, 3)} → ${fmt(c.aligned.distanceAfter, 3)}`]] : []));
  if (rows.length === 0) return '';
  return `\nAligned by weight matching (B's hidden units permuted to match A):\n${textTable(['pair', 'raw barrier', 'aligned barrier', 'at λ', 'acc. barrier', '‖θA − θB‖'], rows)}`;
}
