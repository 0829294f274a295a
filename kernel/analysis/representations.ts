/**
 * Representations: what a similarity measure compares. Features given directly (a tensor with one
 * row per example, or rows of numbers), named per module, or collected from models by running
 * them on the same examples. Validation names the calling function and argument. Shared by the
 * similarity measures (CKA in ./cka/; the next one, e.g. SVCCA, imports this module, not CKA).
 */
import { tf } from './tfjs';
import type { Model } from './modelContract';
import type { DataLike } from './dataset';
import type { Analysis } from './engine';
import { formatValue, fail, shapeStr } from './validate';
import { ShapeMismatchError } from './errors';
import { fromRows } from './float64';

/** A representation: [n, p] (or higher rank, flattened per example) tensor, or n rows of p numbers. */
export type Features = tf.Tensor | readonly (readonly number[])[];

/** Named representations: module name → features (the same examples, in the same order, for all). */
export type NamedFeatures = ReadonlyMap<string, Features> | Readonly<Record<string, Features>>;

/** Fails when `data` (row-major, p per row) holds a NaN or an infinity, naming its row and column. */
export function checkFinite(fn: string, arg: string, data: ArrayLike<number>, p: number): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (!Number.isFinite(v)) fail(fn, arg, `has a non-finite value (${v}) at row ${Math.floor(i / p)}, column ${i % p}`);
  }
}

/** Shape [n, p] of a features argument, validated (tensors of rank ≥ 2 are flattened per example). */
export function featureShape(fn: string, arg: string, X: unknown): [number, number] {
  if (X instanceof tf.Tensor) {
    if (X.isDisposed) fail(fn, arg, 'is a disposed tensor');
    if (X.rank < 2) fail(fn, arg, `must have one row per example ([n, p] or [n, H, W, C]), got shape ${shapeStr(X.shape)}`);
    if (X.dtype === 'string' || X.dtype === 'complex64') fail(fn, arg, `must be numeric, got dtype ${X.dtype}`);
    const n = X.shape[0];
    const p = X.size / Math.max(n, 1);
    if (n === 0 || p === 0) fail(fn, arg, `is empty: shape ${shapeStr(X.shape)}`);
    return [n, p];
  }
  if (Array.isArray(X)) {
    if (X.length === 0) fail(fn, arg, 'is empty (no rows)');
    const first = X[0] as unknown;
    if (!Array.isArray(first)) fail(fn, arg, `must be a tensor or an array of rows (number[][]), got an array whose first row is ${formatValue(first)}`);
    if (first.length === 0) fail(fn, arg, 'has rows of length 0');
    return [X.length, first.length];
  }
  return fail(fn, arg, `must be a tensor [n, p] or number[][], got ${formatValue(X)}`);
}

/**
 * Reads one features argument as row-major values n × p (float32 from a tensor, float64 from
 * rows), validated: its shape, and every value finite.
 */
export function* readFeatures(fn: string, arg: string, X: Features): Analysis<{ readonly data: ArrayLike<number>; readonly n: number; readonly p: number }> {
  const [n, p] = featureShape(fn, arg, X);
  if (X instanceof tf.Tensor) {
    const flat = tf.tidy(() => tf.cast(tf.reshape(X, [n, p]), 'float32'));
    const values = yield flat;
    checkFinite(fn, arg, values, p);
    return { data: values, n, p };
  }
  const { data } = fromRows(
    X,
    (i, len, expected) => fail(fn, arg, `has rows of different lengths: row ${i} has ${len < 0 ? 'no array' : len} values, row 0 has ${expected}`),
    (i, j, v) => fail(fn, arg, `has a non-finite or non-numeric value (${formatValue(v)}) at row ${i}, column ${j}`),
  );
  return { data, n, p };
}

/** The entries of a {@link NamedFeatures} argument, each validated by {@link featureShape}. */
export function namedEntries(fn: string, arg: string, f: unknown): [string, Features][] {
  let entries: [string, unknown][];
  if (f instanceof Map) entries = [...f.entries()];
  else if (f !== null && typeof f === 'object' && !Array.isArray(f) && !(f instanceof tf.Tensor)) entries = Object.entries(f);
  else return fail(fn, arg, `must map module names to features ({conv1: X1, layer1: X2} or a Map), got ${formatValue(f)}`);
  if (entries.length === 0) fail(fn, arg, 'is empty (no modules)');
  for (const [k, v] of entries) {
    if (typeof k !== 'string') fail(fn, arg, `has a non-string key ${formatValue(k)}`);
    featureShape(fn, `${arg}.${k}`, v);
  }
  return entries as [string, Features][];
}

/**
 * Both sides of a module × module matrix from features: their entries, checked to hold the same
 * examples (one row each, the same number everywhere); `B` absent or the same object: A against itself.
 */
