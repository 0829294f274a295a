/**
 * A real Chromium page for renderer tests: the built bundles (dist/renderers/*.js) are served from
 * a fake origin under a strict Content-Security-Policy (no 'unsafe-eval', like VS Code's webview,
 * so any eval or `new Function` in vega would fail), every other request is refused and recorded,
 * and CSP violations are collected.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const ROOT = path.resolve(__dirname, '..', '..');
export const ORIGIN = 'https://renderers.transferlab.test';
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

/** Launches Debian's Chromium headless; fails with the package to install when it is missing. */
export async function launchChromium(): Promise<{ browser: BrowserContext; close: () => Promise<void> }> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `renderer tests need Chromium at ${CHROMIUM}: install the Debian package \`chromium\` (apt-get install -y chromium) or set CHROMIUM_PATH`,
    );
  }
  const profile = mkdtempSync(path.join(tmpdir(), 'tl-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    browser: context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export type BodyTheme = 'vscode-light' | 'vscode-dark' | 'vscode-high-contrast' | 'vscode-high-contrast-light';

const THEME_VARS: Record<BodyTheme, string> = {
  'vscode-light': '--vscode-editor-foreground:#3b3b3b;--vscode-editor-background:#ffffff;--vscode-font-family:sans-serif;--vscode-font-size:13px',
  'vscode-dark': '--vscode-editor-foreground:#cccccc;--vscode-editor-background:#1f1f1f;--vscode-font-family:sans-serif;--vscode-font-size:13px',
  'vscode-high-contrast': '--vscode-editor-foreground:#ffffff;--vscode-editor-background:#000000;--vscode-contrastBorder:#6fc3df;--vscode-font-family:sans-serif',
  'vscode-high-contrast-light': '--vscode-editor-foreground:#000000;--vscode-editor-background:#ffffff;--vscode-contrastBorder:#0f4a85;--vscode-font-family:sans-serif',
};

export interface RendererPage {
  readonly page: Page;
  /** Requests to anything but the served bundles (none expected). */
  readonly refused: string[];
  /** CSP violations reported by the page. */
  violations(): Promise<string[]>;
}

/** Opens a page that looks like VS Code's notebook webview in the given theme. */
export async function openRendererPage(browser: BrowserContext, theme: BodyTheme = 'vscode-light'): Promise<RendererPage> {
  const page = await browser.newPage();
  const refused: string[] = [];
  const nonce = 'tltest';
  const html = `<!doctype html><html><head><meta charset="utf-8"></head>
<body class="${theme}" style="${THEME_VARS[theme]};background:var(--vscode-editor-background);color:var(--vscode-editor-foreground)">
<div id="outputs"></div>
<script nonce="${nonce}">
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
</script>
</body></html>`;
  const csp = `default-src 'none'; script-src 'nonce-${nonce}' ${ORIGIN}; style-src 'unsafe-inline'; img-src data: blob:; font-src data:; connect-src 'none'`;
  await page.route('**/*', async (route) => {
    const url = new URL(route.request().url());
    if (url.origin === ORIGIN && url.pathname === '/index.html') {
      await route.fulfill({ status: 200, contentType: 'text/html', headers: { 'content-security-policy': csp }, body: html });
      return;
    }
    if (url.origin === ORIGIN && url.pathname.startsWith('/dist/renderers/') && url.pathname.endsWith('.js')) {
      const file = path.join(ROOT, url.pathname);
      if (existsSync(file)) {
        await route.fulfill({ status: 200, contentType: 'text/javascript', body: readFileSync(file) });
        return;
      }
    }
    refused.push(url.href);
    await route.abort();
  });
  // tsx compiles the functions passed to page.evaluate with esbuild's keepNames helper.
  await page.addInitScript('window.__name = (f) => f;');
  await page.addInitScript(HARNESS);
  await page.goto(`${ORIGIN}/index.html`);
  return {
    page,
    refused,
    violations: () => page.evaluate(() => (window as unknown as { __violations: string[] }).__violations),
  };
}

/**
 * In-page helpers (plain JavaScript): `tlRender(bundle, mime, payload, id)` activates a renderer
 * bundle once with a fake RendererContext, renders an output item into its own element under
 * #outputs and reports what appeared; `tlDispose(bundle, id)`.
 */
const HARNESS = `
window.tlApis = {};
window.tlApi = async (bundle) => {
  if (!window.tlApis[bundle]) {
    const mod = await import('${ORIGIN}/dist/renderers/' + bundle + '.js');
    const context = { getState: () => undefined, setState: () => {}, workspace: { isTrusted: true }, settings: {} };
    window.tlApis[bundle] = await mod.activate(context);
  }
  return window.tlApis[bundle];
};
window.tlElement = (id) => {
  const outputs = document.getElementById('outputs');
  let el = Array.from(outputs.children).find((c) => c.dataset.outputId === id);
  if (!el) { el = document.createElement('div'); el.dataset.outputId = id; outputs.append(el); }
  return el;
};
window.tlDescribe = (el) => ({
  svg: el.querySelectorAll('svg').length,
  canvas: el.querySelectorAll('canvas').length,
  marks: el.querySelectorAll('svg path, svg rect, svg line').length,
  images: Array.from(el.querySelectorAll('img')).map((i) => [i.naturalWidth, i.naturalHeight, i.complete]),
  error: el.querySelector('.tl-error') ? el.querySelector('.tl-error').textContent : null,
  text: el.textContent,
  views: el.querySelectorAll('.tl-view').length,
  ariaLabels: Array.from(el.querySelectorAll('svg[aria-label], [role=graphics-document]')).map((e) => e.getAttribute('aria-label')),
});
window.tlRender = async (bundle, mime, payload, id) => {
  const api = await window.tlApi(bundle);
  const el = window.tlElement(id);
  const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
  const item = { id, mime, metadata: {}, text: () => text, json: () => JSON.parse(text),
    data: () => new TextEncoder().encode(text), blob: () => new Blob([text]) };
  const t0 = performance.now();
  await api.renderOutputItem(item, el, new AbortController().signal);
  const ms = performance.now() - t0;
  await Promise.all(Array.from(el.querySelectorAll('img')).map((i) => i.decode().catch(() => undefined)));
  return { ms, ...window.tlDescribe(el) };
};
window.tlDispose = async (bundle, id) => {
  const api = await window.tlApi(bundle);
  api.disposeOutputItem(id);
  const el = window.tlElement(id === undefined ? '' : id);
  return window.tlDescribe(el);
};
`;

/** Renders one output item in the page (see HARNESS). */
export interface Rendered {
  ms: number;
  svg: number;
  canvas: number;
  marks: number;
  images: [number, number, boolean][];
  error: string | null;
  text: string;
  views: number;
  ariaLabels: (string | null)[];
}

export function render(page: Page, bundle: string, mime: string, payload: unknown, id: string): Promise<Rendered> {
  return page.evaluate(
    ([b, m, p, i]) => (window as unknown as { tlRender: (...a: unknown[]) => Promise<Rendered> }).tlRender(b, m, p, i),
    [bundle, mime, payload, id] as const,
  );
}

export function dispose(page: Page, bundle: string, id?: string): Promise<Rendered> {
  return page.evaluate(
    ([b, i]) => (window as unknown as { tlDispose: (...a: unknown[]) => Promise<Rendered> }).tlDispose(b, i),
    [bundle, id] as const,
  );
}

/** Fails with a message naming the bundle when `npm run build` has not produced it. */
export function requireBundle(name: string): void {
  const file = path.join(ROOT, 'dist', 'renderers', `${name}.js`);
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`node esbuild.mjs\` (npm test builds it first)`);
}

export type { Browser };
