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
import { shapeStr } from './validate';

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
