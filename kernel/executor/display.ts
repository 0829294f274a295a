/**
 * The display API that every cell sees (`display`, `display.html`, …, `clearOutput`) and the
 * conversion of any value to a MIME bundle. A value with a `[Symbol.for('Jupyter.display')]()`
 * method displays as the bundle it returns; the kernel special-cases no result classes.
 */
import { inspect } from 'node:util';
import { randomUUID } from 'node:crypto';
import type { MimeBundle } from '../protocol/messages';
import type { DisplayMessage } from './workerProtocol';
import { setStaticsEnabled, withStatics } from './statics';

export const DISPLAY_SYMBOL = Symbol.for('Jupyter.display');
/** Values marked with this symbol are not shown as a cell's result (display handles). */
export const NO_RESULT_SYMBOL = Symbol.for('transferlab.noResult');
/**
 * Values marked with this symbol are live updates (training progress at every step): they get no
 * static SVG/PNG renderings (statics.ts); the final update does.
 */
export const LIVE_SYMBOL = Symbol.for('transferlab.liveDisplay');

export interface DisplaySink {
  display(content: DisplayMessage, update: boolean): void;
  clear(wait: boolean): void;
}

/** text/plain for any value, as Node's inspector shows it. */
export function plainText(value: unknown): string {
  if (typeof value === 'string') return inspect(value);
  return inspect(value, { depth: 4, maxArrayLength: 100, maxStringLength: 10_000, breakLength: 100, colors: false });
}

/**
 * The MIME bundle of a value. Throws (with the cause) if its display method throws. A chart (Vega
 * or Vega-Lite) also gets static SVG and PNG renderings unless the value is a live update.
 */
export function toBundle(value: unknown): { data: MimeBundle; metadata: Record<string, unknown> } {
  if (value !== null && (typeof value === 'object' || typeof value === 'function')) {
    const method = (value as Record<symbol, unknown>)[DISPLAY_SYMBOL];
    if (typeof method === 'function') {
      const bundle = method.call(value) as MimeBundle | undefined;
      if (bundle && typeof bundle === 'object') {
        const data: MimeBundle = { ...bundle };
        if (!('text/plain' in data)) data['text/plain'] = plainText(value);
        return (value as Record<symbol, unknown>)[LIVE_SYMBOL] === true ? { data, metadata: {} } : withStatics(data);
      }
    }
  }
  return { data: { 'text/plain': plainText(value) }, metadata: {} };
}

export interface DisplayHandle {
  /** The display_id that `update` targets. */
  readonly displayId: string;
  /** Replaces this output in place (update_display_data). */
  update(value: unknown): void;
}

export interface DisplayFunction {
  (value: unknown, options?: { displayId?: string }): DisplayHandle;
  html(html: string): DisplayHandle;
  markdown(markdown: string): DisplayHandle;
  text(text: string): DisplayHandle;
  svg(svg: string): DisplayHandle;
  png(png: Uint8Array | string): DisplayHandle;
  jpeg(jpeg: Uint8Array | string): DisplayHandle;
  json(value: unknown): DisplayHandle;
  vegaLite(spec: Record<string, unknown>): DisplayHandle;
  /** Displays a raw MIME bundle. */
  bundle(data: MimeBundle, metadata?: Record<string, unknown>): DisplayHandle;
  /** Turns the static SVG/PNG renderings of charts on or off; says whether they are on. */
  statics(enabled?: boolean): boolean;
}

/** A value that displays as a fixed bundle (used by display.html and friends, and by handles). */
class Bundled {
  constructor(readonly data: MimeBundle) {}
  [DISPLAY_SYMBOL](): MimeBundle {
    return this.data;
  }
}

function base64(x: Uint8Array | string): string {
  return typeof x === 'string' ? x : Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('base64');
}

