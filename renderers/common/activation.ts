/**
 * The part every renderer shares: per-output views kept in a map by output id, finalized in
 * `disposeOutputItem`; updates (update_display_data) drawn next to the old view and swapped in when
 * ready, so live charts do not flicker; redrawn when the theme changes; a payload that does not
 * check shows a message in place of the chart. Every DOM query is scoped to the output's element
 * (all outputs of a notebook share one webview document).
 */
import type { ActivationFunction, OutputItem, RendererApi } from './rendererApi';
import { readTheme, watchTheme, type Theme } from './theme';
import { vegaViewsIn, type RenderedView } from './vega';
import { addChartActions, type PostMessage } from './actions';

/** What a renderer supplies: how to check its payload and how to draw it. */
export interface RendererModule<P> {
  readonly mime: string;
  /** Checks the output's JSON; throws PayloadError naming the field at fault. */
  parse(json: unknown): P;
  /** Draws into `host` (an empty element owned by this view). */
  render(host: HTMLElement, payload: P, theme: Theme): Promise<RenderedView>;
}

interface Entry<P> {
  element: HTMLElement;
  host: HTMLElement;
  view: RenderedView | undefined;
  payload: P | undefined;
}

export const STYLE_CLASS = 'tl-style';

/** CSS shared by the renderers; class names are prefixed `tl-` so outputs cannot clash. */
export const RENDERER_CSS = `
.tl-view { position: relative; max-width: 100%; overflow-x: auto; font-family: var(--vscode-font-family, system-ui, sans-serif); }
.tl-error { font-family: var(--vscode-editor-font-family, monospace); white-space: pre-wrap; padding: 6px 8px;
  color: var(--vscode-errorForeground, #a1260d); border-left: 3px solid var(--vscode-errorForeground, #a1260d); }
.tl-status { font-size: 0.9em; opacity: 0.85; margin: 2px 0 6px; font-variant-numeric: tabular-nums; }
.tl-images { display: grid; gap: 6px 10px; align-items: center; }
.tl-images .tl-label { font-size: 0.9em; white-space: nowrap; }
.tl-images .tl-row { display: flex; flex-wrap: wrap; gap: 3px; }
.tl-images img { image-rendering: pixelated; border: 1px solid var(--vscode-panel-border, rgba(128,128,128,0.35)); }
.tl-title { font-weight: 600; margin: 2px 0 6px; }
.tl-actions { position: absolute; top: 2px; right: 2px; display: flex; gap: 2px; align-items: center; opacity: 0; transition: opacity 0.1s; z-index: 2; }
.tl-view:hover > .tl-actions, .tl-actions:focus-within { opacity: 1; }
.tl-action { font: inherit; font-size: 11px; padding: 1px 6px; cursor: pointer; border-radius: 2px;
  color: var(--vscode-button-secondaryForeground, #3b3b3b); background: var(--vscode-button-secondaryBackground, #e5e5e5);
  border: 1px solid var(--vscode-contrastBorder, transparent); }
.tl-action:hover { background: var(--vscode-button-secondaryHoverBackground, #cccccc); }
.tl-action-status { font-size: 11px; margin-left: 4px; }
`;

/** Adds the shared stylesheet to an output element once. */
export function ensureStyle(element: HTMLElement): void {
  for (const child of Array.from(element.children)) {
    if (child.tagName === 'STYLE' && child.classList.contains(STYLE_CLASS)) return;
  }
  const style = element.ownerDocument.createElement('style');
  style.className = STYLE_CLASS;
  style.textContent = RENDERER_CSS;
  element.prepend(style);
}

/** Shows an error in place of a chart (as text: nothing in it is interpreted as HTML). */
export function showError(host: HTMLElement, error: unknown): void {
  const box = host.ownerDocument.createElement('div');
  box.className = 'tl-error';
  box.setAttribute('role', 'alert');
  box.textContent = `Cannot draw this output: ${error instanceof Error ? error.message : String(error)}`;
  host.replaceChildren(box);
}

/**
 * Builds a renderer's `activate` from its module.
 * @example
 * export const activate = createActivation({ mime: Mime.cka, parse: parseCkaPayload, render: renderCka });
 */
