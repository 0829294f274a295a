/**
 * The theme a chart is drawn in, and the Vega/vega-lite `config` made from it. The renderers read
 * it from VS Code (renderers/common/theme.ts); the kernel's fallback charts, shown by Jupyter
 * front ends whose theme the kernel cannot see, use {@link lightTheme}. Pure data and functions.
 */

export const ThemeKind = {
  light: 'light',
  dark: 'dark',
  highContrast: 'high-contrast',
  highContrastLight: 'high-contrast-light',
} as const;
export type ThemeKind = (typeof ThemeKind)[keyof typeof ThemeKind];

/** Whether `s` names a {@link ThemeKind}. */
export function isThemeKind(s: unknown): s is ThemeKind {
  return typeof s === 'string' && (Object.values(ThemeKind) as string[]).includes(s);
}

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
  /**
   * Paint {@link background} behind the chart instead of leaving it transparent: for a chart shown
   * on a page whose colours it does not follow (the kernel's fallback in Jupyter).
   */
  readonly paintBackground?: boolean;
}

export function isHighContrast(kind: ThemeKind): boolean {
  return kind === ThemeKind.highContrast || kind === ThemeKind.highContrastLight;
}

/** Dark-ish kinds (light text on a dark background). */
export function isDark(kind: ThemeKind): boolean {
  return kind === ThemeKind.dark || kind === ThemeKind.highContrast;
}

/** Category colours per theme kind. */
export const PALETTES = {
  light: ['#4c78a8', '#f58518', '#e45756', '#72b7b2', '#54a24b', '#eeca3b', '#b279a2', '#ff9da6', '#9d755d', '#bab0ac'],
  dark: ['#6ea8fe', '#ffa94d', '#ff6b6b', '#63e6be', '#8ce99a', '#ffe066', '#da77f2', '#faa2c1', '#d8a47f', '#ced4da'],
  highContrastDark: ['#ffff00', '#00ffff', '#ff8c00', '#7cfc00', '#ff69b4', '#ffffff'],
  highContrastLight: ['#0000cd', '#b30000', '#006400', '#8b008b', '#8b4513', '#000000'],
} as const satisfies Record<string, readonly string[]>;

/** The default font stack (VS Code's when it sets none). */
export const DEFAULT_FONT_FAMILY = 'system-ui, -apple-system, "Segoe UI", sans-serif';

/**
 * The fixed light theme of the charts the kernel puts in its MIME bundles (VS Code's light
 * defaults, on an opaque white background so that the chart reads in a dark Jupyter too).
 *
 * @example
 * const spec = trainingSpec(payload, lightTheme);
 */
export const lightTheme: Theme = {
  kind: ThemeKind.light,
  foreground: '#3b3b3b',
  mutedForeground: '#717171',
  background: '#ffffff',
  gridColor: 'rgba(0,0,0,0.10)',
  borderColor: '#d4d4d4',
  errorForeground: '#a1260d',
  fontFamily: DEFAULT_FONT_FAMILY,
  fontSize: 12,
  palette: PALETTES.light,
  scheme: 'viridis',
  paintBackground: true,
};

/**
 * A Vega/vega-lite `config` drawing in the theme's colours, on a transparent background unless
 * the theme paints its own.
 */
export function vegaConfig(theme: Theme): Record<string, unknown> {
  const hc = isHighContrast(theme.kind);
  const fg = theme.foreground;
  const font = theme.fontFamily;
  const size = Math.max(10, Math.round(theme.fontSize * 0.9));
  return {
    background: theme.paintBackground === true ? theme.background : 'transparent',
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
