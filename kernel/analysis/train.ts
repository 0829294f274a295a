/**
 * Training and evaluation: `tl.train` (pre-training with checkpoints at chosen epochs),
 * `tl.fineTune` (P-T: from a pre-trained model or checkpoint, classifier re-initialised when the
 * class counts differ or on request), `tl.trainFromScratch` (RI-T: the same architecture, random
 * initialisation), `tl.compareTransfer` (P-T and RI-T over several seeds) and `tl.evaluate`.
 *
 * The loop is written for throughput: batches are gathered on the backend, the loss and accuracy
 * are accumulated there and read back only when a point of the history is logged (a few times per
 * epoch), and SGD/Adam updates are plain tensor ops on the model's variables (./optimizers.ts).
 * Everything else a run does (precise BatchNorm, validation, checkpoints, history, progress) is a
 * hook (./trainingHooks.ts) that `runTraining` composes from the options.
 */
import { tf } from './tfjs';
import { DISPLAY } from './display';
import type { Model } from './modelContract';
import { ShapeMismatchError, TrainingDivergedError } from './errors';
import { checkData, type DataLike } from './dataset';
import { checkInteger, checkKeys, checkNumber, checkObject, checkOneOf, checkSeed, formatValue, fail } from './validate';
import { ensureBackend } from './backends';
import { Checkpoint } from './checkpointFiles';
import { isNetModel, modelFromConfig, type ModelConfig } from './netModel';
import { permutation } from './random';
import { trainingBundle, type Progress } from './progress';
import { checkDataFitsModel, checkModel, evaluate, type Evaluation } from './evaluation';
import { createOptimizer, OptimizerName } from './optimizers';
import { ProgressGroup, payloadPoint, type HistoryPoint } from './progressGroup';
import { CheckpointHook, historyHook, notify, preciseBatchNorm, progressHook, ValidationHook, type PendingPoint, type TrainingHook } from './trainingHooks';
import type { MimeBundle, TrainingPayload } from '../protocol/mime';

export { checkDataFitsModel, checkModel, evaluate, lossAndCorrect } from './evaluation';
export type { EvaluateOptions, Evaluation } from './evaluation';
export type { HistoryPoint } from './progressGroup';

/** Learning-rate schedule over the whole run. */
export type Schedule =
  | 'constant'
  /** lr · ½(1 + cos(π · step / steps)). */
  | 'cosine'
  /** lr · gamma^⌊epoch / every⌋ (gamma default 0.1). */
  | { readonly type: 'step'; readonly every: number; readonly gamma?: number };

export interface TrainOptions {
  /** Default 5. */
  readonly epochs?: number;
  /** Default 64. */
  readonly batchSize?: number;
  /** Initial learning rate, default 0.05 (sgd) or 0.001 (adam). */
  readonly lr?: number;
  /** 'sgd' (with momentum) or 'adam'. Default 'sgd'. */
  readonly optimizer?: OptimizerName;
  /** SGD momentum, default 0.9. */
  readonly momentum?: number;
  /** Decoupled weight decay per step (w ← w − lr·wd·w), default 0. */
  readonly weightDecay?: number;
  /** Default 'constant'. */
  readonly schedule?: Schedule;
  /** Seed of the data order, default 0. */
  readonly seed?: number;
  /** Evaluated at the end of every epoch (loss, accuracy). */
  readonly validation?: DataLike;
  /** Epochs after which to keep a checkpoint (0 = before training), e.g. [0, 1, 2, 5]. */
  readonly checkpoints?: readonly number[];
  /** Also write each checkpoint to `<checkpointDir>/epoch-<e>`. */
  readonly checkpointDir?: string;
  /** Name of the run in progress and plots. */
  readonly label?: string;
  /** Live progress: true (default: notebook display or stderr), false, or your own Progress. */
  readonly progress?: boolean | Progress;
  /** History points per epoch, default 4. */
  readonly pointsPerEpoch?: number;
  /** Batch size for validation, default 256. */
  readonly evalBatchSize?: number;
  /**
   * Normalisation statistics at the end of every epoch ("precise BatchNorm"): the number of
   * training examples over which BatchNorm running statistics are recomputed exactly (default
   * 2048), or false to keep the running averages. Running averages lag behind weights that move
   * fast (large learning rates, few steps), which makes evaluation far worse than training;
   * training itself is unaffected (it uses batch statistics). Models without BatchNorm ignore it.
   */
  readonly recalibrateNorm?: number | false;
}

