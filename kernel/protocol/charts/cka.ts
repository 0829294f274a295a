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
import { charWidth, DEFAULT_CHART_WIDTH, NARROW_CHART_WIDTH, wrapLines } from './layout';
import { isHighContrast, vegaConfig, type Theme } from './theme';

/** Colour levels the 0..1 range is quantised to (steps of 1/255: invisible). */
export const LEVELS = 256;

/**
 * Cell size in pixels: square cells, so that a 3×3 and a 16×16 matrix both fill a sensible width
 * (the matrix aims at 36 px per module, between 240 and 560 px wide, cells at most 96 px), within
 * `available` pixels for the matrix itself when given (cells then shrink down to 5 px).
 *
 * @example
 * cellSize(3, 3); // 80: a 240 px matrix
 * cellSize(16, 16); // 35
 * cellSize(16, 16, 300); // 18: the matrix fits in 300 px
 */
export function cellSize(rows: number, columns: number, available?: number): number {
  const n = Math.max(1, rows, columns);
  const target = Math.max(240, Math.min(560, 36 * n));
  const room = available === undefined ? target : Math.min(target, available * (n / Math.max(1, columns)));
  return Math.max(5, Math.min(96, Math.floor(room / n)));
}

/** Smallest cell (px) that prints its value (`.87` at 9 px); from {@link FULL_VALUE_CELL} px on, `0.87`. */
export const MIN_VALUE_CELL = 16;

/** Smallest cell (px) that prints a value with its leading zero. */
export const FULL_VALUE_CELL = 28;

/**
 * Font size of the values printed in cells of `step` px: as large as the value's text fits with a
 * margin (about 0.55 em per digit), 9 to 16 px; 0 when the cells are too small for values.
 */
export function valueFontSize(step: number): number {
  if (step < MIN_VALUE_CELL) return 0;
  const size = step >= FULL_VALUE_CELL ? (step - 4) / 2.2 : (step - 3) / 1.65;
  return Math.min(16, Math.max(9, Math.floor(size)));
}

/**
 * A value as printed in a cell of `step` px: two decimals (`0.87`), in small cells without the
 * leading zero (`.87`, `-.05`) and one decimal from 1 on (`1.0`).
 *
 * @example
 * cellText(0.8712, 30); // '0.87'
 * cellText(0.8712, 18); // '.87'
 * cellText(1, 18); // '1.0'
 */
export function cellText(v: number, step: number): string {
  if (step >= FULL_VALUE_CELL) return v.toFixed(2);
  // three characters at most: `.87`, `-.05`, `1.0`
  return Math.abs(v) >= 1 ? v.toFixed(1) : v.toFixed(2).replace(/^(-?)0\./, '$1.');
}

/** Luminance above which a cell's value is printed black rather than white (WCAG: equal contrast). */
export const TEXT_LUMINANCE_THRESHOLD = 0.179;

/**
 * The horizontal room (px) left for the matrix when the chart gets `width` px in all, beside row
 * labels measured by `measure` (default: Vega's own estimate when it cannot measure text, which
 * is wider than browsers draw).
 */
