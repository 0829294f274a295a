import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, rmSync, statSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tf } from '../../kernel/analysis/tfjs';
import { DISPLAY } from '../../kernel/analysis/display';
import { initBackend } from '../../kernel/analysis/backends';
import { cnn, resnet } from '../../kernel/analysis/netModel';
import { synthetic } from '../../kernel/analysis/dataLoaders';
import { train } from '../../kernel/analysis/train';
import { Checkpoint, saveCheckpoint, loadCheckpoint, saveModel, loadModel, checkpointSweep, CheckpointSweepResult } from '../../kernel/analysis/checkpointSweep';
import { CheckpointError, InvalidArgumentError } from '../../kernel/analysis/errors';
import { Mime } from '../../kernel/protocol/mime';

before(async () => {
  await initBackend('wasm');
});

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'tl-ckpt-'));
const task = (n: number, seed: number, classes = 4) => synthetic({ kind: 'textures', n, classes, size: [12, 12], noise: 0.05, seed });

test('a model with BatchNorm statistics survives save and load exactly', async () => {
  const dir = tmp();
  try {
    const m = resnet({ inputShape: [12, 12, 1], numClasses: 3, width: 4, blocks: [1, 1], seed: 4 });
    const x = task(8, 1).x;
    m.recalibrate(x); // non-trivial running statistics
    await saveModel(m, path.join(dir, 'm'), { label: 'source', epoch: 7 });
    const manifest = JSON.parse(readFileSync(path.join(dir, 'm', 'manifest.json'), 'utf8'));
    assert.equal(manifest.format, 'transferlab-checkpoint');
    assert.equal(manifest.version, 1);
    assert.deepEqual([manifest.label, manifest.epoch, manifest.arch], ['source', 7, 'resnet-mini']);
    assert.equal(manifest.weights.length, m.variables.size);
    assert.equal(manifest.buffers.length, m.buffers.size);
    const params = [...m.variables.values(), ...m.buffers.values()].reduce((s, v) => s + v.size, 0);
    assert.equal(statSync(path.join(dir, 'm', 'weights.bin')).size, params * 4);
    const before = tf.memory().numTensors;
    const back = await loadModel(path.join(dir, 'm'));
    assert.equal(tf.memory().numTensors, before + back.variables.size + back.buffers!.size, 'loading keeps only the model');
    const [a, b] = [m.forward(x).logits, back.forward(x).logits];
    assert.deepEqual(a.dataSync(), b.dataSync(), 'evaluation-mode outputs (running statistics included) are identical');
    tf.dispose([a, b, x]);
    m.dispose();
    back.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tl.train writes checkpoints to checkpointDir; loadCheckpoint reads them back', async () => {
  const dir = tmp();
  try {
    const data = task(64, 2);
    const m = cnn({ inputShape: [12, 12, 1], numClasses: 4, channels: [4], hidden: 8, seed: 1 });
    const run = await train(m, data, { epochs: 2, batchSize: 32, checkpoints: [0, 2], checkpointDir: dir, progress: false });
    assert.ok(existsSync(path.join(dir, 'epoch-0', 'manifest.json')));
    assert.ok(existsSync(path.join(dir, 'epoch-2', 'manifest.json')));
    assert.equal(run.checkpoint(2).path, path.join(dir, 'epoch-2'));
    const c = await loadCheckpoint(path.join(dir, 'epoch-2'));
    assert.ok(c instanceof Checkpoint);
    assert.equal(c.epoch, 2);
    assert.match(String(c), /checkpoint 'train' at epoch 2 \(cnn, 6 tensors, /);
    assert.deepEqual(c.weights.get('fc/kernel')!.dataSync(), m.variables.get('fc/kernel')!.dataSync());
    c.dispose();
    run.dispose();
    m.dispose();
    data.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('damaged or foreign checkpoints are errors naming the folder and the fault', async () => {
  const dir = tmp();
  try {
    const m = cnn({ inputShape: [12, 12, 1], numClasses: 4, channels: [2], hidden: 0, seed: 1 });
    const ck = path.join(dir, 'c');
    await saveModel(m, ck);
    await assert.rejects(loadCheckpoint(path.join(dir, 'nothing')), (e: Error) => e instanceof CheckpointError && /tl.loadCheckpoint: .*nothing: has no manifest.json/.test(e.message));
    const bin = readFileSync(path.join(ck, 'weights.bin'));
    writeFileSync(path.join(ck, 'weights.bin'), bin.subarray(0, bin.length - 8));
    await assert.rejects(loadCheckpoint(ck), new RegExp(`weights.bin has ${bin.length - 8} bytes, the manifest says ${bin.length}`));
    writeFileSync(path.join(ck, 'weights.bin'), bin);
    const manifest = JSON.parse(readFileSync(path.join(ck, 'manifest.json'), 'utf8'));
    writeFileSync(path.join(ck, 'manifest.json'), JSON.stringify({ ...manifest, version: 99 }));
    await assert.rejects(loadCheckpoint(ck), /has format version 99; this TransferLab reads up to 1/);
    writeFileSync(path.join(ck, 'manifest.json'), JSON.stringify({ ...manifest, config: { ...manifest.config, hidden: 5 } }));
    await assert.rejects(loadCheckpoint(ck), /does not match its architecture: .*missing parameter 'fc1\/kernel'/);
    writeFileSync(path.join(ck, 'manifest.json'), '{not json');
    await assert.rejects(loadCheckpoint(ck), /manifest.json is unreadable/);
    await assert.rejects(saveModel({ arch: 'mine' } as never, ck), (e: Error) => e instanceof InvalidArgumentError && /tl.saveModel: model must be a model from tl.resnet, tl.cnn or tl.fromLayersModel/.test(e.message));
    const snap = Checkpoint.of(m, 0, 'x');
    snap.dispose();
    await assert.rejects(saveCheckpoint(snap, ck), /tl.saveCheckpoint: checkpoint is disposed/);
    m.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('checkpoint sweep: fine-tune from each checkpoint, target accuracy per checkpoint, a line chart', async () => {
  const source = task(160, 3);
  const target = task(48, 4, 3);
  const targetTest = task(60, 5, 3);
  const m = cnn({ inputShape: [12, 12, 1], numClasses: 4, channels: [4, 8], hidden: 16, seed: 2 });
  const pre = await train(m, source, { epochs: 3, batchSize: 32, lr: 0.1, checkpoints: [0, 1, 3], progress: false });
  const before = tf.memory().numTensors;
  const sweep = await checkpointSweep(pre, target, { epochs: 2, batchSize: 16, seeds: [0, 1], test: targetTest, progress: false });
  assert.equal(tf.memory().numTensors, before, 'fine-tuned runs are disposed unless kept');
  assert.ok(sweep instanceof CheckpointSweepResult);
  assert.deepEqual(sweep.rows.map((r) => r.epoch), [0, 1, 3]);
  assert.ok(sweep.rows.every((r) => r.accuracies.length === 2 && r.meanAccuracy >= 0 && r.meanAccuracy <= 1));
  assert.ok(sweep.rows.every((r) => Math.abs(r.meanAccuracy - (r.accuracies[0]! + r.accuracies[1]!) / 2) < 1e-12));
  assert.ok([0, 1, 3].includes(sweep.best.epoch));
  const bundle = sweep[DISPLAY]();
  const vl = bundle[Mime.vegaLite] as { layer: { data: { values: unknown[] } }[] };
  assert.equal(vl.layer[0]!.data.values.length, 3);
  assert.equal(vl.layer[1]!.data.values.length, 6);
  assert.match(bundle[Mime.plain] as string, /epoch {2}accuracy {2}loss\n {4}0 /);
  const kept = await checkpointSweep([pre.checkpoint(3)], target, { epochs: 1, test: targetTest, keepRuns: true, progress: false });
  assert.equal(kept.runs[0]!.length, 1);
  assert.equal(kept.runs[0]![0]!.model.numClasses, 3);
  kept.dispose();
  assert.equal(tf.memory().numTensors, before);
  await assert.rejects(checkpointSweep(pre, target, { epochs: 1, progress: false }), /tl.checkpointSweep: options.test is required \(or options.validation\)/);
  const plain = await train(m, source, { epochs: 1, progress: false });
  await assert.rejects(checkpointSweep(plain, target, { test: targetTest }), /checkpoints come from a run without checkpoints/);
  for (const r of [pre, plain]) r.dispose();
  m.dispose();
  for (const d of [source, target, targetTest]) d.dispose();
});
