/**
 * Which pre-trained checkpoint to transfer from (PAPER.md §6): fine-tune from each checkpoint of
 * a pre-training run and measure target accuracy per checkpoint. Also the public face of saving
 * and loading models and checkpoints (./checkpointFiles.ts).
 */
import { DISPLAY } from './display';
import { Checkpoint } from './checkpointFiles';
import { checkData, type DataLike } from './dataset';
import { evaluate, TrainingRun } from './train';
import { fineTuneAll, type FineTuneOptions } from './transfer';
import { Mime, type MimeBundle } from '../protocol/mime';
import { checkSeed, formatValue, fail } from './validate';

export { Checkpoint, saveCheckpoint, loadCheckpoint, saveModel, loadModel, CHECKPOINT_FORMAT, CHECKPOINT_VERSION } from './checkpointFiles';

export interface CheckpointSweepOptions extends FineTuneOptions {
  /** Fine-tuning seeds per checkpoint, default [0]. */
  readonly seeds?: readonly number[];
  /** Where target accuracy is measured; default options.validation. Required one way or the other. */
  readonly test?: DataLike;
  /** Keep the fine-tuned runs (models) in the result; default false (they are disposed). */
  readonly keepRuns?: boolean;
}

/** Target accuracy after fine-tuning from one checkpoint. */
export interface SweepRow {
  /** Pre-training epoch of the checkpoint. */
  readonly epoch: number;
  readonly label: string;
  /** Per seed, in the order of options.seeds. */
  readonly accuracies: readonly number[];
  readonly losses: readonly number[];
  readonly meanAccuracy: number;
  readonly meanLoss: number;
}

/** The sweep's result: a line chart of target accuracy against the pre-training epoch. */
export class CheckpointSweepResult {
  constructor(
    readonly rows: readonly SweepRow[],
    readonly seeds: readonly number[],
    /** The fine-tuned runs per checkpoint and seed when `keepRuns` was set, else empty. */
    readonly runs: readonly (readonly TrainingRun[])[],
  ) {}

  /** The best checkpoint by mean target accuracy. */
  get best(): SweepRow {
    return this.rows.reduce((a, b) => (b.meanAccuracy > a.meanAccuracy ? b : a));
  }

  toString(): string {
    const lines = ['Target accuracy after fine-tuning from each pre-training checkpoint', 'epoch  accuracy  loss'];
    for (const r of this.rows) {
      const spread = r.accuracies.length > 1 ? ` (${r.accuracies.map((a) => (a * 100).toFixed(1)).join(', ')})` : '';
      lines.push(`${String(r.epoch).padStart(5)}  ${(r.meanAccuracy * 100).toFixed(1).padStart(7)}%  ${r.meanLoss.toFixed(4)}${spread}`);
    }
    return lines.join('\n');
  }

  vegaLite(): Record<string, unknown> {
    const values = this.rows.flatMap((r) => r.accuracies.map((a, i) => ({ epoch: r.epoch, accuracy: a, seed: this.seeds[i] })));
    const means = this.rows.map((r) => ({ epoch: r.epoch, accuracy: r.meanAccuracy }));
    return {
      $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
      title: 'Target accuracy by pre-training checkpoint',
      width: 360,
      height: 220,
      layer: [
        {
          data: { values: means },
          mark: { type: 'line', point: true },
          encoding: {
            x: { field: 'epoch', type: 'quantitative', title: 'pre-training epoch of the checkpoint' },
            y: { field: 'accuracy', type: 'quantitative', title: 'target accuracy after fine-tuning', scale: { zero: false } },
          },
        },
        {
          data: { values },
          mark: { type: 'point', opacity: 0.5 },
          encoding: {
            x: { field: 'epoch', type: 'quantitative' },
            y: { field: 'accuracy', type: 'quantitative' },
            tooltip: [{ field: 'epoch' }, { field: 'seed' }, { field: 'accuracy', format: '.3f' }],
          },
        },
      ],
    };
  }

