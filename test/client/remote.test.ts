/**
 * Remote kernels against a real Jupyter Server (Debian's python3-jupyter-server) on loopback,
 * with a token and a JupyterHub-like base path: run cells, interrupt a busy one, restart, a
 * dropped link reattached with the kernel's state and the outputs it missed, a server killed and
 * started again (the kernel is gone, said so), and each wrong setting with its own message. No
 * token in any log or error.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { KernelDiedError } from '../../client/errors';
import { JupyterServer, JupyterServerError, JupyterServerErrorKind, normaliseServerUrl, tokenFromEnvironment } from '../../client/jupyterServer';
import type { Message } from '../../kernel/protocol/messages';
import { startJupyterServer, type TestJupyterServer } from '../helpers/jupyterServer';

/** Every log line and error message the tests saw: none may hold the token. */
const seen: string[] = [];
const onLog = (t: string) => void seen.push(t);

function streamText(messages: readonly Message[]): string {
  return messages
    .filter((m) => m.header.msg_type === 'stream')
    .map((m) => (m.content as { text: string }).text)
    .join('');
}

/** A TCP proxy in front of the server whose connections can be cut and refused for a while. */
class CuttableProxy {
  private readonly sockets = new Set<Socket>();
  private refusing = false;
  private server!: Server;
  port = 0;
  constructor(private readonly target: number) {}
  async start(): Promise<void> {
    this.server = createServer((client) => {
      if (this.refusing) {
        client.destroy();
        return;
      }
      const upstream = connect(this.target, '127.0.0.1');
      this.sockets.add(client).add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as { port: number }).port;
  }
  /** Cuts every open connection and refuses new ones for `ms`. */
  cut(ms: number): void {
    this.refusing = true;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    setTimeout(() => (this.refusing = false), ms);
  }
  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }
}

