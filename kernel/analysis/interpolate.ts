/**
 * The loss landscape between two solutions (PAPER.md §4): θ(λ) = (1−λ)θ₁ + λθ₂ on a λ grid,
 * loss and accuracy on held-out data at each λ, and the performance barrier. Default (`linear`,
 * Frankle et al. 2020, "Linear Mode Connectivity and the Lottery Ticket Hypothesis"; Entezari et
 * al. 2022 use the same form): B = max_λ [L(θλ) − ((1−λ)L(θ₁) + λL(θ₂))], the height of the loss
 * above the straight line between the end losses. Option `mean` (Ainsworth et al. 2023, "Git
 * Re-Basin"): B = max_λ L(θλ) − ½(L(θ₁) + L(θ₂)). Both are maxima over the λ of the grid in
 * [0, 1], which always holds 0 and 1, so both are ≥ 0 (the linear one is 0 at the end points; the
 * mean one is at least ½|L(θ₁) − L(θ₂)|), and both are ≤ the maximum over all λ ∈ [0, 1].
 * BatchNorm statistics are recomputed at every λ on the training data (`recalibrationData`).
 * `tl.interpolate` in notebooks.
 */
import { tf } from './tfjs';
import type { Model, NamedWeights } from './modelContract';
import type { InterpolationPayload, MimeBundle } from '../protocol/mime';
import { Mime } from '../protocol/mime';
import { DISPLAY, type Displayable } from './display';
import { checkData, type DataLike } from './dataset';
import { checkDataFitsModel, checkModel } from './train';
import { checkInteger, checkKeys, checkObject, checkOneOf, formatValue, fail } from './validate';
import { NOT_RECALIBRATED, checkSameParameters, describeRecalibration, evaluateSettings, hasBuffers, planRecalibration, type RecalibrationInfo, type WeightSetting } from './evalGrid';
import { fmt, textTable } from './results';
import { interpolationSpec, lightTheme } from '../protocol/charts';
import { alignedTable, withAlignment, type AlignedCurve, type AlignOption } from './alignment/interpolation';
import { bootstrapMeans, checkUncertainty, type UncertaintyOptions } from './resampling';

/** How normalisation statistics are treated along the path. */
export type Recalibration = boolean | 'auto' | ((model: Model, lambda: number) => void | Promise<void>);

/**
 * How the barrier is measured from the losses on the λ grid (λ ∈ [0, 1] only):
 * - `linear` (default; Frankle et al. 2020, Entezari et al. 2022): max_λ [L(θλ) − ((1−λ)L(θ₁) + λL(θ₂))],
 *   the loss above the straight line between the end losses; ≥ 0, and 0 when the path never rises above that line.
 * - `mean` (Ainsworth et al. 2023, "Git Re-Basin"): max_λ L(θλ) − ½(L(θ₁) + L(θ₂)), the highest loss
 *   above the mean end loss; ≥ ½|L(θ₁) − L(θ₂)|, so unequal end points count as barrier.
 */
export type BarrierDefinition = 'linear' | 'mean';

/** The definitions, for validation and menus. */
export const BARRIER_DEFINITIONS: readonly BarrierDefinition[] = ['linear', 'mean'];

