/**
 * What the HTML report carries besides cells: math typeset (MathML, nothing fetched), a table of
 * contents, the run at the top (date, duration, backend, parameters), the findings summary linked,
 * code left out on request (`--no-code`), and `.ipynb` notebooks exported directly. The page is
 * opened in Chromium once, to see the math drawn and the links land.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { findingsOf, formatDuration, notebookToHtml, type RunRecord } from '../../cli/htmlReport';
import { readKatexCss, runExport } from '../../cli/notebookConvert';
import { parseRunArgs } from '../../cli/run';
import { tsnbToIpynb } from '../../kernel/protocol/ipynb';
import { createTsnbNotebook, serializeTsnb, type TsnbNotebook } from '../../kernel/protocol/tsnb';
import { launchChromium, requireBundle } from './browser';

const captureIo = () => {
  const io = { out: '', err: '', stdout: (t: string) => void (io.out += t), stderr: (t: string) => void (io.err += t) };
  return io;
};

/** A findings output as `tl.Findings` displays it (markdown, JSON, text). */
const findings = {
  'text/markdown': '**What the paper claims, tested**\n\n| claim | verdict |\n|---|---|\n| P-T beats RI-T | ✓ |',
  'application/json': {
    title: 'What the paper claims, tested',
    rows: [
      { claim: 'P-T beats RI-T', verdict: 'holds', tests: [] },
      { claim: 'lower layers are similar', verdict: 'holds', tests: [] },
      { claim: 'no barrier between P-T runs', verdict: 'unresolved', tests: [] },
    ],
  },
  'text/plain': 'What the paper claims, tested: 3 claims',
};

const names = Array.from({ length: 16 }, (_, i) => `layer${Math.floor(i / 4) + 1}.${i % 4}.conv`);
const cka16 = { rows: names, columns: names, values: names.map((_, i) => names.map((_, j) => (i === j ? 1 : 0.1 + 0.5 / (1 + Math.abs(i - j))))), kind: 'linear', debiased: false, modelA: 'P-T', modelB: 'RI-T', n: 500 };
const training = {
  title: 'P-T and RI-T on the target task',
  runs: ['P-T (fine-tuned from the pre-trained checkpoint)', 'RI-T (from scratch)'].map((label, k) => ({
    label,
    done: true,
    points: [1, 2, 3, 4].map((e) => ({ epoch: e, step: 50 * e, loss: (1 + k) / e, accuracy: 0.5 + e / 10 - k / 10, valLoss: (1.1 + k) / e, valAccuracy: 0.45 + e / 10 - k / 10 })),
  })),
};

function reportNotebook(): TsnbNotebook {
  const nb = createTsnbNotebook({ backend: 'wasm' });
  nb.cells.push(
    { cell_type: 'markdown', metadata: {}, source: '# Transfer report\n\nLinear CKA is $\\mathrm{CKA}(K, L) = \\frac{\\mathrm{HSIC}(K, L)}{\\sqrt{\\mathrm{HSIC}(K, K)\\,\\mathrm{HSIC}(L, L)}}$, costs $5 and $10 stay text.\n\n$$\n\\theta(\\lambda) = (1 - \\lambda)\\,\\theta_1 + \\lambda\\,\\theta_2\n$$' },
    { cell_type: 'code', metadata: { tags: ['parameters'] }, source: 'const epochs = 2;', execution_count: 1, outputs: [] },
    { cell_type: 'markdown', metadata: {}, source: '## Similarity\n\nText.\n\n### Per module' },
    { cell_type: 'code', metadata: {}, source: "console.log('cka done')", execution_count: 2, outputs: [{ output_type: 'stream', name: 'stdout', text: 'cka done\n' }] },
    { cell_type: 'code', metadata: {}, source: 'display(heat); display(curves)', execution_count: 3, outputs: [
      { output_type: 'display_data', data: { 'application/vnd.transferlab.cka+json': cka16, 'text/plain': 'CKA' }, metadata: {} },
      { output_type: 'display_data', data: { 'application/vnd.transferlab.training+json': training, 'text/plain': 'training' }, metadata: {} },
      { output_type: 'display_data', data: { 'application/vnd.transferlab.cka+json': { ...cka16, panels: [cka16, { ...cka16, modelA: 'RI-T₁', modelB: 'RI-T₂' }] }, 'text/plain': 'side by side' }, metadata: {} },
    ] },
    { cell_type: 'markdown', metadata: {}, source: '## Similarity\n\n## Findings' },
    { cell_type: 'code', metadata: {}, source: 'display(findings)', execution_count: 4, outputs: [{ output_type: 'display_data', data: findings, metadata: {} }] },
  );
  return nb;
}

const run: RunRecord = { date: '2026-12-01T17:40:05.123Z', seconds: 192.4, backend: 'wasm · 2 threads', parameters: { epochs: 5, mode: 'slow' }, executed: 3, total: 3 };

