/**
 * Evaluating many weight settings of one architecture on one data set, several per pass: the
 * engine behind interpolation (θ(λ) over a λ grid) and module criticality (rewound and noised
 * modules). A few clones of the model each take one setting; every data batch is sliced once and
 * run through all of them, losses and correct counts accumulate on the device, and one read-back
 * ends each pass. Compared with one evaluation at a time this slices the data once per pass and
 * keeps GPU backends busy instead of waiting on a read-back per setting.
 */
import { tf } from './tfjs';
import type { Model, NamedWeights } from './modelContract';
import type { DataLike } from './dataset';
import { lossAndCorrect } from './train';
import { ShapeMismatchError } from './errors';
import { fail, formatValue, shapeStr } from './validate';

/** One weight setting: all trainable parameters, optionally normalisation buffers. */
export interface WeightSetting {
  readonly weights: NamedWeights;
  readonly buffers?: NamedWeights;
}

/** Loss and accuracy of one setting. */
export interface GridPoint {
  readonly loss: number;
  readonly accuracy: number;
  /** The cross-entropy of each example, in data order (with `perExample`). */
  readonly losses?: Float32Array;
}

/** Models that keep normalisation statistics (NetModel with BatchNorm). */
interface WithBuffers {
  readonly buffers: ReadonlyMap<string, tf.Variable>;
  getBuffers(): NamedWeights;
  setBuffers(b: NamedWeights): void;
  recalibrate(x: tf.Tensor4D, options?: { batchSize?: number }): void;
}

/** Whether `m` has normalisation statistics that interpolation must treat. */
export function hasBuffers(m: Model): m is Model & WithBuffers {
  const b = m as Partial<WithBuffers>;
  return b.buffers instanceof Map && b.buffers.size > 0 && typeof b.getBuffers === 'function' && typeof b.setBuffers === 'function';
}

/** Whether `m` can recompute its normalisation statistics from data. */
export function canRecalibrate(m: Model): m is Model & WithBuffers {
  return hasBuffers(m) && typeof (m as Partial<WithBuffers>).recalibrate === 'function';
}

/**
 * Where the images came from that normalisation statistics were recomputed on:
 * `recalibrationData` (given by the caller, normally the training data), `evaluation` (the data
 * the results are measured on), `function` (the caller's own function did it).
 */
export type RecalibrationSource = 'recalibrationData' | 'evaluation' | 'function';

/** How an analysis treated BatchNorm statistics; results carry it and show it. */
export interface RecalibrationInfo {
  /** Whether statistics were recomputed for every evaluated weight setting. */
  readonly recalibrated: boolean;
  /** Which images they were recomputed on; null when not recomputed. */
  readonly source: RecalibrationSource | null;
  /** How many images; null when not recomputed or done by a function. */
  readonly examples: number | null;
  /** A caution to show with the result (e.g. statistics taken from the evaluation data). */
  readonly warning?: string;
}

/** No recomputation: the model has no statistics, or the caller turned it off. */
export const NOT_RECALIBRATED: RecalibrationInfo = { recalibrated: false, source: null, examples: null };

/** One line for tables and notes: `on recalibrationData (512 images)`, `no`, …. */
export function describeRecalibration(r: RecalibrationInfo): string {
  if (!r.recalibrated) return 'no';
  if (r.source === 'function') return 'by the recalibrate function';
  const what = r.source === 'evaluation' ? 'the evaluation data' : 'recalibrationData';
  return `on ${what}${r.examples === null ? '' : ` (${r.examples} images)`}`;
}

/** What {@link planRecalibration} decided: the record for the result and the step to run on each model. */
export interface RecalibrationPlan {
  readonly info: RecalibrationInfo;
  /** Recomputes the statistics of one evaluated model (setting `index`); absent when nothing is recomputed. */
  readonly prepare?: (model: Model, index: number) => void | Promise<void>;
}

/** How a caller of {@link planRecalibration} treats defaults. */
export interface RecalibrationPolicy {
  /** Examples per forward pass while recomputing. */
  readonly batchSize: number;
  /**
   * What a missing `recalibrationData` means for a model with BatchNorm: `'evaluation'` uses the
   * evaluated data (criticality, which is measured on training data); `'required'` throws naming
   * the option (interpolation, which is measured on held-out data).
   */
  readonly whenMissing: 'evaluation' | 'required';
  /** Warning recorded when the evaluated data is used (asked for explicitly). */
  readonly evaluationWarning?: string;
  /** The second argument of a user function `recalibrate(model, arg)` for setting i; without it functions are refused. */
  readonly functionArgument?: (index: number) => unknown;
  /** How the function form is spelled in messages, e.g. `(model, λ) => …`. */
  readonly functionSignature?: string;
}

