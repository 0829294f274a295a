import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startWebGpu, maxRelError } from '../helpers/webgpu';
import { tf } from '../../kernel/analysis/tfjs';
import { backend, initBackend, BACKEND_ENV } from '../../kernel/analysis/backends';
import { BackendUnavailableError, InvalidArgumentError } from '../../kernel/analysis/errors';
import { cnn, resnet } from '../../kernel/analysis/netModel';
import { assertNoLeak } from './leak';
import { reduceOnHost } from '../../kernel/analysis/engine';

type Shape4 = [number, number, number, number];
type Case = readonly [name: string, f: (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor, xShape: Shape4, wShape: Shape4];

/** Gradients of sum(f(x, w)²) with respect to x and w on the current backend. */
async function grads(f: Case[1], xShape: Shape4, wShape: Shape4): Promise<[Float32Array, Float32Array]> {
  const [gx, gw] = tf.tidy(() => {
    const x = tf.randomNormal(xShape, 0, 1, 'float32', 1) as tf.Tensor4D;
    const w = tf.randomNormal(wShape, 0, 1, 'float32', 2) as tf.Tensor4D;
    return tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(f(a as tf.Tensor4D, b as tf.Tensor4D))))([x, w]);
  });
  // Asynchronous reads: the webgpu backend cannot read synchronously under Node.
  const out: [Float32Array, Float32Array] = [(await gx!.data()) as Float32Array, (await gw!.data()) as Float32Array];
  tf.dispose([gx!, gw!]);
  return out;
}


const scalarW: Shape4 = [1, 1, 1, 1];
const kernelCases: Case[] = [
  ['Conv2D stride 1 same', (x, w) => tf.conv2d(x, w, 1, 'same'), [2, 7, 6, 3], [3, 3, 3, 4]],
  ['Conv2D stride 2 same', (x, w) => tf.conv2d(x, w, 2, 'same'), [2, 8, 7, 3], [3, 3, 3, 5]],
  ['Conv2D stride 2 valid', (x, w) => tf.conv2d(x, w, 2, 'valid'), [2, 9, 8, 2], [3, 3, 2, 3]],
  ['Conv2D 1×1 stride 2', (x, w) => tf.conv2d(x, w, 2, 'same'), [2, 8, 8, 3], [1, 1, 3, 5]],
  ['Conv2D 5×4 strides [3,2] explicit padding', (x, w) => tf.conv2d(x, w, [3, 2], [[0, 0], [1, 2], [2, 1], [0, 0]]), [2, 11, 10, 2], [5, 4, 2, 3]],
  ['DepthwiseConv2d stride 1', (x, w) => tf.depthwiseConv2d(x, w, 1, 'same'), [2, 7, 6, 3], [3, 3, 3, 1]],
  ['DepthwiseConv2d stride 2, multiplier 2', (x, w) => tf.depthwiseConv2d(x, w, 2, 'same'), [2, 8, 7, 3], [3, 3, 3, 2]],
  ['MaxPool 2 stride 2 same (odd size)', (x, w) => tf.mul(tf.maxPool(x, 2, 2, 'same'), tf.sum(w)), [2, 7, 7, 3], scalarW],
  ['MaxPool 3 stride 2 valid (overlapping)', (x, w) => tf.mul(tf.maxPool(x, 3, 2, 'valid'), tf.sum(w)), [2, 9, 8, 3], scalarW],
  ['Sum over N, H, W', (x, w) => tf.mul(tf.sum(x, [0, 1, 2]), tf.sum(w)), [2, 5, 5, 3], scalarW],
  ['Mean over N, H keepDims', (x, w) => tf.mul(tf.mean(x, [0, 1], true), tf.sum(w)), [2, 5, 5, 3], scalarW],
  ['Mean over H, W (global average pool)', (x, w) => tf.mul(tf.mean(x, [1, 2]), tf.sum(w)), [2, 5, 4, 3], scalarW],
  ['Sum over the last axis', (x, w) => tf.mul(tf.sum(x, 3), tf.sum(w)), [2, 5, 4, 3], scalarW],
  ['Tile', (x, w) => tf.mul(tf.tile(x, [2, 1, 3, 2]), tf.sum(w)), [2, 3, 2, 3], scalarW],
  ['Slice (inner and outer dimensions)', (x, w) => tf.mul(tf.slice(x, [1, 1, 0, 1], [1, 3, 4, 2]), tf.sum(w)), [2, 5, 4, 3], scalarW],
  ['BatchNorm with batch statistics', (x, w) => { const m = tf.moments(x, [0, 1, 2]); return tf.batchNorm(x, m.mean, m.variance, tf.zeros([3]), tf.reshape(w, [3])); }, [2, 5, 4, 3], [1, 1, 3, 1]],
  ['MatMul transposeA transposeB', (x, w) => tf.matMul(tf.reshape(x, [6, 8]), tf.reshape(w, [5, 6]), true, true), [1, 2, 4, 6], [5, 6, 1, 1]],
  ['MatMul transposeB', (x, w) => tf.matMul(tf.reshape(x, [8, 6]), tf.reshape(w, [5, 6]), false, true), [1, 2, 4, 6], [5, 6, 1, 1]],
  ['MatMul transposeB, B much larger than A (computed as (B·Aᵀ)ᵀ)', (x, w) => tf.matMul(tf.reshape(x, [2, 6]), tf.reshape(w, [40, 6]), false, true), [1, 1, 2, 6], [40, 6, 1, 1]],
  ['MatMul transposeB, batch of one in 3-D', (x, w) => tf.matMul(tf.reshape(x, [1, 2, 6]), tf.reshape(w, [1, 40, 6]), false, true), [1, 1, 2, 6], [40, 6, 1, 1]],
];

