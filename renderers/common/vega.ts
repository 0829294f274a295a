/**
 * Vega and vega-lite through vega-embed, CSP-safe and offline, whatever the spec says:
 * - specs are parsed to an AST and run by vega's expression interpreter (`ast: true`,
 *   `expr: expressionInterpreter`), so nothing is compiled with eval or `new Function` (VS Code's
 *   webview forbids both, and the HTML report's page has no place for it);
 * - a spec's `usermeta.embedOptions` is dropped before vega-embed sees it: vega-embed would merge it
 *   over ours, so a notebook could turn on the actions menu (whose "View Source" writes the spec's
 *   `sourceHeader` as HTML into a new window), code generation (`ast: false`), its own loader or
 *   a patch;
 * - the loader refuses every URL (`data.url`, `image` marks, `href` links, remote config): a chart
 *   that asks for one fails with {@link RemoteResourceError}, shown in place of the chart;
 * - no actions menu, no global stylesheet.
 */
import embed, { type EmbedOptions as VegaEmbedOptions } from 'vega-embed';
import { expressionInterpreter } from 'vega-interpreter';
import type { Loader, Spec, View } from 'vega';
import type { TopLevelSpec } from 'vega-lite';
import { isDark, type Theme } from './theme';

/** A drawn output; `dispose` finalizes it (vega view timers, listeners, tooltip). */
export interface RenderedView {
  dispose(): void;
}

export interface EmbedOptions {
  /** `svg` (default) or `canvas`. */
  readonly renderer?: 'svg' | 'canvas';
  /** Use vega-tooltip for item tooltips (default true). */
  readonly tooltip?: boolean;
}

/** A drawn vega view. */
export interface EmbeddedView extends RenderedView {
  readonly view: View;
}

/**
 * A chart asks for a resource by URL (`data.url`, an `image` mark, a link, a config file).
 * Renderers draw nothing from the network: raised by {@link embedVegaLite} and {@link embedVega}
 * once the view has run, and shown by the renderer in place of the chart. The fix is in the spec:
 * inline the data (`data.values`) or the image (a `data:` URL).
 */
export class RemoteResourceError extends Error {
  constructor(
    /** The URLs asked for, in order, each once. */
    readonly urls: readonly string[],
  ) {
    super(
      `this chart asks for ${urls.map((u) => JSON.stringify(u)).join(', ')}, and charts here load nothing by URL: put the data in the spec (data.values) or the image in a data: URL`,
    );
    this.name = 'RemoteResourceError';
  }
}

/** What {@link refusingLoader} was asked for. */
export interface RefusingLoader extends Loader {
  /** Every URL refused so far, each once. */
  readonly refused: readonly string[];
}

/** Shortens a URL for a message (a data: URL can be megabytes). */
function shortUrl(uri: string): string {
  return uri.length > 120 ? `${uri.slice(0, 117)}...` : uri;
}

/**
 * A vega loader that loads nothing: every `load`, `sanitize` (images, links), `http` and `file`
 * call is refused and its URL recorded.
 */
export function refusingLoader(): RefusingLoader {
  const refused: string[] = [];
  const refuse = (uri: string): Promise<never> => {
    const short = shortUrl(String(uri));
    if (!refused.includes(short)) refused.push(short);
    return Promise.reject(new RemoteResourceError([short]));
  };
  return {
    refused,
    load: (uri) => refuse(uri),
    sanitize: (uri) => refuse(uri),
    http: (uri) => refuse(uri),
    file: (uri) => refuse(uri),
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The spec without `usermeta.embedOptions` (the rest of `usermeta` kept), so that a spec cannot
 * change how it is embedded. The spec itself is not modified.
 */
export function withoutEmbedOptions<S extends object>(spec: S): S {
  const usermeta = (spec as Record<string, unknown>)['usermeta'];
  if (!isObject(usermeta) || !('embedOptions' in usermeta)) return spec;
  const { embedOptions: _dropped, ...rest } = usermeta;
  return { ...spec, usermeta: rest };
}

/** The vega view drawn into each element (for the chart actions, found by {@link vegaViewsIn}). */
const drawnViews = new WeakMap<Element, View>();

/** The vega views drawn into `root` or elements inside it, in document order. */
export function vegaViewsIn(root: HTMLElement): View[] {
  const views: View[] = [];
  for (const el of [root, ...Array.from(root.querySelectorAll('*'))]) {
    const v = drawnViews.get(el);
    if (v !== undefined) views.push(v);
  }
  return views;
}

async function embedSpec(host: HTMLElement, spec: Spec | TopLevelSpec, mode: 'vega' | 'vega-lite', theme: Theme, options: EmbedOptions): Promise<EmbeddedView> {
  const loader = refusingLoader();
  const embedOptions: VegaEmbedOptions = {
    mode,
    renderer: options.renderer ?? 'svg',
    actions: false,
    defaultStyle: false,
    ast: true,
    expr: expressionInterpreter,
    loader,
    tooltip: options.tooltip === false ? false : { theme: isDark(theme.kind) ? 'dark' : 'light' },
  };
  const result = await embed(host, withoutEmbedOptions(spec) as Spec, embedOptions);
  drawnViews.set(host, result.view);
  let disposed = false;
  const view: EmbeddedView = {
    view: result.view,
    dispose(): void {
      if (disposed) return;
      disposed = true;
      result.finalize();
    },
  };
  // Image marks ask the loader while the scene is drawn: wait for that before looking.
  await result.view.runAsync();
  if (loader.refused.length > 0) {
    view.dispose();
    throw new RemoteResourceError(loader.refused);
  }
  return view;
}

/** Draws a vega-lite spec into `host`; throws {@link RemoteResourceError} if it asks for a URL. */
export function embedVegaLite(host: HTMLElement, spec: TopLevelSpec, theme: Theme, options: EmbedOptions = {}): Promise<EmbeddedView> {
  return embedSpec(host, spec, 'vega-lite', theme, options);
}

/** Draws a Vega spec into `host`; throws {@link RemoteResourceError} if it asks for a URL. */
export function embedVega(host: HTMLElement, spec: Spec, theme: Theme, options: EmbedOptions = {}): Promise<EmbeddedView> {
  return embedSpec(host, spec, 'vega', theme, options);
}
