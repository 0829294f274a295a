/**
 * Minibatch CKA (Nguyen, Raghu, Kornblith 2021): `tl.cka.MinibatchCka`, an accumulator of
 * unbiased HSIC over minibatches, for n beyond memory.
 */
import { ShapeMismatchError } from '../errors';
import { checkKeys, checkObject, fail } from '../validate';
import { type Analysis, runAsync } from '../engine';
import { type Features, type NamedFeatures, featureShape, namedEntries } from '../representations';
import { type CkaKind, type Estimator, checkStringOption, matrixEstimator } from './options';
import { type Rep, readRep } from './rep';
import { ckaValues, hsicTable } from './hsic';
import { CkaResult } from './result';

export interface MinibatchOptions {
  /** `linear` (default) or `rbf` (bandwidth from each minibatch's own median distance). */
  readonly kind?: CkaKind;
  readonly threshold?: number;
  readonly title?: string;
  readonly modelA?: string;
  readonly modelB?: string;
}

/**
 * Minibatch CKA (Nguyen, Raghu, Kornblith 2021) as an accumulator, for n beyond memory: feed the
 * same examples, in the same order, to both sides one minibatch at a time; each minibatch adds
 * its unbiased HSIC₁ for every pair, weighted by its number of examples m, in float64;
 * {@link result} gives CKA = Σ m·HSIC₁(K, L) / √(Σ m·HSIC₁(K, K) · Σ m·HSIC₁(L, L)).
 * Minibatches need ≥ 4 examples.
 *
 * Why weight by m. With equal batches this is exactly the paper's estimator (the mean of HSIC₁
 * over batches). A ragged batch (usually the last) would count as much as a full one under the
 * plain mean although its estimate is noisier. Each HSIC₁ is unbiased whatever m, so any fixed
 * weights keep the sums unbiased; its variance falls as ~1/m (the leading term of a U-statistic's
 * variance when the representations are dependent), so weights ∝ m are the inverse-variance
 * weights, and every example counts alike. The result says so (`batchWeighting`, `batchSizes`).
 *
 * @example
 * ```ts
 * const acc = new tl.cka.MinibatchCka();
 * for (const [xa, xb] of batches) await acc.update({layer1: xa}, {layer1: xb});
 * acc.result().get('layer1', 'layer1');
 * ```
 */
export class MinibatchCka {
  private rows: string[] | undefined;
  private cols: string[] | undefined;
  private cross: Float64Array | undefined;
  private selfRows: Float64Array | undefined;
  private selfCols: Float64Array | undefined;
  private examples = 0;
  private batches = 0;
  private readonly sizes: number[] = [];
  private readonly estimator: Estimator;
  private readonly options: Record<string, unknown>;

  constructor(options: MinibatchOptions = {}) {
    const fn = 'tl.cka.MinibatchCka';
    const o = checkObject(fn, 'options', options);
    checkKeys(fn, 'options', o, ['kind', 'threshold', 'title', 'modelA', 'modelB']);
    this.estimator = { ...matrixEstimator(fn, { kind: o['kind'], threshold: o['threshold'] }), debiased: true };
    for (const k of ['title', 'modelA', 'modelB']) checkStringOption(fn, `options.${k}`, o[k]);
    this.options = o;
  }

  /** Number of minibatches and examples accumulated so far. */
  get count(): { batches: number; examples: number } {
    return { batches: this.batches, examples: this.examples };
  }

  /**
   * Adds one minibatch: module name → features of these examples for side A and side B (B
   * defaults to A). Module names must be the same in every call. Returns a promise on every
   * backend: `await` it before disposing these features or calling {@link result}.
   *
   * @example
   * ```ts
   * const acc = new tl.cka.MinibatchCka();
   * await acc.update({fc: tf.randomNormal([64, 10])});
   * acc.result();
   * ```
   */
  async update(featuresA: NamedFeatures, featuresB?: NamedFeatures): Promise<void> {
    await runAsync(this.step('MinibatchCka.update', featuresA, featuresB));
  }