test('backend selection: argument, idempotence, description', async () => {
  const cpu = await initBackend('cpu');
  assert.equal(cpu.name, 'cpu');
  assert.equal(cpu.source, 'argument');
  assert.equal(tf.getBackend(), 'cpu');
  const wasm = await initBackend('wasm');
  assert.deepEqual([wasm.name, wasm.threads, wasm.description], ['wasm', 1, 'wasm · 1 thread']);
  assert.equal(await initBackend('wasm'), wasm, 'a second call returns the same info');
  const [a, b] = await Promise.all([initBackend('cpu'), initBackend('cpu')]);
  assert.equal(a, b, 'concurrent calls share one start');
  assert.equal(backend().name, 'cpu');
});

test('TRANSFERLAB_BACKEND picks the backend; a bad value is an error naming it', async () => {
  const saved = process.env[BACKEND_ENV];
  try {
    process.env[BACKEND_ENV] = 'wasm';
    const info = await initBackend();
    assert.deepEqual([info.name, info.source], ['wasm', 'environment']);
    process.env[BACKEND_ENV] = 'cuda';
    await assert.rejects(initBackend(), (e: Error) => e instanceof BackendUnavailableError && /TRANSFERLAB_BACKEND=cuda is not a backend; use one of webgpu, wasm, cpu, tensorflow/.test(e.message));
  } finally {
    if (saved === undefined) delete process.env[BACKEND_ENV];
    else process.env[BACKEND_ENV] = saved;
  }
});

test('a named backend that cannot start is an error, not a fallback', async () => {
  await initBackend('cpu');
  let tfjsNode = false;
  try {
    require.resolve('@tensorflow/tfjs-node');
    tfjsNode = true;
  } catch {
    // not installed: the expected case in this repository
  }
  if (!tfjsNode) {
    await assert.rejects(initBackend('tensorflow'), (e: Error) => e instanceof BackendUnavailableError && /npm install @tensorflow\/tfjs-node/.test(e.message));
    assert.equal(tf.getBackend(), 'cpu', 'the failed start left the backend alone');
  }
  await assert.rejects(initBackend('metal' as never), (e: Error) => e instanceof InvalidArgumentError && /tl.initBackend: name must be one of webgpu, wasm, cpu, tensorflow/.test(e.message));
});