test('the report opens with the run, the findings summary linked and a table of contents', () => {
  const html = notebookToHtml(reportNotebook(), { script: '', source: 'report.tsnb', run });
  const header = /<header class="tl-header">([\s\S]*?)<\/header>/.exec(html)![1]!;
  assert.match(header, /<dt>Run<\/dt><dd>2026-12-01 17:40 UTC<\/dd>/);
  assert.match(header, /<dt>Duration<\/dt><dd>3 min 12 s, 3 of 3 code cells<\/dd>/);
  assert.match(header, /<dt>Backend<\/dt><dd>wasm · 2 threads<\/dd>/);
  assert.match(header, /<dt>Parameters<\/dt><dd><code>epochs = 5<\/code>, <code>mode = &quot;slow&quot;<\/code><\/dd>/);
  assert.match(header, /<p class="tl-summary"><a href="#tl-findings">What the paper claims, tested<\/a>: 2 of 3 claims hold, 0 fail, 1 not resolved<\/p>/);
  assert.match(html, /<div class="tl-findings" id="tl-findings">/);
  // Contents: every heading of levels 1-3 in order, ids unique across cells (two "Similarity" headings).
  const links = [...header.matchAll(/<li class="tl-level-(\d)"><a href="#([^"]+)">([^<]+)<\/a><\/li>/g)].map((m) => [Number(m[1]), m[2], m[3]]);
  assert.deepEqual(links, [
    [1, 'transfer-report', 'Transfer report'],
    [2, 'similarity', 'Similarity'],
    [3, 'per-module', 'Per module'],
    [2, 'similarity-1', 'Similarity'],
    [2, 'findings', 'Findings'],
  ]);
  for (const [, id] of links) assert.equal([...html.matchAll(new RegExp(`<h\\d id="${id}">`, 'g'))].length, 1, `one heading with id ${id}`);
  // Without a run (plain export): no run lines; without findings: no summary.
  const plain = notebookToHtml({ ...reportNotebook(), cells: reportNotebook().cells.slice(0, 4) }, { script: '' });
  assert.doesNotMatch(plain, /<dl class="tl-run"|<p class="tl-summary"/);
  assert.deepEqual([formatDuration(4.26), formatDuration(192.4), formatDuration(3 * 3600 + 240)], ['4.3 s', '3 min 12 s', '3 h 4 min']);
  assert.equal(findingsOf({ 'application/json': { title: 'x', rows: [{ claim: 'c', verdict: 'maybe' }] } }), undefined, 'not findings: an unknown verdict');
});

test('--no-code leaves code out and keeps outputs; a cell without outputs leaves nothing', () => {
  const html = notebookToHtml(reportNotebook(), { script: '', code: false });
  assert.doesNotMatch(html, /<pre class="tl-source"|const epochs|console\.log/);
  assert.match(html, /cka done/);
  assert.equal([...html.matchAll(/<section class="tl-cell tl-code tl-no-code">/g)].length, 3, 'the three cells with outputs');
  assert.match(notebookToHtml(reportNotebook(), { script: '' }), /<pre class="tl-source"><code class="language-typescript">const epochs = 2;<\/code><\/pre>/);
  assert.deepEqual(parseRunArgs(['a.tsnb', '--html', 'r.html', '--no-code']), { ...(parseRunArgs(['a.tsnb', '--html', 'r.html']) as object), noCode: true });
});

test('transferlab export takes an .ipynb, and --no-code, straight to HTML', async () => {
  requireBundle('report');
  const dir = mkdtempSync(path.join(tmpdir(), 'tl-report-ipynb-'));
  const input = path.join(dir, 'analysis.ipynb');
  writeFileSync(input, tsnbToIpynb(reportNotebook()).notebook);
  const io = captureIo();
  assert.equal(await runExport([input, '--to', 'html', '--no-code'], io), 0, io.err);
  assert.match(io.out, /wrote .*analysis\.html/);
  const html = readFileSync(path.join(dir, 'analysis.html'), 'utf8');
  assert.match(html, /<title>Transfer report<\/title>/);
  assert.match(html, /cka done/);
  assert.match(html, /<math/);
  assert.doesNotMatch(html, /<pre class="tl-source"/);
  const refused = captureIo();
  assert.equal(await runExport([input, '--to', 'ipynb'], refused), 2);
  assert.match(refused.err, /is a Jupyter notebook already/);
  const tsnb = path.join(dir, 'analysis.tsnb');
  writeFileSync(tsnb, serializeTsnb(reportNotebook()));
  const noCodeIpynb = captureIo();
  assert.equal(await runExport([tsnb, '--to', 'ipynb', '--no-code'], noCodeIpynb), 2);
  assert.match(noCodeIpynb.err, /--no-code applies to --to html/);
});

let browser: BrowserContext;
let close: () => Promise<void>;
let page: Page;

