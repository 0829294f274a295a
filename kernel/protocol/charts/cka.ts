/**
 * The Vega spec of a CKA heatmap, the one figure VS Code's renderer, the HTML report and Jupyter
 * (the kernel's `application/vnd.vega.v5+json` fallback) draw: modules of model A down, modules of
 * model B across, colour on a fixed 0..1 scale (values outside are clamped in colour, exact in the
 * tooltip).
 *
 * Why Vega and not vega-lite, and paths rather than one rect per cell: in VS Code's webview vega
 * runs expressions through its interpreter (no eval), which costs about 10-25 µs per mark item and
 * encoding channel. A 64×64 matrix as 4,096 rects took 230-510 ms to draw here; cells merged into
 * one path per colour level (at most {@link LEVELS} + 1 items) keep it far under the 150 ms budget.
 * The tooltip is computed from the pointer position (see render.ts) since no item is one cell.
 */
import type { Spec } from 'vega';
import type { CkaPayload } from '../mime';
import { isHighContrast, vegaConfig, type Theme } from './theme';

/** Colour levels the 0..1 range is quantised to (steps of 1/255: invisible). */
export const LEVELS = 256;

/** Cell size in pixels: the matrix stays within about 640 px, cells between 8 and 28 px. */
export function cellSize(rows: number, columns: number): number {
  return Math.max(8, Math.min(28, Math.floor(640 / Math.max(1, rows, columns))));
}

/** Names made unique (a repeated name gets ` #k`), so that an ordinal axis keeps every module. */
export function uniqueLabels(names: readonly string[]): string[] {
  const seen = new Map<string, number>();
  return names.map((n) => {
    const k = (seen.get(n) ?? 0) + 1;
    seen.set(n, k);
    return k === 1 ? n : `${n} #${k}`;
  });
}

/** The title (`Debiased RBF CKA`, or the payload's) and subtitle (`A vs B, n = 64`). */
export function ckaTitle(p: CkaPayload): { text: string; subtitle?: string } {
  const text = p.title ?? `${p.debiased ? 'Debiased ' : ''}${p.kind === 'rbf' ? 'RBF' : 'linear'} CKA`;
  const parts: string[] = [];
  if (p.modelA !== undefined || p.modelB !== undefined) parts.push(`${p.modelA ?? 'A'} vs ${p.modelB ?? 'B'}`);
  if (p.n !== undefined) parts.push(`n = ${p.n}`);
  return parts.length > 0 ? { text, subtitle: parts.join(', ') } : { text };
}

/** The colour level of a value: 0..LEVELS-1, or -1 for NaN/null. */
export function level(v: number | null): number {
  if (v === null || Number.isNaN(v)) return -1;
  return Math.round(Math.min(1, Math.max(0, v)) * (LEVELS - 1));
}

/**
 * One SVG path per colour level, each the union of that level's cells (runs of equal level along a
 * row merged into one rectangle).
 */
export function levelPaths(values: readonly (readonly (number | null)[])[], step: number): Map<number, string> {
  const paths = new Map<number, string[]>();
  values.forEach((row, i) => {
    let j = 0;
    while (j < row.length) {
      const l = level(row[j]!);
      let k = j + 1;
      while (k < row.length && level(row[k]!) === l) k++;
      const w = (k - j) * step;
      let parts = paths.get(l);
      if (parts === undefined) paths.set(l, (parts = []));
      parts.push(`M${j * step},${i * step}h${w}v${step}h${-w}z`);
      j = k;
    }
  });
  return new Map([...paths].map(([l, parts]) => [l, parts.join('')]));
}

/** Geometry the renderer needs to map a pointer position to a cell. */
export interface HeatmapLayout {
  readonly step: number;
  readonly rows: readonly string[];
  readonly columns: readonly string[];
}

/**
 * The Vega spec of the heatmap of `p` in `theme`, and the geometry a pointer tooltip needs. Cells
 * are filled through the spec's `color` scale (the legend's scheme), or with `colorOf(t)` for t in
 * [0, 1] when given.
 *
 * @example
 * const { spec } = ckaSpec(result.toPayload(), lightTheme);
 */
export function ckaSpec(p: CkaPayload, theme: Theme, colorOf?: (t: number) => string): { spec: Spec; layout: HeatmapLayout } {
  const rows = uniqueLabels(p.rows);
  const columns = uniqueLabels(p.columns);
  const step = cellSize(rows.length, columns.length);
  const labelSize = Math.min(11, Math.max(7, step - 2));
  const hc = isHighContrast(theme.kind);
  const cells = [...levelPaths(p.values, step)].map(([l, path]) => {
    const t = l < 0 ? null : l / (LEVELS - 1);
    const fill = t === null ? theme.mutedForeground : colorOf?.(t);
    return { path, t, ...(fill !== undefined ? { fill } : {}), opacity: t === null ? 0.25 : 1 };
  });
  const fill = colorOf !== undefined ? { field: 'fill' } : [{ test: 'datum.t === null', field: 'fill' }, { scale: 'color', field: 't' }];
  const title = ckaTitle(p);
  const spec = {
    $schema: 'https://vega.github.io/schema/vega/v5.json',
    description: `${title.text}: ${rows.length}×${columns.length} module similarity heatmap`,
    width: step * columns.length,
    height: step * rows.length,
    padding: 4,
    autosize: 'pad',
    title: { ...title, anchor: 'start' },
    data: [{ name: 'cells', values: cells }],
    scales: [
      { name: 'x', type: 'band', domain: columns, range: 'width', padding: 0 },
      { name: 'y', type: 'band', domain: rows, range: 'height', padding: 0 },
      { name: 'color', type: 'linear', domain: [0, 1], range: { scheme: theme.scheme }, clamp: true, zero: false },
    ],
    axes: [
      {
        orient: 'bottom',
        scale: 'x',
        title: `${p.modelB ?? 'model B'} module`,
        labelAngle: -45,
        labelAlign: 'right',
        labelBaseline: 'top',
        labelLimit: 140,
        labelFontSize: labelSize,
        labelOverlap: false,
        zindex: 1,
      },
      { orient: 'left', scale: 'y', title: `${p.modelA ?? 'model A'} module`, labelLimit: 140, labelFontSize: labelSize, zindex: 1 },
    ],
    legends: [
      {
        fill: 'color',
        type: 'gradient',
        title: 'CKA',
        gradientLength: Math.min(200, Math.max(80, step * rows.length)),
        values: [0, 0.2, 0.4, 0.6, 0.8, 1],
        format: '.1f',
      },
    ],
    marks: [
      {
        type: 'path',
        name: 'heatmap',
        from: { data: 'cells' },
        encode: {
          update: {
            path: { field: 'path' },
            fill,
            fillOpacity: { field: 'opacity' },
            ...(hc ? { stroke: { value: theme.foreground }, strokeWidth: { value: 0.5 } } : {}),
          },
        },
      },
    ],
    config: vegaConfig(theme),
  };
  return { spec: spec as unknown as Spec, layout: { step, rows, columns } };
}
