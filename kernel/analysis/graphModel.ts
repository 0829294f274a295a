/**
 * A `tf.GraphModel` (a TensorFlow SavedModel converted by tfjs-converter) as a TransferLab model for
 * the analyses that only need activations (CKA and the other similarity measures, `tl.evaluate`).
 * A graph model's weights are constants of the graph: it cannot be trained, interpolated, rewound
 * or compared in parameter space, and the methods that would need that say so.
 */
import * as tfjs from '@tensorflow/tfjs';
import { tf } from './tfjs';
import { DISPLAY } from './display';
import type { ForwardOptions, ForwardResult, Model, NamedWeights } from './modelContract';
import { InvalidArgumentError, ShapeMismatchError } from './errors';
import { checkKeys, checkObject, fail, formatValue, shapeStr } from './validate';

export interface FromGraphModelOptions {
  /** Module name → graph node name (e.g. `{block1: 'model/block1_relu/Relu'}`). Default: `{output: <the logits node>}`. */
  readonly modules?: Readonly<Record<string, string>>;
  /** The node giving the class scores. Default: the model's output, or the input of a final Softmax node. */
  readonly logits?: string;
  /** [H, W, C] when the model's input leaves them open. */
  readonly inputShape?: readonly [number, number, number];
}

interface GraphNodeDef {
  readonly name: string;
  readonly op: string;
  readonly input?: readonly string[];
}

/**
 * A graph model behind the model interface, for activations only; made by {@link fromGraphModel}.
 *
 * @example
 * ```ts
 * const g = await tl.loadModel('converted/', {modules: {conv: 'conv/Relu'}});   // a graph-model model.json
 * g.moduleNames; // ['conv']
 * ```
 */
export class GraphModelAdapter implements Model {
  readonly arch: string;
  readonly moduleNames: readonly string[];
  readonly inputShape: readonly [number, number, number];
  readonly numClasses: number;
  /** Empty: a graph model has no trainable variables. */
  readonly variables: ReadonlyMap<string, tf.Variable> = new Map();
  /** Graph node of each module. */
  readonly nodes: Readonly<Record<string, string>>;
  /** The node read as the logits. */
  readonly logitsNode: string;
  private disposed = false;

