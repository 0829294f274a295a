/**
 * The loss landscape between two solutions (PAPER.md §4): θ(λ) = (1−λ)θ₁ + λθ₂ on a λ grid,
 * loss and accuracy on held-out data at each λ, and the performance barrier
 * B = max_λ [L(θλ) − ((1−λ)L(θ₁) + λL(θ₂))] (Frankle et al. 2020). `tl.interpolate` in notebooks.
 */
import { tf } from './tfjs';
import type { Model, NamedWeights } from './modelContract';
import type { InterpolationPayload, MimeBundle } from '../protocol/mime';
import { Mime } from '../protocol/mime';
import { DISPLAY, type Displayable } from './display';
import { checkData, type DataLike } from './dataset';
import { checkDataFitsModel, checkModel } from './train';
import { checkInteger, checkKeys, checkObject, formatValue, fail } from './validate';
import { canRecalibrate, checkSameParameters, evaluateSettings, hasBuffers, type WeightSetting } from './evalGrid';
import { fmt, textTable } from './results';
import { interpolationSpec, lightTheme } from '../protocol/charts';
import { bootstrapMeans, checkUncertainty, type UncertaintyOptions } from './resampling';

/** How normalisation statistics are treated along the path. */
export type Recalibration = boolean | 'auto' | ((model: Model, lambda: number) => void | Promise<void>);

export interface InterpolateOptions {
  /** The λ grid: a list of values, or a number of evenly spaced points in [0, 1]. Default 21. 0 and 1 are always included. */
  readonly lambdas?: readonly number[] | number;
  /** Examples per forward pass. Default 256. */
  readonly batchSize?: number;
  /** λ values evaluated per pass over the data (model copies held at once). Default 7. */
  readonly group?: number;
  /**
   * Normalisation statistics at each λ. `'auto'` (default): recompute BatchNorm statistics on
   * `recalibrationData` for models that have them (`model.recalibrate`), as the paper requires;
   * `false`: interpolate the running statistics like the weights; `true`: require recalibration;
   * a function `(model, λ) => …` to do it yourself.
   */
  readonly recalibrate?: Recalibration;
  /** Images to recompute normalisation statistics on (usually training data). Default: the evaluation images. */
  readonly recalibrationData?: DataLike | tf.Tensor4D;
  /** The pair's label in charts, e.g. `P-T/P-T`. */
  readonly label?: string;
  /** Chart title. */
  readonly title?: string;
  /**
   * A percentile bootstrap interval of the barrier over the evaluation examples (`true`: 200
   * resamples, 95%, seed 0): each example's loss is kept at every λ, and each resample recomputes
   * the barrier from the resampled mean losses. The models, and their BatchNorm statistics, stay
   * fixed: the interval is over examples, not over training runs.
   */
  readonly uncertainty?: Pick<UncertaintyOptions, 'bootstrap' | 'level' | 'seed'> | boolean;
}

/** A bootstrap interval of a barrier over evaluation examples. */
export interface BarrierInterval {
  readonly lower: number;
  readonly upper: number;
  /** Coverage, e.g. 0.95. */
  readonly level: number;
  /** Bootstrap resamples. */
  readonly bootstrap: number;
}

/** One interpolation curve. */
export interface InterpolationCurve {
  readonly label: string;
  readonly lambdas: readonly number[];
  readonly loss: readonly number[];
  readonly accuracy: readonly number[];
  /** max over λ ∈ [0, 1] of L(θλ) − ((1−λ)L(θ₁) + λL(θ₂)); can be negative (the path is better than the chord). */
  readonly barrier: number;
  readonly barrierLambda: number;
  /** The same for accuracy: max over λ of ((1−λ)A(θ₁) + λA(θ₂)) − A(θλ). */
  readonly accuracyBarrier: number;
  /** Whether BatchNorm statistics were recomputed at each λ. */
  readonly recalibrated: boolean;
  /** The barrier's percentile bootstrap interval over evaluation examples (option `uncertainty`). */
  readonly barrierInterval?: BarrierInterval;
}