const TRAIN_KEYS = [
  'epochs', 'batchSize', 'lr', 'optimizer', 'momentum', 'weightDecay', 'schedule', 'seed', 'validation',
  'checkpoints', 'checkpointDir', 'label', 'progress', 'pointsPerEpoch', 'evalBatchSize', 'recalibrateNorm',
] as const;

interface Resolved {
  epochs: number;
  batchSize: number;
  lr: number;
  optimizer: OptimizerName;
  momentum: number;
  weightDecay: number;
  schedule: Schedule;
  seed: number;
  validation: DataLike | undefined;
  checkpoints: number[];
  checkpointDir: string | undefined;
  label: string;
  progress: boolean | Progress;
  pointsPerEpoch: number;
  evalBatchSize: number;
  recalibrateNorm: number | false;
}

function resolveOptions(fn: string, options: unknown, extraKeys: readonly string[], defaultLabel: string): Resolved {
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, [...TRAIN_KEYS, ...extraKeys]);
  const epochs = checkInteger(fn, 'options.epochs', o['epochs'] ?? 5, 1, 100000);
  const optimizer = checkOneOf(fn, 'options.optimizer', o['optimizer'] ?? OptimizerName.sgd, Object.values(OptimizerName));
  const schedule = (o['schedule'] ?? 'constant') as Schedule;
  if (schedule !== 'constant' && schedule !== 'cosine') {
    if (schedule === null || typeof schedule !== 'object' || schedule.type !== 'step') {
      fail(fn, 'options.schedule', `must be 'constant', 'cosine' or {type: 'step', every, gamma?}, got ${formatValue(schedule)}`);
    }
    checkInteger(fn, 'options.schedule.every', schedule.every, 1);
    if (schedule.gamma !== undefined) checkNumber(fn, 'options.schedule.gamma', schedule.gamma, 0, 1);
  }
  const checkpoints = (o['checkpoints'] ?? []) as number[];
  if (!Array.isArray(checkpoints)) fail(fn, 'options.checkpoints', `must be an array of epochs, got ${formatValue(checkpoints)}`);
  checkpoints.forEach((e, i) => checkInteger(fn, `options.checkpoints[${i}]`, e, 0, epochs));
  if (o['checkpointDir'] !== undefined && (typeof o['checkpointDir'] !== 'string' || o['checkpointDir'] === '')) {
    fail(fn, 'options.checkpointDir', `must be a folder path, got ${formatValue(o['checkpointDir'])}`);
  }
  const progress = o['progress'] ?? true;
  if (typeof progress !== 'boolean' && (progress === null || typeof progress !== 'object' || typeof (progress as Progress).update !== 'function')) {
    fail(fn, 'options.progress', `must be a boolean or {update, done}, got ${formatValue(progress)}`);
  }
  if (o['label'] !== undefined && typeof o['label'] !== 'string') fail(fn, 'options.label', `must be a string, got ${formatValue(o['label'])}`);
  return {
    epochs,
    batchSize: checkInteger(fn, 'options.batchSize', o['batchSize'] ?? 64, 1),
    lr: checkNumber(fn, 'options.lr', o['lr'] ?? (optimizer === OptimizerName.adam ? 0.001 : 0.05), 0, 100),
    optimizer,
    momentum: checkNumber(fn, 'options.momentum', o['momentum'] ?? 0.9, 0, 1),
    weightDecay: checkNumber(fn, 'options.weightDecay', o['weightDecay'] ?? 0, 0, 1),
    schedule,
    seed: checkSeed(fn, 'options.seed', o['seed'] ?? 0),
    validation: o['validation'] as DataLike | undefined,
    checkpoints: [...new Set(checkpoints)].sort((a, b) => a - b),
    checkpointDir: o['checkpointDir'] as string | undefined,
    label: (o['label'] as string | undefined) ?? defaultLabel,
    progress: progress as boolean | Progress,
    pointsPerEpoch: checkInteger(fn, 'options.pointsPerEpoch', o['pointsPerEpoch'] ?? 4, 1, 1000),
    evalBatchSize: checkInteger(fn, 'options.evalBatchSize', o['evalBatchSize'] ?? 256, 1),
    recalibrateNorm: o['recalibrateNorm'] === false ? false : checkInteger(fn, 'options.recalibrateNorm', o['recalibrateNorm'] ?? 2048, 1),
  };
}

