/**
 * The extension as users get it (the packaged .vsix installed into code-server), driven through
 * the VS Code UI in Chromium: open .tsnb notebooks, run cells on the kernel, see outputs and
 * renderers, interrupt, restart, a killed kernel reported, a stopped one shown as not responding.
 * Run by `npm run test:e2e`.
 * Screenshots: test-results/e2e/<test name>.png.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CodeServer, Workbench, normalize, waitFor, workspaceCopy } from './harness';

describe('TransferLab notebooks in code-server', () => {
  let server: CodeServer;
  let wb: Workbench;
  let workspace: string;
  /** The kernel of interrupt.tsnb (other notebooks have their own). */
  let kernelPid: number | undefined;

  before(async () => {
    workspace = workspaceCopy('workspace');
    server = await CodeServer.start({ name: 'notebook', workspace });
    wb = await Workbench.open(server);
    await wb.waitReady();
  });

  afterEach(async (t) => {
    // Every test leaves a screenshot of where it ended, passed or failed.
    await wb?.screenshot(`${t.name} (end)`).catch(() => undefined);
  });

  after(async () => {
    await wb?.close();
    await server?.stop();
  });

  it('opens a .tsnb with the TransferLab notebook editor and shows its saved outputs', async (t) => {
    await wb.openNotebook('smoke.tsnb');
    assert.match(normalize(await wb.codeCells().first().innerText()), /console\.log\('saved output'\)/);
    // Rendered markdown and outputs both live in the notebook's webview (markdown in a shadow root).
    await waitFor('the saved stdout in the webview', async () => /saved output/.test(await wb.outputText()), 20_000);
    await (await wb.outputFrame()).locator('.preview', { hasText: 'Smoke test' }).first().waitFor({ timeout: 20_000 });
    assert.match((await wb.statusBar()).join('\n'), /TransferLab: not started/);
    await wb.screenshot(t.name);
  });

  it('shows an error for a malformed .tsnb instead of an empty notebook, and leaves the file alone', async (t) => {
    const file = path.join(workspace, 'broken.tsnb');
    const before = readFileSync(file, 'utf8');
    await wb.openFromExplorer('broken.tsnb');
    // VS Code shows the serializer's error in a dialog and opens nothing.
    const dialog = wb.page.locator('.monaco-dialog-box');
    await dialog.waitFor({ timeout: 20_000 });
    const message = normalize(await dialog.innerText());
    assert.match(message, /Cannot open this TransferLab notebook/);
    assert.match(message, /line 4, column 1/, 'the message names the position of the JSON error');
    await wb.screenshot(t.name);
    // The explorer's click and double-click each try to open the file: one dialog per attempt.
    for (let i = 0; i < 3 && (await dialog.count()) > 0; i++) {
      assert.match(normalize(await dialog.innerText()), /Cannot open this TransferLab notebook/);
      await dialog.locator('a.monaco-button', { hasText: 'Cancel' }).click();
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(await dialog.count(), 0, 'the error dialog keeps coming back');
    assert.equal(await wb.page.locator('.tabs-container .tab', { hasText: 'broken.tsnb' }).count(), 0, 'an editor for the broken file stayed open');
    assert.equal(readFileSync(file, 'utf8'), before);
  });

  it('runs all cells: streamed stdout, a display updated in place, heatmap, curve and image grid, a type error', async (t) => {
    await wb.openNotebook('run.tsnb');
    const t0 = Date.now();
    await wb.toolbar('notebook-execute-all');
    // Streaming: the ticks (500 ms apart) show up while the cell runs, not all at its end.
    const seen: Record<string, number> = {};
    let partial = false;
    await waitFor('tick 3', async () => {
      const text = await wb.outputText();
      for (const tick of ['tick 1', 'tick 2', 'tick 3']) if (text.includes(tick)) seen[tick] ??= Date.now();
      if (text.includes('tick 1') && !text.includes('tick 3')) partial = true;
      return seen['tick 3'];
    }, 90_000, 50);
    assert.ok(partial, `tick 1 at +${seen['tick 1']! - t0} ms and tick 3 at +${seen['tick 3']! - t0} ms, never one without the other: stdout was not streamed`);
    // The webview renders only the outputs of cells on screen: show each cell before looking.
    const frame = await wb.outputFrame();
    await wb.revealCell('const wrong');
    const errorText = await waitFor('the type error of the last cell', async () => {
      const s = await wb.outputText();
      return /TS2322/.test(s) ? s : undefined;
    }, 60_000);
    t.diagnostic(`run all: first output after ${seen['tick 1']! - t0} ms (kernel start included), all done within ${Date.now() - t0} ms`);
    // The type error names the position in the cell.
    assert.match(errorText, /TS2322/);
    assert.match(errorText, /line 1, column 7|1:7/);
    await wb.screenshot(`${t.name} (type error)`);
    await wb.revealCell('hello from the kernel');
    assert.match(await wb.outputText(), /hello from the kernel/);
    // One stream output holding all three lines.
    await wb.revealCell('tick ${i}');
    const ticks = frame.locator('.output', { hasText: 'tick 1' });
    assert.equal(await ticks.count(), 1);
    assert.match(await ticks.innerText(), /tick 1\s+tick 2\s+tick 3/);
    // update_display_data replaced the progress output in place.
    await wb.revealCell('const progress');
    assert.equal(await frame.locator('.output', { hasText: /progress \d\/5/ }).count(), 1);
    const progressText = await wb.outputText();
    assert.match(progressText, /progress 5\/5/);
    assert.doesNotMatch(progressText, /progress [0-4]\/5/);
    // The renderers drew their charts.
    await wb.revealCell('vnd.transferlab.cka+json');
    const heatmap = frame.locator('.output', { hasText: 'CKA: model A vs model B' });
    await heatmap.locator('svg, canvas').first().waitFor({ timeout: 20_000 });
    await heatmap.screenshot({ path: path.join(path.dirname(server.logFile), 'run-all heatmap.png') });
    await wb.revealCell('vnd.transferlab.interpolation+json');
    const curve = frame.locator('.output', { hasText: 'Linear interpolation' });
    await curve.locator('svg, canvas').first().waitFor({ timeout: 20_000 });
    await curve.screenshot({ path: path.join(path.dirname(server.logFile), 'run-all interpolation.png') });
    await wb.revealCell('vnd.transferlab.images+json');
    const grid = frame.locator('.output', { hasText: 'Block shuffling' });
    await waitFor('six decoded images in the grid', async () => {
      const widths = await grid.locator('img').evaluateAll((imgs) => imgs.map((i) => (i as unknown as { naturalWidth: number }).naturalWidth));
      return widths.length === 6 && widths.every((w) => w === 8);
    }, 20_000);
    await grid.screenshot({ path: path.join(path.dirname(server.logFile), 'run-all images.png') });
    assert.match((await wb.statusBar()).join('\n'), /TransferLab: (wasm|cpu|webgpu|tensorflow)/);
  });
  it('shows training progress live: one chart redrawn in place as updates arrive', async (t) => {
    await wb.openNotebook('training.tsnb');
    await wb.revealCell('const curves');
    await wb.runCell(0);
    const frame = await wb.outputFrame();
    const states = new Set<string>();
    await waitFor('the finished training run', async () => {
      const s = (await wb.outputText()).match(/P-T: epoch (\d), .*\((running|done)\)/);
      if (s) states.add(`${s[1]} ${s[2]}`);
      return states.has('6 done');
    }, 60_000, 50);
    const intermediate = [...states].filter((s) => s.endsWith('running'));
    t.diagnostic(`training states seen: ${[...states].join(', ')}`);
    assert.ok(intermediate.length >= 2, `the chart was not updated live (states seen: ${[...states].join(', ')})`);
    const chart = frame.locator('.output', { hasText: 'P-T: epoch 6' });
    assert.equal(await chart.count(), 1);
    await chart.locator('svg, canvas').first().waitFor({ timeout: 20_000 });
    assert.equal(await frame.locator('.output', { hasText: /P-T: epoch/ }).count(), 1, 'updates added outputs instead of replacing one');
    await chart.screenshot({ path: path.join(path.dirname(server.logFile), 'training live.png') });
  });

  it('interrupts `while (true) {}` from the toolbar; a later cell still sees earlier state', async (t) => {
    const others = server.kernelPids();
    await wb.openNotebook('interrupt.tsnb');
    await wb.runCell(0);
    await waitFor('cell 1 to finish', async () => (await wb.codeCells().nth(0).locator('.codicon-notebook-state-success').count()) > 0, 60_000);
    const started = server.kernelPids().filter((p) => !others.includes(p));
    assert.equal(started.length, 1, 'running a cell of a second notebook starts one more kernel');
    kernelPid = started[0];
    await wb.runCell(1);
    const stop = wb.notebookToolbarAction('notebook-stop');
    await stop.waitFor({ timeout: 20_000 });
    await new Promise((r) => setTimeout(r, 1000)); // let it spin
    const t0 = Date.now();
    await stop.click();
    await waitFor('the interrupted error', async () => /interrupt/i.test(await wb.outputText()), 10_000);
    t.diagnostic(`interrupt → error shown in ${Date.now() - t0} ms`);
    await waitFor('cell 2 marked failed', async () => (await wb.codeCells().nth(1).locator('.codicon-notebook-state-error').count()) > 0, 10_000);
    await wb.runCell(2);
    await waitFor('counter + 1 = 8', async () => /^8$/m.test(await wb.outputText()), 30_000);
    await wb.screenshot(t.name);
  });

  it('restarts the kernel from the toolbar: a new process with fresh state', async (t) => {
    assert.ok(kernelPid, 'the interrupt test found no kernel');
    const before = server.kernelPids();
    await wb.toolbar('debug-restart');
    // A restart asks first (transferlab.confirmRestart).
    const dialog = wb.page.locator('.monaco-dialog-box');
    await dialog.waitFor({ timeout: 10_000 });
    await dialog.locator('.monaco-button', { hasText: /^Restart$/ }).click();
    await waitFor('the restarted notification', async () => (await wb.notifications()).some((n) => /kernel restarted/i.test(n)), 30_000);
    const afterPids = server.kernelPids();
    assert.ok(!afterPids.includes(kernelPid), 'the old kernel process still runs');
    const fresh = afterPids.filter((p) => !before.includes(p));
    assert.equal(fresh.length, 1, 'no new kernel process');
    assert.deepEqual(afterPids.filter((p) => p !== fresh[0]).sort(), before.filter((p) => p !== kernelPid).sort(), 'other notebooks\' kernels were touched');
    kernelPid = fresh[0];
    await wb.runCell(2);
    await waitFor('counter undefined after the restart', async () => /Cannot find name 'counter'/.test(await wb.outputText()), 30_000);
    await wb.screenshot(t.name);
  });

  it('reports a killed kernel within a second, offers Restart, and leaves the notebook untouched', async (t) => {
    const pid = kernelPid;
    assert.ok(pid, 'no kernel process to kill');
    const outputsBefore = await wb.outputText();
    const t0 = Date.now();
    process.kill(pid, 'SIGKILL');
    await waitFor('the status bar to say the kernel died', async () => /kernel died/.test((await wb.statusBar()).join('\n')), 5000, 20);
    const statusMs = Date.now() - t0;
    const toast = await waitFor('the kernel-died notification', async () => (await wb.notifications()).find((n) => /killed by SIGKILL/.test(n)), 5000, 20);
    t.diagnostic(`kill → status bar ${statusMs} ms, notification ${Date.now() - t0} ms`);
    assert.ok(statusMs <= 1000, `the dead kernel showed after ${statusMs} ms`);
    assert.match(toast, /notebook is unchanged/);
    await wb.screenshot(t.name);
    assert.equal(await wb.outputText(), outputsBefore, 'outputs changed when the kernel died');
    assert.equal(await wb.page.locator('.tabs-container .tab.active.dirty').count(), 0, 'the notebook was modified');
    // The notification's Restart starts a fresh kernel.
    const survivors = server.kernelPids();
    await wb.page.locator('.notifications-toasts .notification-toast', { hasText: 'killed by SIGKILL' }).locator('a.monaco-button', { hasText: 'Restart Kernel' }).click();
    kernelPid = await waitFor('a new kernel process', () => server.kernelPids().find((p) => !survivors.includes(p)), 30_000);
    await wb.runCell(0);
    await wb.runCell(2);
    await waitFor('counter + 1 = 8 on the new kernel', async () => /^8$/m.test(await wb.outputText()), 30_000);
  });

  it('shows a stopped kernel as not responding, with Restart, and back to normal when it continues', async (t) => {
    const pid = kernelPid;
    assert.ok(pid, 'no kernel process to stop');
    const t0 = Date.now();
    process.kill(pid, 'SIGSTOP');
    try {
      // The client's defaults: a ping every 3 s, a miss after 5 s without an echo, three misses.
      await waitFor('the status bar to say the kernel is not responding', async () => /kernel not responding/.test((await wb.statusBar()).join('\n')), 60_000, 200);
      t.diagnostic(`SIGSTOP → "not responding" in ${Date.now() - t0} ms`);
      await waitFor('the not-responding notification', async () => (await wb.notifications()).find((n) => /has not answered its heartbeat/.test(n)), 10_000, 100);
      const restart = wb.page.locator('.notifications-toasts .notification-toast', { hasText: 'has not answered its heartbeat' }).locator('a.monaco-button', { hasText: 'Restart Kernel' });
      assert.equal(await restart.count(), 1, 'the notification offers Restart Kernel');
      await wb.screenshot(t.name);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await waitFor('the status bar back to the backend', async () => {
      const bar = (await wb.statusBar()).join('\n');
      return /TransferLab/.test(bar) && !/not responding/.test(bar);
    }, 30_000, 200);
    assert.ok(server.kernelPids().includes(pid), 'the kernel was replaced; it should have been kept');
    // The same kernel, with its state, runs the next cell (outputs cleared first so the 8 is new).
    await wb.command('Clear All Outputs');
    await waitFor('the outputs cleared', async () => !/^8$/m.test(await wb.outputText()), 10_000);
    await wb.runCell(2);
    await waitFor('counter + 1 = 8 on the same kernel', async () => /^8$/m.test(await wb.outputText()), 30_000);
  });
});