before(async () => {
  requireBundle('report');
  const dir = mkdtempSync(path.join(tmpdir(), 'tl-report-math-'));
  const file = path.join(dir, 'report.html');
  const script = readFileSync(path.join(import.meta.dirname, '..', '..', 'dist', 'renderers', 'report.js'), 'utf8');
  const mathCss = await readKatexCss();
  assert.ok(mathCss !== undefined && /url\(data:font\/woff2;base64,/.test(mathCss) && !/url\(fonts\//.test(mathCss), 'dist/katex.css carries its fonts');
  writeFileSync(file, notebookToHtml(reportNotebook(), { script, run, mathCss }));
  ({ browser, close } = await launchChromium());
  page = await browser.newPage();
  await page.setViewportSize({ width: 700, height: 900 });
  const requested: string[] = [];
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('file:') || url.startsWith('data:')) return route.continue();
    requested.push(url);
    return route.abort();
  });
  await page.goto(pathToFileURL(file).href);
  await page.waitForSelector('body[data-tl-report="done"]', { timeout: 30_000 });
  assert.deepEqual(requested, [], 'nothing fetched');
});

after(async () => {
  await close?.();
});

test('in Chromium the math is drawn as KaTeX draws it (its fonts inlined, MathML beside for screen readers) and the contents links land on their headings', async () => {
  const math = await page.evaluate(() =>
    Array.from(document.querySelectorAll('.katex')).map((k) => {
      const html = k.querySelector('.katex-html')!.getBoundingClientRect();
      return { display: k.closest('.katex-display') !== null, width: Math.round(html.width), height: Math.round(html.height), fraction: k.querySelector('.mfrac') !== null, mathml: k.querySelector('.katex-mathml math') !== null };
    }),
  );
  assert.equal(math.length, 2, 'one inline, one display formula ($5 and $10 stay text)');
  assert.deepEqual(math.map((m) => [m.display, m.fraction, m.mathml]), [[false, true, true], [true, false, true]]);
  for (const m of math) assert.ok(m.width > 40 && m.height > 10, `drawn: ${JSON.stringify(m)}`);
  // Laid out in two lines (numerator over denominator), not shown as TeX.
  assert.ok(math[0]!.height >= 18 && math[0]!.width > 150, `the inline fraction: ${JSON.stringify(math[0])}`);
  // KaTeX's own fonts, from the page (data: URLs), not the system's.
  await page.evaluate(() => document.fonts.ready);
  const fonts = await page.evaluate(() => Array.from(document.fonts).filter((f) => f.status === 'loaded').map((f) => f.family.replace(/"/g, '')));
  assert.ok(fonts.includes('KaTeX_Main') && fonts.includes('KaTeX_Math'), `KaTeX fonts loaded: ${JSON.stringify(fonts)}`);
  assert.ok(!(await page.evaluate(() => document.body.innerText)).includes('\\frac'), 'no raw TeX on the page');
  // The charts fit the 700 px page: nothing wider than its output, no horizontal scrolling.
  const charts = await page.evaluate(() =>
    Array.from(document.querySelectorAll<HTMLElement>('.tl-chart.tl-drawn')).map((c) => {
      const svg = c.querySelector('svg')!;
      const outputs = c.closest<HTMLElement>('.tl-outputs')!;
      return { mime: c.dataset['mime'], svg: Math.round(svg.getBoundingClientRect().width), room: outputs.clientWidth, scrolls: outputs.scrollWidth > outputs.clientWidth + 1, values: c.querySelectorAll('.cell-values text').length };
    }),
  );
  assert.equal(charts.length, 3, 'CKA, training, two CKA heatmaps side by side');
  for (const c of charts) assert.ok(c.svg <= c.room && !c.scrolls, `${c.mime} fits: ${JSON.stringify(c)}`);
  assert.equal(charts[0]!.values, 256, 'every CKA cell prints its value');
  assert.equal(charts[2]!.values, 512, 'side by side (stacked at 700 px): every cell of both prints its value');
  await page.click('nav.tl-contents a[href="#per-module"]');
  const landed = await page.evaluate(() => ({ hash: location.hash, top: Math.round(document.getElementById('per-module')!.getBoundingClientRect().top), scrolled: window.scrollY, height: window.innerHeight }));
  assert.equal(landed.hash, '#per-module');
  assert.ok(landed.scrolled > 0 && landed.top >= 0 && landed.top < landed.height - 20, `the page scrolled to the heading: ${JSON.stringify(landed)}`);
  await page.click('p.tl-summary a');
  assert.equal(await page.evaluate(() => location.hash), '#tl-findings');
  await page.evaluate(() => window.scrollTo(0, 0));
  mkdirSync(path.join(import.meta.dirname, '..', '..', 'test-results'), { recursive: true });
  await page.screenshot({ path: path.join(import.meta.dirname, '..', '..', 'test-results', 'report-contents-700px.png'), fullPage: true });
});
