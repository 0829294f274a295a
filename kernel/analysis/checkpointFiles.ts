/**
 * Checkpoints: snapshots of a model's weights (and BatchNorm statistics) at a point of training,
 * in memory and on disk.
 *
 * On disk a checkpoint (or saved model) is a folder with
 * - `manifest.json`: format and version, architecture and its config, label, epoch, and for every
 *   tensor its name, shape and byte offset;
 * - `weights.bin`: the tensors as little-endian float32, concatenated in manifest order.
 */
import { mkdir, readFile, writeFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { tf } from './tfjs';
import { DISPLAY } from './display';
import type { Model, NamedWeights } from './modelContract';
import { isNetModel, modelFromConfig, type ModelConfig } from './netModel';
import { CheckpointError } from './errors';
import { formatValue, fail } from './validate';

export const CHECKPOINT_FORMAT = 'transferlab-checkpoint';
export const CHECKPOINT_VERSION = 1;

/** A snapshot of a model at an epoch. Owns copies of the tensors; `dispose()` frees them. */
export class Checkpoint {
  private disposed = false;

  constructor(
    /** e.g. `pre-train` or `P-T seed 1`. */
    readonly label: string,
    /** Epochs of training completed when the snapshot was taken (0 = initialisation). */
    readonly epoch: number,
    readonly arch: string,
    readonly inputShape: readonly [number, number, number],
    readonly numClasses: number,
    /** How to rebuild the model (models from tl.resnet / tl.cnn); absent for other models. */
    readonly config: ModelConfig | undefined,
    readonly weights: NamedWeights,
    readonly buffers: NamedWeights,
    /** A model of the same architecture to clone when there is no config. */
    private readonly template?: Model,
    /** Where it was saved or loaded from, if on disk. */
    public path?: string,
  ) {}

  /** Copies the current weights and buffers of `model`. */
  static of(model: Model, epoch: number, label: string): Checkpoint {
    const buffers: NamedWeights = new Map();
    for (const [k, v] of model.buffers ?? []) buffers.set(k, tf.clone(v));
    return new Checkpoint(
      label,
      epoch,
      model.arch,
      model.inputShape,
      model.numClasses,
      isNetModel(model) ? model.config : undefined,
      model.getWeights(),
      buffers,
      isNetModel(model) ? undefined : model,
    );
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** A new model with this checkpoint's weights (caller disposes it). */
  toModel(): Model {
    if (this.disposed) fail('Checkpoint.toModel', 'this', 'is a disposed checkpoint');
    if (this.config) return modelFromConfig(this.config, { weights: this.weights, buffers: this.buffers });
    if (!this.template || (this.template as { isDisposed?: boolean }).isDisposed) {
      fail('Checkpoint.toModel', 'this', `has no config and its template model (${this.arch}) is gone; save models built with tl.resnet or tl.cnn`);
    }
    const m = this.template.clone();
    m.setWeights(this.weights);
    for (const [k, v] of m.buffers ?? []) {
      const b = this.buffers.get(k);
      if (b) v.assign(b);
    }
    return m;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    tf.dispose([...this.weights.values(), ...this.buffers.values()]);
  }

  toString(): string {
    return `checkpoint '${this.label}' at epoch ${this.epoch} (${this.arch}, ${this.weights.size} tensors${this.path ? `, ${this.path}` : ''})${this.disposed ? ' (disposed)' : ''}`;
  }

  [DISPLAY](): Record<string, unknown> {
    return { 'text/plain': this.toString() };
  }
}

interface TensorEntry {
  readonly name: string;
  readonly shape: number[];
  readonly offset: number;
}

interface Manifest {
  readonly format: typeof CHECKPOINT_FORMAT;
  readonly version: number;
  readonly label: string;
  readonly epoch: number;
  readonly arch: string;
  readonly inputShape: [number, number, number];
  readonly numClasses: number;
  readonly config: ModelConfig;
  readonly created: string;
  readonly weightsFile: string;
  readonly byteLength: number;
  readonly weights: TensorEntry[];
  readonly buffers: TensorEntry[];
}

/**
 * Writes a checkpoint to folder `dir` (created if needed; an existing checkpoint there is
 * replaced). Only models built with tl.resnet / tl.cnn can be saved (their config rebuilds them).
 */
export async function saveCheckpoint(checkpoint: Checkpoint, dir: string): Promise<string> {
  const fn = 'tl.saveCheckpoint';
  if (!(checkpoint instanceof Checkpoint)) fail(fn, 'checkpoint', `must be a Checkpoint, got ${formatValue(checkpoint)}`);
  if (checkpoint.isDisposed) fail(fn, 'checkpoint', 'is disposed');
  if (typeof dir !== 'string' || dir === '') fail(fn, 'dir', `must be a folder path, got ${formatValue(dir)}`);
  if (!checkpoint.config) throw new CheckpointError(fn, dir, `model ${checkpoint.arch} has no config; only models from tl.resnet or tl.cnn can be saved`);
  const entries = (m: NamedWeights, start: number): [TensorEntry[], number] => {
    let offset = start;
    const out: TensorEntry[] = [];
    for (const [name, t] of m) {
      out.push({ name, shape: [...t.shape], offset });
      offset += t.size * 4;
    }
    return [out, offset];
  };
  const [weights, mid] = entries(checkpoint.weights, 0);
  const [buffers, end] = entries(checkpoint.buffers, mid);
  const bin = new Float32Array(end / 4);
  for (const [list, map] of [[weights, checkpoint.weights], [buffers, checkpoint.buffers]] as const) {
    for (const e of list) bin.set(await map.get(e.name)!.data(), e.offset / 4);
  }
  const manifest: Manifest = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    label: checkpoint.label,
    epoch: checkpoint.epoch,
    arch: checkpoint.arch,
    inputShape: [...checkpoint.inputShape] as [number, number, number],
    numClasses: checkpoint.numClasses,
    config: checkpoint.config,
    created: new Date().toISOString(),
    weightsFile: 'weights.bin',
    byteLength: end,
    weights,
    buffers,
  };
  try {
    await mkdir(dir, { recursive: true });
    // Write then rename, so that a crash never leaves a manifest pointing at half a file.
    const little = new Uint8Array(bin.buffer);
    await writeFile(path.join(dir, 'weights.bin.tmp'), little);
    await rename(path.join(dir, 'weights.bin.tmp'), path.join(dir, 'weights.bin'));
    await writeFile(path.join(dir, 'manifest.json.tmp'), `${JSON.stringify(manifest, null, 1)}\n`);
    await rename(path.join(dir, 'manifest.json.tmp'), path.join(dir, 'manifest.json'));
  } catch (e) {
    throw new CheckpointError(fn, dir, `cannot be written: ${(e as Error).message}`, { cause: e });
  }
  checkpoint.path = dir;
  return dir;
}

/**
 * Reads a checkpoint written by {@link saveCheckpoint} (or {@link saveModel}).
 *
 * @example
 * ```ts
 * const ckpt = await tl.loadCheckpoint('runs/pretrain/epoch-5');
 * const model = ckpt.toModel();
 * ```
 */
export async function loadCheckpoint(dir: string): Promise<Checkpoint> {
  const fn = 'tl.loadCheckpoint';
  if (typeof dir !== 'string' || dir === '') fail(fn, 'dir', `must be a folder path, got ${formatValue(dir)}`);
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CheckpointError(fn, dir, code === 'ENOENT' ? 'has no manifest.json (not a saved checkpoint or model)' : `manifest.json is unreadable: ${(e as Error).message}`, { cause: e });
  }
  if (manifest.format !== CHECKPOINT_FORMAT) throw new CheckpointError(fn, dir, `manifest.json is not a TransferLab checkpoint (format ${JSON.stringify(manifest.format)})`);
  if (typeof manifest.version !== 'number' || manifest.version > CHECKPOINT_VERSION) {
    throw new CheckpointError(fn, dir, `has format version ${manifest.version}; this TransferLab reads up to ${CHECKPOINT_VERSION}`);
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(path.join(dir, manifest.weightsFile));
  } catch (e) {
    throw new CheckpointError(fn, dir, `${manifest.weightsFile} is missing or unreadable`, { cause: e });
  }
  if (bytes.length !== manifest.byteLength) throw new CheckpointError(fn, dir, `${manifest.weightsFile} has ${bytes.length} bytes, the manifest says ${manifest.byteLength}`);
  const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  const read = (list: TensorEntry[]): NamedWeights => {
    const m: NamedWeights = new Map();
    for (const e of list) {
      const size = e.shape.reduce((a, b) => a * b, 1);
      if (e.offset % 4 !== 0 || e.offset + size * 4 > bytes.length) throw new CheckpointError(fn, dir, `tensor '${e.name}' lies outside ${manifest.weightsFile}`);
      m.set(e.name, tf.tensor(all.subarray(e.offset / 4, e.offset / 4 + size), e.shape, 'float32'));
    }
    return m;
  };
  const weights = read(manifest.weights);
  const buffers = read(manifest.buffers);
  const ckpt = new Checkpoint(manifest.label, manifest.epoch, manifest.arch, manifest.inputShape, manifest.numClasses, manifest.config, weights, buffers, undefined, dir);
  // Fail now rather than at toModel(): the config must rebuild a model these weights fit.
  try {
    ckpt.toModel().dispose();
  } catch (e) {
    ckpt.dispose();
    throw new CheckpointError(fn, dir, `does not match its architecture: ${(e as Error).message}`, { cause: e });
  }
  return ckpt;
}

/**
 * Saves a model (built with tl.resnet or tl.cnn) to folder `dir`.
 *
 * @example
 * ```ts
 * await tl.saveModel(model, 'models/source');
 * const again = await tl.loadModel('models/source');
 * ```
 */
export async function saveModel(model: Model, dir: string, options: { label?: string; epoch?: number } = {}): Promise<string> {
  const fn = 'tl.saveModel';
  if (!isNetModel(model)) fail(fn, 'model', `must be a model from tl.resnet or tl.cnn, got ${formatValue(model)}`);
  const ckpt = Checkpoint.of(model, options.epoch ?? 0, options.label ?? model.arch);
  try {
    return await saveCheckpoint(ckpt, dir);
  } finally {
    ckpt.dispose();
  }
}

/** Loads a model saved with {@link saveModel} or {@link saveCheckpoint}. */
export async function loadModel(dir: string): Promise<Model> {
  const ckpt = await loadCheckpoint(dir);
  try {
    return ckpt.toModel();
  } finally {
    ckpt.dispose();
  }
}
