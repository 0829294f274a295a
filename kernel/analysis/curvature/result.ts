/**
 * What `tl.curvature` returns: per module, the top Hessian eigenvalue (with the power iteration's
 * convergence) and the Hutchinson trace estimate (with its standard error), as a table and a bar
 * chart; joined with module criticality by {@link CurvatureResult.withCriticality}, and several
 * models side by side by {@link curvatureTable}.
 */
import type { MimeBundle } from '../../protocol/mime';
import { Mime } from '../../protocol/mime';
import { curvatureSpec, lightTheme, type CurvatureRow } from '../../protocol/charts';
import { DISPLAY, type Displayable } from '../display';
import { fmtShort, jsonNumber, textTable } from '../results';
import { fail, formatValue } from '../validate';

/** How a module's Hessian-vector products were computed. */
export type CurvatureMethod = 'exact' | 'finite-difference';

/** The curvature of the loss in one module's parameters (the others fixed). */
export interface ModuleCurvature {
  readonly module: string;
  /** Number of parameters of the module (the dimension of its Hessian block). */
  readonly parameters: number;
  /** Eigenvalue of largest magnitude of the module's Hessian block (power iteration; the sign is kept). */
  readonly topEigenvalue: number;
  /** Hessian-vector products the power iteration used. */
  readonly iterations: number;
  /** |λₖ − λₖ₋₁| / |λₖ| at the last power-iteration step. */
  readonly relativeChange: number;
  /** Whether the relative change fell below the tolerance within the iterations. */
  readonly converged: boolean;
  /** Hutchinson's estimate of the block's trace: mean of zᵀHz over Rademacher probes z. */
  readonly trace: number;
  /** Standard error of the trace estimate (NaN with one probe). */
  readonly traceStandardError: number;
  /** zᵀHz per probe. */
  readonly traceSamples: readonly number[];
  /** `exact`: gradients of gradients; `finite-difference`: (∇L(θ+εv) − ∇L(θ−εv)) / 2ε. */
  readonly method: CurvatureMethod;
  /** Why finite differences were used, when they were not asked for. */
  readonly methodNote?: string;
  /** ε of the finite difference (NaN when exact). */
  readonly step: number;
  /** Seconds spent on the module. */
  readonly seconds: number;
}

/**
 * What {@link CurvatureResult.withCriticality} reads of a criticality result (`tl.criticality`'s
 * `CriticalityResult` has it).
 */
export interface CriticalityLike {
  readonly label: string;
  readonly metric: 'error' | 'loss';
  readonly modules: readonly { readonly module: string; readonly criticality: number; readonly rewoundError: number; readonly rewoundLoss: number }[];
}

/** What a {@link CurvatureResult} holds. */
export interface CurvatureInit {
  /** The model, in tables and charts (e.g. `P-T`). */
  readonly label: string;
  /** Examples the loss averages over, and the data set's name when it has one. */
  readonly n: number;
  readonly dataName?: string;
  /** Whether the model has BatchNorm (evaluated in inference mode, with its running statistics). */
  readonly batchNorm: boolean;
  readonly seed: number;
  readonly batchSize: number;
  /** The power iteration's limits and the number of Hutchinson probes. */
  readonly maxIterations: number;
  readonly tolerance: number;
  readonly probes: number;
  readonly modules: readonly ModuleCurvature[];
  /** Module criticality joined by {@link CurvatureResult.withCriticality}. */
  readonly criticality?: CriticalityLike;
}

const muText = (mu: number | undefined): string => (mu === undefined ? '–' : Number.isFinite(mu) ? fmtShort(mu) : '∞');
const pm = (m: ModuleCurvature): string => `${fmtShort(m.trace)} ± ${Number.isFinite(m.traceStandardError) ? fmtShort(m.traceStandardError) : '–'}`;

/** Per-module curvature of one model; displays a table and bar charts. */
export class CurvatureResult implements Displayable, CurvatureInit {
  readonly label: string;
  readonly n: number;
  readonly dataName?: string;
  readonly batchNorm: boolean;
  readonly seed: number;
  readonly batchSize: number;
  readonly maxIterations: number;
  readonly tolerance: number;
  readonly probes: number;
  readonly modules: readonly ModuleCurvature[];
  readonly criticality?: CriticalityLike;

