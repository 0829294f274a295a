import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../kernel/analysis/backends';
import { ARCHITECTURES, architectureNamed, architectureNames } from '../../kernel/analysis/architectures/registry';
import { modelFromConfig, NetModel, resnet } from '../../kernel/analysis/netModel';
import { tf } from '../../kernel/analysis/tfjs';
import { toLayersModel } from '../../kernel/analysis/layersExport';
import { maxRelError } from '../helpers/webgpu';
import { InvalidArgumentError } from '../../kernel/analysis/errors';

before(async () => {
  await initBackend('cpu');
});

test('the registry lists cnn and resnet-mini under the names checkpoint manifests store', () => {
  assert.deepEqual(architectureNames(), ['cnn', 'resnet-mini']);
  assert.equal(architectureNamed('cnn'), ARCHITECTURES[0]);
  assert.equal(architectureNamed('resnet-mini-nonorm'), undefined);
  assert.equal(architectureNamed(undefined), undefined);
});

test('each architecture checks its options into a config that builds a model of its layout', () => {
  const options = { inputShape: [8, 8, 1], numClasses: 3, seed: 2 };
  for (const a of ARCHITECTURES) {
    const config = a.config(options, 'test');
    assert.equal(config.arch, a.name);
    const m = modelFromConfig(config);
    try {
      const layout = a.layout(config as never);
      assert.equal(m.arch, a.modelArch(config as never));
      assert.deepEqual(m.moduleNames, layout.modules);
      assert.deepEqual([...m.variables.keys()], layout.params.map((p) => p.name));
      assert.deepEqual([...m.buffers.keys()], layout.buffers.map((p) => p.name));
      assert.match(m.summary(), new RegExp(`^${m.arch} \\(${a.summarize(config as never).replace(/[/()]/g, '\\$&')}\\)`));
    } finally {
      m.dispose();
    }
  }
  const fixup = modelFromConfig({ ...ARCHITECTURES[1].config(options, 'test'), norm: 'none' });
  assert.equal(fixup.arch, 'resnet-mini-nonorm');
  fixup.dispose();
});

test('an unknown architecture is rejected, naming the registered ones', () => {
  assert.throws(() => modelFromConfig({ arch: 'vit', inputShape: [8, 8, 1], numClasses: 2, seed: 0 } as never), (e: Error) =>
    e instanceof InvalidArgumentError && e.message === "tl.modelFromConfig: config.arch must be 'cnn' or 'resnet-mini', got the string \"vit\"");
  assert.throws(() => new NetModel({ arch: 'vit', inputShape: [8, 8, 1], numClasses: 2, seed: 0 } as never), /NetModel: config.arch must be 'cnn' or 'resnet-mini'/);
});

test("tl.resnet with stem 'imagenet': ResNet-18's parameters, a quarter of the resolution after conv1, the same logits as tf.layers, and the gradients of cpu on wasm", async () => {
  // ResNet-18 (He et al. 2016; torchvision's resnet18): 11,689,512 parameters for 1000 classes.
  const r18 = resnet({ inputShape: [224, 224, 3], numClasses: 1000, width: 64, blocks: [2, 2, 2, 2], stem: 'imagenet', seed: 0 });
  try {
    assert.equal(r18.parameterCount, 11_689_512);
    assert.deepEqual(r18.variables.get('conv1/kernel')!.shape, [7, 7, 3, 64]);
    assert.deepEqual([...r18.moduleNames], ['conv1', 'layer1', 'layer2', 'layer3', 'layer4', 'fc']);
    assert.match(r18.summary(), /ImageNet stem/);
  } finally {
    r18.dispose();
  }
  assert.throws(() => resnet({ inputShape: [8, 8, 1], numClasses: 3, stem: 'cifar' as never }), /tl.resnet: options.stem must be one of 'small', 'imagenet'/);

  const net = resnet({ inputShape: [30, 30, 3], numClasses: 4, width: 4, blocks: [1, 1], stem: 'imagenet', seed: 3 });
  const x = tf.randomUniform([2, 30, 30, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
  const labels = tf.oneHot(tf.tensor1d([0, 3], 'int32'), 4);
  try {
    // 30 → 15 (7×7 conv, stride 2, 'same') → 8 (3×3 max-pool, stride 2, 'same').
    const { logits, activations } = net.forward(x, { collect: ['conv1', 'layer2'] });
    assert.deepEqual(activations.get('conv1')!.shape, [2, 8, 8, 4]);
    assert.deepEqual(activations.get('layer2')!.shape, [2, 4, 4, 8]);
    const lm = toLayersModel(net);
    const lp = lm.predict(x) as tf.Tensor;
    assert.ok(tf.max(tf.abs(tf.sub(lp, logits))).dataSync()[0]! < 1e-5, 'tf.layers equivalent');
    tf.dispose([logits, lp, ...activations.values()]);
    lm.dispose();
    const grads = () => {
      const vars = [...net.variables.values()];
      const { grads: g } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(labels, net.forward(x).logits) as tf.Scalar, vars);
      const out = vars.map((v) => g[v.name]!.dataSync().slice() as Float32Array);
      tf.dispose(Object.values(g));
      return out;
    };
    const onCpu = grads();
    await initBackend('wasm');
    const onWasm = grads();
    onCpu.forEach((g, i) => assert.ok(maxRelError(onWasm[i]!, g) < 1e-4, `gradient ${i}: ${maxRelError(onWasm[i]!, g)}`));
  } finally {
    tf.dispose([x, labels]);
    net.dispose();
    await initBackend('cpu');
  }
});
