/**
 * Several CKA heatmaps side by side on one colour scale, with one legend (`tl.cka.sideBySide`):
 * e.g. P-T vs P-T next to RI-T vs RI-T, so that the eye compares equal colours as equal values.
 */
import type { CkaPayload, MimeBundle } from '../../protocol/mime';
import { Mime } from '../../protocol/mime';
import { ckaSpec, lightTheme } from '../../protocol/charts';
import { DISPLAY, type Displayable } from '../display';
import { fail } from '../validate';
import { CkaResult } from './result';

/** Heatmaps shown side by side; displays itself (VS Code's CKA renderer, Jupyter's Vega). */
export class CkaPanels implements Displayable {
  constructor(
    /** The heatmaps, left to right. */
    readonly results: readonly CkaResult[],
    /** A title above them all. */
    readonly title?: string,
  ) {}

  /** The CKA payload with `panels`: the first heatmap's fields, and every heatmap as a panel. */
  toPayload(): CkaPayload {
    const panels = this.results.map((r) => r.toPayload());
    return { ...panels[0]!, ...(this.title !== undefined ? { title: this.title } : {}), panels };
  }

  /** The Vega spec in the fixed light theme (what Jupyter front ends draw). */
  toVega(): Record<string, unknown> {
    return ckaSpec(this.toPayload(), lightTheme).spec as unknown as Record<string, unknown>;
  }

  toString(): string {
    return [this.title, ...this.results.map((r) => r.toString())].filter((s) => s !== undefined).join('\n\n');
  }

  [DISPLAY](): MimeBundle {
    return { [Mime.cka]: this.toPayload(), [Mime.vega]: this.toVega(), [Mime.plain]: this.toString() };
  }
}

/**
 * Shows CKA heatmaps side by side, on one colour scale over [0, 1] with one legend, each with its
 * own modules and title; the cells shrink so that the row fits the output.
 *
 * @example
 * const ptPt = await tl.cka.matrix(pt1, pt2, probe, { modelA: 'P-T₁', modelB: 'P-T₂' });
 * const ritRit = await tl.cka.matrix(rit1, rit2, probe, { modelA: 'RI-T₁', modelB: 'RI-T₂' });
 * display(tl.cka.sideBySide([ptPt, ritRit], { title: 'Two P-T runs agree more than two RI-T runs' }));
 */
export function sideBySide(results: readonly CkaResult[], options: { readonly title?: string } = {}): CkaPanels {
  if (!Array.isArray(results) || results.length === 0) fail('cka.sideBySide', 'results', 'must be a non-empty array of CKA results (from tl.cka.matrix)');
  results.forEach((r, i) => {
    if (!(r instanceof CkaResult)) fail('cka.sideBySide', `results[${i}]`, 'is not a CKA result (from tl.cka.matrix)');
  });
  if (options.title !== undefined && typeof options.title !== 'string') fail('cka.sideBySide', 'options.title', 'must be a string');
  return new CkaPanels(results, options.title);
}