  constructor(init: CurvatureInit) {
    this.label = init.label;
    this.n = init.n;
    if (init.dataName !== undefined) this.dataName = init.dataName;
    this.batchNorm = init.batchNorm;
    this.seed = init.seed;
    this.batchSize = init.batchSize;
    this.maxIterations = init.maxIterations;
    this.tolerance = init.tolerance;
    this.probes = init.probes;
    this.modules = init.modules;
    if (init.criticality !== undefined) this.criticality = init.criticality;
  }

  /** The curvature of `module`. */
  module(name: string): ModuleCurvature {
    const m = this.modules.find((x) => x.module === name);
    if (!m) fail('CurvatureResult.module', 'name', `${formatValue(name)} was not analysed; modules: ${this.modules.map((x) => x.module).join(', ')}`);
    return m;
  }

  /** Top eigenvalue per module. */
  table(): Map<string, number> {
    return new Map(this.modules.map((m) => [m.module, m.topEigenvalue]));
  }

  /** How the loss was evaluated, in words. */
  get evaluation(): string {
    const data = `mean cross-entropy over ${this.n} examples${this.dataName ? ` of ${this.dataName}` : ''}`;
    return this.batchNorm ? `${data}; BatchNorm in inference mode (running statistics)` : data;
  }

  /**
   * This result with `criticality` (from `tl.criticality` on the same model) joined by module
   * name: its table gains μ and the rewound error, its chart a μ panel.
   *
   * @example
   * ```ts
   * const k = await tl.criticality(pt.model, pt.initial, train);
   * (await tl.curvature(pt.model, train, {label: 'P-T'})).withCriticality(k);
   * ```
   */
  withCriticality(criticality: CriticalityLike): CurvatureResult {
    const c = criticality as Partial<CriticalityLike> | null;
    if (c === null || typeof c !== 'object' || !Array.isArray(c.modules) || (c.metric !== 'error' && c.metric !== 'loss')) {
      fail('CurvatureResult.withCriticality', 'criticality', `must be a result of tl.criticality, got ${formatValue(criticality)}`);
    }
    const shared = this.modules.filter((m) => c.modules!.some((k) => k.module === m.module));
    if (shared.length === 0) {
      fail('CurvatureResult.withCriticality', 'criticality', `shares no module with this result (curvature: ${this.modules.map((m) => m.module).join(', ')}; criticality: ${c.modules.map((k) => k.module).join(', ')})`);
    }
    return new CurvatureResult({ ...this.init(), criticality });
  }

  /** The criticality row of `module`, when joined. */
  criticalityOf(module: string): CriticalityLike['modules'][number] | undefined {
    return this.criticality?.modules.find((k) => k.module === module);
  }

  /** One chart row per module. */
  rows(): CurvatureRow[] {
    return this.modules.map((m) => {
      const k = this.criticalityOf(m.module);
      return {
        label: this.label,
        module: m.module,
        topEigenvalue: m.topEigenvalue,
        trace: m.trace,
        traceStandardError: jsonNumber(m.traceStandardError),
        ...(this.criticality ? { criticality: k === undefined ? null : jsonNumber(k.criticality) } : {}),
      };
    });
  }

  toVegaLite(): Record<string, unknown> {
    return curvatureSpec(this.rows(), lightTheme, { title: `Curvature of ${this.label} per module` }) as unknown as Record<string, unknown>;
  }

  toJSON(): Record<string, unknown> {
    return {
      label: this.label,
      n: this.n,
      ...(this.dataName !== undefined ? { dataName: this.dataName } : {}),
      evaluation: this.evaluation,
      batchNorm: this.batchNorm,
      seed: this.seed,
      batchSize: this.batchSize,
      maxIterations: this.maxIterations,
      tolerance: this.tolerance,
      probes: this.probes,
      modules: this.modules.map((m) => ({
        ...m,
        relativeChange: jsonNumber(m.relativeChange),
        traceStandardError: jsonNumber(m.traceStandardError),
        step: jsonNumber(m.step),
        ...(this.criticality ? { criticality: jsonNumber(this.criticalityOf(m.module)?.criticality ?? NaN) } : {}),
      })),
      ...(this.criticality ? { criticalityLabel: this.criticality.label, criticalityMetric: this.criticality.metric } : {}),
    };
  }

  toString(): string {
    return `Hessian curvature of ${this.label} per module (${this.evaluation}; ${this.probes} Hutchinson probes, seed ${this.seed})\n${curvatureText([this])}`;
  }

  [DISPLAY](): MimeBundle {
    return { [Mime.vegaLite]: this.toVegaLite(), [Mime.json]: this.toJSON(), [Mime.plain]: this.toString() };
  }

