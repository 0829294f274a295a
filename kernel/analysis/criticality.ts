/**
 * Module criticality (Chatterji, Neyshabur, Sedghi 2020; PAPER.md §5). For module i with initial
 * weights θᵢ⁰ and final θᵢᶠ, rewind it alone, θᵢ^α = (1−α)θᵢ⁰ + αθᵢᶠ, keep every other module
 * final, and add Gaussian noise u ~ N(0, σ²I) to that module. Its criticality is
 *   μᵢ = min over the (α, σ) grid, σ > 0, of α²‖θᵢᶠ − θᵢ⁰‖²_F / σ²  subject to  E_u[err] ≤ ε,
 * the expectation estimated with seeded noise samples. A module is non-critical when rewinding it
 * (α → 0) keeps the error low. The rewind target can be any earlier checkpoint, not only θ⁰.
 * Rewinding a module changes the activations of every layer after it, so for models with
 * BatchNorm the running statistics are recomputed for every setting (and for the final model the
 * grid is compared with) before it is evaluated, as interpolation does; by default on the
 * evaluated data, which the paper's protocol takes from the training set.
 * `tl.criticality` in notebooks.
 */
import { tf } from './tfjs';
import { moduleOf, type Model, type NamedWeights } from './modelContract';
import type { MimeBundle } from '../protocol/mime';
import { Mime } from '../protocol/mime';
import { DISPLAY, type Displayable } from './display';
import { checkData, type DataLike } from './dataset';
import { checkDataFitsModel, checkModel } from './train';
import { checkInteger, checkKeys, checkNumber, checkObject, checkOneOf, checkSeed, formatValue, fail } from './validate';
import { checkSameParameters, describeRecalibration, evaluateSettings, planRecalibration, type RecalibrationInfo } from './evalGrid';
import { VEGA_LITE_SCHEMA, fmt, fmtShort, jsonNumber, textTable } from './results';
import { weightsOf, type WeightsSource } from './distance';

export interface CriticalityOptions {
  /** Modules to rewind, one at a time. Default: every module of the model. */
  readonly modules?: readonly string[];
  /** The α grid: values in [0, 1], or a number of evenly spaced points. Default 11 (0, 0.1, …, 1). */
  readonly alphas?: readonly number[] | number;
  /** Noise standard deviations in [0, 1] (σ = 0 is always added: the α–error curves). Default [0, 0.005, 0.01, 0.02, 0.05, 0.1]. */
  readonly sigmas?: readonly number[];
  /** Noise draws per (α, σ > 0). Default 2. */
  readonly samples?: number;
  /** The threshold ε on the metric. Default: the final model's value + 0.05 (error) or × 1.1 (loss). */
  readonly epsilon?: number;
  /** What ε bounds: `error` (1 − accuracy, default) or `loss` (cross-entropy). */
  readonly metric?: 'error' | 'loss';
  /** Seed of the noise. Default 0. */
  readonly seed?: number;
  /** Examples per forward pass. Default 256. */
  readonly batchSize?: number;
  /** Settings evaluated per pass over the data. Default 8. */
  readonly group?: number;
  /** What the rewind target is, for tables and charts (e.g. `init`, `epoch 2`). Default `init`. */
  readonly label?: string;
  /**
   * BatchNorm statistics of each rewound model: `'auto'` (default) recomputes them for models that
   * have BatchNorm; `true` requires it; `false` keeps the final model's running statistics (stale
   * for every layer after the rewound module).
   */
  readonly recalibrate?: boolean | 'auto';
  /**
   * Images to recompute BatchNorm statistics on: a data set or images [N, H, W, C]. Default
   * (`'evaluation'`): the evaluated `data`, which should be training data, as in the paper.
   */
  readonly recalibrationData?: DataLike | tf.Tensor4D | 'evaluation';
}

/** One grid point of one module: mean metric over the noise samples. */
export interface CriticalityPoint {
  readonly alpha: number;
  readonly sigma: number;
  readonly error: number;
  readonly loss: number;
}

/** The criticality of one module. */
export interface ModuleCriticality {
  readonly module: string;
  /** μ: ∞ when no grid point with σ > 0 meets ε; 0 when α = 0 does. */
  readonly criticality: number;
  /** The (α, σ) reaching μ (NaN when none). */
  readonly alpha: number;
  readonly sigma: number;
  /** ‖θᵢᶠ − θᵢ⁰‖_F. */
  readonly distance: number;
  /** Metric with the module fully rewound (α = 0, σ = 0). */
  readonly rewoundError: number;
  readonly rewoundLoss: number;
  /** The whole grid. */
  readonly grid: readonly CriticalityPoint[];
}

