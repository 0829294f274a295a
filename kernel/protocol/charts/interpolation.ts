/**
 * The vega-lite spec of linear-interpolation curves, the one figure VS Code's renderer, the HTML
 * report and Jupyter (the kernel's vega-lite fallback) draw: loss and accuracy against λ for one or
 * more pairs of solutions. The loss panel also draws, per pair, the straight line between the end
 * points (dashed) and the barrier: a vertical segment from that line up to the curve at the λ where
 * the curve rises highest above it, labelled with its height; where the payload has a bootstrap
 * interval of the barrier, an error bar at the same λ and the interval in the label.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { InterpolationPayload } from '../mime';
import { vegaConfig, type Theme } from './theme';

type Pair = InterpolationPayload['pairs'][number];

function nearestIndex(values: readonly number[], target: number): number {
  let best = 0;
  values.forEach((v, i) => {
    if (Math.abs(v - target) < Math.abs(values[best]! - target)) best = i;
  });
  return best;
}

/** Formats a number for labels: 3 significant digits, no exponent for ordinary magnitudes. */
export function short(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return x.toExponential(2);
  return Number(x.toPrecision(3)).toString();
}

/** The barrier segment of a pair: from the chord (curve − barrier) to the curve at barrierLambda. */
export function barrierSegment(p: Pair): { lambda: number; top: number; bottom: number } {
  const k = nearestIndex(p.lambdas, p.barrierLambda);
  const top = p.loss[k]!;
  return { lambda: p.barrierLambda, top, bottom: top - p.barrier };
}

/** The end points of the chord: the losses at λ = 0 and λ = 1 (or the nearest λ sampled). */
export function chordEnds(p: Pair): { lambda: number; loss: number }[] {
  return [0, 1].map((t) => {
    const k = nearestIndex(p.lambdas, t);
    return { lambda: p.lambdas[k]!, loss: p.loss[k]! };
  });
}

/** The barrier's label: `barrier 0.12`, with its interval when there is one: `barrier 0.12 [0.08, 0.15]`. */
export function barrierLabel(p: Pair): string {
  const iv = p.barrierInterval;
  return iv === undefined ? `barrier ${short(p.barrier)}` : `barrier ${short(p.barrier)} [${short(iv.lower)}, ${short(iv.upper)}]`;
}

/**
 * The barrier interval as an error bar at the barrier's λ, in loss units: the chord's value there
 * plus the lower and upper bounds (undefined without an interval).
 */
export function barrierIntervalBar(p: Pair): { lambda: number; low: number; high: number; lower: number; upper: number; interval: string } | undefined {
  const iv = p.barrierInterval;
  if (iv === undefined) return undefined;
  const { lambda, bottom } = barrierSegment(p);
  return { lambda, low: bottom + iv.lower, high: bottom + iv.upper, lower: iv.lower, upper: iv.upper, interval: `${Math.round(iv.level * 100)}% bootstrap over examples (${iv.bootstrap} resamples)` };
}

/** One point of a curve: the value of `metric` for `pair` at `lambda` (null where not finite). */
export interface InterpolationRow {
  readonly pair: string;
  readonly lambda: number;
  readonly metric: 'loss' | 'accuracy';
  readonly value: number | null;
}

/** The curves as rows, loss then accuracy (for the pairs that report it), pair by pair. */
export function curveRows(payload: InterpolationPayload): InterpolationRow[] {
  const finite = (v: number): number | null => (Number.isFinite(v) ? v : null);
  return payload.pairs.flatMap((p) =>
    p.lambdas.flatMap((lambda, k) => {
      const rows: InterpolationRow[] = [{ pair: p.label, lambda, metric: 'loss', value: finite(p.loss[k]!) }];
      if (p.accuracy.length > 0) rows.push({ pair: p.label, lambda, metric: 'accuracy', value: finite(p.accuracy[k]!) });
      return rows;
    }),
  );
}

/**
 * The vega-lite spec of `payload` in `theme`: a loss panel (curves, chords, barriers) and, when
 * some pair reports accuracy, an accuracy panel. The curves are the top-level data, one row per
 * (pair, λ, metric).
 *
 * @example
 * const spec = interpolationSpec(result.toPayload(), lightTheme);
 */
