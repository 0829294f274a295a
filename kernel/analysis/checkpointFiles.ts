/**
 * Checkpoints: snapshots of a model's weights (and BatchNorm statistics) at a point of training,
 * in memory and on disk.
 *
 * On disk a checkpoint (or saved model) is a folder with
 * - `manifest.json`: format and version, architecture and its config, label, epoch, and for every
 *   tensor its name, shape and byte offset;
 * - `weights.bin`: the tensors as little-endian float32, concatenated in manifest order;
 * - `model.json`: the same weights as TensorFlow.js sees them (a `weightsManifest` naming
 *   weights.bin) with the equivalent tf.layers topology (./layersExport.ts; a wrapped tf.layers
 *   model's own), so the folder opens with `tf.loadLayersModel` in any tfjs program. A ResNet
 *   without normalisation has no tf.layers equivalent: its model.json has the weights only
 *   (`format: 'transferlab-weights'`, `modelTopology: null`).
 *
 * A model wrapped by `tl.fromLayersModel` is saved with its topology (model.json) and its module
 * grouping (manifest.json `layers`), and loads back as such a model.
 */
import { mkdir, readFile, writeFile, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { tf } from './tfjs';
import { DISPLAY } from './display';
import type { Model, NamedWeights } from './modelContract';
import * as tfjs from '@tensorflow/tfjs';
import { isNetModel, modelFromConfig, type ModelConfig } from './netModel';
import { CheckpointError } from './errors';
import { checkKeys, checkObject, formatValue, fail } from './validate';
import { fromLayersModel, LayersModelAdapter, type LayerSelector, type LayersModelLayout } from './layersModel';
import { fromGraphModel } from './graphModel';
import { hasLayersEquivalent, layersGraphOf, tfjsWeightName } from './layersExport';
import { isGraphModelArtifacts, isUrl, readModelArtifacts } from './modelFiles';

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
    /** Whether `template` belongs to this checkpoint (loaded with it) and goes with `dispose()`. */
    private readonly ownsTemplate = false,
  ) {}

  /** The model this checkpoint rebuilds from when it has no config (a wrapped tf.layers model), if alive. */
  get templateModel(): Model | undefined {
    return this.template && !(this.template as { isDisposed?: boolean }).isDisposed ? this.template : undefined;
  }

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
    try {
      m.setWeights(this.weights);
    } catch (e) {
      m.dispose();
      throw e;
    }
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
    if (this.ownsTemplate) this.template?.dispose();
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
  /** Absent for wrapped tf.layers models, which have `layers` instead. */
  readonly config?: ModelConfig;
  /** A wrapped tf.layers model: module grouping, head, input shape (the topology is in model.json). */
  readonly layers?: LayersModelLayout;
  readonly created: string;
  readonly weightsFile: string;
  readonly byteLength: number;
  readonly weights: TensorEntry[];
  readonly buffers: TensorEntry[];
  /** A wrapped tf.layers model's weights that are neither parameters nor buffers (e.g. a frozen layer's). */
  readonly fixed?: TensorEntry[];
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
  const layersTemplate = checkpoint.templateModel instanceof LayersModelAdapter ? checkpoint.templateModel : undefined;
  if (!checkpoint.config && !layersTemplate) {
    throw new CheckpointError(fn, dir, `model ${checkpoint.arch} has no config and no live tf.layers model; only models from tl.resnet, tl.cnn and tl.fromLayersModel can be saved`);
  }
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
  const [buffers, afterBuffers] = entries(checkpoint.buffers, mid);
  // A wrapped model's weights that are neither parameters nor buffers, as the model holds them now.
  const fixedValues: NamedWeights = layersTemplate ? layersTemplate.getFixedWeights() : new Map();
  const [fixed, end] = entries(fixedValues, afterBuffers);
  const bin = new Float32Array(end / 4);
  try {
    for (const [list, map] of [[weights, checkpoint.weights], [buffers, checkpoint.buffers], [fixed, fixedValues]] as const) {
      for (const e of list) bin.set(await map.get(e.name)!.data(), e.offset / 4);
    }
  } finally {
    tf.dispose([...fixedValues.values()]);
  }
  const manifest: Manifest = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    label: checkpoint.label,
    epoch: checkpoint.epoch,
    arch: checkpoint.arch,
    inputShape: [...checkpoint.inputShape] as [number, number, number],
    numClasses: checkpoint.numClasses,
    ...(checkpoint.config ? { config: checkpoint.config } : {}),
    ...(layersTemplate ? { layers: layersTemplate.layout } : {}),
    ...(fixed.length > 0 ? { fixed } : {}),
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
    await writeFile(path.join(dir, 'model.json.tmp'), `${JSON.stringify(tfjsModelJson(checkpoint, layersTemplate, [...weights, ...buffers, ...fixed]))}\n`);
    await rename(path.join(dir, 'model.json.tmp'), path.join(dir, 'model.json'));
    await writeFile(path.join(dir, 'manifest.json.tmp'), `${JSON.stringify(manifest, null, 1)}\n`);
    await rename(path.join(dir, 'manifest.json.tmp'), path.join(dir, 'manifest.json'));
  } catch (e) {
    throw new CheckpointError(fn, dir, `cannot be written: ${(e as Error).message}`, { cause: e });
  }
  checkpoint.path = dir;
  return dir;
}

