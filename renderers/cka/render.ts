/**
 * Draws a CKA heatmap (`application/vnd.transferlab.cka+json`): Vega draws title, axes, legend and
 * the cells from the spec the kernel's fallback uses too (kernel/protocol/charts/cka.ts); the
 * tooltip (row module, column module, value) follows the pointer, computed from its position since
 * cells are merged into paths. It replaces the spec's own hover line (Jupyter's), which a renderer
 * in VS Code's webview can do better than a line at a fixed place. A payload with several measures
 * gets the spec's measure switch; the tooltip reads the measure it shows.
 */
import type { CkaPayload } from '../../kernel/protocol/mime';
import { cellUncertaintyLines, ckaSpec, MEASURE_SHORT_NAMES, MeasureSignal, measuresOf, type HeatmapLayout } from '../../kernel/protocol/charts/cka';
import type { Theme } from '../common/theme';
import { drawToFit } from '../common/fit';
import { embedVega, type RenderedView } from '../common/vega';

/** Draws the heatmap laid out for the width of its container, and again when that changes. */
export function renderCka(host: HTMLElement, payload: CkaPayload, theme: Theme): Promise<RenderedView> {
  return drawToFit(host, (target, width) => renderCkaAt(target, payload, theme, width));
}

async function renderCkaAt(host: HTMLElement, payload: CkaPayload, theme: Theme, width: number | undefined): Promise<RenderedView> {
  // The spec's own hover line is off here: the floating tooltip below follows the pointer.
  const measureText = textMeasure(host.ownerDocument, theme.fontFamily);
  const { spec, layout } = ckaSpec(payload, theme, { hover: false, width, ...(measureText ? { measureText } : {}) });
  const embedded = await embedVega(host, spec, theme, { tooltip: false });
  const measures = measuresOf(payload);
  const shown = (): Shown => {
    if (measures === undefined) return { name: 'CKA', values: payload.values };
    const m = measures[Number(embedded.view.signal(MeasureSignal.index)) || 0] ?? measures[0]!;
    return { name: MEASURE_SHORT_NAMES[m.measure] ?? m.measure, values: m.values };
  };
  // Heatmaps side by side: no pointer tooltip (it maps a position to a cell of one matrix).
  const stop = payload.panels !== undefined && payload.panels.length > 0 ? () => undefined : attachCellTooltip(host, embedded.view.origin(), layout, payload, theme, shown);
  return {
    dispose(): void {
      stop();
      embedded.dispose();
    },
  };
}

/** Measures text as the page draws it (a canvas in the theme's font), so that labels get the room they take. */
function textMeasure(doc: Document, fontFamily: string): ((text: string, fontSize: number) => number) | undefined {
  const context = doc.createElement('canvas').getContext?.('2d');
  if (!context) return undefined;
  return (text, fontSize) => {
    context.font = `${fontSize}px ${fontFamily}`;
    return context.measureText(text).width;
  };
}

/** The measure the heatmap shows: its short name and matrix. */
interface Shown {
  readonly name: string;
  readonly values: CkaPayload['values'];
}

/**
 * Shows row, column and value of the cell under the pointer (with its interval and p-value when the
 * payload has them); returns a function that removes it.
 */
function attachCellTooltip(host: HTMLElement, origin: [number, number], layout: HeatmapLayout, payload: CkaPayload, theme: Theme, shown: () => Shown): () => void {
  const doc = host.ownerDocument;
  const tip = doc.createElement('div');
  tip.className = 'tl-tooltip';
  tip.setAttribute('role', 'tooltip');
  Object.assign(tip.style, {
    position: 'absolute',
    pointerEvents: 'none',
    display: 'none',
    zIndex: '10',
    padding: '4px 8px',
    borderRadius: '3px',
    whiteSpace: 'nowrap',
    font: `${theme.fontSize}px ${theme.fontFamily}`,
    color: `var(--vscode-editorHoverWidget-foreground, ${theme.foreground})`,
    background: `var(--vscode-editorHoverWidget-background, ${theme.background})`,
    border: `1px solid var(--vscode-editorHoverWidget-border, ${theme.borderColor})`,
  });
  host.style.position = 'relative';
  host.append(tip);
  const a = payload.modelA ?? 'A';
  const b = payload.modelB ?? 'B';
  const move = (event: PointerEvent): void => {
    const chart = host.querySelector('svg, canvas');
    if (chart === null) return;
    const box = chart.getBoundingClientRect();
    const x = event.clientX - box.left - origin[0];
    const y = event.clientY - box.top - origin[1];
    const j = Math.floor(x / layout.step);
    const i = Math.floor(y / layout.step);
    if (x < 0 || y < 0 || i >= layout.rows.length || j >= layout.columns.length) {
      tip.style.display = 'none';
      return;
    }
    const { name, values } = shown();
    const v = values[i]?.[j];
    const value = v === null || v === undefined || Number.isNaN(v) ? 'NaN' : v.toFixed(4);
    tip.replaceChildren(...[`${a}: ${layout.rows[i]}`, `${b}: ${layout.columns[j]}`, `${name}: ${value}`, ...cellUncertaintyLines(payload, i, j)].map((line) => {
      const div = doc.createElement('div');
      div.textContent = line;
      return div;
    }));
    const hostBox = host.getBoundingClientRect();
    tip.style.left = `${event.clientX - hostBox.left + 12}px`;
    tip.style.top = `${event.clientY - hostBox.top + 12}px`;
    tip.style.display = 'block';
  };
  const leave = (): void => {
    tip.style.display = 'none';
  };
  host.addEventListener('pointermove', move);
  host.addEventListener('pointerleave', leave);
  return () => {
    host.removeEventListener('pointermove', move);
    host.removeEventListener('pointerleave', leave);
    tip.remove();
  };
}
