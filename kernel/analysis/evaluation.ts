/**
 * Evaluation: `tl.evaluate` (mean cross-entropy and accuracy of a model on a data set) and the
 * argument checks every analysis that runs a model on data shares (`checkModel`,
 * `checkDataFitsModel`).
 */
import { tf } from './tfjs';
import type { Model } from './modelContract';
import { ShapeMismatchError } from './errors';
import { checkData, type DataLike } from './dataset';
import { checkStream, isDataStream, type DataStream } from './dataStream';
import { checkInteger, checkKeys, checkObject, formatValue, fail } from './validate';

export interface EvaluateOptions {
  /** Examples per forward pass, default 256. */
  readonly batchSize?: number;
}

/** Mean cross-entropy loss (natural log) and accuracy of a model on a data set. */
export interface Evaluation {
  readonly loss: number;
  readonly accuracy: number;
  /** Number of examples evaluated. */
  readonly n: number;
}

/**
 * Sum of the cross-entropy losses and number of correct predictions of `logits` against labels
 * `y` (int32 [B] or one-hot [B, K]), as scalar tensors (no read-back).
 */
export function lossAndCorrect(logits: tf.Tensor2D, y: tf.Tensor1D | tf.Tensor2D): { lossSum: tf.Scalar; correct: tf.Scalar } {
  return tf.tidy(() => {
    const k = logits.shape[1];
    const labels = y.rank === 2 ? (tf.argMax(y, 1) as tf.Tensor1D) : (y as tf.Tensor1D);
    const onehot = y.rank === 2 ? (y as tf.Tensor2D) : tf.oneHot(labels, k);
    const logp = tf.logSoftmax(logits);
    const lossSum = tf.neg(tf.sum(tf.mul(onehot, logp))) as tf.Scalar;
    const correct = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'float32')) as tf.Scalar;
    return { lossSum, correct };
  });
}

/**
 * Evaluates `model` on `data` in batches (evaluation mode: BatchNorm uses running statistics).
 * One read-back at the end, so it is cheap on GPU backends. `data` may be a stream
 * (`tl.data.imageFolder`): one pass over it, in its own batches.
 *
 * @example
 * ```ts
 * const {loss, accuracy} = await tl.evaluate(model, test, {batchSize: 512});
 * const onFolder = await tl.evaluate(model, await tl.data.imageFolder('data/val', {size: [28, 28], channels: 1}));
 * ```
 */
export async function evaluate(model: Model, data: DataLike | DataStream, options: EvaluateOptions = {}): Promise<Evaluation> {
  const fn = 'tl.evaluate';
  checkModel(fn, 'model', model);
  if (isDataStream(data)) return evaluateStream(fn, model, data, options);
  const { n, numClasses } = checkData(fn, 'data', data);
  checkDataFitsModel(fn, model, data, numClasses);
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, ['batchSize']);
  const batchSize = checkInteger(fn, 'options.batchSize', o['batchSize'] ?? 256, 1);
  return evaluateBatches(model, slices(data, n, batchSize));
}

function evaluateStream(fn: string, model: Model, data: DataStream, options: EvaluateOptions): Promise<Evaluation> {
  const { numClasses } = checkStream(fn, 'data', data);
  checkStreamFitsModel(fn, model, data, numClasses);
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, ['batchSize']);
  if (o['batchSize'] !== undefined && o['batchSize'] !== data.batchSize) fail(fn, 'options.batchSize', `is ${formatValue(o['batchSize'])} but the stream's batches hold ${data.batchSize}; set the batch size on the stream`);
  return evaluateBatches(model, data.batches({ epoch: 0 }));
}

/** A batch of images with labels as indices or one-hot (a stream's `Batch`, or a slice of in-memory data). */
type LabelledBatch = Pick<DataLike, 'x' | 'y'>;

