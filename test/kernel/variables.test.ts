/**
 * The Variables view's data: safe, bounded summaries of values (tensors, models, primitives,
 * hostile objects), the tracker over cells, the summary in execute_reply's metadata (from the
 * handler and from a real kernel, with TypeScript's types and tf.memory()), tracebacks whose
 * frames in TransferLab's bundles name kernel/analysis/<file>.ts, and a live training chart that
 * says "interrupted" after its cell was interrupted.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { summarizeValue, VariableTracker } from '../../kernel/executor/variables';
import { KernelHandler, type ExecutorPort, type KernelIO } from '../../kernel/jupyter/handler';
import { makeHeader } from '../../kernel/protocol/wire';
import { VARIABLES_METADATA_KEY, MAX_VALUE_CHARS, MAX_VARIABLES, formatBytes, isVariablesSummary, type VariablesSummary } from '../../kernel/protocol/variables';
import { KernelClient } from '../../client/kernelClient';
import type { Message } from '../../kernel/protocol/messages';
import { cnn } from '../../kernel/analysis/netModel';

describe('summarizeValue', () => {
  test('tensors: shape, dtype and bytes from their own fields', () => {
    const t = tf.zeros([2, 3, 4]);
    const b = tf.tensor1d([1, 0, 1], 'bool');
    try {
      const s = summarizeValue(t);
      assert.deepEqual(s.tensor, { shape: [2, 3, 4], dtype: 'float32', bytes: 2 * 3 * 4 * 4, disposed: false });
      assert.equal(s.value, 'Tensor float32 [2, 3, 4]');
      assert.deepEqual(summarizeValue(b).tensor, { shape: [3], dtype: 'bool', bytes: 3, disposed: false });
    } finally {
      t.dispose();
      b.dispose();
    }
    assert.equal(summarizeValue(t).tensor?.disposed, true);
    assert.match(summarizeValue(t).value, /\(disposed\)/);
  });

  test('models: architecture, modules and parameter count', () => {
    const model = cnn({ inputShape: [8, 8, 1], numClasses: 3, channels: [2, 4], hidden: 0, seed: 0 });
    try {
      const s = summarizeValue(model);
      assert.ok(s.model, 'recognised as a model');
      assert.deepEqual(s.model.modules, [...model.moduleNames]);
      let expected = 0;
      for (const v of model.variables.values()) expected += v.shape.reduce((a, d) => a * d, 1);
      assert.equal(s.model.parameters, expected);
      assert.ok(expected > 0);
      assert.match(s.value, new RegExp(`${expected.toLocaleString('en-US')} parameters`));
    } finally {
      model.dispose();
    }
  });

  test('primitives, strings, functions, classes and collections', () => {
    assert.deepEqual(summarizeValue(42), { value: '42', runtimeType: 'number' });
    assert.equal(summarizeValue(undefined).value, 'undefined');
    assert.equal(summarizeValue(10n).value, '10n');
    assert.equal(summarizeValue('hi').value, '"hi"');
    assert.equal(summarizeValue(function add(a: number, b: number) { return a + b; }).value, 'ƒ add(2 args)');
    assert.equal(summarizeValue(class Net {}).value, 'class Net');
    assert.equal(summarizeValue([1, 'a', null]).value, '[1, "a", null]');
    assert.equal(summarizeValue(new Map([[1, 2]])).value, 'Map(1)');
    assert.equal(summarizeValue(new Set([1, 2, 3])).length, 3);
    assert.equal(summarizeValue(new Float32Array([0.5, 1])).value, 'Float32Array(2) [0.5, 1]');
    assert.equal(summarizeValue({ a: 1, b: 'x' }).value, '{ a: 1, b: "x" }');
    assert.equal(summarizeValue(new RangeError('bad')).value, 'RangeError: bad');
  });

  test('hostile values: no getter, Proxy trap, toString or toJSON of theirs runs', () => {
    let ran = 0;
    const getter = { get boom(): number { ran++; throw new Error('getter ran'); }, plain: 1 };
    const proxy = new Proxy({}, { get: () => { ran++; throw new Error('trap ran'); }, ownKeys: () => { ran++; throw new Error('trap ran'); }, getOwnPropertyDescriptor: () => { ran++; throw new Error('trap ran'); }, getPrototypeOf: () => { ran++; throw new Error('trap ran'); } });
    const loud = { toString() { ran++; return 'x'; }, toJSON() { ran++; return 'x'; }, [Symbol.toPrimitive]() { ran++; return 'x'; } };
    class Sneaky { get size(): number { ran++; return 1; } }
    const badCtor = Object.create({ get constructor() { ran++; throw new Error('constructor getter ran'); } }) as object;
    assert.equal(summarizeValue(getter).value, '{ boom: (getter), plain: 1 }');
    assert.equal(summarizeValue(proxy).value, 'Proxy');
    assert.equal(summarizeValue(new Proxy(() => 1, {})).value, 'Proxy (function)');
    assert.match(summarizeValue(loud).value, /^\{ toString: ƒ/);
    assert.equal(summarizeValue(new Sneaky()).value, 'Sneaky {}');
    assert.equal(summarizeValue(badCtor).value, '{}');
    assert.equal(ran, 0, 'no code of the values ran');
  });

  test('huge values are cut: a long string, an array of ten million, a wide object', () => {
    let touched = 0;
    const array = new Array(10_000_000).fill(1);
    // An element near the end that counts reads: a summary that walked the array would read it.
    Object.defineProperty(array, 9_999_990, { get: () => touched++, enumerable: true });
    const values = ['x'.repeat(5_000_000), array, Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, i]))];
    const t0 = performance.now();
    const [long, big, wide] = values.map((v) => summarizeValue(v)) as [ReturnType<typeof summarizeValue>, ReturnType<typeof summarizeValue>, ReturnType<typeof summarizeValue>];
    const ms = performance.now() - t0;
    assert.ok(long.value.length <= MAX_VALUE_CHARS, `${long.value.length} characters`);
    assert.equal(long.length, 5_000_000);
    assert.equal(big.length, 10_000_000);
    assert.ok(big.value.length <= MAX_VALUE_CHARS && big.value.endsWith(', …]'), big.value);
    assert.ok(wide.value.length <= MAX_VALUE_CHARS, wide.value);
    assert.equal(touched, 0, 'the array was not walked');
    // Nothing is copied or walked in full (the wide object's key list is the one linear step);
    // the bound is loose for a loaded machine.
    assert.ok(ms < 2000, `${ms.toFixed(0)} ms`);
  });
});

describe('VariableTracker', () => {
  test('lists the latest declared names, reads them without running getters, and keeps memory per cell', () => {
    const scope: Record<string, unknown> = { a: 1, b: 'two' };
    let ran = 0;
    Object.defineProperty(scope, 'c', { get: () => ran++, enumerable: true });
    const tracker = new VariableTracker();
    tracker.declare([{ name: 'a', kind: 'const' }, { name: 'b', kind: 'let' }, { name: 'c', kind: 'var' }, { name: 'gone', kind: 'const' }]);
    tracker.declare([{ name: 'a', kind: 'let' }]); // re-declared: moves to the end
    tracker.cellStarts({ numTensors: 3, numBytes: 100 });
    tracker.cellEnded(2, { numTensors: 5, numBytes: 148 });
    const s = tracker.summary(2, scope, (n) => (n === 'a' ? 'number' : undefined));
    assert.deepEqual(s.variables.map((v) => [v.name, v.kind, v.type, v.value]), [
      ['b', 'let', 'string', '"two"'],
      ['c', 'var', 'accessor', '(getter)'],
      ['a', 'let', 'number', '1'],
    ]);
    assert.equal(ran, 0);
    assert.deepEqual(s.memory, { numTensors: 5, numBytes: 148, addedTensors: 2, addedBytes: 48 });
    assert.deepEqual(s.cells, [{ executionCount: 2, addedTensors: 2, addedBytes: 48 }]);
    assert.ok(isVariablesSummary(s));
  });

  test(`at most ${MAX_VARIABLES} names, the latest; the rest counted as omitted`, () => {
    const tracker = new VariableTracker();
    const scope: Record<string, unknown> = {};
    for (let i = 0; i < MAX_VARIABLES + 50; i++) {
      scope[`v${i}`] = i;
      tracker.declare([{ name: `v${i}`, kind: 'const' }]);
    }
    const s = tracker.summary(1, scope);
    assert.equal(s.variables.length, MAX_VARIABLES);
    assert.equal(s.omitted, 50);
    assert.equal(s.variables.at(-1)!.name, `v${MAX_VARIABLES + 49}`);
  });

  test('formatBytes', () => {
    assert.deepEqual([formatBytes(512), formatBytes(3100), formatBytes(12_000_000), formatBytes(-2048)], ['512 B', '3.1 kB', '12.0 MB', '-2.0 kB']);
  });
});

test('the handler sends the executor summary in execute_reply metadata, and none for other replies', async () => {
  const summary: VariablesSummary = { executionCount: 1, variables: [{ name: 'x', kind: 'const', type: 'number', value: '1' }], omitted: 0, cells: [] };
  const replies: { type: string; metadata: Record<string, unknown> | undefined }[] = [];
  const io: KernelIO = { reply: (_c, _r, type, _content, metadata) => replies.push({ type, metadata }), publish: () => undefined, log: () => undefined };
  const executor: ExecutorPort = {
    execute: async () => ({ status: 'ok', variables: summary }),
    complete: async () => ({ matches: [], cursorStart: 0, cursorEnd: 0, metadata: {} }),
    inspect: async () => ({ found: false, data: {} }),
    isComplete: async () => ({ status: 'complete' }),
    interrupt: async () => undefined,
    computeBackend: undefined,
  };
  const handler = new KernelHandler(executor, io, { version: '0', backendChoice: 'cpu', onShutdown: () => undefined });
  const msg = (type: string, content: Record<string, unknown>): Message => ({ identities: [], header: makeHeader(type, 's', 'u'), parent_header: {}, metadata: {}, content, buffers: [] });
  await handler.handle('shell', msg('execute_request', { code: 'const x = 1;' }));
  await handler.handle('shell', msg('complete_request', { code: 'x', cursor_pos: 1 }));
  assert.deepEqual(replies[0], { type: 'execute_reply', metadata: { [VARIABLES_METADATA_KEY]: summary } });
  assert.deepEqual(replies[1], { type: 'complete_reply', metadata: undefined });
});

describe('a real kernel', () => {
  let kernel: KernelClient;
  before(async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'transferlab-variables-test-'));
    kernel = await KernelClient.launch({ cwd: dir, env: { TRANSFERLAB_BACKEND: 'cpu' } });
  });
  after(async () => {
    await kernel?.shutdown();
  });

  async function run(code: string): Promise<{ reply: Message; msgs: Message[] }> {
    const msgs: Message[] = [];
    let reply: Message | undefined;
    await kernel.execute(code, { onIOPub: (m) => msgs.push(m), onReply: (r) => (reply = r) });
    return { reply: reply!, msgs };
  }

  test('each execute_reply carries the variables: TypeScript types, tensor shapes, tf.memory() and what the cell added', async () => {
    await run('const n = 3;');
    const { reply } = await run('const t = tf.zeros([2, 3]);\nconst names = ["a", "b"];');
    const s = reply.metadata[VARIABLES_METADATA_KEY] as VariablesSummary;
    assert.ok(isVariablesSummary(s), JSON.stringify(reply.metadata));
    const byName = new Map(s.variables.map((v) => [v.name, v]));
    assert.deepEqual(byName.get('t')?.tensor, { shape: [2, 3], dtype: 'float32', bytes: 24, disposed: false });
    assert.match(byName.get('t')!.type, /Tensor/);
    assert.equal(byName.get('names')!.type, 'string[]');
    assert.equal(byName.get('n')!.value, '3');
    assert.equal(s.memory!.addedTensors, 1, JSON.stringify(s.memory));
    assert.equal(s.memory!.addedBytes, 24);
    assert.equal(s.cells.at(-1)!.addedTensors, 1);
  });

  test('a frame inside TransferLab names its TypeScript file and line, not a position in dist/analysis.js', async () => {
    const { reply } = await run('tl.cka.linear(tf.zeros([3, 2]), tf.zeros([4, 2]))');
    const traceback = (reply.content as { traceback: string[] }).traceback.join('\n').replace(/\u001b\[[0-9;]*m/g, '');
    assert.equal((reply.content as { status: string }).status, 'error');
    assert.match(traceback, /kernel\/analysis\/[\w/]+\.ts:\d+:\d+/, traceback);
    assert.doesNotMatch(traceback, /dist\/analysis\.js/, traceback);
    assert.match(traceback, /Cell In\[\d+\], line 1, column \d+/);
  });

  test('an interrupted training chart stops saying "running"', async () => {
    const cell = [
      'const data = tl.data.synthetic({ kind: "textures", n: 64, classes: 2, size: [8, 8], seed: 1 });',
      'const model = tl.cnn({ inputShape: [8, 8, 1], numClasses: 2, channels: [2], hidden: 0, seed: 0 });',
      'await tl.train(model, data, { epochs: 100000, batchSize: 8, lr: 0.01 });',
    ].join('\n');
    const msgs: Message[] = [];
    const running = kernel.execute(cell, { onIOPub: (m) => msgs.push(m) });
    const updates = () => msgs.filter((m) => m.header.msg_type === 'update_display_data');
    for (let i = 0; i < 300 && !updates().some((m) => JSON.stringify(m.content).includes('(running)')); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(updates().length > 0, 'training showed progress');
    await kernel.interrupt();
    const reply = await running;
    assert.equal((reply as { ename?: string }).ename, 'InterruptError');
    await new Promise((r) => setTimeout(r, 300));
    const last = updates().at(-1)!.content as { data: Record<string, unknown> };
    const payload = last.data['application/vnd.transferlab.training+json'] as { runs: { done: boolean; stopped?: string }[] };
    assert.equal(payload.runs[0]!.stopped, 'interrupted');
    assert.match(String(last.data['text/plain']), /\(interrupted\)/);
    assert.doesNotMatch(String(last.data['text/plain']), /\(running\)/);
    // The training itself ended: no update comes any more.
    const count = updates().length;
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(updates().length, count, 'no update after the interrupt');
  });
});
