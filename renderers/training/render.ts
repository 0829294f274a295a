/**
 * Draws live training curves (`application/vnd.transferlab.training+json`). The kernel sends the
 * whole payload again as training goes on (update_display_data); each update is drawn in full
 * next to the previous chart and swapped in when ready (see common/activation.ts).
 */
import { statusLines, trainingSpec } from '../../kernel/protocol/charts/training';
import type { TrainingPayload } from '../../kernel/protocol/mime';
import type { Theme } from '../common/theme';
import { drawToFit } from '../common/fit';
import { embedVegaLite, type RenderedView } from '../common/vega';

export async function renderTraining(host: HTMLElement, payload: TrainingPayload, theme: Theme): Promise<RenderedView> {
  const doc = host.ownerDocument;
  const status = doc.createElement('div');
  status.className = 'tl-status';
  for (const line of statusLines(payload)) {
    const div = doc.createElement('div');
    div.textContent = line;
    status.append(div);
  }
  const chart = doc.createElement('div');
  host.append(status, chart);
  if (payload.runs.every((r) => r.points.length === 0)) {
    return { dispose: () => undefined };
  }
  return drawToFit(chart, (target, width) => embedVegaLite(target, trainingSpec(payload, theme, { width }), theme));
}
