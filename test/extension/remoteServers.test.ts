/**
 * Remote kernels in the extension, under plain Node with the vscode stand-in: reading a pasted
 * server URL, the Connect command (the token from `?token=` or the password box, kept in
 * SecretStorage only, a message per kind of failure that says what to do, no token in any log
 * line or message), Disconnect, servers restored at activation, a pair of controllers per server
 * in the kernel picker, the status bar naming the server and a dropped link, and, against a real
 * Jupyter Server (token and base path), a notebook's kernel started there through the controller's
 * kernel process, with its state, and reported dead when the server restarts without it.
 */
import * as fake from './vscodeFake';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter as NodeEmitter } from 'node:events';
import type * as vscode from 'vscode';
import {
  CONNECT_COMMAND,
  DISCONNECT_COMMAND,
  JupyterServers,
  SERVERS_STATE_KEY,
  parseServerUrl,
  remoteLauncher,
  serverControllerId,
  serverLabel,
  tokenSecretKey,
  type RemoteServer,
  type ServerConnector,
  type ServerErrorKind,
} from '../../extension/remoteServers';
import { Messages } from '../../extension/errors';
import { CONTROLLER_IDS, TransferLabController, remoteTarget, type NotebookSession } from '../../extension/controller';
import { KernelProcess, KernelState, type KernelLauncher } from '../../extension/kernelProcess';
import { KernelStatusItem } from '../../extension/status';
import { LinkState, type KernelConnection } from '../../client/connection';
import { JupyterServer, JupyterServerError } from '../../client/jupyterServer';
import { startJupyterServer, type TestJupyterServer } from '../helpers/jupyterServer';

const TOKEN = 'secret-token-5f1c9a';
const lines: string[] = [];
const log = Object.fromEntries(['trace', 'debug', 'info', 'warn', 'error'].map((level) => [level, (m: string) => lines.push(`${level}: ${m}`)])) as unknown as vscode.LogOutputChannel;

/** Everything the user could see or the extension kept outside SecretStorage: none of it may hold the token. */
function visible(memento: fake.FakeMemento): string {
  return [...lines, ...fake.ui.shown.map((m) => `${m.text} ${m.actions.join(' ')}`), JSON.stringify([...memento.values]), JSON.stringify(fake.ui.asked.map((a) => a['value'] ?? ''))].join('\n');
}

/** A server stand-in: answers checkKernelspec with `outcome` (an error kind throws a JupyterServerError whose message holds the token). */
function fakeConnector(outcome: () => ServerErrorKind | 'ok' | Error) {
  const made: { url: string; token?: string }[] = [];
  const connector: ServerConnector = (options) => {
    const { url } = parseServerUrl(options.url) as { url: string };
    made.push({ url, ...(options.token !== undefined ? { token: options.token } : {}) });
    const token = options.token;
    const server: RemoteServer = {
      url,
      redact: (text) => (token ? text.split(token).join('…') : text),
      async checkKernelspec() {
        const o = outcome();
        if (o === 'ok') return { name: 'transferlab', displayName: 'TransferLab (TypeScript)' };
        if (o instanceof Error) throw o;
        // A server's own words may echo what it was sent: the extension must take the token out.
        throw new JupyterServerError(o as never, url, `the server said no (${o}) to ${url}?token=${token ?? ''} with token ${token ?? ''}`);
      },
      startKernel: () => Promise.reject(new Error('not in this test')),
    };
    return server;
  };
  return { connector, made };
}

function store() {
  return { secrets: new fake.FakeSecretStorage(), globalState: new fake.FakeMemento() };
}

