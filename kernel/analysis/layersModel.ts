/**
 * Any `tf.LayersModel` (Sequential or functional, with nested models) as a TransferLab
 * {@link Model}: `tl.fromLayersModel`. The model's layers keep their weights (the adapter reads and
 * writes the layers' own variables); the forward pass walks the layer graph itself, layer by layer
 * (recursing into nested models), so that any module's output can be collected, BatchNorm layers
 * can be run with batch statistics for `recalibrate`, and a final softmax can be left out of the
 * logits.
 *
 * Names follow the model contract (./modelContract.ts): a parameter is `<module>/<layer>/<weight>`,
 * shortened to `<layer>/<weight>` when the layer's name already starts with `<module>/` or is the
 * module (so `tl.fromLayersModel(tl.toLayersModel(tl.resnet(…)))` has exactly the ResNet's
 * parameter names). BatchNorm's `moving_mean`/`moving_variance` are buffers named `…/mean` and
 * `…/variance`, as the ResNet's.
 */
import * as tfjs from '@tensorflow/tfjs';
import { tf } from './tfjs';
import { DISPLAY } from './display';
import type { ForwardOptions, ForwardResult, Model, NamedWeights } from './modelContract';
import { InvalidArgumentError, ShapeMismatchError } from './errors';
import { checkInteger, checkKeys, checkObject, checkSeed, fail, formatValue, shapeStr } from './validate';
import { batchNormTrain, hashSeed } from './netModel';

type Layer = tfjs.layers.Layer;
type LayerVariable = tfjs.LayerVariable;

/** The parts of tfjs-layers' graph classes the walk reads (not in their public typings). */
interface SymTensor {
  readonly id: number;
  readonly sourceLayer: Layer;
  readonly nodeIndex: number;
  readonly tensorIndex: number;
  readonly shape: readonly (number | null)[];
}
interface GraphNode {
  readonly inputTensors: SymTensor[];
  readonly outputTensors: SymTensor[];
  readonly callArgs?: Record<string, unknown>;
}
interface Graph {
  readonly inputs: SymTensor[];
  readonly outputs: SymTensor[];
  readonly layers: Layer[];
}
const nodesOf = (l: Layer): GraphNode[] => (l as unknown as { inboundNodes: GraphNode[] }).inboundNodes;

function isContainer(l: unknown): l is tfjs.LayersModel {
  return l instanceof tfjs.LayersModel;
}
const isBatchNorm = (l: Layer) => l.getClassName() === 'BatchNormalization';
const isInputLayer = (l: Layer) => l.getClassName() === 'InputLayer';

/** How a group of layers is picked for a module: a RegExp on layer names, names, or a predicate. */
export type LayerSelector = RegExp | string | readonly string[] | ((layer: tfjs.layers.Layer) => boolean);

export interface FromLayersModelOptions {
  /**
   * Named modules, each a group of layers: `{stem: /^stem/, block: ['block_conv', 'block_bn']}` or
   * predicates on the layer. Layers with weights in no group are modules of their own. Default:
   * every layer with weights is a module, named by its layer name up to the first '/' (layers
   * named `conv1/bn`, `conv1/relu` join module `conv1`).
   */
  readonly modules?: Readonly<Record<string, LayerSelector>>;
  /** The classifier layer that P-T re-initialises. Default: the last layer with weights. */
  readonly head?: string;
  /** [H, W, C] when the model's input leaves them open (null). */
  readonly inputShape?: readonly [number, number, number];
}

/** A weight of the model as the adapter addresses it. */
interface WeightRef {
  readonly layer: Layer;
  /** The weight's name within its layer (`kernel`, `moving_mean`). */
  readonly short: string;
  readonly variable: LayerVariable;
}

/** What the module grouping resolved to: module → layer names; kept to rebuild and save. */
export interface LayersModelLayout {
  readonly modules: Readonly<Record<string, readonly string[]>>;
  readonly head: string;
  readonly inputShape: readonly [number, number, number];
}

type Mode = 'eval' | 'train' | 'calibrate';

interface RunContext {
  readonly mode: Mode;
  /** Leaf layer → module whose output it gives. */
  readonly collect: ReadonlyMap<Layer, string>;
  readonly collected: Map<string, tf.Tensor>;
  /** The layer whose softmax activation is left out (the logits layer), if any. */
  readonly stripActivation?: Layer;
  /** Leaf layers in call order (the wrap-time dry run). */
  readonly order?: { layer: Layer; out: tf.Tensor }[];
  /** Per BatchNorm layer: Σ n·mean, Σ n·E[x²], Σ n (calibrate mode). */
  readonly calibration?: Map<Layer, { sum: tf.Tensor; sumSq: tf.Tensor; count: number }>;
}

let linearActivation: unknown;
/** tfjs's own linear activation object (swapped in for a final softmax). */
function linear(): unknown {
  linearActivation ??= (tfjs.layers.activation({ activation: 'linear' }) as unknown as { activation: unknown }).activation;
  return linearActivation;
}

