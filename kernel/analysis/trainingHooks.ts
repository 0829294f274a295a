/**
 * What happens around the optimisation steps of `tl.train` and its kin, one concern per hook, in
 * the manner of tfjs-layers callbacks: precise BatchNorm statistics, validation and checkpoints at
 * the end of each epoch, the history of the run and the live progress display at each logged
 * point. `runTraining` (./train.ts) composes them from the options; each event is delivered to the
 * hooks in the order listed there (precise BatchNorm before validation and checkpoints, history
 * before progress) and awaited.
 */
import { tf } from './tfjs';
import type { Model } from './modelContract';
import type { DataLike } from './dataset';
import { isDataStream, type DataStream } from './dataStream';
import { Checkpoint, saveCheckpoint } from './checkpointFiles';
import { evaluate, type Evaluation } from './evaluation';
import type { HistoryPoint, ProgressGroup, RunRecord } from './progressGroup';

/** A history point being built: end-of-epoch hooks may add to it (validation metrics). */
export type PendingPoint = { -readonly [K in keyof HistoryPoint]: HistoryPoint[K] };

/** What the end of an epoch hands to the hooks. */
export interface EpochEnd {
  /** Epochs completed (1-based). */
  readonly epoch: number;
  /** The order in which the epoch visited the training examples. */
  readonly order: Int32Array;
  /** The epoch's last history point, not yet published to {@link TrainingHook.onHistoryPoint}. */
  readonly point: PendingPoint;
}

/**
 * One concern of a training run. Every method is optional; the loop awaits each in turn. Points
 * are logged `pointsPerEpoch` times per epoch or every `readEvery` steps (the loss is read back
 * from the device only then, and a point within an epoch is published once the next read-back is
 * under way), so `onHistoryPoint` plays the part of tfjs's `onBatchEnd` without a read-back every
 * step. Hooks must not read tensors back themselves except at the end of an epoch.
 */
export interface TrainingHook {
  /** Before the first step. */
  onTrainBegin?(): void | Promise<void>;
  /** After the last step of an epoch, before that epoch's point is published. */
  onEpochEnd?(end: EpochEnd): void | Promise<void>;
  /** After each logged point (for an epoch's last point, after every hook's `onEpochEnd`). */
  onHistoryPoint?(point: HistoryPoint): void | Promise<void>;
  /** After the last epoch, when training succeeded. */
  onTrainEnd?(): void | Promise<void>;
  /** When training failed: frees what the hook kept for the run. */
  onTrainError?(): void;
}

/**
 * "Precise BatchNorm": recomputes the normalisation statistics as exact averages over the first
 * `examples` training examples of the epoch's order (running averages lag behind fast-moving
 * weights). Undefined for models without normalisation statistics.
 */
export function preciseBatchNorm(model: Model, data: DataLike | DataStream, examples: number, batchSize: number): TrainingHook | undefined {
  if (!model.recalibrate || (model.buffers?.size ?? 0) === 0) return undefined;
  if (isDataStream(data)) return preciseBatchNormStream(model, data, examples, batchSize);
  const n = data.x.shape[0];
  return {
    onEpochEnd({ order }) {
      const m = Math.min(n, examples);
      const sample = tf.tidy(() => tf.gather(data.x, tf.tensor1d(order.subarray(0, m), 'int32')) as tf.Tensor4D);
      try {
        model.recalibrate!(sample, { batchSize });
      } finally {
        sample.dispose();
      }
    },
  };
}

/**
 * Precise BatchNorm on a stream: the first `examples` examples of the epoch just finished (the
 * same images and augmentations it began with), decoded again and held while recomputing, so
 * the memory is `examples` images (lower `recalibrateNorm` for large images).
 */
function preciseBatchNormStream(model: Model, data: DataStream, examples: number, batchSize: number): TrainingHook {
  return {
    async onEpochEnd({ epoch }) {
      const parts: tf.Tensor4D[] = [];
      let m = 0;
      try {
        for await (const { x, y } of data.batches({ epoch: epoch - 1 })) {
          y.dispose();
          parts.push(m + x.shape[0] > examples ? (tf.tidy(() => tf.slice(x, 0, examples - m)) as tf.Tensor4D) : x);
          if (parts[parts.length - 1] !== x) x.dispose();
          m += parts[parts.length - 1]!.shape[0];
          if (m >= examples) break;
        }
        const sample = parts.length === 1 ? parts[0]! : (tf.concat(parts) as tf.Tensor4D);
        try {
          model.recalibrate!(sample, { batchSize });
        } finally {
          if (parts.length > 1) sample.dispose();
        }
      } finally {
        tf.dispose(parts);
      }
    },
  };
}

/** Evaluates the model on `data` at the end of every epoch and adds the metrics to the epoch's point. */
export class ValidationHook implements TrainingHook {
  /** The metrics after the latest epoch. */
  last: Evaluation | undefined;

  constructor(
    private readonly model: Model,
    private readonly data: DataLike | DataStream,
    private readonly batchSize: number,
  ) {}

  async onEpochEnd({ point }: EpochEnd): Promise<void> {
    // A stream evaluates in its own batches.
    this.last = await evaluate(this.model, this.data, isDataStream(this.data) ? {} : { batchSize: this.batchSize });
    point.valLoss = this.last.loss;
    point.valAccuracy = this.last.accuracy;
  }
}

/**
 * Keeps a {@link Checkpoint} at each epoch of `epochs` (0 = before the first step), and writes it
 * to `<dir>/epoch-<e>` when a folder is given. Frees them if training fails.
 */
export class CheckpointHook implements TrainingHook {
  readonly checkpoints: Checkpoint[] = [];

  constructor(
    private readonly model: Model,
    private readonly label: string,
    private readonly epochs: readonly number[],
    private readonly dir: string | undefined,
  ) {}

  onTrainBegin(): Promise<void> {
    return this.keep(0);
  }

  onEpochEnd({ epoch }: EpochEnd): Promise<void> {
    return this.keep(epoch);
  }

  onTrainError(): void {
    for (const c of this.checkpoints) c.dispose();
  }

  private async keep(epoch: number): Promise<void> {
    if (!this.epochs.includes(epoch)) return;
    const c = Checkpoint.of(this.model, epoch, this.label);
    this.checkpoints.push(c);
    if (this.dir) await saveCheckpoint(c, `${this.dir}/epoch-${epoch}`);
  }
}

/** Records the run's history points and marks the run done at the end. */
export function historyHook(run: RunRecord): TrainingHook {
  return {
    onHistoryPoint(point) {
      run.points.push(point);
    },
    onTrainEnd() {
      run.done = true;
    },
  };
}

/**
 * Updates the live display at each point, and once more at the end so that it shows the run as
 * finished, not running.
 */
export function progressHook(group: ProgressGroup, run: RunRecord, epochs: number, steps: number): TrainingHook {
  return {
    onHistoryPoint(point) {
      group.update(run.label, point, epochs, steps);
    },
    onTrainEnd() {
      const last = run.points.at(-1);
      if (last) group.update(run.label, last, epochs, steps);
    },
  };
}

/** Delivers one event to every hook in order, awaiting each. */
export async function notify(hooks: readonly TrainingHook[], call: (h: TrainingHook) => void | Promise<void>): Promise<void> {
  for (const h of hooks) await call(h);
}