function alphasOf(fn: string, v: unknown): number[] {
  if (v === undefined) v = 11;
  if (typeof v === 'number') {
    const k = checkInteger(fn, 'options.alphas', v, 2, 1001);
    return Array.from({ length: k }, (_, i) => i / (k - 1));
  }
  if (!Array.isArray(v) || v.length === 0) return fail(fn, 'options.alphas', `must be a number of points or a non-empty list of α in [0, 1], got ${formatValue(v)}`);
  v.forEach((a, i) => {
    if (typeof a !== 'number' || !(a >= 0 && a <= 1)) fail(fn, 'options.alphas', `has ${formatValue(a)} at position ${i}; α must be in [0, 1]`);
  });
  return [...new Set(v as number[])].sort((a, b) => a - b);
}

function sigmasOf(fn: string, v: unknown): number[] {
  if (v === undefined) return [0, 0.005, 0.01, 0.02, 0.05, 0.1];
  if (!Array.isArray(v) || v.length === 0) return fail(fn, 'options.sigmas', `must be a non-empty list of σ in [0, 1], got ${formatValue(v)}`);
  v.forEach((s, i) => {
    if (typeof s !== 'number' || !(s >= 0 && s <= 1)) fail(fn, 'options.sigmas', `has ${formatValue(s)} at position ${i}; σ must be in [0, 1]`);
  });
  return [...new Set([0, ...(v as number[])])].sort((a, b) => a - b);
}

/** A 32-bit seed for one noise draw. */
function noiseSeed(seed: number, ...parts: number[]): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const p of parts) {
    h = Math.imul(h ^ (p + 0x7f4a7c15), 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
  }
  return h;
}

/**
 * Rewinds each module of `model` towards `initial` (its initialisation, or any earlier
 * checkpoint) with noise, and reports the α–error curves and each module's criticality μ.
 * Evaluates modules × α × (1 + (σ's − 1) × samples) settings, `group` per pass over `data`
 * (the training data, as in the paper). For models with BatchNorm every setting's statistics are
 * recomputed first, on `data` or on `recalibrationData`; `result.recalibration` says which.
 *
 * @example
 * ```ts
 * const init = tl.resnet({...config, seed: 1});   // the same seed as before training: θ⁰
 * const c = await tl.criticality(trained, init, train.take(512), {samples: 2});
 * c.table();      // μ per module
 * c.recalibration; // {recalibrated: true, source: 'evaluation', examples: 512} for a ResNet
 * c;              // α–error curves and the table
 * ```
 */
