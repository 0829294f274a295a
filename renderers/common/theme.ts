/**
 * Follows the VS Code theme inside the notebook webview: the body's classes (`vscode-light`,
 * `vscode-dark`, `vscode-high-contrast`, `vscode-high-contrast-light`) give the kind, the
 * `--vscode-*` CSS variables the colours and font. Outside VS Code (the HTML report) the page's
 * `prefers-color-scheme` and `forced-colors` decide.
 */

export const ThemeKind = {
  light: 'light',
  dark: 'dark',
  highContrast: 'high-contrast',
  highContrastLight: 'high-contrast-light',
} as const;
export type ThemeKind = (typeof ThemeKind)[keyof typeof ThemeKind];

export interface Theme {
  readonly kind: ThemeKind;
  readonly foreground: string;
  readonly mutedForeground: string;
  readonly background: string;
  readonly gridColor: string;
  readonly borderColor: string;
  readonly errorForeground: string;
  readonly fontFamily: string;
  readonly fontSize: number;
  /** Colours for runs/pairs, distinguishable on the background. */
  readonly palette: readonly string[];
  /** Continuous scheme for values in [0, 1]. */
  readonly scheme: string;
}

export function isHighContrast(kind: ThemeKind): boolean {
  return kind === ThemeKind.highContrast || kind === ThemeKind.highContrastLight;
}

/** Dark-ish kinds (light text on a dark background). */
export function isDark(kind: ThemeKind): boolean {
  return kind === ThemeKind.dark || kind === ThemeKind.highContrast;
}

const TABLEAU = ['#4c78a8', '#f58518', '#e45756', '#72b7b2', '#54a24b', '#eeca3b', '#b279a2', '#ff9da6', '#9d755d', '#bab0ac'];
const DARK = ['#6ea8fe', '#ffa94d', '#ff6b6b', '#63e6be', '#8ce99a', '#ffe066', '#da77f2', '#faa2c1', '#d8a47f', '#ced4da'];
const HC_DARK = ['#ffff00', '#00ffff', '#ff8c00', '#7cfc00', '#ff69b4', '#ffffff'];
const HC_LIGHT = ['#0000cd', '#b30000', '#006400', '#8b008b', '#8b4513', '#000000'];

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
    fontFamily: v(['--vscode-font-family'], 'system-ui, -apple-system, "Segoe UI", sans-serif'),
    fontSize: Number.isFinite(fontSize) && fontSize > 0 ? fontSize : 12,
    palette: hc ? (dark ? HC_DARK : HC_LIGHT) : dark ? DARK : TABLEAU,
    scheme: 'viridis',
  };
}

/** A vega-lite `config` drawing in the theme's colours on a transparent background. */
export function vegaConfig(theme: Theme): Record<string, unknown> {
  const hc = isHighContrast(theme.kind);
  const fg = theme.foreground;
  const font = theme.fontFamily;
  const size = Math.max(10, Math.round(theme.fontSize * 0.9));
  return {
    background: 'transparent',
    font,
    padding: 4,
    view: { stroke: hc ? fg : 'transparent' },
    axis: {
      domainColor: fg,
      tickColor: fg,
      labelColor: fg,
      titleColor: fg,
      gridColor: theme.gridColor,
      labelFont: font,
      titleFont: font,
      labelFontSize: size,
      titleFontSize: size + 1,
      titleFontWeight: 'normal',
    },
    legend: { labelColor: fg, titleColor: fg, labelFont: font, titleFont: font, labelFontSize: size, titleFontSize: size + 1 },
    header: { labelColor: fg, titleColor: fg },
    title: { color: fg, subtitleColor: theme.mutedForeground, anchor: 'start', font, subtitleFont: font, fontSize: size + 3, subtitleFontSize: size },
    text: { color: fg, font },
    range: { category: [...theme.palette] },
    mark: { color: theme.palette[0] },
    line: { strokeWidth: hc ? 3 : 2 },
    point: { size: hc ? 60 : 30, filled: true },
    rule: { color: fg },
    rect: hc ? { stroke: fg, strokeWidth: 0.5 } : {},
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