function callLeaf(layer: Layer, inputs: tf.Tensor[], callArgs: Record<string, unknown> | undefined, ctx: RunContext): tf.Tensor[] {
  const arg = inputs.length === 1 ? inputs[0]! : inputs;
  const bn = isBatchNorm(layer);
  const training = ctx.mode === 'train' || (ctx.mode === 'calibrate' && bn);
  const kwargs = { ...(callArgs ?? {}), training };
  if (ctx.mode === 'calibrate' && bn && ctx.calibration) accumulateMoments(layer, inputs[0]!, ctx.calibration);
  let out: tf.Tensor | tf.Tensor[];
  const fast = ctx.mode === 'train' && bn && inputs.length === 1 ? fastBatchNorm(layer, inputs[0]!) : undefined;
  if (fast) {
    out = fast;
  } else if (layer === ctx.stripActivation) {
    const l = layer as unknown as { activation: unknown };
    const act = l.activation;
    l.activation = linear();
    try {
      out = layer.apply(arg, kwargs) as tf.Tensor | tf.Tensor[];
    } finally {
      l.activation = act;
    }
  } else {
    out = layer.apply(arg, kwargs) as tf.Tensor | tf.Tensor[];
  }
  const outs = Array.isArray(out) ? out : [out];
  ctx.order?.push({ layer, out: outs[0]! });
  const m = ctx.collect.get(layer);
  if (m !== undefined) ctx.collected.set(m, outs[0]!);
  return outs;
}

interface BatchNormFields {
  readonly gamma: LayerVariable | null;
  readonly beta: LayerVariable | null;
  readonly movingMean: LayerVariable;
  readonly movingVariance: LayerVariable;
  readonly epsilon: number;
  readonly momentum: number;
  readonly axis: number | number[];
}

/**
 * A BatchNormalization layer in training mode over NHWC channels, with the hand-written gradient
 * `tl.resnet` uses (./netModel.ts `batchNormTrain`: three reductions instead of the dozen passes
 * tfjs derives), and the layer's own moving-average update (biased batch variance, the layer's
 * momentum), as tfjs's `call` does. Undefined where the layer is not of that form (the caller
 * then applies the layer).
 */
function fastBatchNorm(layer: Layer, x: tf.Tensor): tf.Tensor | undefined {
  const f = layer as unknown as BatchNormFields;
  const axis = Array.isArray(f.axis) ? (f.axis.length === 1 ? f.axis[0]! : NaN) : f.axis;
  if (x.rank !== 4 || (axis !== -1 && axis !== 3) || !f.gamma || !f.beta || !f.movingMean || !f.movingVariance || !layer.built) return undefined;
  const { y, mean, variance } = batchNormTrain(x as tf.Tensor4D, f.gamma.read() as tf.Tensor1D, f.beta.read() as tf.Tensor1D, f.epsilon);
  const decay = 1 - f.momentum;
  // Not on the path to the loss, so the gradient tape ignores these updates.
  for (const [v, batch] of [[f.movingMean, mean], [f.movingVariance, variance]] as const) {
    const next = tf.tidy(() => tf.sub(v.read(), tf.mul(tf.sub(v.read(), batch), decay)));
    v.write(next);
    next.dispose();
  }
  tf.dispose([mean, variance]);
  return y;
}

function accumulateMoments(layer: Layer, x: tf.Tensor, acc: NonNullable<RunContext['calibration']>): void {
  const axisCfg = (layer.getConfig() as { axis?: number | number[] }).axis ?? -1;
  const a0 = Array.isArray(axisCfg) ? axisCfg[0]! : axisCfg;
  const axis = a0 < 0 ? x.rank + a0 : a0;
  const axes = [...Array(x.rank).keys()].filter((a) => a !== axis);
  const n = axes.reduce((s, a) => s * x.shape[a]!, 1);
  const [m, sq] = tf.tidy(() => {
    const { mean, variance } = tf.moments(x, axes);
    return [tf.keep(tf.mul(mean, n)), tf.keep(tf.mul(tf.add(variance, tf.square(mean)), n))];
  });
  const prev = acc.get(layer);
  if (!prev) {
    acc.set(layer, { sum: m!, sumSq: sq!, count: n });
    return;
  }
  const s1 = tf.keep(tf.add(prev.sum, m!));
  const s2 = tf.keep(tf.add(prev.sumSq, sq!));
  tf.dispose([prev.sum, prev.sumSq, m!, sq!]);
  acc.set(layer, { sum: s1, sumSq: s2, count: prev.count + n });
}

/**
 * Runs the graph of `g` on concrete tensors, returning the values of `targets` (default its
 * outputs). Nested models are walked in turn, so their layers are leaves like any other.
 */
function runGraph(g: Graph, inputs: readonly tf.Tensor[], ctx: RunContext, targets: readonly SymTensor[] = g.outputs): tf.Tensor[] {
  const values = new Map<number, tf.Tensor>();
  g.inputs.forEach((s, i) => values.set(s.id, inputs[i]!));
  const evaluate = (s: SymTensor): tf.Tensor => {
    const known = values.get(s.id);
    if (known) return known;
    const layer = s.sourceLayer;
    const node = nodesOf(layer)[s.nodeIndex];
    if (!node) throw new Error(`internal: layer ${layer.name} has no node ${s.nodeIndex}`);
    const ins = node.inputTensors.map(evaluate);
    const outs = isContainer(layer) ? runGraph(layer as unknown as Graph, ins, ctx) : callLeaf(layer, ins, node.callArgs, ctx);
    node.outputTensors.forEach((o, i) => values.set(o.id, outs[i]!));
    const v = values.get(s.id);
    if (!v) throw new Error(`internal: layer ${layer.name} gave no output ${s.tensorIndex}`);
    return v;
  };
  return targets.map(evaluate);
}

/** Every leaf layer (not a model, not an input layer), nested models walked, in layer order. */
function leafLayers(m: tfjs.LayersModel): Layer[] {
  const out: Layer[] = [];
  for (const l of m.layers) {
    if (isContainer(l)) out.push(...leafLayers(l));
    else if (!isInputLayer(l)) out.push(l);
  }
  return out;
}

function shortName(layer: Layer, v: LayerVariable): string {
  const o = v.originalName;
  return o.startsWith(`${layer.name}/`) ? o.slice(layer.name.length + 1) : o;
}

