/**
 * The vega-lite spec of per-module curvature: bars of the top Hessian eigenvalue and of the
 * Hutchinson trace estimate (with its 95% interval) per module, one colour per model, and, when
 * the rows carry it, module criticality μ beside them (symmetric log scale, so that μ = 0 shows;
 * ∞ is not drawn). The kernel draws it in the light theme as the fallback of `tl.curvature`'s
 * results.
 */
import type { TopLevelSpec } from 'vega-lite';
import { vegaConfig, type Theme } from './theme';

/** One module of one model. */
export interface CurvatureRow {
  /** The model, e.g. `P-T`. */
  readonly label: string;
  readonly module: string;
  readonly topEigenvalue: number;
  readonly trace: number;
  /** Standard error of the trace estimate (NaN or null when unknown). */
  readonly traceStandardError: number | null;
  /** Module criticality μ (null: not analysed, or infinite). */
  readonly criticality?: number | null;
}

/** z of a two-sided 95% normal interval. */
const Z95 = 1.959963984540054;

/**
 * The spec of `rows` in `theme`; `modules` fixes the order of the x axis (default: first seen).
 *
 * @example
 * const spec = curvatureSpec([{label: 'P-T', module: 'fc', topEigenvalue: 3.2, trace: 40, traceStandardError: 2}], lightTheme);
 */
export function curvatureSpec(rows: readonly CurvatureRow[], theme: Theme, options: { readonly title?: string; readonly modules?: readonly string[] } = {}): TopLevelSpec {
  const modules = options.modules ?? [...new Set(rows.map((r) => r.module))];
  const labels = [...new Set(rows.map((r) => r.label))];
  const values = rows.map((r) => {
    const se = r.traceStandardError ?? NaN;
    const half = Number.isFinite(se) ? Z95 * se : 0;
    const mu = r.criticality ?? null;
    return {
      label: r.label,
      module: r.module,
      topEigenvalue: r.topEigenvalue,
      trace: r.trace,
      traceLow: r.trace - half,
      traceHigh: r.trace + half,
      criticality: mu !== null && Number.isFinite(mu) ? mu : null,
    };
  });
  const x = { field: 'module', type: 'nominal', title: 'module', sort: modules, axis: { labelAngle: 0 } };
  const color = { field: 'label', type: 'nominal', title: 'model', sort: labels };
  const xOffset = { field: 'label', type: 'nominal', sort: labels };
  const panel = (field: string, title: string, extra: Record<string, unknown>[] = [], scale: Record<string, unknown> = {}) => ({
    width: Math.max(160, 40 * modules.length * Math.max(1, labels.length)),
    height: 180,
    title: { text: title, fontSize: theme.fontSize },
    data: { values },
    layer: [
      {
        mark: { type: 'bar' },
        encoding: {
          x,
          xOffset,
          y: { field, type: 'quantitative', title, scale },
          color,
          tooltip: [
            { field: 'label', type: 'nominal', title: 'model' },
            { field: 'module', type: 'nominal' },
            { field: 'topEigenvalue', type: 'quantitative', title: 'λ_max', format: '.4g' },
            { field: 'trace', type: 'quantitative', title: 'trace', format: '.4g' },
            { field: 'traceLow', type: 'quantitative', title: 'trace 95% low', format: '.4g' },
            { field: 'traceHigh', type: 'quantitative', title: 'trace 95% high', format: '.4g' },
            { field: 'criticality', type: 'quantitative', title: 'μ', format: '.4g' },
          ],
        },
      },
      ...extra,
    ],
  });
  const errorBars = { mark: { type: 'rule' }, encoding: { x, xOffset, y: { field: 'traceLow', type: 'quantitative' }, y2: { field: 'traceHigh' } } };
  const panels = [panel('topEigenvalue', 'top Hessian eigenvalue'), panel('trace', 'Hessian trace (Hutchinson, 95%)', [errorBars])];
  if (values.some((v) => v.criticality !== null)) panels.push(panel('criticality', 'criticality μ (symlog; ∞ not drawn)', [], { type: 'symlog' }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    ...(options.title !== undefined ? { title: options.title } : {}),
    hconcat: panels,
    resolve: { scale: { color: 'shared' } },
    config: vegaConfig(theme),
  } as unknown as TopLevelSpec;
}