/** A definition in words, with its source, for tables and charts. */
export function describeBarrier(d: BarrierDefinition): string {
  return d === 'mean'
    ? 'barrier = max over λ of L(θλ) − ½(L(θ₁) + L(θ₂)) (mean of the end losses; Ainsworth et al. 2023)'
    : 'barrier = max over λ of L(θλ) − ((1−λ)L(θ₁) + λL(θ₂)) (linear; Frankle et al. 2020)';
}

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
  /**
   * Images to recompute BatchNorm statistics on: the training data (a data set or its images [N, H, W, C]),
   * as the paper's protocol does. Required for models with BatchNorm (unless `recalibrate` is `false`
   * or a function); `'evaluation'` uses the evaluated data instead and records a warning in the result.
   */
  readonly recalibrationData?: DataLike | tf.Tensor4D | 'evaluation';
  /** How the barrier is measured: `'linear'` (default, Frankle et al. 2020) or `'mean'` (Ainsworth et al. 2023); see {@link BarrierDefinition}. */
  readonly barrier?: BarrierDefinition;
  /**
   * Also interpolate from A to B with B's hidden units permuted to match A (weight matching,
   * `tl.align`): `true`, or `{maxIterations, seed}`. Each curve then carries `aligned`, drawn
   * dashed next to the raw one. Default false.
   */
  readonly align?: AlignOption;
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
  /**
   * The barrier by {@link barrierDefinition}, a maximum over the λ of the grid in [0, 1]: ≥ 0 (0 and 1
   * are on the grid), and ≤ the maximum over all λ ∈ [0, 1] (the grid can miss the peak).
   * Linear: max_λ [L(θλ) − ((1−λ)L(θ₁) + λL(θ₂))]; mean: max_λ L(θλ) − ½(L(θ₁) + L(θ₂)).
   */
  readonly barrier: number;
  readonly barrierLambda: number;
  /** The same for accuracy: linear max_λ [((1−λ)A(θ₁) + λA(θ₂)) − A(θλ)]; mean ½(A(θ₁) + A(θ₂)) − min_λ A(θλ). */
  readonly accuracyBarrier: number;
  /** Which definition `barrier` and `accuracyBarrier` use. */
  readonly barrierDefinition: BarrierDefinition;
  /** Whether BatchNorm statistics were recomputed at each λ. */
  readonly recalibrated: boolean;
  /** With `align`: the curve from A to B aligned to A, on the same λ grid. */
  readonly aligned?: AlignedCurve;
  /** How: on which images (the training data given as `recalibrationData`, or the evaluation data), and any warning. */
  readonly recalibration: RecalibrationInfo;
  /** The barrier's percentile bootstrap interval over evaluation examples (option `uncertainty`). */
  readonly barrierInterval?: BarrierInterval;
}

/** A curve as {@link InterpolationResult} accepts it: definition and recalibration record may be left out (linear; `recalibrated` alone). */
export type InterpolationCurveInit = Omit<InterpolationCurve, 'barrierDefinition' | 'recalibration'> & Partial<Pick<InterpolationCurve, 'barrierDefinition' | 'recalibration'>>;

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

/**
 * The barrier of a curve (loss and accuracy) over the λ of the grid in [0, 1], which must hold 0
 * and 1, by `definition` (see {@link BarrierDefinition}). `barrierLambda` is the first λ reaching it.
 */
export function barrierOf(lambdas: readonly number[], loss: readonly number[], accuracy: readonly number[], definition: BarrierDefinition = 'linear'): { barrier: number; barrierLambda: number; accuracyBarrier: number } {
  const i0 = lambdas.indexOf(0);
  const i1 = lambdas.indexOf(1);
  if (i0 < 0 || i1 < 0) fail('barrierOf', 'lambdas', 'must include 0 and 1 (the end points)');
  const reference = (v: readonly number[], l: number): number => (definition === 'mean' ? (v[i0]! + v[i1]!) / 2 : (1 - l) * v[i0]! + l * v[i1]!);
  let barrier = -Infinity;
  let barrierLambda = 0;
  let accuracyBarrier = -Infinity;
  lambdas.forEach((l, i) => {
    if (l < 0 || l > 1) return;
    const b = loss[i]! - reference(loss, l);
    if (b > barrier) {
      barrier = b;
      barrierLambda = l;
    }
    accuracyBarrier = Math.max(accuracyBarrier, reference(accuracy, l) - accuracy[i]!);
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
  a.checkInterpolable?.(fn, argA);
  b.checkInterpolable?.(fn, argB);
  const { numClasses } = checkData(fn, 'data', data);
  checkDataFitsModel(fn, a, data, numClasses);
  checkSameParameters(fn, argA, a.variables, argB, b.variables);
  const lambdas = gridOf(fn, o['lambdas']);
  const batchSize = checkInteger(fn, 'options.batchSize', o['batchSize'] ?? 256, 1);
  const group = checkInteger(fn, 'options.group', o['group'] ?? 7, 1, 64);
  const definition = checkOneOf(fn, 'options.barrier', o['barrier'] ?? 'linear', BARRIER_DEFINITIONS);
  const plan = planRecalibration(fn, a, o, data, {
    batchSize,
    whenMissing: 'required',
    evaluationWarning: 'BatchNorm statistics were recomputed on the evaluation data, not the training data; pass the training data as recalibrationData (the paper\'s protocol)',
    functionArgument: (i) => lambdas[i]!,
    functionSignature: '(model, λ) => …',
  });
  const recalibrating = plan.info.recalibrated;
  const u = checkUncertainty(fn, 'options.uncertainty', o['uncertainty'], false);
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
        prepare: plan.prepare,
      },
    );
    const loss = points.map((p) => p.loss);
    const accuracy = points.map((p) => p.accuracy);
    const barrierInterval = u === undefined ? undefined : bootstrapMeans(points.map((p) => p.losses!), (means) => barrierOf(lambdas, means, accuracy, definition).barrier, u);
    return {
      label: pair.label,
      lambdas,
      loss,
      accuracy,
      ...barrierOf(lambdas, loss, accuracy, definition),
      barrierDefinition: definition,
      recalibrated: recalibrating,
      recalibration: plan.info,
      ...(barrierInterval && u ? { barrierInterval: { lower: barrierInterval.lower, upper: barrierInterval.upper, level: u.level, bootstrap: u.bootstrap } } : {}),
    };
  } finally {
    if (bufA) tf.dispose([...bufA.values()]);
    if (bufB) tf.dispose([...bufB.values()]);
  }
}

