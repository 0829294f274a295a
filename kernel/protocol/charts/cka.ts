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
 *
 * Hover: since no item is one cell, the hovered cell is computed from the pointer position. The
 * spec does it itself (signals {@link HoverSignal}: pointer → cell index through the band scales →
 * one text line above the matrix, and one outline rect on the cell: two items whatever the size),
 * so that Jupyter's vega-embed shows row, column and value with no script of ours. VS Code's
 * renderer turns that off (`hover: false`) and keeps its own floating tooltip (render.ts): a line
 * at a fixed place is not as good as a tooltip at the pointer, and a Vega `tooltip` on one
 * transparent item would show the previous cell's value on entering a new one (vega calls the
 * tooltip handler before the pointer signal updates the item).
 */
import type { Spec } from 'vega';
import type { CkaPayload, MeasureMatrix, SimilarityMeasure } from '../mime';
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
  const text = p.title ?? (measuresOf(p) !== undefined ? 'Module similarity' : `${p.debiased ? 'Debiased ' : ''}${p.kind === 'rbf' ? 'RBF' : 'linear'} CKA`);
  const parts: string[] = [];
  if (p.modelA !== undefined || p.modelB !== undefined) parts.push(`${p.modelA ?? 'A'} vs ${p.modelB ?? 'B'}`);
  if (p.n !== undefined) parts.push(`n = ${p.n}`);
  const note = uncertaintyNote(p);
  if (note !== undefined) return { text, subtitle: parts.length > 0 ? `${parts.join(', ')}; ${note}` : note };
  return parts.length > 0 ? { text, subtitle: parts.join(', ') } : { text };
}

/**
 * The legend note of a payload with uncertainty: what hovering shows and what the × marks
 * (`95% bootstrap intervals on hover; × p > 0.05, not distinguishable from the null`).
 */
export function uncertaintyNote(p: CkaPayload): string | undefined {
  const u = p.uncertainty;
  if (u === undefined) return undefined;
  const parts: string[] = [];
  if (u.lower !== undefined) parts.push(`${Math.round(u.level * 100)}% bootstrap intervals on hover`);
  if (u.pValue !== undefined) parts.push(`× permutation p > ${u.alpha}: not distinguishable from the null`);
  return parts.length > 0 ? parts.join('; ') : undefined;
}

/** Whether cell (i, j) is marked: its permutation p-value exceeds alpha. */
export function isIndistinguishable(p: CkaPayload, i: number, j: number): boolean {
  const v = p.uncertainty?.pValue?.[i]?.[j];
  return v !== undefined && v !== null && v > p.uncertainty!.alpha;
}

/** One SVG path drawing a × in every marked cell (undefined when none is marked). */
export function nullMarkPath(p: CkaPayload, step: number): string | undefined {
  const parts: string[] = [];
  const m = Math.max(2, Math.round(step * 0.3));
  p.values.forEach((row, i) =>
    row.forEach((_, j) => {
      if (!isIndistinguishable(p, i, j)) return;
      const x0 = j * step + m;
      const y0 = i * step + m;
      const d = step - 2 * m;
      parts.push(`M${x0},${y0}l${d},${d}M${x0 + d},${y0}l${-d},${d}`);
    }),
  );
  return parts.length > 0 ? parts.join('') : undefined;
}

/**
 * The uncertainty of cell (i, j) as lines for a tooltip: `95% interval: [0.41, 0.52]`,
 * `p = 0.005 (200 permutations)`, and `not distinguishable from the null (α = 0.05)` when marked.
 */
