/**
 * Figures outside VS Code: a sample notebook executed by nbconvert (Debian jupyter-nbconvert) on
 * the kernel has, in every analysis output, the static `image/png` and `image/svg+xml` renderings;
 * that notebook opened in Jupyter Notebook 6 (Debian python3-notebook) in Chromium shows the
 * charts as images. A screenshot is kept in test-results/figures/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { PYTHON, installKernelspec, repoRoot, requirePythonModule } from '../helpers/tools';
import { chromium } from 'playwright-core';
import { parseTsnb, type TsnbCodeCell } from '../../kernel/protocol/tsnb';
import { tsnbToIpynb } from '../../kernel/protocol/ipynb';
import { Mime, isTransferLabMime } from '../../kernel/protocol/mime';

const SAMPLE = 'parameter-distance';
/** The sample's parameters, small (as test/samples/notebooks.test.ts runs it). */
const PARAMETERS = ['const sourceSize: number = 500;', 'const preEpochs: number = 1;', 'const labelsPerClass: number = 10;', 'const fineTuneEpochs: number = 3;', 'const seeds: number[] = [1, 2];'].join('\n');

interface IpynbOutput {
  output_type: string;
  data?: Record<string, unknown>;
}
interface Ipynb {
  cells: { cell_type: string; outputs?: IpynbOutput[] }[];
}

const isAnalysisOutput = (data: Record<string, unknown>) => Object.keys(data).some((m) => isTransferLabMime(m) || m === Mime.vega || m === Mime.vegaLite);
const joined = (v: unknown) => (Array.isArray(v) ? v.join('') : String(v));

let executed: string | undefined;

test(`nbconvert runs ${SAMPLE}: every analysis output carries image/png and image/svg+xml`, { timeout: 600_000 }, () => {
  requirePythonModule('nbconvert', 'jupyter-nbconvert');
  const jupyterPath = installKernelspec();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'transferlab-figures-'));
  const nb = parseTsnb(readFileSync(path.join(repoRoot, 'sample-notebooks', `${SAMPLE}.tsnb`), 'utf8'));
  const params = nb.cells.find((c): c is TsnbCodeCell => c.cell_type === 'code' && ((c.metadata['tags'] as string[] | undefined) ?? []).includes('parameters'));
  assert.ok(params, 'the sample has a parameters cell');
  (params as { source: string }).source = PARAMETERS;
  const input = path.join(dir, `${SAMPLE}.ipynb`);
  writeFileSync(input, tsnbToIpynb(nb).notebook);
  const r = spawnSync(PYTHON, ['-m', 'nbconvert', '--to', 'notebook', '--execute', '--ExecutePreprocessor.timeout=300', '--output', 'executed.ipynb', input], {
    cwd: dir,
    env: { ...process.env, JUPYTER_PATH: jupyterPath, TRANSFERLAB_BACKEND: 'wasm' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `nbconvert failed:\n${r.stdout}\n${r.stderr}`);
  executed = path.join(dir, 'executed.ipynb');
  const out = JSON.parse(readFileSync(executed, 'utf8')) as Ipynb;
  const outputs = out.cells.flatMap((c) => c.outputs ?? []).filter((o) => o.data !== undefined && isAnalysisOutput(o.data));
  // Training curves (pre-training, P-T and RI-T runs) and two distance tables at least.
  assert.ok(outputs.length >= 3, `${outputs.length} analysis outputs`);
  for (const o of outputs) {
    const data = o.data!;
    const kinds = Object.keys(data).join(', ');
    assert.ok(Mime.png in data && Mime.svg in data, `an analysis output without static images: ${kinds}`);
    const png = PNG.sync.read(Buffer.from(joined(data[Mime.png]), 'base64'));
    assert.ok(png.width > 50 && png.height > 50, `PNG ${png.width}×${png.height} (${kinds})`);
    assert.match(joined(data[Mime.svg]), /^<svg[\s>]/);
  }
  // The training chart is the final one, with its images (live updates carried none).
  assert.ok(outputs.some((o) => Mime.training in o.data!), 'a training chart with images');
});

/** A free TCP port on loopback. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

test('Jupyter Notebook 6 in Chromium shows the executed notebook’s charts as images', { timeout: 300_000 }, async () => {
  requirePythonModule('notebook', 'python3-notebook');
  assert.ok(executed, 'the nbconvert test ran first and left its notebook');
  const dir = path.dirname(executed);
  const port = await freePort();
  const token = randomBytes(16).toString('hex');
  const server = spawn(
    PYTHON,
    ['-m', 'notebook', '--no-browser', '--ip=127.0.0.1', `--port=${port}`, '--port-retries=0', `--NotebookApp.token=${token}`, `--notebook-dir=${dir}`, '--NotebookApp.open_browser=False', ...(process.getuid?.() === 0 ? ['--allow-root'] : [])],
    { cwd: dir, env: { ...process.env, JUPYTER_PATH: installKernelspec(), JUPYTER_CONFIG_DIR: mkdtempSync(path.join(os.tmpdir(), 'tl-jupyter-config-')), JUPYTER_RUNTIME_DIR: mkdtempSync(path.join(os.tmpdir(), 'tl-jupyter-runtime-')) }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  server.stdout.on('data', (d: Buffer) => (log += d.toString()));
  server.stderr.on('data', (d: Buffer) => (log += d.toString()));
  let exited = false;
  server.on('exit', () => (exited = true));
  const executablePath = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
  assert.ok(existsSync(executablePath), `Chromium is missing at ${executablePath}: apt-get install -y chromium`);
  const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  try {
    // Wait for the server to answer.
    const base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        const res = await fetch(`${base}/api/status?token=${token}`);
        if (res.ok) break;
      } catch {
        /* not up yet */
      }
      assert.ok(!exited && Date.now() < deadline, `Notebook 6 did not start:\n${log}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const page = await browser.newPage();
    await page.setViewportSize({ width: 1200, height: 900 });
    await page.goto(`${base}/notebooks/executed.ipynb?token=${token}`);
    // An untrusted notebook (one received from someone) shows the PNG of each chart.
    const images = page.locator('.output_png img');
    await images.first().waitFor({ state: 'visible', timeout: 60_000 });
    type Img = { naturalWidth: number; naturalHeight: number; complete: boolean };
    const sizes = await images.evaluateAll((els) => els.map((e) => ({ w: (e as unknown as Img).naturalWidth, h: (e as unknown as Img).naturalHeight, complete: (e as unknown as Img).complete })));
    assert.ok(sizes.length >= 3, `${sizes.length} images shown`);
    for (const s of sizes) assert.ok(s.complete && s.w > 50 && s.h > 50, `an image of ${s.w}×${s.h}`);
    // No chart falls back to its text line.
    const plainCharts = await page.locator('.output_text pre', { hasText: '<Vega-Lite chart' }).count();
    assert.equal(plainCharts, 0, 'a chart shown as text');
    const shots = path.join(repoRoot, 'test-results', 'figures');
    mkdirSync(shots, { recursive: true });
    await images.nth(1).scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(shots, 'notebook6.png') });
  } finally {
    await browser.close();
    server.kill('SIGTERM');
  }
});
