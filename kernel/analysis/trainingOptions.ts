/**
 * The options of every training function (`tl.train`, `tl.fineTune`, `tl.trainFromScratch`,
 * `tl.compareTransfer`, `tl.checkpointSweep`), their defaults and checks, and the learning-rate
 * schedules.
 */
import type { DataLike } from './dataset';
import type { DataStream } from './dataStream';
import type { Progress } from './progress';
import { OptimizerName } from './optimizers';
import { checkInteger, checkKeys, checkNumber, checkObject, checkOneOf, checkSeed, formatValue, fail } from './validate';

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
  /** Evaluated at the end of every epoch (loss, accuracy); a data set or a stream. */
  readonly validation?: DataLike | DataStream;
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
  /**
   * Steps between read-backs of the training loss and accuracy (each read-back is a history
   * point; the end of every epoch is one too), instead of `pointsPerEpoch`. Default: an epoch's
   * steps / `pointsPerEpoch`. Nothing else is read back per step: the sums stay on the device, a
   * read-back is asynchronous and awaited only at the next one (or at the end of the epoch), so
   * the GPU never waits for JavaScript; a divergence (NaN loss) is reported up to `readEvery`
   * steps late.
   */
  readonly readEvery?: number;
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

export const TRAIN_KEYS = [
  'epochs', 'batchSize', 'lr', 'optimizer', 'momentum', 'weightDecay', 'schedule', 'seed', 'validation',
  'checkpoints', 'checkpointDir', 'label', 'progress', 'pointsPerEpoch', 'evalBatchSize', 'recalibrateNorm',
  'readEvery',
] as const;

export interface ResolvedTrainOptions {
  epochs: number;
  batchSize: number;
  /** Whether `batchSize` was given (a stream's own batch size must then agree). */
  batchSizeGiven?: boolean;
  lr: number;
  optimizer: OptimizerName;
  momentum: number;
  weightDecay: number;
  schedule: Schedule;
  seed: number;
  validation: DataLike | DataStream | undefined;
  checkpoints: number[];
  checkpointDir: string | undefined;
  label: string;
  progress: boolean | Progress;
  pointsPerEpoch: number;
  /** Steps between read-backs; undefined: `pointsPerEpoch` points per epoch. */
  readEvery?: number | undefined;
  evalBatchSize: number;
  recalibrateNorm: number | false;
}

export function resolveTrainOptions(fn: string, options: unknown, extraKeys: readonly string[], defaultLabel: string): ResolvedTrainOptions {
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
  if (o['readEvery'] !== undefined && o['pointsPerEpoch'] !== undefined) {
    fail(fn, 'options.readEvery', `(${String(o['readEvery'])}) and options.pointsPerEpoch (${String(o['pointsPerEpoch'])}) both choose when points are logged; give one`);
  }
  return {
    epochs,
    batchSize: checkInteger(fn, 'options.batchSize', o['batchSize'] ?? 64, 1),
    batchSizeGiven: o['batchSize'] !== undefined,
    lr: checkNumber(fn, 'options.lr', o['lr'] ?? (optimizer === OptimizerName.adam ? 0.001 : 0.05), 0, 100),
    optimizer,
    momentum: checkNumber(fn, 'options.momentum', o['momentum'] ?? 0.9, 0, 1),
    weightDecay: checkNumber(fn, 'options.weightDecay', o['weightDecay'] ?? 0, 0, 1),
    schedule,
    seed: checkSeed(fn, 'options.seed', o['seed'] ?? 0),
    validation: o['validation'] as DataLike | DataStream | undefined,
    checkpoints: [...new Set(checkpoints)].sort((a, b) => a - b),
    checkpointDir: o['checkpointDir'] as string | undefined,
    label: (o['label'] as string | undefined) ?? defaultLabel,
    progress: progress as boolean | Progress,
    pointsPerEpoch: checkInteger(fn, 'options.pointsPerEpoch', o['pointsPerEpoch'] ?? 4, 1, 1000),
    readEvery: o['readEvery'] === undefined ? undefined : checkInteger(fn, 'options.readEvery', o['readEvery'], 1),
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

