/**
 * The script of the HTML report (`transferlab export --to html`), inlined into the page: draws
 * every chart placeholder (`.tl-chart[data-mime]` holding its JSON payload) with the same renderer
 * modules VS Code uses, follows the page's colour scheme, and sizes sandboxed text/html outputs.
 * Sets `data-tl-report="done"` on <body> when everything is drawn. Not a VS Code renderer.
 */
import { Mime } from '../../kernel/protocol/mime';
import { createRendererApi, type RendererModule } from '../common/activation';
import { parseCkaPayload, parseImagesPayload, parseInterpolationPayload, parseTrainingPayload, parseVegaLiteSpec } from '../common/payloads';
import type { RendererApi } from '../common/rendererApi';
import { renderCka } from '../cka/render';
import { renderImages } from '../images/render';
import { renderInterpolation } from '../interpolation/render';
import { renderTraining } from '../training/render';
import { renderVegaLite } from '../vegalite/render';

const modules: RendererModule<never>[] = [
  { mime: Mime.cka, parse: parseCkaPayload, render: renderCka },
  { mime: Mime.interpolation, parse: parseInterpolationPayload, render: renderInterpolation },
  { mime: Mime.images, parse: parseImagesPayload, render: renderImages },
  { mime: Mime.training, parse: parseTrainingPayload, render: renderTraining },
  { mime: Mime.vegaLite, parse: parseVegaLiteSpec, render: renderVegaLite },
] as unknown as RendererModule<never>[];

const apis = new Map<string, RendererApi>(modules.map((m) => [m.mime, createRendererApi(m)]));

/** Sizes sandboxed HTML outputs to their content (same-origin sandbox, no scripts inside). */
function fitFrames(doc: Document): void {
  for (const frame of Array.from(doc.querySelectorAll<HTMLIFrameElement>('iframe.tl-html'))) {
    const fit = (): void => {
      // The <html> element's box is its content's height (scrollHeight would be the frame's own).
      const inner = frame.contentDocument?.documentElement;
      if (inner) frame.style.height = `${Math.ceil(inner.getBoundingClientRect().height) + 2}px`;
    };
    frame.addEventListener('load', fit);
    fit();
  }
}

export async function renderReport(doc: Document): Promise<void> {
  fitFrames(doc);
  const charts = Array.from(doc.querySelectorAll<HTMLElement>('.tl-chart[data-mime]'));
  let k = 0;
  for (const chart of charts) {
    const mime = chart.dataset['mime'] ?? '';
    const api = apis.get(mime);
    const json = chart.querySelector('script[type="application/json"]')?.textContent ?? 'null';
    if (api === undefined) continue;
    const host = doc.createElement('div');
    chart.prepend(host);
    const id = `report-${k++}`;
    await api.renderOutputItem(
      {
        id,
        mime,
        text: () => json,
        json: () => JSON.parse(json) as unknown,
        data: () => new TextEncoder().encode(json),
        blob: () => new Blob([json], { type: mime }),
      },
      host,
      new AbortController().signal,
    );
    if (host.querySelector('.tl-error') === null) chart.classList.add('tl-drawn');
  }
  doc.body.dataset['tlReport'] = 'done';
}

void renderReport(document);