export function matrixRoom(width: number, rows: readonly string[], labelLimit: number, legendBelow: boolean, measure?: (text: string, fontSize: number) => number): number {
  const longest = Math.max(0, ...rows.map((r) => (measure !== undefined ? measure(r, 11) : r.length * charWidth(11))));
  const labels = Math.min(labelLimit, longest) + 34; // tick labels, ticks and axis title
  const legend = legendBelow ? 0 : 78; // gradient, its labels and title
  return Math.max(40, width - labels - legend - 12);
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
  /**
   * The width (px) of the container the chart must fit (default {@link DEFAULT_CHART_WIDTH}): cells
   * shrink to fit it, and below {@link NARROW_CHART_WIDTH} the legend moves under the matrix.
   */
  readonly width?: number;
  /** Width (px) of a label at a font size, as the page draws it (renderers measure with a canvas). */
  readonly measureText?: (text: string, fontSize: number) => number;
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
  if (p.panels !== undefined && p.panels.length > 0) return ckaPanelsSpec(p.panels, theme, { ...options, ...(p.title !== undefined ? { title: p.title } : {}) });
  const { colorOf, hover = true } = options;
  const width = options.width !== undefined && Number.isFinite(options.width) && options.width > 0 ? options.width : DEFAULT_CHART_WIDTH;
  const narrow = width < NARROW_CHART_WIDTH;
  const labelLimit = narrow ? 80 : 140;
  const rows = uniqueLabels(p.rows);
  const columns = uniqueLabels(p.columns);
  const step = cellSize(rows.length, columns.length, matrixRoom(width, rows, labelLimit, narrow, options.measureText));
  const labelSize = Math.min(11, Math.max(7, step - 2));
  const valueSize = valueFontSize(step);
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
  // The value printed in each cell where it fits, black or white, whichever contrasts more with the cell.
  const valuesOf = (values: CkaPayload['values'], m?: number) =>
    values.flatMap((row, i) =>
      row.flatMap((v, j) => {
        const l = level(v);
        if (l < 0) return [];
        const t = l / (LEVELS - 1);
        const ink = colorOf !== undefined ? { ink: isLight(colorOf(t)) ? '#000000' : '#ffffff' } : {};
        return [{ x: (j + 0.5) * step, y: (i + 0.5) * step, t, text: cellText(v, step), ...ink, ...(m !== undefined ? { m } : {}) }];
      }),
    );
  const cellValues = valueSize === 0 ? [] : measures === undefined ? valuesOf(p.values) : measures.flatMap((m, i) => valuesOf(m.values, i));
  const measureFilter = measures !== undefined ? { transform: [{ type: 'filter', expr: `datum.m === ${MeasureSignal.index}` }] } : {};
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
    title: { ...title, anchor: 'start', ...(narrow && title.subtitle !== undefined ? { subtitle: wrapLines([title.subtitle], width) } : {}) },
    data: [{ name: 'cells', values: cells, ...measureFilter }, ...(cellValues.length > 0 ? [{ name: 'cell_values', values: cellValues, ...measureFilter }] : [])],
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
        labelLimit,
        labelFontSize: labelSize,
        labelOverlap: false,
        titleLimit: Math.max(80, step * columns.length),
        zindex: 1,
      },
      { orient: 'left', scale: 'y', title: `${p.modelA ?? 'model A'} module`, labelLimit, labelFontSize: labelSize, titleLimit: Math.max(80, step * rows.length), zindex: 1 },
    ],
    legends: [
      {
        fill: 'color',
        type: 'gradient',
        title: measures !== undefined ? { signal: `${MeasureSignal.labels}[${MeasureSignal.index}]` } : 'CKA',
        // a measure's label names its range too: room for it (vega cuts titles at 180 px)
        ...(measures !== undefined ? { titleLimit: 360 } : {}),
        // the whole 0..1 scale, ticks at every 0.2, as long as the matrix (within 120..240 px)
        gradientLength: Math.min(240, Math.max(120, narrow ? step * columns.length : step * rows.length)),
        values: [0, 0.2, 0.4, 0.6, 0.8, 1],
        format: '.1f',
        ...(narrow ? { orient: 'bottom', direction: 'horizontal', offset: 8 } : {}),
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
      ...(cellValues.length > 0 ? [valueMarks(valueSize, colorOf !== undefined)] : []),
      ...(hovered?.marks ?? []),
    ],
    ...(hovered !== undefined || measures !== undefined ? { signals: [...(measures !== undefined ? measureSignals(measures) : []), ...(hovered?.signals ?? [])] } : {}),
    config: hovered?.config ?? config,
  };
  return { spec: spec as unknown as Spec, layout: { step, rows, columns } };
}

/** Gap (px) between heatmaps side by side. */
export const PANEL_GAP = 24;

/** Narrowest share of a row (px) a heatmap side by side gets; below it, heatmaps stack. */
export const MIN_PANEL_SHARE = 280;

/**
 * Several heatmaps side by side (a payload's `panels`): each drawn as {@link ckaSpec} draws it (cells,
 * values, module axes, its own title) in a group of a grid layout, all on one `color` scale with one
 * legend; the cells shrink so that the row fits `options.width`, and in a narrow container the
 * heatmaps stack. No hover line (the tooltip of VS
 * Code's renderer is for a single heatmap); measures switches are not drawn in panels.
 *
 * @example
 * const { spec } = ckaPanelsSpec([ptPt.toPayload(), ritRit.toPayload()], lightTheme, { width: 900 });
 */