/** The learning rate at a step (0-based) of a run of `steps` steps, `stepsPerEpoch` per epoch. */
export function learningRate(schedule: Schedule, lr: number, step: number, steps: number, stepsPerEpoch: number): number {
  if (schedule === 'constant') return lr;
  if (schedule === 'cosine') return lr * 0.5 * (1 + Math.cos((Math.PI * step) / steps));
  return lr * (schedule.gamma ?? 0.1) ** Math.floor(step / stepsPerEpoch / schedule.every);
}

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
async function runTraining(fn: string, model: Model, data: DataLike, o: Resolved, group: ProgressGroup, ownsModel: boolean): Promise<TrainingRun> {
  const { n } = checkData(fn, 'data', data);
  const started = performance.now();
  const B = Math.min(o.batchSize, n);
  const stepsPerEpoch = Math.ceil(n / B);
  const steps = o.epochs * stepsPerEpoch;
  // Steps (1-based, within an epoch) after which a history point is logged: evenly spaced, the
  // last at the end of the epoch.
  const logAt = new Set(Array.from({ length: Math.min(o.pointsPerEpoch, stepsPerEpoch) }, (_, k) => Math.round((stepsPerEpoch * (k + 1)) / Math.min(o.pointsPerEpoch, stepsPerEpoch))));
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
  const labels = data.y.rank === 2 ? (tf.argMax(data.y, 1) as tf.Tensor1D) : (data.y as tf.Tensor1D);
  let lossAcc = tf.scalar(0);
  let correctAcc = tf.scalar(0);
  let seen = 0;
  let intervalStart = performance.now();
  let trainedSeconds = 0;
  try {
    await notify(hooks, (h) => h.onTrainBegin?.());
    let step = 0;
    for (let epoch = 0; epoch < o.epochs; epoch++) {
      const order = permutation(n, (Math.imul(o.seed, 0x9e3779b1) ^ epoch) >>> 0);
      for (let s = 0; s < stepsPerEpoch; s++, step++) {
        const idx = order.subarray(s * B, Math.min(n, (s + 1) * B));
        const lr = learningRate(o.schedule, o.lr, step, steps, stepsPerEpoch);
        const [l, c] = tf.tidy(() => {
          const it = tf.tensor1d(idx, 'int32');
          const xb = tf.gather(data.x, it) as tf.Tensor4D;
          const yb = tf.gather(labels, it) as tf.Tensor1D;
          const onehot = tf.oneHot(yb, model.numClasses);
          let correct: tf.Scalar | undefined;
          const { value, grads } = tf.variableGrads(() => {
            const { logits } = model.forward(xb, { training: true });
            correct = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), yb), 'float32')) as tf.Scalar);
            return tf.losses.softmaxCrossEntropy(onehot, logits) as tf.Scalar;
          }, varList);
          optimizer.step(vars, grads, lr);
          const sums = [tf.add(lossAcc, tf.mul(value, idx.length)), tf.add(correctAcc, correct!)];
          correct!.dispose();
          return sums;
        });
        lossAcc.dispose();
        correctAcc.dispose();
        lossAcc = l as tf.Scalar;
        correctAcc = c as tf.Scalar;
        seen += idx.length;
        if (!logAt.has(s + 1)) continue;
        const endOfEpoch = s === stepsPerEpoch - 1;
        const [ls, cs] = await Promise.all([lossAcc.data(), correctAcc.data()]);
        const now = performance.now();
        trainedSeconds += (now - intervalStart) / 1000;
        const loss = ls[0]! / seen;
        if (!Number.isFinite(loss)) {
          throw new TrainingDivergedError(`${fn}: run '${o.label}' diverged at epoch ${epoch + 1}, step ${step + 1} (loss ${loss}); try a smaller learning rate than ${o.lr}`);
        }
        const point: PendingPoint = {
          epoch: endOfEpoch ? epoch + 1 : +(epoch + (s + 1) / stepsPerEpoch).toFixed(4),
          step: step + 1,
          loss,
          accuracy: cs[0]! / seen,
          examplesPerSecond: seen / ((now - intervalStart) / 1000),
          lr,
        };
        lossAcc.dispose();
        correctAcc.dispose();
        lossAcc = tf.scalar(0);
        correctAcc = tf.scalar(0);
        seen = 0;
        if (endOfEpoch) await notify(hooks, (h) => h.onEpochEnd?.({ epoch: epoch + 1, order, point }));
        await notify(hooks, (h) => h.onHistoryPoint?.(point));
        // Validation and checkpoint time is not training time.
        intervalStart = performance.now();
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
    if (labels !== data.y) labels.dispose();
  }
}

