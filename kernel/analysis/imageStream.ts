/**
 * A folder of images streamed in batches (`tl.data.imageFolder`): files are listed once, then
 * each pass reads, decodes (PNG/JPEG) and transforms them on worker threads (./imageWorker.ts,
 * bundled as dist/imageWorker.js), a batch per job, while the caller consumes earlier batches.
 *
 * - Memory is bounded whatever the folder's size: at most `prefetch` batches are being decoded or
 *   waiting, and a batch's pixels become a tensor only when the caller asks for it.
 * - Seeded: the order of a pass is a permutation seeded by (seed, epoch), and each example's
 *   augmentation by (seed, epoch, position in the pass), so the same seed gives the same batches
 *   whatever the number of workers (`workers: 0` decodes on the main thread, identically).
 * - Clean shutdown: a pass stopped early (break, an error) terminates the workers; after a whole
 *   pass they stay for the next one and stop after a few idle seconds or on `dispose()`. They are
 *   referenced only while a batch is being decoded, so they never keep a process alive.
 */
import { Worker } from 'node:worker_threads';
import { readFileSync, existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { tf } from './tfjs';
import { Dataset } from './dataset';
import { DatasetError } from './errors';
import { DISPLAY } from './display';
import { permutation } from './random';
import type { Batch, DataStream, PassOptions } from './dataStream';
import { type Augmentation, type ImageTransform, DecodeError, decodeBytes, exampleSeed, transformExample } from './imageDecode';
import type { DecodeJob, DecodeReply } from './imageStreamProtocol';
import { checkInteger, checkKeys, checkNumber, checkObject, checkSeed, fail, formatValue } from './validate';

export interface ImageFolderOptions {
  /** Output [H, W]. Default: the size of the images, which must then all share it. */
  readonly size?: readonly [number, number];
  /** 1 (grey, luminance) or 3 (RGB). Default 3. */
  readonly channels?: 1 | 3;
  /** Examples per batch, default 32. */
  readonly batchSize?: number;
  /** A new seeded order every pass (training); default false (class by class, files by name). */
  readonly shuffle?: boolean;
  /**
   * Training augmentation: true for a random resized crop (area 8–100% of the image, aspect
   * ratio 3/4–4/3, as torchvision's RandomResizedCrop) and a horizontal flip with probability
   * ½, or those settings given. Default false: the deterministic centre crop.
   */
  readonly augment?: boolean | Partial<Augmentation>;
  /**
   * Evaluation transform: resize so that the output fits inside the image (its shorter side
   * scaled to the output's), then crop the centre keeping this fraction; default 1 (0.875 is
   * the usual 224-of-256). Ignored with `augment`.
   */
  readonly cropFraction?: number;
  /** At most this many images per class (the first by file name). */
  readonly perClass?: number;
  readonly name?: string;
  /** Seeds the order of each pass and the augmentations. Default 0. */
  readonly seed?: number;
  /** Decoding threads; 0 decodes on the main thread. Default: the cores less one, 1 to 4. */
  readonly workers?: number;
  /** Batches decoded ahead of the consumer, default twice the workers (at least 2). */
  readonly prefetch?: number;
}

const DEFAULT_AUGMENTATION: Augmentation = { scale: [0.08, 1], ratio: [3 / 4, 4 / 3], flip: 0.5 };
/** Idle workers stop after this long without a pass. */
const IDLE_MS = 5000;

interface Listed {
  readonly file: string;
  readonly label: number;
}

/** The worker's script: dist/imageWorker.js beside the bundle, or the TypeScript entry under tsx. */
export function imageWorkerScript(): { readonly file: string; readonly execArgv: string[] } {
  if (path.extname(__filename) === '.ts') return { file: path.join(__dirname, 'imageWorker.ts'), execArgv: ['--require', 'tsx/cjs'] };
  return { file: path.join(__dirname, 'imageWorker.js'), execArgv: [] };
}

/** Decoding threads; a job goes to the thread with the fewest jobs. */
class DecodePool {
  private readonly threads: { worker: Worker; jobs: Set<number> }[] = [];
  private readonly waiting = new Map<number, { resolve: (px: Float32Array) => void; reject: (e: Error) => void; thread: number }>();
  private nextId = 0;
  private closed = false;

  constructor(
    private readonly fn: string,
    count: number,
  ) {
    const { file, execArgv } = imageWorkerScript();
    if (!existsSync(file)) throw new DatasetError(fn, file, 'the image decoding worker is missing (build with `node esbuild.mjs`)');
    for (let t = 0; t < count; t++) {
      const worker = new Worker(file, { execArgv });
      worker.unref();
      worker.on('message', (r: DecodeReply) => this.settle(r));
      worker.on('error', (e) => this.failThread(t, e));
      worker.on('exit', (code) => {
        if (!this.closed) this.failThread(t, new Error(`exited with code ${code}`));
      });
      this.threads.push({ worker, jobs: new Set() });
    }
  }

  get size(): number {
    return this.threads.length;
  }

  decode(job: Omit<DecodeJob, 'id'>): Promise<Float32Array> {
    if (this.closed) return Promise.reject(new DatasetError(this.fn, job.files[0] ?? '', 'the stream was disposed'));
    const id = this.nextId++;
    let t = 0;
    for (let i = 1; i < this.threads.length; i++) if (this.threads[i]!.jobs.size < this.threads[t]!.jobs.size) t = i;
    const thread = this.threads[t]!;
    return new Promise<Float32Array>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, thread: t });
      if (thread.jobs.size === 0) thread.worker.ref();
      thread.jobs.add(id);
      thread.worker.postMessage({ ...job, id } satisfies DecodeJob);
    });
  }

  private release(id: number): { resolve: (px: Float32Array) => void; reject: (e: Error) => void } | undefined {
    const w = this.waiting.get(id);
    if (!w) return undefined;
    this.waiting.delete(id);
    const thread = this.threads[w.thread]!;
    thread.jobs.delete(id);
    if (thread.jobs.size === 0) thread.worker.unref();
    return w;
  }

  private settle(r: DecodeReply): void {
    const w = this.release(r.id);
    if (!w) return;
    if (r.error) w.reject(new DatasetError(this.fn, r.error.file, r.error.message));
    else w.resolve(r.pixels);
  }

  private failThread(t: number, e: Error): void {
    for (const id of [...(this.threads[t]?.jobs ?? [])]) this.release(id)?.reject(new DatasetError(this.fn, imageWorkerScript().file, `decoding worker failed: ${e.message}`));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const id of [...this.waiting.keys()]) this.release(id)?.reject(new DatasetError(this.fn, '', 'the stream was stopped'));
    await Promise.all(this.threads.map((t) => t.worker.terminate()));
  }
}

