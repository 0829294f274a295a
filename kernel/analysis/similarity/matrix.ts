/**
 * Module × module similarity under several measures, as one heatmap result with a measure switch:
 * `tl.similarity.matrix` (two models on the same examples) and `tl.similarity.matrixFromFeatures`.
 * Each module's representation is read once; its SVD (SVCCA, PWCCA, Procrustes) and RDM (RSA) are
 * computed once and reused for all its pairs; CKA reuses tl.cka's computation.
 */
import type { tf } from '../tfjs';
import type { Model } from '../modelContract';
import type { DataLike } from '../dataset';
import { type SimilarityMeasure, SIMILARITY_MEASURES, isSimilarityMeasure, type MeasureMatrix } from '../../protocol/mime';
import { checkInteger, checkKeys, checkObject, fail, formatValue } from '../validate';
import { checkModel } from '../evaluation';
import { type Analysis, runAsync } from '../engine';
import { type NamedFeatures, checkFeaturePair, checkModelPair, collectAll } from '../representations';
import { checkStringOption } from '../cka/options';
import { type Rep, repFrom } from '../cka/rep';
import { ckaValues, hsicTable } from '../cka/hsic';
import { type SvccaOptions, type SvccaSettings, svccaOf, svccaSettings } from './svcca';
import { type PwccaOptions, type PwccaSettings, pwccaOf, pwccaSettings } from './pwcca';
import { type ProcrustesSettings, procrustesSettings, procrustesSimilarityOf } from './procrustes';
import { type RsaOptions, type RsaSettings, rsaOf, rsaSettings } from './rsa';
import { Representation, readRepresentation } from './representation';
import { SimilarityResult } from './result';

export interface SimilarityMatrixOptions {
  /**
   * The measures to compute, in the order the heatmap's switch offers them (the first is shown
   * first): `cka` (linear CKA), `svcca`, `pwcca`, `procrustes` (as the similarity 1 − d²/2),
   * `rsa`. Default: all five.
   */
  readonly measures?: readonly SimilarityMeasure[];
  /** SVCCA's options (see tl.similarity.svcca). */
  readonly svcca?: SvccaOptions;
  /** PWCCA's options; the weights come from model A's module (the row). */
  readonly pwcca?: PwccaOptions;
  /** The Procrustes rank tolerance. */
  readonly procrustes?: { readonly tolerance?: number };
  /** RSA's options (see tl.similarity.rsa). */
  readonly rsa?: RsaOptions;
  /** A title for the heatmap. */
  readonly title?: string;
  /** Names of the two models (axis titles). */
  readonly modelA?: string;
  readonly modelB?: string;
}

export interface ModelSimilarityMatrixOptions extends SimilarityMatrixOptions {
  /** Modules to compare: one list for both models, or `{a, b}`. Default: every module of each model. */
  readonly layers?: readonly string[] | { readonly a?: readonly string[]; readonly b?: readonly string[] };
  /** Examples per forward pass. Default 256. */
  readonly batchSize?: number;
}

const FEATURE_KEYS = ['measures', 'svcca', 'pwcca', 'procrustes', 'rsa', 'title', 'modelA', 'modelB'];

interface Settings {
  readonly measures: readonly SimilarityMeasure[];
  readonly svcca: SvccaSettings;
  readonly pwcca: PwccaSettings;
  readonly procrustes: ProcrustesSettings;
  readonly rsa: RsaSettings;
}

function settingsOf(fn: string, o: Record<string, unknown>): Settings {
  const m = o['measures'] ?? SIMILARITY_MEASURES;
  if (!Array.isArray(m) || m.length === 0) fail(fn, 'options.measures', `must be a non-empty array of measures (${SIMILARITY_MEASURES.join(', ')}), got ${formatValue(m)}`);
  for (const x of m as unknown[]) if (!isSimilarityMeasure(x)) fail(fn, 'options.measures', `names ${typeof x === 'string' ? `an unknown measure '${x}'` : formatValue(x)}; the measures are ${SIMILARITY_MEASURES.join(', ')}`);
  const measures = [...new Set(m as SimilarityMeasure[])];
  return {
    measures,
    svcca: svccaSettings(fn, o['svcca'] ?? {}, 'options.svcca'),
    pwcca: pwccaSettings(fn, o['pwcca'] ?? {}, 'options.pwcca'),
    procrustes: procrustesSettings(fn, o['procrustes'] ?? {}, 'options.procrustes'),
    rsa: rsaSettings(fn, o['rsa'] ?? {}, 'options.rsa'),
  };
}

