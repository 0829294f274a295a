/**
 * Extension-host tests of the notebook controller: cells of untitled notebooks run on a real
 * kernel, and the outputs VS Code's model holds are checked item by item.
 */
import * as vscode from 'vscode';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'mocha';
import type { TransferLabApi } from '../../../extension/extension';
import { EXTENSION_ID, workspaceFile } from './util';

const TSNB = 'transferlab-notebook';
const CONTROLLER = `${EXTENSION_ID}/transferlab-kernel`;
const decoder = new TextDecoder();
/** A cell that shows the backend the kernel was asked for and the one it started. */
const PROBE = "[process.env.TRANSFERLAB_BACKEND, (await tl.initBackend()).name].join(' ')";

let api: TransferLabApi;

/** An untitled .tsnb notebook with these code cells, shown and bound to the TransferLab controller. */
async function notebook(sources: string[], type = TSNB, controllerId = CONTROLLER): Promise<vscode.NotebookDocument> {
  const data = new vscode.NotebookData(sources.map((s) => new vscode.NotebookCellData(vscode.NotebookCellKind.Code, s, 'typescript')));
  if (type === 'jupyter-notebook') data.metadata = { metadata: { kernelspec: { name: 'transferlab', display_name: 'TransferLab', language: 'typescript' } } };
  const nb = await vscode.workspace.openNotebookDocument(type, data);
  await vscode.window.showNotebookDocument(nb);
  await vscode.commands.executeCommand('notebook.selectKernel', { id: controllerId, extension: EXTENSION_ID });
  return nb;
}

/**
 * Runs cells [start, end). The execute command resolves when the controller's handler has
 * finished (every cell ended); the extension host's copy of the notebook catches up right after,
 * so this also waits until no change has arrived for a moment.
 */
async function run(nb: vscode.NotebookDocument, start = 0, end = nb.cellCount): Promise<void> {
  await vscode.commands.executeCommand('notebook.cell.execute', { ranges: [{ start, end }], document: nb.uri });
  await settled(nb);
}

/** Waits until `nb` has had no change for `quietMs`. */
async function settled(nb: vscode.NotebookDocument, quietMs = 300): Promise<void> {
  let last = Date.now();
  const sub = vscode.workspace.onDidChangeNotebookDocument((e) => {
    if (e.notebook === nb) last = Date.now();
  });
  try {
    while (Date.now() - last < quietMs) await new Promise((r) => setTimeout(r, 50));
  } finally {
    sub.dispose();
  }
}

async function until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function text(item: vscode.NotebookCellOutputItem | undefined): string {
  assert.ok(item, 'missing output item');
  return decoder.decode(item.data);
}

function kernelOf(nb: vscode.NotebookDocument) {
  const session = api.controller.session(nb);
  assert.ok(session, 'no kernel session for the notebook');
  return session.kernel;
}

