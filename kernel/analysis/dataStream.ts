/**
 * Data that arrives in batches instead of sitting in memory: the {@link DataStream} contract that
 * `tl.train`, `tl.fineTune`, `tl.trainFromScratch`, `tl.evaluate` and `tl.cka.matrix` (minibatch
 * estimator) accept besides a {@link DataLike}. A stream knows its classes, its number of examples
 * per pass and its image shape; `batches({epoch})` yields the batches of one pass, seeded by the
 * epoch, each {x, y} owned by the caller (dispose them).
 *
 * Made by `tl.data.imageFolder` (files decoded on worker threads, ./imageStream.ts) and by
 * `tl.data.stream` (batches of a data set already in memory, below).
 */
import { tf } from './tfjs';
import { checkData, type DataLike } from './dataset';
import { permutation } from './random';
import { checkInteger, checkKeys, checkObject, checkSeed, fail, formatValue } from './validate';

/** One batch of a stream: images [B, H, W, C] float32 in [0, 1], labels [B] int32. The caller disposes both. */
export interface Batch {
  readonly x: tf.Tensor4D;
  readonly y: tf.Tensor1D;
}

/** Options of one pass over a stream. */
export interface PassOptions {
  /** Which pass (seeds the shuffle and the augmentations), default 0. */
  readonly epoch?: number;
}

/** Labelled images in batches, one pass at a time. */
export interface DataStream {
  /** Class names (their number is the number of classes). */
  readonly classes: readonly string[];
  /** Examples per pass. */
  readonly length: number;
  /** Examples per batch (the last batch of a pass may be smaller). */
  readonly batchSize: number;
  /** [H, W, C] of every image. */
  readonly imageShape: readonly [number, number, number];
  /** The batches of one pass; stopping early (break) frees what the pass holds. */
  batches(options?: PassOptions): AsyncGenerator<Batch, void, undefined>;
}

/**
 * Whether `v` is a {@link DataStream} (rather than tensors in memory).
 *
 * @example
 * ```ts
 * tl.isDataStream(await tl.data.imageFolder('data/val'));   // true
 * tl.isDataStream(tl.data.synthetic({n: 100}));             // false: a Dataset
 * ```
 */
export function isDataStream(v: unknown): v is DataStream {
  if (v === null || typeof v !== 'object') return false;
  const s = v as Partial<DataStream>;
  return typeof s.batches === 'function' && typeof s.length === 'number' && Array.isArray(s.imageShape) && !('x' in v);
}

/** Checks a stream argument; returns its number of classes and examples. */
export function checkStream(fn: string, arg: string, s: DataStream): { n: number; numClasses: number } {
  if (!Array.isArray(s.classes) || s.classes.length < 1) fail(fn, `${arg}.classes`, `must be an array of class names, got ${formatValue(s.classes)}`);
  if (!Number.isInteger(s.length) || s.length < 1) fail(fn, `${arg}.length`, `must be a positive number of examples, got ${formatValue(s.length)}`);
  if (!Number.isInteger(s.batchSize) || s.batchSize < 1) fail(fn, `${arg}.batchSize`, `must be a positive integer, got ${formatValue(s.batchSize)}`);
  if ((s as { isDisposed?: boolean }).isDisposed) fail(fn, arg, 'is a disposed stream');
  return { n: s.length, numClasses: s.classes.length };
}

/** Either kind of data: tensors in memory or a stream. */
export type DataSource = DataLike | DataStream;

export interface StreamOptions {
  /** Examples per batch, default 64. */
  readonly batchSize?: number;
  /** A new seeded order every pass (default false: the data set's order). */
  readonly shuffle?: boolean;
  readonly seed?: number;
}

/** Batches of a data set in memory, as a {@link DataStream}. */
class TensorStream implements DataStream {
  readonly classes: readonly string[];
  readonly length: number;
  readonly imageShape: readonly [number, number, number];
  private readonly labels: tf.Tensor1D;

  constructor(
    private readonly data: DataLike,
    readonly batchSize: number,
    private readonly shuffle: boolean,
    private readonly seed: number,
    numClasses: number,
  ) {
    this.length = data.x.shape[0];
    this.imageShape = [data.x.shape[1], data.x.shape[2], data.x.shape[3]];
    this.classes = data.classes ?? Array.from({ length: numClasses }, (_, i) => String(i));
    this.labels = data.y as tf.Tensor1D;
  }

  async *batches(options: PassOptions = {}): AsyncGenerator<Batch, void, undefined> {
    const epoch = checkInteger('DataStream.batches', 'options.epoch', options.epoch ?? 0, 0);
    const n = this.length;
    const order = this.shuffle ? permutation(n, (Math.imul(this.seed, 0x9e3779b1) ^ epoch) >>> 0) : undefined;
    for (let i = 0; i < n; i += this.batchSize) {
      const b = Math.min(this.batchSize, n - i);
      yield tf.tidy(() => {
        const idx = order ? tf.tensor1d(order.subarray(i, i + b), 'int32') : tf.range(i, i + b, 1, 'int32');
        const y = this.labels.rank === 2 ? tf.argMax(tf.gather(this.labels, idx), 1) : tf.gather(this.labels, idx);
        return { x: tf.gather(this.data.x, idx) as tf.Tensor4D, y: tf.cast(y, 'int32') as tf.Tensor1D };
      });
    }
  }
}

/**
 * A data set already in memory as a {@link DataStream}: its batches in order (or a seeded order
 * per pass with `shuffle`). For trying a streamed analysis on small data, and for tests.
 *
 * @example
 * ```ts
 * const test = tl.data.synthetic({n: 512, seed: 1});
 * const s = tl.data.stream(test, {batchSize: 128});
 * for await (const {x, y} of s.batches()) { console.log(x.shape); x.dispose(); y.dispose(); }
 * ```
 */
export function stream(data: DataLike, options: StreamOptions = {}): DataStream {
  const fn = 'tl.data.stream';
  const { numClasses } = checkData(fn, 'data', data);
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, ['batchSize', 'shuffle', 'seed']);
  const batchSize = checkInteger(fn, 'options.batchSize', o['batchSize'] ?? 64, 1);
  if (o['shuffle'] !== undefined && typeof o['shuffle'] !== 'boolean') fail(fn, 'options.shuffle', `must be a boolean, got ${formatValue(o['shuffle'])}`);
  const seed = checkSeed(fn, 'options.seed', o['seed'] ?? 0);
  const k = numClasses ?? Math.max(...(tf.tidy(() => tf.max(data.y.rank === 2 ? tf.argMax(data.y, 1) : data.y).dataSync()) as Int32Array)) + 1;
  return new TensorStream(data, batchSize, (o['shuffle'] as boolean | undefined) ?? false, seed, k);
}
