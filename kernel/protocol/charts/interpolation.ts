/**
 * The vega-lite spec of linear-interpolation curves, the one figure VS Code's renderer, the HTML
 * report and Jupyter (the kernel's vega-lite fallback) draw: loss and accuracy against λ for one or
 * more pairs of solutions. The loss panel also draws, per pair, the reference line of its barrier
 * definition (dashed): the straight line between the end losses (`linear`, the default) or the
 * level of their mean (`mean`); and the barrier: a vertical segment from that line up to the curve
 * at the λ where the curve rises highest above it. Its height is written in the pair's legend entry
 * ({@link pairLegendLabel}), not on the plot, so that labels never overlap each other or the
 * curves however close the barriers are. A pair interpolated with `align`
 * also has the curve to B aligned to A (weight matching), drawn dashed in the pair's colour with
 * its own barrier (the reference line is the same: aligning B does not change its loss). Where the
 * payload has a bootstrap interval of the barrier: an error bar at the same λ and the interval in
 * the legend entry. The subtitle names the definition and any warnings of the payload.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { InterpolationPayload } from '../mime';
import { legendWidth, panelLayout, wrapLines, type FitOptions } from './layout';
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

/** The barrier segment of a pair: from the reference line (curve − barrier) to the curve at barrierLambda. */
export function barrierSegment(p: Pair): { lambda: number; top: number; bottom: number } {
  const k = nearestIndex(p.lambdas, p.barrierLambda);
  const top = p.loss[k]!;
  return { lambda: p.barrierLambda, top, bottom: top - p.barrier };
}

/**
 * The end points of the barrier's reference line: the losses at λ = 0 and λ = 1 (or the nearest λ
 * sampled) for the linear definition; both at their mean for the `mean` definition.
 */
export function chordEnds(p: Pair): { lambda: number; loss: number }[] {
  const ends = [0, 1].map((t) => {
    const k = nearestIndex(p.lambdas, t);
    return { lambda: p.lambdas[k]!, loss: p.loss[k]! };
  });
  if (p.barrierDefinition !== 'mean') return ends;
  const mean = (ends[0]!.loss + ends[1]!.loss) / 2;
  return ends.map((e) => ({ ...e, loss: mean }));
}

/** The subtitle line naming the barrier definition(s) of the pairs. */
export function barrierNote(payload: InterpolationPayload): string {
  const defs = [...new Set(payload.pairs.map((p) => p.barrierDefinition ?? 'linear'))];
  const words = (d: string): string => (d === 'mean' ? 'highest loss above the mean end loss (Ainsworth et al. 2023)' : 'highest loss above the straight line between the end losses (Frankle et al. 2020)');
  return `barrier: ${defs.map((d) => (defs.length > 1 ? `${d}: ${words(d)}` : words(d))).join('; ')}`;
}

/** The barrier's label: `barrier 0.12`, with its interval when there is one: `barrier 0.12 [0.08, 0.15]`. */
export function barrierLabel(p: Pair): string {
  const iv = p.barrierInterval;
  return iv === undefined ? `barrier ${short(p.barrier)}` : `barrier ${short(p.barrier)} [${short(iv.lower)}, ${short(iv.upper)}]`;
}

/**
 * A pair's legend entry: its label and barrier, with the aligned curve's barrier when it has one:
 * `A/B: barrier 0.75 [0.61, 0.88]; aligned 0.01`.
 */
export function pairLegendLabel(p: Pair): string {
  const a = alignedPair(p);
  return `${p.label}: ${barrierLabel(p)}${a ? `; aligned ${short(a.barrier)}` : ''}`;
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
  /** `raw`: B as trained; `aligned`: B's units permuted to match A. */
  readonly weights: 'raw' | 'aligned';
  readonly lambda: number;
  readonly metric: 'loss' | 'accuracy';
  readonly value: number | null;
}

/** The aligned curve of a pair as a pair of its own (same label and λ grid), if it has one. */
export function alignedPair(p: Pair): Pair | undefined {
  return p.aligned ? { label: p.label, lambdas: p.lambdas, ...p.aligned } : undefined;
}

/** The curves as rows, loss then accuracy (for the pairs that report it), pair by pair, raw then aligned. */
export function curveRows(payload: InterpolationPayload): InterpolationRow[] {
  const finite = (v: number): number | null => (Number.isFinite(v) ? v : null);
  const rowsOf = (p: Pair, weights: InterpolationRow['weights']) =>
    p.lambdas.flatMap((lambda, k) => {
      const rows: InterpolationRow[] = [{ pair: p.label, weights, lambda, metric: 'loss', value: finite(p.loss[k]!) }];
      if (p.accuracy.length > 0) rows.push({ pair: p.label, weights, lambda, metric: 'accuracy', value: finite(p.accuracy[k]!) });
      return rows;
    });
  return payload.pairs.flatMap((p) => {
    const a = alignedPair(p);
    return a ? [...rowsOf(p, 'raw'), ...rowsOf(a, 'aligned')] : rowsOf(p, 'raw');
  });
}

