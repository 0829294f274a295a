// Bring your own model: tf.layers models (functional with a skip connection and BatchNorm,
// Sequential, nested) and graph models, loaded from TensorFlow.js files on disk and over http,
// wrapped by tl.fromLayersModel / tl.fromGraphModel, and every analysis run on them, checked
// against the same analysis on the equivalent tl.resnet / tl.cnn with the same weights.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync, existsSync, unlinkSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as tfjs from '@tensorflow/tfjs';
import { tf } from '../../kernel/analysis/tfjs';
import { initBackend } from '../../kernel/analysis/backends';
import { cnn, resnet, isNetModel, type NetModel } from '../../kernel/analysis/netModel';
import { synthetic } from '../../kernel/analysis/dataLoaders';
import { train, evaluate } from '../../kernel/analysis/train';
import { fineTune, trainFromScratch, compareTransfer } from '../../kernel/analysis/transfer';
import { saveModel, loadModel, loadCheckpoint, saveCheckpoint, checkpointSweep } from '../../kernel/analysis/checkpointSweep';
import { matrix as ckaMatrix } from '../../kernel/analysis/cka';
import { distance, distances } from '../../kernel/analysis/distance';
import { interpolate, interpolateAll } from '../../kernel/analysis/interpolate';
import { criticality } from '../../kernel/analysis/criticality';
import { curvature } from '../../kernel/analysis/curvature';
import { fromLayersModel, LayersModelAdapter } from '../../kernel/analysis/layersModel';
import { fromGraphModel, GraphModelAdapter } from '../../kernel/analysis/graphModel';
import { toLayersModel } from '../../kernel/analysis/layersExport';
import { modelFiles } from '../../kernel/analysis/modelFiles';
import { CheckpointError, InvalidArgumentError, ShapeMismatchError } from '../../kernel/analysis/errors';
import type { Model } from '../../kernel/analysis/modelContract';
import { assertNoLeak } from './leak';

type Sym = tfjs.SymbolicTensor;
const SIZE = 12;
const task = (n: number, seed: number, classes = 3) => synthetic({ kind: 'textures', n, classes, size: [SIZE, SIZE], noise: 0.05, seed });
const tmpRoot = mkdtempSync(path.join(os.tmpdir(), 'tl-layers-'));
const quiet = { progress: false } as const;

