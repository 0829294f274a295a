/**
 * A hostile client against a real kernel process: every request type the kernel answers, each
 * content field given a wrong type, left out, or huge (5 MB); the content itself not an object;
 * malformed headers and frames; replayed signed messages. After every case the kernel must
 * still answer `1+1` with `2`, and a variable defined at the start keeps its value. One kernel
 * for all cases (no restart per case).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import * as zmq from 'zeromq';
import { KernelClient } from '../../client/kernelClient';
import type { Header, Message } from '../../kernel/protocol/messages';
import { DELIMITER, Signer, decode } from '../../kernel/protocol/wire';

const HUGE = 'x'.repeat(5 * 1024 * 1024);
/** Per request; the 5 MB cases take longest (type checking a 5 MB cell). */
const REPLY_TIMEOUT_MS = 20_000;

/** A client that sends whatever frames it is given, signed with the kernel's key, on its own sockets. */
class RawClient {
  private readonly sockets: Record<'shell' | 'control', zmq.Dealer>;
  private readonly waiting = new Map<string, (m: Message) => void>();
  readonly signer: Signer;
  readonly unmatched: Message[] = [];

  constructor(private readonly kernel: KernelClient) {
    this.signer = new Signer(kernel.connection.key, kernel.connection.signature_scheme);
    this.sockets = { shell: new zmq.Dealer({ linger: 0 }), control: new zmq.Dealer({ linger: 0 }) };
    this.sockets.shell.connect(`tcp://${kernel.connection.ip}:${kernel.connection.shell_port}`);
    this.sockets.control.connect(`tcp://${kernel.connection.ip}:${kernel.connection.control_port}`);
    for (const s of Object.values(this.sockets)) void this.receive(s);
  }

  private async receive(socket: zmq.Dealer): Promise<void> {
    try {
      for await (const frames of socket) {
        const msg = decode(frames as Buffer[], this.signer);
        const id = (msg.parent_header as Partial<Header>).msg_id;
        const w = id === undefined ? undefined : this.waiting.get(id);
        if (w) {
          this.waiting.delete(id!);
          w(msg);
        } else {
          this.unmatched.push(msg);
        }
      }
    } catch {
      // closed
    }
  }

  header(msgType: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { msg_id: randomUUID(), session: 'fuzz', username: 'fuzz', date: new Date().toISOString(), msg_type: msgType, version: '5.3', ...extra };
  }

  /** Signed frames of a message whose header and content may be anything JSON can carry. */
  frames(header: unknown, content: unknown): Buffer[] {
    const parts = [header, {}, {}, content].map((p) => Buffer.from(JSON.stringify(p), 'utf8'));
    return [Buffer.from(DELIMITER), Buffer.from(this.signer.sign(parts)), ...parts];
  }

  async sendFrames(channel: 'shell' | 'control', frames: Buffer[]): Promise<void> {
    await this.sockets[channel].send(frames);
  }

  /** Sends a request and waits for its reply; undefined when none came within `timeoutMs`. */
  async request(channel: 'shell' | 'control', msgType: string, content: unknown, timeoutMs = REPLY_TIMEOUT_MS): Promise<Message | undefined> {
    const header = this.header(msgType);
    const reply = new Promise<Message | undefined>((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(header.msg_id as string);
        resolve(undefined);
      }, timeoutMs);
      this.waiting.set(header.msg_id as string, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
    });
    await this.sendFrames(channel, this.frames(header, content));
    return reply;
  }

  close(): void {
    for (const s of Object.values(this.sockets)) s.close();
  }

  get connection() {
    return this.kernel.connection;
  }
}

type Kind = 'string' | 'boolean' | 'count' | 'integer' | 'stringMap' | { oneOf: readonly (string | number)[] };
interface FieldSpec {
  readonly name: string;
  readonly kind: Kind;
  readonly required?: boolean;
}
interface RequestSpec {
  readonly type: string;
  readonly channel: 'shell' | 'control';
  /** A valid content the cases start from. */
  readonly base: Record<string, unknown>;
  readonly fields: readonly FieldSpec[];
  /** A valid request of this type has effects the fuzz must not trigger (shutdown). */
  readonly onlyInvalid?: boolean;
}

