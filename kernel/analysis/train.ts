/**
 * Training a model: `tl.train` (pre-training with checkpoints at chosen epochs) and the loop every
 * training function shares. Its options are read in ./trainingOptions.ts; P-T and RI-T
 * (`tl.fineTune`, `tl.trainFromScratch`, `tl.compareTransfer`) are in ./transfer.ts; evaluation
 * (`tl.evaluate`) in ./evaluation.ts.
 *
 * The loop is written for throughput and never waits for the device per step: batches are
 * double-buffered (the next one is gathered on the backend, or decoded and uploaded from a stream,
 * before the current step is queued), the loss and accuracy are accumulated on the backend and
 * read back asynchronously only when a point of the history is logged (`pointsPerEpoch` times per
 * epoch or every `readEvery` steps; a read-back is awaited at the next one, so the steps between
 * are queued meanwhile), and SGD/Adam updates are plain tensor ops on the model's variables
 * (./optimizers.ts).
 * Everything else a run does (precise BatchNorm, validation, checkpoints, history, progress) is a
 * hook (./trainingHooks.ts) that `runTraining` composes from the options.
 */
import { tf } from './tfjs';
import { DISPLAY } from './display';
import type { Model } from './modelContract';
import { TrainingDivergedError } from './errors';
import { checkData, type DataLike } from './dataset';
import { checkStream, isDataStream, type Batch, type DataStream } from './dataStream';
import { ensureBackend } from './backends';
import { fail } from './validate';
import { Checkpoint } from './checkpointFiles';
import { permutation } from './random';
import { trainingBundle } from './progress';
import { checkDataFitsModel, checkModel, checkStreamFitsModel, type Evaluation } from './evaluation';
import { createOptimizer } from './optimizers';
import { ProgressGroup, payloadPoint, type HistoryPoint } from './progressGroup';
import { CheckpointHook, historyHook, notify, preciseBatchNorm, progressHook, ValidationHook, type PendingPoint, type TrainingHook } from './trainingHooks';
import type { MimeBundle, TrainingPayload } from '../protocol/mime';
import { learningRate, resolveTrainOptions, type ResolvedTrainOptions, type TrainOptions } from './trainingOptions';

export { checkDataFitsModel, checkModel, evaluate, lossAndCorrect } from './evaluation';
export type { EvaluateOptions, Evaluation } from './evaluation';
export type { HistoryPoint } from './progressGroup';
export { learningRate } from './trainingOptions';
export type { Schedule, TrainOptions } from './trainingOptions';

/**
 * A finished training run: the model, its history, its checkpoints (including the initial
 * weights θ⁰, which module criticality rewinds to), and final metrics. Displays its curves.
 * `dispose()` frees the checkpoints, and the model when the run created it (fineTune,
 * trainFromScratch); a model you passed to `tl.train` stays yours.
 */
export class TrainingRun {
  private disposed = false;

  constructor(
    readonly label: string,
    readonly model: Model,
    readonly history: readonly HistoryPoint[],
    /** Snapshot before the first step (θ⁰). */
    readonly initial: Checkpoint,
    /** Snapshots at the epochs asked for in `options.checkpoints`. */
    readonly checkpoints: readonly Checkpoint[],
    /** Validation metrics after the last epoch (when validation data was given). */
    readonly validation: Evaluation | undefined,
    readonly seconds: number,
    readonly examplesPerSecond: number,
    private readonly ownsModel: boolean,
  ) {}

  /** The last logged training loss and accuracy. */
  get final(): HistoryPoint | undefined {
    return this.history[this.history.length - 1];
  }

  /** The checkpoint after `epoch` epochs. */
  checkpoint(epoch: number): Checkpoint {
    const c = epoch === 0 ? (this.checkpoints.find((k) => k.epoch === 0) ?? this.initial) : this.checkpoints.find((k) => k.epoch === epoch);
    if (!c) fail('TrainingRun.checkpoint', 'epoch', `${epoch} has no checkpoint; available: ${[0, ...this.checkpoints.map((k) => k.epoch)].filter((e, i, a) => a.indexOf(e) === i).join(', ')}`);
    return c;
  }

  payload(): TrainingPayload {
    return { title: this.label, runs: [{ label: this.label, points: this.history.map(payloadPoint), done: true }] };
  }

