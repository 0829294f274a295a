/**
 * The kernel process end to end through the Jupyter protocol (client/kernelClient.ts):
 * TypeScript cell semantics, outputs, errors, interrupts, crashes, stop_on_error, signing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as zmq from 'zeromq';
import { KernelClient } from '../../client/kernelClient';
import type { Message } from '../../kernel/protocol/messages';
import { encode, makeHeader, Signer } from '../../kernel/protocol/wire';

interface Run {
  reply: Awaited<ReturnType<KernelClient['execute']>>;
  msgs: Message[];
  stdout: string;
  stderr: string;
  result: string | undefined;
  ms: number;
}

let kernel: KernelClient;
let log = '';
const strip = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '');

async function run(code: string, opts: { stopOnError?: boolean } = {}): Promise<Run> {
  const msgs: Message[] = [];
  const t0 = performance.now();
  const reply = await kernel.execute(code, { onIOPub: (m) => msgs.push(m), stopOnError: opts.stopOnError });
  const text = (name: string) => msgs.filter((m) => m.header.msg_type === 'stream' && (m.content as { name: string }).name === name).map((m) => (m.content as { text: string }).text).join('');
  const res = msgs.find((m) => m.header.msg_type === 'execute_result');
  return { reply, msgs, stdout: text('stdout'), stderr: text('stderr'), result: res ? ((res.content as { data: Record<string, string> }).data['text/plain'] as string) : undefined, ms: performance.now() - t0 };
}

/** The text/plain of a cell's execute_result on kernel `k`. */
async function plainResult(k: KernelClient, code: string): Promise<string | undefined> {
  const msgs: Message[] = [];
  await k.execute(code, { onIOPub: (m) => msgs.push(m) });
  const res = msgs.find((m) => m.header.msg_type === 'execute_result')?.content as { data: Record<string, string> } | undefined;
  return res?.data['text/plain'];
}

function errorOf(r: Run): { ename: string; evalue: string; traceback: string } {
  assert.equal(r.reply.status, 'error', `expected an error, got ${JSON.stringify(r.reply)}`);
  const e = r.reply as { ename: string; evalue: string; traceback: string[] };
  return { ename: e.ename, evalue: e.evalue, traceback: strip(e.traceback.join('\n')) };
}

