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
import { checkLayers, checkModelPair, collectAll, forwardCollect } from '../representations';
import { isDataStream, type Batch, type DataStream } from '../dataStream';
import { ShapeMismatchError } from '../errors';
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
export async function matrix(modelA: Model, modelB: Model, data: DataLike | tf.Tensor4D | DataStream, options: ModelMatrixOptions = {}): Promise<CkaResult> {
  if (isDataStream(data)) return streamMatrix('tl.cka.matrix', modelA, modelB, data, options);
  return runAsync(modelMatrix('tl.cka.matrix', modelA, modelB, data, options));
}

/**
 * Minibatch CKA between every module of two models ({@link matrix} with `estimator:
 * 'minibatch'`): memory of one batch whatever the number of examples, so it runs over a stream
 * (`tl.data.imageFolder`) of any length, in the stream's batches. With one batch holding every
 * example it equals the full debiased estimator.
 *
 * @example
 * ```ts
 * const val = await tl.data.imageFolder('data/val', {size: [28, 28], channels: 1, batchSize: 256});
 * const heat = await tl.cka.minibatch(ptA, riA, val, {modelA: 'P-T', modelB: 'RI-T'});
 * ```
 */
export async function minibatch(modelA: Model, modelB: Model, data: DataLike | tf.Tensor4D | DataStream, options: Omit<ModelMatrixOptions, 'estimator' | 'uncertainty'> = {}): Promise<CkaResult> {
  const o = { ...options, estimator: 'minibatch' as const };
  if (isDataStream(data)) return streamMatrix('tl.cka.minibatch', modelA, modelB, data, o);
  return runAsync(modelMatrix('tl.cka.minibatch', modelA, modelB, data, o));
}

/**
 * The minibatch estimator over a stream, in its batches; a batch of fewer than 4 examples (a
 * ragged tail) joins the one before it, as in the in-memory path.
 */
async function streamMatrix(fn: string, modelA: Model, modelB: Model, data: DataStream, options: ModelMatrixOptions): Promise<CkaResult> {
  checkModel(fn, 'modelA', modelA);
  checkModel(fn, 'modelB', modelB);
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, [...MATRIX_FEATURE_KEYS, 'layers', 'batchSize', 'estimator']);
  const e = matrixEstimator(fn, o);
  const estimator = checkOneOf(fn, 'options.estimator', o['estimator'] ?? 'minibatch', ['full', 'minibatch'] as const);
  if (estimator === 'full') fail(fn, 'options.estimator', `is 'full' but data is a stream: the full estimator keeps every example's representation; use estimator: 'minibatch', or data.load(n) for a data set in memory`);
  if (o['uncertainty'] !== undefined) fail(fn, 'options.uncertainty', 'needs the full estimator on a data set in memory (data.load(n))');
  if (o['batchSize'] !== undefined && o['batchSize'] !== data.batchSize) fail(fn, 'options.batchSize', `is ${String(o['batchSize'])} but the stream's batches hold ${data.batchSize}; the minibatches are the stream's batches`);
  if (data.length < 4) fail(fn, 'data', `has ${data.length} examples; the minibatch estimator needs at least 4`);
  if (data.batchSize < 4) fail(fn, 'data.batchSize', `is ${data.batchSize}; the minibatch estimator needs at least 4 examples per batch`);
  const [h, w, c] = data.imageShape;
  for (const [arg, m] of [['modelA', modelA], ['modelB', modelB]] as const) {
    if (h !== m.inputShape[0] || w !== m.inputShape[1] || c !== m.inputShape[2]) {
      throw new ShapeMismatchError(fn, 'data', `has images ${h}×${w}×${c} but ${arg} (${m.arch}) expects ${m.inputShape.join('×')}`);
    }
  }
  const layers = o['layers'];
  const split = layers !== undefined && !Array.isArray(layers) && typeof layers === 'object' && layers !== null;
  const la = checkLayers(fn, split ? 'options.layers.a' : 'options.layers', modelA, split ? (layers as { a?: unknown }).a : layers);
  const lb = checkLayers(fn, split ? 'options.layers.b' : 'options.layers', modelB, split ? (layers as { b?: unknown }).b : layers);
  const same = modelA === modelB;
  const acc = new MinibatchCka({
    kind: e.kind,
    threshold: e.threshold,
    title: checkStringOption(fn, 'options.title', o['title']),
    modelA: checkStringOption(fn, 'options.modelA', o['modelA']) ?? modelA.arch,
    modelB: checkStringOption(fn, 'options.modelB', o['modelB']) ?? modelB.arch,
  });
  const add = async (x: tf.Tensor4D): Promise<void> => {
    const b = x.shape[0];
    const fa = forwardCollect(modelA, x, 0, b, la);
    const fb = same ? fa : forwardCollect(modelB, x, 0, b, lb);
    try {
      await runAsync(acc.step(fn, fa, fb));
    } finally {
      tf.dispose([...fa.values(), ...(same ? [] : fb.values())]);
    }
  };
  let held: Batch | undefined;
  try {
    for await (const batch of data.batches({ epoch: 0 })) {
      batch.y.dispose();
      if (held && batch.x.shape[0] < 4) {
        const joined = tf.concat([held.x, batch.x]) as tf.Tensor4D;
        tf.dispose([held.x, batch.x]);
        held = { x: joined, y: batch.y };
        continue;
      }
      if (held) {
        const x = held.x;
        held = undefined;
        try {
          await add(x);
        } finally {
          x.dispose();
        }
      }
      held = batch;
    }
    if (held) {
      if (held.x.shape[0] < 4) fail(fn, 'data', `has ${held.x.shape[0]} examples; the minibatch estimator needs at least 4`);
      await add(held.x);
    }
  } finally {
    if (held) held.x.dispose();
  }
  return acc.result();
}