function checkTrainInputs(fn: string, model: Model, data: DataLike, o: Resolved): void {
  const { numClasses } = checkData(fn, 'data', data);
  checkDataFitsModel(fn, model, data, numClasses);
  if (o.validation !== undefined) {
    const v = checkData(fn, 'options.validation', o.validation);
    checkDataFitsModel(fn, model, o.validation, v.numClasses);
  }
}

/**
 * Trains `model` in place on `data` (softmax cross-entropy), with live progress, optional
 * validation every epoch and checkpoints at chosen epochs. Use it to pre-train on the source.
 *
 * @example
 * ```ts
 * const model = tl.resnet({inputShape: [28, 28, 1], numClasses: 10, seed: 0});
 * const pre = await tl.train(model, source, {epochs: 10, lr: 0.05, schedule: 'cosine', checkpoints: [0, 1, 2, 5, 10], validation: sourceTest});
 * pre.checkpoint(2); // the model after two epochs
 * ```
 */
export async function train(model: Model, data: DataLike, options: TrainOptions = {}): Promise<TrainingRun> {
  const fn = 'tl.train';
  checkModel(fn, 'model', model);
  const o = resolveOptions(fn, options, [], 'train');
  checkTrainInputs(fn, model, data, o);
  await ensureBackend();
  const group = new ProgressGroup(o.label, o.progress);
  try {
    return await runTraining(fn, model, data, o, group, false);
  } finally {
    group.done();
  }
}

export interface FineTuneOptions extends TrainOptions {
  /** Seed of the classifier re-initialisation and of the data order, default 0. */
  readonly seed?: number;
  /**
   * Re-initialise the classifier `fc`: 'auto' (default) when the target's number of classes
   * differs from the model's, true always (as the paper's P-T), false never.
   */
  readonly reinitHead?: boolean | 'auto';
}

function targetClasses(fn: string, target: DataLike): number {
  const { numClasses } = checkData(fn, 'target', target);
  if (numClasses === undefined) fail(fn, 'target', 'needs classes (a Dataset) or one-hot labels to know the number of classes');
  return numClasses;
}

/**
 * P-T: fine-tunes a copy of a pre-trained model (a model, a checkpoint, or a training run) on the target. The classifier
 * is re-initialised (seeded) when the class counts differ, or always with `reinitHead: true`.
 * The pre-trained model is not modified.
 *
 * @example
 * ```ts
 * const pt = await tl.fineTune(pre.checkpoint(10), target.labelled, {epochs: 5, seed: 1, validation: target.rest});
 * ```
 */
export async function fineTune(pretrained: Model | Checkpoint | TrainingRun, target: DataLike, options: FineTuneOptions = {}): Promise<TrainingRun> {
  const fn = 'tl.fineTune';
  const o = resolveOptions(fn, options, ['reinitHead'], `P-T seed ${options.seed ?? 0}`);
  const reinit = options.reinitHead ?? 'auto';
  if (reinit !== 'auto' && typeof reinit !== 'boolean') fail(fn, 'options.reinitHead', `must be true, false or 'auto', got ${formatValue(reinit)}`);
  const model = startingPoint(fn, pretrained, targetClasses(fn, target), reinit, o.seed);
  return trainOwnedModel(fn, model, target, o);
}