  toString(): string {
    const f = this.final;
    const v = this.validation;
    return `${this.label}: ${this.history.length ? `${f!.epoch} epochs, loss ${f!.loss.toFixed(4)}, train acc ${(f!.accuracy * 100).toFixed(1)}%` : 'no steps'}` +
      `${v ? `, validation acc ${(v.accuracy * 100).toFixed(1)}% (loss ${v.loss.toFixed(4)})` : ''} · ${Math.round(this.examplesPerSecond)} ex/s · ${this.seconds.toFixed(1)} s`;
  }

  [DISPLAY](): MimeBundle {
    return { ...trainingBundle(this.payload()), 'text/plain': this.toString() };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.initial.dispose();
    for (const c of this.checkpoints) c.dispose();
    if (this.ownsModel) this.model.dispose();
  }
}
export async function runTraining(fn: string, model: Model, data: DataLike | DataStream, o: ResolvedTrainOptions, group: ProgressGroup, ownsModel: boolean): Promise<TrainingRun> {
  // A stream brings its own batches (its batch size, order and augmentations, seeded by epoch).
  const stream = isDataStream(data) ? data : undefined;
  const { n } = stream ? checkStream(fn, 'data', stream) : checkData(fn, 'data', data as DataLike);
  const started = performance.now();
  const B = stream ? stream.batchSize : Math.min(o.batchSize, n);
  const stepsPerEpoch = Math.ceil(n / B);
  const steps = o.epochs * stepsPerEpoch;
  // Steps (1-based, within an epoch) after which the sums are read back and a history point is
  // logged: every `readEvery` steps, or `pointsPerEpoch` evenly spaced; always the epoch's last.
  const logAt = new Set(logSteps(stepsPerEpoch, o.readEvery, o.pointsPerEpoch));
  const vars = [...model.variables.entries()].filter(([, v]) => v.trainable);
  const varList = vars.map(([, v]) => v);
  const run = group.addRun(o.label);
  const initial = Checkpoint.of(model, 0, o.label);
  // The order matters: statistics are recalibrated before validation and checkpoints see them,
  // and a point is recorded before the display shows it.
  const validation = o.validation ? new ValidationHook(model, o.validation, o.evalBatchSize) : undefined;
  const checkpoints = new CheckpointHook(model, o.label, o.checkpoints, o.checkpointDir);
  const hooks: TrainingHook[] = [
    ...(o.recalibrateNorm !== false ? [preciseBatchNorm(model, data, o.recalibrateNorm, o.evalBatchSize)] : []),
    validation,
    checkpoints,
    historyHook(run),
    progressHook(group, run, o.epochs, steps),
  ].filter((h): h is TrainingHook => h !== undefined);
  const optimizer = createOptimizer(o);
  const inMemory = stream ? undefined : (data as DataLike);
  const labels = inMemory === undefined ? undefined : inMemory.y.rank === 2 ? (tf.argMax(inMemory.y, 1) as tf.Tensor1D) : (inMemory.y as tf.Tensor1D);
  let lossAcc = tf.scalar(0);
  let correctAcc = tf.scalar(0);
  let seen = 0;
  let intervalStart = performance.now();
  let trainedSeconds = 0;
  // The read-back in flight: started at one logged step, awaited at the next (or at the end of
  // the epoch), so that the steps in between are queued while the device finishes the earlier ones.
  let inFlight: SumsRead | undefined;
  // Waits for a read-back and turns it into a history point.
  const settle = async (r: SumsRead): Promise<PendingPoint> => {
    let sums: ArrayLike<number>;
    try {
      sums = await r.values;
    } finally {
      tf.dispose(r.sums);
    }
    const now = performance.now();
    const seconds = (now - intervalStart) / 1000;
    trainedSeconds += seconds;
    intervalStart = now;
    const loss = sums[0]! / r.seen;
    if (!Number.isFinite(loss)) {
      throw new TrainingDivergedError(`${fn}: run '${o.label}' diverged at epoch ${Math.ceil(r.epoch)}, step ${r.step} (loss ${loss}); try a smaller learning rate than ${o.lr}`);
    }
    return { epoch: r.epoch, step: r.step, loss, accuracy: sums[1]! / r.seen, examplesPerSecond: r.seen / seconds, lr: r.lr };
  };
  try {
    await notify(hooks, (h) => h.onTrainBegin?.());
    let step = 0;
    for (let epoch = 0; epoch < o.epochs; epoch++) {
      const order = stream ? new Int32Array(0) : permutation(n, (Math.imul(o.seed, 0x9e3779b1) ^ epoch) >>> 0);
      const source = stream?.batches({ epoch });
      // Double-buffered batches: batch s + 1 is asked for (a stream decodes and uploads it; in
      // memory its indices are uploaded and its examples gathered) before step s is queued.
      const fetch = (s: number): Promise<Batch> => {
        const p: Promise<Batch> = source
          ? source.next().then((next) => {
              if (next.done) fail(fn, 'data', `ended after ${s} batches of epoch ${epoch + 1}; its length ${n} and batch size ${B} promise ${stepsPerEpoch}`);
              return next.value;
            })
          : Promise.resolve(
              tf.tidy(() => {
                const it = tf.tensor1d(order.subarray(s * B, Math.min(n, (s + 1) * B)), 'int32');
                return { x: tf.gather(inMemory!.x, it) as tf.Tensor4D, y: tf.gather(labels!, it) as tf.Tensor1D };
              }),
            );
        // A batch fetched ahead may fail while the loop awaits something else; it is awaited later.
        p.catch(() => undefined);
        return p;
      };
      let ahead: Promise<Batch> | undefined = fetch(0);
      try {
        for (let s = 0; s < stepsPerEpoch; s++, step++) {
          const batch = await ahead!;
          ahead = s + 1 < stepsPerEpoch ? fetch(s + 1) : undefined;
          const size = batch.x.shape[0];
          const lr = learningRate(o.schedule, o.lr, step, steps, stepsPerEpoch);
          let sums: tf.Tensor[];
          try {
            sums = tf.tidy(() => {
              const onehot = tf.oneHot(batch.y, model.numClasses);
              let correct: tf.Scalar | undefined;
              const { value, grads } = tf.variableGrads(() => {
                const { logits } = model.forward(batch.x, { training: true });
                correct = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), batch.y), 'float32')) as tf.Scalar);
                return tf.losses.softmaxCrossEntropy(onehot, logits) as tf.Scalar;
              }, varList);
              optimizer.step(vars, grads, lr);
              const sums = [tf.add(lossAcc, tf.mul(value, size)), tf.add(correctAcc, correct!)];
              correct!.dispose();
              return sums;
            });
          } finally {
            tf.dispose([batch.x, batch.y]);
          }
          const [l, c] = sums;
          lossAcc.dispose();
          correctAcc.dispose();
          lossAcc = l as tf.Scalar;
          correctAcc = c as tf.Scalar;
          seen += size;
          if (!logAt.has(s + 1)) continue;
          const endOfEpoch = s === stepsPerEpoch - 1;
          // Start reading these sums (one read-back for both); new sums accumulate from zero meanwhile.
          const both = tf.stack([lossAcc, correctAcc]);
          const values = both.data();
          values.catch(() => undefined);
          tf.dispose([lossAcc, correctAcc]);
          const read: SumsRead = {
            values,
            sums: both,
            epoch: endOfEpoch ? epoch + 1 : +(epoch + (s + 1) / stepsPerEpoch).toFixed(4),
            step: step + 1,
            seen,
            lr,
          };
          lossAcc = tf.scalar(0);
          correctAcc = tf.scalar(0);
          seen = 0;
          const earlier = inFlight;
          inFlight = read;
          if (earlier) {
            const point = await settle(earlier);
            await notify(hooks, (h) => h.onHistoryPoint?.(point));
          }
          if (!endOfEpoch) continue;
          inFlight = undefined;
          const point = await settle(read);
          await notify(hooks, (h) => h.onEpochEnd?.({ epoch: epoch + 1, order, point }));
          await notify(hooks, (h) => h.onHistoryPoint?.(point));
          // Validation and checkpoint time is not training time.
          intervalStart = performance.now();
        }
      } finally {
        // A batch fetched ahead of a step that never ran (training stopped early) is freed.
        const unused = await ahead?.catch(() => undefined);
        if (unused) tf.dispose([unused.x, unused.y]);
        // Stops the stream's decoding when training stops early.
        await source?.return(undefined);
      }
    }
    await notify(hooks, (h) => h.onTrainEnd?.());
    const totalExamples = n * o.epochs;
    return new TrainingRun(o.label, model, run.points, initial, checkpoints.checkpoints, validation?.last, (performance.now() - started) / 1000, totalExamples / trainedSeconds, ownsModel);
  } catch (e) {
    initial.dispose();
    for (const h of hooks) h.onTrainError?.();
    throw e;
  } finally {
    optimizer.dispose();
    lossAcc.dispose();
    correctAcc.dispose();
    if (inFlight) {
      await inFlight.values.catch(() => undefined);
      tf.dispose(inFlight.sums);
    }
    if (labels !== undefined && labels !== inMemory?.y) labels.dispose();
  }
}

