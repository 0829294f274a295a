/**
 * Extension-host tests: the extension activates for .tsnb notebooks and registers its parts.
 */
import * as vscode from 'vscode';
import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import type { TransferLabApi } from '../../../extension/extension';
import { EXTENSION_ID, workspaceFile } from './util';

describe('activation', () => {
  it('activates and exposes the controller', async () => {
    const ext = vscode.extensions.getExtension<TransferLabApi>(EXTENSION_ID);
    assert.ok(ext, `extension ${EXTENSION_ID} is not installed`);
    const api = await ext.activate();
    assert.ok(api.controller, 'activate() returned no controller');
  });

  it('registers the restart and kernel-info commands', async () => {
    const commands = await vscode.commands.getCommands(true);
    assert.ok(commands.includes('transferlab.restartKernel'));
    assert.ok(commands.includes('transferlab.showKernelInfo'));
  });

  it('opens a .tsnb as a transferlab-notebook with its cells and saved outputs', async () => {
    const nb = await vscode.workspace.openNotebookDocument(workspaceFile('smoke.tsnb'));
    assert.equal(nb.notebookType, 'transferlab-notebook');
    assert.equal(nb.cellCount, 2);
    const code = nb.cellAt(1);
    assert.equal(code.kind, vscode.NotebookCellKind.Code);
    assert.equal(code.document.languageId, 'typescript');
    assert.equal(code.executionSummary?.executionOrder, 1);
    const item = code.outputs[0]?.items[0];
    assert.equal(item?.mime, 'application/vnd.code.notebook.stdout');
    assert.equal(new TextDecoder().decode(item.data), 'saved output\n');
  });
});