/**
 * Validates `options.recalibrate` (`'auto'` default, `true`, `false`, or a function where the
 * policy allows one) and `options.recalibrationData` (images [N, H, W, C], a data set {x, y}, or
 * `'evaluation'`), and returns how BatchNorm statistics are recomputed before each evaluation:
 * as exact averages over the chosen images (`model.recalibrate`), the same for every setting.
 * The one place interpolation and criticality decide this.
 */
export function planRecalibration(fn: string, model: Model, options: Readonly<Record<string, unknown>>, data: DataLike, policy: RecalibrationPolicy): RecalibrationPlan {
  const rec = options['recalibrate'] ?? 'auto';
  const allowFunction = policy.functionArgument !== undefined;
  if (!(typeof rec === 'boolean' || rec === 'auto' || (allowFunction && typeof rec === 'function'))) {
    fail(fn, 'options.recalibrate', `must be true, false${allowFunction ? `, 'auto' or a function ${policy.functionSignature ?? '(model, …) => …'}` : " or 'auto'"}, got ${formatValue(rec)}`);
  }
  if (rec === true && !canRecalibrate(model)) fail(fn, 'options.recalibrate', `is true but the model (${model.arch}) has no normalisation statistics to recompute (no recalibrate method or no BatchNorm)`);
  const given = options['recalibrationData'];
  let images: tf.Tensor4D | undefined;
  if (given !== undefined && given !== 'evaluation') {
    const x: unknown = given instanceof tf.Tensor ? given : (given as Partial<DataLike> | null)?.x;
    if (!(x instanceof tf.Tensor) || x.rank !== 4) return fail(fn, 'options.recalibrationData', `must be a data set {x, y}, images [N, H, W, C] or 'evaluation', got ${formatValue(given)}`);
    if (x.isDisposed) fail(fn, 'options.recalibrationData', 'is a disposed tensor');
    const want = data.x.shape.slice(1);
    if (x.shape.slice(1).some((d: number, i: number) => d !== want[i])) throw new ShapeMismatchError(fn, 'options.recalibrationData', `has images ${shapeStr(x.shape)} but data has ${shapeStr(data.x.shape)}; the images must have the same size and channels`);
    images = x as tf.Tensor4D;
  }
  if (typeof rec === 'function') {
    const arg = policy.functionArgument!;
    return { info: { recalibrated: true, source: 'function', examples: null }, prepare: (m, i) => (rec as (m: Model, a: unknown) => void | Promise<void>)(m, arg(i)) };
  }
  if (rec === false || !canRecalibrate(model)) return { info: NOT_RECALIBRATED };
  if (given === undefined && policy.whenMissing === 'required') {
    fail(
      fn,
      'options.recalibrationData',
      `is required for a model with BatchNorm (${model.arch}): pass the training data (a data set or its images) to recompute the statistics of every evaluated model on, as the paper does; 'evaluation' to use the evaluated data instead (with a warning); or recalibrate: false not to recompute them`,
    );
  }
  const source: RecalibrationSource = images ? 'recalibrationData' : 'evaluation';
  const x = images ?? data.x;
  const warning = source === 'evaluation' ? policy.evaluationWarning : undefined;
  const info: RecalibrationInfo = { recalibrated: true, source, examples: x.shape[0], ...(warning ? { warning } : {}) };
  return { info, prepare: (m) => (m as Model & WithBuffers).recalibrate(x, { batchSize: policy.batchSize }) };
}

/**
 * Checks that two models (or weight maps) have the same parameter names and shapes; returns the
 * names in order. Throws naming the first difference.
 */
export function checkSameParameters(fn: string, argA: string, a: ReadonlyMap<string, tf.Tensor>, argB: string, b: ReadonlyMap<string, tf.Tensor>): string[] {
  for (const [k, v] of a) {
    const w = b.get(k);
    if (w === undefined) throw new ShapeMismatchError(fn, argB, `has no parameter '${k}' (which ${argA} has); both must be the same architecture`);
    if (v.shape.length !== w.shape.length || v.shape.some((d, i) => d !== w.shape[i])) {
      throw new ShapeMismatchError(fn, argB, `has '${k}' of shape ${shapeStr(w.shape)} but ${argA} has ${shapeStr(v.shape)}`);
    }
  }
  for (const k of b.keys()) if (!a.has(k)) throw new ShapeMismatchError(fn, argA, `has no parameter '${k}' (which ${argB} has); both must be the same architecture`);
  return [...a.keys()];
}