describe('kernel', () => {
  let dir: string;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'transferlab-kernel-test-'));
    // An ESM-only package with top-level await, as a notebook folder's dependency.
    const pkg = path.join(dir, 'node_modules', 'esm-only-fixture');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'esm-only-fixture', type: 'module', exports: { '.': { import: './index.js' } } }));
    writeFileSync(path.join(pkg, 'index.js'), 'await Promise.resolve();\nexport const answer = 42;\nexport default function greet(n) { return `hello ${n}`; }\n');
    kernel = await KernelClient.launch({ cwd: dir, env: { TRANSFERLAB_BACKEND: 'cpu' }, onLog: (s) => (log += s) });
  });
  after(async () => {
    await kernel?.shutdown();
  });

  test('an interrupt right after a fresh kernel starts (while it loads its type checker) keeps the state', async () => {
    const k = await KernelClient.launch({ cwd: dir, env: { TRANSFERLAB_BACKEND: 'cpu' } });
    try {
      assert.equal((await k.execute('let counter = 7;')).status, 'ok');
      for (const delay of [100, 400]) {
        const looping = k.execute('while (true) {}');
        await new Promise((r) => setTimeout(r, delay));
        await k.interrupt();
        const r = await looping;
        assert.equal(r.status, 'error');
        assert.equal((r as { ename: string }).ename, 'InterruptError', JSON.stringify(r));
      }
      assert.equal(await plainResult(k, 'counter'), '7');
    } finally {
      await k.shutdown();
    }
  });

  test('an interrupted cell whose reply is lost in the executor is still answered, as interrupted', async () => {
    let kernelLog = '';
    const k = await KernelClient.launch({ cwd: dir, env: { TRANSFERLAB_BACKEND: 'cpu', TRANSFERLAB_TEST_DROP_INTERRUPTED_REPLIES: '1' }, onLog: (s) => (kernelLog += s) });
    try {
      assert.equal((await k.execute('let kept = 3;')).status, 'ok');
      for (const cell of ['await new Promise(() => {})', 'while (true) {}']) {
        const running = k.execute(cell);
        await new Promise((r) => setTimeout(r, 300));
        await k.interrupt();
        const r = await Promise.race([running, new Promise<'hung'>((res) => setTimeout(() => res('hung'), 20_000))]);
        assert.notEqual(r, 'hung', `${cell}: no execute_reply within 20 s`);
        assert.equal((r as { ename: string }).ename, 'InterruptError', JSON.stringify(r));
      }
      assert.match(kernelLog, /the interrupted cell sent no reply; answering it as interrupted/);
      assert.equal(await plainResult(k, 'kept'), '3');
    } finally {
      await k.shutdown();
    }
  });

  test('a kernel whose parent process (JPY_PARENT_PID) is gone shuts down', async () => {
    const { spawn } = await import('node:child_process');
    const parent = spawn('sleep', ['30']);
    const k = await KernelClient.launch({ cwd: dir, env: { JPY_PARENT_PID: String(parent.pid) } });
    const exited = new Promise<number | null>((r) => k.process!.once('exit', (code) => r(code)));
    parent.kill('SIGKILL');
    const t0 = performance.now();
    assert.equal(await exited, 0);
    assert.ok(performance.now() - t0 < 5000);
    await k.shutdown();
  });

  test('a killed kernel is detected at once: the pending request rejects', async () => {
    const k = await KernelClient.launch({ cwd: dir });
    const pending = k.execute('await new Promise((r) => setTimeout(r, 60_000))');
    await new Promise((r) => setTimeout(r, 300));
    const t0 = performance.now();
    k.process!.kill('SIGKILL');
    await assert.rejects(pending, (e: Error) => e.name === 'KernelDiedError' && /signal SIGKILL/.test(e.message));
    assert.ok(performance.now() - t0 < 1000);
    await k.shutdown();
  });

  test('kernel_info answers with the TypeScript language and a banner naming the backend', () => {
    const info = kernel.kernelInfo!;
    assert.equal(info.language_info.name, 'typescript');
    assert.equal(info.language_info.file_extension, '.ts');
    assert.equal(info.protocol_version, '5.3');
    assert.match(info.banner, /compute backend: /);
  });

  test('declarations and their types are visible in later cells', async () => {
    assert.equal((await run('const base: number = 40;\nfunction add(a: number, b: number) { return a + b }\nclass Box<T> { constructor(readonly v: T) {} }\ninterface Pt { x: number }')).reply.status, 'ok');
    assert.equal((await run('add(base, 2)')).result, '42');
    assert.equal((await run('new Box("s").v.toUpperCase()')).result, "'S'");
    assert.equal((await run('const p: Pt = { x: base }; p.x')).result, '40');
    const e = errorOf(await run('const s: string = base;'));
    assert.equal(e.ename, 'TypeScriptError');
    assert.match(e.evalue, /^1:7 TS2322: Type 'number' is not assignable to type 'string'/);
  });

  test('a type error stops the cell before it runs, naming line:column and the TS code', async () => {
    const r = await run('console.log("must not print");\nlet n: number = 1;\nn = "text";');
    const e = errorOf(r);
    assert.equal(r.stdout, '');
    assert.match(e.evalue, /^3:1 TS2322/);
    assert.match(e.traceback, /TS2322.*line 3, column 1/);
    assert.match(e.traceback, /> 3 \| n = "text";/);
  });

  test('top-level await, and await of an any value', async () => {
    assert.equal((await run('const v = await new Promise<number>((r) => setTimeout(() => r(7), 10)); v * 6')).result, '42');
    assert.equal((await run('const anyValue: any = Promise.resolve(5);\nconst got = await anyValue;\ngot')).result, '5');
  });

  test('re-running cells that declare const, let, class and function works', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await run(`const again = ${i};\nlet mutable = again;\nclass Again { k = ${i} }\nfunction againFn() { return ${i} }\nagain + new Again().k + againFn()`);
      assert.equal(r.reply.status, 'ok', JSON.stringify(r.reply));
      assert.equal(r.result, String(3 * i));
    }
  });

  test('shorthand properties of earlier names, and identifiers starting with __', async () => {
    await run('const __secret = 3;\nconst shortName = "s";');
    assert.equal((await run('const o = { shortName, __secret };\nJSON.stringify(o)')).result, `'{"shortName":"s","__secret":3}'`);
  });

  test('imports (CommonJS, node:, ESM-only with top-level await) are visible in later cells', async () => {
    assert.equal((await run('import * as path from "node:path";\nimport { answer } from "esm-only-fixture";\nimport greet from "esm-only-fixture";')).reply.status, 'ok');
    assert.equal((await run('[path.basename("/a/b.txt"), answer, greet("you")]')).result, "[ 'b.txt', 42, 'hello you' ]");
    const e = errorOf(await run('import { nope } from "no-such-package-anywhere";'));
    assert.match(e.evalue, /no-such-package-anywhere/);
    // Installed while the kernel runs: found on the next try, no restart needed.
    const late = path.join(dir, 'node_modules', 'installed-later');
    mkdirSync(late, { recursive: true });
    writeFileSync(path.join(late, 'package.json'), JSON.stringify({ name: 'installed-later', main: 'index.js', types: 'index.d.ts' }));
    writeFileSync(path.join(late, 'index.js'), 'exports.late = 5;\n');
    writeFileSync(path.join(late, 'index.d.ts'), 'export declare const late: number;\n');
    assert.equal((await run('import { late } from "installed-later";\nlate + 1')).result, '6');
  });

  test('stdout and stderr stream as they are written', async () => {
    const msgs: { t: number; text: string }[] = [];
    const t0 = performance.now();
    await kernel.execute('console.log("first"); await new Promise((r) => setTimeout(r, 300)); console.error("second")', {
      onIOPub: (m) => {
        if (m.header.msg_type === 'stream') msgs.push({ t: performance.now() - t0, text: (m.content as { text: string }).text });
      },
    });
    assert.deepEqual(msgs.map((m) => m.text), ['first\n', 'second\n']);
    assert.ok(msgs[1]!.t - msgs[0]!.t >= 250, `the first line arrived only with the second (${msgs.map((m) => m.t.toFixed(0)).join(', ')} ms)`);
  });

  test('runtime errors point at the cell line', async () => {
    const e = errorOf(await run('const ok = 1;\nconst obj: any = undefined;\nobj.field;'));
    assert.equal(e.ename, 'TypeError');
    assert.match(e.traceback, /Cell In\[\d+\], line 3, column/);
    assert.match(e.traceback, /> 3 \| obj\.field;/);
  });

  test('a handle from display.text or display.html keeps its kind when updated with a string', async () => {
    const r = await run('const t = display.text("10%");\nt.update("50%");\nconst h = display.html("<i>a</i>");\nh.update("<b>b</b>");');
    const updates = r.msgs.filter((m) => m.header.msg_type === 'update_display_data').map((m) => (m.content as { data: Record<string, string> }).data);
    assert.equal(updates[0]!['text/plain'], '50%');
    assert.equal(updates[1]!['text/html'], '<b>b</b>');
  });

  test('display, update_display_data, clear_output and self-describing values', async () => {
    const r = await run('const h = display("one");\nh.update("two");\nclearOutput({ wait: true });\nconst custom = { [Symbol.for("Jupyter.display")]() { return { "text/html": "<b>c</b>" }; } };\ncustom');
    const types = r.msgs.map((m) => m.header.msg_type).filter((t) => !['status', 'execute_input'].includes(t));
    assert.deepEqual(types, ['display_data', 'update_display_data', 'clear_output', 'execute_result']);
    const [d, u] = r.msgs.filter((m) => m.header.msg_type.includes('display_data'));
    assert.equal((d!.content as { transient: { display_id: string } }).transient.display_id, (u!.content as { transient: { display_id: string } }).transient.display_id);
    assert.equal((r.msgs.find((m) => m.header.msg_type === 'clear_output')!.content as { wait: boolean }).wait, true);
    const res = r.msgs.find((m) => m.header.msg_type === 'execute_result')!.content as { data: Record<string, string> };
    assert.equal(res.data['text/html'], '<b>c</b>');
  });

  for (const how of ['SIGINT', 'interrupt_request'] as const) {
    test(`interrupt by ${how}: a synchronous infinite loop and a never-settling await stop, state stays`, async () => {
      await run('let survivor = "kept";');
      for (const code of ['while (true) {}', 'await new Promise(() => {});']) {
        const started = run(code);
        await new Promise((r) => setTimeout(r, 300));
        const t0 = performance.now();
        if (how === 'SIGINT') await kernel.interrupt();
        else await kernel.request('control', 'interrupt_request', {}, 5000);
        const r = await started;
        const ms = performance.now() - t0;
        const e = errorOf(r);
        assert.equal(e.ename, 'InterruptError');
        assert.ok(ms < 1000, `${code} took ${ms.toFixed(0)} ms to stop`);
        process.stdout.write(`# ${how} stopped ${JSON.stringify(code)} in ${ms.toFixed(1)} ms\n`);
      }
      assert.equal((await run('survivor')).result, "'kept'");
    });
  }

  test('process.exit() in a cell and an exception thrown from a timer leave the kernel up', async () => {
    await run('const beforeExit = 11;');
    const e = errorOf(await run('process.exit(3)'));
    assert.equal(e.ename, 'ProcessExitError');
    const t = await run('setTimeout(() => { throw new Error("from a timer") }, 10); await new Promise((r) => setTimeout(r, 100));');
    assert.match(t.stderr, /Uncaught exception[\s\S]*from a timer/);
    assert.equal((await run('beforeExit + 1')).result, '12');
    assert.equal(kernel.process?.exitCode, null);
  });

  test('after an error, queued cells are aborted only with stop_on_error', async () => {
    const a = kernel.execute('throw new Error("first fails")', { stopOnError: true });
    const b = kernel.execute('"second"');
    const [ra, rb] = await Promise.all([a, b]);
    assert.equal(ra.status, 'error');
    assert.equal(rb.status, 'aborted');
    const c = kernel.execute('throw new Error("fails again")', { stopOnError: false });
    const d = kernel.execute('"runs"');
    const [rc, rd] = await Promise.all([c, d]);
    assert.equal(rc.status, 'error');
    assert.equal(rd.status, 'ok');
  });

  test('completion knows earlier cells; inspect shows types', async () => {
    await run('const transferRatio: number = 0.5;');
    const c = await kernel.complete('transferR', 9);
    assert.deepEqual(c.matches, ['transferRatio']);
    assert.equal(c.cursor_start, 0);
    const i = await kernel.inspect('transferRatio', 5);
    assert.equal(i.found, true);
    assert.match(String(i.data['text/plain']), /transferRatio: number/);
  });

  test('unsigned and badly signed messages are dropped and logged', async () => {
    const socket = new zmq.Dealer({ linger: 0 });
    socket.connect(`tcp://127.0.0.1:${kernel.connection.shell_port}`);
    const replies: unknown[] = [];
    void (async () => {
      for await (const f of socket) replies.push(f);
    })().catch(() => undefined);
    const content = { code: 'globalThis.hacked = true', silent: false };
    await socket.send(encode({ identities: [], header: makeHeader('execute_request', 's'), parent_header: {}, metadata: {}, content }, new Signer('')));
    await socket.send(encode({ identities: [], header: makeHeader('execute_request', 's'), parent_header: {}, metadata: {}, content }, new Signer('wrong key')));
    await new Promise((r) => setTimeout(r, 500));
    socket.close();
    assert.equal(replies.length, 0);
    assert.match(log, /dropped a message on shell: unsigned message/);
    assert.match(log, /dropped a message on shell: bad signature/);
    assert.equal((await run('typeof (globalThis as any).hacked')).result, "'undefined'");
  });

  test('tl and tf are preloaded and typed; `import * as tl from "transferlab"` works too', async () => {
    const r = await run('const info = tl.backend();\nconst t = tf.tensor([1, 2, 3]).sum().dataSync()[0];\n[info.name, t]');
    assert.equal(r.reply.status, 'ok', JSON.stringify(r.reply));
    assert.equal(r.result, "[ 'cpu', 6 ]");
    assert.equal((await run('import * as tl2 from "transferlab";\ntl2.backend === tl.backend')).result, 'true');
    const e = errorOf(await run('const wrong: string = tl.backend();'));
    assert.equal(e.ename, 'TypeScriptError');
    const info = (await kernel.request('shell', 'kernel_info_request', {})).content as { banner: string; transferlab?: Record<string, unknown> };
    assert.match(info.banner, /compute backend: cpu/);
    assert.deepEqual(info.transferlab, { starting: false, backend: 'cpu', device: 'JavaScript', threads: 1, detail: 'JavaScript (slow: last resort)', description: 'cpu · JavaScript (slow: last resort)' });
  });

  test('training progress is one output updated in place (update_display_data) with training curves', async () => {
    const r = await run('const small = tl.data.synthetic({ n: 64, classes: 2, size: [8, 8], seed: 1 });\nconst net = tl.cnn({ inputShape: [8, 8, 1], numClasses: 2, seed: 0 });\nconst trained = await tl.train(net, small, { epochs: 2, batchSize: 16 });\n"trained"');
    assert.equal(r.reply.status, 'ok', JSON.stringify(r.reply));
    const displays = r.msgs.filter((m) => m.header.msg_type === 'display_data');
    const updates = r.msgs.filter((m) => m.header.msg_type === 'update_display_data');
    assert.ok(updates.length >= 2, `expected progress updates, got ${updates.length}`);
    const id = (m: Message) => (m.content as { transient: { display_id: string } }).transient.display_id;
    assert.ok(displays.some((d) => updates.every((u) => id(u) === id(d))), 'updates target the progress output');
    const last = updates.at(-1)!.content as { data: Record<string, unknown> };
    assert.ok(last.data['application/vnd.transferlab.training+json'], `no training payload in ${Object.keys(last.data)}`);
  });

  test('history: tail and search over this session', async () => {
    await run('const historyMarker = 1;');
    const r = await kernel.request('shell', 'history_request', { hist_access_type: 'search', pattern: '*historyMarker*', output: false, raw: true });
    const h = (r.content as { history: [number, number, string][] }).history;
    assert.equal(h.length, 1);
    assert.equal(h[0]![2], 'const historyMarker = 1;');
  });
});
