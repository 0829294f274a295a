/**
 * End-to-end harness: a throwaway code-server (VS Code for the browser) with the packaged
 * extension installed, and Debian's Chromium driven by playwright-core. Used by the *.e2e.ts
 * files, which scripts/e2e.mjs runs (`npm run test:e2e`) after packaging the .vsix.
 *
 * Every server runs in its own process group (its extension host and kernels included) and is
 * stopped by killing that group, so nothing lingers after a test file.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type FrameLocator, type Locator, type Page } from 'playwright-core';

export const ROOT = path.resolve(__dirname, '..', '..');
export const FIXTURES = path.join(__dirname, 'fixtures');
export const CHROMIUM = '/usr/bin/chromium';

/** What scripts/e2e.mjs prepared, read from the environment. */
export interface E2EEnvironment {
  /** code-server's launcher (bin/code-server). */
  readonly codeServer: string;
  /** The Node 24 that code-server runs on. */
  readonly node: string;
  /** An extensions folder with the packaged .vsix installed. */
  readonly extensionsDir: string;
  /** Where screenshots and logs go (test-results/e2e). */
  readonly results: string;
}

export function e2eEnvironment(): E2EEnvironment {
  const get = (name: string) => {
    const v = process.env[name];
    if (!v) throw new Error(`${name} is not set: run the end-to-end tests with \`npm run test:e2e\` (scripts/e2e.mjs), which installs code-server and the .vsix first`);
    return v;
  };
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install the Debian package 'chromium' (apt-get install -y chromium)`);
  const env = {
    codeServer: get('TRANSFERLAB_E2E_CODE_SERVER'),
    node: get('TRANSFERLAB_E2E_NODE'),
    extensionsDir: get('TRANSFERLAB_E2E_EXTENSIONS_DIR'),
    results: process.env['TRANSFERLAB_E2E_RESULTS'] ?? path.join(ROOT, 'test-results', 'e2e'),
  };
  mkdirSync(env.results, { recursive: true });
  return env;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Editor and webview text with non-breaking spaces (Monaco renders spaces as such) made plain. */
export function normalize(text: string): string {
  return text.replace(/\u00a0/g, ' ');
}

/** A pattern matching `text` with any whitespace (also non-breaking spaces) where it has spaces. */
export function textPattern(text: string): RegExp {
  return new RegExp(text.split(/\s+/).map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[\\s\\u00a0]+'));
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 30_000, intervalMs = 100): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await sleep(intervalMs);
  }
}

export interface CodeServerOptions {
  /** Names logs and temp folders. */
  readonly name: string;
  /** Folder opened as the workspace. */
  readonly workspace: string;
  /** Workspace trust on (code-server then asks whether to trust the folder). Default: off, as if trusted. */
  readonly trust?: boolean;
  /** Start with VS Code's smoke-test driver (needed for extension-host tests). */
  readonly smokeTestDriver?: boolean;
  /** User settings. */
  readonly settings?: Record<string, unknown>;
  /** Extra environment for code-server and the extension host. */
  readonly env?: Record<string, string>;
}

/** A code-server process group on 127.0.0.1. */
export class CodeServer {
  private constructor(
    readonly options: CodeServerOptions,
    readonly port: number,
    private readonly child: ChildProcess,
    private readonly tmp: string,
    readonly logFile: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Process group id (= code-server's pid: it runs detached). */
  get pgid(): number {
    return this.child.pid!;
  }

  static async start(options: CodeServerOptions): Promise<CodeServer> {
    const env = e2eEnvironment();
    const tmp = mkdtempSync(path.join(os.tmpdir(), `transferlab-e2e-${options.name}-`));
    const dirs = Object.fromEntries(['config', 'data', 'cache', 'user-data'].map((d) => [d, path.join(tmp, d)]));
    for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
    const port = await freePort();
    const config = path.join(tmp, 'config.yaml');
    writeFileSync(
      config,
      [
        `bind-addr: 127.0.0.1:${port}`,
        'auth: none',
        'cert: false',
        'disable-telemetry: true',
        'disable-update-check: true',
        // Present at all (even `false`), the key turns trust off: leave it out to keep trust on.
        ...(options.trust ? [] : ['disable-workspace-trust: true']),
      ].join('\n') + '\n',
    );
    const settings = {
      'workbench.startupEditor': 'none',
      'workbench.tips.enabled': false,
      'workbench.enableExperiments': false,
      'extensions.autoCheckUpdates': false,
      'extensions.autoUpdate': false,
      'extensions.ignoreRecommendations': true,
      'telemetry.telemetryLevel': 'off',
      'security.workspace.trust.enabled': Boolean(options.trust),
      'security.workspace.trust.startupPrompt': 'always',
      'notebook.confirmDeleteRunningCell': false,
      'update.mode': 'none',
      'window.commandCenter': false,
      'chat.commandCenter.enabled': false,
      'chat.disableAIFeatures': true,
      'workbench.secondarySideBar.defaultVisibility': 'hidden',
      ...options.settings,
    };
    mkdirSync(path.join(dirs['user-data']!, 'User'), { recursive: true });
    writeFileSync(path.join(dirs['user-data']!, 'User', 'settings.json'), JSON.stringify(settings, null, 2));
    const logFile = path.join(env.results, `${options.name}.code-server.log`);
    const log = openSync(logFile, 'w');
    const args = [
      '--config', config,
      '--user-data-dir', dirs['user-data']!,
      '--extensions-dir', env.extensionsDir,
      '--reconnection-grace-time', '5',
      '--ignore-last-opened',
      ...(options.smokeTestDriver ? ['--vscode-option', 'enable-smoke-test-driver'] : []),
      options.workspace,
    ];
    const child = spawn(env.codeServer, args, {
      detached: true,
      stdio: ['ignore', log, log],
      env: {
        ...process.env,
        ...serverEnvironment(env, dirs),
        ...options.env,
      },
    });
    closeSync(log);
    const server = new CodeServer(options, port, child, tmp, logFile);
    running.add(server.pgid);
    // scripts/e2e.mjs kills what a crashed test file left behind.
    writeFileSync(path.join(env.results, '.pgids'), `${server.pgid}\n`, { flag: 'a' });
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code, signal) => reject(new Error(`code-server exited (${signal ?? code}) before it served; log:\n${tail(logFile)}`))),
    );
    exited.catch(() => undefined);
    try {
      await Promise.race([
        exited,
        waitFor('code-server to answer /healthz', async () => (await fetch(`${server.url}/healthz`)).ok, 60_000, 200),
      ]);
    } catch (e) {
      await server.stop();
      throw e;
    }
    return server;
  }

  /** Pids of this server's process group whose command line contains `needle`. */
  processes(needle: string): number[] {
    const found: number[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
        if (pgrp !== this.pgid) continue;
        const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
        if (cmd.includes(needle)) found.push(Number(entry));
      } catch {
        // the process ended while we looked
      }
    }
    return found;
  }

  /** Pids of the TransferLab kernels this server's extension host started. */
  kernelPids(): number[] {
    return this.processes(`${path.sep}dist${path.sep}kernel.js`);
  }

  /** Copies the extension host's log and the extension's output channel next to the screenshots. */
  private keepLogs(): void {
    const logs = path.join(this.tmp, 'user-data', 'logs');
    if (!existsSync(logs)) return;
    const walk = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
    for (const file of walk(logs)) {
      const base = path.basename(file);
      if (base === 'exthost.log' || /TransferLab\.log$/.test(base)) {
        copyFileSync(file, path.join(path.dirname(this.logFile), `${this.options.name}.${base.replace(/^\d+-/, '')}`));
      }
    }
  }

  /** Kills the whole process group (code-server, extension host, kernels) and removes temp files. */
  async stop(): Promise<void> {
    const alive = () => {
      try {
        process.kill(-this.pgid, 0);
        return true;
      } catch {
        return false;
      }
    };
    if (alive()) {
      try {
        process.kill(-this.pgid, 'SIGTERM');
      } catch {
        // already gone
      }
      const deadline = Date.now() + 5000;
      while (alive() && Date.now() < deadline) await sleep(100);
      if (alive()) {
        try {
          process.kill(-this.pgid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    running.delete(this.pgid);
    this.keepLogs();
    rmSync(this.tmp, { recursive: true, force: true });
  }
}

/** Process groups started by this test process: killed if it exits without stopping them. */
const running = new Set<number>();
process.on('exit', () => {
  for (const pgid of running) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

function serverEnvironment(env: E2EEnvironment, dirs: Record<string, string>): Record<string, string> {
  return {
    PATH: `${path.dirname(env.node)}${path.delimiter}${process.env['PATH'] ?? ''}`,
    XDG_CONFIG_HOME: dirs['config']!,
    XDG_DATA_HOME: dirs['data']!,
    XDG_CACHE_HOME: dirs['cache']!,
  };
}

function tail(file: string, lines = 40): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Installs a .vsix into an extensions folder with code-server's own installer. */
export function installExtension(env: Omit<E2EEnvironment, 'extensionsDir' | 'results'>, vsix: string, extensionsDir: string): void {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'transferlab-e2e-install-'));
  try {
    const dirs = Object.fromEntries(['config', 'data', 'cache', 'user-data'].map((d) => [d, path.join(tmp, d)]));
    const r = spawnSync(env.codeServer, ['--user-data-dir', dirs['user-data']!, '--extensions-dir', extensionsDir, '--install-extension', vsix, '--force'], {
      encoding: 'utf8',
      env: { ...process.env, ...serverEnvironment({ ...env, extensionsDir, results: tmp }, dirs) },
    });
    if (r.status !== 0) throw new Error(`code-server --install-extension ${vsix} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Chromium showing a code-server workbench. */
export class Workbench {
  private constructor(
    readonly browser: Browser,
    readonly context: BrowserContext,
    readonly page: Page,
    readonly server: CodeServer,
    private readonly results: string,
  ) {}

  /** Browser console lines (errors and warnings), for failure messages. */
  readonly console: string[] = [];

  /** Opens the workbench; `beforeLoad` runs first (e.g. to expose functions the page calls early). */
  static async open(server: CodeServer, query = '', beforeLoad?: (page: Page) => Promise<void>): Promise<Workbench> {
    const env = e2eEnvironment();
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const page = await context.newPage();
    const wb = new Workbench(browser, context, page, server, env.results);
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') wb.console.push(`[${m.type()}] ${m.text()}`);
    });
    await beforeLoad?.(page);
    await page.goto(`${server.url}/${query}`);
    return wb;
  }

  /** Waits until the explorer shows the workspace and extensions' contributions are registered. */
  async waitReady(timeoutMs = 90_000): Promise<void> {
    await this.page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ timeout: timeoutMs });
    await this.page.waitForFunction(() => performance.getEntriesByName('code/didHandleExtensionPoints').length > 0, undefined, { timeout: timeoutMs });
  }

  /** Opens a file of the workspace root by double-clicking it in the explorer. */
  async openFromExplorer(name: string): Promise<void> {
    const row = this.page.locator('.explorer-folders-view .monaco-list-row', { hasText: name }).first();
    await row.waitFor();
    await row.dblclick();
  }

  /** The notebook editor on screen (VS Code keeps editors of other tabs in the page, hidden). */
  notebookEditor(): Locator {
    return this.page.locator('.notebookOverlay.notebook-editor').filter({ visible: true });
  }

  /** Opens a notebook and waits for its code cells. */
  async openNotebook(name: string): Promise<void> {
    await this.openFromExplorer(name);
    await this.page.locator('.tabs-container .tab.active', { hasText: name }).waitFor({ timeout: 30_000 });
    await this.codeCells().first().waitFor({ timeout: 30_000 });
  }

  /** Closes the active editor tab. */
  async closeActiveEditor(): Promise<void> {
    const tab = this.page.locator('.tabs-container .tab.active');
    if ((await tab.count()) === 0) return;
    await tab.hover();
    await tab.locator('.tab-actions a.codicon-close').click();
  }

  /** Runs a command from the palette (F1), by its title as shown there. */
  async command(title: string): Promise<void> {
    await this.page.keyboard.press('F1');
    const input = this.page.locator('.quick-input-widget input[type="text"]');
    await input.waitFor();
    await input.fill(`>${title}`);
    const row = this.page.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first();
    await row.waitFor();
    await input.press('Enter');
  }

  /** The notebook editor's code cells (list rows), in order. */
  codeCells(): Locator {
    return this.notebookEditor().locator('.monaco-list-row.code-cell-row');
  }

  /** Clicks into a cell's editor (so that cell-scoped commands act on it). */
  async focusCell(index: number): Promise<void> {
    const cell = this.codeCells().nth(index);
    await cell.scrollIntoViewIfNeeded();
    await cell.locator('.monaco-editor .view-lines').click();
  }

  /** Runs one cell with the run button left of it. */
  async runCell(index: number): Promise<void> {
    const cell = this.codeCells().nth(index);
    await cell.scrollIntoViewIfNeeded();
    await cell.hover();
    await cell.locator('.run-button-container a.action-label.codicon-notebook-execute').click();
  }

  /** Clicks a notebook toolbar action by its codicon (e.g. `notebook-execute-all`, `notebook-stop`, `debug-restart`). */
  async toolbar(codicon: string): Promise<void> {
    await this.notebookToolbarAction(codicon).click();
  }

  /** A notebook toolbar action of the notebook on screen. */
  notebookToolbarAction(codicon: string): Locator {
    return this.notebookEditor().locator('.notebook-toolbar-container').locator(`a.action-label.codicon-${codicon}`).first();
  }

  /**
   * Brings the code cell whose source contains `snippet` on screen near the top, with room for
   * its outputs, so that the webview renders them (the cell list and the webview both render only
   * what is on screen). Walks the cells with the keyboard from the first one, as a user would.
   */
  async revealCell(snippet: string): Promise<void> {
    const pattern = textPattern(snippet);
    const editor = await this.notebookEditor().boundingBox();
    if (!editor) throw new Error('no notebook editor on screen');
    // Into a cell on screen, then command mode, then the first cell.
    const rows = this.codeCells();
    let clicked = false;
    for (let i = 0; i < (await rows.count()) && !clicked; i++) {
      const box = await rows.nth(i).locator('.monaco-editor').first().boundingBox();
      if (box && box.y > editor.y + 40 && box.y + 20 < editor.y + editor.height) {
        await this.page.mouse.click(box.x + box.width / 2, box.y + Math.min(10, box.height / 2));
        clicked = true;
      }
    }
    if (!clicked) throw new Error('no code cell on screen to start from');
    await this.page.keyboard.press('Escape');
    await this.page.keyboard.press('Control+Home');
    const focused = this.notebookEditor().locator('.monaco-list-row.focused');
    for (let i = 0; i < 100; i++) {
      if (pattern.test(normalize(await focused.innerText().catch(() => '')))) break;
      await this.page.keyboard.press('ArrowDown');
      await sleep(80);
      if (i === 99) throw new Error(`no cell contains ${JSON.stringify(snippet)}`);
    }
    // Scroll so that the cell sits near the top and its outputs below it are on screen.
    await this.page.mouse.move(editor.x + editor.width / 2, editor.y + editor.height / 2);
    for (let i = 0; i < 20; i++) {
      const box = await focused.boundingBox();
      if (!box) break;
      const delta = box.y - (editor.y + 60);
      if (Math.abs(delta) < 40) break;
      await this.page.mouse.wheel(0, Math.sign(delta) * Math.min(Math.abs(delta), 400));
      await sleep(100);
    }
    await sleep(300);
  }

  /** Text of the output webview: rendered markdown and the outputs of the cells on screen. */
  async outputText(): Promise<string> {
    return normalize(await (await this.outputFrame()).locator('body').innerText());
  }

  /**
   * The frame of the output webview of the notebook on screen (all its outputs share it). VS Code
   * keeps the webviews of other open notebooks in the page, moved out of the way, so the one
   * overlapping the visible notebook editor is picked.
   */
  async outputFrame(): Promise<FrameLocator> {
    const editor = await this.notebookEditor().boundingBox();
    const frames = this.page.locator('iframe.webview.ready');
    let best: { name: string; overlap: number } | undefined;
    for (let i = 0; i < (await frames.count()); i++) {
      const f = frames.nth(i);
      const box = await f.boundingBox();
      const name = await f.getAttribute('name');
      if (!box || !editor || !name) continue;
      const w = Math.min(box.x + box.width, editor.x + editor.width) - Math.max(box.x, editor.x);
      const h = Math.min(box.y + box.height, editor.y + editor.height) - Math.max(box.y, editor.y);
      const overlap = Math.max(0, w) * Math.max(0, h);
      if (overlap > (best?.overlap ?? 0)) best = { name, overlap };
    }
    if (!best) throw new Error('no output webview over the notebook editor');
    return this.page.frameLocator(`iframe.webview.ready[name="${best.name}"]`).frameLocator('iframe#active-frame');
  }

  /** Visible notification toasts' text. */
  async notifications(): Promise<string[]> {
    return this.page.locator('.notifications-toasts .notification-toast .notification-list-item-message').allInnerTexts();
  }

  /** Status bar entries' text. */
  async statusBar(): Promise<string[]> {
    return this.page.locator('.part.statusbar .statusbar-item').allInnerTexts();
  }

  async screenshot(name: string): Promise<string> {
    const file = path.join(this.results, `${name.replace(/[^a-z0-9_.-]+/gi, '-')}.png`);
    await this.page.screenshot({ path: file });
    return file;
  }

  async close(): Promise<void> {
    await this.browser.close().catch(() => undefined);
  }
}