export async function criticality(model: Model, initial: WeightsSource, data: DataLike, options: CriticalityOptions = {}): Promise<CriticalityResult> {
  const fn = 'tl.criticality';
  checkModel(fn, 'model', model);
  model.checkInterpolable?.(fn, 'model');
  const init = weightsOf(fn, 'initial', initial);
  const names = checkSameParameters(fn, 'model', model.variables, 'initial', init);
  const { numClasses } = checkData(fn, 'data', data);
  checkDataFitsModel(fn, model, data, numClasses);
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, ['modules', 'alphas', 'sigmas', 'samples', 'epsilon', 'metric', 'seed', 'batchSize', 'group', 'label', 'recalibrate', 'recalibrationData']);
  const modules = o['modules'] === undefined ? [...model.moduleNames] : (o['modules'] as unknown[]);
  if (!Array.isArray(modules) || modules.length === 0) fail(fn, 'options.modules', `must be a non-empty array of module names, got ${formatValue(o['modules'])}`);
  for (const m of modules) {
    if (typeof m !== 'string' || !names.some((n) => moduleOf(n) === m)) fail(fn, 'options.modules', `names ${formatValue(m)}, which has no parameters; modules: ${model.moduleNames.join(', ')}`);
  }
  const alphas = alphasOf(fn, o['alphas']);
  const sigmas = sigmasOf(fn, o['sigmas']);
  const samples = checkInteger(fn, 'options.samples', o['samples'] ?? 2, 1, 1000);
  const metric = checkOneOf(fn, 'options.metric', o['metric'] ?? 'error', ['error', 'loss'] as const);
  const seed = checkSeed(fn, 'options.seed', o['seed'] ?? 0);
  const batchSize = checkInteger(fn, 'options.batchSize', o['batchSize'] ?? 256, 1);
  const group = checkInteger(fn, 'options.group', o['group'] ?? 8, 1, 64);
  const label = o['label'] ?? 'init';
  if (typeof label !== 'string') fail(fn, 'options.label', `must be a string, got ${formatValue(label)}`);
  if (o['epsilon'] !== undefined) checkNumber(fn, 'options.epsilon', o['epsilon'], 0);
  const recalibration = planRecalibration(fn, model, o, data, { batchSize, whenMissing: 'evaluation' });

  // The settings of one module: (α, σ, sample) with one sample at σ = 0.
  const settings: { alpha: number; sigma: number; sample: number }[] = [];
  alphas.forEach((alpha) => sigmas.forEach((sigma) => {
    for (let s = 0; s < (sigma === 0 ? 1 : samples); s++) settings.push({ alpha, sigma, sample: s });
  }));

  const results: ModuleCriticality[] = [];
  // The final model, with its statistics recomputed like every setting's, so that α = 1, σ = 0 is exactly it.
  const baseEval = await evaluateSettings(model, 1, () => ({ weights: new Map([...model.variables].map(([k, v]) => [k, tf.clone(v)])) }), data, { batchSize, group: 1, prepare: recalibration.prepare });
  const base = { error: 1 - baseEval[0]!.accuracy, loss: baseEval[0]!.loss };
  const epsilon = (o['epsilon'] as number | undefined) ?? (metric === 'error' ? Math.min(1, base.error + 0.05) : base.loss * 1.1);

  for (let mi = 0; mi < modules.length; mi++) {
    const mod = modules[mi] as string;
    const params = names.filter((n) => moduleOf(n) === mod);
    // ‖θᶠ − θ⁰‖²_F in float64.
    let dist2 = 0;
    for (const p of params) {
      const [f, i] = await Promise.all([model.variables.get(p)!.data(), init.get(p)!.data()]);
      for (let k = 0; k < f.length; k++) dist2 += ((f[k] as number) - (i[k] as number)) ** 2;
    }
    const points = await evaluateSettings(
      model,
      settings.length,
      (si) => {
        const { alpha, sigma, sample } = settings[si]!;
        const weights: NamedWeights = new Map();
        tf.tidy(() => {
          for (const n of names) {
            const f = model.variables.get(n)!;
            if (!params.includes(n)) {
              weights.set(n, tf.keep(tf.clone(f)));
              continue;
            }
            const i0 = init.get(n)!;
            let w = tf.add(tf.mul(i0, 1 - alpha), tf.mul(f, alpha));
            if (sigma > 0) w = tf.add(w, tf.randomNormal(f.shape, 0, sigma, 'float32', noiseSeed(seed, mi, names.indexOf(n), Math.round(alpha * 1e6), Math.round(sigma * 1e9), sample)));
            weights.set(n, tf.keep(w));
          }
        });
        return { weights };
      },
      data,
      { batchSize, group, prepare: recalibration.prepare },
    );
    // Mean over samples per (α, σ).
    const grid: CriticalityPoint[] = [];
    let k = 0;
    for (const alpha of alphas) {
      for (const sigma of sigmas) {
        const m = sigma === 0 ? 1 : samples;
        let err = 0;
        let loss = 0;
        for (let s = 0; s < m; s++, k++) {
          err += 1 - points[k]!.accuracy;
          loss += points[k]!.loss;
        }
        grid.push({ alpha, sigma, error: err / m, loss: loss / m });
      }
    }
    let best = Infinity;
    let bestAlpha = NaN;
    let bestSigma = NaN;
    for (const g of grid) {
      if (g.sigma === 0) continue;
      const value = metric === 'error' ? g.error : g.loss;
      if (value > epsilon) continue;
      const mu = (g.alpha * g.alpha * dist2) / (g.sigma * g.sigma);
      if (mu < best || (mu === best && g.sigma > bestSigma)) {
        best = mu;
        bestAlpha = g.alpha;
        bestSigma = g.sigma;
      }
    }
    const rewound = grid.find((g) => g.alpha === alphas[0] && g.sigma === 0)!;
    results.push({ module: mod, criticality: best, alpha: bestAlpha, sigma: bestSigma, distance: Math.sqrt(dist2), rewoundError: rewound.error, rewoundLoss: rewound.loss, grid });
  }
  return new CriticalityResult({ label, metric, epsilon, baseError: base.error, baseLoss: base.loss, modules: results, samples, seed, recalibration: recalibration.info });
}

/** What a {@link CriticalityResult} holds. */
export interface CriticalityInit {
  /** The rewind target (`init`, `epoch 2`, …). */
  readonly label: string;
  readonly metric: 'error' | 'loss';
  readonly epsilon: number;
  /** The final model's error and loss on the data. */
  readonly baseError: number;
  readonly baseLoss: number;
  readonly modules: readonly ModuleCriticality[];
  readonly samples: number;
  readonly seed: number;
  /** Whether BatchNorm statistics were recomputed for every setting and the final model, and on which images. Default: not recomputed. */
  readonly recalibration?: RecalibrationInfo;
}

