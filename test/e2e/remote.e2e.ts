/**
 * A notebook on a remote Jupyter Server, through VS Code's UI (code-server): a real Jupyter Server
 * started by the test on loopback, with a token and a JupyterHub-like base path, with the
 * TransferLab kernelspec; "TransferLab: Connect to Jupyter Server…" from the command palette, the
 * URL and the token typed into its boxes; the server's kernel chosen in the kernel picker; a small
 * CKA notebook run there, its heatmap drawn by our renderer; the status bar naming the server.
 * The server killed mid-session: the status bar says it is reconnecting; back without the kernel,
 * the kernel is reported gone and Restart starts a new one there. Then: no kernel process started
 * on this machine, and the token in no log file and not in the saved notebook. Screenshots:
 * test-results/e2e/remote-*.png.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CodeServer, Workbench, e2eEnvironment, waitFor } from './harness';
import { startJupyterServer, type TestJupyterServer } from '../helpers/jupyterServer';

const NOTEBOOK = 'remote-cka.tsnb';

function notebook(): string {
  const code = (source: string[]) => ({ cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source });
  return JSON.stringify(
    {
      cells: [
        { cell_type: 'markdown', metadata: {}, source: ['# CKA on a Jupyter Server\n', 'A small heatmap, computed by the kernel on the server.'] },
        code(['// Where the kernel runs: the server’s folder, not this workspace.\n', 'console.log(`cwd ${process.cwd()}`);']),
        code([
          "const x = tf.randomNormal([48, 6], 0, 1, 'float32', 1);\n",
          "const w = tf.randomNormal([6, 6], 0, 1, 'float32', 2);\n",
          'const a = { conv1: x, fc: tf.tanh(x.matMul(w)) };\n',
          'const b = { conv1: x.mul(2), fc: tf.relu(x.matMul(w)) };\n',
          "const heat = await tl.cka.matrixFromFeatures(a, b, { modelA: 'local', modelB: 'remote' });\n",
          'heat;',
        ]),
      ],
      metadata: { format_version: 1, kernel: { display_name: 'TransferLab (TypeScript)', language: 'typescript', name: 'transferlab' } },
    },
    null,
    2,
  );
}

describe('a notebook on a remote Jupyter Server in code-server', () => {
  let jupyter: TestJupyterServer;
  let server: CodeServer | undefined;
  let wb: Workbench | undefined;
  let workspace: string;
  /** `127.0.0.1:PORT/user/ada/`: how the extension names the server. */
  let label: string;

  before(async () => {
    jupyter = await startJupyterServer({ basePath: '/user/ada/' });
    label = jupyter.url.replace(/^http:\/\//, '');
    workspace = mkdtempSync(path.join(os.tmpdir(), 'transferlab-e2e-remote-'));
    writeFileSync(path.join(workspace, NOTEBOOK), notebook());
    server = await CodeServer.start({ name: 'remote', workspace });
    wb = await Workbench.open(server);
    await wb.waitReady();
  });

  after(async () => {
    await wb?.close();
    await server?.stop();
    await jupyter?.dispose();
  });

  /** Types into the quick input (the command's input box) and presses Enter. */
  async function answer(text: string, password = false): Promise<void> {
    const page = wb!.page;
    const input = page.locator(`.quick-input-widget input[type="${password ? 'password' : 'text'}"]`);
    await input.waitFor({ timeout: 10_000 });
    await input.fill(text);
    await input.press('Enter');
  }

  it('connects through the command palette, runs the notebook on the server, and draws its CKA chart with our renderer', async () => {
    const w = wb!;
    await w.openNotebook(NOTEBOOK);
    await w.command('TransferLab: Connect to Jupyter Server…');
    const urlBox = w.page.locator('.quick-input-widget');
    await urlBox.locator('.quick-input-message', { hasText: /base path/ }).waitFor({ timeout: 10_000 });
    await w.screenshot('remote-1-url');
    await answer(jupyter.url);
    await w.page.locator('.quick-input-widget input[type="password"]').waitFor({ timeout: 10_000 });
    await w.page.keyboard.type(jupyter.token);
    await w.screenshot('remote-2-token');
    await w.page.keyboard.press('Enter');
    await waitFor('the connected notification', async () => (await w.notifications()).find((n) => n.includes(`Connected to the Jupyter Server ${label}`)), 30_000);

    // The kernel picker of the notebook's toolbar: the server's kernel is offered.
    const remoteLabel = `TransferLab (TypeScript) on ${label}`;
    await w.notebookEditor().locator('.notebook-toolbar-container .kernel-action-view-item').first().click();
    const rows = w.page.locator('.quick-input-widget .monaco-list-row');
    await rows.first().waitFor({ timeout: 10_000 });
    // VS Code's picker lists recent kernels, then "Select Another Kernel…", then kernel sources
    // (an extension with several kernels is one source, by its name): walk down to the server's.
    for (let level = 0; level < 3; level++) {
      const row = w.page.locator('.quick-input-widget .monaco-list-row', { hasText: remoteLabel });
      if ((await row.count()) > 0) break;
      const another = w.page.locator('.quick-input-widget .monaco-list-row', { hasText: /Select Another Kernel/ });
      const source = w.page.locator('.quick-input-widget .monaco-list-row', { hasText: /^\s*TransferLab\s*$/ });
      if ((await another.count()) > 0) await another.first().click();
      else if ((await source.count()) > 0) await source.first().click();
      else break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const remoteRow = w.page.locator('.quick-input-widget .monaco-list-row', { hasText: remoteLabel }).first();
    try {
      await remoteRow.waitFor({ timeout: 10_000 });
    } catch (e) {
      await w.screenshot('remote-3-kernel-picker-failed');
      throw new Error(`the kernel picker does not offer ${remoteLabel}; it shows: ${(await rows.allInnerTexts()).join(' | ')}`, { cause: e });
    }
    await w.screenshot('remote-3-kernel-picker');
    await remoteRow.click();
    await waitFor('the toolbar to show the server’s kernel', async () => (await w.notebookEditor().locator('.notebook-toolbar-container').innerText()).includes(label), 10_000);

    const localBefore = server!.kernelPids();
    await w.toolbar('notebook-execute-all');
    const frame = await w.outputFrame();
    await waitFor('the cwd line', async () => /cwd \//.test(await w.outputText()), 120_000, 250);
    const cwd = /cwd (\S+)/.exec(await w.outputText())![1];
    assert.equal(cwd, jupyter.rootDir, 'the kernel runs in the server’s folder');
    await w.revealCell('tl.cka.matrixFromFeatures');
    // `.tl-view` with its value labels is our CKA renderer (a static SVG or PNG has neither).
    const chart = frame.locator('.tl-view svg .cell-values').first();
    await chart.waitFor({ timeout: 60_000 });
    const values = await frame.locator('.tl-view svg .cell-values text').allTextContents();
    assert.equal(values.length, 4, `a 2×2 heatmap: ${values.join(' ')}`);
    assert.ok(values.every((v) => /^[01]\.\d+$|^1$|^0$/.test(v.trim())), values.join(' '));
    assert.equal(server!.kernelPids().filter((p) => !localBefore.includes(p)).length, 0, 'a kernel process started on this machine');
    assert.ok(/Kernel started/.test(jupyter.log()), 'the server started no kernel');

    const bar = (await w.statusBar()).join('\n');
    assert.match(bar, new RegExp(`TransferLab: (wasm|cpu) · .* @ ${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.ok(!bar.includes(jupyter.token));
    await w.screenshot('remote-4-chart');
    await frame.locator('.tl-view').first().screenshot({ path: path.join(e2eEnvironment().results, 'remote-4-chart-output.png') });

    // Saved: the notebook carries the outputs, never the token.
    await w.page.keyboard.press('Control+S');
    await waitFor('the notebook saved with its outputs', () => readFileSync(path.join(workspace, NOTEBOOK), 'utf8').includes('application/vnd.transferlab.cka+json'), 20_000);
    assert.ok(!readFileSync(path.join(workspace, NOTEBOOK), 'utf8').includes(jupyter.token), 'the token is in the saved notebook');
  });

  it('shows a dropped link as reconnecting; a kernel lost with its server is reported, and Restart starts a new one there', async () => {
    const w = wb!;
    await jupyter.kill();
    await waitFor('the status bar to say it is reconnecting', async () => (await w.statusBar()).some((t) => t.includes(`reconnecting to ${label}`)), 30_000, 100);
    await w.screenshot('remote-5-reconnecting');
    // The server comes back without the kernel (its kernels died with it).
    await jupyter.start();
    const toast = await waitFor('the kernel-gone notification', async () => (await w.notifications()).find((n) => n.includes('is gone') && n.includes('Restart starts a new kernel on the server')), 60_000, 200);
    assert.ok(!toast.includes(jupyter.token));
    assert.ok((await w.statusBar()).some((t) => t.includes(`kernel died @ ${label}`)));
    await w.screenshot('remote-6-gone');
    const started = (jupyter.log().match(/Kernel started/g) ?? []).length;
    await w.page.locator('.notifications-toasts .notification-toast', { hasText: 'is gone' }).locator('a.monaco-button', { hasText: 'Restart Kernel' }).click();
    await waitFor('a new kernel on the server', () => (jupyter.log().match(/Kernel started/g) ?? []).length > started, 30_000, 200);
    await waitFor('the status bar back on the server', async () => (await w.statusBar()).some((t) => /TransferLab: (wasm|cpu) · /.test(t) && t.includes(`@ ${label}`)), 60_000, 200);
    await w.command('Clear All Outputs');
    // A click while the palette closes only closes it.
    await w.page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 10_000 });
    await w.codeCells().nth(0).scrollIntoViewIfNeeded();
    await waitFor('the outputs cleared', async () => !/cwd \//.test(await w.outputText()), 10_000);
    await w.toolbar('notebook-execute-all');
    try {
      await waitFor('the cells run on the new kernel', async () => (await w.outputText()).includes(`cwd ${jupyter.rootDir}`), 60_000, 250);
    } finally {
      await w.screenshot('remote-7-rerun');
    }
    assert.equal(server!.kernelPids().length, 0, 'a kernel process started on this machine');
  });

  it('writes the token into no log file', async () => {
    // Stopping code-server copies the extension host's log and the TransferLab output channel next to the screenshots.
    await wb?.close();
    wb = undefined;
    await server?.stop();
    const results = e2eEnvironment().results;
    const logs = readdirSync(results).filter((f) => f.startsWith('remote.') && f.endsWith('.log'));
    const channel = path.join(results, 'remote.TransferLab.log');
    assert.ok(existsSync(channel), `no TransferLab log among ${logs.join(', ')}`);
    assert.match(readFileSync(channel, 'utf8'), new RegExp(`connected to the Jupyter Server ${jupyter.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    for (const file of logs) assert.ok(!readFileSync(path.join(results, file), 'utf8').includes(jupyter.token), `the token is in ${file}`);
    server = undefined;
  });
});
