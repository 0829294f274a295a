/**
 * The labelled image set every `tl` function takes: images NHWC float32 in [0, 1], integer labels,
 * class names. Loaders live in ./data.ts; this module has the type, its checks and subsets.
 */
import { tf } from './tfjs';
import { ShapeMismatchError } from './errors';
import { describe, fail, shapeStr } from './validate';

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
  if (data === null || typeof data !== 'object') fail(fn, arg, `must be a data set {x, y} (e.g. from tl.data.mnist()), got ${describe(data)}`);
  const d = data as Record<string, unknown>;
  const x = d['x'];
  const y = d['y'];
  if (!(x instanceof tf.Tensor) || x.rank !== 4) fail(fn, `${arg}.x`, `must be images [N, H, W, C], got ${describe(x)}`);
  if (x.isDisposed) fail(fn, `${arg}.x`, 'is a disposed tensor');
  if (x.dtype !== 'float32') fail(fn, `${arg}.x`, `must be float32, got ${x.dtype}`);
  if (!(y instanceof tf.Tensor) || (y.rank !== 1 && y.rank !== 2)) fail(fn, `${arg}.y`, `must be labels [N] or one-hot [N, K], got ${describe(y)}`);
  if (y.isDisposed) fail(fn, `${arg}.y`, 'is a disposed tensor');
  if (y.shape[0] !== x.shape[0]) {
    throw new ShapeMismatchError(fn, arg, `has ${x.shape[0]} images (x ${shapeStr(x.shape)}) but ${y.shape[0]} labels (y ${shapeStr(y.shape)})`);
  }
  if (x.shape[0] === 0) fail(fn, arg, 'is empty');
  const classes = d['classes'];
  let numClasses: number | undefined;
  if (classes !== undefined) {
    if (!Array.isArray(classes)) fail(fn, `${arg}.classes`, `must be an array of class names, got ${describe(classes)}`);
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