  /** @internal Used by {@link matrix}: one step as an analysis. */
  *step(fn: string, featuresA: NamedFeatures, featuresB?: NamedFeatures): Analysis<void> {
    const ea = namedEntries(fn, 'featuresA', featuresA);
    const eb = featuresB === undefined || featuresB === featuresA ? ea : namedEntries(fn, 'featuresB', featuresB);
    const names = (e: [string, Features][]) => e.map(([k]) => k);
    if (this.rows === undefined) {
      this.rows = names(ea);
      this.cols = names(eb);
      this.cross = new Float64Array(this.rows.length * this.cols.length);
      this.selfRows = new Float64Array(this.rows.length);
      this.selfCols = new Float64Array(this.cols.length);
    } else {
      if (names(ea).join('\u0000') !== this.rows.join('\u0000')) fail(fn, 'featuresA', `has modules [${names(ea).join(', ')}] but earlier minibatches had [${this.rows.join(', ')}]`);
      if (names(eb).join('\u0000') !== this.cols!.join('\u0000')) fail(fn, 'featuresB', `has modules [${names(eb).join(', ')}] but earlier minibatches had [${this.cols!.join(', ')}]`);
    }
    const n = featureShape(fn, `featuresA.${ea[0]![0]}`, ea[0]![1])[0];
    for (const [arg, entries] of [['featuresA', ea], ['featuresB', eb]] as const) {
      for (const [k, v] of entries) {
        const [m] = featureShape(fn, `${arg}.${k}`, v);
        if (m !== n) throw new ShapeMismatchError(fn, `${arg}.${k}`, `has ${m} rows but featuresA.${ea[0]![0]} has ${n} (the same minibatch for every module)`);
      }
    }
    if (n < 4) fail(fn, 'featuresA', `has a minibatch of ${n} examples; the unbiased HSIC needs at least 4`);
    const reps: Rep[] = [];
    const seen = new Map<Features, number>();
    const keepRaw = this.estimator.kind === 'rbf';
    const index = function* (arg: string, k: string, f: Features): Analysis<number> {
      const known = seen.get(f);
      if (known !== undefined) return known;
      reps.push(yield* readRep(fn, `${arg}.${k}`, f, `${arg}.${k}`, keepRaw));
      seen.set(f, reps.length - 1);
      return reps.length - 1;
    };
    const rows: number[] = [];
    for (const [k, v] of ea) rows.push(yield* index('featuresA', k, v));
    const cols: number[] = [];
    for (const [k, v] of eb) cols.push(yield* index('featuresB', k, v));
    const t = yield* hsicTable(fn, reps, rows, cols, this.estimator);
    // n(n−3)·HSIC₁ → n·HSIC₁: each batch's HSIC₁ weighted by its examples (see the class comment).
    const s = 1 / (n - 3);
    t.cross.forEach((v, i) => (this.cross![i]! += v * s));
    t.selfRows.forEach((v, i) => (this.selfRows![i]! += v * s));
    t.selfCols.forEach((v, i) => (this.selfCols![i]! += v * s));
    this.examples += n;
    this.batches++;
    this.sizes.push(n);
  }

  /** CKA for all module pairs from the minibatches so far. */
  result(): CkaResult {
    const fn = 'MinibatchCka.result';
    if (this.rows === undefined) fail(fn, 'this', 'has no minibatches yet (call update first)');
    const o = this.options;
    const values = ckaValues(fn, this.rows.map((r) => `featuresA.${r}`), this.cols!.map((c) => `featuresB.${c}`), { cross: this.cross!, selfRows: this.selfRows!, selfCols: this.selfCols! }, true);
    return new CkaResult({
      rows: this.rows,
      columns: this.cols!,
      values,
      kind: this.estimator.kind,
      debiased: true,
      estimator: 'minibatch',
      n: this.examples,
      batches: this.batches,
      batchSizes: this.sizes,
      batchWeighting: 'examples',
      title: o['title'] as string | undefined,
      modelA: o['modelA'] as string | undefined,
      modelB: o['modelB'] as string | undefined,
    });
  }
}
