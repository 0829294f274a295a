/**
 * The labelled image set every `tl` function takes: images NHWC float32 in [0, 1], integer labels,
 * class names. Loaders live in ./dataLoaders.ts; this module has the type, its checks and subsets.
 */
import { tf } from './tfjs';
import { DISPLAY } from './display';
import { ShapeMismatchError } from './errors';
import { checkImages, checkInteger, checkNumber, checkSeed, formatValue, fail, shapeStr } from './validate';
import { permutation } from './random';
import { ImagesResult, showImages } from './preview';

/** What functions accept as data: anything with these fields (a {@link Dataset} or a literal). */
export interface DataLike {
  /** Images [N, H, W, C], float32, values in [0, 1]. */
  readonly x: tf.Tensor4D;
  /** Labels [N], int32 in [0, classes.length); or one-hot [N, K] float32. */
  readonly y: tf.Tensor1D | tf.Tensor2D;
  /** Class names (its length is the number of classes). Optional for literals. */
  readonly classes?: readonly string[];
}

/** Checks `data` and returns [N, numClasses?]; names the function and argument on failure. */
export function checkData(fn: string, arg: string, data: unknown): { n: number; numClasses: number | undefined } {
  if (data === null || typeof data !== 'object') fail(fn, arg, `must be a data set {x, y} (e.g. from tl.data.mnist()), got ${formatValue(data)}`);
  const d = data as Record<string, unknown>;
  const x = d['x'];
  const y = d['y'];
  if (!(x instanceof tf.Tensor) || x.rank !== 4) fail(fn, `${arg}.x`, `must be images [N, H, W, C], got ${formatValue(x)}`);
  if (x.isDisposed) fail(fn, `${arg}.x`, 'is a disposed tensor');
  if (x.dtype !== 'float32') fail(fn, `${arg}.x`, `must be float32, got ${x.dtype}`);
  if (!(y instanceof tf.Tensor) || (y.rank !== 1 && y.rank !== 2)) fail(fn, `${arg}.y`, `must be labels [N] or one-hot [N, K], got ${formatValue(y)}`);
  if (y.isDisposed) fail(fn, `${arg}.y`, 'is a disposed tensor');
  if (y.shape[0] !== x.shape[0]) {
    throw new ShapeMismatchError(fn, arg, `has ${x.shape[0]} images (x ${shapeStr(x.shape)}) but ${y.shape[0]} labels (y ${shapeStr(y.shape)})`);
  }
  if (x.shape[0] === 0) fail(fn, arg, 'is empty');
  const classes = d['classes'];
  let numClasses: number | undefined;
  if (classes !== undefined) {
    if (!Array.isArray(classes)) fail(fn, `${arg}.classes`, `must be an array of class names, got ${formatValue(classes)}`);
    numClasses = classes.length;
  }
  if (y.rank === 2) {
    if (numClasses !== undefined && y.shape[1] !== numClasses) {
      throw new ShapeMismatchError(fn, `${arg}.y`, `is one-hot with ${y.shape[1]} columns but ${arg}.classes has ${numClasses} names`);
    }
    numClasses = y.shape[1];
  } else if (y.dtype !== 'int32') {
    fail(fn, `${arg}.y`, `labels must be int32, got ${y.dtype}`);
  }
  return { n: x.shape[0], numClasses };
}

/** Integer labels [N] int32 from labels or one-hot (a new tensor; caller disposes). */
export function labelsOf(y: tf.Tensor1D | tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => (y.rank === 2 ? (tf.argMax(y, 1) as tf.Tensor1D) : (tf.clone(y) as tf.Tensor1D)));
}

/**
 * A labelled image set held as tensors: `x` [N, H, W, C] float32 in [0, 1], `y` [N] int32, and
 * the class names. Made by the loaders in `tl.data`; subsets and splits make new datasets (each
 * owns its tensors; dispose what you no longer need).
 */
export class Dataset implements DataLike {
  /** Labels as a plain array (kept on the JavaScript side for splits and counts). */
  readonly labels: Int32Array;
  private disposed = false;