/** The contract's name of a weight of `layer` in `module`. */
function paramName(module: string, layer: Layer, short: string): string {
  const s = short === 'moving_mean' && isBatchNorm(layer) ? 'mean' : short === 'moving_variance' && isBatchNorm(layer) ? 'variance' : short;
  if (layer.name === module || layer.name.startsWith(`${module}/`)) return `${layer.name}/${s}`;
  return `${module}/${layer.name}/${s}`;
}

const defaultModuleOf = (layerName: string) => layerName.split('/')[0]!.replace(/[^-A-Za-z0-9._]/g, '_') || '_';

/**
 * A `tf.LayersModel` behind TransferLab's model interface ({@link Model}); made by
 * {@link fromLayersModel}. `layersModel` is the wrapped model: its weights are this model's.
 *
 * @example
 * ```ts
 * const m = tl.fromLayersModel(tf.sequential({layers: [tf.layers.flatten({inputShape: [8, 8, 1]}), tf.layers.dense({units: 3, name: 'fc'})]}));
 * m.moduleNames;   // ['fc']
 * m.modules;       // {fc: ['fc']}
 * ```
 */
export class LayersModelAdapter implements Model {
  readonly arch: string;
  readonly moduleNames: readonly string[];
  readonly inputShape: readonly [number, number, number];
  readonly numClasses: number;
  readonly variables: ReadonlyMap<string, tf.Variable>;
  readonly buffers: ReadonlyMap<string, tf.Variable>;
  /** The module holding the head layer (re-initialised by P-T). */
  readonly headModule: string;
  /** How the layers were grouped (module → layer names), the head layer and the input shape. */
  readonly layout: LayersModelLayout;
  /** Non-trainable weights outside BatchNorm (or not float32): kept, but not parameters or buffers. */
  readonly fixedWeights: readonly { readonly name: string; readonly layer: string; readonly kind: string }[];
  /** What became of a final softmax: `'removed'` (logits are its input) or `'none'`. */
  readonly softmax: 'removed' | 'none';
  private readonly params = new Map<string, WeightRef>();
  private readonly bufferRefs = new Map<string, WeightRef>();
  private readonly fixedRefs = new Map<string, WeightRef>();
  private readonly collectLayer = new Map<string, Layer>();
  private readonly logitsTarget: SymTensor;
  private readonly stripActivation?: Layer;
  private disposed = false;

