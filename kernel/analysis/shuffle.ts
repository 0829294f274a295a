/**
 * Block and pixel shuffling (PAPER.md §1): destroy visual features while keeping low-level
 * statistics. Each image is cut into non-overlapping b×b blocks (all channels together) and the
 * blocks are permuted with ONE fixed permutation per seed, the same for every image (train and
 * test alike). Pixel shuffle permutes all C·H·W entries with one fixed permutation.
 *
 * The permutation is a seeded Fisher–Yates shuffle (./random.ts); the official code draws it with
 * numpy from `seed + 1234`, so the permutations themselves differ, the procedure does not.
 */
import { tf } from './tfjs';
import { Dataset } from './dataset';
import { InvalidArgumentError } from './errors';
import { permutation } from './random';
import { ImagesResult, showImages } from './preview';
import { checkInteger, checkKeys, checkObject, checkSeed, formatValue, fail, shapeStr } from './validate';

export interface ShuffleOptions {
  /** Seed of the permutation, default 0. Same seed, same permutation. */
  readonly seed?: number;
}

function divisors(n: number): number[] {
  const d: number[] = [];
  for (let i = 1; i <= n; i++) if (n % i === 0) d.push(i);
  return d;
}

/**
 * The pixel index map of a block shuffle: output pixel p (row-major over H×W) takes input pixel
 * map[p]. Block j of the output is block perm[j] of the input.
 */
export function blockPermutation(height: number, width: number, blockSize: number, seed = 0): Int32Array {
  const fn = 'tl.blockPermutation';
  checkInteger(fn, 'height', height, 1);
  checkInteger(fn, 'width', width, 1);
  checkBlockSize(fn, blockSize, height, width);
  checkSeed(fn, 'seed', seed);
  const b = blockSize;
  const bw = width / b;
  const nb = (height / b) * bw;
  const perm = permutation(nb, seed);
  const map = new Int32Array(height * width);
  for (let j = 0; j < nb; j++) {
    const src = perm[j]!;
    const [or, oc] = [Math.floor(j / bw) * b, (j % bw) * b];
    const [ir, ic] = [Math.floor(src / bw) * b, (src % bw) * b];
    for (let y = 0; y < b; y++) for (let x = 0; x < b; x++) map[(or + y) * width + oc + x] = (ir + y) * width + ic + x;
  }
  return map;
}

function checkBlockSize(fn: string, blockSize: unknown, h: number, w: number): number {
  if (typeof blockSize !== 'number' || !Number.isInteger(blockSize) || blockSize < 1) {
    fail(fn, 'blockSize', `must be a positive integer, got ${formatValue(blockSize)}`);
  }
  if (h % blockSize !== 0 || w % blockSize !== 0) {
    const common = divisors(h).filter((d) => w % d === 0);
    throw new InvalidArgumentError(
      fn,
      'blockSize',
      `${blockSize} does not divide the image size ${h}×${w} (${h % blockSize !== 0 ? `H = ${h}` : `W = ${w}`}); block sizes that divide both: ${common.join(', ')}`,
    );
  }
  return blockSize;
}

type Images = tf.Tensor4D | tf.Tensor3D;

function checkImageInput(fn: string, images: unknown): Images {
  if (!(images instanceof tf.Tensor)) fail(fn, 'images', `must be images [N, H, W, C] (or one image [H, W, C]) or a Dataset, got ${formatValue(images)}`);
  if (images.isDisposed) fail(fn, 'images', 'is a disposed tensor');
  if (images.rank !== 4 && images.rank !== 3) fail(fn, 'images', `must be images [N, H, W, C] or one image [H, W, C], got shape ${shapeStr(images.shape)}`);
  if (images.shape.some((d: number) => d < 1)) fail(fn, 'images', `has an empty dimension: ${shapeStr(images.shape)}`);
  return images as Images;
}

/** Applies a pixel index map (over H·W, or over H·W·C when `perEntry`) to every image. */
function applyMap(images: Images, map: Int32Array, perEntry: boolean): Images {
  return tf.tidy(() => {
    const x4 = (images.rank === 3 ? tf.expandDims(images, 0) : images) as tf.Tensor4D;
    const [n, h, w, c] = x4.shape;
    const flat = perEntry ? tf.reshape(x4, [n, h * w * c]) : tf.reshape(x4, [n, h * w, c]);
    const out = tf.reshape(tf.gather(flat, tf.tensor1d(map, 'int32'), 1), [n, h, w, c]);
    return (images.rank === 3 ? tf.squeeze(out, [0]) : out) as Images;
  });
}

/**
 * Block-shuffles images: b×b blocks permuted by one fixed permutation per seed, the same for all
 * images. `blockSize` must divide H and W; blockSize = H = W leaves images unchanged. Accepts a
 * tensor [N, H, W, C] or [H, W, C] (returns a new tensor) or a Dataset (returns a new Dataset).
 *
 * @example
 * ```ts
 * const shuffled = tl.blockShuffle(x, 7, {seed: 1});            // 16 blocks of 7×7 on 28×28
 * const target4 = tl.blockShuffle(targetTrain, 4, {seed: 1});   // a Dataset
 * ```
 */