describe('controller', function () {
  this.timeout(120_000);
  const opened: vscode.NotebookDocument[] = [];

  before(async () => {
    const ext = vscode.extensions.getExtension<TransferLabApi>(EXTENSION_ID);
    assert.ok(ext);
    api = await ext.activate();
  });

  after(async () => {
    // Untitled notebooks: revert so closing asks nothing; the kernels shut down with them.
    for (const _ of opened) await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  it('runs cells in order with execution order, timing, stdout and the last value', async () => {
    const nb = await notebook(['console.log("a"); console.error("b");\nconst base = 40;', 'base + 2']);
    opened.push(nb);
    await run(nb);
    const [c0, c1] = nb.getCells();
    assert.equal(c0!.executionSummary?.success, true);
    assert.equal(c1!.executionSummary?.success, true);
    assert.equal(c0!.executionSummary?.executionOrder, 1);
    assert.equal(c1!.executionSummary?.executionOrder, 2);
    const timing = c1!.executionSummary?.timing;
    assert.ok(timing && timing.endTime >= timing.startTime, 'no duration recorded');
    const stdout = c0!.outputs.find((o) => o.items[0]?.mime === 'application/vnd.code.notebook.stdout');
    const stderr = c0!.outputs.find((o) => o.items[0]?.mime === 'application/vnd.code.notebook.stderr');
    assert.equal(text(stdout?.items[0]), 'a\n');
    assert.equal(text(stderr?.items[0]), 'b\n');
    assert.equal(c1!.outputs.length, 1);
    assert.equal(c1!.outputs[0]!.metadata?.['outputType'], 'execute_result');
    assert.equal(c1!.outputs[0]!.metadata?.['executionCount'], 2);
    assert.equal(text(c1!.outputs[0]!.items.find((i) => i.mime === 'text/plain')), '42');
  });

  it('streams stdout into one growing output while the cell runs', async () => {
    const nb = await notebook(['for (let i = 0; i < 4; i++) { console.log(`line ${i}`); await new Promise((r) => setTimeout(r, 250)); }']);
    opened.push(nb);
    const cell = nb.cellAt(0);
    const seen: string[] = [];
    const sub = vscode.workspace.onDidChangeNotebookDocument((e) => {
      for (const change of e.cellChanges) if (change.cell === cell && change.outputs) seen.push(change.outputs.map((o) => o.items.map(text).join('')).join('|'));
    });
    try {
      await run(nb);
    } finally {
      sub.dispose();
    }
    assert.equal(cell.outputs.length, 1, 'the stream was split into several outputs');
    assert.equal(text(cell.outputs[0]!.items[0]), 'line 0\nline 1\nline 2\nline 3\n');
    assert.ok(seen.some((s) => s === 'line 0\n' || s === 'line 0\nline 1\n'), `no partial output was seen while the cell ran: ${JSON.stringify(seen)}`);
  });

  it('replaces a display in place on update_display_data, also in an earlier cell', async () => {
    const nb = await notebook([
      "const bar = display.text('step 0');\nfor (let i = 1; i <= 3; i++) { await new Promise((r) => setTimeout(r, 50)); bar.update({ [Symbol.for('Jupyter.display')]: () => ({ 'text/plain': `step ${i}` }) }); }",
      "bar.update({ [Symbol.for('Jupyter.display')]: () => ({ 'text/plain': 'from cell 2' }) }); 'done'",
    ]);
    opened.push(nb);
    await run(nb, 0, 1);
    const first = nb.cellAt(0);
    assert.equal(first.outputs.length, 1);
    assert.equal(text(first.outputs[0]!.items[0]), 'step 3');
    await run(nb, 1, 2);
    assert.equal(first.outputs.length, 1);
    assert.equal(text(first.outputs[0]!.items[0]), 'from cell 2');
    assert.equal(first.executionSummary?.executionOrder, 1, "updating an earlier cell's output changed its execution order");
  });

  it('clears outputs on clear_output, at once or (wait) when the next output arrives', async () => {
    const nb = await notebook([
      "console.log('gone'); clearOutput(); console.log('kept')",
      "display.text('old'); clearOutput({ wait: true }); await new Promise((r) => setTimeout(r, 200)); display.text('new')",
    ]);
    opened.push(nb);
    await run(nb);
    assert.deepEqual(nb.cellAt(0).outputs.map((o) => text(o.items[0])), ['kept\n']);
    assert.deepEqual(nb.cellAt(1).outputs.map((o) => text(o.items[0])), ['new']);
  });

  it('maps MIME bundles: TransferLab JSON first, PNG decoded from base64, metadata kept', async () => {
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
    const nb = await notebook([
      `display.bundle({ 'text/plain': 'cka', 'image/png': '${png}', 'application/vnd.transferlab.cka+json': { rows: ['a'], columns: ['a'], values: [[1]], kind: 'linear', debiased: false } }, { source: 'test' })`,
    ]);
    opened.push(nb);
    await run(nb);
    const out = nb.cellAt(0).outputs[0]!;
    assert.deepEqual(out.items.map((i) => i.mime), ['application/vnd.transferlab.cka+json', 'image/png', 'text/plain']);
    assert.deepEqual(JSON.parse(text(out.items[0])).values, [[1]]);
    assert.equal(Buffer.from(out.items[1]!.data).toString('base64'), png);
    assert.equal(out.metadata?.['outputType'], 'display_data');
    assert.deepEqual(out.metadata?.['metadata'], { source: 'test' });
  });

  it('shows a type error with its line and column and cancels the cells after it', async () => {
    const nb = await notebook(['const n: number = 1;', 'const s: string = n;', 'console.log("never")']);
    opened.push(nb);
    await run(nb);
    const [ok, bad, after] = nb.getCells();
    assert.equal(ok!.executionSummary?.success, true);
    assert.equal(bad!.executionSummary?.success, false);
    const error = bad!.outputs[0]!;
    assert.equal(error.items[0]!.mime, 'application/vnd.code.notebook.error');
    const shown = JSON.parse(text(error.items[0])) as { name: string; message: string; stack: string };
    assert.match(shown.message, /TS2322/);
    assert.match(`${shown.message}\n${shown.stack}`, /1:7|line 1, column 7/);
    const original = error.metadata?.['originalError'] as { ename: string; traceback: string[] };
    assert.equal(error.metadata?.['outputType'], 'error');
    assert.equal(original.ename, shown.name);
    assert.ok(original.traceback.length > 0);
    assert.equal(after!.outputs.length, 0, 'a cell after the failed one ran');
    assert.equal(after!.executionSummary?.executionOrder, undefined);
  });

  it('interrupts a busy loop; the kernel keeps earlier state', async () => {
    const nb = await notebook(['let kept = 5;', 'while (true) {}', 'kept * 2']);
    opened.push(nb);
    await run(nb, 0, 1);
    const loop = vscode.commands.executeCommand('notebook.cell.execute', { ranges: [{ start: 1, end: 2 }], document: nb.uri });
    await until('the loop to run', () => kernelOf(nb).state === 'busy');
    await new Promise((r) => setTimeout(r, 1500));
    const t0 = Date.now();
    await vscode.commands.executeCommand('notebook.cancelExecution');
    await loop;
    const interruptMs = Date.now() - t0;
    await settled(nb);
    assert.equal(nb.cellAt(1).executionSummary?.success, false);
    assert.match(text(nb.cellAt(1).outputs[0]?.items[0]), /interrupt/i);
    await run(nb, 2, 3);
    assert.equal(text(nb.cellAt(2).outputs[0]?.items.find((i) => i.mime === 'text/plain')), '10');
    assert.ok(interruptMs < 10_000, `interrupt took ${interruptMs} ms`);
  });

  it('detects a killed kernel within a second, fails the running cell, leaves outputs alone, and runs again on a new kernel', async () => {
    const nb = await notebook(['console.log("before")', 'await new Promise((r) => setTimeout(r, 60_000))', '"again"']);
    opened.push(nb);
    await run(nb, 0, 1);
    const kernel = kernelOf(nb);
    const pid = kernel.pid;
    assert.ok(pid);
    const sleeping = vscode.commands.executeCommand('notebook.cell.execute', { ranges: [{ start: 1, end: 2 }], document: nb.uri });
    await until('the cell to run', () => kernel.state === 'busy');
    const died = new Promise<number>((resolve) => kernel.onDidDie(() => resolve(Date.now())));
    const t0 = Date.now();
    process.kill(pid, 'SIGKILL');
    const detectedMs = (await died) - t0;
    await sleeping;
    await settled(nb);
    assert.equal(nb.cellAt(1).executionSummary?.success, false, 'the running cell did not fail');
    assert.ok(detectedMs <= 1000, `the dead kernel was noticed after ${detectedMs} ms`);
    assert.equal(kernel.state, 'dead');
    assert.equal(text(nb.cellAt(0).outputs[0]?.items[0]), 'before\n', 'outputs of other cells changed');
    assert.equal(nb.cellAt(1).outputs.length, 0);
    await run(nb, 2, 3);
    assert.notEqual(kernel.pid, pid);
    assert.equal(text(nb.cellAt(2).outputs[0]?.items.find((i) => i.mime === 'text/plain')), "'again'");
  });

  it('restarts: a new process, execution counts from 1, state gone', async () => {
    const nb = await notebook(['const x = 1; x', 'x']);
    opened.push(nb);
    await run(nb, 0, 1);
    const pid = kernelOf(nb).pid;
    await vscode.commands.executeCommand('transferlab.restartKernel', nb.uri);
    assert.notEqual(kernelOf(nb).pid, pid);
    await run(nb, 1, 2);
    assert.equal(nb.cellAt(1).executionSummary?.executionOrder, 1);
    assert.match(text(nb.cellAt(1).outputs[0]?.items[0]), /Cannot find name 'x'/);
  });

  it('completes and hovers, knowing earlier cells', async () => {
    const nb = await notebook(['const transferMatrix = [[1, 0], [0, 1]];', 'transferM', 'Math.max']);
    opened.push(nb);
    await run(nb, 0, 1);
    const completions = await vscode.commands.executeCommand<vscode.CompletionList>(
      'vscode.executeCompletionItemProvider',
      nb.cellAt(1).document.uri,
      new vscode.Position(0, 'transferM'.length),
    );
    const labels = completions.items.map((i) => (typeof i.label === 'string' ? i.label : i.label.label));
    assert.ok(labels.includes('transferMatrix'), `no completion for an earlier cell's name in ${labels.slice(0, 20).join(', ')}`);
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', nb.cellAt(2).document.uri, new vscode.Position(0, 6));
    const hoverText = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
    assert.match(hoverText, /max\(/);
  });

  it('is offered for a TypeScript .ipynb and runs its cells', async () => {
    const nb = await notebook(['const fromIpynb: number = 3; fromIpynb * 3'], 'jupyter-notebook', `${EXTENSION_ID}/transferlab-kernel-ipynb`);
    opened.push(nb);
    await run(nb);
    assert.equal(nb.cellAt(0).executionSummary?.success, true);
    assert.equal(text(nb.cellAt(0).outputs[0]?.items.find((i) => i.mime === 'text/plain')), '9');
  });

  it('uses transferlab.nodePath: a wrong one fails the cell with a message naming the setting', async () => {
    const config = vscode.workspace.getConfiguration('transferlab');
    await config.update('nodePath', '/nonexistent/node', vscode.ConfigurationTarget.Global);
    try {
      const nb = await notebook(['1 + 1']);
      opened.push(nb);
      await run(nb);
      const cell = nb.cellAt(0);
      assert.equal(cell.executionSummary?.success, false);
      const shown = JSON.parse(text(cell.outputs[0]?.items[0])) as { name: string; message: string };
      assert.equal(shown.name, 'KernelStartError');
      assert.match(shown.message, /\/nonexistent\/node/);
      assert.match(shown.message, /transferlab\.nodePath/);
      // Fixed setting: the next run starts the kernel.
      await config.update('nodePath', undefined, vscode.ConfigurationTarget.Global);
      await run(nb);
      assert.equal(cell.executionSummary?.success, true);
    } finally {
      await config.update('nodePath', undefined, vscode.ConfigurationTarget.Global);
    }
  });

  it('passes transferlab.backend to the kernel; with auto, the notebook metadata backend applies', async () => {
    const config = vscode.workspace.getConfiguration('transferlab');
    await config.update('backend', 'cpu', vscode.ConfigurationTarget.Global);
    try {
      const nb = await notebook([PROBE]);
      opened.push(nb);
      await run(nb);
      assert.equal(text(nb.cellAt(0).outputs[0]?.items.find((i) => i.mime === 'text/plain')), "'cpu cpu'");
      await until('the status description to name cpu', () => kernelOf(nb).description?.backend === 'cpu', 20_000);
    } finally {
      await config.update('backend', undefined, vscode.ConfigurationTarget.Global);
    }
    const data = new vscode.NotebookData([new vscode.NotebookCellData(vscode.NotebookCellKind.Code, PROBE, 'typescript')]);
    data.metadata = { format_version: 1, backend: 'cpu' };
    const fromMetadata = await vscode.workspace.openNotebookDocument(TSNB, data);
    await vscode.window.showNotebookDocument(fromMetadata);
    opened.push(fromMetadata);
    await vscode.commands.executeCommand('notebook.selectKernel', { id: CONTROLLER, extension: EXTENSION_ID });
    await run(fromMetadata);
    assert.equal(text(fromMetadata.cellAt(0).outputs[0]?.items.find((i) => i.mime === 'text/plain')), "'cpu cpu'");
  });

  it('opens the workspace notebook and runs it with the saved outputs replaced', async () => {
    const nb = await vscode.workspace.openNotebookDocument(workspaceFile('smoke.tsnb'));
    await vscode.window.showNotebookDocument(nb);
    opened.push(nb);
    await vscode.commands.executeCommand('notebook.selectKernel', { id: CONTROLLER, extension: EXTENSION_ID });
    await run(nb, 1, 2);
    assert.equal(nb.cellAt(1).outputs.length, 1);
    assert.equal(text(nb.cellAt(1).outputs[0]!.items[0]), 'saved output\n');
    assert.equal(nb.cellAt(1).executionSummary?.executionOrder, 1);
    assert.ok(nb.isDirty, 'running a cell did not mark the notebook modified');
  });
});