const SPECS: readonly RequestSpec[] = [
  { type: 'kernel_info_request', channel: 'shell', base: {}, fields: [] },
  {
    type: 'execute_request',
    channel: 'shell',
    base: { code: 'ran++', silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true },
    fields: [
      { name: 'code', kind: 'string', required: true },
      { name: 'silent', kind: 'boolean' },
      { name: 'store_history', kind: 'boolean' },
      { name: 'user_expressions', kind: 'stringMap' },
      { name: 'allow_stdin', kind: 'boolean' },
      { name: 'stop_on_error', kind: 'boolean' },
    ],
  },
  {
    type: 'complete_request',
    channel: 'shell',
    base: { code: 'fuzzSt', cursor_pos: 6 },
    fields: [
      { name: 'code', kind: 'string', required: true },
      { name: 'cursor_pos', kind: 'count' },
    ],
  },
  {
    type: 'inspect_request',
    channel: 'shell',
    base: { code: 'fuzzState', cursor_pos: 3, detail_level: 0 },
    fields: [
      { name: 'code', kind: 'string', required: true },
      { name: 'cursor_pos', kind: 'count' },
      { name: 'detail_level', kind: { oneOf: [0, 1] } },
    ],
  },
  { type: 'is_complete_request', channel: 'shell', base: { code: 'if (a) {' }, fields: [{ name: 'code', kind: 'string', required: true }] },
  {
    type: 'history_request',
    channel: 'shell',
    base: { hist_access_type: 'tail', n: 3, output: false, raw: true },
    fields: [
      { name: 'hist_access_type', kind: { oneOf: ['range', 'tail', 'search'] }, required: true },
      { name: 'output', kind: 'boolean' },
      { name: 'raw', kind: 'boolean' },
      { name: 'n', kind: 'count' },
      { name: 'session', kind: 'integer' },
      { name: 'start', kind: 'integer' },
      { name: 'stop', kind: 'integer' },
      { name: 'pattern', kind: 'string' },
      { name: 'unique', kind: 'boolean' },
    ],
  },
  { type: 'comm_info_request', channel: 'shell', base: { target_name: 'jupyter.widget' }, fields: [{ name: 'target_name', kind: 'string' }] },
  { type: 'interrupt_request', channel: 'control', base: {}, fields: [] },
  // Last: a valid shutdown_request would end the kernel, so only rejected ones are sent.
  { type: 'shutdown_request', channel: 'control', base: { restart: false }, fields: [{ name: 'restart', kind: 'boolean' }], onlyInvalid: true },
];

const SAMPLES: Record<string, unknown> = { number: 42, string: 'text', boolean: true, array: [1, 'a'], object: { a: 1 }, null: null };

function accepts(kind: Kind, v: unknown): boolean {
  if (typeof kind === 'object') return kind.oneOf.includes(v as string | number);
  switch (kind) {
    case 'string':
      return typeof v === 'string';
    case 'boolean':
      return typeof v === 'boolean';
    case 'count':
      return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
    case 'integer':
      return typeof v === 'number' && Number.isSafeInteger(v);
    case 'stringMap':
      return v !== null && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
  }
}

interface Case {
  readonly label: string;
  readonly content: unknown;
  /** `reject`: an error reply naming `field`; `answer`: any reply. */
  readonly expect: { reject: string } | 'answer';
}

