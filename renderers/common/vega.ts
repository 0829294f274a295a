/**
 * Vega and vega-lite through vega-embed, CSP-safe: specs are parsed to an AST and run by vega's
 * expression interpreter (`ast: true`, `expr: expressionInterpreter`), so nothing is compiled with
 * eval or `new Function` (VS Code's webview forbids both). No actions menu (its links need the
 * network), no global stylesheet.
 */
import embed from 'vega-embed';
import { expressionInterpreter } from 'vega-interpreter';
import type { Spec, View } from 'vega';
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

async function embedSpec(host: HTMLElement, spec: Spec | TopLevelSpec, mode: 'vega' | 'vega-lite', theme: Theme, options: EmbedOptions): Promise<EmbeddedView> {
  const result = await embed(host, spec as Spec, {
    mode,
    renderer: options.renderer ?? 'svg',
    actions: false,
    defaultStyle: false,
    ast: true,
    expr: expressionInterpreter,
    tooltip: options.tooltip === false ? false : { theme: isDark(theme.kind) ? 'dark' : 'light' },
  });
  let disposed = false;
  return {
    view: result.view,
    dispose(): void {
      if (disposed) return;
      disposed = true;
      result.finalize();
    },
  };
}

/** Draws a vega-lite spec into `host`. */
export function embedVegaLite(host: HTMLElement, spec: TopLevelSpec, theme: Theme, options: EmbedOptions = {}): Promise<EmbeddedView> {
  return embedSpec(host, spec, 'vega-lite', theme, options);
}

/** Draws a Vega spec into `host`. */
export function embedVega(host: HTMLElement, spec: Spec, theme: Theme, options: EmbedOptions = {}): Promise<EmbeddedView> {
  return embedSpec(host, spec, 'vega', theme, options);
}
