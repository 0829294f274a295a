/**
 * Small models for transfer experiments, on tfjs-core variables (not tf.layers) so that every
 * analysis addresses parameters and module outputs by name (see ./model.ts).
 *
 * - {@link resnet}: a ResNet-style network, `conv1 → layer1 … layerS → global average pool → fc`,
 *   with BatchNorm (`norm: 'batch'`) or without normalisation (`norm: 'none'`, Fixup
 *   initialisation and scalar biases, as in the paper's Fixup ResNet-50).
 * - {@link cnn}: a plain CNN, `conv1 … convK (conv 3×3, ReLU, 2×2 max-pool) → fc1 (ReLU) → fc`.
 *
 * Initialisation is seeded per parameter (a hash of the seed and the parameter name), so the same
 * seed gives the same weights on every backend and regardless of construction order.
 */
import { tf } from './tfjs';
import { DISPLAY } from './display';
import { convReluPool } from './fusedOps';
import type { ForwardOptions, ForwardResult, Model, NamedWeights } from './model';
import { moduleOf } from './model';
import { InvalidArgumentError, ShapeMismatchError } from './errors';
import { checkInteger, checkObject, checkOneOf, checkSeed, checkKeys, describe, fail, shapeStr } from './validate';

/** Normalisation in {@link resnet}: BatchNorm, or none (Fixup). */
export const Norm = { batch: 'batch', none: 'none' } as const;
export type Norm = (typeof Norm)[keyof typeof Norm];
export function isNorm(s: unknown): s is Norm {
  return s === 'batch' || s === 'none';
}

/** The JSON description a model is rebuilt from (checkpoints store it in their manifest). */
export type ModelConfig = CnnConfig | ResNetConfig;

export interface CnnConfig {
  readonly arch: 'cnn';
  readonly inputShape: readonly [number, number, number];
  readonly numClasses: number;
  /** Output channels of conv1, conv2, …; each conv is 3×3 + ReLU + 2×2 max-pool. */
  readonly channels: readonly number[];
  /** Width of the hidden dense layer fc1; 0 for none. */
  readonly hidden: number;
  readonly seed: number;
}

export interface ResNetConfig {
  readonly arch: 'resnet-mini';
  readonly inputShape: readonly [number, number, number];
  readonly numClasses: number;
  /** Channels of conv1 and layer1; layer s has width·2^(s−1). */
  readonly width: number;
  /** Residual blocks per stage; stages after the first halve the resolution. */
  readonly blocks: readonly number[];
  readonly norm: Norm;
  readonly seed: number;
}

export interface CnnOptions {
  /** [H, W, C] of the input images. */
  readonly inputShape: readonly [number, number, number];
  readonly numClasses: number;
  /** Default [32, 64]. */
  readonly channels?: readonly number[];
  /** Default 128; 0 for no hidden dense layer. */
  readonly hidden?: number;
  /** Initialisation seed, default 0. */
  readonly seed?: number;
}

export interface ResNetOptions {
  readonly inputShape: readonly [number, number, number];
  readonly numClasses: number;
  /** Default 16. */
  readonly width?: number;
  /** Default [1, 1, 1]: three stages of one block (modules conv1, layer1, layer2, layer3, fc). */
  readonly blocks?: readonly number[];
  /** Default 'batch'. */
  readonly norm?: Norm;
  readonly seed?: number;
}

type Init =
  | { readonly kind: 'he'; readonly fanIn: number; readonly scale?: number }
  | { readonly kind: 'uniform'; readonly bound: number }
  | { readonly kind: 'const'; readonly value: number };

interface ParamSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly init: Init;
}

