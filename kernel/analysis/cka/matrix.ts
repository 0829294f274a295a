/**
 * Module × module CKA from representations the caller computed: `tl.cka.matrixFromFeatures`.
 */
import { checkKeys, checkObject, fail } from '../validate';
import { type Analysis, runAsync } from '../engine';
import { type Features, type NamedFeatures, checkFeaturePair } from '../representations';
import { type MatrixOptions, MATRIX_FEATURE_KEYS, checkStringOption, matrixEstimator } from './options';
import { type Rep, readRep } from './rep';
import { ckaValues, hsicTable } from './hsic';
import { CkaResult } from './result';
import { checkUncertainty } from '../resampling';
import { ckaUncertainty } from './uncertainty';

function* featuresMatrix(fn: string, A: NamedFeatures, B: NamedFeatures | undefined, o: Record<string, unknown>): Analysis<CkaResult> {
  const e = matrixEstimator(fn, o);
  const u = checkUncertainty(fn, 'options.uncertainty', o['uncertainty']);
  const { ea, eb, n } = checkFeaturePair(fn, A, B);
  if (n < (e.debiased ? 4 : 2)) fail(fn, 'featuresA', `has ${n} examples; ${e.debiased ? 'the debiased estimator needs at least 4' : 'CKA needs at least 2'}`);
  const reps: Rep[] = [];
  const seen = new Map<Features, number>();
  const indexOf = function* (arg: string, name: string, f: Features): Analysis<number> {
    const known = seen.get(f);
    if (known !== undefined) return known;
    reps.push(yield* readRep(fn, `${arg}.${name}`, f, `${arg}.${name}`, e.kind === 'rbf'));
    seen.set(f, reps.length - 1);
    return reps.length - 1;
  };
  const rows: number[] = [];
  for (const [k, v] of ea) rows.push(yield* indexOf('featuresA', k, v));
  const cols: number[] = [];
  for (const [k, v] of eb) cols.push(yield* indexOf('featuresB', k, v));
  const t = yield* hsicTable(fn, reps, rows, cols, e);
  const values = ckaValues(fn, ea.map(([k]) => `featuresA.${k}`), eb.map(([k]) => `featuresB.${k}`), t, e.debiased);
  const uncertainty = u === undefined ? undefined : yield* ckaUncertainty(fn, reps, rows, cols, e, u);
  return new CkaResult({
    uncertainty,
    rows: ea.map(([k]) => k),
    columns: eb.map(([k]) => k),
    values,
    kind: e.kind,
    debiased: e.debiased,
    estimator: 'full',
    n,
    title: checkStringOption(fn, 'options.title', o['title']),
    modelA: checkStringOption(fn, 'options.modelA', o['modelA']),
    modelB: checkStringOption(fn, 'options.modelB', o['modelB']),
  });
}

/**
 * CKA between every module of A and every module of B, from representations you computed: each
 * a tensor [n, …] or number[][] of the same n examples in the same order. Without `featuresB`,
 * A against itself. Each module's Gram matrix (or cross-products) is computed once and reused for
 * all its pairs. Returns a promise on every backend: `await` it.
 *
 * @example
 * ```ts
 * const {activations: a} = modelA.forward(x, {collect: ['conv1', 'layer1']});
 * const {activations: b} = modelB.forward(x, {collect: ['conv1', 'layer1']});
 * const heat = await tl.cka.matrixFromFeatures(a, b, {modelA: 'P-T', modelB: 'RI-T'});
 * heat.get('conv1', 'conv1');
 * heat; // displays a heatmap
 * const sure = await tl.cka.matrixFromFeatures(a, b, {uncertainty: {bootstrap: 200, permutations: 200}});
 * sure.cell('conv1', 'conv1'); // {estimate, lower, upper, pValue, indistinguishable}
 * ```
 */
export async function matrixFromFeatures(featuresA: NamedFeatures, featuresB?: NamedFeatures, options: MatrixOptions = {}): Promise<CkaResult> {
  const fn = 'tl.cka.matrixFromFeatures';
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, MATRIX_FEATURE_KEYS);
  return runAsync(featuresMatrix(fn, featuresA, featuresB, o));
}