describe('parseServerUrl', () => {
  test('takes the token out of the query and keeps scheme, host, port and base path', () => {
    assert.deepEqual(parseServerUrl(`http://127.0.0.1:8888/user/ada/?token=${TOKEN}`), { url: 'http://127.0.0.1:8888/user/ada/', token: TOKEN });
    assert.deepEqual(parseServerUrl('  https://hub.example.org/user/ada  '), { url: 'https://hub.example.org/user/ada/', token: undefined });
    assert.deepEqual(parseServerUrl('http://lab-box:8888/?token='), { url: 'http://lab-box:8888/', token: undefined });
  });

  test('a link to the Jupyter UI names the server before it; a JupyterHub user called "lab" is kept', () => {
    assert.deepEqual(parseServerUrl(`http://127.0.0.1:8888/lab?token=${TOKEN}`), { url: 'http://127.0.0.1:8888/', token: TOKEN });
    assert.equal((parseServerUrl('https://hub.example.org/user/ada/lab/tree/work/a.ipynb') as { url: string }).url, 'https://hub.example.org/user/ada/');
    assert.equal((parseServerUrl('http://h:8888/tree#x') as { url: string }).url, 'http://h:8888/');
    assert.equal((parseServerUrl('https://hub.example.org/user/lab/') as { url: string }).url, 'https://hub.example.org/user/lab/');
  });

  test('host:port without a scheme is http; other schemes, empty and malformed input are refused, the token not repeated', () => {
    assert.deepEqual(parseServerUrl('localhost:8888'), { url: 'http://localhost:8888/', token: undefined });
    assert.deepEqual(parseServerUrl('ftp://h/'), { error: Messages.serverUrlScheme('ftp:') });
    assert.deepEqual(parseServerUrl(' '), { error: Messages.serverUrlEmpty });
    const bad = parseServerUrl(`http://[::1/?token=${TOKEN}`) as { error: string };
    assert.ok('error' in bad);
    assert.ok(!bad.error.includes(TOKEN), bad.error);
  });

  test('labels and controller ids: host and base path; a stable id per URL', () => {
    assert.equal(serverLabel('http://127.0.0.1:8888/user/ada/'), '127.0.0.1:8888/user/ada/');
    assert.match(serverControllerId('http://127.0.0.1:8888/user/ada/'), /^transferlab-remote-[0-9a-f]{12}$/);
    assert.equal(serverControllerId('http://a/'), serverControllerId('http://a/'));
    assert.notEqual(serverControllerId('http://a/'), serverControllerId('http://b/'));
  });
});

