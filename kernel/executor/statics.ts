/**
 * Static figures: every chart the kernel displays (a bundle with a Vega or Vega-Lite spec) also
 * carries `image/svg+xml` and `image/png`, drawn here, headless, from the same spec, so that
 * Notebook 6, nbconvert, GitHub's notebook view and any other Jupyter client show the chart
 * instead of a line of text.
 *
 * - SVG: vega's scenegraph drawn by its SVG string renderer (`renderer: 'none'`, no canvas, no DOM).
 * - PNG: that SVG rasterised by resvg compiled to WebAssembly (no native module, no install
 *   script), with the DejaVu Sans font shipped beside the bundle (`dist/figures/`), so text is
 *   drawn on a machine without any system fonts.
 *
 * Rendering is synchronous (a display is posted at once, in order with the cell's other output),
 * so resvg's WebAssembly, whose instantiation is asynchronous, is started when the worker starts
 * ({@link prepareStatics}) and the first cell waits for it. vega and vega-lite are loaded on the
 * first chart. Renderings are cached by spec, and live updates (training progress at every step)
 * get none: only the final chart does.
 *
 * Off with `TRANSFERLAB_STATIC_FIGURES=0` (the VS Code setting `transferlab.staticFigures` sets it
 * for the kernel) or `display.statics(false)` in a cell.
 */
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { initWasm, Resvg } from '@resvg/resvg-wasm';
import type { MimeBundle } from '../protocol/messages';
import { Mime, STATIC_FIGURES_ENV } from '../protocol/mime';

const { vega: VEGA, vegaLite: VEGA_LITE, svg: SVG, png: PNG } = Mime;

export { STATIC_FIGURES_ENV };

/** Whether the environment turns static figures off. */
export function staticsDisabledByEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env[STATIC_FIGURES_ENV]?.trim().toLowerCase();
  return v === '0' || v === 'false' || v === 'off' || v === 'no';
}

let enabled = !staticsDisabledByEnv();

/**
 * Turns static renderings on or off for this kernel (`display.statics(false)` in a cell); without
 * an argument, only says whether they are on.
 * @example
 * setStaticsEnabled(false); // charts from now on carry no image/png or image/svg+xml
 */
export function setStaticsEnabled(on?: boolean): boolean {
  if (on !== undefined) {
    if (typeof on !== 'boolean') throw new TypeError(`display.statics: enabled must be true or false, not ${typeof on}`);
    enabled = on;
  }
  return enabled;
}

/** Where the rasteriser's WebAssembly and the font are. */
export interface StaticAssets {
  readonly wasm: string;
  readonly font: string;
}

/**
 * The assets beside the kernel's bundles (`<packageRoot>/dist/figures/`, copied there by
 * esbuild.mjs), or, in a checkout running from source, in node_modules.
 */
export function staticAssets(packageRoot: string): StaticAssets {
  const dist = path.join(packageRoot, 'dist', 'figures');
  const nm = path.join(packageRoot, 'node_modules');
  const pick = (a: string, b: string) => (existsSync(a) ? a : b);
  return {
    wasm: pick(path.join(dist, 'resvg.wasm'), path.join(nm, '@resvg', 'resvg-wasm', 'index_bg.wasm')),
    font: pick(path.join(dist, 'DejaVuSans.ttf'), path.join(nm, 'dejavu-fonts-ttf', 'ttf', 'DejaVuSans.ttf')),
  };
}

let rasteriser: 'pending' | 'ready' | Error = 'pending';
let preparing: Promise<void> | undefined;
let font: Uint8Array | undefined;
/** Why PNGs are drawn without text, or not at all (said once, in the first bundle's metadata). */
let problem: string | undefined;

/**
 * Starts resvg's WebAssembly and reads the font; resolves (never rejects) when done. Idempotent.
 * @example
 * await prepareStatics(staticAssets(packageRoot));
 */
export function prepareStatics(assets: StaticAssets): Promise<void> {
  preparing ??= (async () => {
    try {
      try {
        font = readFileSync(assets.font);
      } catch (e) {
        problem = `no font for static figures (${(e as Error).message}); PNGs are drawn without text`;
      }
      await initWasm(readFileSync(assets.wasm));
      rasteriser = 'ready';
    } catch (e) {
      rasteriser = e instanceof Error ? e : new Error(String(e));
      problem = `static PNG figures are unavailable: ${rasteriser.message}`;
    }
  })();
  return preparing;
}