function casesOf(spec: RequestSpec): Case[] {
  const cases: Case[] = [];
  for (const content of [42, 'text', [1], true]) {
    cases.push({ label: `content ${JSON.stringify(content)}`, content, expect: { reject: 'content' } });
  }
  cases.push({ label: 'huge extra field', content: { ...spec.base, junk: HUGE }, expect: spec.onlyInvalid ? { reject: 'restart' } : 'answer' });
  if (spec.onlyInvalid) (cases.at(-1) as { content: Record<string, unknown> }).content = { junk: HUGE, restart: 'yes' };
  for (const f of spec.fields) {
    const values: [string, unknown][] = [...Object.entries(SAMPLES), ['huge string', HUGE]];
    if (f.kind === 'count') values.push(['negative', -1], ['fraction', 1.5], ['huge number', 1e300]);
    if (f.kind === 'integer') values.push(['fraction', 2.5]);
    if (typeof f.kind === 'object') values.push(['other value', 7], ['other string', 'bogus']);
    if (f.kind === 'stringMap') values.push(['map of numbers', { e: 1 }]);
    for (const [label, v] of values) {
      const ok = accepts(f.kind, v) || (v === null && !f.required);
      if (ok && spec.onlyInvalid) continue;
      cases.push({ label: `${f.name}: ${label}`, content: { ...spec.base, [f.name]: v }, expect: ok ? 'answer' : { reject: f.name } });
    }
    const rest = { ...spec.base };
    delete rest[f.name];
    if (!(spec.onlyInvalid && !f.required)) cases.push({ label: `${f.name}: missing`, content: rest, expect: f.required ? { reject: f.name } : 'answer' });
  }
  return cases;
}