export function interpolationSpec(payload: InterpolationPayload, theme: Theme): TopLevelSpec {
  const labels = payload.pairs.map((p) => p.label);
  const curve = curveRows(payload);
  const rowsOfMetric = (metric: InterpolationRow['metric']) => [{ filter: { field: 'metric', equal: metric } }];
  const chord = payload.pairs.flatMap((p) => chordEnds(p).map((e) => ({ pair: p.label, ...e })));
  const barriers = payload.pairs.map((p) => ({ pair: p.label, ...barrierSegment(p), barrier: p.barrier, label: barrierLabel(p) }));
  const intervals = payload.pairs.flatMap((p) => {
    const iv = barrierIntervalBar(p);
    return iv === undefined ? [] : [{ pair: p.label, ...iv }];
  });
  const hasAccuracy = payload.pairs.some((p) => p.accuracy.length > 0);
  const x = { field: 'lambda', type: 'quantitative', title: 'λ', axis: { tickCount: 5 } } as const;
  const color = { field: 'pair', type: 'nominal', title: 'pair', sort: labels } as const;
  const size = { width: 300, height: 220 };
  const loss = {
    ...size,
    title: { text: 'loss', fontSize: theme.fontSize },
    layer: [
      {
        data: { values: chord },
        mark: { type: 'line', strokeDash: [4, 3], opacity: 0.65 },
        encoding: { x, y: { field: 'loss', type: 'quantitative' }, color },
      },
      {
        transform: rowsOfMetric('loss'),
        mark: { type: 'line', point: true },
        encoding: {
          x,
          y: { field: 'value', type: 'quantitative', title: 'loss', scale: { zero: false } },
          color,
          tooltip: [
            { field: 'pair', type: 'nominal' },
            { field: 'lambda', type: 'quantitative', title: 'λ', format: '.3f' },
            { field: 'value', type: 'quantitative', title: 'loss', format: '.4f' },
          ],
        },
      },
      {
        data: { values: barriers },
        mark: { type: 'rule', strokeWidth: 2.5 },
        encoding: {
          x,
          y: { field: 'bottom', type: 'quantitative' },
          y2: { field: 'top' },
          color,
          tooltip: [
            { field: 'pair', type: 'nominal' },
            { field: 'barrier', type: 'quantitative', format: '.4f' },
            { field: 'lambda', type: 'quantitative', title: 'at λ', format: '.3f' },
          ],
        },
      },
      ...(intervals.length > 0
        ? [
            {
              data: { values: intervals },
              mark: { type: 'errorbar', ticks: { size: 8 }, thickness: 1.5 },
              encoding: {
                x: { ...x, field: 'lambda' },
                y: { field: 'low', type: 'quantitative', title: 'loss' },
                y2: { field: 'high' },
                color,
                tooltip: [
                  { field: 'pair', type: 'nominal' },
                  { field: 'lower', type: 'quantitative', title: 'barrier, lower', format: '.4f' },
                  { field: 'upper', type: 'quantitative', title: 'barrier, upper', format: '.4f' },
                  { field: 'interval', type: 'nominal', title: 'interval' },
                ],
              },
            },
          ]
        : []),
      {
        data: { values: barriers },
        mark: { type: 'text', dy: -9, fontSize: Math.max(10, theme.fontSize - 1) },
        encoding: { x, y: { field: 'top', type: 'quantitative' }, text: { field: 'label' }, color },
      },
    ],
  };
  const accuracy = {
    ...size,
    title: { text: 'accuracy', fontSize: theme.fontSize },
    transform: [...rowsOfMetric('accuracy'), { filter: 'datum.value !== null' }],
    mark: { type: 'line', point: true },
    encoding: {
      x,
      y: { field: 'value', type: 'quantitative', title: 'accuracy', scale: { zero: false } },
      color,
      tooltip: [
        { field: 'pair', type: 'nominal' },
        { field: 'lambda', type: 'quantitative', title: 'λ', format: '.3f' },
        { field: 'value', type: 'quantitative', title: 'accuracy', format: '.4f' },
      ],
    },
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: payload.title ?? 'Linear interpolation between solutions', subtitle: 'θ(λ) = (1−λ)·θ₁ + λ·θ₂; dashed: straight line between the end losses' },
    data: { values: curve },
    hconcat: hasAccuracy ? [loss, accuracy] : [loss],
    resolve: { scale: { color: 'shared' } },
    config: vegaConfig(theme),
  } as TopLevelSpec;
}