function gridOf(fn: string, v: unknown): number[] {
  if (v === undefined) v = 21;
  let grid: number[];
  if (typeof v === 'number') {
    const k = checkInteger(fn, 'options.lambdas', v, 2, 10000);
    grid = Array.from({ length: k }, (_, i) => i / (k - 1));
  } else if (Array.isArray(v)) {
    if (v.length === 0) fail(fn, 'options.lambdas', 'is empty');
    v.forEach((x, i) => {
      if (typeof x !== 'number' || !Number.isFinite(x)) fail(fn, 'options.lambdas', `has ${formatValue(x)} at position ${i}; λ values must be finite numbers`);
    });
    grid = [...(v as number[])];
  } else {
    return fail(fn, 'options.lambdas', `must be a number of points or a list of λ values, got ${formatValue(v)}`);
  }
  if (!grid.includes(0)) grid.push(0);
  if (!grid.includes(1)) grid.push(1);
  return [...new Set(grid)].sort((a, b) => a - b);
}

/** The barrier of a curve (loss and accuracy), over λ ∈ [0, 1]. */
export function barrierOf(lambdas: readonly number[], loss: readonly number[], accuracy: readonly number[]): { barrier: number; barrierLambda: number; accuracyBarrier: number } {
  const i0 = lambdas.indexOf(0);
  const i1 = lambdas.indexOf(1);
  let barrier = -Infinity;
  let barrierLambda = 0;
  let accuracyBarrier = -Infinity;
  lambdas.forEach((l, i) => {
    if (l < 0 || l > 1) return;
    const b = loss[i]! - ((1 - l) * loss[i0]! + l * loss[i1]!);
    if (b > barrier) {
      barrier = b;
      barrierLambda = l;
    }
    accuracyBarrier = Math.max(accuracyBarrier, (1 - l) * accuracy[i0]! + l * accuracy[i1]! - accuracy[i]!);
  });
  return { barrier, barrierLambda, accuracyBarrier };
}

function mix(a: ReadonlyMap<string, tf.Tensor>, b: ReadonlyMap<string, tf.Tensor>, lambda: number): NamedWeights {
  const out: NamedWeights = new Map();
  tf.tidy(() => {
    for (const [k, v] of a) out.set(k, tf.keep(tf.add(tf.mul(v, 1 - lambda), tf.mul(b.get(k)!, lambda))));
  });
  return out;
}

interface Pair {
  readonly label: string;
  readonly a: Model;
  readonly b: Model;
}