/**
 * TensorFlow.js's model.json for a checkpoint's weights.bin: the weights in file order under their
 * tfjs names, and the tf.layers topology (a wrapped model's own, or the equivalent of a tl.cnn /
 * tl.resnet), so that `tf.loadLayersModel` opens the folder.
 */
function tfjsModelJson(checkpoint: Checkpoint, layers: LayersModelAdapter | undefined, entries: readonly TensorEntry[]): Record<string, unknown> {
  let topology: unknown = null;
  let nameOf = tfjsWeightName;
  if (layers) {
    topology = layers.layersModel.toJSON(null, false);
    nameOf = (n) => layers.tfjsNameOf(n) ?? n;
  } else if (checkpoint.config && hasLayersEquivalent(checkpoint.config)) {
    const lm = layersGraphOf(checkpoint.config, 'tl.saveCheckpoint');
    try {
      topology = lm.toJSON(null, false);
    } finally {
      lm.dispose();
    }
  }
  return {
    format: topology ? 'layers-model' : 'transferlab-weights',
    generatedBy: `TransferLab (TensorFlow.js ${tfjs.version_layers})`,
    convertedBy: null,
    modelTopology: topology,
    weightsManifest: [{ paths: ['weights.bin'], weights: entries.map((e) => ({ name: nameOf(e.name), shape: e.shape, dtype: 'float32' })) }],
    userDefinedMetadata: { transferlab: { label: checkpoint.label, epoch: checkpoint.epoch, arch: checkpoint.arch } },
  };
}

