/**
 * The vega-lite spec of training curves (loss, and accuracy when reported, against step; one colour
 * per run, validation dashed), the one figure VS Code's renderer, the HTML report and Jupyter (the
 * kernel's vega-lite fallback) draw; and the one-line status of each run shown above the chart.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { TrainingPayload } from '../mime';
import { LEGEND_LABEL_LIMIT, legendWidth, panelLayout, wrapLines, type FitOptions } from './layout';
import { vegaConfig, type Theme } from './theme';

export interface TrainingRow {
  run: string;
  split: 'train' | 'validation';
  epoch: number;
  step: number;
  value: number;
}

/** Flattens the runs into one row per (run, split, point) for each metric. */
export function trainingRows(payload: TrainingPayload): { loss: TrainingRow[]; accuracy: TrainingRow[] } {
  const loss: TrainingRow[] = [];
  const accuracy: TrainingRow[] = [];
  const push = (into: TrainingRow[], run: string, split: TrainingRow['split'], epoch: number, step: number, v: number | undefined): void => {
    if (v !== undefined && v !== null && Number.isFinite(v)) into.push({ run, split, epoch, step, value: v });
  };
  for (const run of payload.runs) {
    for (const p of run.points) {
      push(loss, run.label, 'train', p.epoch, p.step, p.loss);
      push(loss, run.label, 'validation', p.epoch, p.step, p.valLoss);
      push(accuracy, run.label, 'train', p.epoch, p.step, p.accuracy);
      push(accuracy, run.label, 'validation', p.epoch, p.step, p.valAccuracy);
    }
  }
  return { loss, accuracy };
}

function fmt(x: number, digits: number): string {
  return Number.isFinite(x) ? x.toFixed(digits) : String(x);
}

/** `label: epoch 3, step 1200, loss 0.1234, accuracy 0.9712, 250 ex/s (running)` per run. */
export function statusLines(payload: TrainingPayload): string[] {
  return payload.runs.map((run) => {
    const last = run.points[run.points.length - 1];
    const state = run.done ? 'done' : (run.stopped ?? 'running');
    if (last === undefined) return `${run.label}: no steps yet (${state})`;
    const parts = [`epoch ${last.epoch}`, `step ${last.step}`, `loss ${fmt(last.loss, 4)}`];
    if (last.accuracy !== undefined) parts.push(`accuracy ${fmt(last.accuracy, 4)}`);
    if (last.valLoss !== undefined) parts.push(`val loss ${fmt(last.valLoss, 4)}`);
    if (last.valAccuracy !== undefined) parts.push(`val accuracy ${fmt(last.valAccuracy, 4)}`);
    if (last.examplesPerSecond !== undefined) parts.push(`${Math.round(last.examplesPerSecond)} ex/s`);
    return `${run.label}: ${parts.join(', ')} (${state})`;
  });
}

/**
 * The vega-lite spec of `payload` in `theme`: loss and (when reported) accuracy against step, one
 * colour per run; validation dashed, with a train/validation legend only when some run has
 * validation. Laid out to fit `options.width`.
 *
 * @example
 * const spec = trainingSpec(payload, lightTheme, { width: 420 });
 */
export function trainingSpec(payload: TrainingPayload, theme: Theme, options: FitOptions = {}): TopLevelSpec {
  const rows = trainingRows(payload);
  const runs = payload.runs.map((r) => r.label);
  const splits = (['train', 'validation'] as const).filter((s) => rows.loss.some((r) => r.split === s) || rows.accuracy.some((r) => r.split === s));
  const count = rows.accuracy.length > 0 ? 2 : 1;
  const layout = panelLayout(count, options.width, 320, legendWidth(Math.max('validation'.length, ...runs.map((r) => r.length))));
  const legend = { labelLimit: LEGEND_LABEL_LIMIT, ...(layout.legendBelow ? { orient: 'bottom', direction: 'vertical' } : {}) };
  const panel = (values: TrainingRow[], metric: 'loss' | 'accuracy'): Record<string, unknown> => ({
    width: layout.panelWidth,
    height: 200,
    title: { text: metric, fontSize: theme.fontSize },
    data: { values },
    mark: { type: 'line', point: values.length <= 60 ? { size: 20 } : false, interpolate: 'linear' },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'step' },
      y: { field: 'value', type: 'quantitative', title: metric, scale: { zero: false } },
      color: { field: 'run', type: 'nominal', title: 'run', sort: runs, legend },
      // solid train, dashed validation; no dash legend (nor its "validation" entry) for runs without validation
      ...(splits.includes('validation')
        ? {
            strokeDash: {
              field: 'split',
              type: 'nominal',
              title: 'split',
              sort: splits,
              scale: { domain: splits, range: splits.map((s) => (s === 'train' ? [1, 0] : [5, 3])) },
              legend: { symbolType: 'stroke', ...(layout.legendBelow ? { orient: 'bottom', direction: 'vertical' } : {}) },
            },
          }
        : {}),
      tooltip: [
        { field: 'run', type: 'nominal' },
        { field: 'split', type: 'nominal' },
        { field: 'epoch', type: 'quantitative' },
        { field: 'step', type: 'quantitative' },
        { field: 'value', type: 'quantitative', title: metric, format: '.4f' },
      ],
    },
  });
  const panels = [panel(rows.loss, 'loss')];
  if (rows.accuracy.length > 0) panels.push(panel(rows.accuracy, 'accuracy'));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    ...(payload.title !== undefined ? { title: { text: wrapLines([payload.title], options.width, theme.fontSize + 3) } } : {}),
    ...(layout.stacked ? { vconcat: panels } : { hconcat: panels }),
    resolve: { scale: { color: 'shared', ...(splits.includes('validation') ? { strokeDash: 'shared' } : {}) } },
    config: vegaConfig(theme),
  } as unknown as TopLevelSpec;
}