describe('protocol fuzz: a hostile client', () => {
  let kernel: KernelClient;
  let raw: RawClient;
  let log = '';

  const plainResult = async (code: string): Promise<string | undefined> => {
    const msgs: Message[] = [];
    const reply = await Promise.race([kernel.execute(code, { onIOPub: (m) => msgs.push(m) }), new Promise<'hung'>((r) => setTimeout(() => r('hung'), REPLY_TIMEOUT_MS))]);
    assert.notEqual(reply, 'hung', `no execute_reply to ${JSON.stringify(code)} within ${REPLY_TIMEOUT_MS} ms`);
    const res = msgs.find((m) => m.header.msg_type === 'execute_result')?.content as { data: Record<string, string> } | undefined;
    return res?.data['text/plain'];
  };

  /** The kernel still works and still has its state. */
  const alive = async (after: string): Promise<void> => {
    assert.equal(await plainResult('1+1'), '2', `after ${after}: 1+1 is not 2`);
  };

  before(async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'transferlab-fuzz-'));
    kernel = await KernelClient.launch({ cwd: dir, env: { TRANSFERLAB_BACKEND: 'cpu' }, onLog: (s) => (log += s) });
    raw = new RawClient(kernel);
    assert.equal((await kernel.execute('let fuzzState = 41;\nlet ran = 0;')).status, 'ok');
  });
  after(async () => {
    raw?.close();
    await kernel?.shutdown();
  });

  test('every content field wrong, missing or huge: answered, and the kernel goes on with its state', { timeout: 120_000 }, async () => {
    let executed = 0;
    for (const spec of SPECS) {
      for (const c of casesOf(spec)) {
        const label = `${spec.type} with ${c.label}`;
        const reply = await raw.request(spec.channel, spec.type, c.content);
        assert.ok(reply, `${label}: no reply within ${REPLY_TIMEOUT_MS} ms`);
        assert.equal(reply.header.msg_type, spec.type.replace(/_request$/, '_reply'), label);
        const content = reply.content as { status?: string; ename?: string; evalue?: string };
        if (c.expect !== 'answer') {
          assert.equal(content.status, 'error', `${label}: expected an error reply, got ${JSON.stringify(content).slice(0, 300)}`);
          assert.equal(content.ename, 'BadRequestError', label);
          const field = c.expect.reject === 'content' ? 'content must be an object' : `content.${c.expect.reject}`;
          const evalue = content.evalue ?? '';
          assert.ok(evalue.startsWith(`${spec.type}: ${field}`), `${label}: ${evalue}`);
          assert.ok(evalue.length < 300, `${label}: the error message copies the value (${evalue.length} characters)`);
        } else if (spec.type === 'execute_request' && content.status === 'ok') {
          executed++;
        }
        await alive(label);
      }
      assert.equal(await plainResult('fuzzState'), '41', `after the ${spec.type} cases, earlier state is gone`);
    }
    // Rejected execute requests never ran their code.
    assert.equal(await plainResult('ran'), String(executed));
    assert.equal(kernel.process?.exitCode, null);
  });

  test('malformed headers and frames are dropped or answered; the kernel goes on', { timeout: 60_000 }, async () => {
    const content = { code: 'ran = -1000' };
    const cases: [string, Buffer[]][] = [
      ['header without msg_id', raw.frames({ ...raw.header('execute_request'), msg_id: undefined }, content)],
      ['numeric msg_id', raw.frames(raw.header('execute_request', { msg_id: 7 }), content)],
      ['object msg_id', raw.frames(raw.header('execute_request', { msg_id: { a: 1 } }), content)],
      ['numeric msg_type', raw.frames(raw.header(5), content)],
      ['header an array', raw.frames([1, 2], content)],
      ['header a string', raw.frames('execute_request', content)],
      ['header null', raw.frames(null, content)],
      ['msg_type __proto__', raw.frames(raw.header('__proto__'), content)],
      ['msg_type toString', raw.frames(raw.header('toString'), content)],
      ['msg_type constructor', raw.frames(raw.header('constructor'), content)],
      ['unknown msg_type', raw.frames(raw.header('bogus_request'), content)],
      ['huge msg_type', raw.frames(raw.header(HUGE), content)],
      ['no delimiter', [Buffer.from('sig'), Buffer.from('{}')]],
      ['too few frames', raw.frames(raw.header('execute_request'), content).slice(0, 3)],
      ['content not JSON', (() => {
        const parts = [raw.header('execute_request'), {}, {}].map((p) => Buffer.from(JSON.stringify(p)));
        parts.push(Buffer.from('{"code": '));
        return [Buffer.from(DELIMITER), Buffer.from(raw.signer.sign(parts)), ...parts];
      })()],
      ['binary garbage', [Buffer.from(DELIMITER), Buffer.from('ff'), Buffer.from([0xff, 0xfe, 0x00]), Buffer.from([0]), Buffer.from([1]), Buffer.from([2])]],
    ];
    for (const [label, frames] of cases) {
      for (const channel of ['shell', 'control'] as const) {
        await raw.sendFrames(channel, frames);
        await alive(`${label} on ${channel}`);
      }
    }
    assert.equal(await plainResult('fuzzState'), '41');
    assert.notEqual(await plainResult('ran'), '-1000', 'a malformed execute_request ran');
    assert.match(log, /unsupported message type "bogus_request"/);
  });

  test('a replayed signed message is dropped, not run again', { timeout: 30_000 }, async () => {
    await plainResult('let replayed = 0;');
    const header = raw.header('execute_request');
    const frames = raw.frames(header, { code: 'replayed++', silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true });
    const replies: Message[] = [];
    const before = raw.unmatched.length;
    // Send the same signed frames three times (the first is the original), on shell and control.
    await raw.sendFrames('shell', frames);
    await raw.sendFrames('shell', frames);
    await raw.sendFrames('control', frames);
    await alive('replays');
    await new Promise((r) => setTimeout(r, 300));
    replies.push(...raw.unmatched.slice(before).filter((m) => (m.parent_header as Header).msg_id === header.msg_id && m.header.msg_type === 'execute_reply'));
    assert.equal(replies.length, 1, `expected one execute_reply for the replayed message, got ${replies.length}`);
    assert.equal(await plainResult('replayed'), '1');
    assert.match(log, /replayed/);
  });

  test('an interrupt that lands in a timer callback (no cell running) stops the loop and keeps the state', { timeout: 30_000 }, async () => {
    assert.equal(await plainResult('let timerState = "kept"; setTimeout(() => { while (true) {} }, 10); 1'), '1');
    await new Promise((r) => setTimeout(r, 300));
    await kernel.request('control', 'interrupt_request', {}, 5000);
    assert.equal(await plainResult('timerState'), "'kept'");
    assert.equal(await plainResult('fuzzState'), '41');
    assert.doesNotMatch(log, /restarting the executor/);
    // The same by SIGINT, with a cell queued behind the loop.
    assert.equal(await plainResult('setTimeout(() => { while (true) {} }, 10); 2'), '2');
    await new Promise((r) => setTimeout(r, 300));
    const queued = plainResult('timerState + "!"');
    await new Promise((r) => setTimeout(r, 100));
    await kernel.interrupt();
    await queued.catch(() => undefined);
    assert.equal(await plainResult('timerState'), "'kept'");
    assert.doesNotMatch(log, /restarting the executor/);
  });
});