/** A read-back of the loss and accuracy sums, started at a logged step. */
interface SumsRead {
  /** [loss sum, correct count]. */
  readonly values: Promise<ArrayLike<number>>;
  /** The sums being read (freed once read). */
  readonly sums: tf.Tensor;
  /** The point's epoch (fractional within an epoch), global step (1-based), examples, learning rate. */
  readonly epoch: number;
  readonly step: number;
  readonly seen: number;
  readonly lr: number;
}

/**
 * The steps of an epoch (1-based) after which the sums are read back: every `readEvery` steps,
 * else `pointsPerEpoch` evenly spaced ones; the epoch's last step always.
 */
export function logSteps(stepsPerEpoch: number, readEvery: number | undefined, pointsPerEpoch: number): number[] {
  if (readEvery !== undefined) {
    const at = Array.from({ length: Math.floor((stepsPerEpoch - 1) / readEvery) }, (_, k) => (k + 1) * readEvery);
    return [...at, stepsPerEpoch];
  }
  const points = Math.min(pointsPerEpoch, stepsPerEpoch);
  return Array.from({ length: points }, (_, k) => Math.round((stepsPerEpoch * (k + 1)) / points));
}

export function checkTrainInputs(fn: string, model: Model, data: DataLike | DataStream, o: ResolvedTrainOptions): void {
  if (isDataStream(data)) {
    const { numClasses } = checkStream(fn, 'data', data);
    checkStreamFitsModel(fn, model, data, numClasses);
    if (o.batchSizeGiven && o.batchSize !== data.batchSize) fail(fn, 'options.batchSize', `is ${o.batchSize} but the stream's batches hold ${data.batchSize}; set the batch size on the stream (tl.data.imageFolder(dir, {batchSize}))`);
  } else {
    const { numClasses } = checkData(fn, 'data', data);
    checkDataFitsModel(fn, model, data, numClasses);
  }
  if (![...model.variables.values()].some((v) => v.trainable)) fail(fn, 'model', `(${model.arch}) has no trainable parameters (a graph model keeps its weights inside the graph; load a layers model to train)`);
  if (isDataStream(o.validation)) {
    const v = checkStream(fn, 'options.validation', o.validation);
    checkStreamFitsModel(fn, model, o.validation, v.numClasses);
  } else if (o.validation !== undefined) {
    const v = checkData(fn, 'options.validation', o.validation);
    checkDataFitsModel(fn, model, o.validation, v.numClasses);
  }
}