/** Module criticality: a table of μ per module and the α–error curves (σ = 0). */
export class CriticalityResult implements Displayable, CriticalityInit {
  readonly label: string;
  readonly metric: 'error' | 'loss';
  readonly epsilon: number;
  readonly baseError: number;
  readonly baseLoss: number;
  readonly modules: readonly ModuleCriticality[];
  readonly samples: number;
  readonly seed: number;
  readonly recalibration: RecalibrationInfo;

  constructor(init: CriticalityInit) {
    this.label = init.label;
    this.metric = init.metric;
    this.epsilon = init.epsilon;
    this.baseError = init.baseError;
    this.baseLoss = init.baseLoss;
    this.modules = init.modules;
    this.samples = init.samples;
    this.seed = init.seed;
    this.recalibration = init.recalibration ?? { recalibrated: false, source: null, examples: null };
  }

  /** The BatchNorm note of tables and charts, e.g. `BatchNorm statistics recomputed for every setting on the evaluation data (512 images)`. */
  private batchNormNote(): string {
    return this.recalibration.recalibrated ? `BatchNorm statistics recomputed for every setting ${describeRecalibration(this.recalibration)}` : 'BatchNorm statistics not recomputed';
  }

  /** μ per module. */
  table(): Map<string, number> {
    return new Map(this.modules.map((m) => [m.module, m.criticality]));
  }

  /** The α–error curve (σ = 0) of `module`. */
  curve(module: string): { alpha: number; error: number; loss: number }[] {
    const m = this.modules.find((x) => x.module === module);
    if (!m) fail('CriticalityResult.curve', 'module', `'${module}' was not analysed; modules: ${this.modules.map((x) => x.module).join(', ')}`);
    return m.grid.filter((g) => g.sigma === 0).map((g) => ({ alpha: g.alpha, error: g.error, loss: g.loss }));
  }

  toVegaLite(): Record<string, unknown> {
    const y = this.metric === 'error' ? 'error' : 'loss';
    const values = this.modules.flatMap((m) => m.grid.filter((g) => g.sigma === 0).map((g) => ({ module: m.module, alpha: g.alpha, value: this.metric === 'error' ? g.error : g.loss })));
    return {
      $schema: VEGA_LITE_SCHEMA,
      title: { text: `Rewinding one module to ${this.label}`, subtitle: [`${y} vs α (σ = 0); dashed: ε = ${fmtShort(this.epsilon)}`, ...(this.recalibration.recalibrated ? [this.batchNormNote()] : [])] },
      width: 320,
      height: 220,
      layer: [
        {
          data: { values },
          mark: { type: 'line', point: true },
          encoding: {
            x: { field: 'alpha', type: 'quantitative', title: 'α (0 = rewound, 1 = final)' },
            y: { field: 'value', type: 'quantitative', title: y },
            color: { field: 'module', type: 'nominal', sort: this.modules.map((m) => m.module) },
            tooltip: [{ field: 'module' }, { field: 'alpha', format: '.2f' }, { field: 'value', format: '.4f', title: y }],
          },
        },
        { data: { values: [{ epsilon: this.epsilon }] }, mark: { type: 'rule', strokeDash: [4, 4] }, encoding: { y: { field: 'epsilon', type: 'quantitative' } } },
      ],
    };
  }

  toJSON(): Record<string, unknown> {
    return {
      label: this.label,
      metric: this.metric,
      epsilon: this.epsilon,
      baseError: this.baseError,
      baseLoss: this.baseLoss,
      recalibration: this.recalibration,
      modules: this.modules.map((m) => ({ ...m, criticality: jsonNumber(m.criticality), alpha: jsonNumber(m.alpha), sigma: jsonNumber(m.sigma) })),
    };
  }

  toString(): string {
    const rows = this.modules.map((m) => [m.module, Number.isFinite(m.criticality) ? fmtShort(m.criticality) : '∞ (no σ meets ε)', fmt(m.alpha, 2), fmt(m.sigma, 3), fmt(m.distance, 3), fmt(this.metric === 'error' ? m.rewoundError : m.rewoundLoss, 4)]);
    const base = this.metric === 'error' ? this.baseError : this.baseLoss;
    return `Module criticality, rewinding to ${this.label} (${this.metric} ≤ ε = ${fmtShort(this.epsilon)}; final model ${fmtShort(base)}; ${this.samples} noise samples, seed ${this.seed}; ${this.batchNormNote()})\n${textTable(['module', 'μ', 'α', 'σ', '‖θᶠ−θ⁰‖', `${this.metric} rewound`], rows)}`;
  }

  [DISPLAY](): MimeBundle {
    return { [Mime.vegaLite]: this.toVegaLite(), [Mime.json]: this.toJSON(), [Mime.plain]: this.toString() };
  }
}
