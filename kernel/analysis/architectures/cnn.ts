/**
 * A plain CNN (`tl.cnn`): `conv1 … convK` (3×3 conv + ReLU + 2×2 max-pool each), an optional
 * hidden dense layer `fc1` (ReLU) and the classifier `fc`.
 */
import { tf } from '../tfjs';
import { convReluPool } from '../fusedOps';
import { checkInteger, checkKeys, checkObject, checkSeed } from '../validate';
import { checkInputShape, checkIntList, type Architecture, type ForwardPass, type Layout, type ParamSpec } from './architecture';

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

function cnnForward(c: CnnConfig, pass: ForwardPass, x: tf.Tensor4D): tf.Tensor2D {
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

/** The CNN in the architecture registry. */
export const cnnArchitecture: Architecture<CnnConfig> = {
  name: 'cnn',
  config: (options, fn) => cnnConfig(options as CnnOptions, fn),
  modelArch: () => 'cnn',
  summarize: (c) => `channels ${c.channels.join('/')}, hidden ${c.hidden}, ${c.numClasses} classes, seed ${c.seed}`,
  layout: cnnLayout,
  forward: cnnForward,
};
