/**
 * "Save as PNG", "Save as SVG" and "Copy" on every chart (a bar shown on hover or focus, top
 * right). The image is drawn by vega from the view on screen (`toImageURL`, `toSVG`), on the
 * editor's background so that it reads outside VS Code; a webview cannot write files, so saving
 * goes through renderer messaging to the extension, which asks where to save
 * (kernel/protocol/rendererMessages.ts). Copy puts a PNG on the clipboard where the webview may,
 * and otherwise asks the extension to copy the SVG text.
 */
import type { View } from 'vega';
import { RendererMessageType, imageFileName, type RendererMessage } from '../../kernel/protocol/rendererMessages';
import type { Theme } from './theme';

/** Sends a message to the extension (the renderer context's `postMessage`). */
export type PostMessage = (message: RendererMessage) => void;

/** PNGs are drawn at twice the screen size (sharp in a paper or on a high-density screen). */
export const PNG_SCALE = 2;

/** The chart's title as vega drew it (for the file name), if any. */
function chartTitle(host: HTMLElement): string | undefined {
  const t = host.querySelector('.role-title-text text, .role-title text');
  const s = t?.textContent?.trim();
  return s === undefined || s === '' ? undefined : s;
}

/** Runs `draw` with the view painted on the theme's background (charts in VS Code are transparent). */
async function onBackground<T>(view: View, theme: Theme, draw: () => Promise<T>): Promise<T> {
  const own = view.background();
  const transparent = own === null || own === undefined || own === 'transparent';
  if (transparent) view.background(theme.background);
  try {
    return await draw();
  } finally {
    if (transparent) {
      view.background(own);
      await view.runAsync();
    }
  }
}

function base64OfDataUrl(url: string): string {
  return url.slice(url.indexOf(',') + 1);
}

/** Draws the chart as PNG (base64) and SVG text, as the buttons save them. */
export function chartImages(view: View, theme: Theme): { png: () => Promise<string>; svg: () => Promise<string> } {
  return {
    png: () => onBackground(view, theme, async () => base64OfDataUrl(await view.toImageURL('png', PNG_SCALE))),
    svg: () => onBackground(view, theme, () => view.toSVG()),
  };
}

/**
 * Adds the action bar to `host` (the element the chart was drawn in). Removed with `host`.
 * @example
 * addChartActions(host, embedded.view, theme, (m) => context.postMessage?.(m));
 */
export function addChartActions(host: HTMLElement, view: View, theme: Theme, post: PostMessage): void {
  const doc = host.ownerDocument;
  const bar = doc.createElement('div');
  bar.className = 'tl-actions';
  bar.setAttribute('role', 'toolbar');
  bar.setAttribute('aria-label', 'Chart actions');
  const status = doc.createElement('span');
  status.className = 'tl-action-status';
  status.setAttribute('role', 'status');
  const say = (text: string) => {
    status.textContent = text;
    if (text !== '') setTimeout(() => status.textContent === text && (status.textContent = ''), 2500);
  };
  const images = chartImages(view, theme);
  const button = (label: string, title: string, act: () => Promise<void>) => {
    const b = doc.createElement('button');
    b.type = 'button';
    b.className = 'tl-action';
    b.textContent = label;
    b.title = title;
    b.setAttribute('aria-label', title);
    b.addEventListener('click', (e) => {
      e.stopPropagation();
      act().catch((err: unknown) => say(`${title} failed: ${err instanceof Error ? err.message : String(err)}`));
    });
    bar.append(b);
  };
  button('PNG', 'Save as PNG', async () => {
    post({ type: RendererMessageType.saveImage, format: 'png', data: await images.png(), name: imageFileName(chartTitle(host), 'png') });
  });
  button('SVG', 'Save as SVG', async () => {
    post({ type: RendererMessageType.saveImage, format: 'svg', data: await images.svg(), name: imageFileName(chartTitle(host), 'svg') });
  });
  button('Copy', 'Copy', async () => {
    const win = doc.defaultView as (Window & typeof globalThis) | null;
    const clipboard = win?.navigator.clipboard;
    if (win !== null && clipboard !== undefined && typeof win.ClipboardItem === 'function') {
      try {
        const png = await images.png();
        const bytes = Uint8Array.from(win.atob(png), (c) => c.charCodeAt(0));
        await clipboard.write([new win.ClipboardItem({ 'image/png': new Blob([bytes], { type: 'image/png' }) })]);
        say('Copied as PNG');
        return;
      } catch {
        /* not allowed in this webview: the extension copies the SVG text */
      }
    }
    post({ type: RendererMessageType.copyImage, svg: await images.svg() });
    say('Copied as SVG');
  });
  bar.append(status);
  host.append(bar);
}
