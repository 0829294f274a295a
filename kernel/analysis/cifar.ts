/**
 * CIFAR-10 and CIFAR-100 from their official binary files, at any path the user gives (no
 * download at run time): `tl.data.cifar10`, `tl.data.cifar100`.
 *
 * The binary layout (https://www.cs.toronto.edu/~kriz/cifar.html): records one after another,
 * CIFAR-10 `<label byte><3072 pixel bytes>`, CIFAR-100 `<coarse label byte><fine label byte><3072
 * pixel bytes>`; the pixels are the red, then green, then blue 32×32 planes, rows top to bottom.
 * Files may be gzip-compressed. Images become NHWC float32 in [0, 1].
 */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { tf } from './tfjs';
import { Dataset } from './dataset';
import { DatasetError } from './errors';
import { permutation } from './random';
import { checkInteger, checkKeys, checkObject, checkOneOf, checkSeed, fail, formatValue } from './validate';

export const CIFAR10_CLASSES: readonly string[] = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

export const CIFAR100_COARSE_CLASSES: readonly string[] = [
  'aquatic_mammals', 'fish', 'flowers', 'food_containers', 'fruit_and_vegetables', 'household_electrical_devices', 'household_furniture', 'insects',
  'large_carnivores', 'large_man-made_outdoor_things', 'large_natural_outdoor_scenes', 'large_omnivores_and_herbivores', 'medium_mammals',
  'non-insect_invertebrates', 'people', 'reptiles', 'small_mammals', 'trees', 'vehicles_1', 'vehicles_2',
];

export const CIFAR100_FINE_CLASSES: readonly string[] = [
  'apple', 'aquarium_fish', 'baby', 'bear', 'beaver', 'bed', 'bee', 'beetle', 'bicycle', 'bottle', 'bowl', 'boy', 'bridge', 'bus', 'butterfly', 'camel',
  'can', 'castle', 'caterpillar', 'cattle', 'chair', 'chimpanzee', 'clock', 'cloud', 'cockroach', 'couch', 'crab', 'crocodile', 'cup', 'dinosaur',
  'dolphin', 'elephant', 'flatfish', 'forest', 'fox', 'girl', 'hamster', 'house', 'kangaroo', 'keyboard', 'lamp', 'lawn_mower', 'leopard', 'lion',
  'lizard', 'lobster', 'man', 'maple_tree', 'motorcycle', 'mountain', 'mouse', 'mushroom', 'oak_tree', 'orange', 'orchid', 'otter', 'palm_tree',
  'pear', 'pickup_truck', 'pine_tree', 'plain', 'plate', 'poppy', 'porcupine', 'possum', 'rabbit', 'raccoon', 'ray', 'road', 'rocket', 'rose', 'sea',
  'seal', 'shark', 'shrew', 'skunk', 'skyscraper', 'snail', 'snake', 'spider', 'squirrel', 'streetcar', 'sunflower', 'sweet_pepper', 'table',
  'tank', 'telephone', 'television', 'tiger', 'tractor', 'train', 'trout', 'tulip', 'turtle', 'wardrobe', 'whale', 'willow_tree', 'wolf', 'woman',
  'worm',
];

const PIXELS = 32 * 32 * 3;

export interface CifarOptions {
  /**
   * Folder of the binary files: `cifar-10-batches-bin` (data_batch_1.bin … data_batch_5.bin,
   * test_batch.bin) or `cifar-100-binary` (train.bin, test.bin), or the folder holding it.
   */
  readonly dir?: string;
  /** The binary files themselves, read in this order (instead of `dir` and `split`). */
  readonly files?: readonly string[];
  /** With `dir`: 'train' (default) or 'test'. */
  readonly split?: 'train' | 'test';
  /** At most this many examples (a seeded random subset). */
  readonly limit?: number;
  /** Order and subset seed, default 0. */
  readonly seed?: number;
  readonly name?: string;
}

export interface Cifar100Options extends CifarOptions {
  /** 'fine' (100 classes, default) or 'coarse' (20 superclasses). */
  readonly labels?: 'fine' | 'coarse';
}