/**
 * The vega-lite spec of `payload` in `theme`: a loss panel (curves, chords, barriers) and, when
 * some pair reports accuracy, an accuracy panel. The curves are the top-level data, one row per
 * (pair, λ, metric).
 *
 * @example
 * const spec = interpolationSpec(result.toPayload(), lightTheme);
 */
export function interpolationSpec(payload: InterpolationPayload, theme: Theme, options: FitOptions = {}): TopLevelSpec {
  const labels = payload.pairs.map((p) => p.label);
  // Barrier heights go in the legend (one entry per pair), never on the plot.
  const legendLabels = payload.pairs.map(pairLegendLabel);
  const curve = curveRows(payload);
  const rowsOfMetric = (metric: InterpolationRow['metric']) => [{ filter: { field: 'metric', equal: metric } }];
  const chord = payload.pairs.flatMap((p) => chordEnds(p).map((e) => ({ pair: p.label, ...e })));
  const barriers = payload.pairs.map((p) => ({ pair: p.label, ...barrierSegment(p), barrier: p.barrier, label: barrierLabel(p) }));
  const aligned = payload.pairs.flatMap((p) => {
    const a = alignedPair(p);
    return a ? [{ pair: p.label, ...barrierSegment(a), barrier: a.barrier, label: `aligned ${short(a.barrier)}` }] : [];
  });
  const hasAccuracy = payload.pairs.some((p) => p.accuracy.length > 0);
  const layout = panelLayout(hasAccuracy ? 2 : 1, options.width, 300, legendWidth(Math.max(...legendLabels.map((l) => l.length)), 360));
  const below = layout.legendBelow ? { orient: 'bottom', direction: 'vertical' } : {};
  // Raw and aligned curves of a pair share its colour; the aligned one is dashed.
  const dash =
    aligned.length > 0
      ? { strokeDash: { field: 'weights', type: 'nominal', title: 'weights', sort: ['raw', 'aligned'], scale: { domain: ['raw', 'aligned'], range: [[1, 0], [6, 3]] }, legend: { symbolType: 'stroke', ...below } } }
      : {};
  const weightsTip = aligned.length > 0 ? [{ field: 'weights', type: 'nominal' }] : [];
  const intervals = payload.pairs.flatMap((p) => {
    const iv = barrierIntervalBar(p);
    return iv === undefined ? [] : [{ pair: p.label, ...iv }];
  });
  const x = { field: 'lambda', type: 'quantitative', title: 'λ', axis: { tickCount: 5 } } as const;
  const color = {
    field: 'pair',
    type: 'nominal',
    title: 'pair: barrier',
    sort: labels,
    legend: { labelExpr: `${JSON.stringify(legendLabels)}[indexof(${JSON.stringify(labels)}, datum.label)]`, labelLimit: 360, ...below },
  } as const;
  const size = { width: layout.panelWidth, height: 220 };
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
          ...dash,
          tooltip: [
            { field: 'pair', type: 'nominal' },
            ...weightsTip,
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
      ...(aligned.length > 0
        ? [
            {
              data: { values: aligned },
              mark: { type: 'rule', strokeWidth: 2, strokeDash: [3, 2] },
              encoding: {
                x,
                y: { field: 'bottom', type: 'quantitative' },
                y2: { field: 'top' },
                color,
                tooltip: [
                  { field: 'pair', type: 'nominal' },
                  { field: 'barrier', type: 'quantitative', title: 'aligned barrier', format: '.4f' },
                  { field: 'lambda', type: 'quantitative', title: 'at λ', format: '.3f' },
                ],
              },
            },
          ]
        : []),
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
      ...dash,
      tooltip: [
        { field: 'pair', type: 'nominal' },
        ...weightsTip,
        { field: 'lambda', type: 'quantitative', title: 'λ', format: '.3f' },
        { field: 'value', type: 'quantitative', title: 'accuracy', format: '.4f' },
      ],
    },
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: {
      text: wrapLines([payload.title ?? 'Linear interpolation between solutions'], options.width, theme.fontSize + 3),
      subtitle: wrapLines([`θ(λ) = (1−λ)·θ₁ + λ·θ₂; dashed: the barrier's reference line${aligned.length > 0 ? '; dashed with points: θ₂ aligned to θ₁ (weight matching)' : ''}`, barrierNote(payload), ...(payload.warnings ?? []).map((w) => `⚠ ${w}`)], options.width),
    },
    data: { values: curve },
    ...(layout.stacked ? { vconcat: [loss, accuracy] } : { hconcat: hasAccuracy ? [loss, accuracy] : [loss] }),
    resolve: { scale: { color: 'shared', ...(aligned.length > 0 ? { strokeDash: 'shared' } : {}) } },
    config: vegaConfig(theme),
  } as TopLevelSpec;
}