  constructor(
    readonly graphModel: tfjs.GraphModel,
    options: FromGraphModelOptions = {},
    fn = 'tl.fromGraphModel',
  ) {
    const o = checkObject(fn, 'options', options);
    checkKeys(fn, 'options', o, ['modules', 'logits', 'inputShape']);
    const inputs = graphModel.inputs;
    if (inputs.length !== 1) fail(fn, 'model', `must have one image input, got ${inputs.length}`);
    const declared = inputs[0]!.shape ?? [];
    if (declared.length !== 4) fail(fn, 'model', `must take image batches [N, H, W, C], its input has shape ${shapeStr(declared.map((d) => d ?? -1))}`);
    if (options.inputShape !== undefined) {
      const s = options.inputShape;
      if (!Array.isArray(s) || s.length !== 3 || !s.every((d) => Number.isInteger(d) && d >= 1)) fail(fn, 'options.inputShape', `must be [H, W, C] with positive integers, got ${formatValue(s)}`);
      this.inputShape = [s[0]!, s[1]!, s[2]!];
    } else {
      if (declared.slice(1).some((d) => d === null || d === undefined || d < 0)) fail(fn, 'options.inputShape', `is needed: the model's input [N, ${declared.slice(1).map((x) => (x === null || x === undefined || x < 0 ? '?' : x)).join(', ')}] leaves dimensions open`);
      this.inputShape = [declared[1]!, declared[2]!, declared[3]!];
    }
    const defs = ((graphModel as unknown as { artifacts?: { modelTopology?: { node?: GraphNodeDef[] } } }).artifacts?.modelTopology?.node ?? []) as GraphNodeDef[];
    const known = new Set(defs.map((d) => d.name));
    const checkNode = (arg: string, name: unknown) => {
      if (typeof name !== 'string' || name === '') fail(fn, arg, `must be a graph node name, got ${formatValue(name)}`);
      if (known.size > 0 && !known.has(name.replace(/:\d+$/, ''))) fail(fn, arg, `names node '${name}', which the graph does not have (${known.size} nodes, e.g. ${[...known].slice(-5).join(', ')})`);
      return name;
    };
    let logits: string;
    if (options.logits !== undefined) logits = checkNode('options.logits', options.logits);
    else {
      if (graphModel.outputNodes.length !== 1) fail(fn, 'options.logits', `is needed: the model has ${graphModel.outputNodes.length} outputs`);
      logits = graphModel.outputNodes[0]!;
      const def = defs.find((d) => d.name === logits.replace(/:\d+$/, ''));
      if (def && def.op === 'Softmax' && def.input?.[0]) logits = def.input[0];
    }
    this.logitsNode = logits;
    const modules: Record<string, string> = {};
    if (options.modules !== undefined) {
      const spec = checkObject(fn, 'options.modules', options.modules);
      if (Object.keys(spec).length === 0) fail(fn, 'options.modules', 'is empty');
      for (const [k, v] of Object.entries(spec)) {
        if (k === '' || k.includes('/')) fail(fn, 'options.modules', `has module name ${JSON.stringify(k)}; module names must be non-empty and without '/'`);
        modules[k] = checkNode(`options.modules.${k}`, v);
      }
    } else modules['output'] = logits;
    this.nodes = modules;
    this.moduleNames = Object.keys(modules);
    this.arch = 'graph-model';
    const probe = tf.tidy(() => {
      const out = graphModel.execute(tf.zeros([1, ...this.inputShape]), logits) as tf.Tensor;
      return out.shape;
    });
    if (probe.length !== 2) throw new ShapeMismatchError(fn, 'options.logits', `node '${logits}' gives shape ${shapeStr(probe)}; the logits must be [N, K]`);
    this.numClasses = probe[1]!;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /**
   * Runs the graph: logits and the outputs of the modules' nodes (evaluation only; `training` is
   * refused).
   *
   * @example
   * ```ts
   * const g = await tl.loadModel('https://example.org/model/', {modules: {block1: 'block1/Relu'}});
   * const {activations} = g.forward(x, {collect: ['block1']});
   * ```
   */
  forward(x: tf.Tensor4D, options: ForwardOptions = {}): ForwardResult {
    const fn = `${this.arch}.forward`;
    if (this.disposed) throw new InvalidArgumentError(fn, 'this', 'is a disposed model');
    if (!(x instanceof tf.Tensor) || x.rank !== 4 || x.isDisposed) fail(fn, 'x', `must be an image batch [N, ${this.inputShape.join(', ')}], got ${formatValue(x)}`);
    const [, h, w, c] = x.shape;
    if (h !== this.inputShape[0] || w !== this.inputShape[1] || c !== this.inputShape[2]) throw new ShapeMismatchError(fn, 'x', `has shape ${shapeStr(x.shape)} but the model expects [N, ${this.inputShape.join(', ')}]`);
    const o = checkObject(fn, 'options', options);
    checkKeys(fn, 'options', o, ['training', 'collect']);
    if (options.training === true) fail(fn, 'options.training', 'is true but a graph model runs in inference mode only');
    const collect = [...new Set(options.collect ?? [])];
    for (const m of collect) if (!this.moduleNames.includes(m)) fail(fn, 'options.collect', `names unknown module ${formatValue(m)}; modules: ${this.moduleNames.join(', ')}`);
    const names = [this.logitsNode, ...collect.map((m) => this.nodes[m]!)];
    const out = tf.tidy(() => {
      const r = this.graphModel.execute(x, names);
      const list = Array.isArray(r) ? r : [r];
      // The same node may be asked for twice (a module at the logits): give each caller its own tensor.
      return list.map((t, i) => (list.indexOf(t) === i ? t : tf.clone(t)));
    });
    const activations = new Map<string, tf.Tensor>();
    collect.forEach((m, i) => activations.set(m, out[i + 1]!));
    return { logits: out[0] as tf.Tensor2D, activations };
  }

  private weightless(what: string): never {
    throw new InvalidArgumentError(`${this.arch}.${what}`, 'this', 'is a graph model (inference only, weights frozen into the graph): training, distances, interpolation and criticality need a layers model (model.json with format "layers-model")');
  }

  getWeights(): NamedWeights {
    return this.weightless('getWeights');
  }

  setWeights(_weights: NamedWeights): void {
    this.weightless('setWeights');
  }

  clone(): Model {
    return this.weightless('clone');
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.graphModel.dispose();
  }

  toString(): string {
    return `${this.arch} (tf.GraphModel, inference only, ${this.numClasses} classes): modules ${this.moduleNames.map((m) => `${m} = ${this.nodes[m]}`).join(', ')}`;
  }

  [DISPLAY](): Record<string, unknown> {
    return { 'text/plain': this.toString() };
  }
}

/**
 * Wraps a `tf.GraphModel` for the analyses that only need activations (CKA, similarity measures,
 * evaluation). Modules are graph nodes.
 *
 * @example
 * ```ts
 * const g = tl.fromGraphModel(await tf.loadGraphModel(tl.modelFiles('graph/')), {modules: {conv: 'conv/Relu', fc: 'fc/BiasAdd'}});
 * const cka = await tl.cka.matrix(g, g, images);
 * ```
 */
export function fromGraphModel(model: tfjs.GraphModel | Model, options: FromGraphModelOptions = {}): GraphModelAdapter {
  const fn = 'tl.fromGraphModel';
  if (model instanceof GraphModelAdapter) return new GraphModelAdapter(model.graphModel, options, fn);
  if (!(model instanceof tfjs.GraphModel)) fail(fn, 'model', `must be a tf.GraphModel (tf.loadGraphModel) or a graph model from tl.loadModel, got ${formatValue(model)}`);
  return new GraphModelAdapter(model, options, fn);
}