/** What the legend and the switch call a measure, with its range. */
export function measureLabel(measure: SimilarityMeasure, s: Settings): string {
  switch (measure) {
    case 'cka':
      return 'Linear CKA (0–1)';
    case 'svcca':
      return `SVCCA, ${Number((s.svcca.variance * 100).toPrecision(6))}% variance (0–1)`;
    case 'pwcca':
      return 'PWCCA, weights from model A (0–1)';
    case 'procrustes':
      return 'Procrustes similarity 1 − d²/2 (0–1)';
    case 'rsa':
      return `RSA, ${s.rsa.compare === 'spearman' ? 'Spearman' : 'Pearson'} of ${s.rsa.rdm} RDMs (−1–1)`;
    default: {
      const never: never = measure;
      return never;
    }
  }
}

/** Every measure for rows × columns of representations. */
function* measureAll(fn: string, rowsOf: readonly Representation[], colsOf: readonly Representation[], s: Settings): Analysis<MeasureMatrix[]> {
  const out: MeasureMatrix[] = [];
  for (const measure of s.measures) {
    let values: number[][];
    if (measure === 'cka') {
      values = yield* ckaOf(fn, rowsOf, colsOf);
    } else {
      const f = (a: Representation, b: Representation): number => {
        switch (measure) {
          case 'svcca':
            return svccaOf(fn, a, b, s.svcca).value;
          case 'pwcca':
            return pwccaOf(fn, a, b, s.pwcca).value;
          case 'procrustes':
            return procrustesSimilarityOf(fn, a, b, s.procrustes);
          default:
            return rsaOf(fn, a, b, s.rsa);
        }
      };
      values = rowsOf.map((a) => colsOf.map((b) => f(a, b)));
    }
    out.push({ measure, label: measureLabel(measure, s), values });
  }
  return out;
}

/** Linear CKA (biased HSIC) through tl.cka's computation. */
function* ckaOf(fn: string, rowsOf: readonly Representation[], colsOf: readonly Representation[]): Analysis<number[][]> {
  const unique = [...new Set([...rowsOf, ...colsOf])];
  const reps: Rep[] = unique.map((r) => repFrom(r.label, r.raw, r.n, r.p));
  const rows = rowsOf.map((r) => unique.indexOf(r));
  const cols = colsOf.map((r) => unique.indexOf(r));
  const t = yield* hsicTable(fn, reps, rows, cols, { kind: 'linear', debiased: false, threshold: 1, algorithm: 'auto' });
  return ckaValues(fn, rowsOf.map((r) => r.label), colsOf.map((r) => r.label), t, false);
}

function* featuresMatrix(fn: string, A: NamedFeatures, B: NamedFeatures | undefined, options: unknown): Analysis<SimilarityResult> {
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, FEATURE_KEYS);
  const s = settingsOf(fn, o);
  const { ea, eb, n } = checkFeaturePair(fn, A, B);
  const minN = s.measures.includes('rsa') ? 3 : 2;
  if (n < minN) fail(fn, 'featuresA', `has ${n} examples; ${s.measures.includes('rsa') ? 'RSA needs at least 3' : 'a similarity needs at least 2'}`);
  const seen = new Map<unknown, Representation>();
  const read = function* (arg: string, name: string, f: unknown): Analysis<Representation> {
    const known = seen.get(f);
    if (known !== undefined) return known;
    const r = yield* readRepresentation(fn, `${arg}.${name}`, f as never);
    seen.set(f, r);
    return r;
  };
  const rowsOf: Representation[] = [];
  for (const [k, v] of ea) rowsOf.push(yield* read('featuresA', k, v));
  const colsOf: Representation[] = [];
  for (const [k, v] of eb) colsOf.push(yield* read('featuresB', k, v));
  return new SimilarityResult({
    rows: ea.map(([k]) => k),
    columns: eb.map(([k]) => k),
    measures: yield* measureAll(fn, rowsOf, colsOf, s),
    n,
    ...meta(fn, o, undefined, undefined),
  });
}