  /** Use {@link fromLayersModel}. */
  constructor(
    readonly layersModel: tfjs.LayersModel,
    options: FromLayersModelOptions = {},
    fn = 'tl.fromLayersModel',
  ) {
    const o = checkObject(fn, 'options', options);
    checkKeys(fn, 'options', o, ['modules', 'head', 'inputShape']);
    const graph = layersModel as unknown as Graph;
    let built: boolean;
    try {
      // An unbuilt Sequential throws on reading its inputs.
      built = Array.isArray(graph.inputs) && Array.isArray(graph.outputs) && graph.inputs.length > 0;
    } catch {
      built = false;
    }
    if (!built) fail(fn, 'model', 'has no input yet: give its first layer an inputShape (or build it on an input) before wrapping it');
    if (graph.inputs.length !== 1) fail(fn, 'model', `must have one image input, got ${graph.inputs.length} inputs`);
    if (graph.outputs.length !== 1) fail(fn, 'model', `must have one output (the class scores), got ${graph.outputs.length}`);
    this.arch = `layers:${layersModel.name}`;
    const declared = graph.inputs[0]!.shape;
    if (declared.length !== 4) fail(fn, 'model', `must take image batches [N, H, W, C], its input has shape ${shapeStr(declared.map((d) => d ?? -1))}`);
    if (options.inputShape !== undefined) {
      const s = options.inputShape;
      if (!Array.isArray(s) || s.length !== 3 || !s.every((d) => Number.isInteger(d) && d >= 1)) fail(fn, 'options.inputShape', `must be [H, W, C] with positive integers, got ${formatValue(s)}`);
      s.forEach((d, i) => {
        const want = declared[i + 1];
        if (want !== null && want !== undefined && want !== d) throw new ShapeMismatchError(fn, 'options.inputShape', `is ${shapeStr(s)} but the model's input is [N, ${declared.slice(1).map((x) => x ?? '?').join(', ')}]`);
      });
      this.inputShape = [s[0]!, s[1]!, s[2]!];
    } else {
      if (declared.slice(1).some((d) => d === null)) fail(fn, 'options.inputShape', `is needed: the model's input [N, ${declared.slice(1).map((x) => x ?? '?').join(', ')}] leaves dimensions open`);
      this.inputShape = [declared[1]!, declared[2]!, declared[3]!];
    }

    // Logits: the model's output, or the input of a final softmax layer, or the final layer with its softmax activation left out.
    let target = graph.outputs[0]!;
    const last = target.sourceLayer;
    const act = (last as unknown as { activation?: { getClassName(): string } }).activation;
    const actName = act?.getClassName?.().toLowerCase();
    let softmax: 'removed' | 'none' = 'none';
    if (!isContainer(last) && (last.getClassName() === 'Softmax' || (last.getClassName() === 'Activation' && actName === 'softmax'))) {
      target = nodesOf(last)[target.nodeIndex]!.inputTensors[0]!;
      softmax = 'removed';
    } else if (!isContainer(last) && actName === 'softmax') {
      this.stripActivation = last;
      softmax = 'removed';
    }
    this.softmax = softmax;
    this.logitsTarget = target;

    // A dry run on one zero image: the order leaves run in and their output shapes.
    const leaves = leafLayers(layersModel);
    const seen = new Set<string>();
    for (const l of leaves) {
      if (seen.has(l.name)) fail(fn, 'model', `has two layers named '${l.name}' (in nested models); layer names must be unique`);
      seen.add(l.name);
    }
    const order: { layer: Layer; out: tf.Tensor }[] = [];
    let classes = 0;
    const position = new Map<Layer, number>();
    const outDims = new Map<Layer, readonly number[]>();
    tf.tidy(() => {
      const zeros = tf.zeros([1, ...this.inputShape]);
      const ctx: RunContext = { mode: 'eval', collect: new Map(), collected: new Map(), order, ...(this.stripActivation ? { stripActivation: this.stripActivation } : {}) };
      const [logits] = runGraph(graph, [zeros], ctx, [target]);
      if (logits!.rank !== 2) fail(fn, 'model', `must give class scores [N, K]; its output has shape ${shapeStr(logits!.shape)}`);
      classes = logits!.shape[1]!;
      order.forEach((o, i) => {
        position.set(o.layer, i);
        outDims.set(o.layer, o.out.shape);
      });
    });
    this.numClasses = classes;
    const used = leaves.filter((l) => position.has(l));
    const weighted = used.filter((l) => l.weights.length > 0);
    if (weighted.length === 0) fail(fn, 'model', 'has no layer with weights');

    // Modules.
    const assigned = new Map<Layer, string>();
    const members = new Map<string, Layer[]>();
    const add = (m: string, l: Layer) => {
      assigned.set(l, m);
      if (!members.has(m)) members.set(m, []);
      members.get(m)!.push(l);
    };
    if (options.modules !== undefined) {
      const spec = checkObject(fn, 'options.modules', options.modules);
      if (Object.keys(spec).length === 0) fail(fn, 'options.modules', 'is empty; leave it out for one module per layer with weights');
      for (const [name, sel] of Object.entries(spec)) {
        const arg = `options.modules.${name}`;
        if (name === '' || name.includes('/')) fail(fn, 'options.modules', `has module name ${JSON.stringify(name)}; module names must be non-empty and without '/'`);
        let picked: Layer[];
        if (sel instanceof RegExp) picked = used.filter((l) => { sel.lastIndex = 0; return sel.test(l.name); });
        else if (Array.isArray(sel) || typeof sel === 'string') {
          picked = [];
          for (const n of (typeof sel === 'string' ? [sel] : sel) as unknown[]) {
            const l = typeof n === 'string' ? used.find((u) => u.name === n) : undefined;
            if (!l) fail(fn, arg, `names ${typeof n === 'string' ? `layer '${n}', which the model does not have` : `a non-string ${formatValue(n)}`}; its layers: ${describeLayers(used)}`);
            picked.push(l);
          }
        } else if (typeof sel === 'function') picked = used.filter((l) => (sel as (l: Layer) => boolean)(l) === true);
        else picked = fail(fn, arg, `must be a RegExp on layer names, an array of layer names or a predicate (layer) => boolean, got ${formatValue(sel)}`);
        if (picked.length === 0) fail(fn, arg, `selects no layer; the model's layers: ${describeLayers(used)}`);
        for (const l of picked) {
          const other = assigned.get(l);
          if (other !== undefined) fail(fn, arg, `selects layer '${l.name}', which module '${other}' also selects; a layer belongs to one module`);
          add(name, l);
        }
      }
      for (const l of weighted) {
        if (assigned.has(l)) continue;
        const m = defaultModuleOf(l.name);
        if (Object.hasOwn(spec, m)) fail(fn, 'options.modules', `leaves layer '${l.name}' (with weights) out of module '${m}' but a module of its own would have the same name; add it to '${m}' or to another module`);
        add(m, l);
      }
    } else {
      const names = new Set(weighted.map((l) => defaultModuleOf(l.name)));
      for (const l of used) {
        const m = defaultModuleOf(l.name);
        if (names.has(m)) add(m, l);
      }
    }
    const outputLayer = (m: string) => members.get(m)!.reduce((a, b) => (position.get(b)! > position.get(a)! ? b : a));
    this.moduleNames = [...members.keys()].sort((a, b) => position.get(outputLayer(a))! - position.get(outputLayer(b))!);
    for (const m of this.moduleNames) this.collectLayer.set(m, outputLayer(m));

    // Head.
    let head: Layer;
    if (options.head !== undefined) {
      if (typeof options.head !== 'string') fail(fn, 'options.head', `must be a layer name, got ${formatValue(options.head)}`);
      const h = used.find((l) => l.name === options.head);
      if (!h) fail(fn, 'options.head', `names layer '${options.head}', which the model does not have; its layers: ${describeLayers(used)}`);
      if (h.weights.length === 0) fail(fn, 'options.head', `names layer '${h.name}' (${h.getClassName()}), which has no weights to re-initialise`);
      head = h;
    } else {
      head = weighted.reduce((a, b) => (position.get(b)! > position.get(a)! ? b : a));
    }
    const headDims = outDims.get(head)!;
    if (headDims[headDims.length - 1] !== this.numClasses) {
      throw new ShapeMismatchError(fn, 'options.head', `layer '${head.name}' gives ${headDims[headDims.length - 1]} outputs per position but the model has ${this.numClasses} classes: the head must be the layer that computes the class scores`);
    }
    this.headModule = assigned.get(head)!;

    // Parameters and buffers.
    const fixed: { name: string; layer: string; kind: string }[] = [];
    const fix = (name: string, l: Layer, v: LayerVariable) => {
      fixed.push({ name, layer: l.name, kind: l.getClassName() });
      this.fixedRefs.set(name, { layer: l, short: shortName(l, v), variable: v });
    };
    const vars = new Map<string, tf.Variable>();
    const bufs = new Map<string, tf.Variable>();
    for (const l of used) {
      const m = assigned.get(l);
      for (const v of l.weights) {
        const short = shortName(l, v);
        if (m === undefined) {
          fix(`${l.name}/${short}`, l, v);
          continue;
        }
        const name = paramName(m, l, short);
        if (this.params.has(name) || this.bufferRefs.has(name)) fail(fn, 'model', `gives two weights the name '${name}'`);
        const ref: WeightRef = { layer: l, short, variable: v };
        if (v.dtype !== 'float32') fix(name, l, v);
        else if (isBatchNorm(l) && !v.trainable && (short === 'moving_mean' || short === 'moving_variance')) {
          this.bufferRefs.set(name, ref);
          bufs.set(name, v.read() as tf.Variable);
        } else if (v.trainable) {
          this.params.set(name, ref);
          vars.set(name, v.read() as tf.Variable);
        } else fix(name, l, v);
      }
    }
    this.fixedWeights = fixed;
    this.variables = vars;
    this.buffers = bufs;
    const layoutModules: Record<string, string[]> = {};
    for (const m of this.moduleNames) layoutModules[m] = members.get(m)!.map((l) => l.name);
    this.layout = { modules: layoutModules, head: head.name, inputShape: this.inputShape };
  }

