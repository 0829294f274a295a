/**
 * Save as PNG / SVG and Copy on charts (renderers/common/actions.ts) in Chromium, under the
 * webview's Content-Security-Policy: the buttons appear only where the renderer can message the
 * extension, and each posts a well-formed message with the chart drawn as PNG (twice the size on
 * screen, on the editor's background) or SVG.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import type { BrowserContext } from 'playwright-core';
import { ORIGIN, launchChromium, openRendererPage, render, requireBundle } from './browser';
import { Mime } from '../../kernel/protocol/mime';
import { isRendererMessage, type RendererMessage } from '../../kernel/protocol/rendererMessages';

let browser: BrowserContext;
let close: () => Promise<void>;
before(async () => {
  requireBundle('vegalite');
  ({ browser, close } = await launchChromium());
});
after(async () => close?.());

const spec = {
  $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
  title: 'Accuracy: by seed',
  width: 200,
  height: 120,
  data: { values: [{ seed: 'one', acc: 0.2 }, { seed: 'two', acc: 0.9 }] },
  mark: 'bar',
  encoding: { x: { field: 'seed', type: 'nominal' }, y: { field: 'acc', type: 'quantitative' } },
};

test('without renderer messaging (the HTML report, other hosts) a chart has no action bar', async () => {
  const { page } = await openRendererPage(browser);
  const r = await render(page, 'vegalite', Mime.vegaLite, spec, 'plain');
  assert.equal(r.svg, 1);
  assert.equal(await page.locator('.tl-actions').count(), 0);
  await page.close();
});

test('with messaging: Save as PNG, Save as SVG and Copy post the chart to the extension', async () => {
  const { page, violations } = await openRendererPage(browser, 'vscode-dark');
  await page.evaluate(async (origin) => {
    const w = window as unknown as { posted: unknown[]; api: unknown };
    w.posted = [];
    const mod = (await import(`${origin}/dist/renderers/vegalite.js`)) as { activate(c: unknown): Promise<{ renderOutputItem(i: unknown, e: unknown, s: unknown): Promise<void> }> };
    const api = await mod.activate({ getState: () => undefined, setState: () => undefined, workspace: { isTrusted: true }, postMessage: (m: unknown) => w.posted.push(m) });
    w.api = api;
  }, ORIGIN);
  await page.evaluate(async (s) => {
    const w = window as unknown as { api: { renderOutputItem(i: unknown, e: unknown, s: unknown): Promise<void> } };
    const el = document.createElement('div');
    el.id = 'out';
    document.getElementById('outputs')!.append(el);
    const text = JSON.stringify(s);
    await w.api.renderOutputItem({ id: 'a', mime: 'application/vnd.vegalite.v5+json', text: () => text, json: () => JSON.parse(text) }, el, new AbortController().signal);
  }, spec);
  const chart = page.locator('#out .tl-view');
  await chart.hover();
  for (const label of ['Save as PNG', 'Save as SVG', 'Copy']) assert.equal(await chart.locator(`button[aria-label="${label}"]`).isVisible(), true, label);
  const posted = async (n: number): Promise<RendererMessage[]> => {
    await page.waitForFunction((k) => (window as unknown as { posted: unknown[] }).posted.length >= k, n);
    return page.evaluate(() => (window as unknown as { posted: RendererMessage[] }).posted);
  };
  await chart.locator('button[aria-label="Save as PNG"]').click();
  const [png] = await posted(1);
  assert.ok(isRendererMessage(png) && png.type === 'transferlab.saveImage' && png.format === 'png', JSON.stringify(png).slice(0, 100));
  assert.equal(png.name, 'Accuracy - by seed.png');
  const image = PNG.sync.read(Buffer.from(png.data, 'base64'));
  const box = (await chart.locator('svg').first().boundingBox())!;
  assert.ok(Math.abs(image.width - 2 * box.width) <= 4 && Math.abs(image.height - 2 * box.height) <= 4, `${image.width}×${image.height} for ${box.width}×${box.height}`);
  // On the dark editor's background (opaque), not transparent.
  assert.deepEqual([...image.data.subarray(0, 4)], [0x1f, 0x1f, 0x1f, 255]);
  await chart.locator('button[aria-label="Save as SVG"]').click();
  const svg = (await posted(2))[1]!;
  assert.ok(svg.type === 'transferlab.saveImage' && svg.format === 'svg');
  assert.match(svg.data, /^<svg[\s\S]*Accuracy: by seed[\s\S]*<\/svg>$/);
  // Headless Chromium may not write images to the clipboard: then the SVG goes to the extension.
  await chart.locator('button[aria-label="Copy"]').click();
  await page.waitForFunction(() => /Copied/.test(document.querySelector('#out .tl-action-status')?.textContent ?? ''));
  const after = await page.evaluate(() => (window as unknown as { posted: RendererMessage[] }).posted);
  if (after.length === 3) assert.ok(after[2]!.type === 'transferlab.copyImage' && /^<svg/.test(after[2]!.svg));
  assert.deepEqual(await violations(), []);
  await page.close();
});