/**
 * Labelled images in a folder, decoded in batches on worker threads: a {@link DataStream} that
 * `tl.train`, `tl.fineTune`, `tl.trainFromScratch`, `tl.evaluate` and `tl.cka.matrix` take as
 * data. `load()` gives a {@link Dataset} in memory for folders that fit.
 *
 * @example
 * ```ts
 * const val = await tl.data.imageFolder('data/val', {size: [32, 32], batchSize: 128});
 * val.length; val.classes; val.counts();        // examples per pass, class names, per class
 * await tl.evaluate(model, val);                 // one streamed pass
 * const first = await val.take(500).load();      // 500 of them in memory
 * await val.dispose();                           // stops the decoding workers now
 * ```
 */
export class ImageStream implements DataStream {
  readonly classes: readonly string[];
  readonly imageShape: readonly [number, number, number];
  /** Labels in the folder's order (class by class, files by name). */
  readonly labels: Int32Array;
  private pool: DecodePool | undefined;
  private idle: NodeJS.Timeout | undefined;
  private disposed = false;
  private passes = 0;

  /** @internal Made by {@link imageFolder}. */
  constructor(
    readonly name: string,
    private readonly files: readonly Listed[],
    classes: readonly string[],
    private readonly transform: ImageTransform,
    readonly batchSize: number,
    readonly shuffle: boolean,
    readonly seed: number,
    readonly workers: number,
    readonly prefetch: number,
    private readonly expect: DecodeJob['expect'],
  ) {
    this.classes = classes;
    this.imageShape = [transform.size[0], transform.size[1], transform.channels];
    this.labels = Int32Array.from(files, (f) => f.label);
  }

  /** Examples per pass. */
  get length(): number {
    return this.files.length;
  }

