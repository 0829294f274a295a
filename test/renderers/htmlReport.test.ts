/**
 * `transferlab export --to html` opened from disk in Chromium: every chart is drawn by the inlined
 * renderer code, nothing is fetched, HTML outputs stay sandboxed, the page follows the colour
 * scheme. Needs the Debian package `chromium`. Leaves a screenshot in test-results/.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { runExport } from '../../cli/notebookConvert';
import { serializeTsnb } from '../../kernel/protocol/tsnb';
import { richNotebook } from '../cli/fixtures';
import { ROOT, launchChromium, requireBundle } from './browser';

let browser: BrowserContext;
let close: () => Promise<void>;
let page: Page;
const requested: string[] = [];

before(async () => {
  requireBundle('report');
  const dir = mkdtempSync(path.join(tmpdir(), 'tl-report-'));
  const input = path.join(dir, 'rich.tsnb');
  writeFileSync(input, serializeTsnb(richNotebook()));
  const quiet = { stdout: () => undefined, stderr: (t: string) => void process.stderr.write(t) };
  assert.equal(await runExport([input, '--to', 'html'], quiet), 0);
  ({ browser, close } = await launchChromium());
  page = await browser.newPage();
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('file:') || url.startsWith('data:') || url.startsWith('blob:') || url === 'about:srcdoc') return route.continue();
    requested.push(url);
    return route.abort();
  });
  await page.goto(pathToFileURL(path.join(dir, 'rich.html')).href);
  await page.waitForSelector('body[data-tl-report="done"]', { timeout: 30_000 });
});

after(async () => {
  await close();
});

test('every chart is drawn, with no error and no request beyond the file', async () => {
  const state = await page.evaluate(() => ({
    charts: document.querySelectorAll('.tl-chart').length,
    drawn: Array.from(document.querySelectorAll('.tl-chart.tl-drawn')).map((c) => (c as HTMLElement).dataset['mime']),
    svgs: document.querySelectorAll('.tl-chart svg').length,
    chartImages: Array.from(document.querySelectorAll('.tl-chart img')).map((i) => (i as HTMLImageElement).naturalWidth),
    errors: Array.from(document.querySelectorAll('.tl-error')).map((e) => e.textContent),
    fallbacksShown: Array.from(document.querySelectorAll('.tl-fallback')).filter((f) => (f as HTMLElement).offsetParent !== null).length,
    outputImages: Array.from(document.querySelectorAll('img.tl-image, .tl-markdown img')).map((i) => [(i as HTMLImageElement).complete, (i as HTMLImageElement).naturalWidth]),
  }));
  assert.equal(state.charts, 5);
  assert.deepEqual(state.drawn, [
    'application/vnd.transferlab.cka+json',
    'application/vnd.transferlab.interpolation+json',
    'application/vnd.transferlab.images+json',
    'application/vnd.transferlab.training+json',
    'application/vnd.vegalite.v5+json',
  ]);
  assert.equal(state.svgs, 4);
  assert.deepEqual(state.chartImages, [4, 4, 4, 4]);
  assert.deepEqual(state.errors, []);
  assert.equal(state.fallbacksShown, 0);
  assert.deepEqual(state.outputImages, [
    [true, 2],
    [true, 3],
  ]);
  assert.deepEqual(requested, []);
});

test('HTML outputs are shown in a sandbox where their scripts do not run', async () => {
  const frame = await page.evaluate(() => {
    const f = document.querySelector<HTMLIFrameElement>('iframe.tl-html')!;
    return { bold: f.contentDocument?.getElementById('bold')?.textContent, height: f.getBoundingClientRect().height, title: document.title };
  });
  assert.equal(frame.bold, 'bold');
  assert.equal(frame.title, 'What is being transferred?');
  assert.ok(frame.height >= 16 && frame.height < 150, `iframe height ${frame.height}`);
});

test('the page follows the colour scheme, charts included', async () => {
  const labelFill = (): Promise<string | null> =>
    page.evaluate(() => {
      const label = Array.from(document.querySelectorAll('.tl-chart svg text')).find((t) => t.textContent === 'conv1');
      return label?.getAttribute('fill') ?? null;
    });
  assert.equal(await labelFill(), '#1f2328');
  mkdirSync(path.join(ROOT, 'test-results'), { recursive: true });
  await page.screenshot({ path: path.join(ROOT, 'test-results', 'html-report-light.png'), fullPage: true });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.waitForFunction(() => {
    const label = Array.from(document.querySelectorAll('.tl-chart svg text')).find((t) => t.textContent === 'conv1');
    return label?.getAttribute('fill') === '#d1d7e0';
  });
  await page.screenshot({ path: path.join(ROOT, 'test-results', 'html-report-dark.png'), fullPage: true });
});
