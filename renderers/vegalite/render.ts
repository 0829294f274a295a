/**
 * Draws a plain `application/vnd.vegalite.v5+json` spec (what `display.vegaLite(spec)` sends), in
 * the theme's colours: the theme goes under the spec's own `config`, which wins where both say.
 */
import type { TopLevelSpec } from 'vega-lite';
import { vegaConfig, type Theme } from '../common/theme';
import { embedVegaLite, type RenderedView } from '../common/vega';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge of plain objects; `over` wins, arrays are replaced. */
export function mergeConfig(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isObject(b) && isObject(v) ? mergeConfig(b, v) : v;
  }
  return out;
}

export function themedSpec(spec: Record<string, unknown>, theme: Theme): TopLevelSpec {
  const own = isObject(spec['config']) ? spec['config'] : {};
  return { ...spec, config: mergeConfig(vegaConfig(theme), own) } as unknown as TopLevelSpec;
}

export function renderVegaLite(host: HTMLElement, spec: Record<string, unknown>, theme: Theme): Promise<RenderedView> {
  return embedVegaLite(host, themedSpec(spec, theme), theme);
}