  /** Whether training augmentation is on. */
  get augment(): boolean {
    return this.transform.augment !== undefined;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** The files in the folder's order. */
  get paths(): string[] {
    return this.files.map((f) => f.file);
  }

  /** The order of pass `epoch`: indices into {@link paths}. */
  order(epoch = 0): Int32Array {
    checkInteger('ImageStream.order', 'epoch', epoch, 0);
    return this.shuffle ? permutation(this.length, (Math.imul(this.seed, 0x9e3779b1) ^ epoch) >>> 0) : Int32Array.from({ length: this.length }, (_, i) => i);
  }

  /**
   * The batches of one pass, decoded ahead on the worker threads. Each batch's tensors belong to
   * the caller. Breaking out of the loop stops the workers.
   *
   * @example
   * ```ts
   * const train = await tl.data.imageFolder('data/train', {size: [64, 64], batchSize: 128, shuffle: true, augment: true});
   * for await (const {x, y} of train.batches({epoch: 0})) { console.log(x.shape); tf.dispose([x, y]); }
   * ```
   */
  async *batches(options: PassOptions = {}): AsyncGenerator<Batch, void, undefined> {
    const fn = 'ImageStream.batches';
    const o = checkObject(fn, 'options', options);
    checkKeys(fn, 'options', o, ['epoch']);
    const epoch = checkInteger(fn, 'options.epoch', o['epoch'] ?? 0, 0);
    const [h, w, c] = this.imageShape;
    for await (const { pixels, labels } of this.raw(fn, epoch, this.length)) {
      const b = labels.length;
      yield { x: tf.tensor4d(pixels, [b, h, w, c]), y: tf.tensor1d(labels, 'int32') };
    }
  }

  /** Passes over the stream are async iterables too: `for await (const b of stream)` is `stream.batches()`. */
  [Symbol.asyncIterator](): AsyncGenerator<Batch, void, undefined> {
    return this.batches();
  }

  /** Pixels and labels of the batches of pass `epoch`, up to `limit` examples. */
  private async *raw(fn: string, epoch: number, limit: number): AsyncGenerator<{ pixels: Float32Array; labels: Int32Array }, void, undefined> {
    if (this.disposed) fail(fn, 'this', 'is a disposed stream');
    const order = this.order(epoch).subarray(0, limit);
    const B = this.batchSize;
    const count = Math.ceil(order.length / B);
    clearTimeout(this.idle);
    this.passes++;
    if (this.workers > 0 && !this.pool) this.pool = new DecodePool(fn, this.workers);
    const pending = new Map<number, Promise<Float32Array>>();
    let issued = 0;
    let finished = false;
    try {
      for (let b = 0; b < count; b++) {
        while (issued < count && issued < b + this.prefetch) {
          const p = this.decodeBatch(fn, order.subarray(issued * B, Math.min(order.length, (issued + 1) * B)), epoch, issued * B);
          p.catch(() => undefined); // awaited below, in order; an early stop must not leave it unhandled
          pending.set(issued++, p);
        }
        const pixels = await pending.get(b)!;
        pending.delete(b);
        const idx = order.subarray(b * B, Math.min(order.length, (b + 1) * B));
        // Nothing is pending once the last batch is handed over: stopping there is not stopping early.
        if (b === count - 1) finished = true;
        yield { pixels, labels: Int32Array.from(idx, (i) => this.labels[i]!) };
      }
    } finally {
      this.passes--;
      if (!finished) await this.stopWorkers();
      else if (this.passes === 0 && this.pool) this.idle = setTimeout(() => void this.stopWorkers(), IDLE_MS).unref();
    }
  }

  private decodeBatch(fn: string, idx: Int32Array, epoch: number, start: number): Promise<Float32Array> {
    const files = Array.from(idx, (i) => this.files[i]!.file);
    const seeds = Array.from(idx, (_, k) => exampleSeed(this.seed, epoch, start + k));
    if (this.pool) return this.pool.decode({ files, seeds, transform: this.transform, expect: this.expect });
    return this.decodeHere(fn, files, seeds);
  }

  /** `workers: 0`: the same transform on the main thread. */
  private async decodeHere(fn: string, files: string[], seeds: number[]): Promise<Float32Array> {
    const [h, w, c] = this.imageShape;
    const size = h * w * c;
    const out = new Float32Array(files.length * size);
    for (let i = 0; i < files.length; i++) {
      const file = files[i]!;
      let bytes: Buffer;
      try {
        bytes = await readFile(file);
      } catch (e) {
        throw new DatasetError(fn, file, `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cause: e });
      }
      try {
        transformExample(file, bytes, this.transform, seeds[i]!, out, i * size, this.expect);
      } catch (e) {
        if (e instanceof DecodeError) throw new DatasetError(fn, e.file, e.message, { cause: e });
        throw e;
      }
    }
    return out;
  }

  private async stopWorkers(): Promise<void> {
    clearTimeout(this.idle);
    const p = this.pool;
    this.pool = undefined;
    await p?.close();
  }

  /**
   * The first `limit` examples of pass 0 (all by default) in memory, as a {@link Dataset}: for
   * folders that fit, and for the analyses that need every example at once.
   *
   * @example
   * ```ts
   * const test = await (await tl.data.imageFolder('data/test', {size: [32, 32]})).load(1000);
   * ```
   */
  async load(limit?: number): Promise<Dataset> {
    const fn = 'ImageStream.load';
    const n = limit === undefined ? this.length : Math.min(this.length, checkInteger(fn, 'limit', limit, 1));
    const [h, w, c] = this.imageShape;
    const size = h * w * c;
    const pixels = new Float32Array(n * size);
    const labels = new Int32Array(n);
    let k = 0;
    for await (const b of this.raw(fn, 0, n)) {
      pixels.set(b.pixels, k * size);
      labels.set(b.labels, k);
      k += b.labels.length;
    }
    const x = tf.tensor4d(pixels, [n, h, w, c]);
    const y = tf.tensor1d(labels, 'int32');
    return new Dataset(n === this.length ? this.name : `${this.name} (${n})`, x, y, this.classes, labels);
  }

  /**
   * A stream of `n` examples of this one, chosen at random (seeded by `seed`, default the
   * stream's) and kept in the folder's order, with the same transform, batches and workers.
   *
   * @example
   * ```ts
   * const small = (await tl.data.imageFolder('data/val', {size: [32, 32]})).take(500);
   * ```
   */
  take(n: number, seed = this.seed): ImageStream {
    const fn = 'ImageStream.take';
    checkInteger(fn, 'n', n, 1, this.length);
    checkSeed(fn, 'seed', seed);
    const keep = permutation(this.length, seed).subarray(0, n).sort();
    const files = Array.from(keep, (i) => this.files[i]!);
    return new ImageStream(`${this.name} (${n})`, files, this.classes, this.transform, this.batchSize, this.shuffle, this.seed, this.workers, this.prefetch, this.expect);
  }

  /** Examples per class, in class order. */
  counts(): number[] {
    const c = new Array<number>(this.classes.length).fill(0);
    for (const l of this.labels) c[l]!++;
    return c;
  }

  /** Stops the decoding workers; the stream cannot be read afterwards. */
  async dispose(): Promise<void> {
    this.disposed = true;
    await this.stopWorkers();
  }

  toString(): string {
    const [h, w, c] = this.imageShape;
    const how = [`batches of ${this.batchSize}`, this.shuffle ? 'shuffled' : 'in order', this.augment ? 'augmented' : 'centre crop', this.workers > 0 ? `${this.workers} decoding workers` : 'decoded on the main thread'];
    return `${this.name}: ${this.length} images → ${h}×${w}×${c}, ${this.classes.length} classes, streamed (${how.join(', ')})${this.disposed ? ' (disposed)' : ''}`;
  }

  [DISPLAY](): Record<string, unknown> {
    return { 'text/plain': this.toString() };
  }
}

function defaultWorkers(): number {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(4, cores - 1));
}

function checkAugment(fn: string, v: unknown): Augmentation | undefined {
  if (v === undefined || v === false) return undefined;
  if (v === true) return DEFAULT_AUGMENTATION;
  const o = checkObject(fn, 'options.augment', v);
  checkKeys(fn, 'options.augment', o, ['scale', 'ratio', 'flip']);
  const range = (k: 'scale' | 'ratio', min: number, max: number): [number, number] => {
    const r = o[k] ?? DEFAULT_AUGMENTATION[k];
    if (!Array.isArray(r) || r.length !== 2 || !r.every((x) => typeof x === 'number' && x > min && x <= max) || r[0] > r[1]) {
      fail(fn, `options.augment.${k}`, `must be [low, high] with ${min} < low ≤ high ≤ ${max}, got ${formatValue(r)}`);
    }
    return [r[0], r[1]];
  };
  return { scale: range('scale', 0, 1), ratio: range('ratio', 0, 100), flip: checkNumber(fn, 'options.augment.flip', o['flip'] ?? DEFAULT_AUGMENTATION.flip, 0, 1) };
}

/**
 * A folder of images with one sub-folder per class (`root/cat/*.png`, `root/dog/*.jpg`),
 * streamed: classes are the sub-folder names in sorted order; PNG and JPEG are decoded in
 * batches on worker threads, with a bounded number of batches decoded ahead, so memory stays
 * bounded whatever the folder's size. Evaluation gets a deterministic centre crop, training
 * (`augment: true`) a random resized crop and flip, both seeded. `await stream.load()` gives
 * the whole folder (or `load(n)` the first n) as a {@link Dataset} in memory.
 *
 * @example
 * ```ts
 * const train = await tl.data.imageFolder('data/pets/train', {size: [64, 64], batchSize: 64, shuffle: true, augment: true, seed: 1});
 * const val = await tl.data.imageFolder('data/pets/val', {size: [64, 64]});
 * const model = tl.resnet({inputShape: [64, 64, 3], numClasses: train.classes.length});
 * await tl.train(model, train, {epochs: 2, validation: val});
 * const small = await val.load(500); // a Dataset, for analyses that need every example at once
 * ```
 */
export async function imageFolder(dir: string, options: ImageFolderOptions = {}): Promise<ImageStream> {
  const fn = 'tl.data.imageFolder';
  if (typeof dir !== 'string') fail(fn, 'dir', `must be a folder path, got ${formatValue(dir)}`);
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, ['size', 'channels', 'batchSize', 'shuffle', 'augment', 'cropFraction', 'perClass', 'name', 'seed', 'workers', 'prefetch']);
  if (o['channels'] !== undefined && o['channels'] !== 1 && o['channels'] !== 3) fail(fn, 'options.channels', `must be 1 or 3, got ${formatValue(o['channels'])}`);
  const channels = (o['channels'] as 1 | 3 | undefined) ?? 3;
  const perClass = o['perClass'] === undefined ? undefined : checkInteger(fn, 'options.perClass', o['perClass'], 1);
  const seed = checkSeed(fn, 'options.seed', o['seed'] ?? 0);
  const batchSize = checkInteger(fn, 'options.batchSize', o['batchSize'] ?? 32, 1);
  if (o['shuffle'] !== undefined && typeof o['shuffle'] !== 'boolean') fail(fn, 'options.shuffle', `must be a boolean, got ${formatValue(o['shuffle'])}`);
  const augment = checkAugment(fn, o['augment']);
  const cropFraction = checkNumber(fn, 'options.cropFraction', o['cropFraction'] ?? 1, 0.01, 1);
  const workers = checkInteger(fn, 'options.workers', o['workers'] ?? defaultWorkers(), 0, 64);
  const prefetch = checkInteger(fn, 'options.prefetch', o['prefetch'] ?? Math.max(2, 2 * workers), 1, 1024);
  let size: [number, number] | undefined;
  if (o['size'] !== undefined) {
    const s = o['size'];
    if (!Array.isArray(s) || s.length !== 2 || !s.every((d) => Number.isInteger(d) && d >= 1)) fail(fn, 'options.size', `must be [H, W] with positive integers, got ${formatValue(s)}`);
    size = [s[0], s[1]];
  }
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DatasetError(fn, dir, code === 'ENOENT' ? 'no such folder' : code === 'ENOTDIR' ? 'is not a folder' : `cannot be read (${code})`, { cause: e });
  }
  const classes = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  if (classes.length < 2) throw new DatasetError(fn, dir, `needs one sub-folder per class (at least 2), found ${classes.length}`);
  const files: Listed[] = [];
  for (const [label, c] of classes.entries()) {
    const names = (await readdir(path.join(dir, c))).filter((f) => /\.(png|jpe?g)$/i.test(f)).sort();
    if (names.length === 0) throw new DatasetError(fn, path.join(dir, c), 'has no .png/.jpg/.jpeg images');
    for (const f of perClass === undefined ? names : names.slice(0, perClass)) files.push({ file: path.join(dir, c, f), label });
  }
  let expect: DecodeJob['expect'];
  if (!size) {
    // Without a size, the first image sets it and every other must match (checked as decoded).
    const first = files[0]!.file;
    let img;
    try {
      img = decodeBytes(first, readFileSync(first));
    } catch (e) {
      throw new DatasetError(fn, first, e instanceof DecodeError ? e.message : `cannot be read (${(e as Error).message})`, { cause: e });
    }
    size = [img.height, img.width];
    expect = { width: img.width, height: img.height, first };
  }
  const transform: ImageTransform = { size, channels, cropFraction, ...(augment ? { augment } : {}) };
  const name = typeof o['name'] === 'string' ? o['name'] : path.basename(path.resolve(dir));
  return new ImageStream(name, files, classes, transform, batchSize, (o['shuffle'] as boolean | undefined) ?? false, seed, workers, prefetch, expect);
}
