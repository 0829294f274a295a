/**
 * `tl.toLayersModel`: the tf.layers equivalent of a `tl.cnn` or a `tl.resnet` (BatchNorm), with
 * its weights, so that TransferLab's models open in any TensorFlow.js program and checkpoints
 * carry a standard model.json. Layer names carry the module (`conv1`, `layer1/block0/conv1`,
 * `layer1/block0/bn1`, `fc`), so the tfjs weight names are the TransferLab parameter names (BatchNorm's
 * `moving_mean`/`moving_variance` for the buffers `mean`/`variance`) and `tl.fromLayersModel`
 * groups the layers back into the same modules.
 *
 * The ResNet without normalisation (`norm: 'none'`, Fixup) has scalar biases and a scalar gain per
 * block, which no built-in tf.layers layer holds: it has no equivalent here.
 */
import * as tfjs from '@tensorflow/tfjs';
import { tf } from './tfjs';
import type { ModelConfig, NetModel } from './netModel';
import { isNetModel } from './netModel';
import type { CnnConfig } from './architectures/cnn';
import type { ResNetConfig } from './architectures/resnet';
import { fail, formatValue } from './validate';

type Sym = tfjs.SymbolicTensor;

/** The tfjs weight name of a TransferLab parameter or buffer name. */
export function tfjsWeightName(name: string): string {
  return name.replace(/\/mean$/, '/moving_mean').replace(/\/variance$/, '/moving_variance');
}

/** Whether models of `config` have a tf.layers equivalent ({@link toLayersModel}). */
export function hasLayersEquivalent(config: ModelConfig): boolean {
  return config.arch === 'cnn' || (config.arch === 'resnet-mini' && config.norm === 'batch');
}

function cnnGraph(c: CnnConfig): tfjs.LayersModel {
  const input = tfjs.input({ shape: [...c.inputShape], name: 'input' });
  let h: Sym = input;
  c.channels.forEach((filters, i) => {
    const m = `conv${i + 1}`;
    h = tfjs.layers.conv2d({ name: m, filters, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(h) as Sym;
    h = tfjs.layers.maxPooling2d({ name: `${m}/pool`, poolSize: 2, strides: 2, padding: 'same' }).apply(h) as Sym;
  });
  h = tfjs.layers.flatten({ name: 'flatten' }).apply(h) as Sym;
  if (c.hidden > 0) h = tfjs.layers.dense({ name: 'fc1', units: c.hidden, activation: 'relu' }).apply(h) as Sym;
  const logits = tfjs.layers.dense({ name: 'fc', units: c.numClasses }).apply(h) as Sym;
  return tfjs.model({ name: 'cnn', inputs: input, outputs: logits });
}

function resnetGraph(c: ResNetConfig): tfjs.LayersModel {
  // BatchNorm as tl.resnet's: epsilon 1e-5, running averages with PyTorch's momentum 0.1 (Keras 0.9).
  const bn = (name: string, x: Sym) => tfjs.layers.batchNormalization({ name, epsilon: 1e-5, momentum: 0.9 }).apply(x) as Sym;
  const conv = (name: string, x: Sym, filters: number, k: number, stride: number) =>
    tfjs.layers.conv2d({ name, filters, kernelSize: k, strides: stride, padding: 'same', useBias: false }).apply(x) as Sym;
  const relu = (name: string, x: Sym) => tfjs.layers.activation({ name, activation: 'relu' }).apply(x) as Sym;
  const input = tfjs.input({ shape: [...c.inputShape], name: 'input' });
  const imagenet = c.stem === 'imagenet';
  let h = relu('conv1/relu', bn('conv1/bn', conv('conv1', input, c.width, imagenet ? 7 : 3, imagenet ? 2 : 1)));
  if (imagenet) h = tfjs.layers.maxPooling2d({ name: 'conv1/pool', poolSize: 3, strides: 2, padding: 'same' }).apply(h) as Sym;
  let ch = c.width;
  c.blocks.forEach((nBlocks, s) => {
    const out = c.width * 2 ** s;
    for (let b = 0; b < nBlocks; b++) {
      const p = `layer${s + 1}/block${b}`;
      const stride = s > 0 && b === 0 ? 2 : 1;
      let y = relu(`${p}/relu1`, bn(`${p}/bn1`, conv(`${p}/conv1`, h, out, 3, stride)));
      y = bn(`${p}/bn2`, conv(`${p}/conv2`, y, out, 3, 1));
      const shortcut = stride !== 1 || ch !== out ? bn(`${p}/shortcut/bn`, conv(`${p}/shortcut`, h, out, 1, stride)) : h;
      h = relu(`${p}/relu`, tfjs.layers.add({ name: `${p}/add` }).apply([y, shortcut]) as Sym);
      ch = out;
    }
  });
  const pooled = tfjs.layers.globalAveragePooling2d({ name: 'pool' }).apply(h) as Sym;
  const logits = tfjs.layers.dense({ name: 'fc', units: c.numClasses }).apply(pooled) as Sym;
  return tfjs.model({ name: 'resnet_mini', inputs: input, outputs: logits });
}

/** The tf.layers graph of a config, without its weights (fresh tfjs initialisation). */
export function layersGraphOf(c: ModelConfig, fn: string): tfjs.LayersModel {
  if (c.arch === 'cnn') return cnnGraph(c);
  if (c.norm === 'batch') return resnetGraph(c);
  return fail(fn, 'model', `(resnet-mini-nonorm) has Fixup's scalar biases and gains, which no built-in tf.layers layer holds: only tl.cnn and tl.resnet with BatchNorm have a tf.layers equivalent`);
}

/**
 * The tf.layers equivalent of a `tl.cnn` or `tl.resnet` (with BatchNorm), holding a copy of its
 * weights and BatchNorm statistics: the same logits in evaluation mode, up to float rounding.
 * Save it with `model.save(...)`, serve it to a browser, or wrap it back with
 * `tl.fromLayersModel` (same module and parameter names). The ResNet without normalisation has no
 * equivalent (an error says so).
 *
 * @example
 * ```ts
 * const net = tl.resnet({inputShape: [28, 28, 1], numClasses: 10, width: 8, blocks: [1, 1]});
 * const lm = tl.toLayersModel(net);        // a tf.LayersModel
 * const back = tl.fromLayersModel(lm);     // modules conv1, layer1, layer2, fc
 * ```
 */
export function toLayersModel(model: NetModel): tfjs.LayersModel {
  const fn = 'tl.toLayersModel';
  if (!isNetModel(model)) fail(fn, 'model', `must be a model from tl.cnn or tl.resnet, got ${formatValue(model)}`);
  if (model.isDisposed) fail(fn, 'model', 'is a disposed model');
  const lm = layersGraphOf(model.config, fn);
  const ours = new Map<string, tf.Tensor>();
  for (const [k, v] of model.variables) ours.set(tfjsWeightName(k), v);
  for (const [k, v] of model.buffers) ours.set(tfjsWeightName(k), v);
  for (const w of lm.weights) {
    const v = ours.get(w.originalName);
    if (!v) {
      lm.dispose();
      throw new Error(`internal: ${fn}: no TransferLab tensor for tfjs weight ${w.originalName}`);
    }
    w.write(v);
  }
  return lm;
}