const KEYS = ['lambdas', 'batchSize', 'group', 'recalibrate', 'recalibrationData', 'barrier', 'align', 'label', 'title', 'uncertainty'];

/** Prints the warnings of `r` (evaluation data used for BatchNorm statistics) where a notebook user sees them even without displaying it. */
function warnOf(r: InterpolationResult): InterpolationResult {
  for (const w of r.warnings()) console.warn(w);
  return r;
}

/**
 * Loss and accuracy along the straight line between two models of the same architecture, and the
 * barrier (`linear` by default, Frankle et al. 2020; `barrier: 'mean'` for Ainsworth et al. 2023).
 * Several λ are evaluated per pass over the data (`group`). For models with BatchNorm the
 * statistics are recomputed at each λ on `recalibrationData`, which must then be given: the
 * training data (or `'evaluation'`, with a warning).
 *
 * @example
 * ```ts
 * const r = await tl.interpolate(ptA, ptB, test, {label: 'P-T/P-T', recalibrationData: train});
 * r.curves[0].barrier;  // ≈ 0 for two fine-tuned copies of one pre-trained model
 * r.barriers('mean');   // the same curve, barrier relative to the mean end loss
 * r;                    // displays loss and accuracy curves, the barrier definition and the data BatchNorm used
 * const s = await tl.interpolate(ri1, ri2, test, {label: 'RI-T/RI-T', align: true});
 * s.curves[0].aligned.barrier;  // after matching ri2's hidden units to ri1's (tl.align)
 * const t = await tl.interpolate(ptA, ptB, test, {recalibrationData: train, uncertainty: {bootstrap: 200, seed: 1}});
 * t.curves[0].barrierInterval; // {lower, upper, level: 0.95, bootstrap: 200}, over test examples
 * ```
 */
export async function interpolate(a: Model, b: Model, data: DataLike, options: InterpolateOptions = {}): Promise<InterpolationResult> {
  const fn = 'tl.interpolate';
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, KEYS);
  if (o['label'] !== undefined && typeof o['label'] !== 'string') fail(fn, 'options.label', `must be a string, got ${formatValue(o['label'])}`);
  const label = (o['label'] as string | undefined) ?? `${a.arch} → ${b.arch}`;
  const c = await withAlignment(fn, o['align'], 'a', a, 'b', b, (bb) => curve(fn, { label, a, b: bb }, data, o, -1));
  return warnOf(new InterpolationResult([c], o['title'] as string | undefined));
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
 * ], test, {lambdas: 11, recalibrationData: train});
 * r.barriers(); // Map label → barrier (linear)
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
    curves.push(await withAlignment(fn, o['align'], `pairs[${i}].a`, p.a, `pairs[${i}].b`, p.b, (bb) => curve(fn, { ...p, b: bb }, data, o, i)));
  }
  return warnOf(new InterpolationResult(curves, o['title'] as string | undefined));
}

/** Interpolation curves of one or more pairs; displays loss and accuracy against λ. */
export class InterpolationResult implements Displayable {
  readonly curves: readonly InterpolationCurve[];
  readonly title: string;

