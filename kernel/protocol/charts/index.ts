/**
 * One spec builder per chart, shared by the kernel (the Vega/vega-lite fallback in each result's
 * MIME bundle, drawn by Jupyter) and the renderers (VS Code and the HTML report), so that every
 * front end shows the same figure; only the theme differs. Pure functions of the payload
 * (kernel/protocol/mime.ts) and a {@link Theme}.
 */
export { ckaSpec, ckaTitle, cellSize, level, levelPaths, uniqueLabels, HoverSignal, LEVELS, type CkaSpecOptions, type HeatmapLayout } from './cka';
export { curvatureSpec, type CurvatureRow } from './curvature';
export { MeasureSignal, MEASURE_SHORT_NAMES, measuresOf, cellUncertaintyLines, isIndistinguishable, nullMarkPath, uncertaintyNote } from './cka';
export { barrierIntervalBar, barrierLabel, barrierNote, barrierSegment, chordEnds, curveRows, interpolationSpec, pairLegendLabel, short, type InterpolationRow } from './interpolation';
export { statusLines, trainingRows, trainingSpec, type TrainingRow } from './training';
export { DEFAULT_FONT_FAMILY, PALETTES, ThemeKind, isDark, isHighContrast, isThemeKind, lightTheme, vegaConfig, type Theme } from './theme';
export { DEFAULT_CHART_WIDTH, LEGEND_LABEL_LIMIT, NARROW_CHART_WIDTH, panelLayout, wrapLines, charWidth, legendWidth, MIN_PANEL_WIDTH, type FitOptions } from './layout';
export { cellText, FULL_VALUE_CELL, isLight, matrixRoom, valueFontSize, MIN_VALUE_CELL, TEXT_LUMINANCE_THRESHOLD } from './cka';