before(async () => {
  await initBackend('wasm');
});
after(() => rmSync(tmpRoot, { recursive: true, force: true }));

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}
function logitsDiff(a: Model, b: Model, x: tf.Tensor4D): number {
  const ra = a.forward(x);
  const rb = b.forward(x);
  try {
    return maxDiff(ra.logits, rb.logits);
  } finally {
    tf.dispose([ra.logits, rb.logits]);
  }
}
function close(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${what}: ${actual} vs ${expected}`);
}

/**
 * A Keras-style functional ResNet (own layer names, a skip connection with BatchNorm, a final
 * softmax), architecturally `tl.resnet({width: 4, blocks: [1, 1]})`: block1 keeps the width
 * (identity shortcut), block2 halves the resolution with a 1×1 projection.
 */
function kerasResNet(classes: number): tfjs.LayersModel {
  const bn = (name: string, x: Sym) => tfjs.layers.batchNormalization({ name, epsilon: 1e-5, momentum: 0.9 }).apply(x) as Sym;
  const conv = (name: string, x: Sym, filters: number, k: number, strides: number) => tfjs.layers.conv2d({ name, filters, kernelSize: k, strides, padding: 'same', useBias: false }).apply(x) as Sym;
  const relu = (name: string, x: Sym) => tfjs.layers.reLU({ name }).apply(x) as Sym;
  const input = tfjs.input({ shape: [SIZE, SIZE, 1], name: 'image' });
  let h = relu('stem_relu', bn('stem_bn', conv('stem_conv', input, 4, 3, 1)));
  let y = relu('block1_relu1', bn('block1_bn1', conv('block1_conv1', h, 4, 3, 1)));
  y = bn('block1_bn2', conv('block1_conv2', y, 4, 3, 1));
  h = relu('block1_out', tfjs.layers.add({ name: 'block1_add' }).apply([y, h]) as Sym);
  y = relu('block2_relu1', bn('block2_bn1', conv('block2_conv1', h, 8, 3, 2)));
  y = bn('block2_bn2', conv('block2_conv2', y, 8, 3, 1));
  const proj = bn('block2_proj_bn', conv('block2_proj', h, 8, 1, 2));
  h = relu('block2_out', tfjs.layers.add({ name: 'block2_add' }).apply([y, proj]) as Sym);
  const pooled = tfjs.layers.globalAveragePooling2d({ name: 'pool' }).apply(h) as Sym;
  const probs = tfjs.layers.dense({ name: 'logits', units: classes, activation: 'softmax' }).apply(pooled) as Sym;
  return tfjs.model({ name: 'keras_resnet', inputs: input, outputs: probs });
}
/** tl.resnet parameter (or buffer) name → the Keras-style model's weight name. */
function kerasName(name: string): string {
  const bnShort = (s: string) => (s === 'mean' ? 'moving_mean' : s === 'variance' ? 'moving_variance' : s);
  const parts = name.split('/');
  const last = bnShort(parts[parts.length - 1]!);
  if (parts[0] === 'conv1') return parts[1] === 'bn' ? `stem_bn/${last}` : 'stem_conv/kernel';
  if (parts[0] === 'fc') return `logits/${last}`;
  const block = `block${parts[0]!.slice(5)}`;
  const rest = parts.slice(2, -1).join('/');
  const layer = { conv1: 'conv1', bn1: 'bn1', conv2: 'conv2', bn2: 'bn2', shortcut: 'proj', 'shortcut/bn': 'proj_bn' }[rest];
  assert.ok(layer, `no Keras layer for ${name}`);
  return `${block}_${layer}/${last}`;
}
function copyInto(net: NetModel, lm: tfjs.LayersModel, nameOf: (n: string) => string): void {
  const byName = new Map(lm.weights.map((w) => [w.originalName, w]));
  const all = [...net.variables, ...net.buffers];
  assert.equal(all.length, lm.weights.length, 'the Keras model has exactly the tl model\'s tensors');
  for (const [k, v] of all) {
    const w = byName.get(nameOf(k));
    assert.ok(w, `no weight ${nameOf(k)}`);
    w.write(v);
  }
}

/** Saves a tf.LayersModel as TensorFlow.js files (model.json + two weight shards), as tfjs's own writers do. */
async function saveTfjs(lm: tfjs.LayersModel, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await lm.save(
    tfjs.io.withSaveHandler(async (artifacts) => {
      const data = artifacts.weightData!;
      const bytes = Buffer.concat((Array.isArray(data) ? data : [data]).map((b) => Buffer.from(b)));
      const half = Math.floor(bytes.length / 8) * 4;
      writeFileSync(path.join(dir, 'group1-shard1of2.bin'), bytes.subarray(0, half));
      writeFileSync(path.join(dir, 'group1-shard2of2.bin'), bytes.subarray(half));
      const json = { format: 'layers-model', generatedBy: 'test', modelTopology: artifacts.modelTopology, weightsManifest: [{ paths: ['group1-shard1of2.bin', 'group1-shard2of2.bin'], weights: artifacts.weightSpecs }] };
      writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
}

const RESNET_MODULES = { conv1: /^stem_/, layer1: /^block1_/, layer2: /^block2_/, fc: ['logits'] };

interface Pair {
  net: NetModel;
  wrapped: LayersModelAdapter;
}
/** A tl.resnet with non-trivial BatchNorm statistics and the Keras-style model holding its weights, saved to disk and loaded with tl.loadModel. */
async function resnetPair(seed: number, calib: tf.Tensor4D): Promise<Pair> {
  const net = resnet({ inputShape: [SIZE, SIZE, 1], numClasses: 3, width: 4, blocks: [1, 1], seed });
  net.recalibrate(calib);
  const lm = kerasResNet(3);
  copyInto(net, lm, kerasName);
  const dir = path.join(tmpRoot, `keras-resnet-${seed}`);
  await saveTfjs(lm, dir);
  lm.dispose();
  const wrapped = await loadModel(dir, { modules: RESNET_MODULES, head: 'logits' });
  assert.ok(wrapped instanceof LayersModelAdapter);
  return { net, wrapped };
}

test('a functional tfjs model with a skip connection and BatchNorm, saved and loaded: the same logits, modules and BatchNorm buffers as the equivalent tl.resnet', async () => {
  const data = task(24, 1);
  const { net, wrapped } = await resnetPair(4, data.x);
  try {
    assert.deepEqual(wrapped.moduleNames, ['conv1', 'layer1', 'layer2', 'fc']);
    assert.equal(wrapped.headModule, 'fc');
    assert.equal(wrapped.softmax, 'removed');
    assert.deepEqual([...wrapped.inputShape], [SIZE, SIZE, 1]);
    assert.equal(wrapped.numClasses, 3);
    // Contract names: <module>/<layer>/<weight>; BatchNorm statistics are buffers named …/mean, …/variance.
    assert.ok(wrapped.variables.has('conv1/stem_conv/kernel'));
    assert.ok(wrapped.variables.has('layer2/block2_proj_bn/gamma'));
    assert.ok(wrapped.buffers.has('conv1/stem_bn/mean') && wrapped.buffers.has('layer2/block2_proj_bn/variance'));
    assert.equal(wrapped.variables.size, net.variables.size);
    assert.equal(wrapped.buffers.size, net.buffers.size);
    assert.deepEqual(wrapped.modules['layer1'], ['block1_conv1', 'block1_bn1', 'block1_relu1', 'block1_conv2', 'block1_bn2', 'block1_add', 'block1_out']);
    const x = task(10, 2).x;
    assert.ok(logitsDiff(wrapped, net, x) < 1e-5, 'logits (before the softmax) equal the ResNet\'s');
    // Module outputs are those of the ResNet's modules (after the block's final ReLU).
    const names = [...net.moduleNames];
    await assertNoLeak('forward with collect', () => {
      const a = wrapped.forward(x, { collect: names });
      const b = net.forward(x, { collect: names });
      for (const m of names) assert.ok(maxDiff(a.activations.get(m)!, b.activations.get(m)!) < 1e-5, `module ${m}`);
      tf.dispose([a.logits, b.logits, ...a.activations.values(), ...b.activations.values()]);
    });
    // recalibrate computes the same statistics as the ResNet's.
    const other = task(20, 9).x;
    net.recalibrate(other, { batchSize: 8 });
    await assertNoLeak('recalibrate', () => wrapped.recalibrate(other, { batchSize: 8 }));
    for (const [k, v] of net.buffers) {
      const w = wrapped.buffers.get(`${k.split('/')[0]}/${kerasName(k).replace('/moving_', '/')}`);
      assert.ok(w, `buffer for ${k}`);
      assert.ok(maxDiff(v, w) < 1e-5, `recalibrated ${k}`);
    }
    assert.ok(logitsDiff(wrapped, net, x) < 1e-5, 'equal after recalibration');
    // The weights are the layers' own: the tf.LayersModel gives softmax(logits).
    const probs = wrapped.layersModel.predict(x) as tf.Tensor;
    const ours = wrapped.forward(x).logits;
    assert.ok(maxDiff(probs, tf.softmax(ours)) < 1e-6);
    tf.dispose([probs, ours]);
    // clone, withNewHead, rebuild, loading and dispose leave no tensors behind.
    await assertNoLeak('clone + dispose', () => wrapped.clone().dispose());
    await assertNoLeak('withNewHead + dispose', () => wrapped.withNewHead(5, 1).dispose());
    await assertNoLeak('rebuild + dispose', () => wrapped.rebuild({ seed: 1 }).dispose());
    await assertNoLeak('loadModel + dispose', async () => (await loadModel(path.join(tmpRoot, 'keras-resnet-4'), { modules: RESNET_MODULES })).dispose());
    assert.match(String(wrapped), /layers:keras_resnet \(tf.layers, 3 classes, logits before the final softmax\)/);
  } finally {
    net.dispose();
    wrapped.dispose();
  }
});

test('every analysis on the wrapped model equals the same analysis on the equivalent tl.resnet', async () => {
  const calib = task(32, 1);
  const A = await resnetPair(4, calib.x);
  const B = await resnetPair(5, calib.x);
  const heldOut = task(24, 3);
  const x = heldOut.x;
  try {
    // CKA, module × module.
    const before = tf.memory().numTensors;
    const cw = await ckaMatrix(A.wrapped, B.wrapped, x);
    assert.equal(tf.memory().numTensors, before, 'cka.matrix leaks nothing');
    const cr = await ckaMatrix(A.net, B.net, x);
    for (const r of A.net.moduleNames) for (const c of B.net.moduleNames) close(cw.get(r, c), cr.get(r, c), 1e-4, `CKA ${r} × ${c}`);
    // Distances per module, head flagged by the wrapped model's head module.
    const dw = await distance(A.wrapped, B.wrapped);
    const dr = await distance(A.net, B.net);
    for (const m of dr.pairs[0]!.modules) {
      const w = dw.pairs[0]!.modules.find((q) => q.module === m.module)!;
      close(w.distance, m.distance, 1e-5, `distance ${m.module}`);
      assert.equal(w.parameters, m.parameters);
      assert.equal(w.head, m.head);
    }
    close(dw.pairs[0]!.totalWithoutHead, dr.pairs[0]!.totalWithoutHead, 1e-5, 'total without head');
    const dd = await distances([{ label: 'A/B', a: A.wrapped, b: B.wrapped }]);
    close(dd.get('layer1'), dr.get('layer1'), 1e-5, 'distances');
    // Interpolation with BatchNorm recomputed at every λ on the training images.
    const iw = await interpolate(A.wrapped, B.wrapped, heldOut, { lambdas: 5, recalibrationData: calib.x, batchSize: 16 });
    const ir = await interpolate(A.net, B.net, heldOut, { lambdas: 5, recalibrationData: calib.x, batchSize: 16 });
    assert.equal(iw.curves[0]!.recalibrated, true);
    iw.curves[0]!.loss.forEach((l, i) => close(l, ir.curves[0]!.loss[i]!, 1e-4, `interpolation loss at λ ${i}`));
    close(iw.curves[0]!.barrier, ir.curves[0]!.barrier, 1e-4, 'barrier');
    const all = await interpolateAll([{ label: 'A-B', a: A.wrapped, b: B.wrapped }], heldOut, { lambdas: 3, recalibrationData: calib.x });
    close(all.curves[0]!.loss[1]!, (await interpolate(A.net, B.net, heldOut, { lambdas: 3, recalibrationData: calib.x })).curves[0]!.loss[1]!, 1e-4, 'interpolateAll');
    // Criticality: rewinding a module of A towards B (as θ⁰), with the BatchNorm statistics recomputed.
    const opts = { modules: ['conv1', 'layer2'], alphas: 3, sigmas: [0.05], samples: 1, seed: 4, batchSize: 16 };
    const kw = await criticality(A.wrapped, B.wrapped, calib, opts);
    const kr = await criticality(A.net, B.net, calib, opts);
    assert.equal(kw.recalibration.recalibrated, true);
    for (const m of kr.modules) {
      const w = kw.modules.find((q) => q.module === m.module)!;
      close(w.rewoundLoss, m.rewoundLoss, 1e-4, `rewound loss ${m.module}`);
      close(w.distance, m.distance, 1e-5, `rewind distance ${m.module}`);
    }
    close(kw.baseLoss, kr.baseLoss, 1e-4, 'criticality base loss');
  } finally {
    for (const p of [A, B]) {
      p.net.dispose();
      p.wrapped.dispose();
    }
  }
});

test('P-T and RI-T on a wrapped model: fine-tuning matches tl.resnet step for step, RI-T rebuilds the architecture with seeded initialisation', async () => {
  const calib = task(32, 1);
  const { net, wrapped } = await resnetPair(4, calib.x);
  const target = task(48, 6);
  const target2 = task(40, 7, 2);
  try {
    // P-T keeping the head (same classes): the same training as the ResNet's.
    const o = { epochs: 1, batchSize: 16, lr: 0.05, seed: 1, reinitHead: false, ...quiet };
    const pw = await fineTune(wrapped, target, o);
    const pr = await fineTune(net, target, o);
    assert.ok(pw.model instanceof LayersModelAdapter, 'P-T of a wrapped model is a wrapped model');
    close(pw.history.at(-1)!.loss, pr.history.at(-1)!.loss, 1e-3, 'P-T training loss');
    assert.ok(logitsDiff(pw.model, pr.model, calib.x) < 1e-3, 'P-T models agree');
    assert.ok(logitsDiff(wrapped, net, calib.x) < 1e-5, 'the pre-trained model is not modified');
    // P-T with a new head for a 2-class target: the head layer is resized and re-initialised, the rest copied.
    const start = wrapped.withNewHead(2, 3);
    assert.equal(start.numClasses, 2);
    const ws = wrapped.getWeights();
    const ss = start.getWeights();
    for (const [k, v] of ws) if (!k.startsWith('fc/')) assert.equal(maxDiff(v, ss.get(k)!), 0, `${k} copied`);
    assert.deepEqual(ss.get('fc/logits/kernel')!.shape, [8, 2]);
    const again = wrapped.withNewHead(2, 3);
    assert.equal(maxDiff(again.getWeights().get('fc/logits/kernel')!, ss.get('fc/logits/kernel')!), 0, 'the head is seeded');
    tf.dispose([...ws.values(), ...ss.values()]);
    start.dispose();
    again.dispose();
    const pt2 = await fineTune(wrapped, target2, { epochs: 1, batchSize: 16, seed: 2, ...quiet });
    assert.equal(pt2.model.numClasses, 2);
    // RI-T: the same architecture, fresh weights; one seed gives one model.
    const r1 = await trainFromScratch(wrapped, target2, { epochs: 1, batchSize: 16, seed: 5, ...quiet });
    const r2 = await trainFromScratch(pw, target2, { epochs: 1, batchSize: 16, seed: 5, ...quiet });
    const r3 = await trainFromScratch(wrapped, target2, { epochs: 1, batchSize: 16, seed: 6, ...quiet });
    assert.ok(r1.model instanceof LayersModelAdapter);
    assert.deepEqual(r1.model.moduleNames, wrapped.moduleNames);
    assert.equal(r1.model.numClasses, 2);
    assert.equal(logitsDiff(r1.model, r2.model, calib.x), 0, 'RI-T with one seed is reproducible');
    assert.ok(logitsDiff(r1.model, r3.model, calib.x) > 1e-3, 'another seed, another model');
    // compareTransfer: P-T and RI-T per seed.
    const cmp = await compareTransfer(wrapped, target2, { seeds: [0], epochs: 1, batchSize: 16, ...quiet });
    assert.equal(cmp.pt.length, 1);
    assert.equal(cmp.rit.length, 1);
    assert.ok(cmp.rit[0]!.model instanceof LayersModelAdapter);
    const ref = wrapped.withNewHead(2, 0);
    const dist = await distance(cmp.pt[0]!.model, ref);
    const distRit = await distance(cmp.rit[0]!.model, ref);
    ref.dispose();
    assert.ok(dist.pairs[0]!.totalWithoutHead < distRit.pairs[0]!.totalWithoutHead, 'P-T stays nearer the pre-trained weights than RI-T');
    for (const r of [pw, pr, pt2, r1, r2, r3]) r.dispose();
    cmp.dispose();
  } finally {
    net.dispose();
    wrapped.dispose();
  }
});

test('checkpoints and saved models of a wrapped model: checkpointSweep, save/load round trips, and TransferLab folders that tf.loadLayersModel opens', async () => {
  const calib = task(32, 1);
  const { net, wrapped } = await resnetPair(4, calib.x);
  const x = task(8, 2).x;
  const dir = path.join(tmpRoot, 'saved');
  try {
    // A pre-training run with checkpoints, swept.
    const source = task(48, 8);
    const target = task(32, 9, 2);
    const pre = await train(wrapped.clone(), source, { epochs: 2, batchSize: 16, lr: 0.05, checkpoints: [0, 2], ...quiet });
    const sweep = await checkpointSweep(pre, target, { epochs: 1, batchSize: 16, test: task(24, 10, 2), ...quiet });
    assert.deepEqual(sweep.rows.map((r) => r.epoch), [0, 2]);
    assert.ok(sweep.rows.every((r) => r.meanAccuracy >= 0 && r.meanAccuracy <= 1));
    // A checkpoint of the run, saved and loaded: the wrapped architecture comes back with the weights and statistics.
    await saveCheckpoint(pre.checkpoint(2), path.join(dir, 'ckpt'));
    const ckpt = await loadCheckpoint(path.join(dir, 'ckpt'));
    const fromCkpt = ckpt.toModel();
    assert.ok(fromCkpt instanceof LayersModelAdapter);
    assert.ok(logitsDiff(fromCkpt, pre.model, x) < 1e-6);
    fromCkpt.dispose();
    ckpt.dispose();
    pre.dispose();
    // saveModel / loadModel of the wrapped model: layout, weights, BatchNorm statistics.
    await saveModel(wrapped, path.join(dir, 'wrapped'));
    const back = await loadModel(path.join(dir, 'wrapped'));
    assert.ok(back instanceof LayersModelAdapter);
    assert.deepEqual(back.moduleNames, wrapped.moduleNames);
    assert.deepEqual(back.layout, wrapped.layout);
    assert.equal(logitsDiff(back, wrapped, x), 0);
    for (const [k, v] of wrapped.buffers) assert.equal(maxDiff(v, back.buffers.get(k)!), 0, k);
    back.dispose();
    // The same folder is a TensorFlow.js model: tf.loadLayersModel reads it (through tl.modelFiles under Node).
    const plain = await tfjs.loadLayersModel(modelFiles(path.join(dir, 'wrapped')));
    const p1 = plain.predict(x) as tf.Tensor;
    const p2 = wrapped.layersModel.predict(x) as tf.Tensor;
    assert.equal(maxDiff(p1, p2), 0);
    tf.dispose([p1, p2]);
    plain.dispose();
    // Our own tl.resnet and tl.cnn save to the same format: tf.loadLayersModel gives their logits.
    const small = cnn({ inputShape: [SIZE, SIZE, 1], numClasses: 3, channels: [4, 8], hidden: 8, seed: 3 });
    for (const [name, m] of [['resnet', net], ['cnn', small]] as const) {
      await saveModel(m, path.join(dir, name));
      const json = JSON.parse(readFileSync(path.join(dir, name, 'model.json'), 'utf8'));
      assert.equal(json.format, 'layers-model');
      assert.deepEqual(json.weightsManifest[0].paths, ['weights.bin']);
      const lm = await tfjs.loadLayersModel(modelFiles(path.join(dir, name)));
      const lp = lm.predict(x) as tf.Tensor;
      const ours = m.forward(x).logits;
      assert.ok(maxDiff(lp, ours) < 1e-5, `${name}: tf.loadLayersModel gives the model's logits`);
      tf.dispose([lp, ours]);
      lm.dispose();
      const again = await loadModel(path.join(dir, name));
      assert.ok(isNetModel(again), `${name}: tl.loadModel still gives TransferLab's own model`);
      again.dispose();
    }
    // tl.toLayersModel: the same, in memory; wrapped back it has the tl model's names.
    const lm = toLayersModel(net);
    const round = fromLayersModel(lm);
    assert.deepEqual(round.moduleNames, [...net.moduleNames]);
    assert.deepEqual([...round.variables.keys()].sort(), [...net.variables.keys()].sort());
    assert.deepEqual([...round.buffers.keys()].sort(), [...net.buffers.keys()].sort());
    assert.ok(logitsDiff(round, net, x) < 1e-5);
    round.dispose();
    // Fixup has no tf.layers equivalent: saved with weights only, and toLayersModel says why.
    const fixup = resnet({ inputShape: [SIZE, SIZE, 1], numClasses: 3, width: 4, blocks: [1], norm: 'none' });
    assert.throws(() => toLayersModel(fixup), /tl.toLayersModel: model \(resnet-mini-nonorm\) has Fixup's scalar biases/);
    await saveModel(fixup, path.join(dir, 'fixup'));
    const fj = JSON.parse(readFileSync(path.join(dir, 'fixup', 'model.json'), 'utf8'));
    assert.equal(fj.format, 'transferlab-weights');
    assert.equal(fj.modelTopology, null);
    assert.equal(fj.weightsManifest[0].weights.length, fixup.variables.size);
    fixup.dispose();
    small.dispose();
  } finally {
    net.dispose();
    wrapped.dispose();
  }
});