/**
 * Trains `model` in place on `data` (softmax cross-entropy), with live progress, optional
 * validation every epoch and checkpoints at chosen epochs. Use it to pre-train on the source.
 * `data` (and `options.validation`) may be a stream (`tl.data.imageFolder`): then the stream's
 * batches, order and augmentations are used, pass `epoch` of it for epoch `epoch`.
 *
 * @example
 * ```ts
 * const model = tl.resnet({inputShape: [28, 28, 1], numClasses: 10, seed: 0});
 * const pre = await tl.train(model, source, {epochs: 10, lr: 0.05, schedule: 'cosine', checkpoints: [0, 1, 2, 5, 10], validation: sourceTest});
 * pre.checkpoint(2); // the model after two epochs
 * // or streamed from a folder larger than memory, with augmentation:
 * const folder = await tl.data.imageFolder('data/train', {size: [28, 28], channels: 1, batchSize: 64, shuffle: true, augment: true});
 * await tl.train(tl.cnn({inputShape: [28, 28, 1], numClasses: folder.classes.length}), folder, {epochs: 2});
 * ```
 */
export async function train(model: Model, data: DataLike | DataStream, options: TrainOptions = {}): Promise<TrainingRun> {
  const fn = 'tl.train';
  checkModel(fn, 'model', model);
  const o = resolveTrainOptions(fn, options, [], 'train');
  checkTrainInputs(fn, model, data, o);
  await ensureBackend();
  const group = new ProgressGroup(o.label, o.progress);
  try {
    return await runTraining(fn, model, data, o, group, false);
  } finally {
    group.done();
  }
}

/** Trains a model this call created (P-T's copy, RI-T's fresh one); disposes it on failure. */
export async function trainOwnedModel(fn: string, model: Model, target: DataLike | DataStream, o: ResolvedTrainOptions): Promise<TrainingRun> {
  try {
    checkTrainInputs(fn, model, target, o);
    await ensureBackend();
  } catch (e) {
    model.dispose();
    throw e;
  }
  const group = new ProgressGroup(o.label, o.progress);
  try {
    return await runTraining(fn, model, target, o, group, true);
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    group.done();
  }
}