/** In-memory data in batches of `batchSize` (slices; the consumer disposes them). */
function* slices(data: DataLike, n: number, batchSize: number): Generator<LabelledBatch> {
  for (let i = 0; i < n; i += batchSize) {
    const b = Math.min(batchSize, n - i);
    const x = tf.slice(data.x, [i, 0, 0, 0], [b, -1, -1, -1]);
    const y = data.y.rank === 2 ? tf.slice(data.y as tf.Tensor2D, [i, 0], [b, -1]) : tf.slice(data.y as tf.Tensor1D, [i], [b]);
    yield { x, y };
  }
}

/**
 * Loss and accuracy over batches, in memory or streamed: each batch is disposed once used, the sums
 * stay on the backend, and one read-back at the end.
 */
async function evaluateBatches(model: Model, batches: Iterable<LabelledBatch> | AsyncIterable<LabelledBatch>): Promise<Evaluation> {
  let lossSum = tf.scalar(0);
  let correct = tf.scalar(0);
  let n = 0;
  try {
    for await (const { x, y } of batches) {
      let sums: tf.Tensor[];
      try {
        sums = tf.tidy(() => {
          const { logits } = model.forward(x);
          const r = lossAndCorrect(logits, y);
          return [tf.add(lossSum, r.lossSum), tf.add(correct, r.correct)];
        });
      } finally {
        tf.dispose([x, y]);
      }
      const [l, c] = sums;
      n += x.shape[0];
      tf.dispose([lossSum, correct]);
      lossSum = l as tf.Scalar;
      correct = c as tf.Scalar;
    }
    // One read-back for both sums.
    const both = tf.stack([lossSum, correct]);
    let sums: ArrayLike<number>;
    try {
      sums = await both.data();
    } finally {
      both.dispose();
    }
    return { loss: sums[0]! / n, accuracy: sums[1]! / n, n };
  } finally {
    lossSum.dispose();
    correct.dispose();
  }
}

/** Checks that a stream's images fit the model's input and its classes the model's outputs. */
export function checkStreamFitsModel(fn: string, model: Model, data: DataStream, numClasses: number): void {
  const [h, w, c] = data.imageShape;
  const [mh, mw, mc] = model.inputShape;
  if (h !== mh || w !== mw || c !== mc) {
    throw new ShapeMismatchError(fn, 'data', `has images ${h}×${w}×${c} but the model (${model.arch}) expects ${mh}×${mw}×${mc}`);
  }
  if (numClasses !== model.numClasses) {
    throw new ShapeMismatchError(fn, 'data', `has ${numClasses} classes but the model (${model.arch}) has ${model.numClasses} outputs`);
  }
}

/** Checks that `model` looks like a {@link Model} and is not disposed. */
export function checkModel(fn: string, arg: string, model: unknown): asserts model is Model {
  const m = model as Partial<Model> | null;
  if (m === null || typeof m !== 'object' || typeof m.forward !== 'function' || !(m.variables instanceof Map) || !Array.isArray(m.inputShape)) {
    fail(fn, arg, `must be a model (tl.resnet, tl.cnn, …), got ${formatValue(model)}`);
  }
  if ((m as { isDisposed?: boolean }).isDisposed) fail(fn, arg, 'is a disposed model');
}

/** Checks that the images fit the model's input and the labels its number of classes. */
export function checkDataFitsModel(fn: string, model: Model, data: DataLike, numClasses: number | undefined): void {
  const [, h, w, c] = data.x.shape;
  const [mh, mw, mc] = model.inputShape;
  if (h !== mh || w !== mw || c !== mc) {
    throw new ShapeMismatchError(fn, 'data.x', `has images ${h}×${w}×${c} but the model (${model.arch}) expects ${mh}×${mw}×${mc}`);
  }
  if (numClasses !== undefined && numClasses !== model.numClasses) {
    throw new ShapeMismatchError(fn, 'data', `has ${numClasses} classes but the model (${model.arch}) has ${model.numClasses} outputs`);
  }
}