  /** The layer names of each module. */
  get modules(): Readonly<Record<string, readonly string[]>> {
    return this.layout.modules;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** The tfjs weight name (`<layer>/<weight>`, as in a model.json weightsManifest) of a parameter or buffer. */
  tfjsNameOf(name: string): string | undefined {
    return (this.params.get(name) ?? this.bufferRefs.get(name) ?? this.fixedRefs.get(name))?.variable.originalName;
  }

  /** Copies of the float32 weights that are neither parameters nor buffers ({@link fixedWeights}), for saving (caller disposes). */
  getFixedWeights(): NamedWeights {
    this.checkAlive(`${this.arch}.getFixedWeights`);
    const out: NamedWeights = new Map();
    for (const [k, r] of this.fixedRefs) if (r.variable.dtype === 'float32') out.set(k, tf.clone(r.variable.read()));
    return out;
  }

  /** Sets weights that are neither parameters nor buffers, by name (as {@link getFixedWeights} gives them). */
  setFixedWeights(weights: NamedWeights): void {
    const fn = `${this.arch}.setFixedWeights`;
    this.checkAlive(fn);
    for (const [k, t] of weights) {
      const r = this.fixedRefs.get(k);
      if (!r) fail(fn, 'weights', `has unknown weight '${k}' (known: ${[...this.fixedRefs.keys()].join(', ') || 'none'})`);
      if (t.shape.join() !== r.variable.shape.join()) throw new ShapeMismatchError(fn, 'weights', `weight '${k}' has shape ${shapeStr(t.shape)}, expected ${shapeStr(r.variable.shape as number[])}`);
      r.variable.write(t);
    }
  }

  /**
   * Runs the model: logits (before a final softmax) and the outputs of the modules in `collect`
   * (each the output of the module's last layer). `training: true` runs layers in training mode
   * (batch statistics in BatchNorm, dropout).
   *
   * @example
   * ```ts
   * const m = tl.fromLayersModel(await tl.loadModel('saved/'));
   * const {logits, activations} = m.forward(x, {collect: [m.moduleNames[0]]});
   * ```
   */
  forward(x: tf.Tensor4D, options: ForwardOptions = {}): ForwardResult {
    const fn = `${this.arch}.forward`;
    this.checkAlive(fn);
    this.checkInput(fn, 'x', x);
    const o = checkObject(fn, 'options', options);
    checkKeys(fn, 'options', o, ['training', 'collect']);
    if (o['training'] !== undefined && typeof o['training'] !== 'boolean') fail(fn, 'options.training', `must be a boolean, got ${formatValue(o['training'])}`);
    const collect = options.collect ?? [];
    if (!Array.isArray(collect)) fail(fn, 'options.collect', `must be an array of module names, got ${formatValue(collect)}`);
    for (const c of collect) {
      if (!this.moduleNames.includes(c)) fail(fn, 'options.collect', `names unknown module ${formatValue(c)}; modules: ${this.moduleNames.join(', ')}`);
    }
    return this.run(x, options.training ? 'train' : 'eval', collect);
  }

  private run(x: tf.Tensor4D, mode: Mode, collect: readonly string[], calibration?: RunContext['calibration']): ForwardResult {
    const names = [...new Set(collect)];
    const out = tf.tidy(() => {
      const ctx: RunContext = {
        mode,
        collect: new Map(names.map((n) => [this.collectLayer.get(n)!, n])),
        collected: new Map(),
        ...(this.stripActivation ? { stripActivation: this.stripActivation } : {}),
        ...(calibration ? { calibration } : {}),
      };
      const [logits] = runGraph(this.layersModel as unknown as Graph, [x], ctx, [this.logitsTarget]);
      // A module's output is a new tensor, so callers may dispose logits and activations alike.
      return [logits!, ...names.map((n) => (ctx.collected.get(n) === logits ? tf.clone(logits!) : ctx.collected.get(n)!))];
    });
    const activations = new Map<string, tf.Tensor>();
    names.forEach((n, i) => activations.set(n, out[i + 1]!));
    return { logits: out[0] as tf.Tensor2D, activations };
  }

  /**
   * Recomputes BatchNorm moving mean and variance as exact averages over `x` (batch statistics in
   * every BatchNorm layer, as PyTorch's `update_bn`; variance unbiased, as `tl.resnet`'s).
   */
  recalibrate(x: tf.Tensor4D, options: { readonly batchSize?: number } = {}): void {
    const fn = `${this.arch}.recalibrate`;
    this.checkAlive(fn);
    this.checkInput(fn, 'x', x);
    const batchSize = checkInteger(fn, 'options.batchSize', options.batchSize ?? 256, 1);
    if (this.bufferRefs.size === 0) return;
    const acc: NonNullable<RunContext['calibration']> = new Map();
    // Training-mode BatchNorm layers also update their moving statistics; they are set below.
    try {
      const n = x.shape[0];
      for (let i = 0; i < n; i += batchSize) {
        const b = Math.min(batchSize, n - i);
        const xb = tf.slice(x, [i, 0, 0, 0], [b, -1, -1, -1]);
        try {
          const r = this.run(xb, 'calibrate', [], acc);
          r.logits.dispose();
        } finally {
          xb.dispose();
        }
      }
      for (const [layer, { sum, sumSq, count }] of acc) {
        const get = (short: string) => [...this.bufferRefs.values()].find((r) => r.layer === layer && r.short === short)?.variable;
        const mean = get('moving_mean');
        const variance = get('moving_variance');
        const unbiased = count > 1 ? count / (count - 1) : 1;
        tf.tidy(() => {
          const m = tf.div(sum, count);
          if (mean) mean.write(tf.reshape(m, mean.shape as number[]));
          if (variance) variance.write(tf.reshape(tf.mul(tf.relu(tf.sub(tf.div(sumSq, count), tf.square(m))), unbiased), variance.shape as number[]));
        });
      }
    } finally {
      for (const { sum, sumSq } of acc.values()) tf.dispose([sum, sumSq]);
    }
  }

  getWeights(): NamedWeights {
    this.checkAlive(`${this.arch}.getWeights`);
    const out: NamedWeights = new Map();
    for (const [k, v] of this.variables) out.set(k, tf.clone(v));
    return out;
  }

  setWeights(weights: NamedWeights): void {
    const fn = `${this.arch}.setWeights`;
    this.checkAlive(fn);
    checkNamed(fn, 'weights', weights, this.variables);
    for (const [k, v] of this.variables) v.assign(weights.get(k)!);
  }

  /** Copies of the BatchNorm moving statistics (caller disposes); empty without BatchNorm. */
  getBuffers(): NamedWeights {
    this.checkAlive(`${this.arch}.getBuffers`);
    const out: NamedWeights = new Map();
    for (const [k, v] of this.buffers) out.set(k, tf.clone(v));
    return out;
  }

  setBuffers(buffers: NamedWeights): void {
    const fn = `${this.arch}.setBuffers`;
    this.checkAlive(fn);
    checkNamed(fn, 'buffers', buffers, this.buffers);
    for (const [k, v] of this.buffers) v.assign(buffers.get(k)!);
  }

  /** Throws naming the weights that cannot be interpolated or rewound (for interpolation, criticality). */
  checkInterpolable(fn: string, arg: string): void {
    if (this.fixedWeights.length === 0) return;
    const layers = [...new Set(this.fixedWeights.map((w) => `'${w.layer}' (${w.kind})`))];
    fail(fn, arg, `(${this.arch}) has layer ${layers.join(', ')} whose weights ${this.fixedWeights.map((w) => `'${w.name}'`).join(', ')} are neither trainable parameters nor BatchNorm statistics: they cannot be interpolated or rewound`);
  }

  /** A new model with the same layers (a copy of the tf.LayersModel) and a copy of every weight. */
  clone(): LayersModelAdapter {
    const fn = `${this.arch}.clone`;
    this.checkAlive(fn);
    const copy = rebuildLayersModel(this.layersModel, fn, { fastInit: true });
    copyLayerWeights(this.layersModel, copy, new Set());
    return this.rewrap(copy, fn);
  }

  /**
   * The same architecture with a fresh initialisation: each weight's initializer (from the layer's
   * config) seeded from `seed` and the weight's name, so one seed gives one model. With
   * `numClasses`, the head layer gives that many classes. This is RI-T's starting point.
   *
   * @example
   * ```ts
   * const ri = tl.fromLayersModel(await tl.loadModel('saved/')).rebuild({seed: 3, numClasses: 5});
   * ```
   */
  rebuild(options: { readonly seed: number; readonly numClasses?: number }): LayersModelAdapter {
    return this.rebuildAs(`${this.arch}.rebuild`, options);
  }

  private rebuildAs(fn: string, options: { readonly seed: number; readonly numClasses?: number }): LayersModelAdapter {
    this.checkAlive(fn);
    const seed = checkSeed(fn, 'options.seed', options.seed);
    const numClasses = options.numClasses === undefined ? this.numClasses : checkInteger(fn, 'options.numClasses', options.numClasses, 1);
    const copy = rebuildLayersModel(this.layersModel, fn, { seed, head: this.layout.head, numClasses: numClasses === this.numClasses ? undefined : numClasses });
    if (numClasses !== this.numClasses) {
      // The head must give the classes: resizing it must change the model's output.
      const out = (copy as unknown as Graph).outputs[0]!.shape;
      if (out[out.length - 1] !== numClasses) {
        copy.dispose();
        throw new ShapeMismatchError(fn, 'numClasses', `is ${numClasses} but with its head '${this.layout.head}' resized the model still gives ${out[out.length - 1]} classes: the head must be the layer that computes the class scores`);
      }
    }
    return this.rewrap(copy, fn);
  }

  /**
   * A copy whose head layer is freshly initialised (seeded) for `numClasses` classes; every other
   * weight and BatchNorm statistic is copied. This is how P-T starts from P.
   *
   * @example
   * ```ts
   * const start = tl.fromLayersModel(await tl.loadModel('saved/'), {head: 'head'}).withNewHead(5, 1);
   * ```
   */
  withNewHead(numClasses: number, seed: number): LayersModelAdapter {
    const fn = `${this.arch}.withNewHead`;
    this.checkAlive(fn);
    checkInteger(fn, 'numClasses', numClasses, 2);
    checkSeed(fn, 'seed', seed);
    const fresh = this.rebuildAs(fn, { seed, numClasses });
    try {
      copyLayerWeights(this.layersModel, fresh.layersModel, new Set([this.layout.head]));
    } catch (e) {
      fresh.dispose();
      throw new ShapeMismatchError(fn, 'numClasses', `${numClasses} does not fit the model: ${(e as Error).message}`, { cause: e });
    }
    return fresh;
  }

  private rewrap(copy: tfjs.LayersModel, fn: string): LayersModelAdapter {
    try {
      return new LayersModelAdapter(copy, { modules: this.layout.modules, head: this.layout.head, inputShape: this.inputShape }, fn);
    } catch (e) {
      copy.dispose();
      throw e;
    }
  }

  /** Frees the wrapped model's weights. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.layersModel.dispose();
  }

  /** One line per module: layers, parameter count, output shape for a single image. */
  summary(): string {
    this.checkAlive(`${this.arch}.summary`);
    const counts = new Map<string, number>();
    for (const [k, v] of this.variables) counts.set(k.split('/')[0]!, (counts.get(k.split('/')[0]!) ?? 0) + v.size);
    const zeros = tf.zeros([1, ...this.inputShape]) as tf.Tensor4D;
    const { logits, activations } = this.run(zeros, 'eval', this.moduleNames);
    const shapes = new Map<string, number[]>();
    for (const [k, t] of activations) shapes.set(k, t.shape.slice(1));
    tf.dispose([zeros, logits, ...activations.values()]);
    let total = 0;
    for (const v of this.variables.values()) total += v.size;
    const lines = [`${this.arch} (tf.layers, ${this.numClasses} classes${this.softmax === 'removed' ? ', logits before the final softmax' : ''}): ${total.toLocaleString('en-US')} parameters`];
    for (const m of this.moduleNames) {
      lines.push(`  ${m.padEnd(8)} ${String(counts.get(m) ?? 0).padStart(9)} params  → ${shapeStr(shapes.get(m) ?? [])}  (${this.layout.modules[m]!.join(', ')})`);
    }
    return lines.join('\n');
  }

  toString(): string {
    return this.disposed ? `${this.arch} (disposed)` : this.summary();
  }

  [DISPLAY](): Record<string, unknown> {
    return { 'text/plain': this.toString() };
  }

  private checkAlive(fn: string): void {
    if (this.disposed) throw new InvalidArgumentError(fn, 'this', 'is a disposed model');
  }

  private checkInput(fn: string, arg: string, x: unknown): void {
    if (!(x instanceof tf.Tensor) || x.rank !== 4) fail(fn, arg, `must be an image batch [N, ${this.inputShape.join(', ')}], got ${formatValue(x)}`);
    if (x.isDisposed) fail(fn, arg, 'is a disposed tensor');
    const [, h, w, c] = x.shape;
    if (h !== this.inputShape[0] || w !== this.inputShape[1] || c !== this.inputShape[2]) {
      throw new ShapeMismatchError(fn, arg, `has shape ${shapeStr(x.shape)} but the model expects [N, ${this.inputShape.join(', ')}]`);
    }
    if (x.dtype !== 'float32') fail(fn, arg, `must be float32, got ${x.dtype}`);
  }
}

function describeLayers(layers: readonly Layer[]): string {
  const names = layers.map((l) => l.name);
  return names.length <= 12 ? names.join(', ') : `${names.slice(0, 12).join(', ')}, … (${names.length} layers)`;
}

function checkNamed(fn: string, arg: string, weights: unknown, own: ReadonlyMap<string, tf.Variable>): void {
  if (!(weights instanceof Map)) fail(fn, arg, `must be a Map from parameter name to tensor, got ${formatValue(weights)}`);
  for (const k of weights.keys()) {
    if (!own.has(k as string)) fail(fn, arg, `has unknown parameter '${String(k)}' (expected ${own.size} named like '${[...own.keys()][0] ?? ''}')`);
  }
  for (const [k, v] of own) {
    const t: unknown = (weights as Map<string, unknown>).get(k);
    if (t === undefined) fail(fn, arg, `is missing parameter '${k}' ${shapeStr(v.shape)}`);
    if (!(t instanceof tf.Tensor) || t.isDisposed) fail(fn, arg, `parameter '${k}' must be a live tensor, got ${formatValue(t)}`);
    if (t.shape.length !== v.shape.length || t.shape.some((d: number, i: number) => d !== v.shape[i])) throw new ShapeMismatchError(fn, arg, `parameter '${k}' has shape ${shapeStr(t.shape)}, expected ${shapeStr(v.shape)}`);
    if (t.dtype !== 'float32') fail(fn, arg, `parameter '${k}' must be float32, got ${t.dtype}`);
  }
}

/** Copies every weight of `from`'s leaf layers into the layer of the same name in `to`, except the `skip` layers. */
function copyLayerWeights(from: tfjs.LayersModel, to: tfjs.LayersModel, skip: ReadonlySet<string>): void {
  const target = new Map(leafLayers(to).map((l) => [l.name, l]));
  for (const l of leafLayers(from)) {
    if (skip.has(l.name)) continue;
    const t = target.get(l.name);
    if (!t) throw new Error(`layer '${l.name}' is missing from the copy`);
    const dest = new Map(t.weights.map((w) => [shortName(t, w), w]));
    for (const w of l.weights) {
      const d = dest.get(shortName(l, w));
      if (!d) throw new Error(`weight '${w.originalName}' is missing from the copy`);
      if (d.shape.join() !== w.shape.join()) throw new Error(`weight '${w.originalName}' would change shape from ${shapeStr(w.shape as number[])} to ${shapeStr(d.shape as number[])}`);
      d.write(w.read());
    }
  }
}

/** Walks a layers config (TS form: `className`, `config`), calling `f` on each layer's config. */
function eachLayerConfig(cfg: unknown, f: (layerCfg: Record<string, unknown>) => void): void {
  if (Array.isArray(cfg)) {
    for (const c of cfg) eachLayerConfig(c, f);
    return;
  }
  if (cfg === null || typeof cfg !== 'object') return;
  const o = cfg as Record<string, unknown>;
  const inner = o['config'];
  if (typeof o['className'] === 'string' && inner !== null && typeof inner === 'object' && !Array.isArray(inner)) {
    const ic = inner as Record<string, unknown>;
    if (Array.isArray(ic['layers'])) eachLayerConfig(ic['layers'], f);
    else f(ic);
    return;
  }
  if (Array.isArray(o['layers'])) eachLayerConfig(o['layers'], f);
}

/**
 * A new tf.LayersModel from `model`'s config (same class, same layer names): initialised by the
 * layers' own initializers, each seeded from `seed` and `<layer>/<initializer option>` when a seed
 * is given, or left for the caller to overwrite (`fastInit`). With `numClasses`, the `head`
 * layer's units (or filters) are changed to it.
 */
function rebuildLayersModel(model: tfjs.LayersModel, fn: string, o: { seed?: number; fastInit?: boolean; head?: string; numClasses?: number | undefined }): tfjs.LayersModel {
  const cfg = JSON.parse(JSON.stringify(model.getConfig())) as unknown;
  let resized = false;
  eachLayerConfig(cfg, (lc) => {
    const name = String(lc['name']);
    if (o.seed !== undefined) {
      for (const [k, v] of Object.entries(lc)) {
        if (!/Initializer$/.test(k) || v === null || typeof v !== 'object') continue;
        const init = v as { className?: unknown; config?: Record<string, unknown> };
        if (init.config && 'seed' in init.config) init.config['seed'] = hashSeed(o.seed, `${name}/${k}`);
      }
    }
    if (o.numClasses !== undefined && name === o.head) {
      if (typeof lc['units'] === 'number') lc['units'] = o.numClasses;
      else if (typeof lc['filters'] === 'number') lc['filters'] = o.numClasses;
      else fail(fn, 'numClasses', `cannot be changed: the head layer '${name}' has neither units nor filters to resize`);
      resized = true;
    }
  });
  if (o.numClasses !== undefined && !resized) fail(fn, 'numClasses', `cannot be changed: the head layer '${o.head}' was not found in the model's config`);
  const cls = model.constructor as unknown as { fromConfig(cls: unknown, config: unknown, customObjects?: unknown, fastWeightInit?: boolean): tfjs.LayersModel };
  try {
    return cls.fromConfig(cls, cfg, {}, o.fastInit === true);
  } catch (e) {
    if (o.numClasses !== undefined) throw new ShapeMismatchError(fn, 'numClasses', `${o.numClasses} does not fit the model with its head '${o.head}' resized: ${(e as Error).message}`, { cause: e });
    throw new InvalidArgumentError(fn, 'model', `cannot be rebuilt from its config (${(e as Error).message}); custom layers must be registered with tf.serialization.registerClass`, { cause: e });
  }
}

/**
 * Wraps a `tf.LayersModel` (Sequential or functional, nested models included) as a TransferLab
 * model, so that training, P-T/RI-T, CKA, distances, interpolation, criticality and checkpoints
 * work on it. The layers keep their weights (no copy): training the result trains `model`, and
 * disposing it disposes `model`. A model from {@link loadModel} may be passed as well: it is
 * regrouped with the new options (same weights).
 *
 * Logits are the model's output, or, when the model ends in a softmax (a `Softmax` or
 * `Activation('softmax')` layer, or a layer with `activation: 'softmax'`), the values before it:
 * losses are then computed as for our own models. BatchNorm moving mean and variance are buffers,
 * recomputed by `recalibrate` as for `tl.resnet`.
 *
 * @example
 * ```ts
 * const m = tl.fromLayersModel(await tl.loadModel('saved/'), {modules: {stem: /^stem/, block: /^block/}, head: 'head'});
 * m.moduleNames; // ['stem', 'block', 'head']
 * ```
 */
export function fromLayersModel(model: tfjs.LayersModel | Model, options: FromLayersModelOptions = {}): LayersModelAdapter {
  const fn = 'tl.fromLayersModel';
  if (model instanceof LayersModelAdapter) {
    if (model.isDisposed) fail(fn, 'model', 'is a disposed model');
    return new LayersModelAdapter(model.layersModel, options, fn);
  }
  if (!isContainer(model)) {
    const arch = (model as Partial<Model> | null)?.arch;
    fail(fn, 'model', `must be a tf.LayersModel (tf.sequential, tf.model, tf.loadLayersModel) or a layers model from tl.loadModel, got ${typeof arch === 'string' ? `a TransferLab model (${arch})` : formatValue(model)}`);
  }
  try {
    model.weights.forEach((w) => w.read());
  } catch (e) {
    throw new InvalidArgumentError(fn, 'model', 'is a disposed model', { cause: e });
  }
  return new LayersModelAdapter(model, options, fn);
}

/**
 * Whether `m` is a model made by {@link fromLayersModel} (or loaded from TensorFlow.js files).
 *
 * @example
 * ```ts
 * const m = await tl.loadModel('exports/cnn/');
 * if (tl.isLayersModelAdapter(m)) m.layersModel.summary();
 * ```
 */
export function isLayersModelAdapter(m: unknown): m is LayersModelAdapter {
  return m instanceof LayersModelAdapter;
}