test('a Sequential model ending in a softmax equals the equivalent tl.cnn; CKA and curvature on both agree', async () => {
  const net = cnn({ inputShape: [SIZE, SIZE, 1], numClasses: 3, channels: [4], hidden: 0, seed: 7 });
  const seq = tfjs.sequential({
    name: 'seq',
    layers: [
      tfjs.layers.conv2d({ name: 'c1', inputShape: [SIZE, SIZE, 1], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tfjs.layers.maxPooling2d({ name: 'c1_pool', poolSize: 2, strides: 2, padding: 'same' }),
      tfjs.layers.flatten({ name: 'flat' }),
      tfjs.layers.dense({ name: 'out', units: 3 }),
      tfjs.layers.softmax({ name: 'probs' }),
    ],
  });
  copyInto(net, seq, (n) => n.replace(/^conv1\//, 'c1/').replace(/^fc\//, 'out/'));
  const dir = path.join(tmpRoot, 'seq');
  await saveTfjs(seq, dir);
  seq.dispose();
  const m = await loadModel(dir, { modules: { conv1: /^c1/, fc: 'out' } });
  const x = task(16, 4).x;
  try {
    assert.ok(m instanceof LayersModelAdapter);
    assert.deepEqual(m.moduleNames, ['conv1', 'fc']);
    assert.equal(m.softmax, 'removed');
    assert.ok(logitsDiff(m, net, x) < 1e-5, 'logits are the input of the final Softmax layer');
    const a = await ckaMatrix(m, m, x);
    const b = await ckaMatrix(net, net, x);
    close(a.get('conv1', 'fc'), b.get('conv1', 'fc'), 1e-4, 'CKA conv1 × fc');
    // Curvature (Hessian of the loss per module) too.
    const labelled = task(16, 4);
    const hw = await curvature(m, labelled, { modules: ['fc'], seed: 1 });
    const hr = await curvature(net, labelled, { modules: ['fc'], seed: 1 });
    close(hw.module('fc').topEigenvalue, hr.module('fc').topEigenvalue, 1e-4, 'top Hessian eigenvalue of fc');
    // The default grouping: every layer with weights is a module.
    const byLayer = fromLayersModel(m.layersModel);
    assert.deepEqual(byLayer.moduleNames, ['c1', 'out']);
    assert.ok(byLayer.variables.has('c1/kernel') && byLayer.variables.has('out/bias'));
  } finally {
    m.dispose();
    net.dispose();
  }
});

test('a model nesting a Sequential block: its layers are modules, BatchNorm inside it is recalibrated, clone, rebuild and save work', async () => {
  const inner = tfjs.sequential({
    name: 'inner',
    layers: [tfjs.layers.conv2d({ name: 'inner_conv', inputShape: [SIZE, SIZE, 4], filters: 4, kernelSize: 3, padding: 'same' }), tfjs.layers.batchNormalization({ name: 'inner_bn' })],
  });
  const input = tfjs.input({ shape: [SIZE, SIZE, 1] });
  const stem = tfjs.layers.conv2d({ name: 'stem', filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(input) as Sym;
  const sum = tfjs.layers.add({ name: 'skip' }).apply([stem, inner.apply(stem) as Sym]) as Sym;
  const pooled = tfjs.layers.globalAveragePooling2d({ name: 'gap' }).apply(sum) as Sym;
  const out = tfjs.layers.dense({ name: 'head', units: 3 }).apply(pooled) as Sym;
  const model = tfjs.model({ name: 'nested', inputs: input, outputs: out });
  const m = fromLayersModel(model);
  const x = task(12, 5).x;
  try {
    assert.deepEqual(m.moduleNames, ['stem', 'inner_conv', 'inner_bn', 'head']);
    assert.ok(m.buffers.has('inner_bn/mean'));
    // A module inside the nested model: its output is the inner model's output on the stem's.
    const r = m.forward(x, { collect: ['stem', 'inner_bn'] });
    const ref = inner.predict(r.activations.get('stem')!) as tf.Tensor;
    assert.ok(maxDiff(r.activations.get('inner_bn')!, ref) < 1e-6);
    const pred = model.predict(x) as tf.Tensor;
    assert.ok(maxDiff(r.logits, pred) < 1e-6);
    tf.dispose([ref, pred, r.logits, ...r.activations.values()]);
    m.recalibrate(x, { batchSize: 5 });
    const stemOut = m.forward(x, { collect: ['inner_conv'] });
    const conv = stemOut.activations.get('inner_conv')!;
    const mean = tf.mean(conv, [0, 1, 2]);
    assert.ok(maxDiff(m.buffers.get('inner_bn/mean')!, mean) < 1e-5, 'the moving mean is the exact mean over the images');
    tf.dispose([stemOut.logits, conv, mean]);
    const c = m.clone();
    assert.equal(logitsDiff(c, m, x), 0);
    const f1 = m.rebuild({ seed: 2 });
    const f2 = m.rebuild({ seed: 2 });
    assert.equal(logitsDiff(f1, f2, x), 0);
    assert.ok(logitsDiff(f1, m, x) > 0);
    await saveModel(m, path.join(tmpRoot, 'nested'));
    const back = await loadModel(path.join(tmpRoot, 'nested'));
    assert.deepEqual(back.moduleNames, m.moduleNames);
    assert.equal(logitsDiff(back, m, x), 0);
    for (const t of [c, f1, f2, back]) t.dispose();
  } finally {
    m.dispose();
  }
});

// ─── Graph models, http, errors ──────────────────────────────────────────────────────────────

/** A tfjs-converter graph model (GraphDef JSON): conv 3×3 + bias + ReLU ('features'), flatten, dense ('logits'), softmax. */
function writeGraphModel(dir: string, w: { w1: tf.Tensor; b1: tf.Tensor; w2: tf.Tensor; b2: tf.Tensor }): void {
  const s = (v: string) => Buffer.from(v).toString('base64');
  const ints = (xs: number[]) => ({ list: { i: xs.map(String) } });
  const f32 = { type: 'DT_FLOAT' };
  const node = (name: string, op: string, input: string[], attr: Record<string, unknown> = {}) => ({ name, op, input, attr });
  const konst = (name: string, dtype: string, shape: number[]) => node(name, 'Const', [], { dtype: { type: dtype }, value: { tensor: { dtype, tensorShape: { dim: shape.map((d) => ({ size: String(d) })) } } } });
  const flat = SIZE * SIZE * 4;
  const topology = {
    node: [
      node('x', 'Placeholder', [], { dtype: f32, shape: { shape: { dim: [-1, SIZE, SIZE, 1].map((d) => ({ size: String(d) })) } } }),
      konst('w1', 'DT_FLOAT', [3, 3, 1, 4]),
      konst('b1', 'DT_FLOAT', [4]),
      konst('w2', 'DT_FLOAT', [flat, 3]),
      konst('b2', 'DT_FLOAT', [3]),
      konst('flat_shape', 'DT_INT32', [2]),
      node('conv', 'Conv2D', ['x', 'w1'], { T: f32, strides: ints([1, 1, 1, 1]), dilations: ints([1, 1, 1, 1]), padding: { s: s('SAME') }, data_format: { s: s('NHWC') } }),
      node('conv_bias', 'BiasAdd', ['conv', 'b1'], { T: f32, data_format: { s: s('NHWC') } }),
      node('features', 'Relu', ['conv_bias'], { T: f32 }),
      node('flat', 'Reshape', ['features', 'flat_shape'], { T: f32, Tshape: { type: 'DT_INT32' } }),
      node('mm', 'MatMul', ['flat', 'w2'], { T: f32, transpose_a: { b: false }, transpose_b: { b: false } }),
      node('logits', 'BiasAdd', ['mm', 'b2'], { T: f32, data_format: { s: s('NHWC') } }),
      node('probs', 'Softmax', ['logits'], { T: f32 }),
    ],
    versions: { producer: 1 },
  };
  const bytes = Buffer.concat([...[w.w1, w.b1, w.w2, w.b2].map((t) => Buffer.from(t.dataSync<'float32'>().buffer.slice(0))), Buffer.from(new Int32Array([-1, flat]).buffer)]);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'weights.bin'), bytes);
  const weights = [
    { name: 'w1', shape: [3, 3, 1, 4], dtype: 'float32' },
    { name: 'b1', shape: [4], dtype: 'float32' },
    { name: 'w2', shape: [flat, 3], dtype: 'float32' },
    { name: 'b2', shape: [3], dtype: 'float32' },
    { name: 'flat_shape', shape: [2], dtype: 'int32' },
  ];
  writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ format: 'graph-model', generatedBy: 'test', modelTopology: topology, weightsManifest: [{ paths: ['weights.bin'], weights }] }));
}

test('a graph model (tfjs-converter format) loads for the analyses that need activations: CKA equals the layers model with the same weights', async () => {
  const w = { w1: tf.randomNormal([3, 3, 1, 4], 0, 0.3, 'float32', 1), b1: tf.randomNormal([4], 0, 0.1, 'float32', 2), w2: tf.randomNormal([SIZE * SIZE * 4, 3], 0, 0.05, 'float32', 3), b2: tf.randomNormal([3], 0, 0.1, 'float32', 4) };
  const dir = path.join(tmpRoot, 'graph');
  writeGraphModel(dir, w);
  const g = await loadModel(dir, { modules: { conv: 'features', out: 'logits' } });
  const seq = tfjs.sequential({
    layers: [
      tfjs.layers.conv2d({ name: 'c', inputShape: [SIZE, SIZE, 1], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tfjs.layers.flatten({ name: 'f' }),
      tfjs.layers.dense({ name: 'd', units: 3, activation: 'softmax' }),
    ],
  });
  seq.setWeights([w.w1, w.b1, w.w2, w.b2]);
  const l = fromLayersModel(seq, { modules: { conv: ['c'], out: ['d'] } });
  const data = task(20, 3);
  try {
    assert.ok(g instanceof GraphModelAdapter);
    assert.equal(g.logitsNode, 'logits', 'the final Softmax node is left out of the logits');
    assert.equal(g.numClasses, 3);
    assert.ok(logitsDiff(g, l, data.x) < 1e-5);
    const before = tf.memory().numTensors;
    const cg = await ckaMatrix(g, g, data.x);
    assert.equal(tf.memory().numTensors, before, 'CKA on a graph model leaks nothing');
    const cl = await ckaMatrix(l, l, data.x);
    close(cg.get('conv', 'out'), cl.get('conv', 'out'), 1e-4, 'CKA conv × out');
    const eg = await evaluate(g, data);
    const el = await evaluate(l, data);
    close(eg.loss, el.loss, 1e-5, 'tl.evaluate on the graph model');
    assert.equal(eg.accuracy, el.accuracy);
    assert.throws(() => g.getWeights(), /graph-model.getWeights: this is a graph model \(inference only/);
    await assert.rejects(distance(g, g), /tl.distance: a has no parameters \(graph-model: a graph model keeps its weights inside the graph/);
    await assert.rejects(fineTune(g, data, quiet), /graph-model.clone: this is a graph model/);
    await assert.rejects(train(g, data, quiet), /tl.train: model \(graph-model\) has no trainable parameters/);
    assert.ok(fromGraphModel(g, { modules: { feat: 'features' } }).moduleNames.includes('feat'));
    assert.throws(() => fromGraphModel(g, { modules: { feat: 'nope' } }), /tl.fromGraphModel: options.modules.feat names node 'nope', which the graph does not have/);
  } finally {
    g.dispose();
    l.dispose();
    tf.dispose(Object.values(w));
  }
});

test('tl.loadModel over http: model.json and shards from a URL; a missing shard is an error naming it', async () => {
  const net = cnn({ inputShape: [SIZE, SIZE, 1], numClasses: 3, channels: [4], hidden: 8, seed: 2 });
  const dir = path.join(tmpRoot, 'served');
  const lm = toLayersModel(net);
  await saveTfjs(lm, dir);
  lm.dispose();
  const server = http.createServer((req, res) => {
    const file = path.join(dir, decodeURIComponent((req.url ?? '/').replace(/^\/models\//, '/')));
    if (!file.startsWith(dir) || !existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200).end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/models/`;
  const x = task(6, 1).x;
  try {
    const a = await loadModel(url);
    const b = await loadModel(`${url}model.json`);
    assert.ok(a instanceof LayersModelAdapter);
    assert.deepEqual(a.moduleNames, ['conv1', 'fc1', 'fc']);
    assert.ok(logitsDiff(a, net, x) < 1e-5);
    assert.equal(logitsDiff(a, b, x), 0);
    a.dispose();
    b.dispose();
    unlinkSync(path.join(dir, 'group1-shard2of2.bin'));
    await assert.rejects(loadModel(url), (e: Error) => e instanceof CheckpointError && /group1-shard2of2\.bin: cannot be fetched: HTTP 404/.test(e.message));
  } finally {
    server.close();
    net.dispose();
  }
});

/** A layer with a non-trainable weight that is not a BatchNorm statistic (a running count). */
class Counter extends tfjs.layers.Layer {
  static readonly className = 'TestCounter';
  override build(): void {
    this.addWeight('count', [1], 'float32', tfjs.initializers.zeros(), undefined, false);
    this.built = true;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return Array.isArray(inputs) ? inputs[0]! : inputs;
  }
}
tfjs.serialization.registerClass(Counter);

test('tl exports the bring-your-own API', async () => {
  const tl = await import('../../kernel/analysis/index');
  assert.equal(tl.fromLayersModel, fromLayersModel);
  assert.equal(tl.fromGraphModel, fromGraphModel);
  assert.equal(tl.toLayersModel, toLayersModel);
  assert.equal(tl.modelFiles, modelFiles);
  assert.equal(tl.loadModel, loadModel);
  assert.equal(tl.LayersModelAdapter, LayersModelAdapter);
});

test('clear errors: module specs, heads, layers that cannot be interpolated, malformed model files', async () => {
  const fn = 'tl.fromLayersModel';
  const seqModel = () =>
    tfjs.sequential({
      layers: [
        tfjs.layers.conv2d({ name: 'c1', inputShape: [SIZE, SIZE, 1], filters: 2, kernelSize: 3, padding: 'same' }),
        tfjs.layers.flatten({ name: 'flat' }),
        tfjs.layers.dense({ name: 'hidden', units: 5 }),
        tfjs.layers.dense({ name: 'out', units: 3 }),
      ],
    });
  const m = seqModel();
  const isArg = (re: RegExp) => (e: Error) => e instanceof InvalidArgumentError && re.test(e.message);
  assert.throws(() => fromLayersModel(m, { modules: { stem: /^nothing/ } }), isArg(new RegExp(`${fn}: options.modules.stem selects no layer; the model's layers: c1, flat, hidden, out`)));
  assert.throws(() => fromLayersModel(m, { modules: { stem: ['c1', 'c9'] } }), isArg(/options.modules.stem names layer 'c9', which the model does not have/));
  assert.throws(() => fromLayersModel(m, { modules: { a: /^c/, b: ['c1'] } }), isArg(/options.modules.b selects layer 'c1', which module 'a' also selects; a layer belongs to one module/));
  assert.throws(() => fromLayersModel(m, { modules: { a: 3 as never } }), isArg(/options.modules.a must be a RegExp on layer names, an array of layer names or a predicate/));
  assert.throws(() => fromLayersModel(m, { head: 'hidden' }), (e: Error) => e instanceof ShapeMismatchError && /options.head layer 'hidden' gives 5 outputs per position but the model has 3 classes/.test(e.message));
  assert.throws(() => fromLayersModel(m, { head: 'flat' }), isArg(/options.head names layer 'flat' \(Flatten\), which has no weights to re-initialise/));
  assert.throws(() => fromLayersModel(m, { head: 'nope' }), isArg(/options.head names layer 'nope', which the model does not have/));
  assert.throws(() => fromLayersModel({} as never), isArg(/tl.fromLayersModel: model must be a tf.LayersModel/));
  assert.throws(() => fromLayersModel(m, { modul: {} } as never), isArg(/tl.fromLayersModel: options.modul is not a known option \(known: modules, head, inputShape\)/));
  const unbuilt = tfjs.sequential({ name: 'empty' });
  assert.throws(() => fromLayersModel(unbuilt), isArg(/tl.fromLayersModel: model has no input yet: give its first layer an inputShape/));
  const netModel = cnn({ inputShape: [SIZE, SIZE, 1], numClasses: 3, channels: [2], hidden: 0 });
  assert.throws(() => fromLayersModel(netModel), isArg(/model must be a tf.LayersModel .* got a TransferLab model \(cnn\)/));
  netModel.dispose();
  const w = fromLayersModel(m, { modules: { features: /^(c1|flat|hidden)$/ }, head: 'out' });
  assert.deepEqual(w.moduleNames, ['features', 'out']);
  const x = task(4, 1).x;
  // A model without the named module.
  assert.throws(() => w.forward(x, { collect: ['layer9'] }), isArg(/options.collect names unknown module the string "layer9"; modules: features, out/));
  await assert.rejects(ckaMatrix(w, w, x, { layers: ['layer9'] }), isArg(/tl.cka.matrix: options.layers names unknown module 'layer9'; the model \(layers:sequential_\d+\) has features, out/));
  // A head whose shape does not fit the target's classes.
  const target = task(12, 2, 4);
  await assert.rejects(fineTune(w, target, { reinitHead: false, ...quiet }), (e: Error) => e instanceof ShapeMismatchError && /tl.fineTune: target has 4 classes but the model has 3 outputs/.test(e.message));
  // A head that is not the classifier cannot be resized for new classes (the class count comes from a later layer).
  const inp = tfjs.input({ shape: [SIZE, SIZE, 1] });
  const d1 = tfjs.layers.dense({ name: 'd1', units: 3 }).apply(tfjs.layers.flatten().apply(inp)) as Sym;
  const d2 = tfjs.layers.dense({ name: 'd2', units: 3, useBias: false, trainable: true }).apply(d1) as Sym;
  const twoHeads = fromLayersModel(tfjs.model({ inputs: inp, outputs: d2 }), { head: 'd1' });
  assert.throws(() => twoHeads.withNewHead(5, 0), (e: Error) => e instanceof ShapeMismatchError && /layers:model\d*.withNewHead: numClasses is 5 but with its head 'd1' resized the model still gives 3 classes: the head must be the layer that computes the class scores/.test(e.message));
  twoHeads.dispose();
  // A layer kind whose weights cannot be interpolated or rewound.
  const inp2 = tfjs.input({ shape: [SIZE, SIZE, 1] });
  const counted = new Counter({ name: 'counter' }).apply(tfjs.layers.conv2d({ name: 'conv', filters: 2, kernelSize: 3 }).apply(inp2) as Sym) as Sym;
  const withCounter = fromLayersModel(tfjs.model({ inputs: inp2, outputs: tfjs.layers.dense({ name: 'fc', units: 3 }).apply(tfjs.layers.flatten().apply(counted)) as Sym }), { modules: { conv: /^(conv|counter)$/ } });
  assert.deepEqual(withCounter.fixedWeights.map((f) => f.name), ['conv/counter/count']);
  const data = task(8, 3);
  await assert.rejects(interpolate(withCounter, withCounter, data, { lambdas: 3 }), isArg(/tl.interpolate: a \(layers:model\d*\) has layer 'counter' \(TestCounter\) whose weights 'conv\/counter\/count' are neither trainable parameters nor BatchNorm statistics: they cannot be interpolated or rewound/));
  await assert.rejects(criticality(withCounter, withCounter, data, { alphas: 2, sigmas: [0.1] }), isArg(/tl.criticality: model \(layers:model\d*\) has layer 'counter' \(TestCounter\)/));
  const c = await ckaMatrix(withCounter, withCounter, data.x);
  close(c.get('conv', 'conv'), 1, 1e-6, 'activations-only analyses still run');
  // Such weights are saved as the model holds them, and load back (here and in tf.loadLayersModel).
  const seven = tf.tensor1d([7]);
  withCounter.setFixedWeights(new Map([['conv/counter/count', seven]]));
  seven.dispose();
  await saveModel(withCounter, path.join(tmpRoot, 'counter'));
  const counterBack = await loadModel(path.join(tmpRoot, 'counter'));
  assert.ok(counterBack instanceof LayersModelAdapter);
  const fixedBack = counterBack.getFixedWeights();
  assert.deepEqual([...fixedBack.get('conv/counter/count')!.dataSync()], [7]);
  tf.dispose([...fixedBack.values()]);
  assert.equal(logitsDiff(counterBack, withCounter, data.x), 0);
  counterBack.dispose();
  const plainCounter = await tfjs.loadLayersModel(modelFiles(path.join(tmpRoot, 'counter')));
  assert.deepEqual([...plainCounter.getLayer('counter').getWeights()[0]!.dataSync()], [7]);
  plainCounter.dispose();
  withCounter.dispose();
  w.dispose();
  // Malformed and incomplete model files name the file.
  const bad = path.join(tmpRoot, 'bad');
  mkdirSync(bad, { recursive: true });
  writeFileSync(path.join(bad, 'model.json'), '{not json');
  await assert.rejects(loadModel(bad), (e: Error) => e instanceof CheckpointError && e.message.startsWith(`tl.loadModel: ${path.join(bad, 'model.json')}: is not valid JSON`));
  writeFileSync(path.join(bad, 'model.json'), JSON.stringify({ modelTopology: {} }));
  await assert.rejects(loadModel(bad), /model.json: is not a TensorFlow.js model.json: it has no weightsManifest/);
  writeFileSync(path.join(bad, 'model.json'), JSON.stringify({ weightsManifest: [] }));
  await assert.rejects(loadModel(bad), /model.json: is not a TensorFlow.js model.json: it has no modelTopology/);
  await assert.rejects(loadModel(path.join(tmpRoot, 'nowhere')), /tl.loadModel: .*nowhere: does not exist/);
  const good = path.join(tmpRoot, 'good');
  const sm = seqModel();
  await saveTfjs(sm, good);
  sm.dispose();
  unlinkSync(path.join(good, 'group1-shard1of2.bin'));
  await assert.rejects(loadModel(good), (e: Error) => e instanceof CheckpointError && e.message === `tl.loadModel: ${path.join(good, 'group1-shard1of2.bin')}: is missing (a weight shard that model.json names)`);
  writeFileSync(path.join(good, 'group1-shard1of2.bin'), Buffer.alloc(8));
  await assert.rejects(loadModel(good), /model.json: names weights of \d+ bytes but its shards hold \d+: a shard is truncated/);
});