test('automatic choice skips tfjs-node and software GPUs with reasons and lands on wasm here', async () => {
  const saved = process.env[BACKEND_ENV];
  delete process.env[BACKEND_ENV];
  try {
    const info = await initBackend();
    assert.equal(info.source, 'auto');
    // No tfjs-node and no hardware GPU on the CI machine: wasm, with the skipped ones explained.
    if (info.name === 'wasm') {
      assert.ok(info.skipped.some((s) => s.name === 'tensorflow'));
      assert.ok(info.skipped.some((s) => s.name === 'webgpu' && /adapter|GPU device/.test(s.reason)));
    } else {
      assert.ok(['tensorflow', 'webgpu'].includes(info.name), `unexpected auto choice ${info.name}`);
    }
  } finally {
    if (saved !== undefined) process.env[BACKEND_ENV] = saved;
  }
});

test('wasm kernels (backprops, max-pool gradient, reductions, transposed matMul) match the cpu backend', async () => {
  for (const [name, f, xs, ws] of kernelCases) {
    await initBackend('cpu');
    const [cx, cw] = await grads(f, xs, ws);
    await initBackend('wasm');
    const [wx, ww] = await assertNoLeak(name, () => grads(f, xs, ws));
    // BatchNorm's input gradient cancels to near zero, so it is compared more loosely.
    const tol = /BatchNorm/.test(name) ? 1e-3 : 1e-5;
    assert.ok(maxRelError(wx, cx) < tol, `${name}: dx differs by ${maxRelError(wx, cx)}`);
    assert.ok(maxRelError(ww, cw) < tol, `${name}: dw differs by ${maxRelError(ww, cw)}`);
  }
});

test('wasm Tile and Slice also handle int32 and bool tensors', async () => {
  const run = () =>
    tf.tidy(() => {
      const i = tf.tensor3d([1, 2, 3, 4, 5, 6], [1, 2, 3], 'int32');
      const b = tf.tensor2d([true, false, false, true], [2, 2], 'bool');
      return [tf.tile(i, [2, 2, 1]).arraySync(), tf.slice(i, [0, 1, 1], [1, 1, 2]).arraySync(), tf.tile(b, [1, 2]).arraySync(), tf.slice(b, [1, 0], [1, 2]).arraySync()];
    });
  await initBackend('cpu');
  const want = run();
  await initBackend('wasm');
  assert.deepEqual(run(), want);
});

test('wasm clone shares data safely: disposing either copy leaves the other intact', async () => {
  await initBackend('wasm');
  const a = tf.tensor1d([1, 2, 3]);
  const b = tf.clone(a);
  a.dispose();
  assert.deepEqual([...b.dataSync()], [1, 2, 3]);
  const c = tf.clone(b);
  b.dispose();
  assert.deepEqual([...(await c.data())], [1, 2, 3]);
  c.dispose();
  const v = tf.variable(tf.tensor1d([4, 5]));
  const snapshot = tf.clone(v);
  v.assign(tf.tensor1d([6, 7]));
  assert.deepEqual([...snapshot.dataSync()], [4, 5], 'a clone keeps the value from before an assign');
  tf.dispose([v, snapshot]);
});

test('wasm MaxPoolGrad breaks ties like the cpu backend (first maximum in the window)', async () => {
  const run = () =>
    tf.tidy(() => {
      const x = tf.tensor4d([1, 1, 0, 2, 1, 1, 2, 2, 3, 0, 3, 3, 0, 0, 3, 1], [1, 4, 4, 1]);
      return tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid'), tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]))))(x).dataSync();
    });
  await initBackend('cpu');
  const want = run();
  await initBackend('wasm');
  assert.deepEqual(run(), want);
});