export function cellUncertaintyLines(p: CkaPayload, i: number, j: number): string[] {
  const u = p.uncertainty;
  if (u === undefined) return [];
  const num = (v: number | null | undefined, d: number) => (v === null || v === undefined || Number.isNaN(v) ? 'n/a' : v.toFixed(d));
  const lines: string[] = [];
  if (u.lower !== undefined) lines.push(`${Math.round(u.level * 100)}% interval: [${num(u.lower[i]?.[j], 4)}, ${num(u.upper?.[i]?.[j], 4)}]`);
  if (u.pValue !== undefined) lines.push(`p = ${num(u.pValue[i]?.[j], 4)} (${u.permutations} permutations)`);
  if (isIndistinguishable(p, i, j)) lines.push(`not distinguishable from the null (α = ${u.alpha})`);
  return lines;
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

/** Names of the signals that drive the hover line, for views that want to read or set them. */
export const HoverSignal = {
  /** `[x, y]` of the pointer relative to the matrix's top-left corner, or null outside the view. */
  pointer: 'cka_pointer',
  /** `[row, column]` index of the hovered cell, or null when the pointer is not over a cell. */
  cell: 'cka_cell',
  /**
   * The line shown: `A: row, B: column, CKA: 0.123` (`n/a` for a null cell), with
   * ` [0.100, 0.150], p = 0.005` when the payload has uncertainty; '' when none.
   */
  text: 'cka_cell_text',
} as const;
export type HoverSignal = (typeof HoverSignal)[keyof typeof HoverSignal];

/**
 * Payloads that carry several measures (`measures`, from `tl.similarity.matrix`) get a switch: a
 * radio input bound to {@link MeasureSignal.measure} (when there are two or more) picks which
 * measure's cells are drawn; the legend's title (the measure, with its range) and the hover line
 * follow it. All measures share the 0..1 colour scale. A payload without `measures` draws as
 * before, with no signal of these.
 */
export const MeasureSignal = {
  /** The measure shown, by name (`cka`, `svcca`, …); the radio input sets it. */
  measure: 'cka_measure',
  /** Its index in the payload's `measures`. */
  index: 'cka_measure_index',
  /** The measures' labels (the legend's title), by index. */
  labels: 'cka_measure_labels',
  /** The measures' matrices (null for NaN), by index: what the hover line reads. */
  values: 'cka_measure_values',
  /** The measures' short names (the hover line's), by index. */
  names: 'cka_measure_names',
} as const;
export type MeasureSignal = (typeof MeasureSignal)[keyof typeof MeasureSignal];

/** What the hover line and tooltips call each measure. */
export const MEASURE_SHORT_NAMES: Readonly<Record<SimilarityMeasure, string>> = { cka: 'CKA', svcca: 'SVCCA', pwcca: 'PWCCA', procrustes: 'Procrustes', rsa: 'RSA' };

/** The payload's measures, or undefined for a one-measure (CKA) payload. */
export function measuresOf(p: CkaPayload): readonly MeasureMatrix[] | undefined {
  return p.measures !== undefined && p.measures.length > 0 ? p.measures : undefined;
}

/** The signals of the measure switch. */
function measureSignals(measures: readonly MeasureMatrix[]): object[] {
  const names = measures.map((m) => m.measure);
  return [
    {
      name: MeasureSignal.measure,
      value: names[0],
      ...(measures.length > 1 ? { bind: { input: 'radio', options: names, labels: measures.map((m) => m.label), name: 'Measure ' } } : {}),
    },
    { name: MeasureSignal.index, update: `max(0, indexof(${JSON.stringify(names)}, ${MeasureSignal.measure}))` },
    { name: MeasureSignal.labels, value: measures.map((m) => m.label) },
    { name: MeasureSignal.names, value: measures.map((m) => MEASURE_SHORT_NAMES[m.measure] ?? m.measure) },
  ];
}

/** Options of {@link ckaSpec}. */
export interface CkaSpecOptions {
  /** Fill of a cell of value t in [0, 1]; by default the spec's `color` scale (the legend's scheme). */
  readonly colorOf?: (t: number) => string;
  /**
   * Whether the spec shows the hovered cell's row, column and value itself (default true: Jupyter
   * and any plain vega-embed). VS Code's renderer passes false and draws its own tooltip.
   */
  readonly hover?: boolean;
}

/** Geometry the renderer needs to map a pointer position to a cell. */
export interface HeatmapLayout {
  readonly step: number;
  readonly rows: readonly string[];
  readonly columns: readonly string[];
}

/**
 * The Vega spec of the heatmap of `p` in `theme`, and the geometry a pointer tooltip needs. Cells
 * are filled through the spec's `color` scale (the legend's scheme), or with `options.colorOf(t)`
 * for t in [0, 1] when given. Unless `options.hover` is false, hovering a cell shows its row,
 * column and value (3 decimals, `n/a` for null) in a line above the matrix and outlines the cell.
 *
 * @example
 * const { spec } = ckaSpec(result.toPayload(), lightTheme);
 * const { spec: vscode, layout } = ckaSpec(payload, theme, { hover: false }); // own tooltip
 */
export function ckaSpec(p: CkaPayload, theme: Theme, options: CkaSpecOptions = {}): { spec: Spec; layout: HeatmapLayout } {
  const { colorOf, hover = true } = options;
  const rows = uniqueLabels(p.rows);
  const columns = uniqueLabels(p.columns);
  const step = cellSize(rows.length, columns.length);
  const labelSize = Math.min(11, Math.max(7, step - 2));
  const hc = isHighContrast(theme.kind);
  const measures = measuresOf(p);
  const cellsOf = (values: CkaPayload['values']) => [...levelPaths(values, step)].map(([l, path]) => {
    const t = l < 0 ? null : l / (LEVELS - 1);
    const fill = t === null ? theme.mutedForeground : colorOf?.(t);
    return { path, t, ...(fill !== undefined ? { fill } : {}), opacity: t === null ? 0.25 : 1 };
  });
  // With several measures, every measure's cells, tagged with its index and filtered by the switch.
  const cells = measures === undefined ? cellsOf(p.values) : measures.flatMap((m, i) => cellsOf(m.values).map((c) => ({ ...c, m: i })));
  const fill = colorOf !== undefined ? { field: 'fill' } : [{ test: 'datum.t === null', field: 'fill' }, { scale: 'color', field: 't' }];
  const title = ckaTitle(p);
  const config = vegaConfig(theme);
  const hovered = hover ? hoverParts(p, theme, config) : undefined;
  const spec = {
    $schema: 'https://vega.github.io/schema/vega/v5.json',
    description: `${title.text}: ${rows.length}×${columns.length} module similarity heatmap${measures !== undefined ? ` (${measures.map((m) => MEASURE_SHORT_NAMES[m.measure] ?? m.measure).join(', ')})` : ''}`,
    width: step * columns.length,
    height: step * rows.length,
    padding: 4,
    autosize: 'pad',
    title: { ...title, anchor: 'start' },
    data: [{ name: 'cells', values: cells, ...(measures !== undefined ? { transform: [{ type: 'filter', expr: `datum.m === ${MeasureSignal.index}` }] } : {}) }],
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
        title: measures !== undefined ? { signal: `${MeasureSignal.labels}[${MeasureSignal.index}]` } : 'CKA',
        // a measure's label names its range too: room for it (vega cuts titles at 180 px)
        ...(measures !== undefined ? { titleLimit: 360 } : {}),
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
      ...nullMarks(p, step, theme),
      ...(hovered?.marks ?? []),
    ],
    ...(hovered !== undefined || measures !== undefined ? { signals: [...(measures !== undefined ? measureSignals(measures) : []), ...(hovered?.signals ?? [])] } : {}),
    config: hovered?.config ?? config,
  };
  return { spec: spec as unknown as Spec, layout: { step, rows, columns } };
}