/** A copy of a fixture workspace in a temp folder (tests edit and run notebooks in it). */
/**
 * The extension under development as VS Code loads it. package.json's `main` is the analysis API
 * (`require('transferlab')`), so VS Code is given a folder holding the manifest it needs
 * (scripts/extensionManifest.mjs, as in the .vsix) beside links to this repository's dist/ and
 * node_modules/: the repository's build, as before.
 */
export async function developmentExtension(): Promise<string> {
  const { extensionManifest } = await import('../../scripts/extensionManifest.mjs');
  const dir = path.join(ROOT, '.cache', 'e2e', 'dev-extension');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify(extensionManifest(manifest), null, 2) + '\n');
  // dist/ is copied, not linked: VS Code tells which extension calls its API by the path of the
  // calling file, and Node reports a linked file by its real path, outside this folder (the
  // extension would then get no contributions, e.g. no renderer messaging).
  cpSync(path.join(ROOT, 'dist'), path.join(dir, 'dist'), { recursive: true });
  for (const name of ['node_modules', 'sample-notebooks', 'README.md', 'CHANGELOG.md']) {
    if (existsSync(path.join(ROOT, name))) symlinkSync(path.join(ROOT, name), path.join(dir, name));
  }
  return dir;
}

export function workspaceCopy(fixture: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `transferlab-e2e-ws-`));
  const src = path.join(FIXTURES, fixture);
  for (const entry of readdirSync(src)) writeFileSync(path.join(dir, entry), readFileSync(path.join(src, entry)));
  return dir;
}
