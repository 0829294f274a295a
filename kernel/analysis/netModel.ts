/**
 * Small models for transfer experiments, on tfjs-core variables (not tf.layers) so that every
 * analysis addresses parameters and module outputs by name (see ./modelContract.ts): {@link NetModel},
 * built from a config of one of the architectures in ./architectures/ (registry.ts lists them),
 * and the builders {@link resnet}, {@link cnn} and {@link modelFromConfig}.
 *
 * Initialisation is seeded per parameter (a hash of the seed and the parameter name), so the same
 * seed gives the same weights on every backend and regardless of construction order.
 */
import { tf } from './tfjs';
import { DISPLAY } from './display';
import type { ForwardOptions, ForwardResult, Model, NamedWeights } from './modelContract';
import { moduleOf } from './modelContract';
import { InvalidArgumentError, ShapeMismatchError } from './errors';
import { checkInteger, checkObject, checkSeed, checkKeys, formatValue, fail, shapeStr } from './validate';
import type { Architecture, BaseConfig, ForwardPass, ParamSpec } from './architectures/architecture';
import { cnnConfig, type CnnOptions } from './architectures/cnn';
import { resnetConfig, type ResNetOptions } from './architectures/resnet';
import { architectureNamed, architectureNames, type ModelConfig } from './architectures/registry';

export { cnnConfig, type CnnConfig, type CnnOptions } from './architectures/cnn';
export { Norm, isNorm, resnetConfig, type ResNetConfig, type ResNetOptions } from './architectures/resnet';
export type { ModelConfig } from './architectures/registry';

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
class Pass implements ForwardPass {
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
  /** The classifier module, re-initialised by P-T. */
  readonly headModule = 'fc';
  private readonly architecture: Architecture<BaseConfig>;
  private readonly params: readonly ParamSpec[];
  private readonly bufferSpecs: readonly ParamSpec[];
  private readonly id = ++modelCounter;
  private disposed = false;

  /** Builds the model; weights come from `from` (all names required) or seeded initialisation. */
  constructor(config: ModelConfig, from?: { weights: ReadonlyMap<string, tf.Tensor>; buffers?: ReadonlyMap<string, tf.Tensor> }) {
    this.config = config;
    this.inputShape = config.inputShape;
    this.numClasses = config.numClasses;
    const architecture = architectureNamed(config.arch);
    if (!architecture) fail('NetModel', 'config.arch', `must be ${architectureNames().map((a) => `'${a}'`).join(' or ')}, got ${formatValue(config.arch)}`);
    this.architecture = architecture;
    const layout = architecture.layout(config);
    this.arch = architecture.modelArch(config);
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
    if (o['training'] !== undefined && typeof o['training'] !== 'boolean') fail(fn, 'options.training', `must be a boolean, got ${formatValue(o['training'])}`);
    const collect = options.collect ?? [];
    if (!Array.isArray(collect)) fail(fn, 'options.collect', `must be an array of module names, got ${formatValue(collect)}`);
    for (const c of collect) {
      if (!this.moduleNames.includes(c)) fail(fn, 'options.collect', `names unknown module ${formatValue(c)}; modules: ${this.moduleNames.join(', ')}`);
    }
    return this.run(x, options.training ? 'train' : 'eval', collect);
  }