export interface EvaluateSettingsOptions {
  /** Examples per forward pass. */
  readonly batchSize: number;
  /** Settings evaluated per pass over the data (model clones held at once). */
  readonly group: number;
  /** Called on each clone after its weights are set and before it is evaluated (e.g. BatchNorm recalibration). */
  readonly prepare?: (model: Model, index: number) => void | Promise<void>;
  /** Also return each example's loss (for bootstrap intervals over examples). Default false. */
  readonly perExample?: boolean;
}

/**
 * Evaluates `count` settings made on demand by `make(i)` (the helper disposes what `make`
 * returns once it is loaded into a clone). Returns mean cross-entropy and accuracy per setting.
 */
export async function evaluateSettings(base: Model, count: number, make: (i: number) => WeightSetting, data: DataLike, options: EvaluateSettingsOptions): Promise<GridPoint[]> {
  const n = data.x.shape[0];
  const out: GridPoint[] = [];
  const clones: Model[] = [];
  try {
    for (let g0 = 0; g0 < count; g0 += options.group) {
      const g1 = Math.min(count, g0 + options.group);
      while (clones.length < g1 - g0) clones.push(base.clone());
      for (let i = g0; i < g1; i++) {
        const model = clones[i - g0]!;
        const s = make(i);
        try {
          model.setWeights(s.weights);
          if (s.buffers && hasBuffers(model)) model.setBuffers(s.buffers);
        } finally {
          tf.dispose([...s.weights.values(), ...(s.buffers ? s.buffers.values() : [])]);
        }
        if (options.prepare) await options.prepare(model, i);
      }
      const sums: tf.Scalar[] = [];
      const perExample: tf.Tensor1D[][] = Array.from({ length: g1 - g0 }, () => []);
      try {
        for (let k = 0; k < g1 - g0; k++) sums.push(tf.scalar(0), tf.scalar(0));
        for (let s = 0; s < n; s += options.batchSize) {
          const b = Math.min(options.batchSize, n - s);
          tf.tidy(() => {
            const xb = tf.slice(data.x, [s, 0, 0, 0], [b, -1, -1, -1]);
            const yb = (data.y.rank === 2 ? tf.slice(data.y, [s, 0], [b, -1]) : tf.slice(data.y, [s], [b])) as tf.Tensor1D | tf.Tensor2D;
            for (let k = 0; k < g1 - g0; k++) {
              const { logits, activations } = clones[k]!.forward(xb);
              tf.dispose([...activations.values()]);
              const r = lossAndCorrect(logits, yb);
              if (options.perExample) perExample[k]!.push(tf.keep(exampleLosses(logits, yb)));
              const l = tf.add(sums[2 * k]!, r.lossSum) as tf.Scalar;
              const c = tf.add(sums[2 * k + 1]!, r.correct) as tf.Scalar;
              sums[2 * k]!.dispose();
              sums[2 * k + 1]!.dispose();
              sums[2 * k] = tf.keep(l);
              sums[2 * k + 1] = tf.keep(c);
            }
          });
        }
        const packed = tf.stack(sums);
        let values: Float32Array;
        try {
          values = (await packed.data()) as Float32Array;
        } finally {
          packed.dispose();
        }
        for (let k = 0; k < g1 - g0; k++) {
          let losses: Float32Array | undefined;
          if (options.perExample) {
            const all = tf.concat(perExample[k]!);
            try {
              losses = (await all.data()) as Float32Array;
            } finally {
              all.dispose();
            }
          }
          out.push({ loss: values[2 * k]! / n, accuracy: values[2 * k + 1]! / n, ...(losses ? { losses } : {}) });
        }
      } finally {
        tf.dispose(sums);
        tf.dispose(perExample.flat());
      }
    }
  } finally {
    for (const c of clones) c.dispose();
  }
  return out;
}


/** The cross-entropy of each example (labels int32 [B] or one-hot [B, K]). */
function exampleLosses(logits: tf.Tensor2D, y: tf.Tensor1D | tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const onehot = y.rank === 2 ? (y as tf.Tensor2D) : tf.oneHot(y as tf.Tensor1D, logits.shape[1]);
    return tf.neg(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)), 1)) as tf.Tensor1D;
  });
}