/** The wrapped tf.layers model a `layers` checkpoint rebuilds from: model.json's topology, weights from the checkpoint. */
async function layersTemplate(fn: string, dir: string, layout: LayersModelLayout): Promise<LayersModelAdapter> {
  let topology: unknown;
  try {
    topology = (JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')) as { modelTopology?: unknown }).modelTopology;
  } catch (e) {
    throw new CheckpointError(fn, path.join(dir, 'model.json'), `is missing or unreadable (a saved tf.layers model keeps its topology there): ${(e as Error).message}`, { cause: e });
  }
  let lm: tfjs.LayersModel;
  try {
    lm = await tfjs.models.modelFromJSON({ modelTopology: topology } as Parameters<typeof tfjs.models.modelFromJSON>[0]);
  } catch (e) {
    throw new CheckpointError(fn, path.join(dir, 'model.json'), `holds a topology tf.layers cannot build: ${(e as Error).message}`, { cause: e });
  }
  try {
    return fromLayersModel(lm, { modules: layout.modules, head: layout.head, inputShape: layout.inputShape });
  } catch (e) {
    lm.dispose();
    throw e;
  }
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
  if (!manifest.config && !manifest.layers) throw new CheckpointError(fn, dir, 'manifest.json has neither a config nor a tf.layers layout: nothing to rebuild the model from');
  const template = manifest.config ? undefined : await layersTemplate(fn, dir, manifest.layers!);
  let weights: NamedWeights;
  let buffers: NamedWeights;
  try {
    if (template && manifest.fixed) {
      const fixed = read(manifest.fixed);
      try {
        template.setFixedWeights(fixed);
      } finally {
        tf.dispose([...fixed.values()]);
      }
    }
    weights = read(manifest.weights);
    buffers = read(manifest.buffers);
  } catch (e) {
    template?.dispose();
    throw e;
  }
  const ckpt = new Checkpoint(manifest.label, manifest.epoch, manifest.arch, manifest.inputShape, manifest.numClasses, manifest.config, weights, buffers, template, dir, template !== undefined);
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
 * Saves a model (built with tl.resnet, tl.cnn or tl.fromLayersModel) to folder `dir`: TransferLab's
 * manifest.json + weights.bin, and a TensorFlow.js model.json naming the same weights.bin, so
 * `tf.loadLayersModel` opens the folder too (a tl.resnet with `norm: 'none'` excepted: weights only).
 *
 * @example
 * ```ts
 * await tl.saveModel(model, 'models/source');
 * const again = await tl.loadModel('models/source');
 * ```
 */
export async function saveModel(model: Model, dir: string, options: { label?: string; epoch?: number } = {}): Promise<string> {
  const fn = 'tl.saveModel';
  if (!isNetModel(model) && !(model instanceof LayersModelAdapter)) fail(fn, 'model', `must be a model from tl.resnet, tl.cnn or tl.fromLayersModel, got ${formatValue(model)}`);
  if (model.isDisposed) fail(fn, 'model', 'is a disposed model');
  const ckpt = Checkpoint.of(model, options.epoch ?? 0, options.label ?? model.arch);
  try {
    return await saveCheckpoint(ckpt, dir);
  } finally {
    ckpt.dispose();
  }
}

/** Options of {@link loadModel} for TensorFlow.js models (see `tl.fromLayersModel`, `tl.fromGraphModel`). */
export interface LoadModelOptions {
  /**
   * Modules: for a layers model, groups of layers (RegExp on names, names, predicate); for a graph
   * model, graph node names. Default: every layer with weights (layers), the logits node (graph).
   */
  readonly modules?: Readonly<Record<string, LayerSelector>>;
  /** Layers model: the classifier layer P-T re-initialises. */
  readonly head?: string;
  /** Graph model: the node giving the class scores. */
  readonly logits?: string;
  /** [H, W, C] when the model's input leaves them open. */
  readonly inputShape?: readonly [number, number, number];
}

/**
 * Loads a model: a folder saved by {@link saveModel} / {@link saveCheckpoint} (it holds
 * manifest.json), or TensorFlow.js files (model.json + weight shards) from a folder, a model.json
 * path or an http(s) URL. A layers model comes back wrapped by `tl.fromLayersModel`, a graph model
 * (tfjs-converter's `graph-model`) by `tl.fromGraphModel` (activations only: CKA, evaluation);
 * `options` go to them. Errors name the file at fault (a malformed model.json, a missing shard).
 *
 * @example
 * ```ts
 * const mine = await tl.loadModel('models/source');                  // saved by tl.saveModel
 * const keras = await tl.loadModel('exports/resnet/', {modules: {conv2: /^conv2_/, conv3: /^conv3_/}});
 * const remote = await tl.loadModel('https://example.org/models/cnn/model.json');
 * ```
 */
export async function loadModel(source: string, options: LoadModelOptions = {}): Promise<Model> {
  const fn = 'tl.loadModel';
  if (typeof source !== 'string' || source === '') fail(fn, 'source', `must be a folder, a model.json path or an http(s) URL, got ${formatValue(source)}`);
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, ['modules', 'head', 'logits', 'inputShape']);
  if (!isUrl(source) && (await isCheckpointFolder(source))) {
    const ckpt = await loadCheckpoint(source);
    let m: Model;
    try {
      m = ckpt.toModel();
    } finally {
      ckpt.dispose();
    }
    if (Object.keys(o).length === 0) return m;
    if (m instanceof LayersModelAdapter) return fromLayersModel(m, { ...(options.modules ? { modules: options.modules } : {}), ...(options.head ? { head: options.head } : {}) });
    m.dispose();
    return fail(fn, 'options', `apply to TensorFlow.js models; ${source} holds a TransferLab ${m.arch} model with its own modules`);
  }
  const artifacts = await readModelArtifacts(source, fn);
  const file = isUrl(source) || source.endsWith('.json') ? source : path.join(source, 'model.json');
  if (isGraphModelArtifacts(artifacts)) {
    if (options.head !== undefined) fail(fn, 'options.head', 'applies to layers models; a graph model cannot be fine-tuned');
    let g: tfjs.GraphModel;
    try {
      g = await tfjs.loadGraphModel(tfjs.io.fromMemory(artifacts));
    } catch (e) {
      throw new CheckpointError(fn, file, `is a graph model TensorFlow.js cannot load: ${(e as Error).message}`, { cause: e });
    }
    try {
      return fromGraphModel(g, { ...(options.modules ? { modules: options.modules as Record<string, string> } : {}), ...(options.logits ? { logits: options.logits } : {}), ...(options.inputShape ? { inputShape: options.inputShape } : {}) });
    } catch (e) {
      g.dispose();
      throw e;
    }
  }
  if (options.logits !== undefined) fail(fn, 'options.logits', 'applies to graph models; for a layers model the logits are its output (before a final softmax)');
  let lm: tfjs.LayersModel;
  try {
    lm = await tfjs.loadLayersModel(tfjs.io.fromMemory(artifacts));
  } catch (e) {
    throw new CheckpointError(fn, file, `cannot be loaded as a tf.layers model: ${(e as Error).message}`, { cause: e });
  }
  try {
    return fromLayersModel(lm, { ...(options.modules ? { modules: options.modules } : {}), ...(options.head ? { head: options.head } : {}), ...(options.inputShape ? { inputShape: options.inputShape } : {}) });
  } catch (e) {
    lm.dispose();
    throw e;
  }
}

async function isCheckpointFolder(source: string): Promise<boolean> {
  try {
    return (await stat(path.join(source, 'manifest.json'))).isFile();
  } catch {
    return false;
  }
}