  [DISPLAY](): MimeBundle {
    return { [Mime.vegaLite]: this.vegaLite(), [Mime.plain]: this.toString() };
  }

  dispose(): void {
    for (const rs of this.runs) for (const r of rs) r.dispose();
  }
}

/**
 * Fine-tunes from every checkpoint (P-T, classifier re-initialised when the class counts differ
 * or with `reinitHead: true`) and reports target accuracy per checkpoint.
 *
 * @example
 * ```ts
 * const pre = await tl.train(model, source, {epochs: 10, checkpoints: [0, 1, 2, 5, 10]});
 * const sweep = await tl.checkpointSweep(pre, target.labelled, {epochs: 3, test: target.rest, seeds: [0, 1]});
 * sweep.best.epoch;
 * ```
 */
export async function checkpointSweep(checkpoints: readonly Checkpoint[] | TrainingRun, target: DataLike, options: CheckpointSweepOptions = {}): Promise<CheckpointSweepResult> {
  const fn = 'tl.checkpointSweep';
  const list = checkpoints instanceof TrainingRun ? checkpoints.checkpoints : checkpoints;
  if (!Array.isArray(list) || list.length === 0) {
    fail(fn, 'checkpoints', checkpoints instanceof TrainingRun ? 'come from a run without checkpoints (train with options.checkpoints, e.g. [0, 1, 2, 5])' : `must be a non-empty array of checkpoints or a TrainingRun, got ${formatValue(checkpoints)}`);
  }
  list.forEach((c, i) => {
    if (!(c instanceof Checkpoint)) fail(fn, `checkpoints[${i}]`, `must be a Checkpoint, got ${formatValue(c)}`);
    if (c.isDisposed) fail(fn, `checkpoints[${i}]`, 'is disposed');
  });
  const seeds = (options.seeds ?? [0]) as number[];
  if (!Array.isArray(seeds) || seeds.length === 0) fail(fn, 'options.seeds', `must be a non-empty array of seeds, got ${formatValue(seeds)}`);
  seeds.forEach((s, i) => checkSeed(fn, `options.seeds[${i}]`, s));
  const test = options.test ?? options.validation;
  if (test === undefined) fail(fn, 'options.test', 'is required (or options.validation): target accuracy is measured there');
  checkData(fn, 'options.test', test);
  if (options.keepRuns !== undefined && typeof options.keepRuns !== 'boolean') fail(fn, 'options.keepRuns', `must be a boolean, got ${formatValue(options.keepRuns)}`);
  const { seeds: _s, test: _t, keepRuns: _k, ...ftOptions } = options;
  const items = list.flatMap((c) => seeds.map((seed) => ({ pretrained: c, seed, label: `from epoch ${c.epoch} · seed ${seed}` })));
  const runs = await fineTuneAll(fn, items, target, { ...ftOptions, label: ftOptions.label ?? 'checkpoint sweep' }, 'checkpoint sweep');
  try {
    const rows: SweepRow[] = [];
    const grouped: TrainingRun[][] = [];
    for (const [i, c] of list.entries()) {
      const rs = runs.slice(i * seeds.length, (i + 1) * seeds.length);
      grouped.push(rs);
      const evs = [];
      for (const r of rs) evs.push(await evaluate(r.model, test, { batchSize: options.evalBatchSize ?? 256 }));
      const accuracies = evs.map((e) => e.accuracy);
      const losses = evs.map((e) => e.loss);
      rows.push({
        epoch: c.epoch,
        label: c.label,
        accuracies,
        losses,
        meanAccuracy: accuracies.reduce((a, b) => a + b, 0) / accuracies.length,
        meanLoss: losses.reduce((a, b) => a + b, 0) / losses.length,
      });
    }
    if (!options.keepRuns) for (const r of runs) r.dispose();
    return new CheckpointSweepResult(rows, seeds, options.keepRuns ? grouped : []);
  } catch (e) {
    for (const r of runs) r.dispose();
    throw e;
  }
}
