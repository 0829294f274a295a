/**
 * Transfer: `tl.fineTune` (P-T: from a pre-trained model or checkpoint, classifier re-initialised
 * when the class counts differ or on request), `tl.trainFromScratch` (RI-T: the same architecture,
 * random initialisation) and `tl.compareTransfer` (P-T and RI-T over several seeds), on the
 * training loop of ./train.ts.
 */
import { DISPLAY } from './display';
import type { Model } from './modelContract';
import { ShapeMismatchError } from './errors';
import { checkData, type DataLike } from './dataset';
import { checkStream, isDataStream, type DataStream } from './dataStream';
import { checkSeed, formatValue, fail } from './validate';
import { ensureBackend } from './backends';
import { Checkpoint } from './checkpointFiles';
import { modelFromConfig, type ModelConfig } from './netModel';
import { trainingBundle } from './progress';
import { checkModel, evaluate, type Evaluation } from './evaluation';
import { ProgressGroup, payloadPoint } from './progressGroup';
import { TrainingRun, checkTrainInputs, runTraining, trainOwnedModel } from './train';
import { resolveTrainOptions, type TrainOptions } from './trainingOptions';
import type { MimeBundle, TrainingPayload } from '../protocol/mime';

export interface FineTuneOptions extends TrainOptions {
  /** Seed of the classifier re-initialisation and of the data order, default 0. */
  readonly seed?: number;
  /**
   * Re-initialise the classifier `fc`: 'auto' (default) when the target's number of classes
   * differs from the model's, true always (as the paper's P-T), false never.
   */
  readonly reinitHead?: boolean | 'auto';
}

function targetClasses(fn: string, target: DataLike | DataStream): number {
  if (isDataStream(target)) return checkStream(fn, 'target', target).numClasses;
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
export async function fineTune(pretrained: Model | Checkpoint | TrainingRun, target: DataLike | DataStream, options: FineTuneOptions = {}): Promise<TrainingRun> {
  const fn = 'tl.fineTune';
  const o = resolveTrainOptions(fn, options, ['reinitHead'], `P-T seed ${options.seed ?? 0}`);
  const reinit = options.reinitHead ?? 'auto';
  if (reinit !== 'auto' && typeof reinit !== 'boolean') fail(fn, 'options.reinitHead', `must be true, false or 'auto', got ${formatValue(reinit)}`);
  const model = startingPoint(fn, pretrained, targetClasses(fn, target), reinit, o.seed);
  return trainOwnedModel(fn, model, target, o);
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
    if (typeof pretrained.withNewHead !== 'function') fail(fn, 'pretrained', `(${pretrained.arch}) cannot re-initialise its classifier (no withNewHead): use a model from tl.resnet, tl.cnn or tl.fromLayersModel`);
    return pretrained.withNewHead(numClasses, seed);
  }
  return pretrained.clone();
}

/**
 * RI-T: trains the same architecture as `architecture` (a model, checkpoint or config) from a
 * fresh random initialisation (seeded) on the target. Models from `tl.fromLayersModel` are
 * rebuilt from their layers' config, each initializer seeded.
 *
 * @example
 * ```ts
 * const rit = await tl.trainFromScratch(pre.model, target.labelled, {epochs: 5, seed: 1});
 * ```
 */
export async function trainFromScratch(architecture: Model | Checkpoint | TrainingRun | ModelConfig, target: DataLike | DataStream, options: TrainOptions = {}): Promise<TrainingRun> {
  const fn = 'tl.trainFromScratch';
  const o = resolveTrainOptions(fn, options, [], `RI-T seed ${options.seed ?? 0}`);
  const fresh = architectureOf(fn, architecture);
  const model = fresh(targetClasses(fn, target), o.seed);
  return trainOwnedModel(fn, model, target, o);
}

/** A new model of `a`'s architecture, freshly initialised: `(numClasses, seed) => model`. */
type Fresh = (numClasses: number, seed: number) => Model;

/**
 * How to rebuild the architecture of a model (through its `rebuild`), a checkpoint (its config, or
 * the model it was taken from), a training run or a model config, with fresh seeded weights.
 */
function architectureOf(fn: string, a: unknown): Fresh {
  if (a instanceof TrainingRun) return architectureOf(fn, a.model);
  if (a instanceof Checkpoint) {
    if (a.isDisposed) fail(fn, 'architecture', 'is a disposed checkpoint');
    const config = a.config;
    if (config) return (numClasses, seed) => modelFromConfig({ ...config, numClasses, seed } as ModelConfig);
    return (numClasses, seed) => {
      const m = a.toModel();
      try {
        return architectureOf(fn, m)(numClasses, seed);
      } finally {
        m.dispose();
      }
    };
  }
  if (a !== null && typeof a === 'object' && 'forward' in a && (a as Partial<Model>).variables instanceof Map) {
    checkModel(fn, 'architecture', a);
    if (typeof a.rebuild !== 'function') fail(fn, 'architecture', `(${a.arch}) cannot be rebuilt with a fresh initialisation (no rebuild): use a model from tl.resnet, tl.cnn or tl.fromLayersModel`);
    const m = a;
    return (numClasses, seed) => m.rebuild!({ numClasses, seed });
  }
  if (a !== null && typeof a === 'object' && typeof (a as { arch?: unknown }).arch === 'string' && !('forward' in a)) {
    const config = a as ModelConfig;
    return (numClasses, seed) => modelFromConfig({ ...config, numClasses, seed } as ModelConfig);
  }
  return fail(fn, 'architecture', `must be a model (tl.resnet, tl.cnn, tl.fromLayersModel), a checkpoint or a model config, got ${formatValue(a)}`);
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
  const o = resolveTrainOptions(fn, options, ['seeds', 'reinitHead', 'test'], 'P-T vs RI-T');
  const seeds = (options.seeds ?? [0, 1]) as number[];
  if (!Array.isArray(seeds) || seeds.length === 0) fail(fn, 'options.seeds', `must be a non-empty array of seeds, got ${formatValue(seeds)}`);
  seeds.forEach((s, i) => checkSeed(fn, `options.seeds[${i}]`, s));
  const reinit = options.reinitHead ?? 'auto';
  const test = options.test ?? o.validation;
  if (test !== undefined) checkData(fn, 'options.test', test);
  const fresh = architectureOf(fn, pretrained);
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
    for (const seed of seeds) rit.push(await trainOwned(fresh(numClasses, seed), seed, `RI-T seed ${seed}`));
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
  const o = resolveTrainOptions(fn, options, ['reinitHead', ...extraKeys], title);
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
