/**
 * The notebook workflow in code-server with the packaged extension: the TransferLab Variables
 * view showing a tensor's shape after the cells that define it run, Restart Kernel and Run All
 * (confirmed in its dialog) running every cell again past a cell tagged `raises-exception`, the
 * error's traceback linking to its cell line, and the status bar item doing what its tooltip says.
 * Screenshots: test-results/e2e/workflow-*.png.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { CodeServer, Workbench, normalize, waitFor, workspaceCopy } from './harness';

const NOTEBOOK = 'workflow.tsnb';

function code(source: string, tags: string[] = []) {
  return { cell_type: 'code', source, metadata: tags.length > 0 ? { tags } : {}, outputs: [], execution_count: null };
}

describe('the notebook workflow in code-server', () => {
  let server: CodeServer;
  let wb: Workbench;

  before(async () => {
    const workspace = workspaceCopy('workspace');
    const nb = {
      cells: [
        code('const weights = tf.zeros([2, 3]);\nconst answer = 41 + 1;'),
        code('console.log(`answer is ${answer}`);'),
        code("throw new RangeError('shown on purpose');", ['raises-exception']),
        code('console.log(`after the error: ${weights.shape.join("x")}`);'),
      ],
      metadata: { format_version: 1, kernel: { display_name: 'TransferLab (TypeScript)', language: 'typescript', name: 'transferlab' } },
    };
    writeFileSync(path.join(workspace, NOTEBOOK), JSON.stringify(nb, null, 1));
    server = await CodeServer.start({ name: 'workflow', workspace });
    wb = await Workbench.open(server);
    await wb.waitReady();
  });

  afterEach(async (t) => {
    await wb?.screenshot(`workflow ${t.name} (end)`).catch(() => undefined);
  });

  after(async () => {
    await wb?.close();
    await server?.stop();
  });

  /** The rows of the TransferLab Variables view. */
  const variableRows = () => wb.page.locator('.pane', { has: wb.page.locator('.pane-header', { hasText: 'TransferLab Variables' }) }).locator('.monaco-list-row');
  const dialog = () => wb.page.locator('.monaco-dialog-box');

  it('the Variables view shows a tensor with its shape, dtype and bytes after the cell runs', async (t) => {
    await wb.openNotebook(NOTEBOOK);
    await wb.runCell(0);
    await wb.runCell(1);
    await waitFor('answer is 42', async () => /answer is 42/.test(await wb.outputText()), 120_000);
    await wb.command('Focus on TransferLab Variables View');
    const row = variableRows().filter({ hasText: 'weights' });
    await waitFor('the weights row', async () => (await row.count()) > 0, 30_000);
    const text = normalize(await row.first().innerText());
    assert.match(text, /float32 \[2, 3\] · 24 B/, text);
    const all = normalize((await variableRows().allInnerTexts()).join('\n'));
    // Each row: the name, then its description (type and value).
    assert.match(all, /answer\s*number\s+42/, all);
    assert.match(all, /tf\.memory\(\)\s*1 tensor · 24 B/, all);
    await wb.screenshot(`workflow ${t.name}`);
  });

  it('the status bar item does what its tooltip says: a click asks to restart the kernel', async (t) => {
    const item = wb.page.locator('.part.statusbar .statusbar-item', { hasText: 'TransferLab:' }).first();
    const tooltip = (await item.locator('a').first().getAttribute('aria-label')) ?? '';
    await item.click();
    await dialog().waitFor({ timeout: 10_000 });
    assert.match(normalize(await dialog().innerText()), /Restart the TransferLab kernel\?/);
    await wb.screenshot(`workflow ${t.name}`);
    await dialog().locator('.monaco-button', { hasText: 'Cancel' }).click();
    await dialog().waitFor({ state: 'detached', timeout: 10_000 });
    assert.ok(tooltip === '' || !/click for details/i.test(tooltip), `a running kernel's item says it restarts: ${tooltip}`);
  });

  it('Restart Kernel and Run All asks first, then runs every cell, past the cell that raises on purpose', async (t) => {
    const pidsBefore = server.kernelPids();
    await wb.command('TransferLab: Restart Kernel and Run All');
    await dialog().waitFor({ timeout: 10_000 });
    const question = normalize(await dialog().innerText());
    assert.match(question, /Restart the TransferLab kernel and run all cells\?/);
    assert.match(question, /Don't Ask Again/);
    await wb.screenshot(`workflow ${t.name} (confirmation)`);
    await dialog().locator('.monaco-button', { hasText: /^Restart$/ }).click();
    await waitFor('the last cell ran after the error', async () => /after the error: 2x3/.test(await wb.outputText()), 120_000);
    const outputs = await wb.outputText();
    assert.match(outputs, /answer is 42/);
    assert.match(outputs, /RangeError/);
    const pidsAfter = server.kernelPids();
    assert.ok(pidsBefore.length > 0 && pidsBefore.every((p) => !pidsAfter.includes(p)), `a fresh kernel: ${pidsBefore} → ${pidsAfter}`);
    await waitFor('the Variables view after the run', async () => /float32 \[2, 3\]/.test(normalize((await variableRows().allInnerTexts()).join('\n'))), 30_000);
    await wb.revealCell('shown on purpose');
    await wb.screenshot(`workflow ${t.name}`);
  });

  it("the traceback's cell line is a link that goes to the cell", async (t) => {
    // The error's cell near the top, then the focus one cell down (its output stays on screen).
    await wb.revealCell('shown on purpose');
    await wb.page.keyboard.press('ArrowDown');
    const focused = wb.notebookEditor().locator('.monaco-list-row.focused');
    assert.match(normalize(await focused.innerText()), /after the error/);
    const frame = await wb.outputFrame();
    const link = frame.locator('a[href^="vscode-notebook-cell:?execution_count="]').first();
    await link.waitFor({ timeout: 20_000 });
    const href = (await link.getAttribute('href')) ?? '';
    assert.match(href, /execution_count=\d+&line=1/, href);
    await link.click();
    await waitFor('the cell that raised is focused', async () => /shown on purpose/.test(normalize(await focused.innerText().catch(() => ''))), 10_000);
    await wb.screenshot(`workflow ${t.name}`);
  });
});