  constructor(curves: readonly InterpolationCurveInit[], title?: string) {
    this.curves = curves.map((c) => ({
      ...c,
      barrierDefinition: c.barrierDefinition ?? 'linear',
      recalibration: c.recalibration ?? (c.recalibrated ? { recalibrated: true, source: null, examples: null } : NOT_RECALIBRATED),
    }));
    this.title = title ?? (curves.length === 1 ? `Interpolation ${curves[0]!.label}` : 'Linear interpolation between solutions');
  }

  /**
   * Barrier of each pair by label: by each curve's own definition, or by `definition`
   * (recomputed from the curve's losses on its grid).
   */
  barriers(definition?: BarrierDefinition): Map<string, number> {
    if (definition !== undefined) checkOneOf('InterpolationResult.barriers', 'definition', definition, BARRIER_DEFINITIONS);
    return new Map(this.curves.map((c) => [c.label, definition === undefined || definition === c.barrierDefinition ? c.barrier : barrierOf(c.lambdas, c.loss, c.accuracy, definition).barrier]));
  }

  /** Cautions about how the curves were computed (e.g. BatchNorm statistics from the evaluation data), one per pair that has one. */
  warnings(): string[] {
    return this.curves.flatMap((c) => (c.recalibration.warning ? [`${c.label}: ${c.recalibration.warning}`] : []));
  }

  /** Barrier after alignment of each pair interpolated with `align`, by label. */
  alignedBarriers(): Map<string, number> {
    return new Map(this.curves.flatMap((c) => (c.aligned ? [[c.label, c.aligned.barrier] as const] : [])));
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
        barrierDefinition: c.barrierDefinition,
        ...(c.barrierInterval ? { barrierInterval: c.barrierInterval } : {}),
        ...(c.aligned ? { aligned: { loss: c.aligned.loss, accuracy: c.aligned.accuracy, barrier: c.aligned.barrier, barrierLambda: c.aligned.barrierLambda } } : {}),
      })),
      ...(this.warnings().length > 0 ? { warnings: this.warnings() } : {}),
    };
  }

  toVegaLite(): Record<string, unknown> {
    return interpolationSpec(this.toPayload(), lightTheme) as unknown as Record<string, unknown>;
  }

  toString(): string {
    const rows = this.curves.map((c) => {
      const mid = c.lambdas.indexOf(0.5);
      return [c.label, fmt(c.loss[c.lambdas.indexOf(0)]!, 4), fmt(mid >= 0 ? c.loss[mid]! : NaN, 4), fmt(c.loss[c.lambdas.indexOf(1)]!, 4), fmt(c.barrier, 4), fmt(c.barrierLambda, 2), fmt(c.accuracyBarrier, 4), describeRecalibration(c.recalibration)];
    });
    const withInterval = this.curves.find((c) => c.barrierInterval)?.barrierInterval;
    if (withInterval) rows.forEach((r, i) => r.splice(5, 0, this.curves[i]!.barrierInterval ? `[${fmt(this.curves[i]!.barrierInterval!.lower, 4)}, ${fmt(this.curves[i]!.barrierInterval!.upper, 4)}]` : ''));
    const head = ['pair', 'L(λ=0)', 'L(λ=0.5)', 'L(λ=1)', 'barrier', ...(withInterval ? [`${Math.round(withInterval.level * 100)}% interval`] : []), 'at λ', 'acc. barrier', 'BN statistics recomputed'];
    const definitions = [...new Set(this.curves.map((c) => c.barrierDefinition))];
    const notes = [
      ...definitions.map((d) => `${definitions.length > 1 ? `${d}: ` : ''}${describeBarrier(d)}, over the λ grid in [0, 1]`),
      ...(withInterval ? ['Intervals: percentile bootstrap over evaluation examples (models fixed), not over training seeds.'] : []),
      ...this.warnings().map((w) => `⚠ ${w}`),
    ];
    return `${this.title}\n${textTable(head, rows)}${alignedTable(this.curves)}\n${notes.join('\n')}`;
  }

  [DISPLAY](): MimeBundle {
    return { [Mime.interpolation]: this.toPayload(), [Mime.vegaLite]: this.toVegaLite(), [Mime.plain]: this.toString() };
  }
}
