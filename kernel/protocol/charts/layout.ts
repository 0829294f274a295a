/**
 * Sizing shared by the chart builders: the width a chart is laid out for, and how panels share it,
 * so that a chart fits its container (a narrow editor, a 700 px report) instead of being cut off.
 * vega-lite's own `autosize: fit` does not apply to concatenated views (the training and
 * interpolation charts are `hconcat`s), so the builders compute widths from the container's.
 */

/** Options of the chart builders that fit a container. */
export interface FitOptions {
  /**
   * The width (px) of the container the chart must fit (default {@link DEFAULT_CHART_WIDTH}):
   * panels shrink to it, stack when side by side they would be too narrow, and below
   * {@link NARROW_CHART_WIDTH} the legends go under the panels.
   */
  readonly width?: number;
}

/** The width a chart is laid out for when its container's is not known (the kernel's fallback). */
export const DEFAULT_CHART_WIDTH = 960;

/** Below this width a chart's legends go under its panels. */
export const NARROW_CHART_WIDTH = 560;

/** Longest legend label (px) before it is cut with an ellipsis (the full name is in the tooltips). */
export const LEGEND_LABEL_LIMIT = 200;

/** Narrowest panel (px) drawn side by side with another; narrower ones stack. */
export const MIN_PANEL_WIDTH = 180;

/**
 * Width (px) Vega gives a character of a `fontSize` px label when it cannot measure text (headless);
 * browsers measure narrower, so widths computed with it are safe.
 */
export function charWidth(fontSize = 11): number {
  return 0.8 * fontSize;
}

/** Width (px) of a legend beside a chart whose longest entry (or title) has `chars` characters, labels cut at `limit` px. */
export function legendWidth(chars: number, limit = LEGEND_LABEL_LIMIT): number {
  return Math.min(limit, Math.ceil(chars * charWidth())) + 40;
}

/**
 * How `count` panels are laid out in `width` px, beside a legend `legend` px wide: each panel's
 * width, whether they stack (`vconcat`) instead of standing side by side, and whether the legends
 * go below (narrow containers, or a legend that would squeeze the panels).
 *
 * @example
 * panelLayout(2, 800); // { panelWidth: 230, stacked: false, legendBelow: false }
 * panelLayout(2, 420); // { panelWidth: 320, stacked: true, legendBelow: true }
 */
export function panelLayout(count: number, width: number | undefined, preferred = 320, legend = 176): { panelWidth: number; stacked: boolean; legendBelow: boolean } {
  const w = width !== undefined && Number.isFinite(width) && width > 0 ? width : DEFAULT_CHART_WIDTH;
  const axis = 64; // y axis labels and title of each panel
  const spacing = 20;
  const n = Math.max(1, count);
  const sideOf = (beside: number) => Math.floor((w - beside - n * axis - (n - 1) * spacing - 16) / n);
  // The legend goes below in a narrow container, or where beside the panels it would squeeze them.
  const legendBelow = w < NARROW_CHART_WIDTH || sideOf(legend) < MIN_PANEL_WIDTH;
  const beside = legendBelow ? 0 : legend;
  const side = sideOf(beside);
  const stacked = n > 1 && side < MIN_PANEL_WIDTH;
  const panelWidth = stacked ? w - beside - axis - 16 : side;
  return { panelWidth: Math.max(120, Math.min(preferred, panelWidth)), stacked, legendBelow };
}

/**
 * Lines of a title or subtitle broken at spaces so that each fits `width` px at `fontSize`
 * ({@link charWidth} per character); a word longer than a line stays whole.
 *
 * @example
 * wrapLines(['barrier: highest loss above the straight line between the end losses'], 300);
 * // ['barrier: highest loss above the', 'straight line between the end', 'losses']
 */
export function wrapLines(lines: readonly string[], width: number | undefined, fontSize = 11): string[] {
  const max = Math.max(24, Math.floor(((width !== undefined && Number.isFinite(width) && width > 0 ? width : DEFAULT_CHART_WIDTH) - 16) / charWidth(fontSize)));
  return lines.flatMap((line) => {
    const out: string[] = [];
    let current = '';
    for (const word of line.split(' ')) {
      if (current !== '' && current.length + 1 + word.length > max) {
        out.push(current);
        current = word;
      } else current = current === '' ? word : `${current} ${word}`;
    }
    out.push(current);
    return out;
  });
}