describe('Connect to Jupyter Server…', () => {
  test('a token in the pasted URL: no token box; the token in SecretStorage, only the URL in global state', async () => {
    fake.ui.reset();
    lines.length = 0;
    const s = store();
    const { connector, made } = fakeConnector(() => 'ok');
    const servers = new JupyterServers(s, connector, log);
    const added: string[] = [];
    servers.onDidAdd((e) => added.push(e.url));
    fake.ui.inputs = [`http://127.0.0.1:8888/user/ada/lab?token=${TOKEN}`];
    const url = await servers.connect();
    assert.equal(url, 'http://127.0.0.1:8888/user/ada/');
    assert.equal(fake.ui.asked.length, 1, 'no token box when the URL carried the token');
    assert.equal(made[0]!.token, TOKEN);
    assert.equal(s.secrets.values.get(tokenSecretKey(url)), TOKEN);
    assert.deepEqual(s.globalState.values.get(SERVERS_STATE_KEY), [url]);
    assert.deepEqual(added, [url]);
    assert.deepEqual(servers.servers.map((e) => e.url), [url]);
    assert.match(fake.ui.shown.at(-1)!.text, /Connected to the Jupyter Server 127\.0\.0\.1:8888\/user\/ada\//);
    assert.ok(!visible(s.globalState).includes(TOKEN));
  });

  test('the token from a password box; connecting again keeps one entry', async () => {
    fake.ui.reset();
    const s = store();
    const { connector, made } = fakeConnector(() => 'ok');
    const servers = new JupyterServers(s, connector, log);
    fake.ui.inputs = ['http://127.0.0.1:8888/user/ada/', ` ${TOKEN} `];
    await servers.connect();
    assert.equal(fake.ui.asked.length, 2);
    assert.equal(fake.ui.asked[1]!['password'], true, 'the token box hides what is typed');
    assert.match(String(fake.ui.asked[1]!['prompt']), /127\.0\.0\.1:8888\/user\/ada\//);
    assert.equal(made[0]!.token, TOKEN, 'spaces around a pasted token are dropped');
    fake.ui.inputs = ['http://127.0.0.1:8888/user/ada', 'new-token'];
    await servers.connect();
    assert.deepEqual(s.globalState.values.get(SERVERS_STATE_KEY), ['http://127.0.0.1:8888/user/ada/']);
    assert.equal(s.secrets.values.get(tokenSecretKey('http://127.0.0.1:8888/user/ada/')), 'new-token');
    assert.equal(servers.servers.length, 1);
  });

  test('an empty token is a server without authentication; Escape in either box connects nothing', async () => {
    fake.ui.reset();
    const s = store();
    const { connector, made } = fakeConnector(() => 'ok');
    const servers = new JupyterServers(s, connector, log);
    fake.ui.inputs = ['http://127.0.0.1:9999/', ''];
    assert.equal(await servers.connect(), 'http://127.0.0.1:9999/');
    assert.equal(made.at(-1)!.token, undefined);
    fake.ui.inputs = [undefined];
    assert.equal(await servers.connect(), undefined);
    fake.ui.inputs = ['http://127.0.0.1:7777/', undefined];
    assert.equal(await servers.connect(), undefined);
    assert.deepEqual(s.globalState.values.get(SERVERS_STATE_KEY), ['http://127.0.0.1:9999/']);
    assert.deepEqual([...s.secrets.values.keys()], [tokenSecretKey('http://127.0.0.1:9999/')]);
  });

  test('the URL box refuses what is not an http(s) URL, with a message saying what to enter', async () => {
    fake.ui.reset();
    const servers = new JupyterServers(store(), fakeConnector(() => 'ok').connector, log);
    fake.ui.inputs = ['ftp://x/'];
    assert.equal(await servers.connect(), undefined);
    const validate = fake.ui.asked[0]!['validateInput'] as (v: string) => string | undefined;
    assert.equal(validate('ftp://x/'), Messages.serverUrlScheme('ftp:'));
    assert.equal(validate('http://127.0.0.1:8888/'), undefined);
  });

  const kinds: [ServerErrorKind, RegExp][] = [
    ['unauthorized', /refused the token.*Check the token/],
    ['unreachable', /Cannot reach .*Check the URL/],
    ['no-kernelspec', /no "transferlab" kernel.*transferlab kernel install/],
    ['xsrf', /XSRF.*Connect with a token/],
    ['forbidden', /forbids this \(403\)/],
    ['not-found', /Check the base path/],
    ['server-error', /failed \(5xx\)/],
    ['bad-url', /not a Jupyter Server URL/],
  ];
  for (const [kind, says] of kinds) {
    test(`${kind}: a message that says what to do, no token anywhere, nothing stored`, async () => {
      fake.ui.reset();
      lines.length = 0;
      const s = store();
      const servers = new JupyterServers(s, fakeConnector(() => kind).connector, log);
      fake.ui.inputs = ['http://127.0.0.1:8888/user/ada/', TOKEN];
      assert.equal(await servers.connect(), undefined);
      const error = fake.ui.shown.find((m) => m.level === 'error');
      assert.ok(error, 'an error message');
      assert.equal(error.text, Messages.serverError[kind]('127.0.0.1:8888/user/ada/'));
      assert.match(error.text, says);
      assert.ok(error.actions.includes(Messages.tryAgainAction));
      if (kind === 'no-kernelspec') assert.ok(error.actions.includes(Messages.installDocsAction));
      assert.ok(lines.some((l) => l.startsWith('error: ') && l.includes(`the server said no (${kind})`)), 'the server’s own words are logged');
      assert.ok(!visible(s.globalState).includes(TOKEN), visible(s.globalState));
      assert.equal(s.secrets.values.size, 0);
      assert.equal(s.globalState.values.get(SERVERS_STATE_KEY), undefined);
      assert.equal(servers.servers.length, 0);
    });
  }

  test('Try Again asks again with the URL filled in, not the token; How to Install opens the docs', async () => {
    fake.ui.reset();
    const s = store();
    let calls = 0;
    let docs = 0;
    const servers = new JupyterServers(s, fakeConnector(() => (++calls === 1 ? 'unauthorized' : 'ok')).connector, log, () => docs++);
    fake.ui.choose = (_text, actions) => (actions.includes(Messages.tryAgainAction) ? Messages.tryAgainAction : undefined);
    fake.ui.inputs = [`http://127.0.0.1:8888/user/ada/?token=wrong`, 'http://127.0.0.1:8888/user/ada/', TOKEN];
    assert.equal(await servers.connect(), 'http://127.0.0.1:8888/user/ada/');
    assert.equal(fake.ui.asked[1]!['value'], 'http://127.0.0.1:8888/user/ada/');
    assert.equal(s.secrets.values.get(tokenSecretKey('http://127.0.0.1:8888/user/ada/')), TOKEN);
    fake.ui.reset();
    fake.ui.choose = (_text, actions) => (actions.includes(Messages.installDocsAction) ? Messages.installDocsAction : undefined);
    const noSpec = new JupyterServers(store(), fakeConnector(() => 'no-kernelspec').connector, log, () => docs++);
    fake.ui.inputs = ['http://127.0.0.1:8888/', ''];
    await noSpec.connect();
    assert.equal(docs, 1);
  });

  test('a real unreachable server (nothing listens): the unreachable message', async () => {
    fake.ui.reset();
    const servers = new JupyterServers(store(), (o) => new JupyterServer({ ...o, requestTimeoutMs: 5000 }), log);
    fake.ui.inputs = ['http://127.0.0.1:9/', TOKEN];
    assert.equal(await servers.connect(), undefined);
    assert.equal(fake.ui.shown.find((m) => m.level === 'error')?.text, Messages.serverError.unreachable('127.0.0.1:9/'));
  });
});

describe('Disconnect, restore', () => {
  test('disconnect: picked from the connected servers; its secret and URL are gone, its controllers removed', async () => {
    fake.ui.reset();
    const s = store();
    const servers = new JupyterServers(s, fakeConnector(() => 'ok').connector, log);
    fake.ui.inputs = [`http://a:8888/?token=${TOKEN}`, `http://b:8888/?token=other`];
    await servers.connect();
    await servers.connect();
    const removed: string[] = [];
    servers.onDidRemove((e) => removed.push(e.url));
    fake.ui.picks = ['a:8888/'];
    assert.equal(await servers.disconnect(), 'http://a:8888/');
    assert.deepEqual(fake.ui.picked[0]!.map((i) => (i as { label: string }).label), ['a:8888/', 'b:8888/']);
    assert.deepEqual(removed, ['http://a:8888/']);
    assert.equal(s.secrets.values.has(tokenSecretKey('http://a:8888/')), false);
    assert.equal(s.secrets.values.get(tokenSecretKey('http://b:8888/')), 'other');
    assert.deepEqual(s.globalState.values.get(SERVERS_STATE_KEY), ['http://b:8888/']);
    fake.ui.picks = [undefined];
    assert.equal(await servers.disconnect(), undefined, 'Escape disconnects nothing');
    assert.deepEqual(servers.servers.map((e) => e.url), ['http://b:8888/']);
    await servers.disconnect('http://b:8888/');
    fake.ui.shown = [];
    assert.equal(await servers.disconnect(), undefined);
    assert.equal(fake.ui.shown[0]!.text, Messages.noServers);
  });

  test('restore: the servers of earlier sessions come back with their tokens from SecretStorage', async () => {
    const s = store();
    await s.globalState.update(SERVERS_STATE_KEY, ['http://a:8888/', 'http://open:8888/']);
    await s.secrets.store(tokenSecretKey('http://a:8888/'), TOKEN);
    const { connector, made } = fakeConnector(() => 'ok');
    const servers = new JupyterServers(s, connector, log);
    await servers.restore();
    assert.deepEqual(made, [{ url: 'http://a:8888/', token: TOKEN }, { url: 'http://open:8888/' }]);
    assert.deepEqual(servers.servers.map((e) => e.url), ['http://a:8888/', 'http://open:8888/']);
  });

  test('the commands are registered under the ids package.json contributes', async () => {
    fake.ui.reset();
    const servers = new JupyterServers(store(), fakeConnector(() => 'ok').connector, log);
    const disposables = servers.registerCommands();
    fake.ui.inputs = [`http://a:8888/?token=${TOKEN}`];
    assert.equal(await fake.fakeCommands.executeCommand(CONNECT_COMMAND), 'http://a:8888/');
    assert.equal(await fake.fakeCommands.executeCommand(DISCONNECT_COMMAND, 'http://a:8888/'), 'http://a:8888/');
    for (const d of disposables) d.dispose();
  });
});

/** A kernel connection stand-in for the controller and status tests. */
class FakeConnection extends NodeEmitter {
  kernelInfo: unknown = {
    banner: 'TransferLab',
    transferlab: { starting: false, backend: 'wasm', device: 'WebAssembly SIMD', threads: 4, detail: '4 threads', description: 'wasm · 4 threads' },
  };
  executionState = 'idle';
  responsive = true;
  silentMs = 0;
  shutdowns = 0;
  constructor(readonly location: KernelConnection['location']) {
    super();
  }
  async execute(): Promise<unknown> {
    return { status: 'ok', execution_count: 1 };
  }
  async request(): Promise<unknown> {
    return { content: {} };
  }
  async shutdown(): Promise<void> {
    this.shutdowns++;
  }
  kill(): void {}
}

function fakeLauncher(server: string | undefined, made: FakeConnection[]): KernelLauncher {
  return {
    server,
    redact: (t) => t.split(TOKEN).join('…'),
    launch: async () => {
      const c = new FakeConnection(server ? { kind: 'remote', server, kernelId: `k${made.length}` } : { kind: 'local', pid: 1 });
      made.push(c);
      return c as unknown as KernelConnection;
    },
  };
}

describe('controllers per server, status bar', () => {
  const event = () => ({ dispose() {} });
  before(() => {
    Object.assign(fake.workspace, { onDidOpenNotebookDocument: event, onDidChangeConfiguration: event, onDidCloseNotebookDocument: event, isTrusted: true });
  });

  test('a server adds a .tsnb and an .ipynb controller labelled with it; the picker switches a notebook between kernels; removing the server shuts its kernels down', async () => {
    fake.notebooks.created.length = 0;
    const controller = new TransferLabController('/ext', log);
    const url = 'http://127.0.0.1:8888/user/ada/';
    const made: FakeConnection[] = [];
    const id = serverControllerId(url);
    const target = controller.addTarget(remoteTarget(id, serverLabel(url), url, fakeLauncher(url, made)));
    const byId = new Map(fake.notebooks.created.map((c) => [c.id, c]));
    assert.deepEqual([...byId.keys()], [CONTROLLER_IDS.tsnb, CONTROLLER_IDS.ipynb, id, `${id}-ipynb`]);
    const remote = byId.get(id)!;
    assert.equal(remote.notebookType, 'transferlab-notebook');
    assert.equal(byId.get(`${id}-ipynb`)!.notebookType, 'jupyter-notebook');
    assert.equal(remote.label, 'TransferLab (TypeScript) on 127.0.0.1:8888/user/ada/');
    assert.match(remote.description!, /Jupyter Server http:\/\/127\.0\.0\.1:8888\/user\/ada\//);
    assert.match(id, /transferlab/, 'the toolbar menus match notebookKernel =~ /transferlab/');

    const nb = { uri: fake.Uri.file('/nb/a.tsnb'), metadata: {}, notebookType: 'transferlab-notebook', getCells: () => [] } as unknown as vscode.NotebookDocument;
    const cellExecution = () => ({ start() {}, end() {}, clearOutput: async () => undefined, replaceOutput: async () => undefined, appendOutput: async () => undefined, cell: { index: 0, kind: 2, document: { getText: () => '1' }, metadata: {} } });
    const cells = [{ kind: 2, index: 0, document: { getText: () => '1' }, metadata: {} }];
    remote.select(nb, true);
    await remote.executeHandler!(cells, nb, { createNotebookCellExecution: cellExecution });
    const session = controller.session(nb) as NotebookSession;
    assert.equal(session.kernel.server, url);
    assert.equal(made.length, 1, 'the kernel started on the server');
    assert.ok(controller.isOurs(nb));
    // Back to the local kernel: the remote one is shut down.
    const local = byId.get(CONTROLLER_IDS.tsnb)!;
    local.select(nb, true);
    remote.select(nb, false);
    await new Promise((r) => setImmediate(r));
    assert.equal(made[0]!.shutdowns, 1);
    assert.equal(controller.session(nb), undefined);
    // And to the server again; then the server goes away.
    remote.select(nb, true);
    local.select(nb, false);
    await remote.executeHandler!(cells, nb, { createNotebookCellExecution: cellExecution });
    assert.equal(made.length, 2);
    target.dispose();
    await new Promise((r) => setImmediate(r));
    assert.equal(made[1]!.shutdowns, 1, 'disconnecting shut the kernel down');
    assert.ok(remote.disposed && byId.get(`${id}-ipynb`)!.disposed, 'its controllers left the picker');
    assert.ok(!byId.get(CONTROLLER_IDS.tsnb)!.disposed);
    controller.dispose();
  });

  test('the status bar names the server and its backend, says when the link is being retried, and never shows a token', async () => {
    const url = 'http://127.0.0.1:8888/user/ada/';
    const nb = { uri: fake.Uri.file('/nb/s.tsnb'), metadata: {}, notebookType: 'transferlab-notebook' } as unknown as vscode.NotebookDocument;
    const made: FakeConnection[] = [];
    const kernel = new KernelProcess(nb, '/ext', log, {}, fakeLauncher(url, made));
    const changes: (() => void)[] = [];
    const controllerStub = {
      isOurs: () => true,
      session: () => ({ kernel }),
      onDidChangeSession: (l: () => void) => {
        changes.push(l);
        return { dispose() {} };
      },
    };
    fake.window.activeNotebookEditor = { notebook: nb };
    const status = new KernelStatusItem(controllerStub as unknown as TransferLabController);
    const item = fake.statusBarItems.at(-1)!;
    await kernel.start();
    status.update();
    assert.equal(item.text, '$(circuit-board) TransferLab: wasm · 4 threads @ 127.0.0.1:8888/user/ada/');
    assert.match(String(item.tooltip), /On the Jupyter Server http:\/\/127\.0\.0\.1:8888\/user\/ada\//);
    made[0]!.emit('link', LinkState.reconnecting);
    assert.equal(kernel.link, LinkState.reconnecting);
    status.update();
    assert.equal(item.text, Messages.statusReconnecting('127.0.0.1:8888/user/ada/'));
    assert.ok(lines.some((l) => /warn: lost the link to the kernel on http:\/\/127\.0\.0\.1:8888\/user\/ada\/; reconnecting/.test(l)));
    made[0]!.emit('link', LinkState.connected);
    status.update();
    assert.match(item.text, /wasm · 4 threads @ 127\.0\.0\.1/);
    const died: Error[] = [];
    kernel.onDidDie((e) => died.push(e));
    made[0]!.emit('exit', null, null, `The kernel on ${url} is gone: culled (token ${TOKEN}).`);
    assert.equal(kernel.state, KernelState.dead);
    assert.equal(died.length, 1);
    assert.ok(!died[0]!.message.includes(TOKEN), 'the reason is redacted');
    status.update();
    assert.equal(item.text, `${Messages.statusDead} @ 127.0.0.1:8888/user/ada/`);
    assert.ok(!`${item.text}${String(item.tooltip)}`.includes(TOKEN));
    kernel.dispose();
    status.dispose();
    fake.window.activeNotebookEditor = undefined;
  });
});

describe('a notebook kernel on a real Jupyter Server', () => {
  let jupyter: TestJupyterServer;
  before(async () => {
    jupyter = await startJupyterServer({ basePath: '/user/ada/' });
  });
  after(async () => {
    await jupyter?.dispose();
  });

  test('connect with a wrong token, then the right one; a kernel there keeps state and is interrupted; a server restart is a dead kernel, restarted on the server', { timeout: 120_000 }, async () => {
    fake.ui.reset();
    lines.length = 0;
    const s = store();
    const servers = new JupyterServers(s, (o) => new JupyterServer(o), log);
    fake.ui.inputs = [jupyter.url, 'not-the-token'];
    assert.equal(await servers.connect(), undefined);
    assert.equal(fake.ui.shown.find((m) => m.level === 'error')?.text, Messages.serverError.unauthorized(serverLabel(jupyter.url)));
    fake.ui.inputs = [`${jupyter.url}lab?token=${jupyter.token}`];
    assert.equal(await servers.connect(), jupyter.url);
    assert.equal(s.secrets.values.get(tokenSecretKey(jupyter.url)), jupyter.token);

    Object.assign(fake.workspace, { asRelativePath: (uri: { fsPath: string }) => uri.fsPath.replace(/^\/nb\//, '') });
    const nb = { uri: fake.Uri.file('/nb/work/remote.tsnb'), metadata: {}, notebookType: 'transferlab-notebook' } as unknown as vscode.NotebookDocument;
    const kernel = new KernelProcess(nb, '/ext', log, {}, remoteLauncher(servers.servers[0]!));
    try {
      const client = await kernel.start();
      assert.equal(kernel.state, KernelState.idle);
      assert.equal(kernel.server, jupyter.url);
      assert.equal(client.location.kind, 'remote');
      assert.equal((await client.execute('const kept = 20 + 1')).status, 'ok');
      let text = '';
      await client.execute('console.log(kept * 2)', { onIOPub: (m) => (text += m.header.msg_type === 'stream' ? (m.content as { text: string }).text : '') });
      assert.equal(text.trim(), '42');
      // Interrupt a busy cell on the server; the kernel keeps its state.
      const busy = client.execute('while (true) {}');
      await new Promise((r) => setTimeout(r, 500));
      await kernel.interrupt();
      assert.equal((await busy).status, 'error');
      assert.equal((await client.execute('kept')).status, 'ok');
      const died = new Promise<Error>((resolve) => kernel.onDidDie(resolve));
      await jupyter.kill();
      await jupyter.start();
      const error = await died;
      assert.equal(kernel.state, KernelState.dead);
      assert.match(error.message, /gone/);
      const fresh = await kernel.restart();
      assert.notEqual(fresh, client);
      assert.equal(kernel.state, KernelState.idle);
      assert.equal((await fresh.execute('kept')).status, 'error', 'a new kernel: the old state is gone');
      assert.equal((await fresh.execute('1 + 1')).status, 'ok');
    } finally {
      kernel.dispose();
    }
    const all = `${lines.join('\n')}\n${fake.ui.shown.map((m) => m.text).join('\n')}\n${JSON.stringify([...s.globalState.values])}`;
    assert.ok(!all.includes(jupyter.token), 'the token is in a log line or message');
    assert.ok(lines.some((l) => l.includes(`starting kernel on ${jupyter.url} (kernelspec transferlab, path work/remote.tsnb)`)), lines.join('\n'));
  });
});