async function curve(fn: string, pair: Pair, data: DataLike, o: Record<string, unknown>, index: number): Promise<InterpolationCurve> {
  const { a, b } = pair;
  const argA = index < 0 ? 'a' : `pairs[${index}].a`;
  const argB = index < 0 ? 'b' : `pairs[${index}].b`;
  checkModel(fn, argA, a);
  checkModel(fn, argB, b);
  const { numClasses } = checkData(fn, 'data', data);
  checkDataFitsModel(fn, a, data, numClasses);
  checkSameParameters(fn, argA, a.variables, argB, b.variables);
  const lambdas = gridOf(fn, o['lambdas']);
  const batchSize = checkInteger(fn, 'options.batchSize', o['batchSize'] ?? 256, 1);
  const group = checkInteger(fn, 'options.group', o['group'] ?? 7, 1, 64);
  const u = checkUncertainty(fn, 'options.uncertainty', o['uncertainty'], false);
  const rec = o['recalibrate'] ?? 'auto';
  if (!(typeof rec === 'boolean' || rec === 'auto' || typeof rec === 'function')) fail(fn, 'options.recalibrate', `must be true, false, 'auto' or a function (model, λ) => …, got ${formatValue(rec)}`);
  if (rec === true && !canRecalibrate(a)) fail(fn, 'options.recalibrate', `is true but the model (${a.arch}) has no normalisation statistics to recompute (no recalibrate method or no BatchNorm)`);
  const recData = o['recalibrationData'] ?? data;
  const recX = recData instanceof tf.Tensor ? recData : (recData as Partial<DataLike>)?.x;
  if (!(recX instanceof tf.Tensor) || recX.rank !== 4) fail(fn, 'options.recalibrationData', `must be a data set {x, y} or images [N, H, W, C], got ${formatValue(recData)}`);
  const recalibrating = typeof rec === 'function' || (rec !== false && canRecalibrate(a));
  const interpolateBuffers = !recalibrating && hasBuffers(a) && hasBuffers(b);
  const bufA = interpolateBuffers ? (a as Model & { getBuffers(): NamedWeights }).getBuffers() : undefined;
  const bufB = interpolateBuffers ? (b as Model & { getBuffers(): NamedWeights }).getBuffers() : undefined;
  try {
    const points = await evaluateSettings(
      a,
      lambdas.length,
      (i): WeightSetting => ({
        weights: mix(a.variables, b.variables, lambdas[i]!),
        ...(bufA && bufB ? { buffers: mix(bufA, bufB, lambdas[i]!) } : {}),
      }),
      data,
      {
        batchSize,
        group,
        perExample: u !== undefined,
        prepare: recalibrating
          ? async (m, i) => {
              if (typeof rec === 'function') await rec(m, lambdas[i]!);
              else (m as Model & { recalibrate(x: tf.Tensor4D, o?: { batchSize?: number }): void }).recalibrate(recX as tf.Tensor4D, { batchSize });
            }
          : undefined,
      },
    );
    const loss = points.map((p) => p.loss);
    const accuracy = points.map((p) => p.accuracy);
    const barrierInterval = u === undefined ? undefined : bootstrapMeans(points.map((p) => p.losses!), (means) => barrierOf(lambdas, means, accuracy).barrier, u);
    return {
      label: pair.label,
      lambdas,
      loss,
      accuracy,
      ...barrierOf(lambdas, loss, accuracy),
      recalibrated: recalibrating,
      ...(barrierInterval && u ? { barrierInterval: { lower: barrierInterval.lower, upper: barrierInterval.upper, level: u.level, bootstrap: u.bootstrap } } : {}),
    };
  } finally {
    if (bufA) tf.dispose([...bufA.values()]);
    if (bufB) tf.dispose([...bufB.values()]);
  }
}

const KEYS = ['lambdas', 'batchSize', 'group', 'recalibrate', 'recalibrationData', 'label', 'title', 'uncertainty'];

/**
 * Loss and accuracy along the straight line between two models of the same architecture, and the
 * barrier. Several λ are evaluated per pass over the data (`group`). BatchNorm statistics are
 * recomputed at each λ by default.
 *
 * @example
 * ```ts
 * const r = await tl.interpolate(ptA, ptB, test, {label: 'P-T/P-T', recalibrationData: train});
 * r.curves[0].barrier;  // ≈ 0 for two fine-tuned copies of one pre-trained model
 * r;                    // displays loss and accuracy curves
 * const s = await tl.interpolate(ptA, ptB, test, {uncertainty: {bootstrap: 200, seed: 1}});
 * s.curves[0].barrierInterval; // {lower, upper, level: 0.95, bootstrap: 200}, over test examples
 * ```
 */
export async function interpolate(a: Model, b: Model, data: DataLike, options: InterpolateOptions = {}): Promise<InterpolationResult> {
  const fn = 'tl.interpolate';
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, KEYS);
  if (o['label'] !== undefined && typeof o['label'] !== 'string') fail(fn, 'options.label', `must be a string, got ${formatValue(o['label'])}`);
  const c = await curve(fn, { label: (o['label'] as string | undefined) ?? `${a.arch} → ${b.arch}`, a, b }, data, o, -1);
  return new InterpolationResult([c], o['title'] as string | undefined);
}

/**
 * {@link interpolate} for several pairs on the same data, drawn in one chart (the paper's
 * comparison of P-T/P-T, RI-T/RI-T and P-T/RI-T).
 *
 * @example
 * ```ts
 * const r = await tl.interpolateAll([
 *   {label: 'P-T/P-T', a: pt1, b: pt2},
 *   {label: 'RI-T/RI-T', a: ri1, b: ri2},
 *   {label: 'P-T/RI-T', a: pt1, b: ri1},
 * ], test, {lambdas: 11});
 * r.barriers(); // Map label → barrier
 * ```
 */
