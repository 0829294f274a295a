/**
 * The message handler without sockets: every request type bracketed busy → idle with its
 * request as parent, replies of the right type, execution counts, silent requests, unknown
 * message types, shutdown. A fake executor stands in for the worker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KernelHandler, type ExecutorPort, type KernelIO } from '../../kernel/jupyter/handler';
import type { Header, Message } from '../../kernel/protocol/messages';
import { makeHeader } from '../../kernel/protocol/wire';
import type { OutputListener } from '../../kernel/executor/workerHost';
import type { KernelBackendInfo } from '../../kernel/protocol/backends';

interface Sent {
  kind: 'reply' | 'publish';
  channel?: string;
  type: string;
  content: Record<string, unknown>;
  parent?: Header;
}

const WASM: KernelBackendInfo = { starting: false, backend: 'wasm', device: 'WebAssembly SIMD', threads: 1, detail: '1 thread', description: 'wasm · 1 thread' };

/** A handler on a fake executor; `started: false` stands for a backend still starting. */
function setup({ backendChoice = 'auto', started = true } = {}) {
  const sent: Sent[] = [];
  const logs: string[] = [];
  let shutdownWith: boolean | undefined;
  const io: KernelIO = {
    reply: (channel, request, type, content) => sent.push({ kind: 'reply', channel, type, content: content as Record<string, unknown>, parent: request.header }),
    publish: (type, content, parent) => sent.push({ kind: 'publish', type, content: content as Record<string, unknown>, parent }),
    log: (t) => logs.push(t),
  };
  const executor: ExecutorPort = {
    async execute(code: string, count: number, _silent: boolean, _store: boolean, out: OutputListener) {
      out.stream('stdout', `ran ${code}\n`);
      if (code === 'fail') return { status: 'error', ename: 'Error', evalue: 'failed', traceback: ['Error: failed'] };
      return { status: 'ok', result: { data: { 'text/plain': String(count) }, metadata: {} } };
    },
    complete: async () => ({ matches: ['alpha'], cursorStart: 0, cursorEnd: 2, metadata: {} }),
    inspect: async () => ({ found: true, data: { 'text/plain': 'alpha: number' } }),
    isComplete: async (code) => (code.endsWith('{') ? { status: 'incomplete', indent: '  ' } : { status: 'complete' }),
    interrupt: async () => undefined,
    computeBackend: started ? WASM : undefined,
  };
  const handler = new KernelHandler(executor, io, { version: '9.9.9', backendChoice, onShutdown: (r) => (shutdownWith = r) });
  return { handler, sent, logs, shutdown: () => shutdownWith };
}

function request(type: string, content: Record<string, unknown> = {}): Message {
  return { identities: [Buffer.from('client')], header: makeHeader(type, 'session-1', 'tester'), parent_header: {}, metadata: {}, content, buffers: [] };
}

const REQUESTS: [string, Record<string, unknown>, string][] = [
  ['kernel_info_request', {}, 'kernel_info_reply'],
  ['execute_request', { code: 'x', silent: false }, 'execute_reply'],
  ['complete_request', { code: 'al', cursor_pos: 2 }, 'complete_reply'],
  ['inspect_request', { code: 'alpha', cursor_pos: 2 }, 'inspect_reply'],
  ['is_complete_request', { code: 'if (a) {' }, 'is_complete_reply'],
  ['history_request', { hist_access_type: 'tail', n: 5, output: false, raw: true }, 'history_reply'],
  ['comm_info_request', {}, 'comm_info_reply'],
  ['interrupt_request', {}, 'interrupt_reply'],
];

for (const [type, content, replyType] of REQUESTS) {
  test(`${type}: busy → reply → idle, all with the request as parent`, async () => {
    const { handler, sent } = setup();
    const msg = request(type, content);
    await handler.handle(type === 'interrupt_request' ? 'control' : 'shell', msg);
    const statuses = sent.filter((s) => s.type === 'status');
    assert.deepEqual(statuses.map((s) => s.content.execution_state), ['busy', 'idle']);
    assert.ok(sent.every((s) => s.parent?.msg_id === msg.header.msg_id), 'every message has the request as parent');
    assert.equal(sent[0]!.type, 'status');
    assert.equal(sent.at(-1)!.type, 'status');
    const replies = sent.filter((s) => s.kind === 'reply');
    assert.equal(replies.length, 1);
    assert.equal(replies[0]!.type, replyType);
    assert.notEqual(replies[0]!.content.status, 'error');
  });
}

test('kernel_info names the language, the protocol and the backend', () => {
  const { handler } = setup();
  const info = handler.kernelInfo();
  assert.equal(info.language_info.name, 'typescript');
  assert.equal(info.protocol_version, '5.3');
  assert.match(info.banner, /compute backend: wasm · 1 thread/);
});

test('kernel_info carries the backend as data under `transferlab`, beside the standard fields', async () => {
  const { handler, sent } = setup();
  await handler.handle('shell', request('kernel_info_request'));
  const content = sent.find((s) => s.type === 'kernel_info_reply')!.content;
  assert.deepEqual(content.transferlab, { starting: false, backend: 'wasm', device: 'WebAssembly SIMD', threads: 1, detail: '1 thread', description: 'wasm · 1 thread' });
  assert.equal((content.language_info as { name: string }).name, 'typescript');
});

test('kernel_info says `starting` with the backend asked for until the executor has started it', () => {
  const { handler } = setup({ backendChoice: 'webgpu', started: false });
  const info = handler.kernelInfo();
  assert.deepEqual(info.transferlab, { starting: true, backend: 'webgpu', description: 'webgpu (starting)' });
  assert.match(info.banner, /compute backend: webgpu \(starting\)\./);
});