function meta(fn: string, o: Record<string, unknown>, a: string | undefined, b: string | undefined): { title?: string; modelA?: string; modelB?: string } {
  const title = checkStringOption(fn, 'options.title', o['title']);
  const modelA = checkStringOption(fn, 'options.modelA', o['modelA']) ?? a;
  const modelB = checkStringOption(fn, 'options.modelB', o['modelB']) ?? b;
  return { ...(title !== undefined ? { title } : {}), ...(modelA !== undefined ? { modelA } : {}), ...(modelB !== undefined ? { modelB } : {}) };
}

/**
 * Every module of A against every module of B under several similarity measures, from
 * representations you computed (each a tensor [n, …] or number[][] of the same n examples in the
 * same order); without `featuresB`, A against itself. One result, one heatmap with a switch
 * between the measures (`options.measures`, default `cka`, `svcca`, `pwcca`, `procrustes`,
 * `rsa`). Every measure is a similarity: the Procrustes cell is 1 − d²/2 in [0, 1]; RSA lies in
 * [−1, 1]. PWCCA takes its weights from A's module (the row). Returns a promise on every backend:
 * `await` it.
 *
 * @example
 * ```ts
 * const x = tf.randomNormal([300, 8]);
 * const a = {h1: tf.relu(tf.matMul(x, tf.randomNormal([8, 16]))), h2: tf.tanh(x)};
 * const heat = await tl.similarity.matrixFromFeatures(a, undefined, {measures: ['cka', 'svcca', 'procrustes']});
 * heat.get('h1', 'h2', 'svcca');
 * heat; // one heatmap, a switch between the three measures
 * ```
 */
export async function matrixFromFeatures(featuresA: NamedFeatures, featuresB?: NamedFeatures, options: SimilarityMatrixOptions = {}): Promise<SimilarityResult> {
  return runAsync(featuresMatrix('tl.similarity.matrixFromFeatures', featuresA, featuresB, options));
}

function* modelMatrix(fn: string, modelA: Model, modelB: Model, data: DataLike | tf.Tensor4D, options: unknown): Analysis<SimilarityResult> {
  checkModel(fn, 'modelA', modelA);
  checkModel(fn, 'modelB', modelB);
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, [...FEATURE_KEYS, 'layers', 'batchSize']);
  const s = settingsOf(fn, o);
  const { x, la, lb } = checkModelPair(fn, modelA, modelB, data, o['layers']);
  const batchSize = checkInteger(fn, 'options.batchSize', o['batchSize'] ?? 256, 1);
  const n = x.shape[0];
  const minN = s.measures.includes('rsa') ? 3 : 2;
  if (n < minN) fail(fn, 'data', `has ${n} examples; ${s.measures.includes('rsa') ? 'RSA needs at least 3' : 'a similarity needs at least 2'}`);
  const collect = function* (model: Model, layers: readonly string[], side: string): Analysis<Map<string, Representation>> {
    const raw = yield* collectAll(fn, model, x, layers, batchSize);
    return new Map([...raw].map(([name, r]) => [name, new Representation(`${side} module '${name}'`, r.data, n, r.p)]));
  };
  const same = modelA === modelB;
  const repsA = yield* collect(modelA, same ? [...new Set([...la, ...lb])] : la, same ? 'the model' : 'modelA');
  const repsB = same ? repsA : yield* collect(modelB, lb, 'modelB');
  return new SimilarityResult({
    rows: la,
    columns: lb,
    measures: yield* measureAll(fn, la.map((l) => repsA.get(l)!), lb.map((l) => repsB.get(l)!), s),
    n,
    ...meta(fn, o, modelA.arch, modelB.arch),
  });
}

/**
 * Every module of `modelA` against every module of `modelB` on the same examples under several
 * similarity measures (`options.measures`, default `cka`, `svcca`, `pwcca`, `procrustes`, `rsa`):
 * one result, displayed as one heatmap with a switch between the measures. The models run in
 * evaluation mode in batches; conv maps are flattened per example. CCA-based measures need more
 * examples than a module's rank (with fewer, every canonical correlation is 1).
 *
 * @example
 * ```ts
 * const heat = await tl.similarity.matrix(ptA, ptB, test.take(500), {modelA: 'P-T 1', modelB: 'P-T 2'});
 * heat.diagonal('svcca');
 * heat;   // the heatmap, with a measure switch
 * ```
 */
export async function matrix(modelA: Model, modelB: Model, data: DataLike | tf.Tensor4D, options: ModelSimilarityMatrixOptions = {}): Promise<SimilarityResult> {
  return runAsync(modelMatrix('tl.similarity.matrix', modelA, modelB, data, options));
}