export function createDisplay(sink: () => DisplaySink): { display: DisplayFunction; clearOutput: (options?: { wait?: boolean }) => void } {
  /**
   * Shows `value`; `kind` turns a string given to `update` into the same kind of output as the
   * first one (display.html(…).update('<i>…</i>') stays HTML, display.text(…).update('…') text).
   */
  const show = (value: unknown, displayId: string = randomUUID(), update = false, metadata: Record<string, unknown> = {}, kind?: (s: string) => unknown): DisplayHandle => {
    const b = toBundle(value);
    sink().display({ data: b.data, metadata: { ...b.metadata, ...metadata }, transient: { display_id: displayId } }, update);
    const handle = { displayId, update: (v: unknown) => void show(typeof v === 'string' && kind ? kind(v) : v, displayId, true, {}, kind), [NO_RESULT_SYMBOL]: true };
    return handle as DisplayHandle;
  };
  const html = (h: string) => new Bundled({ 'text/html': h, 'text/plain': '<HTML output>' });
  const markdown = (md: string) => new Bundled({ 'text/markdown': md, 'text/plain': md });
  const text = (t: string) => new Bundled({ 'text/plain': t });
  const svg = (x: string) => new Bundled({ 'image/svg+xml': x, 'text/plain': '<SVG image>' });
  const display = ((value: unknown, options?: { displayId?: string }) => show(value, options?.displayId)) as DisplayFunction;
  display.html = (h) => show(html(h), undefined, false, {}, html);
  display.markdown = (md) => show(markdown(md), undefined, false, {}, markdown);
  display.text = (t) => show(text(t), undefined, false, {}, text);
  display.svg = (x) => show(svg(x), undefined, false, {}, svg);
  display.png = (png) => show(new Bundled({ 'image/png': base64(png), 'text/plain': '<PNG image>' }));
  display.jpeg = (jpeg) => show(new Bundled({ 'image/jpeg': base64(jpeg), 'text/plain': '<JPEG image>' }));
  display.json = (value) => show(new Bundled({ 'application/json': value, 'text/plain': plainText(value) }));
  display.vegaLite = (spec) => show(new Bundled({ 'application/vnd.vegalite.v5+json': spec, 'text/plain': `<Vega-Lite chart${typeof spec.title === 'string' ? `: ${spec.title}` : ''}>` }));
  display.bundle = (data, metadata) => show(new Bundled(data), undefined, false, metadata);
  display.statics = (enabled) => setStaticsEnabled(enabled);
  const clearOutput = (options?: { wait?: boolean }) => sink().clear(options?.wait ?? false);
  return { display, clearOutput };
}

/** Declarations of the display API for cell type checking (inside `declare global`). */
export const DISPLAY_DECLARATIONS = `
  interface TransferLabDisplayHandle {
    /** The display_id that update() targets. */
    readonly displayId: string;
    /**
     * Replaces this output in place (progress bars use it). A string keeps the kind of the
     * first output: display.text(…).update('50%') shows text, display.html(…).update(…) HTML.
     */
    update(value: unknown): void;
  }
  interface TransferLabDisplay {
    /** Shows a value as an output: its [Symbol.for('Jupyter.display')]() bundle, or its text. */
    (value: unknown, options?: { displayId?: string }): TransferLabDisplayHandle;
    html(html: string): TransferLabDisplayHandle;
    markdown(markdown: string): TransferLabDisplayHandle;
    text(text: string): TransferLabDisplayHandle;
    svg(svg: string): TransferLabDisplayHandle;
    /** PNG bytes, or base64 text. */
    png(png: Uint8Array | string): TransferLabDisplayHandle;
    jpeg(jpeg: Uint8Array | string): TransferLabDisplayHandle;
    json(value: unknown): TransferLabDisplayHandle;
    /** A Vega-Lite v5 specification, drawn by the notebook. */
    vegaLite(spec: Record<string, unknown>): TransferLabDisplayHandle;
    /** A raw MIME bundle. */
    bundle(data: Record<string, unknown>, metadata?: Record<string, unknown>): TransferLabDisplayHandle;
    /**
     * Turns the static SVG/PNG renderings of charts on or off (they let Jupyter clients without
     * TransferLab's renderers show the chart); without an argument, says whether they are on.
     * Also off with the environment variable TRANSFERLAB_STATIC_FIGURES=0.
     *
     * @example
     * display.statics(false); // charts from now on carry no image/png or image/svg+xml
     */
    statics(enabled?: boolean): boolean;
  }
  /** Displays values in the cell's output. */
  const display: TransferLabDisplay;
  /** Clears the cell's output; with {wait: true}, when the next output arrives. */
  function clearOutput(options?: { wait?: boolean }): void;
`;