export async function interpolateAll(pairs: readonly { readonly label: string; readonly a: Model; readonly b: Model }[], data: DataLike, options: Omit<InterpolateOptions, 'label'> = {}): Promise<InterpolationResult> {
  const fn = 'tl.interpolateAll';
  if (!Array.isArray(pairs) || pairs.length === 0) fail(fn, 'pairs', `must be a non-empty array of {label, a, b}, got ${formatValue(pairs)}`);
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, KEYS.filter((k) => k !== 'label'));
  const curves: InterpolationCurve[] = [];
  for (let i = 0; i < pairs.length; i++) {
    const p = pairs[i]!;
    if (p === null || typeof p !== 'object' || typeof p.label !== 'string') fail(fn, `pairs[${i}]`, `must be {label: string, a: Model, b: Model}, got ${formatValue(p)}`);
    curves.push(await curve(fn, p, data, o, i));
  }
  return new InterpolationResult(curves, o['title'] as string | undefined);
}

/** Interpolation curves of one or more pairs; displays loss and accuracy against λ. */
export class InterpolationResult implements Displayable {
  readonly curves: readonly InterpolationCurve[];
  readonly title: string;

  constructor(curves: readonly InterpolationCurve[], title?: string) {
    this.curves = curves;
    this.title = title ?? (curves.length === 1 ? `Interpolation ${curves[0]!.label}` : 'Linear interpolation between solutions');
  }

  /** Barrier of each pair by label. */
  barriers(): Map<string, number> {
    return new Map(this.curves.map((c) => [c.label, c.barrier]));
  }

  /** Several results in one chart. */
  static combine(results: readonly InterpolationResult[], title?: string): InterpolationResult {
    return new InterpolationResult(
      results.flatMap((r) => r.curves),
      title,
    );
  }

  toPayload(): InterpolationPayload {
    return {
      title: this.title,
      pairs: this.curves.map((c) => ({
        label: c.label,
        lambdas: c.lambdas,
        loss: c.loss,
        accuracy: c.accuracy,
        barrier: c.barrier,
        barrierLambda: c.barrierLambda,
        ...(c.barrierInterval ? { barrierInterval: c.barrierInterval } : {}),
      })),
    };
  }

  toVegaLite(): Record<string, unknown> {
    return interpolationSpec(this.toPayload(), lightTheme) as unknown as Record<string, unknown>;
  }

  toString(): string {
    const rows = this.curves.map((c) => {
      const mid = c.lambdas.indexOf(0.5);
      return [c.label, fmt(c.loss[c.lambdas.indexOf(0)]!, 4), fmt(mid >= 0 ? c.loss[mid]! : NaN, 4), fmt(c.loss[c.lambdas.indexOf(1)]!, 4), fmt(c.barrier, 4), fmt(c.barrierLambda, 2), fmt(c.accuracyBarrier, 4), c.recalibrated ? 'yes' : 'no'];
    });
    const withInterval = this.curves.find((c) => c.barrierInterval)?.barrierInterval;
    if (withInterval) rows.forEach((r, i) => r.splice(5, 0, this.curves[i]!.barrierInterval ? `[${fmt(this.curves[i]!.barrierInterval!.lower, 4)}, ${fmt(this.curves[i]!.barrierInterval!.upper, 4)}]` : ''));
    const head = ['pair', 'L(λ=0)', 'L(λ=0.5)', 'L(λ=1)', 'barrier', ...(withInterval ? [`${Math.round(withInterval.level * 100)}% interval`] : []), 'at λ', 'acc. barrier', 'BN recomputed'];
    const note = withInterval ? '\nIntervals: percentile bootstrap over evaluation examples (models fixed), not over training seeds.' : '';
    return `${this.title}\n${textTable(head, rows)}${note}`;
  }

  [DISPLAY](): MimeBundle {
    return { [Mime.interpolation]: this.toPayload(), [Mime.vegaLite]: this.toVegaLite(), [Mime.plain]: this.toString() };
  }
}