/**
 * The marking layer: a × over each cell not distinguishable from the null, drawn twice (a dark
 * halo under a light stroke) so that it shows on every colour of the scale; two items whatever the
 * number of cells.
 */
function nullMarks(p: CkaPayload, step: number, theme: Theme): object[] {
  const path = nullMarkPath(p, step);
  if (path === undefined) return [];
  const mark = (name: string, stroke: string, width: number, opacity: number) => ({
    type: 'path',
    name,
    interactive: false,
    encode: { update: { path: { value: path }, stroke: { value: stroke }, strokeWidth: { value: width }, strokeOpacity: { value: opacity }, strokeCap: { value: 'round' } } },
  });
  const w = Math.max(1, Math.min(2, step / 14));
  return [mark('null-marks-halo', '#000000', w + 1.5, 0.55), mark('null-marks', isHighContrast(theme.kind) ? theme.foreground : '#ffffff', w, 0.95)];
}

/**
 * The pieces of the hover line: signals from the pointer to the cell and its text, an outline rect
 * and a text mark (one item each), and config entries. Colours, font and the title's offset live in
 * the config, so that the spec apart from its config stays the same in every theme.
 */
function hoverParts(p: CkaPayload, theme: Theme, config: Record<string, unknown>): { signals: object[]; marks: object[]; config: Record<string, unknown> } {
  const nullNaN = (values: CkaPayload['values']) => values.map((row) => row.map((v) => (v === null || Number.isNaN(v) ? null : v)));
  const measures = measuresOf(p);
  const { pointer, cell, text } = HoverSignal;
  const values = `${cell}_values`;
  const names = `${cell}_names`;
  const v = `${values}[${cell}[0]][${cell}[1]]`;
  const u = p.uncertainty;
  const bounds = u?.lower !== undefined && u.upper !== undefined ? { lower: u.lower, upper: u.upper } : undefined;
  const pv = u?.pValue;
  const extra =
    (bounds ? ` + ' [' + (${cell}_lower[${cell}[0]][${cell}[1]] === null ? 'n/a' : format(${cell}_lower[${cell}[0]][${cell}[1]], '.3f')) + ', ' + (${cell}_upper[${cell}[0]][${cell}[1]] === null ? 'n/a' : format(${cell}_upper[${cell}[0]][${cell}[1]], '.3f')) + ']'` : '') +
    (pv ? ` + ', p = ' + (${cell}_p[${cell}[0]][${cell}[1]] === null ? 'n/a' : format(${cell}_p[${cell}[0]][${cell}[1]], '.3f'))` : '');
  const signals = [
    ...(measures !== undefined
      ? [
          { name: MeasureSignal.values, value: measures.map((m) => nullNaN(m.values)) },
          { name: values, update: `${MeasureSignal.values}[${MeasureSignal.index}]` },
        ]
      : [{ name: values, value: nullNaN(p.values) }]),
    ...(bounds ? [{ name: `${cell}_lower`, value: bounds.lower }, { name: `${cell}_upper`, value: bounds.upper }] : []),
    ...(pv ? [{ name: `${cell}_p`, value: pv }] : []),
    { name: names, value: [p.modelA ?? 'A', p.modelB ?? 'B'] },
    {
      name: pointer,
      value: null,
      on: [
        { events: 'mousemove', update: '[x(), y()]' },
        { events: 'mouseout', update: 'null' },
      ],
    },
    {
      name: cell,
      update:
        `${pointer} && ${pointer}[0] >= 0 && ${pointer}[1] >= 0 && ${pointer}[0] < width && ${pointer}[1] < height` +
        ` ? [floor(${pointer}[1] / bandwidth('y')), floor(${pointer}[0] / bandwidth('x'))] : null`,
    },
    {
      name: text,
      update:
        `${cell} ? ${names}[0] + ': ' + domain('y')[${cell}[0]] + ', ' + ${names}[1] + ': ' + domain('x')[${cell}[1]]` +
        ` + ', ${measures !== undefined ? `' + ${MeasureSignal.names}[${MeasureSignal.index}] + '` : 'CKA'}: ' + (${v} === null ? 'n/a' : format(${v}, '.3f'))${extra} : ''`,
    },
  ];
  const marks = [
    {
      type: 'rect',
      name: 'hover-cell',
      style: 'cka-hover-cell',
      interactive: false,
      encode: {
        update: {
          x: { signal: `${cell} ? ${cell}[1] * bandwidth('x') : 0` },
          y: { signal: `${cell} ? ${cell}[0] * bandwidth('y') : 0` },
          width: { signal: "bandwidth('x')" },
          height: { signal: "bandwidth('y')" },
          fill: { value: 'transparent' },
          strokeWidth: { value: 1.5 },
          strokeOpacity: { signal: `${cell} ? 1 : 0` },
        },
      },
    },
    {
      type: 'text',
      name: 'hover-text',
      style: 'cka-hover-text',
      interactive: false,
      encode: {
        update: {
          x: { value: 0 },
          y: { value: -4 },
          baseline: { value: 'bottom' },
          align: { value: 'left' },
          text: { signal: text },
        },
      },
    },
  ];
  return {
    signals,
    marks,
    config: {
      ...config,
      // room for the hover line between the title and the matrix
      title: { ...(config['title'] as object), offset: theme.fontSize + 8 },
      style: {
        'cka-hover-cell': { stroke: theme.foreground },
        'cka-hover-text': { fill: theme.foreground, font: theme.fontFamily, fontSize: theme.fontSize },
      },
    },
  };
}
