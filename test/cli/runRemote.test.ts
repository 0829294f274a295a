/**
 * `transferlab run --server`: a notebook run on a kernel of a real Jupyter Server (token, base
 * path) gives the same notebook as a local run, the same exit statuses, and the token appears
 * nowhere (the executed notebook, the HTML report, stdout, stderr). `kernel install --backend`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runRun } from '../../cli/run';
import { kernelSpec, kernelspecBackend } from '../../cli/kernelspec';
import { createTsnbNotebook, parseTsnb, serializeTsnb, type TsnbCell, type TsnbCodeCell } from '../../kernel/protocol/tsnb';
import { captureIo } from '../helpers/tools';
import { startJupyterServer, type TestJupyterServer } from '../helpers/jupyterServer';

function code(source: string, tags: string[] = []): TsnbCodeCell {
  return { cell_type: 'code', source, metadata: tags.length ? { tags } : {}, execution_count: null, outputs: [] };
}

function write(dir: string, name: string, cells: TsnbCell[]): string {
  const nb = createTsnbNotebook();
  nb.cells.push(...cells);
  const file = path.join(dir, name);
  writeFileSync(file, serializeTsnb(nb));
  return file;
}

/** A notebook whose outputs do not depend on where it runs: seeded tensors, a CKA value, a chart. */
const deterministic: TsnbCell[] = [
  code('const seed = 3;\nconst n = 40;', ['parameters']),
  code('const X = tf.randomNormal([n, 6], 0, 1, "float32", seed);\nconst Y = X.matMul(tf.randomNormal([6, 5], 0, 1, "float32", seed + 1));\nconsole.log("rows", X.shape[0]);'),
  code('const r = await tl.cka.linear(X, Y);\nr.toFixed(6)'),
  code('for (let i = 0; i < 3; i++) console.log(`line ${i}`);'),
];

describe('transferlab run --server', { timeout: 300_000 }, () => {
  let js: TestJupyterServer;
  let dir: string;
  let tokenFile: string;
  before(async () => {
    js = await startJupyterServer({ basePath: '/user/ada/' });
    dir = mkdtempSync(path.join(tmpdir(), 'tl-run-remote-'));
    tokenFile = path.join(dir, 'token');
    writeFileSync(tokenFile, `${js.token}\n`);
  });
  after(() => js?.dispose());

  test('the same executed notebook as a local run; the token nowhere', async () => {
    const input = write(dir, 'det.tsnb', deterministic);
    const local = path.join(dir, 'local.tsnb');
    const remote = path.join(dir, 'remote.tsnb');
    const html = path.join(dir, 'remote.html');
    const io1 = captureIo();
    assert.equal(await runRun([input, '--out', local, '--backend', 'wasm', '--quiet', '-p', 'seed=5'], io1), 0, io1.err);
    const io2 = captureIo();
    assert.equal(await runRun([input, '--out', remote, '--html', html, '--server', js.url, '--token-file', tokenFile, '-p', 'seed=5'], io2), 0, io2.err);
    const a = parseTsnb(readFileSync(local, 'utf8'));
    const b = parseTsnb(readFileSync(remote, 'utf8'));
    const outputs = (nb: typeof a) => nb.cells.filter((c): c is TsnbCodeCell => c.cell_type === 'code').map((c) => ({ count: c.execution_count, outputs: c.outputs }));
    assert.deepEqual(outputs(b), outputs(a));
    assert.equal(b.metadata.backend, 'wasm');
    const everything = [readFileSync(remote, 'utf8'), readFileSync(html, 'utf8'), io2.out, io2.err].join('\n');
    assert.ok(!everything.includes(js.token), 'the token leaked into an output');
    assert.match(io2.out, /ran 5 code cells .* on wasm/); // 4 and the injected parameters
  });

  test('a failing cell: exit status 1, the partial notebook written, as locally', async () => {
    const input = write(dir, 'fails.tsnb', [code('console.log("before")'), code('throw new Error("boom")'), code('console.log("never")')]);
    const out = path.join(dir, 'fails.out.tsnb');
    const io = captureIo();
    assert.equal(await runRun([input, '--out', out, '--server', js.url, '--token-file', tokenFile, '--quiet'], io), 1);
    assert.match(io.err, /boom/);
    const nb = parseTsnb(readFileSync(out, 'utf8'));
    const cells = nb.cells as TsnbCodeCell[];
    assert.equal(cells[0]!.outputs.length, 1);
    assert.equal(cells[2]!.outputs.length, 0);
  });

  test('a wrong token: exit status 1 with what to do, and neither token is printed', async () => {
    const input = write(dir, 'small.tsnb', [code('1 + 1')]);
    const io = captureIo();
    const status = await runRun([input, '--out', path.join(dir, 'x.tsnb'), '--server', `${js.url}?token=wrong-token-value`, '--quiet'], io);
    assert.equal(status, 1);
    assert.match(io.err, /refused the token/);
    assert.ok(!io.err.includes('wrong-token-value') && !io.err.includes(js.token));
  });

  test('usage errors: --backend with --server, --token-file alone, a bad URL, a missing token file', async () => {
    const input = write(dir, 'u.tsnb', [code('1')]);
    const cases: [string[], RegExp][] = [
      [['--server', js.url, '--backend', 'cpu'], /--backend does not apply with --server/],
      [['--token-file', tokenFile], /--token-file goes with --server URL/],
      [['--server', 'ftp://x/'], /--server: .*not an http\(s\) URL/],
      [['--server', js.url, '--token-file', path.join(dir, 'nope')], /--token-file .*nope: no such file/],
    ];
    for (const [args, re] of cases) {
      const io = captureIo();
      assert.equal(await runRun([input, ...args], io), 2, io.err);
      assert.match(io.err, re);
    }
  });
});

describe('transferlab kernel install --backend', () => {
  test('fixes the backend in the kernelspec env; auto leaves it to the kernel; a wrong name is refused', () => {
    assert.equal(kernelspecBackend(['--user', '--backend', 'wasm']), 'wasm');
    assert.equal(kernelspecBackend(['--user', '--backend', 'auto']), undefined);
    assert.equal(kernelspecBackend(['--user']), undefined);
    assert.throws(() => kernelspecBackend(['--backend', 'tpu']), /--backend tpu: expected one of/);
    assert.deepEqual(kernelSpec('/pkg', '/usr/bin/node', 'webgpu').env, { TRANSFERLAB_BACKEND: 'webgpu' });
    assert.deepEqual(kernelSpec('/pkg', '/usr/bin/node').env, {});
  });
});