  constructor(
    readonly name: string,
    readonly x: tf.Tensor4D,
    readonly y: tf.Tensor1D,
    readonly classes: readonly string[],
    labels?: Int32Array,
  ) {
    const fn = 'Dataset';
    checkData(fn, 'data', { x, y, classes });
    if (y.rank !== 1) fail(fn, 'y', `must be int32 labels [N], got shape ${shapeStr(y.shape)}`);
    this.labels = labels ?? (y.dataSync() as Int32Array).slice();
    if (this.labels.length !== x.shape[0]) throw new ShapeMismatchError(fn, 'labels', `has ${this.labels.length} entries for ${x.shape[0]} images`);
    for (let i = 0; i < this.labels.length; i++) {
      const l = this.labels[i]!;
      if (!(l >= 0 && l < classes.length)) fail(fn, 'y', `has label ${l} at index ${i}, outside [0, ${classes.length}) (${classes.length} classes)`);
    }
  }

  /** Number of examples. */
  get size(): number {
    return this.x.shape[0];
  }

  /** [H, W, C] of one image. */
  get imageShape(): [number, number, number] {
    return [this.x.shape[1], this.x.shape[2], this.x.shape[3]];
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Examples per class, in class order. */
  counts(): number[] {
    const c = new Array<number>(this.classes.length).fill(0);
    for (const l of this.labels) c[l]!++;
    return c;
  }

  /** The examples at `indices`, in that order, as a new dataset. */
  subset(indices: ArrayLike<number>, name = `${this.name} subset`): Dataset {
    const fn = 'Dataset.subset';
    this.checkAlive(fn);
    const n = this.size;
    const idx = Int32Array.from(indices as ArrayLike<number>);
    for (let i = 0; i < idx.length; i++) {
      if (!(Number.isInteger(idx[i]) && idx[i]! >= 0 && idx[i]! < n)) fail(fn, 'indices', `has ${indices[i]} at position ${i}, outside [0, ${n})`);
    }
    if (idx.length === 0) fail(fn, 'indices', 'is empty');
    const labels = idx.map((i) => this.labels[i]!);
    const [x, y] = tf.tidy(() => {
      const t = tf.tensor1d(idx, 'int32');
      return [tf.gather(this.x, t), tf.tensor1d(labels, 'int32')];
    });
    return new Dataset(name, x as tf.Tensor4D, y as tf.Tensor1D, this.classes, labels);
  }

  /** The first `n` examples. */
  take(n: number): Dataset {
    checkInteger('Dataset.take', 'n', n, 1, this.size);
    return this.subset(Int32Array.from({ length: n }, (_, i) => i), `${this.name} (first ${n})`);
  }

  /** All examples in a seeded random order. */
  shuffle(seed = 0): Dataset {
    checkSeed('Dataset.shuffle', 'seed', seed);
    return this.subset(permutation(this.size, seed), this.name);
  }

  /**
   * Splits into two datasets, `fraction` of each class in the first (stratified, seeded).
   *
   * @example
   * ```ts
   * const [train, val] = data.split(0.8, {seed: 1});
   * ```
   */
  split(fraction: number, options: { seed?: number } = {}): [Dataset, Dataset] {
    const fn = 'Dataset.split';
    checkNumber(fn, 'fraction', fraction, 0, 1);
    const seed = checkSeed(fn, 'options.seed', options.seed ?? 0);
    const byClass = this.indicesByClass(seed);
    const a: number[] = [];
    const b: number[] = [];
    byClass.forEach((idx) => {
      const k = Math.round(idx.length * fraction);
      a.push(...idx.slice(0, k));
      b.push(...idx.slice(k));
    });
    if (a.length === 0 || b.length === 0) fail(fn, 'fraction', `${fraction} leaves one side empty (${this.size} examples)`);
    return [this.subset(interleave(a, seed), `${this.name} (${Math.round(fraction * 100)}%)`), this.subset(interleave(b, seed + 1), `${this.name} (${Math.round((1 - fraction) * 100)}%)`)];
  }

  /**
   * A scarce labelled set for the target domain: `perClass` examples of every class (seeded),
   * and the rest (for evaluation). Throws if a class has fewer examples.
   *
   * @example
   * ```ts
   * const {labelled, rest} = target.fewShot(10, {seed: 0}); // 10 labels per class
   * ```
   */
  fewShot(perClass: number, options: { seed?: number } = {}): { labelled: Dataset; rest: Dataset } {
    const fn = 'Dataset.fewShot';
    checkInteger(fn, 'perClass', perClass, 1);
    const seed = checkSeed(fn, 'options.seed', options.seed ?? 0);
    const byClass = this.indicesByClass(seed);
    const a: number[] = [];
    const b: number[] = [];
    byClass.forEach((idx, c) => {
      if (idx.length < perClass) fail(fn, 'perClass', `${perClass} exceeds the ${idx.length} examples of class '${this.classes[c]}'`);
      a.push(...idx.slice(0, perClass));
      b.push(...idx.slice(perClass));
    });
    if (b.length === 0) fail(fn, 'perClass', `${perClass} leaves no examples outside the labelled set`);
    return { labelled: this.subset(interleave(a, seed), `${this.name} (${perClass} per class)`), rest: this.subset(interleave(b, seed + 1), `${this.name} (rest)`) };
  }

  /** A new dataset with images transformed by `f` (same labels), e.g. `d.map((x) => tl.blockShuffle(x, 4))`. */
  map(f: (x: tf.Tensor4D) => tf.Tensor4D, name = `${this.name} (mapped)`): Dataset {
    const fn = 'Dataset.map';
    this.checkAlive(fn);
    if (typeof f !== 'function') fail(fn, 'f', `must be a function from images to images, got ${formatValue(f)}`);
    const x = tf.tidy(() => f(this.x));
    const out = checkImages(fn, 'f(x)', x);
    if (out.shape[0] !== this.size) {
      x.dispose();
      throw new ShapeMismatchError(fn, 'f(x)', `has ${out.shape[0]} images, expected ${this.size}`);
    }
    return new Dataset(name, out, tf.clone(this.y), this.classes, this.labels);
  }

  /** Shows the first `count` images of each class. */
  async preview(count = 8): Promise<ImagesResult> {
    const fn = 'Dataset.preview';
    this.checkAlive(fn);
    checkInteger(fn, 'count', count, 1, 64);
    const rows = this.indicesByClass(undefined).map((idx, c) => ({ label: this.classes[c]!, idx: idx.slice(0, count) })).filter((r) => r.idx.length > 0);
    const tensors = rows.map((r) => tf.tidy(() => tf.gather(this.x, tf.tensor1d(r.idx, 'int32')) as tf.Tensor4D));
    try {
      return await showImages(
        rows.map((r, i) => ({ label: r.label, images: tensors[i]! })),
        { title: this.name, count },
      );
    } finally {
      tf.dispose(tensors);
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.x.dispose();
    this.y.dispose();
  }

  toString(): string {
    if (this.disposed) return `${this.name} (disposed)`;
    const [h, w, c] = this.imageShape;
    const counts = this.counts();
    const shown = this.classes.length <= 12 ? this.classes.map((k, i) => `${k}: ${counts[i]}`).join(', ') : `${this.classes.length} classes`;
    return `${this.name}: ${this.size} images ${h}×${w}×${c} (${shown})`;
  }

  [DISPLAY](): Record<string, unknown> {
    return { 'text/plain': this.toString() };
  }

  /** Indices of each class; in a seeded random order when `seed` is given. */
  private indicesByClass(seed: number | undefined): number[][] {
    const order = seed === undefined ? Int32Array.from({ length: this.size }, (_, i) => i) : permutation(this.size, seed);
    const by: number[][] = this.classes.map(() => []);
    for (const i of order) by[this.labels[i]!]!.push(i);
    return by;
  }

  private checkAlive(fn: string): void {
    if (this.disposed) fail(fn, 'this', 'is a disposed dataset');
  }
}

/** A seeded shuffle of a list of indices (so that classes are interleaved). */
function interleave(idx: number[], seed: number): Int32Array {
  const p = permutation(idx.length, seed);
  return p.map((i) => idx[i]!);
}