describe('remote kernels on a Jupyter Server', { timeout: 300_000 }, () => {
  let js: TestJupyterServer;
  let server: JupyterServer;
  before(async () => {
    js = await startJupyterServer({ basePath: '/user/ada/' });
    server = new JupyterServer({ url: js.url, token: js.token, onLog });
  });
  after(async () => {
    await js?.dispose();
    const leaks = seen.filter((l) => l.includes(js.token));
    assert.deepEqual(leaks, [], 'the token appeared in a log line or error message');
  });

  test('cells run remotely: streams, results, displays, completion, the kernel reports its backend', async () => {
    const k = await server.startKernel({ onLog });
    try {
      assert.equal(k.location.kind, 'remote');
      assert.equal(k.location.kind === 'remote' && k.location.server, js.url);
      assert.ok(!JSON.stringify(k.location).includes(js.token));
      assert.match(k.kernelInfo?.banner ?? '', /TransferLab/);
      const iopub: Message[] = [];
      const reply = await k.execute('const x = 6 * 7;\nconsole.log("hello from", "the server");\nx', { onIOPub: (m) => iopub.push(m) });
      assert.equal(reply.status, 'ok');
      assert.equal(streamText(iopub), 'hello from the server\n');
      const result = iopub.find((m) => m.header.msg_type === 'execute_result');
      assert.equal((result?.content as { data: Record<string, string> }).data['text/plain'], '42');
      const completion = await k.complete('tl.ck', 5);
      assert.ok(completion.matches.includes('cka'), JSON.stringify(completion.matches.slice(0, 10)));
      const info = await k.request('shell', 'kernel_info_request', {}, 10_000);
      assert.ok((info.content as { transferlab?: unknown }).transferlab, 'structured backend info in kernel_info');
    } finally {
      await k.shutdown();
    }
    assert.equal(await server.kernelExists(k.kernelId), false, 'shutdown removes the kernel from the server');
  });

  test('a busy cell is interrupted through the server; the kernel keeps its state', async () => {
    const k = await server.startKernel({ onLog });
    try {
      await k.execute('let kept = "still here";');
      const running = k.execute('for (;;) { await new Promise((r) => setTimeout(r, 20)); }');
      await new Promise((r) => setTimeout(r, 1500));
      const t0 = Date.now();
      await k.interrupt();
      const reply = await running;
      assert.equal(reply.status, 'error');
      assert.ok(Date.now() - t0 < 15_000);
      const iopub: Message[] = [];
      await k.execute('console.log(kept)', { onIOPub: (m) => iopub.push(m) });
      assert.equal(streamText(iopub), 'still here\n');
    } finally {
      await k.shutdown();
    }
  });

  test('restart: the same kernel id, empty state, and it runs again', async () => {
    const k = await server.startKernel({ onLog });
    try {
      const marker = '(globalThis as Record<string, unknown>).marker';
      await k.execute(`${marker} = 1;`);
      const seenBefore: Message[] = [];
      await k.execute(`console.log(typeof ${marker})`, { onIOPub: (m) => seenBefore.push(m) });
      assert.equal(streamText(seenBefore), 'number\n');
      await k.restart();
      const iopub: Message[] = [];
      const again = await k.execute(`console.log(typeof ${marker})`, { onIOPub: (m) => iopub.push(m) });
      assert.equal(again.status, 'ok');
      assert.equal(streamText(iopub), 'undefined\n');
      assert.equal(await server.kernelExists(k.kernelId), true);
    } finally {
      await k.shutdown();
    }
  });

  test('a dropped link is shown, retried and reattached: state kept, outputs sent meanwhile not lost', async () => {
    const proxy = new CuttableProxy(js.port);
    await proxy.start();
    const viaProxy = new JupyterServer({ url: js.url.replace(`:${js.port}/`, `:${proxy.port}/`), token: js.token, onLog });
    const k = await viaProxy.startKernel({ onLog });
    const links: string[] = [];
    k.on('link', (s: string) => links.push(s));
    try {
      await k.execute('let counter = 10;');
      const iopub: Message[] = [];
      // Prints for 6 s; the link is cut for 3 s of them.
      const running = k.execute('for (let i = 0; i < 12; i++) { console.log(`tick ${i}`); await new Promise((r) => setTimeout(r, 500)); }\ncounter + 1', {
        onIOPub: (m) => iopub.push(m),
      });
      await new Promise((r) => setTimeout(r, 1200));
      proxy.cut(3000);
      const reply = await running;
      assert.equal(reply.status, 'ok');
      assert.deepEqual(links.slice(0, 1), ['reconnecting']);
      assert.equal(links[links.length - 1], 'connected');
      const ticks = streamText(iopub).split('\n').filter(Boolean);
      assert.deepEqual(ticks, Array.from({ length: 12 }, (_, i) => `tick ${i}`), 'every output, also those sent while the link was down');
      const result = iopub.find((m) => m.header.msg_type === 'execute_result');
      assert.equal((result?.content as { data: Record<string, string> }).data['text/plain'], '11');
    } finally {
      await k.shutdown();
      await proxy.close();
    }
  });

  test('a server killed and started again: the kernel is gone and the client says so; a new kernel starts', async () => {
    const k = await server.startKernel({ onLog });
    const exits: string[] = [];
    k.on('exit', (_code: unknown, _signal: unknown, reason: string) => exits.push(reason));
    const running = k.execute('await new Promise((r) => setTimeout(r, 60_000))');
    await new Promise((r) => setTimeout(r, 500));
    await js.kill();
    await new Promise((r) => setTimeout(r, 1000));
    await js.start();
    await assert.rejects(running, (e: unknown) => e instanceof KernelDiedError && /no longer on the server/.test(e.message) && e.message.includes(js.url));
    assert.equal(exits.length, 1);
    await assert.rejects(k.execute('1'), KernelDiedError);
    await k.shutdown();
    const fresh = await server.startKernel({ onLog });
    try {
      assert.equal((await fresh.execute('1 + 1')).status, 'ok');
    } finally {
      await fresh.shutdown();
    }
  });

  test('a wrong token, no token, a wrong base path, nothing listening: each its own message, none with the token', async () => {
    const wrong = new JupyterServer({ url: js.url, token: 'not-the-token', onLog });
    await assert.rejects(wrong.checkKernelspec(), (e: unknown) => {
      assert.ok(e instanceof JupyterServerError);
      assert.equal(e.kind, JupyterServerErrorKind.unauthorized);
      assert.match(e.message, /refused the token/);
      assert.ok(!e.message.includes('not-the-token'));
      seen.push(e.message);
      return true;
    });
    await assert.rejects(new JupyterServer({ url: js.url }).startKernel(), (e: unknown) => e instanceof JupyterServerError && e.kind === 'unauthorized' && /needs a token/.test(e.message));
    const badBase = new JupyterServer({ url: js.url.replace('/user/ada/', '/user/bob/'), token: js.token, onLog });
    await assert.rejects(badBase.checkKernelspec(), (e: unknown) => {
      assert.ok(e instanceof JupyterServerError && e.kind === JupyterServerErrorKind.notFound, String(e));
      assert.match(e.message, /base path/);
      seen.push(e.message);
      return true;
    });
    const closed = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const port = (probe.address() as { port: number }).port;
        probe.close(() => resolve(port));
      });
    });
    const nobody = new JupyterServer({ url: `http://127.0.0.1:${closed}/`, token: js.token, onLog, requestTimeoutMs: 5000 });
    await assert.rejects(nobody.startKernel(), (e: unknown) => {
      assert.ok(e instanceof JupyterServerError && e.kind === JupyterServerErrorKind.unreachable, String(e));
      assert.match(e.message, new RegExp(`Could not reach the Jupyter Server at http://127\\.0\\.0\\.1:${closed}/ .*ECONNREFUSED`));
      seen.push(e.message);
      return true;
    });
  });

  test('a token in the pasted URL is used and never shown', async () => {
    const s = new JupyterServer({ url: `${js.url}lab?token=${js.token}`, onLog });
    assert.equal(s.url, js.url);
    assert.equal(s.redact(`GET ${js.url}?token=${js.token} with ${js.token}`).includes(js.token), false);
    const spec = await s.checkKernelspec();
    assert.equal(spec.name, 'transferlab');
  });

  test('a 403 asking for an XSRF cookie on a write is told apart from a wrong token', async () => {
    const response = new Response('{"message": "\'_xsrf\' argument missing from POST"}', { status: 403 });
    const failure = Object.assign(new Error("'_xsrf' argument missing from POST"), { response });
    await assert.rejects(
      server.call('POST api/kernels', () => Promise.reject(failure), true),
      (e: unknown) => e instanceof JupyterServerError && e.kind === JupyterServerErrorKind.xsrf && /XSRF cookie/.test(e.message),
    );
    await assert.rejects(
      server.call('GET api/kernelspecs', () => Promise.reject(Object.assign(new Error('Forbidden'), { response: new Response('{}', { status: 403 }) }))),
      (e: unknown) => e instanceof JupyterServerError && e.kind === JupyterServerErrorKind.unauthorized,
    );
  });
});