/** 32-bit mix of a seed and a name (FNV-1a, then a murmur3 finaliser). */
export function hashSeed(seed: number, name: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

function initTensor(spec: ParamSpec, seed: number): tf.Tensor {
  const s = hashSeed(seed, spec.name);
  const shape = [...spec.shape];
  switch (spec.init.kind) {
    case 'he':
      return tf.randomNormal(shape, 0, Math.sqrt(2 / spec.init.fanIn) * (spec.init.scale ?? 1), 'float32', s);
    case 'uniform':
      return tf.randomUniform(shape, -spec.init.bound, spec.init.bound, 'float32', s);
    case 'const':
      return tf.fill(shape, spec.init.value, 'float32');
    default: {
      const never: never = spec.init;
      throw new Error(`unknown init ${JSON.stringify(never)}`);
    }
  }
}

/** BatchNorm momentum for running statistics (PyTorch's convention: new = 0.9·old + 0.1·batch). */
const BN_MOMENTUM = 0.1;
const BN_EPSILON = 1e-5;

type Mode = 'eval' | 'train' | 'calibrate';

/**
 * BatchNorm with batch statistics over N, H, W and a hand-written gradient
 * (dx = γ·rstd/n · (n·dy − Σdy − x̂·Σ(dy·x̂)), dγ = Σ(dy·x̂), dβ = Σdy): three reductions and a few
 * elementwise passes instead of the dozen passes (with tiles) that tfjs derives through
 * `moments` and `batchNorm`. Also returns the batch mean and variance (not on the tape; the caller
 * disposes them) for the running statistics.
 */
export function batchNormTrain(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, epsilon = BN_EPSILON): { y: tf.Tensor4D; mean: tf.Tensor1D; variance: tf.Tensor1D } {
  let stats: [tf.Tensor1D, tf.Tensor1D] | undefined;
  const f = tf.customGrad(((xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    const { mean, variance } = tf.moments(xi, [0, 1, 2]);
    stats = [tf.keep(mean) as tf.Tensor1D, tf.keep(variance) as tf.Tensor1D];
    const rstd = tf.rsqrt(tf.add(variance, epsilon));
    const xhat = tf.mul(tf.sub(xi, mean), rstd);
    save([xhat, rstd, g]);
    return {
      value: tf.add(tf.mul(xhat, g), b),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const d = dy as tf.Tensor;
        const [xh, rs, gm] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        const n = d.size / d.shape[d.rank - 1]!;
        const sumDy = tf.sum(d, [0, 1, 2]);
        const sumDyX = tf.sum(tf.mul(d, xh), [0, 1, 2]);
        const dx = tf.mul(tf.sub(tf.sub(tf.mul(d, n), sumDy), tf.mul(xh, sumDyX)), tf.div(tf.mul(gm, rs), n));
        return [dx, sumDyX, sumDy];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  const y = f(x, gamma, beta) as tf.Tensor4D;
  return { y, mean: stats![0], variance: stats![1] };
}

/** State of one forward pass: parameter access, BatchNorm behaviour, collected module outputs. */
class Pass {
  readonly collected = new Map<string, tf.Tensor>();
  /** `calibration` (calibrate mode): per BatchNorm prefix, Σ n·mean, Σ n·E[x²] and Σ n. */
  constructor(
    readonly model: NetModel,
    readonly mode: Mode,
    readonly collect: ReadonlySet<string>,
    readonly calibration?: Map<string, { sum: tf.Tensor; sumSq: tf.Tensor; count: number }>,
  ) {}

  p(name: string): tf.Tensor {
    const v = this.model.variables.get(name);
    if (!v) throw new Error(`internal: parameter ${name} missing from ${this.model.arch}`);
    return v;
  }

  out(module: string, t: tf.Tensor): void {
    if (this.collect.has(module)) this.collected.set(module, t);
  }

  bn(prefix: string, x: tf.Tensor4D): tf.Tensor4D {
    const gamma = this.p(`${prefix}/gamma`) as tf.Tensor1D;
    const beta = this.p(`${prefix}/beta`) as tf.Tensor1D;
    const runMean = this.model.buffers.get(`${prefix}/mean`)!;
    const runVar = this.model.buffers.get(`${prefix}/variance`)!;
    if (this.mode === 'eval') return tf.batchNorm(x, runMean as tf.Tensor1D, runVar as tf.Tensor1D, beta, gamma, BN_EPSILON);
    const { y, mean, variance } = batchNormTrain(x, gamma, beta);
    const n = x.shape[0] * x.shape[1] * x.shape[2];
    if (this.mode === 'train') {
      const unbiased = n > 1 ? n / (n - 1) : 1;
      // Not on the path to the loss, so the gradient tape ignores these updates.
      runMean.assign(tf.tidy(() => tf.add(tf.mul(runMean, 1 - BN_MOMENTUM), tf.mul(mean, BN_MOMENTUM))));
      runVar.assign(tf.tidy(() => tf.add(tf.mul(runVar, 1 - BN_MOMENTUM), tf.mul(variance, BN_MOMENTUM * unbiased))));
    } else if (this.calibration) {
      const acc = this.calibration.get(prefix);
      const m = tf.keep(tf.mul(mean, n));
      const sq = tf.keep(tf.mul(tf.add(variance, tf.square(mean)), n));
      if (acc) {
        const s1 = tf.keep(tf.add(acc.sum, m));
        const s2 = tf.keep(tf.add(acc.sumSq, sq));
        acc.sum.dispose();
        acc.sumSq.dispose();
        m.dispose();
        sq.dispose();
        this.calibration.set(prefix, { sum: s1, sumSq: s2, count: acc.count + n });
      } else {
        this.calibration.set(prefix, { sum: m, sumSq: sq, count: n });
      }
    }
    mean.dispose();
    variance.dispose();
    return y;
  }
}

let modelCounter = 0;

/**
 * A model built from a {@link ModelConfig}. Implements {@link Model}; adds BatchNorm buffers,
 * `recalibrate`, `config` (for saving), a summary, and notebook display.
 */
export class NetModel implements Model {
  readonly arch: string;
  readonly moduleNames: readonly string[];
  readonly inputShape: readonly [number, number, number];
  readonly numClasses: number;
  readonly variables: ReadonlyMap<string, tf.Variable>;
  readonly buffers: ReadonlyMap<string, tf.Variable>;
  readonly config: ModelConfig;
  private readonly params: readonly ParamSpec[];
  private readonly bufferSpecs: readonly ParamSpec[];
  private readonly id = ++modelCounter;
  private disposed = false;

  /** Builds the model; weights come from `from` (all names required) or seeded initialisation. */
  constructor(config: ModelConfig, from?: { weights: ReadonlyMap<string, tf.Tensor>; buffers?: ReadonlyMap<string, tf.Tensor> }) {
    this.config = config;
    this.inputShape = config.inputShape;
    this.numClasses = config.numClasses;
    const layout = config.arch === 'cnn' ? cnnLayout(config) : resnetLayout(config);
    this.arch = config.arch === 'cnn' ? 'cnn' : config.norm === 'batch' ? 'resnet-mini' : 'resnet-mini-nonorm';
    this.moduleNames = layout.modules;
    this.params = layout.params;
    this.bufferSpecs = layout.buffers;
    if (from) checkWeights('NetModel', 'weights', from.weights, this.params);
    if (from?.buffers) checkWeights('NetModel', 'buffers', from.buffers, this.bufferSpecs);
    const vars = new Map<string, tf.Variable>();
    const bufs = new Map<string, tf.Variable>();
    tf.tidy(() => {
      for (const p of this.params) {
        const init = from ? from.weights.get(p.name)! : initTensor(p, config.seed);
        vars.set(p.name, tf.variable(init, true, `tl${this.id}/${p.name}`));
      }
      for (const b of this.bufferSpecs) {
        const init = from?.buffers ? from.buffers.get(b.name)! : initTensor(b, config.seed);
        bufs.set(b.name, tf.variable(init, false, `tl${this.id}/${b.name}`));
      }
    });
    this.variables = vars;
    this.buffers = bufs;
  }

  /** Number of trainable parameters. */
  get parameterCount(): number {
    let n = 0;
    for (const v of this.variables.values()) n += v.size;
    return n;
  }

  /**
   * Runs the model. `training: true` uses batch statistics in BatchNorm and updates the running
   * statistics (momentum 0.1); `collect` names modules whose outputs to return.
   *
   * @example
   * ```ts
   * const m = tl.resnet({inputShape: [28, 28, 1], numClasses: 10});
   * const {logits, activations} = m.forward(x, {collect: ['layer1']});
   * ```
   */
  forward(x: tf.Tensor4D, options: ForwardOptions = {}): ForwardResult {
    const fn = `${this.arch}.forward`;
    this.checkAlive(fn);
    this.checkInput(fn, 'x', x);
    const o = checkObject(fn, 'options', options);
    checkKeys(fn, 'options', o, ['training', 'collect']);
    if (o['training'] !== undefined && typeof o['training'] !== 'boolean') fail(fn, 'options.training', `must be a boolean, got ${describe(o['training'])}`);
    const collect = options.collect ?? [];
    if (!Array.isArray(collect)) fail(fn, 'options.collect', `must be an array of module names, got ${describe(collect)}`);
    for (const c of collect) {
      if (!this.moduleNames.includes(c)) fail(fn, 'options.collect', `names unknown module ${describe(c)}; modules: ${this.moduleNames.join(', ')}`);
    }
    return this.run(x, options.training ? 'train' : 'eval', collect);
  }

  private run(x: tf.Tensor4D, mode: Mode, collect: readonly string[], calibration?: Pass['calibration']): ForwardResult {
    const names = [...new Set(collect)];
    const out = tf.tidy(() => {
      const pass = new Pass(this, mode, new Set(names), calibration);
      const logits = this.config.arch === 'cnn' ? cnnForward(this.config, pass, x) : resnetForward(this.config, pass, x);
      return [logits, ...names.map((n) => pass.collected.get(n)!)];
    });
    const activations = new Map<string, tf.Tensor>();
    names.forEach((n, i) => activations.set(n, out[i + 1]!));
    return { logits: out[0] as tf.Tensor2D, activations };
  }

  /**
   * Recomputes BatchNorm running statistics as exact averages over `x` (batch statistics in every
   * layer, like PyTorch's `update_bn`). A no-op without BatchNorm.
   */
  recalibrate(x: tf.Tensor4D, options: { readonly batchSize?: number } = {}): void {
    const fn = `${this.arch}.recalibrate`;
    this.checkAlive(fn);
    this.checkInput(fn, 'x', x);
    const batchSize = checkInteger(fn, 'options.batchSize', options.batchSize ?? 256, 1);
    if (this.buffers.size === 0) return;
    const acc: NonNullable<Pass['calibration']> = new Map();
    try {
      const n = x.shape[0];
      for (let i = 0; i < n; i += batchSize) {
        const b = Math.min(batchSize, n - i);
        const xb = tf.slice(x, [i, 0, 0, 0], [b, -1, -1, -1]);
        try {
          this.run(xb, 'calibrate', [], acc).logits.dispose();
        } finally {
          xb.dispose();
        }
      }
      for (const [prefix, { sum, sumSq, count }] of acc) {
        const mean = this.buffers.get(`${prefix}/mean`)!;
        const variance = this.buffers.get(`${prefix}/variance`)!;
        const unbiased = count > 1 ? count / (count - 1) : 1;
        tf.tidy(() => {
          const m = tf.div(sum, count);
          mean.assign(m);
          variance.assign(tf.mul(tf.relu(tf.sub(tf.div(sumSq, count), tf.square(m))), unbiased));
        });
      }
    } finally {
      for (const { sum, sumSq } of acc.values()) {
        sum.dispose();
        sumSq.dispose();
      }
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
    checkWeights(fn, 'weights', weights, this.params);
    for (const [k, v] of this.variables) v.assign(weights.get(k)!);
  }

  /** Copies of the BatchNorm running statistics (caller disposes); empty without BatchNorm. */
  getBuffers(): NamedWeights {
    this.checkAlive(`${this.arch}.getBuffers`);
    const out: NamedWeights = new Map();
    for (const [k, v] of this.buffers) out.set(k, tf.clone(v));
    return out;
  }

  setBuffers(buffers: NamedWeights): void {
    const fn = `${this.arch}.setBuffers`;
    this.checkAlive(fn);
    checkWeights(fn, 'buffers', buffers, this.bufferSpecs);
    for (const [k, v] of this.buffers) v.assign(buffers.get(k)!);
  }

  clone(): NetModel {
    this.checkAlive(`${this.arch}.clone`);
    return new NetModel(this.config, { weights: this.variables, buffers: this.buffers });
  }

  /**
   * A copy whose `fc` (the classifier) is freshly initialised for `numClasses` classes with
   * `seed`; every other parameter and buffer is copied. This is how P-T starts from P.
   */
  withNewHead(numClasses: number, seed: number): NetModel {
    const fn = `${this.arch}.withNewHead`;
    this.checkAlive(fn);
    checkInteger(fn, 'numClasses', numClasses, 2);
    checkSeed(fn, 'seed', seed);
    const config = { ...this.config, numClasses, seed } as ModelConfig;
    const fresh = new NetModel(config);
    const weights: NamedWeights = new Map();
    for (const [k, v] of fresh.variables) weights.set(k, moduleOf(k) === 'fc' ? v : this.variables.get(k)!);
    const copy = new NetModel(config, { weights, buffers: this.buffers });
    fresh.dispose();
    return copy;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.variables.values()) v.dispose();
    for (const v of this.buffers.values()) v.dispose();
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** One line per module: name, parameter count, output shape for a single image. */
  summary(): string {
    this.checkAlive(`${this.arch}.summary`);
    const counts = new Map<string, number>();
    for (const [k, v] of this.variables) counts.set(moduleOf(k), (counts.get(moduleOf(k)) ?? 0) + v.size);
    const shapes = new Map<string, number[]>();
    const zeros = tf.zeros([1, ...this.inputShape]) as tf.Tensor4D;
    const { logits, activations } = this.run(zeros, 'eval', this.moduleNames);
    for (const [k, t] of activations) {
      shapes.set(k, t.shape.slice(1));
      t.dispose();
    }
    logits.dispose();
    zeros.dispose();
    const lines = [`${this.arch} (${describeConfig(this.config)}): ${this.parameterCount.toLocaleString('en-US')} parameters`];
    for (const m of this.moduleNames) {
      lines.push(`  ${m.padEnd(8)} ${String(counts.get(m) ?? 0).padStart(9)} params  → ${shapeStr(shapes.get(m) ?? [])}`);
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
    if (!(x instanceof tf.Tensor) || x.rank !== 4) fail(fn, arg, `must be an image batch [N, ${this.inputShape.join(', ')}], got ${describe(x)}`);
    if (x.isDisposed) fail(fn, arg, 'is a disposed tensor');
    const [, h, w, c] = x.shape;
    if (h !== this.inputShape[0] || w !== this.inputShape[1] || c !== this.inputShape[2]) {
      throw new ShapeMismatchError(fn, arg, `has shape ${shapeStr(x.shape)} but the model expects [N, ${this.inputShape.join(', ')}]`);
    }
    if (x.dtype !== 'float32') fail(fn, arg, `must be float32, got ${x.dtype}`);
  }
}

function describeConfig(c: ModelConfig): string {
  return c.arch === 'cnn'
    ? `channels ${c.channels.join('/')}, hidden ${c.hidden}, ${c.numClasses} classes, seed ${c.seed}`
    : `width ${c.width}, blocks ${c.blocks.join('/')}, norm ${c.norm}, ${c.numClasses} classes, seed ${c.seed}`;
}

function checkWeights(fn: string, arg: string, weights: unknown, specs: readonly ParamSpec[]): void {
  if (!(weights instanceof Map)) fail(fn, arg, `must be a Map from parameter name to tensor, got ${describe(weights)}`);
  const known = new Set(specs.map((s) => s.name));
  for (const k of weights.keys()) {
    if (!known.has(k)) fail(fn, arg, `has unknown parameter '${String(k)}' (expected ${specs.length} named like '${specs[0]?.name ?? ''}')`);
  }
  const map = weights as ReadonlyMap<string, unknown>;
  for (const s of specs) {
    const t = map.get(s.name);
    if (t === undefined) fail(fn, arg, `is missing parameter '${s.name}' ${shapeStr(s.shape)}`);
    if (!(t instanceof tf.Tensor) || t.isDisposed) fail(fn, arg, `parameter '${s.name}' must be a live tensor, got ${describe(t)}`);
    if (t.shape.length !== s.shape.length || t.shape.some((d: number, i: number) => d !== s.shape[i])) {
      throw new ShapeMismatchError(fn, arg, `parameter '${s.name}' has shape ${shapeStr(t.shape)}, expected ${shapeStr(s.shape)}`);
    }
    if (t.dtype !== 'float32') fail(fn, arg, `parameter '${s.name}' must be float32, got ${t.dtype}`);
  }
}

interface Layout {
  readonly modules: string[];
  readonly params: ParamSpec[];
  readonly buffers: ParamSpec[];
}

const pooled = (n: number) => Math.ceil(n / 2);

function cnnLayout(c: CnnConfig): Layout {
  const params: ParamSpec[] = [];
  const modules: string[] = [];
  let [h, w, ch] = c.inputShape;
  c.channels.forEach((out, i) => {
    const m = `conv${i + 1}`;
    modules.push(m);
    params.push({ name: `${m}/kernel`, shape: [3, 3, ch, out], init: { kind: 'he', fanIn: 9 * ch } });
    params.push({ name: `${m}/bias`, shape: [out], init: { kind: 'const', value: 0 } });
    ch = out;
    h = pooled(h);
    w = pooled(w);
  });
  let features = h * w * ch;
  if (c.hidden > 0) {
    modules.push('fc1');
    params.push({ name: 'fc1/kernel', shape: [features, c.hidden], init: { kind: 'he', fanIn: features } });
    params.push({ name: 'fc1/bias', shape: [c.hidden], init: { kind: 'const', value: 0 } });
    features = c.hidden;
  }
  modules.push('fc');
  params.push({ name: 'fc/kernel', shape: [features, c.numClasses], init: { kind: 'uniform', bound: 1 / Math.sqrt(features) } });
  params.push({ name: 'fc/bias', shape: [c.numClasses], init: { kind: 'const', value: 0 } });
  return { modules, params, buffers: [] };
}

function cnnForward(c: CnnConfig, pass: Pass, x: tf.Tensor4D): tf.Tensor2D {
  let h: tf.Tensor4D = x;
  c.channels.forEach((_, i) => {
    const m = `conv${i + 1}`;
    // The first block's input is data: no gradient is computed for it.
    h = convReluPool(h, pass.p(`${m}/kernel`) as tf.Tensor4D, pass.p(`${m}/bias`) as tf.Tensor1D, i > 0);
    pass.out(m, h);
  });
  let f: tf.Tensor2D = tf.reshape(h, [h.shape[0], -1]);
  if (c.hidden > 0) {
    f = tf.fused.matMul({ a: f, b: pass.p('fc1/kernel') as tf.Tensor2D, bias: pass.p('fc1/bias'), activation: 'relu' }) as tf.Tensor2D;
    pass.out('fc1', f);
  }
  const logits = tf.fused.matMul({ a: f, b: pass.p('fc/kernel') as tf.Tensor2D, bias: pass.p('fc/bias') }) as tf.Tensor2D;
  pass.out('fc', logits);
  return logits;
}

function resnetLayout(c: ResNetConfig): Layout {
  const params: ParamSpec[] = [];
  const buffers: ParamSpec[] = [];
  const bn = c.norm === 'batch';
  const totalBlocks = c.blocks.reduce((a, b) => a + b, 0);
  const conv = (name: string, k: number, cin: number, cout: number, scale = 1) =>
    params.push({ name, shape: [k, k, cin, cout], init: scale === 0 ? { kind: 'const', value: 0 } : { kind: 'he', fanIn: k * k * cin, scale } });
  const norm = (prefix: string, ch: number, gamma = 1) => {
    params.push({ name: `${prefix}/gamma`, shape: [ch], init: { kind: 'const', value: gamma } });
    params.push({ name: `${prefix}/beta`, shape: [ch], init: { kind: 'const', value: 0 } });
    buffers.push({ name: `${prefix}/mean`, shape: [ch], init: { kind: 'const', value: 0 } });
    buffers.push({ name: `${prefix}/variance`, shape: [ch], init: { kind: 'const', value: 1 } });
  };
  const scalar = (name: string, value: number) => params.push({ name, shape: [1], init: { kind: 'const', value } });
  const modules = ['conv1'];
  const cin0 = c.inputShape[2];
  conv('conv1/kernel', 3, cin0, c.width);
  if (bn) norm('conv1/bn', c.width);
  else scalar('conv1/bias', 0);
  let ch = c.width;
  c.blocks.forEach((nBlocks, s) => {
    const m = `layer${s + 1}`;
    modules.push(m);
    const out = c.width * 2 ** s;
    for (let b = 0; b < nBlocks; b++) {
      const p = `${m}/block${b}`;
      const stride = s > 0 && b === 0 ? 2 : 1;
      if (bn) {
        conv(`${p}/conv1/kernel`, 3, ch, out);
        norm(`${p}/bn1`, out);
        conv(`${p}/conv2/kernel`, 3, out, out);
        norm(`${p}/bn2`, out);
        if (stride !== 1 || ch !== out) {
          conv(`${p}/shortcut/kernel`, 1, ch, out);
          norm(`${p}/shortcut/bn`, out);
        }
      } else {
        // Fixup (Zhang, Dauphin, Ma 2019): branch's first conv scaled by L^(-1/2) for two-layer
        // branches, last conv zero, scalar biases before each conv/activation and a scalar gain.
        scalar(`${p}/bias1a`, 0);
        conv(`${p}/conv1/kernel`, 3, ch, out, 1 / Math.sqrt(totalBlocks));
        scalar(`${p}/bias1b`, 0);
        scalar(`${p}/bias2a`, 0);
        conv(`${p}/conv2/kernel`, 3, out, out, 0);
        scalar(`${p}/scale`, 1);
        scalar(`${p}/bias2b`, 0);
        if (stride !== 1 || ch !== out) conv(`${p}/shortcut/kernel`, 1, ch, out);
      }
      ch = out;
    }
  });
  modules.push('fc');
  // Fixup zero-initialises the classifier; with BatchNorm the usual uniform init.
  params.push({ name: 'fc/kernel', shape: [ch, c.numClasses], init: bn ? { kind: 'uniform', bound: 1 / Math.sqrt(ch) } : { kind: 'const', value: 0 } });
  params.push({ name: 'fc/bias', shape: [c.numClasses], init: { kind: 'const', value: 0 } });
  return { modules, params, buffers };
}

function resnetForward(c: ResNetConfig, pass: Pass, x: tf.Tensor4D): tf.Tensor2D {
  const bn = c.norm === 'batch';
  const conv = (t: tf.Tensor4D, name: string, stride: number) => tf.conv2d(t, pass.p(name) as tf.Tensor4D, stride, 'same');
  let h = conv(x, 'conv1/kernel', 1);
  h = tf.relu(bn ? pass.bn('conv1/bn', h) : (tf.add(h, pass.p('conv1/bias')) as tf.Tensor4D));
  pass.out('conv1', h);
  let ch = c.width;
  c.blocks.forEach((nBlocks, s) => {
    const m = `layer${s + 1}`;
    const out = c.width * 2 ** s;
    for (let b = 0; b < nBlocks; b++) {
      const p = `${m}/block${b}`;
      const stride = s > 0 && b === 0 ? 2 : 1;
      const project = stride !== 1 || ch !== out;
      let y: tf.Tensor4D;
      let shortcut: tf.Tensor4D = h;
      if (bn) {
        y = tf.relu(pass.bn(`${p}/bn1`, conv(h, `${p}/conv1/kernel`, stride)));
        y = pass.bn(`${p}/bn2`, conv(y, `${p}/conv2/kernel`, 1));
        if (project) shortcut = pass.bn(`${p}/shortcut/bn`, conv(h, `${p}/shortcut/kernel`, stride));
      } else {
        const hin = tf.add(h, pass.p(`${p}/bias1a`)) as tf.Tensor4D;
        y = tf.relu(tf.add(conv(hin, `${p}/conv1/kernel`, stride), pass.p(`${p}/bias1b`))) as tf.Tensor4D;
        y = conv(tf.add(y, pass.p(`${p}/bias2a`)) as tf.Tensor4D, `${p}/conv2/kernel`, 1);
        y = tf.add(tf.mul(y, pass.p(`${p}/scale`)), pass.p(`${p}/bias2b`)) as tf.Tensor4D;
        if (project) shortcut = conv(hin, `${p}/shortcut/kernel`, stride);
      }
      h = tf.relu(tf.add(y, shortcut)) as tf.Tensor4D;
      ch = out;
    }
    pass.out(m, h);
  });
  const pooledFeatures = tf.mean(h, [1, 2]) as tf.Tensor2D;
  const logits = tf.add(tf.matMul(pooledFeatures, pass.p('fc/kernel') as tf.Tensor2D), pass.p('fc/bias')) as tf.Tensor2D;
  pass.out('fc', logits);
  return logits;
}

function checkInputShape(fn: string, v: unknown): [number, number, number] {
  if (!Array.isArray(v) || v.length !== 3 || !v.every((d) => Number.isInteger(d) && d >= 1)) {
    fail(fn, 'options.inputShape', `must be [H, W, C] with positive integers, got ${describe(v)}${Array.isArray(v) ? ` ${JSON.stringify(v)}` : ''}`);
  }
  return [v[0], v[1], v[2]] as [number, number, number];
}

function checkIntList(fn: string, arg: string, v: unknown, min: number): number[] {
  if (!Array.isArray(v) || v.length === 0) fail(fn, arg, `must be a non-empty array of integers, got ${describe(v)}`);
  v.forEach((d, i) => checkInteger(fn, `${arg}[${i}]`, d, min));
  return [...(v as number[])];
}

/** Validates {@link CnnOptions} into a {@link CnnConfig} (defaults filled in). */
export function cnnConfig(options: CnnOptions, fn = 'tl.cnn'): CnnConfig {
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, ['arch', 'inputShape', 'numClasses', 'channels', 'hidden', 'seed']);
  return {
    arch: 'cnn',
    inputShape: checkInputShape(fn, o['inputShape']),
    numClasses: checkInteger(fn, 'options.numClasses', o['numClasses'], 2),
    channels: checkIntList(fn, 'options.channels', o['channels'] ?? [32, 64], 1),
    hidden: checkInteger(fn, 'options.hidden', o['hidden'] ?? 128, 0),
    seed: checkSeed(fn, 'options.seed', o['seed'] ?? 0),
  };
}

/** Validates {@link ResNetOptions} into a {@link ResNetConfig} (defaults filled in). */
export function resnetConfig(options: ResNetOptions, fn = 'tl.resnet'): ResNetConfig {
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, ['arch', 'inputShape', 'numClasses', 'width', 'blocks', 'norm', 'seed']);
  return {
    arch: 'resnet-mini',
    inputShape: checkInputShape(fn, o['inputShape']),
    numClasses: checkInteger(fn, 'options.numClasses', o['numClasses'], 2),
    width: checkInteger(fn, 'options.width', o['width'] ?? 16, 1),
    blocks: checkIntList(fn, 'options.blocks', o['blocks'] ?? [1, 1, 1], 1),
    norm: checkOneOf(fn, 'options.norm', o['norm'] ?? 'batch', ['batch', 'none'] as const),
    seed: checkSeed(fn, 'options.seed', o['seed'] ?? 0),
  };
}

/**
 * A plain CNN: `conv1 … convK` (3×3 conv + ReLU + 2×2 max-pool each), `fc1` (dense + ReLU) and
 * the classifier `fc`.
 *
 * @example
 * ```ts
 * const model = tl.cnn({inputShape: [28, 28, 1], numClasses: 10, channels: [32, 64], hidden: 128, seed: 1});
 * model.moduleNames; // ['conv1', 'conv2', 'fc1', 'fc']
 * ```
 */
export function cnn(options: CnnOptions): NetModel {
  return new NetModel(cnnConfig(options));
}

/**
 * A small ResNet: `conv1` (3×3 conv, norm, ReLU), stages `layer1 … layerS` of basic residual
 * blocks (the first block of each later stage has stride 2 and a 1×1 projection), global average
 * pooling and the classifier `fc`. `norm: 'none'` uses Fixup initialisation instead of BatchNorm.
 *
 * @example
 * ```ts
 * const model = tl.resnet({inputShape: [28, 28, 1], numClasses: 10, width: 16, blocks: [1, 1, 1], seed: 1});
 * model.moduleNames; // ['conv1', 'layer1', 'layer2', 'layer3', 'fc']
 * ```
 */
export function resnet(options: ResNetOptions): NetModel {
  return new NetModel(resnetConfig(options));
}

/**
 * Builds a model from its config (as stored in a checkpoint manifest): seeded initialisation, or
 * the given weights and buffers.
 */
export function modelFromConfig(config: ModelConfig, from?: { weights: ReadonlyMap<string, tf.Tensor>; buffers?: ReadonlyMap<string, tf.Tensor> }): NetModel {
  const fn = 'tl.modelFromConfig';
  const o = checkObject(fn, 'config', config);
  if (o['arch'] === 'cnn') return new NetModel(cnnConfig(o as unknown as CnnOptions, fn), from);
  if (o['arch'] === 'resnet-mini') return new NetModel(resnetConfig(o as unknown as ResNetOptions, fn), from);
  return fail(fn, 'config.arch', `must be 'cnn' or 'resnet-mini', got ${describe(o['arch'])}`);
}

/** Whether `m` is a model built by this module (with config, buffers, withNewHead). */
export function isNetModel(m: unknown): m is NetModel {
  return m instanceof NetModel;
}