export function ckaPanelsSpec(panels: readonly CkaPayload[], theme: Theme, options: CkaSpecOptions & { readonly title?: string } = {}): { spec: Spec; layout: HeatmapLayout } {
  const width = options.width !== undefined && Number.isFinite(options.width) && options.width > 0 ? options.width : DEFAULT_CHART_WIDTH;
  const n = panels.length;
  const legendBelow = width < NARROW_CHART_WIDTH * Math.min(2, n);
  // Each panel gets an equal share of the row (ckaSpec takes the legend's room off a width, so it
  // is added back below); too narrow a share for labels and cells, and the panels stack instead.
  const rowShare = Math.floor((width - (legendBelow ? 0 : 78) - (n - 1) * PANEL_GAP) / n);
  const stacked = n > 1 && rowShare < MIN_PANEL_SHARE;
  const share = stacked ? width - (legendBelow ? 0 : 78) : rowShare;
  const built = panels.map((panel) => {
    const { panels: _nested, measures: _measures, ...single } = panel;
    return ckaSpec(single, theme, { ...options, hover: false, width: share + 78 });
  });
  // One scale for all: the smallest cells of any panel, so that equal values look equal in size too.
  const step = Math.min(...built.map((b) => b.layout.step));
  const again = built.map((b, i) => (b.layout.step === step ? b : ckaSpecAtStep(panels[i]!, theme, options, step, share)));
  const groups = again.map(({ spec, layout }, i) => {
    const s = spec as unknown as { title: object; data: object[]; scales: { name: string }[]; axes: object[]; marks: object[] };
    return {
      type: 'group',
      name: `panel-${i}`,
      title: s.title,
      encode: { update: { width: { value: step * layout.columns.length }, height: { value: step * layout.rows.length } } },
      data: s.data,
      // explicit ranges: a nested group's scales do not see its width and height as `width`/`height`
      scales: s.scales
        .filter((x) => x.name !== 'color')
        .map((x) => (x.name === 'x' ? { ...x, range: [0, step * layout.columns.length] } : x.name === 'y' ? { ...x, range: [0, step * layout.rows.length] } : x)),
      axes: s.axes,
      marks: s.marks,
    };
  });
  const first = again[0]!.spec as unknown as { legends: Record<string, unknown>[] };
  const legend = { ...first.legends[0]!, gradientLength: Math.min(240, Math.max(120, step * Math.max(...panels.map((p) => p.rows.length)))), ...(legendBelow ? { orient: 'bottom', direction: 'horizontal' } : { orient: 'right' }) };
  const spec = {
    $schema: 'https://vega.github.io/schema/vega/v5.json',
    description: `${n} module similarity heatmaps side by side on one colour scale`,
    padding: 4,
    autosize: 'pad',
    ...(options.title !== undefined ? { title: { text: options.title, anchor: 'start' } } : {}),
    layout: { columns: stacked ? 1 : n, padding: PANEL_GAP, bounds: 'full', align: 'each' },
    scales: [{ name: 'color', type: 'linear', domain: [0, 1], range: { scheme: theme.scheme }, clamp: true, zero: false }],
    legends: [legend],
    marks: groups,
    config: vegaConfig(theme),
  };
  return { spec: spec as unknown as Spec, layout: again[0]!.layout };
}

/** {@link ckaSpec} of one panel with its cells at `step` px (the panels' common size). */
function ckaSpecAtStep(panel: CkaPayload, theme: Theme, options: CkaSpecOptions, step: number, share: number): { spec: Spec; layout: HeatmapLayout } {
  const { panels: _nested, measures: _measures, ...single } = panel;
  // Narrow the width until the cells come out at `step` (cellSize is monotone in the width).
  let w = share + 78;
  let built = ckaSpec(single, theme, { ...options, hover: false, width: w });
  while (built.layout.step > step && w > 40) {
    w -= Math.max(1, Math.max(panel.rows.length, panel.columns.length) * (built.layout.step - step));
    built = ckaSpec(single, theme, { ...options, hover: false, width: w });
  }
  return built;
}

/** Whether a CSS colour (`#rgb`, `#rrggbb`, `rgb(r, g, b)`) is light: its luminance above {@link TEXT_LUMINANCE_THRESHOLD}. */
export function isLight(color: string): boolean {
  let rgb: number[] | undefined;
  const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(color.trim());
  if (hex !== null) {
    const h = hex[1]!.length === 3 ? [...hex[1]!].map((c) => c + c).join('') : hex[1]!;
    rgb = [0, 2, 4].map((k) => parseInt(h.slice(k, k + 2), 16));
  } else {
    const m = /^rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)/i.exec(color.trim());
    if (m !== null) rgb = [m[1], m[2], m[3]].map(Number);
  }
  if (rgb === undefined) return false;
  const lin = rgb.map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * lin[0]! + 0.7152 * lin[1]! + 0.0722 * lin[2]! > TEXT_LUMINANCE_THRESHOLD;
}

/**
 * The values printed in the cells (two decimals, centred): black on light cells, white on dark ones
 * (by the colour scale's luminance, or the `ink` computed from `colorOf`). One item per cell, so
 * only drawn when cells are big enough to read it ({@link MIN_VALUE_CELL}), i.e. at most a few
 * hundred items.
 */
function valueMarks(fontSize: number, inked: boolean): object {
  return {
    type: 'text',
    name: 'cell-values',
    from: { data: 'cell_values' },
    interactive: false,
    encode: {
      update: {
        x: { field: 'x' },
        y: { field: 'y' },
        text: { field: 'text' },
        align: { value: 'center' },
        baseline: { value: 'middle' },
        fontSize: { value: fontSize },
        fill: inked ? { field: 'ink' } : { signal: `luminance(scale('color', datum.t)) > ${TEXT_LUMINANCE_THRESHOLD} ? '#000000' : '#ffffff'` },
      },
    },
  };
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
