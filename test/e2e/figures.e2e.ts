/**
 * A figure into a paper in one step: a chart's "Save as PNG" in code-server asks where to save
 * (VS Code's save dialog, answered with a path) and writes a PNG of the chart there.
 * Screenshots: test-results/e2e/figures-*.png.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { CodeServer, Workbench, waitFor, workspaceCopy } from './harness';

describe('chart actions in code-server', () => {
  let server: CodeServer;
  let wb: Workbench;
  let workspace: string;

  before(async () => {
    workspace = workspaceCopy('figures');
    server = await CodeServer.start({ name: 'figures', workspace });
    wb = await Workbench.open(server);
    await wb.waitReady();
  });

  after(async () => {
    await wb?.close();
    await server?.stop();
  });

  it('Save as PNG writes a PNG of the chart where the save dialog says', async () => {
    await wb.openNotebook('figures.tsnb');
    await wb.runCell(0);
    const frame = await wb.outputFrame();
    const chart = frame.locator('.tl-view', { has: frame.locator('svg') }).first();
    await chart.waitFor({ timeout: 120_000 });
    // The actions show on hover.
    await chart.hover();
    const save = chart.locator('button[aria-label="Save as PNG"]');
    await save.waitFor({ state: 'visible' });
    assert.equal(await chart.locator('button[aria-label="Save as SVG"]').count(), 1);
    assert.equal(await chart.locator('button[aria-label="Copy"]').count(), 1);
    await wb.screenshot('figures-actions on hover');
    await save.click();
    // VS Code's own save dialog (code-server has no native one): a path in the quick input.
    const input = wb.page.locator('.quick-input-widget input[type="text"]');
    await input.waitFor({ timeout: 20_000 });
    // The dialog fills in the folder first, then the suggested name (the chart's title).
    const suggested = await waitFor('the suggested file name', async () => {
      const v = await input.inputValue();
      return /\.png$/.test(v) ? v : undefined;
    }, 10_000).catch(async () => input.inputValue());
    assert.match(suggested, /Accuracy by seed\.png$/, `the dialog suggests the chart's title as the name: ${suggested}`);
    await wb.screenshot('figures-save dialog');
    const target = path.join(workspace, 'accuracy.png');
    await input.fill(target);
    await input.press('Enter');
    // Some versions ask to confirm a new name with a second Enter.
    const file = await waitFor(
      'the saved PNG',
      async () => {
        if (existsSync(target)) return target;
        if (await input.isVisible().catch(() => false)) await input.press('Enter').catch(() => undefined);
        return undefined;
      },
      20_000,
      500,
    );
    const bytes = readFileSync(file);
    assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG signature');
    const png = PNG.sync.read(bytes);
    // Drawn at twice the size on screen.
    const box = await chart.locator('svg').first().boundingBox();
    assert.ok(box, 'the chart has a size on screen');
    assert.ok(Math.abs(png.width - 2 * Math.round(box.width)) <= 4, `PNG ${png.width} px wide, chart ${box.width} px on screen`);
    // Not blank: the background, three bars, axes and text.
    const colours = new Set<number>();
    for (let i = 0; i < png.data.length; i += 4) colours.add((png.data[i]! << 24) | (png.data[i + 1]! << 16) | (png.data[i + 2]! << 8) | png.data[i + 3]!);
    assert.ok(colours.size > 10, `${colours.size} colours`);
    await wb.screenshot('figures-saved');
  });
});