/** Whether {@link prepareStatics} has finished (successfully or not). */
export function staticsSettled(): boolean {
  return rasteriser !== 'pending';
}

type VegaModules = typeof import('./vegaModules');
let vegaModules: VegaModules | undefined;
/**
 * vega and vega-lite, loaded on the first chart, not when the kernel starts (megabytes of code):
 * from their bundle beside the worker's (`dist/vegaModules.js`), or from source in a checkout.
 */
function loadVega(): VegaModules {
  if (vegaModules === undefined) {
    const bundled = path.join(__dirname, 'vegaModules.js');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    vegaModules = existsSync(bundled) ? (require(bundled) as VegaModules) : { vega: require('vega') as VegaModules['vega'], vegaLite: require('vega-lite') as VegaModules['vegaLite'] };
  }
  return vegaModules;
}
const vega = () => loadVega().vega;
const vegaLite = () => loadVega().vegaLite;

/** A chart drawn as SVG text and PNG (base64; absent when the rasteriser is unavailable). */
export interface StaticFigure {
  readonly svg: string;
  readonly png?: string;
  readonly width: number;
  readonly height: number;
}

/** The light background behind charts whose spec sets none (a transparent chart is unreadable on a dark page). */
const LIGHT_BACKGROUND = '#ffffff';

/** A vega loader that loads nothing (no file is read, no request leaves the kernel for a chart). */
const refusingLoader = {
  load: (uri: string) => Promise.reject(new Error(`static figures load nothing by URL (${uri})`)),
  sanitize: (uri: string) => Promise.reject(new Error(`static figures load nothing by URL (${uri})`)),
  http: (uri: string) => Promise.reject(new Error(`static figures load nothing by URL (${uri})`)),
  file: (uri: string) => Promise.reject(new Error(`static figures load nothing by URL (${uri})`)),
};

/**
 * Draws a Vega spec (or a Vega-Lite spec, compiled first) as SVG, synchronously: the dataflow
 * runs at once (the specs here carry their data inline) and the scenegraph is drawn by vega's
 * headless SVG renderer, as `view.toSVG()` does without its promise.
 */
export function renderSvg(spec: Record<string, unknown>, kind: 'vega' | 'vega-lite'): { svg: string; width: number; height: number } {
  const v = vega();
  const vgSpec = kind === 'vega-lite' ? vegaLite().compile(spec as never).spec : spec;
  const view = new v.View(v.parse(vgSpec as never), { renderer: 'none', logLevel: v.Error, loader: refusingLoader as never });
  try {
    if (view.background() == null || view.background() === 'transparent') view.background(LIGHT_BACKGROUND);
    view.run();
    inlineImages((view.scenegraph() as unknown as { root: unknown }).root);
    // What vega-view's renderHeadless does (width/height/offset include the padding).
    const internal = view as unknown as { _viewWidth: number; _viewHeight: number; _origin: [number, number] };
    const pad = view.padding() as { left: number; right: number; top: number; bottom: number };
    const width = Math.max(0, internal._viewWidth + pad.left + pad.right);
    const height = Math.max(0, internal._viewHeight + pad.top + pad.bottom);
    const Headless = (v.renderModule as unknown as (name: string) => { headless: unknown })('svg').headless as new (loader: unknown) => {
      initialize(el: null, w: number, h: number, origin: [number, number], scale: number): { background(c: unknown): unknown };
      render(scene: unknown): unknown;
      svg(): string;
    };
    const renderer = new Headless(view.loader());
    renderer.initialize(null, width, height, [pad.left + internal._origin[0], pad.top + internal._origin[1]], 1).background(view.background());
    renderer.render((view.scenegraph() as unknown as { root: unknown }).root);
    return { svg: renderer.svg(), width, height };
  } finally {
    view.finalize();
  }
}

/**
 * Image marks (image grids) as loaded images: vega loads them asynchronously, through a canvas
 * Image that Node lacks, and would write an empty href. Only inline `data:` URLs are kept (the
 * kernel's own image grids use them); nothing is fetched.
 */
