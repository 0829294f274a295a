/**
 * Follows the VS Code theme inside the notebook webview: the body's classes (`vscode-light`,
 * `vscode-dark`, `vscode-high-contrast`, `vscode-high-contrast-light`) give the kind, the
 * `--vscode-*` CSS variables the colours and font. Outside VS Code (the HTML report) the page's
 * `prefers-color-scheme` and `forced-colors` decide. The theme type and the chart config made from
 * it live with the chart builders (kernel/protocol/charts), shared with the kernel.
 */

import { DEFAULT_FONT_FAMILY, PALETTES, ThemeKind, isDark, isHighContrast, vegaConfig, type Theme } from '../../kernel/protocol/charts/theme';

export { ThemeKind, isDark, isHighContrast, vegaConfig, type Theme };

function kindOf(doc: Document): ThemeKind {
  const cls = doc.body?.classList;
  if (cls?.contains('vscode-high-contrast-light')) return ThemeKind.highContrastLight;
  if (cls?.contains('vscode-high-contrast')) return ThemeKind.highContrast;
  if (cls?.contains('vscode-dark')) return ThemeKind.dark;
  if (cls?.contains('vscode-light')) return ThemeKind.light;
  const view = doc.defaultView;
  const dark = view?.matchMedia?.('(prefers-color-scheme: dark)').matches ?? false;
  if (view?.matchMedia?.('(forced-colors: active)').matches) return dark ? ThemeKind.highContrast : ThemeKind.highContrastLight;
  return dark ? ThemeKind.dark : ThemeKind.light;
}

/** The theme as seen from `element` (CSS variables are read from its computed style). */
export function readTheme(element: Element): Theme {
  const doc = element.ownerDocument;
  const kind = kindOf(doc);
  const dark = isDark(kind);
  const hc = isHighContrast(kind);
  const style = doc.defaultView?.getComputedStyle(element);
  const v = (names: readonly string[], fallback: string): string => {
    for (const name of names) {
      const value = style?.getPropertyValue(name).trim();
      if (value) return value;
    }
    return fallback;
  };
  const foreground = v(['--vscode-editor-foreground', '--vscode-foreground'], hc ? (dark ? '#ffffff' : '#000000') : dark ? '#cccccc' : '#3b3b3b');
  const fontSize = Number.parseFloat(v(['--vscode-font-size'], '12px'));
  return {
    kind,
    foreground,
    mutedForeground: hc ? foreground : v(['--vscode-descriptionForeground'], dark ? '#9d9d9d' : '#717171'),
    background: v(['--vscode-editor-background', '--vscode-notebook-editorBackground'], dark ? '#1e1e1e' : '#ffffff'),
    gridColor: hc ? v(['--vscode-contrastBorder'], foreground) : dark ? 'rgba(255,255,255,0.12)' : 'rgba(0,0,0,0.10)',
    borderColor: v(['--vscode-contrastBorder', '--vscode-panel-border', '--vscode-editorWidget-border'], dark ? '#454545' : '#d4d4d4'),
    errorForeground: v(['--vscode-errorForeground'], dark ? '#f48771' : '#a1260d'),
    fontFamily: v(['--vscode-font-family'], DEFAULT_FONT_FAMILY),
    fontSize: Number.isFinite(fontSize) && fontSize > 0 ? fontSize : 12,
    palette: hc ? (dark ? PALETTES.highContrastDark : PALETTES.highContrastLight) : dark ? PALETTES.dark : PALETTES.light,
    scheme: 'viridis',
  };
}

/**
 * Calls `onChange` when the theme changes (VS Code swaps body classes and CSS variables; a page
 * changes colour scheme). Returns a function that stops watching.
 */
export function watchTheme(doc: Document, onChange: () => void): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const fire = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      onChange();
    }, 30);
  };
  const observer = new MutationObserver(fire);
  if (doc.body) observer.observe(doc.body, { attributes: true, attributeFilter: ['class', 'style'] });
  observer.observe(doc.documentElement, { attributes: true, attributeFilter: ['class', 'style'] });
  const queries = ['(prefers-color-scheme: dark)', '(forced-colors: active)'].map((q) => doc.defaultView?.matchMedia?.(q));
  for (const q of queries) q?.addEventListener('change', fire);
  return () => {
    observer.disconnect();
    for (const q of queries) q?.removeEventListener('change', fire);
    if (timer !== undefined) clearTimeout(timer);
  };
}