export function blockShuffle<T extends Images | Dataset>(images: T, blockSize: number, options: ShuffleOptions = {}): T {
  const fn = 'tl.blockShuffle';
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, ['seed']);
  const seed = checkSeed(fn, 'options.seed', o['seed'] ?? 0);
  if (images instanceof Dataset) {
    const [h, w] = images.imageShape;
    checkBlockSize(fn, blockSize, h, w);
    return images.map((x) => blockShuffle(x, blockSize, { seed }), `${images.name} · block ${blockSize}`) as T;
  }
  const x = checkImageInput(fn, images);
  const [h, w] = x.rank === 4 ? [x.shape[1], x.shape[2]] : [x.shape[0], x.shape[1]];
  checkBlockSize(fn, blockSize, h, w);
  return applyMap(x, blockPermutation(h, w, blockSize, seed), false) as T;
}

/**
 * Pixel-shuffles images: one fixed permutation of all C·H·W entries per seed, the same for all
 * images. Accepts a tensor or a Dataset like {@link blockShuffle}.
 *
 * @example
 * ```ts
 * const scrambled = tl.pixelShuffle(x, {seed: 1});
 * ```
 */
export function pixelShuffle<T extends Images | Dataset>(images: T, options: ShuffleOptions = {}): T {
  const fn = 'tl.pixelShuffle';
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, ['seed']);
  const seed = checkSeed(fn, 'options.seed', o['seed'] ?? 0);
  if (images instanceof Dataset) return images.map((x) => pixelShuffle(x, { seed }), `${images.name} · pixel shuffle`) as T;
  const x = checkImageInput(fn, images);
  const size = x.shape.slice(-3).reduce((a, b) => a * b, 1);
  return applyMap(x, permutation(size, seed), true) as T;
}

export interface ShufflePreviewOptions {
  /** Block sizes to show, default: every divisor of H and W from large to 1, at most 4. */
  readonly blockSizes?: readonly number[];
  /** Add a pixel-shuffle row, default true. */
  readonly pixel?: boolean;
  readonly seed?: number;
  /** Images per row, default 6. */
  readonly count?: number;
}

/**
 * Shows images next to their block- and pixel-shuffled versions (rows: original, block b…,
 * pixel), as an images result that renders in notebooks.
 *
 * @example
 * ```ts
 * await tl.shufflePreview(train.x, {blockSizes: [14, 7, 4, 1], seed: 1});
 * ```
 */
export async function shufflePreview(images: tf.Tensor4D | Dataset, options: ShufflePreviewOptions = {}): Promise<ImagesResult> {
  const fn = 'tl.shufflePreview';
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, ['blockSizes', 'pixel', 'seed', 'count']);
  const x = images instanceof Dataset ? images.x : (checkImageInput(fn, images) as tf.Tensor4D);
  if (x.rank !== 4) fail(fn, 'images', `must be images [N, H, W, C], got shape ${shapeStr(x.shape)}`);
  const [, h, w] = x.shape;
  const seed = checkSeed(fn, 'options.seed', o['seed'] ?? 0);
  const count = checkInteger(fn, 'options.count', o['count'] ?? 6, 1, 64);
  if (o['pixel'] !== undefined && typeof o['pixel'] !== 'boolean') fail(fn, 'options.pixel', `must be a boolean, got ${formatValue(o['pixel'])}`);
  // Default: the three largest proper block sizes and 1 (28×28: 14, 7, 4, 1).
  const common = divisors(h).filter((d) => w % d === 0 && d < Math.max(h, w)).reverse();
  const sizes = (o['blockSizes'] as number[] | undefined) ?? (common.length > 4 ? [...common.slice(0, 3), 1] : common);
  if (!Array.isArray(sizes)) fail(fn, 'options.blockSizes', `must be an array of block sizes, got ${formatValue(sizes)}`);
  sizes.forEach((b, i) => checkBlockSize(`${fn} (options.blockSizes[${i}])`, b, h, w));
  const n = Math.min(count, x.shape[0]);
  const first = tf.slice(x, [0, 0, 0, 0], [n, -1, -1, -1]);
  const rows: { label: string; images: tf.Tensor4D }[] = [{ label: 'original', images: first }];
  for (const b of sizes) rows.push({ label: `block ${b}`, images: blockShuffle(first, b, { seed }) });
  if (o['pixel'] ?? true) rows.push({ label: 'pixel', images: pixelShuffle(first, { seed }) });
  try {
    return await showImages(rows, { title: `Block shuffling (seed ${seed})`, count: n });
  } finally {
    tf.dispose(rows.map((r) => r.images));
  }
}