  private run(x: tf.Tensor4D, mode: Mode, collect: readonly string[], calibration?: Pass['calibration']): ForwardResult {
    const names = [...new Set(collect)];
    const out = tf.tidy(() => {
      const pass = new Pass(this, mode, new Set(names), calibration);
      const logits = this.architecture.forward(this.config, pass, x);
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

  /**
   * The same architecture with a fresh seeded initialisation (`numClasses` classes when given):
   * RI-T's starting point.
   *
   * @example
   * ```ts
   * const ri = tl.resnet({inputShape: [28, 28, 1], numClasses: 10}).rebuild({seed: 2, numClasses: 5});
   * ```
   */
  rebuild(options: { readonly seed: number; readonly numClasses?: number }): NetModel {
    const fn = `${this.arch}.rebuild`;
    this.checkAlive(fn);
    const seed = checkSeed(fn, 'options.seed', options.seed);
    const numClasses = options.numClasses === undefined ? this.numClasses : checkInteger(fn, 'options.numClasses', options.numClasses, 2);
    return modelFromConfig({ ...this.config, numClasses, seed } as ModelConfig);
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
    const lines = [`${this.arch} (${this.architecture.summarize(this.config)}): ${this.parameterCount.toLocaleString('en-US')} parameters`];
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
    if (!(x instanceof tf.Tensor) || x.rank !== 4) fail(fn, arg, `must be an image batch [N, ${this.inputShape.join(', ')}], got ${formatValue(x)}`);
    if (x.isDisposed) fail(fn, arg, 'is a disposed tensor');
    const [, h, w, c] = x.shape;
    if (h !== this.inputShape[0] || w !== this.inputShape[1] || c !== this.inputShape[2]) {
      throw new ShapeMismatchError(fn, arg, `has shape ${shapeStr(x.shape)} but the model expects [N, ${this.inputShape.join(', ')}]`);
    }
    if (x.dtype !== 'float32') fail(fn, arg, `must be float32, got ${x.dtype}`);
  }
}

function checkWeights(fn: string, arg: string, weights: unknown, specs: readonly ParamSpec[]): void {
  if (!(weights instanceof Map)) fail(fn, arg, `must be a Map from parameter name to tensor, got ${formatValue(weights)}`);
  const known = new Set(specs.map((s) => s.name));
  for (const k of weights.keys()) {
    if (!known.has(k)) fail(fn, arg, `has unknown parameter '${String(k)}' (expected ${specs.length} named like '${specs[0]?.name ?? ''}')`);
  }
  const map = weights as ReadonlyMap<string, unknown>;
  for (const s of specs) {
    const t = map.get(s.name);
    if (t === undefined) fail(fn, arg, `is missing parameter '${s.name}' ${shapeStr(s.shape)}`);
    if (!(t instanceof tf.Tensor) || t.isDisposed) fail(fn, arg, `parameter '${s.name}' must be a live tensor, got ${formatValue(t)}`);
    if (t.shape.length !== s.shape.length || t.shape.some((d: number, i: number) => d !== s.shape[i])) {
      throw new ShapeMismatchError(fn, arg, `parameter '${s.name}' has shape ${shapeStr(t.shape)}, expected ${shapeStr(s.shape)}`);
    }
    if (t.dtype !== 'float32') fail(fn, arg, `parameter '${s.name}' must be float32, got ${t.dtype}`);
  }
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
 * A ResNet: `conv1` (3×3 conv, norm, ReLU; with `stem: 'imagenet'` a 7×7 stride-2 conv, norm,
 * ReLU and a 3×3 stride-2 max-pool), stages `layer1 … layerS` of basic residual blocks (the first
 * block of each later stage has stride 2 and a 1×1 projection), global average pooling and the
 * classifier `fc`. `norm: 'none'` uses Fixup initialisation instead of BatchNorm. Width 64,
 * blocks [2, 2, 2, 2] and the ImageNet stem make ResNet-18 (11,689,512 parameters for 1000 classes).
 *
 * @example
 * ```ts
 * const model = tl.resnet({inputShape: [28, 28, 1], numClasses: 10, width: 16, blocks: [1, 1, 1], seed: 1});
 * model.moduleNames; // ['conv1', 'layer1', 'layer2', 'layer3', 'fc']
 * const resnet18 = tl.resnet({inputShape: [224, 224, 3], numClasses: 1000, width: 64, blocks: [2, 2, 2, 2], stem: 'imagenet'});
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
  const architecture = architectureNamed(o['arch']);
  if (!architecture) fail(fn, 'config.arch', `must be ${architectureNames().map((a) => `'${a}'`).join(' or ')}, got ${formatValue(o['arch'])}`);
  return new NetModel(architecture.config(o, fn) as ModelConfig, from);
}

/** Whether `m` is a model built by this module (with config, buffers, withNewHead). */
export function isNetModel(m: unknown): m is NetModel {
  return m instanceof NetModel;
}