test('execute: execute_input, stream, execute_result with counts; silent runs publish nothing and keep the count', async () => {
  const { handler, sent } = setup();
  await handler.handle('shell', request('execute_request', { code: 'a' }));
  await handler.handle('shell', request('execute_request', { code: 'b', silent: true }));
  await handler.handle('shell', request('execute_request', { code: 'c' }));
  const pub = sent.filter((s) => s.kind === 'publish' && s.type !== 'status').map((s) => `${s.type}:${JSON.stringify(s.content.execution_count ?? s.content.text)}`);
  assert.deepEqual(pub, ['execute_input:1', 'stream:"ran a\\n"', 'execute_result:1', 'execute_input:2', 'stream:"ran c\\n"', 'execute_result:2']);
  const counts = sent.filter((s) => s.type === 'execute_reply').map((s) => s.content.execution_count);
  assert.deepEqual(counts, [1, 1, 2]);
});

test('execute: an error publishes `error` and replies status error with ename/evalue/traceback', async () => {
  const { handler, sent } = setup();
  await handler.handle('shell', request('execute_request', { code: 'fail' }));
  const err = sent.find((s) => s.type === 'error')!;
  assert.equal(err.content.ename, 'Error');
  const reply = sent.find((s) => s.type === 'execute_reply')!;
  assert.equal(reply.content.status, 'error');
  assert.deepEqual(reply.content.traceback, ['Error: failed']);
});

test('unknown message types are logged, not fatal, and get no reply', async () => {
  const { handler, sent, logs } = setup();
  await handler.handle('shell', request('comm_open', { comm_id: 'x', target_name: 't' }));
  assert.equal(sent.length, 0);
  assert.match(logs.join('\n'), /unsupported message type "comm_open"/);
  await handler.handle('shell', request('kernel_info_request'));
  assert.ok(sent.some((s) => s.type === 'kernel_info_reply'));
});

test('shutdown_request replies with the restart flag, then calls onShutdown', async () => {
  const { handler, sent, shutdown } = setup();
  await handler.handle('control', request('shutdown_request', { restart: true }));
  assert.deepEqual(sent.find((s) => s.type === 'shutdown_reply')!.content, { status: 'ok', restart: true });
  assert.equal(shutdown(), true);
});

test('history_request returns inputs (and outputs on request) of this session', async () => {
  const { handler, sent } = setup();
  await handler.handle('shell', request('execute_request', { code: 'first' }));
  await handler.handle('shell', request('execute_request', { code: 'second' }));
  await handler.handle('shell', request('history_request', { hist_access_type: 'tail', n: 1, output: true, raw: true }));
  assert.deepEqual(sent.find((s) => s.type === 'history_reply')!.content.history, [[1, 2, ['second', '2']]]);
});

test('a request with a wrong field type gets an error reply naming the field, and the next request is answered', async () => {
  const { handler, sent, logs } = setup();
  const bad = request('complete_request', { code: 42, cursor_pos: 1 });
  await handler.handle('shell', bad);
  const reply = sent.find((s) => s.type === 'complete_reply')!;
  assert.equal(reply.content.status, 'error');
  assert.equal(reply.content.ename, 'BadRequestError');
  assert.equal(reply.content.evalue, 'complete_request: content.code must be a string, got number 42');
  assert.deepEqual(sent.filter((s) => s.type === 'status').map((s) => s.content.execution_state), ['busy', 'idle']);
  assert.ok(sent.every((s) => s.parent?.msg_id === bad.header.msg_id));
  assert.match(logs.join('\n'), /content\.code must be a string/);
  await handler.handle('shell', request('is_complete_request', { code: 'if (a) {' }));
  assert.equal(sent.find((s) => s.type === 'is_complete_reply')!.content.status, 'incomplete');
});

test('an execute_request with a wrong field type does not run and does not count', async () => {
  const { handler, sent } = setup();
  await handler.handle('shell', request('execute_request', { code: 'a', stop_on_error: 'yes' }));
  await handler.handle('shell', request('execute_request', { code: 'b' }));
  const replies = sent.filter((s) => s.type === 'execute_reply').map((s) => s.content);
  assert.equal(replies[0]!.status, 'error');
  assert.equal(replies[0]!.evalue, 'execute_request: content.stop_on_error must be a boolean, got string "yes"');
  assert.equal(replies[0]!.execution_count, 0);
  assert.deepEqual(replies[1], { status: 'ok', execution_count: 1, user_expressions: {}, payload: [] });
  assert.ok(!sent.some((s) => s.type === 'stream' && s.content.text === 'ran a\n'));
});

test('an exception anywhere while handling a message is logged and the shell queue goes on', async () => {
  const { handler, sent, logs } = setup();
  const io = handler as unknown as { io: KernelIO };
  const publish = io.io.publish;
  let failures = 1;
  io.io.publish = (...args) => {
    if (failures-- > 0) throw new Error('iopub is broken');
    publish(...args);
  };
  await handler.handle('shell', request('complete_request', { code: 'al', cursor_pos: 2 }));
  assert.match(logs.join('\n'), /iopub is broken/);
  await handler.handle('shell', request('kernel_info_request'));
  await handler.handle('shell', request('history_request', { hist_access_type: 'tail', n: 1 }));
  assert.ok(sent.some((s) => s.type === 'history_reply'));
});

test('a message whose header has no msg_id is logged and dropped', async () => {
  const { handler, sent, logs } = setup();
  const msg = request('execute_request', { code: 'a' });
  await handler.handle('shell', { ...msg, header: { ...msg.header, msg_id: undefined as unknown as string } });
  assert.equal(sent.length, 0);
  assert.match(logs.join('\n'), /header\.msg_id must be a string/);
  await handler.handle('shell', request('kernel_info_request'));
  assert.ok(sent.some((s) => s.type === 'kernel_info_reply'));
});