export function checkFeaturePair(fn: string, A: NamedFeatures, B: NamedFeatures | undefined): { ea: [string, Features][]; eb: [string, Features][]; n: number } {
  const ea = namedEntries(fn, 'featuresA', A);
  const eb = B === undefined || B === A ? ea : namedEntries(fn, 'featuresB', B);
  const n = featureShape(fn, `featuresA.${ea[0]![0]}`, ea[0]![1])[0];
  for (const [arg, entries] of [['featuresA', ea], ['featuresB', eb]] as const) {
    for (const [k, v] of entries) {
      const [m] = featureShape(fn, `${arg}.${k}`, v);
      if (m !== n) throw new ShapeMismatchError(fn, `${arg}.${k}`, `has ${m} rows but featuresA.${ea[0]![0]} has ${n} (one row per example, the same examples for every module)`);
    }
  }
  return { ea, eb, n };
}

// ─── From models ─────────────────────────────────────────────────────────────────────────────

/** The module names `layers` (default: all of the model's), each checked against the model. */
export function checkLayers(fn: string, arg: string, model: Model, layers: unknown): string[] {
  if (layers === undefined) return [...model.moduleNames];
  if (!Array.isArray(layers) || layers.length === 0 || layers.some((l) => typeof l !== 'string')) fail(fn, arg, `must be a non-empty array of module names, got ${formatValue(layers)}`);
  for (const l of layers as string[]) {
    if (!model.moduleNames.includes(l)) fail(fn, arg, `names unknown module '${l}'; the model (${model.arch}) has ${model.moduleNames.join(', ')}`);
  }
  return [...(layers as string[])];
}

/** Images of a DataLike or an image tensor. */
export function imagesOf(fn: string, data: unknown): tf.Tensor4D {
  const x = data instanceof tf.Tensor ? data : data !== null && typeof data === 'object' ? (data as Partial<DataLike>).x : undefined;
  if (!(x instanceof tf.Tensor) || x.rank !== 4) fail(fn, 'data', `must be a data set {x, y} or images [N, H, W, C], got ${formatValue(data)}`);
  if (x.isDisposed) fail(fn, 'data', 'holds a disposed tensor');
  return x as tf.Tensor4D;
}

/**
 * The images and modules of a module × module matrix of two models: the images fit both models'
 * input; `layers` is one list of module names for both, or `{a, b}` (each default: every module).
 */
export function checkModelPair(fn: string, modelA: Model, modelB: Model, data: unknown, layers: unknown): { x: tf.Tensor4D; la: string[]; lb: string[] } {
  const x = imagesOf(fn, data);
  for (const [arg, m] of [['modelA', modelA], ['modelB', modelB]] as const) {
    const [, h, w, c] = x.shape;
    if (h !== m.inputShape[0] || w !== m.inputShape[1] || c !== m.inputShape[2]) {
      throw new ShapeMismatchError(fn, 'data', `has images ${h}×${w}×${c} but ${arg} (${m.arch}) expects ${m.inputShape.join('×')}`);
    }
  }
  const split = layers !== undefined && !Array.isArray(layers) && typeof layers === 'object' && layers !== null;
  const la = checkLayers(fn, split ? 'options.layers.a' : 'options.layers', modelA, split ? (layers as { a?: unknown }).a : layers);
  const lb = checkLayers(fn, split ? 'options.layers.b' : 'options.layers', modelB, split ? (layers as { b?: unknown }).b : layers);
  return { x, la, lb };
}

/** Module outputs of examples [start, start + b) of `x` (the caller disposes them). */
export function forwardCollect(model: Model, x: tf.Tensor4D, start: number, b: number, layers: readonly string[]): Map<string, tf.Tensor> {
  const xb = tf.slice(x, [start, 0, 0, 0], [b, -1, -1, -1]);
  try {
    const { logits, activations } = model.forward(xb, { collect: layers });
    const out = new Map<string, tf.Tensor>();
    for (const l of layers) out.set(l, activations.get(l)!);
    // The classifier's output may be the logits tensor itself.
    if (![...activations.values()].includes(logits)) logits.dispose();
    return out;
  } finally {
    xb.dispose();
  }
}

/**
 * Every module's representation of all examples, as row-major float32 n × p (uncentred), in
 * forward batches of `batchSize`; `fn` names the caller in the error for a non-finite value.
 */
export function* collectAll(fn: string, model: Model, x: tf.Tensor4D, layers: readonly string[], batchSize: number): Analysis<Map<string, { data: Float32Array; p: number }>> {
  const n = x.shape[0];
  const out = new Map<string, { data: Float32Array; p: number }>();
  for (let i = 0; i < n; i += batchSize) {
    const b = Math.min(batchSize, n - i);
    const acts = forwardCollect(model, x, i, b, layers);
    try {
      for (const l of layers) {
        const t = acts.get(l)!;
        const p = t.size / b;
        if (!out.has(l)) out.set(l, { data: new Float32Array(n * p), p });
        const v = yield tf.reshape(t, [b, p]);
        checkFinite(fn, `module '${l}' of ${model.arch}`, v, p);
        out.get(l)!.data.set(v, i * p);
      }
    } finally {
      tf.dispose([...acts.values()]);
    }
  }
  return out;
}
