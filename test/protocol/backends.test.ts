/**
 * The backend names live in kernel/protocol/backends.ts; package.json (the `transferlab.backend`
 * setting) and the analysis API's registry of providers must agree with it. Each check compares
 * whole lists, so a name added to one place only fails here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../helpers/tools';
import {
  AUTO_BACKEND,
  BACKEND_CHOICES,
  BACKEND_CHOICE_DESCRIPTIONS,
  BACKEND_NAMES,
  KERNEL_INFO_BACKEND_KEY,
  isBackendChoice,
  isBackendName,
  isKernelBackendInfo,
  kernelBackendInfo,
  startingBackend,
} from '../../kernel/protocol/backends';
import { backendProviders, registeredBackendNames } from '../../kernel/analysis/backends/registry';

interface SettingSchema {
  enum: string[];
  enumDescriptions: string[];
  default: string;
  markdownDescription: string;
}

function backendSetting(): SettingSchema {
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
    contributes: { configuration: { properties: Record<string, SettingSchema> } | { properties: Record<string, SettingSchema> }[] };
  };
  const configs = Array.isArray(pkg.contributes.configuration) ? pkg.contributes.configuration : [pkg.contributes.configuration];
  const setting = configs.map((c) => c.properties['transferlab.backend']).find((s) => s !== undefined);
  assert.ok(setting, 'package.json declares the transferlab.backend setting');
  return setting;
}

test('the choices are `auto` and every backend name, each once', () => {
  assert.equal(BACKEND_CHOICES[0], AUTO_BACKEND);
  assert.deepEqual([...BACKEND_CHOICES].sort(), [AUTO_BACKEND, ...BACKEND_NAMES].sort());
  assert.equal(new Set(BACKEND_CHOICES).size, BACKEND_CHOICES.length);
  for (const c of BACKEND_CHOICES) assert.ok(BACKEND_CHOICE_DESCRIPTIONS[c].length > 0, `${c} has a description`);
  assert.ok(BACKEND_NAMES.every(isBackendName) && !isBackendName(AUTO_BACKEND) && !isBackendName('cuda'));
  assert.ok(BACKEND_CHOICES.every(isBackendChoice) && !isBackendChoice('cuda') && !isBackendChoice(undefined));
});

test("package.json's transferlab.backend enum and enumDescriptions are the protocol's choices, in order", () => {
  const setting = backendSetting();
  assert.deepEqual(setting.enum, [...BACKEND_CHOICES]);
  assert.deepEqual(setting.enumDescriptions, BACKEND_CHOICES.map((c) => BACKEND_CHOICE_DESCRIPTIONS[c]));
  assert.equal(setting.default, AUTO_BACKEND);
  assert.match(setting.markdownDescription, /TRANSFERLAB_BACKEND/);
});

test('the analysis registry registers exactly the protocol names, once each', () => {
  assert.deepEqual(registeredBackendNames(), [...BACKEND_NAMES]);
  const providers = backendProviders();
  assert.deepEqual(providers.map((p) => p.name).sort(), [...BACKEND_NAMES].sort());
});

test('automatic choice walks the registry by priority: tensorflow, webgpu, wasm, cpu', () => {
  const providers = backendProviders();
  assert.deepEqual(providers.map((p) => p.name), ['tensorflow', 'webgpu', 'wasm', 'cpu']);
  assert.equal(new Set(providers.map((p) => p.priority)).size, providers.length, 'priorities are distinct');
});

test('capabilities: only webgpu reads asynchronously; cpu and wasm reduce on the host', () => {
  const caps = Object.fromEntries(backendProviders().map((p) => [p.name, p.capabilities]));
  assert.deepEqual(caps, {
    tensorflow: { syncRead: true, reduceOnHost: false },
    webgpu: { syncRead: false, reduceOnHost: false },
    wasm: { syncRead: true, reduceOnHost: true },
    cpu: { syncRead: true, reduceOnHost: true },
  });
});

test('kernel_info backend field: starting, started, and malformed values', () => {
  assert.deepEqual(startingBackend('auto'), { starting: true, backend: 'auto', description: 'auto (starting)' });
  const started = { starting: false, backend: 'wasm', device: 'WebAssembly SIMD', threads: 1, detail: '1 thread', description: 'wasm · 1 thread' };
  assert.ok(isKernelBackendInfo(started));
  assert.deepEqual(kernelBackendInfo({ banner: 'b', [KERNEL_INFO_BACKEND_KEY]: started }), started);
  assert.equal(kernelBackendInfo({ banner: 'compute backend: wasm · 1 thread.' }), undefined);
  assert.equal(isKernelBackendInfo({ ...started, threads: '1' }), false);
  assert.equal(isKernelBackendInfo({ ...started, starting: 'no' }), false);
  assert.equal(isKernelBackendInfo(null), false);
});