describe('a Jupyter Server without the transferlab kernelspec', { timeout: 120_000 }, () => {
  test('is told to install it, naming the kernelspecs it has', async () => {
    const js = await startJupyterServer({ withKernelspec: false });
    try {
      const s = new JupyterServer({ url: js.url, token: js.token, onLog });
      await assert.rejects(s.startKernel(), (e: unknown) => {
        assert.ok(e instanceof JupyterServerError && e.kind === JupyterServerErrorKind.noKernelspec, String(e));
        assert.match(e.message, /no "transferlab" kernelspec \(it has: .*\).*transferlab kernel install/);
        return true;
      });
    } finally {
      await js.dispose();
    }
  });
});

describe('server URLs and tokens', () => {
  test('URLs are normalised; a ?token= is taken out', () => {
    assert.deepEqual(normaliseServerUrl('http://host:8888/user/ada'), { url: 'http://host:8888/user/ada/', token: undefined });
    assert.deepEqual(normaliseServerUrl('http://host:8888/lab'), { url: 'http://host:8888/', token: undefined });
    assert.deepEqual(normaliseServerUrl('http://host:8888/tree/a/b.ipynb'), { url: 'http://host:8888/', token: undefined });
    // JupyterHub users called like a UI route keep their server.
    assert.deepEqual(normaliseServerUrl('https://hub/user/lab/'), { url: 'https://hub/user/lab/', token: undefined });
    assert.deepEqual(normaliseServerUrl('https://hub/user/tree/lab/tree/x.ipynb'), { url: 'https://hub/user/tree/', token: undefined });
    assert.deepEqual(normaliseServerUrl(' https://hub.example.org/user/ada/lab/tree/x.ipynb?token=abc '), { url: 'https://hub.example.org/user/ada/', token: 'abc' });
    assert.throws(() => normaliseServerUrl('ftp://host/'), (e: unknown) => e instanceof JupyterServerError && e.kind === 'bad-url');
    assert.throws(() => normaliseServerUrl('not a url?token=s3cret'), (e: unknown) => e instanceof JupyterServerError && !e.message.includes('s3cret'));
  });
  test('the token comes from --token-file, else JUPYTER_TOKEN', () => {
    assert.equal(tokenFromEnvironment({ env: { JUPYTER_TOKEN: 'abc' } }), 'abc');
    assert.equal(tokenFromEnvironment({ env: {} }), undefined);
    assert.throws(() => tokenFromEnvironment({ tokenFile: '/nonexistent/token' }), /--token-file \/nonexistent\/token: no such file/);
  });
});
