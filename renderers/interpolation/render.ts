/** Draws interpolation curves (`application/vnd.transferlab.interpolation+json`) with vega-lite. */
import { interpolationSpec } from '../../kernel/protocol/charts/interpolation';
import type { InterpolationPayload } from '../../kernel/protocol/mime';
import type { Theme } from '../common/theme';
import { embedVegaLite, type RenderedView } from '../common/vega';

export function renderInterpolation(host: HTMLElement, payload: InterpolationPayload, theme: Theme): Promise<RenderedView> {
  return embedVegaLite(host, interpolationSpec(payload, theme), theme);
}