async function readBinary(fn: string, file: string): Promise<Buffer> {
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DatasetError(fn, file, code === 'ENOENT' ? 'no such file' : `cannot be read (${code ?? (e as Error).message})`, { cause: e });
  }
  if (buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      return gunzipSync(buf);
    } catch (e) {
      throw new DatasetError(fn, file, `is not a valid gzip file: ${(e as Error).message}`, { cause: e });
    }
  }
  return buf;
}

async function findFiles(fn: string, dir: string, names: readonly string[], sub: string): Promise<{ dir: string; files: string[] }> {
  let listing: string[];
  try {
    listing = await readdir(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DatasetError(fn, dir, code === 'ENOENT' ? 'no such folder' : code === 'ENOTDIR' ? 'is not a folder' : `cannot be read (${code})`, { cause: e });
  }
  if (!names.some((n) => listing.includes(n) || listing.includes(`${n}.gz`)) && listing.includes(sub)) return findFiles(fn, path.join(dir, sub), names, sub);
  const files = names.map((n) => (listing.includes(n) ? n : listing.includes(`${n}.gz`) ? `${n}.gz` : undefined));
  const missing = names.filter((_, i) => files[i] === undefined);
  if (missing.length > 0) throw new DatasetError(fn, dir, `has no ${missing.join(', ')} (the official binary files${sub ? `, or a ${sub} folder holding them` : ''})`);
  return { dir, files: files.map((f) => path.join(dir, f!)) };
}

async function classNames(dir: string | undefined, file: string, fallback: readonly string[]): Promise<readonly string[]> {
  if (dir === undefined) return fallback;
  try {
    const names = (await readFile(path.join(dir, file), 'utf8')).split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
    return names.length === fallback.length ? names : fallback;
  } catch {
    return fallback;
  }
}

interface Parsed {
  readonly file: string;
  readonly buf: Buffer;
  readonly records: number;
}

/** Checks one file's length and labels; names the file and the byte offset of what is wrong. */
function parse(fn: string, file: string, buf: Buffer, labelBytes: number, numClasses: readonly number[], what: string): Parsed {
  const rec = labelBytes + PIXELS;
  if (buf.length === 0) throw new DatasetError(fn, file, `is empty (expected ${what} records of ${rec} bytes)`);
  if (buf.length % rec !== 0) {
    const at = Math.floor(buf.length / rec) * rec;
    throw new DatasetError(fn, file, `is ${buf.length} bytes, not a whole number of ${rec}-byte records (${what}): the record at byte offset ${at} is cut short after ${buf.length - at} bytes`);
  }
  const records = buf.length / rec;
  for (let r = 0; r < records; r++) {
    for (let k = 0; k < labelBytes; k++) {
      const v = buf[r * rec + k]!;
      if (v >= numClasses[k]!) throw new DatasetError(fn, file, `has label ${v} at byte offset ${r * rec + k} (record ${r}); ${what} labels${labelBytes > 1 ? ` in byte ${k + 1}` : ''} are 0–${numClasses[k]! - 1}`);
    }
  }
  return { file, buf, records };
}

async function load(fn: string, options: unknown, variant: 'cifar10' | 'cifar100'): Promise<Dataset> {
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, ['dir', 'files', 'split', 'limit', 'seed', 'name', ...(variant === 'cifar100' ? ['labels'] : [])]);
  const split = checkOneOf(fn, 'options.split', o['split'] ?? 'train', ['train', 'test'] as const);
  const limit = o['limit'] === undefined ? undefined : checkInteger(fn, 'options.limit', o['limit'], 1);
  const seed = checkSeed(fn, 'options.seed', o['seed'] ?? 0);
  const fine = variant === 'cifar100' ? checkOneOf(fn, 'options.labels', o['labels'] ?? 'fine', ['fine', 'coarse'] as const) === 'fine' : false;
  if (o['name'] !== undefined && typeof o['name'] !== 'string') fail(fn, 'options.name', `must be a string, got ${formatValue(o['name'])}`);
  let files: string[];
  let dir: string | undefined;
  if (o['files'] !== undefined) {
    if (o['dir'] !== undefined) fail(fn, 'options', 'takes either dir or files, not both');
    const f = o['files'];
    if (!Array.isArray(f) || f.length === 0 || !f.every((p) => typeof p === 'string')) fail(fn, 'options.files', `must be a non-empty list of file paths, got ${formatValue(f)}`);
    files = f as string[];
  } else {
    if (typeof o['dir'] !== 'string') fail(fn, 'options.dir', `must be a folder path (or give options.files), got ${formatValue(o['dir'])}`);
    const names = variant === 'cifar10' ? (split === 'train' ? [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`) : ['test_batch.bin']) : [`${split}.bin`];
    ({ dir, files } = await findFiles(fn, o['dir'], names, variant === 'cifar10' ? 'cifar-10-batches-bin' : 'cifar-100-binary'));
  }
  const labelBytes = variant === 'cifar10' ? 1 : 2;
  const what = variant === 'cifar10' ? 'CIFAR-10: 1 label byte + 3072 pixel bytes' : 'CIFAR-100: coarse and fine label bytes + 3072 pixel bytes';
  const counts = variant === 'cifar10' ? [10] : [20, 100];
  const parsed: Parsed[] = [];
  for (const file of files) parsed.push(parse(fn, file, await readBinary(fn, file), labelBytes, counts, what));
  const classes =
    variant === 'cifar10'
      ? await classNames(dir, 'batches.meta.txt', CIFAR10_CLASSES)
      : fine
        ? await classNames(dir, 'fine_label_names.txt', CIFAR100_FINE_CLASSES)
        : await classNames(dir, 'coarse_label_names.txt', CIFAR100_COARSE_CLASSES);
  const total = parsed.reduce((s, p) => s + p.records, 0);
  const order = permutation(total, seed);
  const chosen = limit === undefined || limit >= total ? order : order.slice(0, limit);
  const n = chosen.length;
  const rec = labelBytes + PIXELS;
  const starts: number[] = [];
  parsed.reduce((s, p) => (starts.push(s), s + p.records), 0);
  const px = new Float32Array(n * PIXELS);
  const labels = new Int32Array(n);
  const plane = 32 * 32;
  chosen.forEach((g, i) => {
    let f = parsed.length - 1;
    while (starts[f]! > g) f--;
    const { buf } = parsed[f]!;
    const base = (g - starts[f]!) * rec;
    labels[i] = buf[base + (fine ? 1 : 0)]!;
    const out = i * PIXELS;
    for (let p = 0; p < plane; p++) {
      px[out + p * 3] = buf[base + labelBytes + p]! / 255;
      px[out + p * 3 + 1] = buf[base + labelBytes + plane + p]! / 255;
      px[out + p * 3 + 2] = buf[base + labelBytes + 2 * plane + p]! / 255;
    }
  });
  const base = (o['name'] as string | undefined) ?? (variant === 'cifar10' ? `CIFAR-10 ${o['files'] ? path.basename(files[0]!) : split}` : `CIFAR-100 ${o['files'] ? path.basename(files[0]!) : split}${fine ? '' : ' (coarse)'}`);
  const x = tf.tensor4d(px, [n, 32, 32, 3]);
  const y = tf.tensor1d(labels, 'int32');
  return new Dataset(n === total ? base : `${base} (${n})`, x, y, classes, labels);
}

/**
 * CIFAR-10 (32×32×3, 10 classes) from the official binary files (`cifar-10-binary.tar.gz`,
 * unpacked), found in `dir` by split or given as `files`; gzip-compressed files are read too.
 *
 * @example
 * ```ts
 * const train = await tl.data.cifar10({dir: 'data/cifar-10-batches-bin', split: 'train', limit: 5000});
 * const test = await tl.data.cifar10({files: ['data/cifar-10-batches-bin/test_batch.bin']});
 * ```
 */
export async function cifar10(options: CifarOptions): Promise<Dataset> {
  return load('tl.data.cifar10', options, 'cifar10');
}

/**
 * CIFAR-100 (32×32×3) from the official binary files (`cifar-100-binary.tar.gz`, unpacked):
 * `labels: 'fine'` (100 classes, default) or `'coarse'` (20 superclasses).
 *
 * @example
 * ```ts
 * const fine = await tl.data.cifar100({dir: 'data/cifar-100-binary', split: 'test'});
 * const coarse = await tl.data.cifar100({dir: 'data/cifar-100-binary', split: 'test', labels: 'coarse'});
 * ```
 */
export async function cifar100(options: Cifar100Options): Promise<Dataset> {
  return load('tl.data.cifar100', options, 'cifar100');
}
