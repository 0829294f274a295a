/** Draws interpolation curves (`application/vnd.transferlab.interpolation+json`) with vega-lite. */
import { interpolationSpec } from '../../kernel/protocol/charts/interpolation';
import type { InterpolationPayload } from '../../kernel/protocol/mime';
import type { Theme } from '../common/theme';
import { drawToFit } from '../common/fit';
import { embedVegaLite, type RenderedView } from '../common/vega';

export function renderInterpolation(host: HTMLElement, payload: InterpolationPayload, theme: Theme): Promise<RenderedView> {
  return drawToFit(host, (target, width) => embedVegaLite(target, interpolationSpec(payload, theme, { width }), theme));
}
