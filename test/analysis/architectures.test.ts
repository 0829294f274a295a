import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../kernel/analysis/backends';
import { ARCHITECTURES, architectureNamed, architectureNames } from '../../kernel/analysis/architectures/registry';
import { modelFromConfig, NetModel } from '../../kernel/analysis/netModel';
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