export function createActivation<P>(module: RendererModule<P>): ActivationFunction {
  return (context) => {
    const post = context.postMessage;
    return createRendererApi(module, post === undefined ? {} : { postMessage: (m) => post.call(context, m) });
  };
}

/** Options of {@link createRendererApi}. */
export interface RendererApiOptions {
  /**
   * Renderer messaging to the extension: when given (VS Code), each chart gets Save as PNG / SVG
   * and Copy (actions.ts); the HTML report passes none and shows the charts alone.
   */
  readonly postMessage?: PostMessage;
}

/** The renderer API object for one module (exported for tests and the HTML report). */
export function createRendererApi<P>(module: RendererModule<P>, options: RendererApiOptions = {}): RendererApi & { readonly viewCount: number } {
  const entries = new Map<string, Entry<P>>();
  // Renders of one output run one after the other, in the order VS Code asked for them.
  const queues = new Map<string, Promise<void>>();
  // Bumped when an output is disposed, so that a render still in flight for it is thrown away.
  const generations = new Map<string, number>();
  let stopWatching: (() => void) | undefined;

  const dispose = (id: string): void => {
    const entry = entries.get(id);
    if (entry === undefined) return;
    entries.delete(id);
    entry.view?.dispose();
    entry.host.remove();
    if (entries.size === 0) {
      stopWatching?.();
      stopWatching = undefined;
    }
  };

  const draw = async (id: string, generation: number, element: HTMLElement, payload: P | undefined, error: unknown, signal?: AbortSignal): Promise<void> => {
    if ((generations.get(id) ?? 0) !== generation) return;
    const old = entries.get(id);
    if (old !== undefined && old.element !== element) dispose(id);
    const previous = entries.get(id);
    ensureStyle(element);
    const doc = element.ownerDocument;
    const host = doc.createElement('div');
    host.className = 'tl-view';
    element.append(host);
    let view: RenderedView | undefined;
    if (payload === undefined) {
      showError(host, error);
    } else {
      try {
        const theme = readTheme(element);
        view = await module.render(host, payload, theme);
        const chart = vegaViewsIn(host)[0];
        if (options.postMessage !== undefined && chart !== undefined) addChartActions(host, chart, theme, options.postMessage);
      } catch (e) {
        showError(host, e);
      }
    }
    // Swap: the new view replaces the old one only now that it is drawn.
    if (previous !== undefined) {
      previous.view?.dispose();
      previous.host.remove();
    }
    if (signal?.aborted || (generations.get(id) ?? 0) !== generation) {
      view?.dispose();
      host.remove();
      entries.delete(id);
      return;
    }
    entries.set(id, { element, host, view, payload });
    stopWatching ??= watchTheme(doc, () => {
      for (const [eid, e] of entries) {
        if (e.payload !== undefined) {
          const g = generations.get(eid) ?? 0;
          void enqueue(eid, () => draw(eid, g, e.element, e.payload, undefined));
        }
      }
    });
  };

  const enqueue = (id: string, job: () => Promise<void>): Promise<void> => {
    const next = (queues.get(id) ?? Promise.resolve()).then(job, job);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    queues.set(id, settled);
    void settled.then(() => {
      if (queues.get(id) === settled) queues.delete(id);
    });
    return next;
  };

  return {
    get viewCount(): number {
      return entries.size;
    },
    renderOutputItem(item: OutputItem, element: HTMLElement, signal?: AbortSignal): Promise<void> {
      let payload: P | undefined;
      let error: unknown;
      try {
        payload = module.parse(item.json());
      } catch (e) {
        error = e;
      }
      const generation = generations.get(item.id) ?? 0;
      return enqueue(item.id, () => draw(item.id, generation, element, payload, error, signal));
    },
    disposeOutputItem(id?: string): void {
      const ids = id === undefined ? new Set([...entries.keys(), ...queues.keys()]) : [id];
      for (const key of ids) {
        generations.set(key, (generations.get(key) ?? 0) + 1);
        dispose(key);
      }
    },
  };
}