/** Trains a model this call created (P-T's copy, RI-T's fresh one); disposes it on failure. */
async function trainOwnedModel(fn: string, model: Model, target: DataLike, o: Resolved): Promise<TrainingRun> {
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

function startingPoint(fn: string, pretrained: unknown, numClasses: number, reinit: boolean | 'auto', seed: number): Model {
  if (pretrained instanceof TrainingRun) return startingPoint(fn, pretrained.model, numClasses, reinit, seed);
  if (pretrained instanceof Checkpoint) {
    if (pretrained.isDisposed) fail(fn, 'pretrained', 'is a disposed checkpoint');
    const m = pretrained.toModel();
    try {
      return startingPoint(fn, m, numClasses, reinit, seed);
    } finally {
      m.dispose();
    }
  }
  checkModel(fn, 'pretrained', pretrained);
  const differ = pretrained.numClasses !== numClasses;
  if (reinit === false && differ) {
    throw new ShapeMismatchError(fn, 'target', `has ${numClasses} classes but the model has ${pretrained.numClasses} outputs; use reinitHead: 'auto' or true`);
  }
  if (reinit === true || differ) {
    if (!isNetModel(pretrained)) fail(fn, 'pretrained', `must be a model from tl.resnet or tl.cnn to re-initialise its classifier (got ${pretrained.arch})`);
    return pretrained.withNewHead(numClasses, seed);
  }
  return pretrained.clone();
}

/**
 * RI-T: trains the same architecture as `architecture` (a model, checkpoint or config) from a
 * fresh random initialisation (seeded) on the target.
 *
 * @example
 * ```ts
 * const rit = await tl.trainFromScratch(pre.model, target.labelled, {epochs: 5, seed: 1});
 * ```
 */
export async function trainFromScratch(architecture: Model | Checkpoint | TrainingRun | ModelConfig, target: DataLike, options: TrainOptions = {}): Promise<TrainingRun> {
  const fn = 'tl.trainFromScratch';
  const o = resolveOptions(fn, options, [], `RI-T seed ${options.seed ?? 0}`);
  const config = configOf(fn, architecture);
  const model = modelFromConfig({ ...config, numClasses: targetClasses(fn, target), seed: o.seed } as ModelConfig);
  return trainOwnedModel(fn, model, target, o);
}

function configOf(fn: string, a: unknown): ModelConfig {
  if (a instanceof TrainingRun) return configOf(fn, a.model);
  if (a instanceof Checkpoint) {
    if (!a.config) fail(fn, 'architecture', `checkpoint of ${a.arch} has no config (only tl.resnet / tl.cnn models can be rebuilt)`);
    return a.config;
  }
  if (isNetModel(a)) return a.config;
  if (a !== null && typeof a === 'object' && typeof (a as { arch?: unknown }).arch === 'string' && !('forward' in a)) return a as ModelConfig;
  return fail(fn, 'architecture', `must be a model from tl.resnet / tl.cnn, a checkpoint or a model config, got ${formatValue(a)}`);
}

export interface CompareTransferOptions extends TrainOptions {
  /** Seeds; one P-T and one RI-T run per seed. Default [0, 1]. */
  readonly seeds?: readonly number[];
  /** As in {@link fineTune}. */
  readonly reinitHead?: boolean | 'auto';
  /** Also evaluated after training (e.g. the target test set); default options.validation. */
  readonly test?: DataLike;
}

/** P-T and RI-T runs on one target over several seeds. Displays all curves together. */
export class TransferComparison {
  constructor(
    readonly pt: readonly TrainingRun[],
    readonly rit: readonly TrainingRun[],
    /** Test metrics per run, in the order of pt then rit (when test data was given). */
    readonly test: { readonly pt: readonly Evaluation[]; readonly rit: readonly Evaluation[] } | undefined,
    readonly title: string,
  ) {}

  payload(): TrainingPayload {
    return { title: this.title, runs: [...this.pt, ...this.rit].map((r) => ({ label: r.label, points: r.history.map(payloadPoint), done: true })) };
  }

  toString(): string {
    const mean = (xs: readonly Evaluation[]) => xs.reduce((s, e) => s + e.accuracy, 0) / xs.length;
    const lines = [this.title, ...[...this.pt, ...this.rit].map((r) => `  ${r.toString()}`)];
    if (this.test) lines.push(`  test accuracy: P-T ${(mean(this.test.pt) * 100).toFixed(1)}%, RI-T ${(mean(this.test.rit) * 100).toFixed(1)}% (mean over ${this.pt.length} seeds)`);
    return lines.join('\n');
  }

  [DISPLAY](): MimeBundle {
    return { ...trainingBundle(this.payload()), 'text/plain': this.toString() };
  }

  dispose(): void {
    for (const r of [...this.pt, ...this.rit]) r.dispose();
  }
}

/**
 * Fine-tunes the pre-trained model (P-T) and trains the same architecture from scratch (RI-T) on
 * the target, once per seed, with one live display for all runs.
 *
 * @example
 * ```ts
 * const cmp = await tl.compareTransfer(pre.model, target.labelled, {seeds: [1, 2], epochs: 5, validation: target.rest});
 * cmp.pt[0].model; cmp.rit[1].model; // for CKA, distances, interpolation
 * ```
 */
export async function compareTransfer(pretrained: Model | Checkpoint | TrainingRun, target: DataLike, options: CompareTransferOptions = {}): Promise<TransferComparison> {
  const fn = 'tl.compareTransfer';
  const o = resolveOptions(fn, options, ['seeds', 'reinitHead', 'test'], 'P-T vs RI-T');
  const seeds = (options.seeds ?? [0, 1]) as number[];
  if (!Array.isArray(seeds) || seeds.length === 0) fail(fn, 'options.seeds', `must be a non-empty array of seeds, got ${formatValue(seeds)}`);
  seeds.forEach((s, i) => checkSeed(fn, `options.seeds[${i}]`, s));
  const reinit = options.reinitHead ?? 'auto';
  const test = options.test ?? o.validation;
  if (test !== undefined) checkData(fn, 'options.test', test);
  const config = configOf(fn, pretrained);
  const numClasses = targetClasses(fn, target);
  await ensureBackend();
  const group = new ProgressGroup(o.label, o.progress);
  const pt: TrainingRun[] = [];
  const rit: TrainingRun[] = [];
  try {
    const trainOwned = async (m: Model, seed: number, label: string) => {
      try {
        checkTrainInputs(fn, m, target, o);
        return await runTraining(fn, m, target, { ...o, seed, label }, group, true);
      } catch (e) {
        m.dispose();
        throw e;
      }
    };
    for (const seed of seeds) pt.push(await trainOwned(startingPoint(fn, pretrained, numClasses, reinit, seed), seed, `P-T seed ${seed}`));
    for (const seed of seeds) rit.push(await trainOwned(modelFromConfig({ ...config, numClasses, seed } as ModelConfig), seed, `RI-T seed ${seed}`));
    let testResults: TransferComparison['test'];
    if (test) {
      const ev = async (runs: TrainingRun[]) => {
        const out: Evaluation[] = [];
        for (const r of runs) out.push(await evaluate(r.model, test, { batchSize: o.evalBatchSize }));
        return out;
      };
      testResults = { pt: await ev(pt), rit: await ev(rit) };
    }
    return new TransferComparison(pt, rit, testResults, o.label);
  } catch (e) {
    for (const r of [...pt, ...rit]) r.dispose();
    throw e;
  } finally {
    group.done();
  }
}

/**
 * Fine-tunes several starting points on one target under one progress display (used by the
 * checkpoint sweep). Each item gives the starting model or checkpoint, the seed and the label.
 */
export async function fineTuneAll(
  fn: string,
  items: readonly { readonly pretrained: Model | Checkpoint; readonly seed: number; readonly label: string }[],
  target: DataLike,
  options: FineTuneOptions,
  title: string,
  extraKeys: readonly string[] = [],
): Promise<TrainingRun[]> {
  const o = resolveOptions(fn, options, ['reinitHead', ...extraKeys], title);
  const reinit = options.reinitHead ?? 'auto';
  if (reinit !== 'auto' && typeof reinit !== 'boolean') fail(fn, 'options.reinitHead', `must be true, false or 'auto', got ${formatValue(reinit)}`);
  const numClasses = targetClasses(fn, target);
  await ensureBackend();
  const group = new ProgressGroup(o.label, o.progress);
  const runs: TrainingRun[] = [];
  try {
    for (const item of items) {
      const m = startingPoint(fn, item.pretrained, numClasses, reinit, item.seed);
      try {
        checkTrainInputs(fn, m, target, o);
        runs.push(await runTraining(fn, m, target, { ...o, seed: item.seed, label: item.label }, group, true));
      } catch (e) {
        m.dispose();
        throw e;
      }
    }
    return runs;
  } catch (e) {
    for (const r of runs) r.dispose();
    throw e;
  } finally {
    group.done();
  }
}