function inlineImages(node: unknown): void {
  const n = node as { marktype?: string; items?: unknown[]; url?: unknown; width?: number; height?: number; image?: unknown };
  if (n.marktype === 'image') {
    for (const item of (n.items ?? []) as Array<typeof n>) {
      if (typeof item.url === 'string' && item.url.startsWith('data:image/')) {
        item.image = { complete: true, width: item.width ?? 0, height: item.height ?? 0, src: item.url, url: item.url };
      }
    }
    return;
  }
  for (const child of n.items ?? []) inlineImages(child);
}

/** Rasterises SVG text to PNG bytes with the bundled font, on white. Throws if the rasteriser is not ready. */
export function rasterise(svg: string): { png: Uint8Array; width: number; height: number } {
  if (rasteriser !== 'ready') throw rasteriser === 'pending' ? new Error('the rasteriser is still starting') : rasteriser;
  const r = new Resvg(svg, {
    font: { fontBuffers: font ? [font] : [], defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans', serifFamily: 'DejaVu Sans', monospaceFamily: 'DejaVu Sans' },
    background: LIGHT_BACKGROUND,
  });
  try {
    const image = r.render();
    try {
      return { png: image.asPng(), width: image.width, height: image.height };
    } finally {
      image.free();
    }
  } finally {
    r.free();
  }
}

/** The last few figures, by spec (a chart displayed again, or a final update equal to the last live one, costs nothing). */
const cache = new Map<string, StaticFigure>();
const CACHE_SIZE = 16;

/**
 * A spec drawn as SVG and PNG (cached by the spec's JSON).
 * @example
 * const { svg, png } = renderStatic({ mark: 'bar', data: { values: [{ a: 1 }] }, encoding: { y: { field: 'a', type: 'quantitative' } } }, 'vega-lite');
 */
export function renderStatic(spec: Record<string, unknown>, kind: 'vega' | 'vega-lite'): StaticFigure {
  const key = `${kind}\n${JSON.stringify(spec)}`;
  const hit = cache.get(key);
  if (hit !== undefined && (hit.png !== undefined || rasteriser !== 'ready')) {
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  const { svg, width, height } = renderSvg(spec, kind);
  let png: string | undefined;
  if (rasteriser === 'ready') png = Buffer.from(rasterise(svg).png).toString('base64');
  const figure: StaticFigure = { svg, width, height, ...(png !== undefined ? { png } : {}) };
  cache.set(key, figure);
  if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  return figure;
}

function isSpec(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

/**
 * `bundle` with `image/svg+xml` and `image/png` added when it carries a Vega or Vega-Lite chart
 * and has no image of its own; unchanged when statics are off. A chart that fails to draw keeps
 * its other representations, and `metadata` says why (`transferlab.statics`).
 * @example
 * const { data } = withStatics({ 'application/vnd.vegalite.v5+json': spec, 'text/plain': 'chart' });
 * data['image/png']; // base64 PNG
 */
export function withStatics(bundle: MimeBundle, metadata: Record<string, unknown> = {}): { data: MimeBundle; metadata: Record<string, unknown> } {
  if (!enabled || SVG in bundle || PNG in bundle) return { data: bundle, metadata };
  const vg = bundle[VEGA];
  const vl = bundle[VEGA_LITE];
  const spec = isSpec(vg) ? vg : isSpec(vl) ? vl : undefined;
  if (spec === undefined) return { data: bundle, metadata };
  try {
    const f = renderStatic(spec, spec === vg ? 'vega' : 'vega-lite');
    const data: MimeBundle = { ...bundle, [SVG]: f.svg, ...(f.png !== undefined ? { [PNG]: f.png } : {}) };
    const note = problem ?? (rasteriser === 'pending' ? 'static PNG figures are still starting' : undefined);
    return { data, metadata: note !== undefined && (f.png === undefined || font === undefined) ? { ...metadata, 'transferlab.statics': note } : metadata };
  } catch (e) {
    return { data: bundle, metadata: { ...metadata, 'transferlab.statics': `the chart could not be drawn as an image: ${(e as Error).message}` } };
  }
}
