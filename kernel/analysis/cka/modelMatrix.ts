/**
 * Module × module CKA between two models on the same examples: `tl.cka.matrix`. Collects the
 * modules' outputs (../representations.ts), then computes exact CKA on all examples or the
 * minibatch estimator batch by batch.
 */
import { tf } from '../tfjs';
import type { Model } from '../modelContract';
import type { DataLike } from '../dataset';
import { checkInteger, checkKeys, checkObject, checkOneOf, fail } from '../validate';
import { checkModel } from '../train';
import { type Analysis, runAsync } from '../engine';
import { checkModelPair, collectAll, forwardCollect } from '../representations';
import { type MatrixOptions, MATRIX_FEATURE_KEYS, checkStringOption, matrixEstimator } from './options';
import { type Rep, repFrom } from './rep';
import { ckaValues, hsicTable } from './hsic';
import { MinibatchCka } from './minibatch';
import { CkaResult } from './result';
import { checkUncertainty } from '../resampling';
import { ckaUncertainty } from './uncertainty';

export interface ModelMatrixOptions extends MatrixOptions {
  /** Modules to compare: one list for both models, or `{a, b}`. Default: every module of each model. */
  readonly layers?: readonly string[] | { readonly a?: readonly string[]; readonly b?: readonly string[] };
  /** Examples per forward pass (and per minibatch with the minibatch estimator). Default 256. */
  readonly batchSize?: number;
  /**
   * `full` (default): exact CKA on all examples (keeps every module's representation in memory);
   * `minibatch`: the unbiased minibatch estimator over forward batches (memory of one batch);
   * a ragged last batch is weighted by its size (see MinibatchCka), and a tail of fewer than 4
   * examples joins the batch before it.
   */
  readonly estimator?: 'full' | 'minibatch';
}

function* modelMatrix(fn: string, modelA: Model, modelB: Model, data: DataLike | tf.Tensor4D, options: ModelMatrixOptions): Analysis<CkaResult> {
  checkModel(fn, 'modelA', modelA);
  checkModel(fn, 'modelB', modelB);
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, [...MATRIX_FEATURE_KEYS, 'layers', 'batchSize', 'estimator']);
  const e = matrixEstimator(fn, o);
  const u = checkUncertainty(fn, 'options.uncertainty', o['uncertainty']);
  const { x, la, lb } = checkModelPair(fn, modelA, modelB, data, o['layers']);
  const batchSize = checkInteger(fn, 'options.batchSize', o['batchSize'] ?? 256, 1);
  const estimator = checkOneOf(fn, 'options.estimator', o['estimator'] ?? 'full', ['full', 'minibatch'] as const);
  const n = x.shape[0];
  const same = modelA === modelB;
  const meta = {
    title: checkStringOption(fn, 'options.title', o['title']),
    modelA: checkStringOption(fn, 'options.modelA', o['modelA']) ?? modelA.arch,
    modelB: checkStringOption(fn, 'options.modelB', o['modelB']) ?? modelB.arch,
  };

  if (estimator === 'minibatch') {
    if (u !== undefined) fail(fn, 'options.uncertainty', `needs the full estimator (estimator: 'full'): intervals and p-values resample the examples of one exact computation`);
    if (batchSize < 4) fail(fn, 'options.batchSize', `is ${batchSize}; the minibatch estimator needs at least 4 examples per batch`);
    const acc = new MinibatchCka({ kind: e.kind, threshold: e.threshold, ...meta });
    if (n < 4) fail(fn, 'data', `has ${n} examples; the minibatch estimator needs at least 4`);
    for (let i = 0; i < n; ) {
      // A tail too short for the unbiased HSIC (< 4 examples) joins the batch before it.
      const b = n - (i + batchSize) < 4 ? n - i : batchSize;
      const fa = forwardCollect(modelA, x, i, b, la);
      const fb = same ? fa : forwardCollect(modelB, x, i, b, lb);
      try {
        yield* acc.step(fn, fa, fb);
      } finally {
        tf.dispose([...fa.values(), ...(same ? [] : fb.values())]);
      }
      i += b;
    }
    return acc.result();
  }

  if (n < (e.debiased ? 4 : 2)) fail(fn, 'data', `has ${n} examples; ${e.debiased ? 'the debiased estimator needs at least 4' : 'CKA needs at least 2'}`);
  const reps: Rep[] = [];
  const indexA = new Map<string, number>();
  const indexB = new Map<string, number>();
  const addAll = function* (model: Model, layers: readonly string[], side: string, index: Map<string, number>): Analysis<void> {
    const raw = yield* collectAll(fn, model, x, layers, batchSize);
    for (const [name, r] of raw) {
      reps.push(repFrom(`${side} module '${name}'`, r.data, n, r.p, e.kind === 'rbf'));
      index.set(name, reps.length - 1);
      raw.delete(name); // let the uncentred copy go (the RBF kernel's Rep keeps it)
    }
  };
  if (same) {
    yield* addAll(modelA, [...new Set([...la, ...lb])], 'the model', indexA);
    for (const [k, v] of indexA) indexB.set(k, v);
  } else {
    yield* addAll(modelA, la, 'modelA', indexA);
    yield* addAll(modelB, lb, 'modelB', indexB);
  }
  const rows = la.map((l) => indexA.get(l)!);
  const cols = lb.map((l) => indexB.get(l)!);
  const t = yield* hsicTable(fn, reps, rows, cols, e);
  const values = ckaValues(fn, rows.map((i) => reps[i]!.label), cols.map((j) => reps[j]!.label), t, e.debiased);
  const uncertainty = u === undefined ? undefined : yield* ckaUncertainty(fn, reps, rows, cols, e, u);
  return new CkaResult({ rows: la, columns: lb, values, kind: e.kind, debiased: e.debiased, estimator: 'full', n, ...meta, uncertainty });
}

/**
 * CKA between every module of `modelA` and every module of `modelB` on the same examples (the
 * paper's Figure: P-T/P-T, P-T/P, P-T/RI-T, RI-T/RI-T), as a heatmap result. Runs the models in
 * evaluation mode in batches and collects module outputs (conv maps flattened). The default
 * estimator is exact on all examples; `estimator: 'minibatch'` scales to any n.
 *
 * @example
 * ```ts
 * const heat = await tl.cka.matrix(ptA, ptB, test.take(1000), {modelA: 'P-T 1', modelB: 'P-T 2'});
 * heat.diagonal();          // CKA of each module with its counterpart
 * heat;                     // displays the heatmap
 * await tl.cka.matrix(ptA, riA, test, {estimator: 'minibatch', batchSize: 256});
 * // per cell: 95% bootstrap interval over examples, permutation p-value; cells with p > 0.05 marked
 * await tl.cka.matrix(ptA, riA, test.take(500), {uncertainty: {bootstrap: 200, permutations: 200, seed: 1}});
 * ```
 */
export async function matrix(modelA: Model, modelB: Model, data: DataLike | tf.Tensor4D, options: ModelMatrixOptions = {}): Promise<CkaResult> {
  return runAsync(modelMatrix('tl.cka.matrix', modelA, modelB, data, options));
}
