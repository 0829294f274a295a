/**
 * The flagship sample notebook run in VS Code (code-server) through the UI with small parameters:
 * every cell runs on the kernel, the charts render inline. Its screenshots are the README's
 * picture of TransferLab (test-results/e2e/flagship-*.png).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CodeServer, ROOT, Workbench, waitFor } from './harness';
import { parseTsnb, serializeTsnb } from '../../kernel/protocol/tsnb';
import { injectParameters, parseParameters } from '../../cli/run';

const SMALL = ['sourceSize=1500', 'preEpochs=2', 'fineTuneEpochs=6', 'seeds=[1,2]', 'blockSizes=[28,1]', 'probeSize=300', 'interpolationPoints=5'];

describe('the flagship notebook in code-server', () => {
  let server: CodeServer;
  let wb: Workbench;
  let workspace: string;

  before(async () => {
    workspace = mkdtempSync(path.join(os.tmpdir(), 'transferlab-e2e-flagship-'));
    const nb = parseTsnb(readFileSync(path.join(ROOT, 'sample-notebooks', 'flagship.tsnb'), 'utf8'));
    const { notebook } = injectParameters(nb, parseParameters(SMALL));
    // A last cell that tells the test every cell before it has run.
    notebook.cells.push({ cell_type: 'code', source: "import { writeFileSync } from 'node:fs';\nwriteFileSync('flagship-done.txt', 'done');", metadata: {}, outputs: [], execution_count: null } as never);
    writeFileSync(path.join(workspace, 'flagship.tsnb'), serializeTsnb(notebook));
    server = await CodeServer.start({ name: 'flagship', workspace });
    wb = await Workbench.open(server);
    await wb.waitReady();
  });

  after(async () => {
    await wb?.close();
    await server?.stop();
  });

  it('runs all cells of the flagship notebook, with its charts drawn inline', async () => {
    await wb.openNotebook('flagship.tsnb');
    await wb.toolbar('notebook-execute-all');
    const done = path.join(workspace, 'flagship-done.txt');
    await waitFor('every flagship cell to run', () => existsSync(done) || undefined, 600_000, 1000);
    await wb.revealCell('const ckaPairs');
    const frame = await wb.outputFrame();
    await frame.locator('svg, canvas').first().waitFor({ timeout: 30_000 });
    assert.ok((await frame.locator('svg, canvas').count()) > 0, 'a chart is drawn');
    await wb.screenshot('flagship-cka');
    await wb.revealCell('new tl.Findings');
    await wb.screenshot('flagship-findings');
  });
});