test('a CNN and a BatchNorm ResNet train on wasm with the same gradients as cpu', async () => {
  for (const make of [
    () => cnn({ inputShape: [10, 10, 2], numClasses: 3, channels: [4, 6], hidden: 8, seed: 3 }),
    () => resnet({ inputShape: [8, 8, 1], numClasses: 3, width: 4, blocks: [1, 1], seed: 3 }),
  ]) {
    const gradsOf = () => {
      const out = new Map<string, Float32Array>();
      tf.tidy(() => {
        const m = make();
        const x = tf.randomUniform([4, ...m.inputShape], 0, 1, 'float32', 5) as tf.Tensor4D;
        const y = tf.oneHot(tf.tensor1d([0, 1, 2, 1], 'int32'), 3);
        const { grads: g } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, m.forward(x, { training: true }).logits) as tf.Scalar, [...m.variables.values()]);
        for (const [k, v] of Object.entries(g)) out.set(k.replace(/^tl\d+\//, ''), v.dataSync() as Float32Array);
        m.dispose();
      });
      return out;
    };
    await initBackend('cpu');
    const want = gradsOf();
    await initBackend('wasm');
    const got = gradsOf();
    assert.equal(got.size, want.size);
    for (const [k, v] of want) {
      // BatchNorm gradients cancel (they sum to ~0), so compare relative to the largest entry.
      assert.ok(maxRelError(got.get(k)!, v) < 1e-3, `${k}: ${maxRelError(got.get(k)!, v)}`);
    }
  }
});

test('webgpu (lavapipe without a GPU) computes what cpu computes', async (t) => {
  const info = await startWebGpu(t);
  assert.equal(info.name, 'webgpu');
  assert.match(info.description, /^webgpu · /);
  const cases = kernelCases.filter(([name]) => /Conv2D stride|MaxPool 2|MatMul transposeB/.test(name));
  for (const [name, f, xs, ws] of cases) {
    await initBackend('cpu');
    const [cx, cw] = await grads(f, xs, ws);
    await initBackend('webgpu');
    const [gx, gw] = await grads(f, xs, ws);
    assert.ok(maxRelError(gx, cx) < 1e-4, `${name}: dx differs by ${maxRelError(gx, cx)}`);
    assert.ok(maxRelError(gw, cw) < 1e-4, `${name}: dw differs by ${maxRelError(gw, cw)}`);
  }
  await initBackend('webgpu');
  const m = resnet({ inputShape: [8, 8, 1], numClasses: 3, width: 4, blocks: [1], seed: 2 });
  const x = tf.randomUniform([2, 8, 8, 1], 0, 1, 'float32', 1) as tf.Tensor4D;
  const gpuLogits = m.forward(x).logits;
  const onGpu = (await gpuLogits.data()) as Float32Array;
  const xValues = await x.data();
  tf.dispose([x, gpuLogits]);
  // Switching away from webgpu moves the model's variables (tfjs alone would need a synchronous
  // read, which webgpu cannot do under Node).
  await initBackend('cpu');
  const xCpu = tf.tensor4d(xValues, [2, 8, 8, 1]);
  const cpuLogits = m.forward(xCpu).logits;
  const onCpu = cpuLogits.dataSync() as Float32Array;
  assert.ok(maxRelError(onGpu, onCpu) < 1e-4);
  tf.dispose([xCpu, cpuLogits]);
  m.dispose();
});

test('a started backend describes itself as `name · detail`, and its capabilities drive reductions on the host', async () => {
  const cpu = await initBackend('cpu');
  assert.deepEqual([cpu.device, cpu.threads, cpu.detail, cpu.description], ['JavaScript', 1, 'JavaScript (slow: last resort)', 'cpu · JavaScript (slow: last resort)']);
  assert.equal(reduceOnHost(), true);
  const wasm = await initBackend('wasm');
  assert.equal(wasm.description, `wasm · ${wasm.detail}`);
  assert.equal(reduceOnHost(), true);
  await initBackend('cpu');
});
