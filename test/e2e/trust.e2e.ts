/**
 * Restricted Mode: with workspace trust on and the folder not trusted, notebooks open and show
 * their saved outputs, but no cell runs and no kernel process starts.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CodeServer, Workbench, normalize, waitFor, workspaceCopy } from './harness';

describe('an untrusted workspace', () => {
  let server: CodeServer;
  let wb: Workbench;

  before(async () => {
    server = await CodeServer.start({ name: 'trust', workspace: workspaceCopy('workspace'), trust: true });
    wb = await Workbench.open(server);
    // code-server asks at start-up whether to trust the folder: no.
    const dialog = wb.page.locator('.monaco-dialog-box');
    await dialog.waitFor({ timeout: 90_000 });
    assert.match(normalize(await dialog.innerText()), /trust/i);
    await dialog.locator('a.monaco-button', { hasText: /No, I don.t trust/ }).click();
    await wb.waitReady();
  });

  afterEach(async (t) => {
    await wb?.screenshot(`trust ${t.name} (end)`).catch(() => undefined);
  });

  after(async () => {
    await wb?.close();
    await server?.stop();
  });

  it('opens a notebook with its saved outputs in Restricted Mode', async () => {
    assert.match((await wb.statusBar()).join('\n'), /Restricted Mode/);
    await wb.openNotebook('smoke.tsnb');
    await waitFor('the saved stdout', async () => /saved output/.test(await wb.outputText()), 20_000);
  });

  it('runs no cell and starts no kernel', async (t) => {
    await wb.openNotebook('run.tsnb');
    await wb.toolbar('notebook-execute-all');
    // VS Code asks to trust the folder before a cell runs; declining must leave everything as is.
    const dialog = wb.page.locator('.monaco-dialog-box');
    await dialog.waitFor({ timeout: 10_000 });
    await wb.screenshot(`trust ${t.name} (asked)`);
    const cancel = dialog.locator('a.monaco-button', { hasText: /Cancel|No|Don.t/ }).first();
    await cancel.click();
    await new Promise((r) => setTimeout(r, 3000));
    assert.deepEqual(server.kernelPids(), [], 'a kernel process started');
    assert.doesNotMatch(await wb.outputText(), /hello from the kernel/);
    assert.match((await wb.statusBar()).join('\n'), /TransferLab: not started/);
  });
});