  private init(): CurvatureInit {
    return {
      label: this.label,
      n: this.n,
      ...(this.dataName !== undefined ? { dataName: this.dataName } : {}),
      batchNorm: this.batchNorm,
      seed: this.seed,
      batchSize: this.batchSize,
      maxIterations: this.maxIterations,
      tolerance: this.tolerance,
      probes: this.probes,
      modules: this.modules,
    };
  }
}

/** The table of one or more results (a `model` column when there are several) and its notes. */
function curvatureText(results: readonly CurvatureResult[]): string {
  const several = results.length > 1;
  const joined = results.some((r) => r.criticality);
  const metric = results.find((r) => r.criticality)?.criticality?.metric ?? 'error';
  const header = [...(several ? ['model'] : []), 'module', 'params', 'λ_max', 'iters', 'rel. change', 'trace ± SE', 'HVP', ...(joined ? ['μ', `${metric} rewound`] : [])];
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const r of results) {
    for (const m of r.modules) {
      const k = r.criticalityOf(m.module);
      rows.push([
        ...(several ? [r.label] : []),
        m.module,
        String(m.parameters),
        fmtShort(m.topEigenvalue) + (m.converged ? '' : ' (not converged)'),
        String(m.iterations),
        Number.isFinite(m.relativeChange) ? m.relativeChange.toExponential(1) : '–',
        pm(m),
        m.method === 'exact' ? 'exact' : 'fin. diff.',
        ...(joined ? [muText(k?.criticality), k === undefined ? '–' : fmtShort(metric === 'error' ? k.rewoundError : k.rewoundLoss)] : []),
      ]);
      if (m.method === 'finite-difference') notes.push(`${several ? `${r.label} ` : ''}${m.module}: central finite differences of gradients, ε = ${fmtShort(m.step)}${m.methodNote ? ` (${m.methodNote})` : ''}`);
    }
  }
  const crit = results.filter((r) => r.criticality).map((r) => `${several ? `${r.label}: ` : ''}μ rewinding to ${r.criticality!.label}`);
  return [textTable(header, rows), ...notes, ...(crit.length > 0 ? [`Criticality: ${crit.join('; ')}.`] : [])].join('\n');
}

/** Several models' curvature (and criticality, when joined) in one table and one chart. */
export class CurvatureTable implements Displayable {
  constructor(readonly results: readonly CurvatureResult[]) {}

  toVegaLite(): Record<string, unknown> {
    const modules = [...new Set(this.results.flatMap((r) => r.modules.map((m) => m.module)))];
    return curvatureSpec(this.results.flatMap((r) => r.rows()), lightTheme, { title: `Curvature per module: ${this.results.map((r) => r.label).join(', ')}`, modules }) as unknown as Record<string, unknown>;
  }

  toJSON(): Record<string, unknown> {
    return { results: this.results.map((r) => r.toJSON()) };
  }

  toString(): string {
    const how = [...new Set(this.results.map((r) => r.evaluation))];
    return `Hessian curvature per module (${how.join(' | ')})\n${curvatureText(this.results)}`;
  }

  [DISPLAY](): MimeBundle {
    return { [Mime.vegaLite]: this.toVegaLite(), [Mime.json]: this.toJSON(), [Mime.plain]: this.toString() };
  }
}

/**
 * Several models' curvature side by side (e.g. P-T and RI-T), each with its criticality when
 * joined: one table, one chart.
 *
 * @example
 * ```ts
 * const a = (await tl.curvature(pt.model, train, {label: 'P-T'})).withCriticality(kPT);
 * const b = (await tl.curvature(ri.model, train, {label: 'RI-T'})).withCriticality(kRI);
 * tl.curvatureTable([a, b]);
 * ```
 */
export function curvatureTable(results: readonly CurvatureResult[]): CurvatureTable {
  const fn = 'tl.curvatureTable';
  if (!Array.isArray(results) || results.length === 0) fail(fn, 'results', `must be a non-empty array of tl.curvature results, got ${formatValue(results)}`);
  results.forEach((r, i) => {
    if (!(r instanceof CurvatureResult)) fail(fn, `results[${i}]`, `must be a result of tl.curvature, got ${formatValue(r)}`);
  });
  const labels = results.map((r) => r.label);
  const dup = labels.find((l, i) => labels.indexOf(l) !== i);
  if (dup !== undefined) fail(fn, 'results', `has two results labelled '${dup}'; give each model its own options.label`);
  return new CurvatureTable([...results]);
}
