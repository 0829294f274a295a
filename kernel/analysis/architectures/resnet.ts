/**
 * A small ResNet (`tl.resnet`): `conv1 → layer1 … layerS → global average pool → fc`, with
 * BatchNorm (`norm: 'batch'`) or without normalisation (`norm: 'none'`, Fixup initialisation and
 * scalar biases, as in the paper's Fixup ResNet-50).
 */
import { tf } from '../tfjs';
import { checkInteger, checkKeys, checkObject, checkOneOf, checkSeed } from '../validate';
import { checkInputShape, checkIntList, type Architecture, type ForwardPass, type Layout, type ParamSpec } from './architecture';

/** Normalisation in {@link resnet}: BatchNorm, or none (Fixup). */
export const Norm = { batch: 'batch', none: 'none' } as const;
export type Norm = (typeof Norm)[keyof typeof Norm];
export function isNorm(s: unknown): s is Norm {
  return s === 'batch' || s === 'none';
}

/**
 * The first module, `conv1`, of {@link resnet}: a 3×3 stride-1 convolution ('small', for
 * 28×28/32×32 images), or ResNet-18's ImageNet stem ('imagenet': a 7×7 stride-2 convolution, then
 * a 3×3 stride-2 max-pool; a quarter of the resolution).
 */
export type Stem = 'small' | 'imagenet';

export interface ResNetConfig {
  readonly arch: 'resnet-mini';
  readonly inputShape: readonly [number, number, number];
  readonly numClasses: number;
  /** Channels of conv1 and layer1; layer s has width·2^(s−1). */
  readonly width: number;
  /** Residual blocks per stage; stages after the first halve the resolution. */
  readonly blocks: readonly number[];
  readonly norm: Norm;
  readonly stem: Stem;
  readonly seed: number;
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
  /** Default 'small'; 'imagenet' with width 64 and blocks [2, 2, 2, 2] is ResNet-18. */
  readonly stem?: Stem;
  readonly seed?: number;
}

export function resnetConfig(options: ResNetOptions, fn = 'tl.resnet'): ResNetConfig {
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, ['arch', 'inputShape', 'numClasses', 'width', 'blocks', 'norm', 'stem', 'seed']);
  return {
    arch: 'resnet-mini',
    inputShape: checkInputShape(fn, o['inputShape']),
    numClasses: checkInteger(fn, 'options.numClasses', o['numClasses'], 2),
    width: checkInteger(fn, 'options.width', o['width'] ?? 16, 1),
    blocks: checkIntList(fn, 'options.blocks', o['blocks'] ?? [1, 1, 1], 1),
    norm: checkOneOf(fn, 'options.norm', o['norm'] ?? 'batch', ['batch', 'none'] as const),
    // Configs saved before the option existed have the small stem.
    stem: checkOneOf(fn, 'options.stem', o['stem'] ?? 'small', ['small', 'imagenet'] as const),
    seed: checkSeed(fn, 'options.seed', o['seed'] ?? 0),
  };
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
  conv('conv1/kernel', c.stem === 'imagenet' ? 7 : 3, cin0, c.width);
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

function resnetForward(c: ResNetConfig, pass: ForwardPass, x: tf.Tensor4D): tf.Tensor2D {
  const bn = c.norm === 'batch';
  const conv = (t: tf.Tensor4D, name: string, stride: number) => tf.conv2d(t, pass.p(name) as tf.Tensor4D, stride, 'same');
  const imagenet = c.stem === 'imagenet';
  let h = conv(x, 'conv1/kernel', imagenet ? 2 : 1);
  h = tf.relu(bn ? pass.bn('conv1/bn', h) : (tf.add(h, pass.p('conv1/bias')) as tf.Tensor4D));
  if (imagenet) h = tf.maxPool(h, 3, 2, 'same');
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

/** The ResNet in the architecture registry: `resnet-mini`, or `resnet-mini-nonorm` for models without BatchNorm. */
export const resnetArchitecture: Architecture<ResNetConfig> = {
  name: 'resnet-mini',
  config: (options, fn) => resnetConfig(options as ResNetOptions, fn),
  modelArch: (c) => (c.norm === Norm.batch ? 'resnet-mini' : 'resnet-mini-nonorm'),
  summarize: (c) => `width ${c.width}, blocks ${c.blocks.join('/')}, norm ${c.norm}${c.stem === 'imagenet' ? ', ImageNet stem' : ''}, ${c.numClasses} classes, seed ${c.seed}`,
  layout: resnetLayout,
  forward: resnetForward,
};
