/**
 * Legible charts in VS Code (code-server): a saved 16×16 CKA heatmap drawn by the renderer at a
 * normal and a narrow editor width, in the light and the dark theme. Each time: every cell prints
 * its value, black or white against the cell; the whole chart (axes, the 0..1 legend) fits the
 * output's width, with no horizontal scrolling. Screenshots: test-results/e2e/charts-*.png (the
 * page) and charts-*-output.png (the chart alone).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { isLight } from '../../kernel/protocol/charts';
import { CodeServer, Workbench, waitFor, workspaceCopy } from './harness';

const N = 16;
const modules = Array.from({ length: N }, (_, i) => `layer${Math.floor(i / 4) + 1}.${i % 4}.conv`);
/** A block-structured similarity matrix: bright diagonal, blocks of related layers, values 0.04..1. */
const values = modules.map((_, i) => modules.map((_, j) => (i === j ? 1 : Math.round((0.04 + 0.9 * Math.exp(-Math.abs(i - j) / 3) * (Math.floor(i / 4) === Math.floor(j / 4) ? 1 : 0.6)) * 1000) / 1000)));

function heatmapNotebook(): string {
  const payload = { rows: modules, columns: modules, values, kind: 'linear', debiased: false, modelA: 'P-T', modelB: 'RI-T', n: 500, title: 'CKA: P-T vs RI-T (16 modules)' };
  return JSON.stringify(
    {
      cells: [
        {
          cell_type: 'code',
          execution_count: 1,
          metadata: {},
          outputs: [{ output_type: 'display_data', metadata: {}, data: { 'application/vnd.transferlab.cka+json': payload, 'text/plain': ['CKA 16×16'] } }],
          source: ['// a saved heatmap\n', 'display(heat);'],
        },
      ],
      metadata: { format_version: 1, kernel: { display_name: 'TransferLab (TypeScript)', language: 'typescript', name: 'transferlab' } },
    },
    null,
    2,
  );
}

/** What the test measures of the drawn chart, inside the output webview. */
interface Drawn {
  readonly values: number;
  readonly inks: Record<string, number>;
  readonly chartWidth: number;
  readonly viewWidth: number;
  readonly scrolls: boolean;
  readonly legend: readonly string[];
  readonly outside: readonly string[];
  readonly fontSize: number;
  /** Fill of the first module label (the theme's foreground). */
  readonly labelFill: string;
}

describe('legible charts in code-server', () => {
  let server: CodeServer | undefined;
  let wb: Workbench | undefined;

  /** code-server in `theme` with the heatmap notebook open. */
  async function open(theme: string): Promise<Workbench> {
    const workspace = workspaceCopy('workspace');
    writeFileSync(path.join(workspace, 'heatmap.tsnb'), heatmapNotebook());
    server = await CodeServer.start({ name: 'charts', workspace, settings: { 'workbench.colorTheme': theme } });
    wb = await Workbench.open(server);
    await wb.waitReady();
    await wb.openNotebook('heatmap.tsnb');
    return wb;
  }

  async function close(): Promise<void> {
    await wb?.close();
    await server?.stop();
    wb = undefined;
    server = undefined;
  }

  after(close);

  /** Waits for the heatmap to be drawn at about `width` px (it redraws when its container changes) and measures it. */
  async function measure(wb: Workbench): Promise<Drawn> {
    const frame = await wb.outputFrame();
    await frame.locator('.tl-view svg .cell-values').first().waitFor({ timeout: 30_000 });
    // a resize redraws after a short debounce: wait until the drawing is stable
    let last = '';
    let drawn: Drawn | undefined;
    await waitFor('a stable drawing', async () => {
      await new Promise((r) => setTimeout(r, 600));
      drawn = await frame.locator('.tl-view').first().evaluate((element): Drawn => {
        // DOM types by hand: the tests' TypeScript has no DOM library. No named functions in here:
        // the bundler would wrap them in a helper the page does not have.
        interface Box { left: number; right: number; width: number }
        interface El {
          getBoundingClientRect(): Box;
          getAttribute(name: string): string | null;
          querySelector(selector: string): El | null;
          querySelectorAll(selector: string): ArrayLike<El>;
          textContent: string | null;
          scrollWidth: number;
          clientWidth: number;
        }
        const view = element as unknown as El;
        const svg = view.querySelector('svg')!;
        const box = view.getBoundingClientRect();
        const texts = Array.from(view.querySelectorAll('.cell-values text'));
        const inks: Record<string, number> = {};
        for (const t of texts) inks[t.getAttribute('fill') ?? 'none'] = (inks[t.getAttribute('fill') ?? 'none'] ?? 0) + 1;
        const legend = Array.from(view.querySelectorAll('.role-legend text')).map((t) => t.textContent ?? '');
        // every text of the chart (labels, titles, legend) lies inside the output's box
        const outside = Array.from(svg.querySelectorAll('text'))
          .filter((t) => {
            const b = t.getBoundingClientRect();
            return b.width > 0 && (b.left < box.left - 1 || b.right > box.right + 1);
          })
          .map((t) => t.textContent ?? '');
        return {
          values: texts.length,
          inks,
          chartWidth: svg.getBoundingClientRect().width,
          viewWidth: box.width,
          scrolls: view.scrollWidth > view.clientWidth + 1,
          legend,
          outside,
          labelFill: view.querySelector('.role-axis-label text')?.getAttribute('fill') ?? '',
          fontSize: texts.length > 0 ? Number.parseFloat((globalThis as unknown as { getComputedStyle(e: El): { fontSize: string } }).getComputedStyle(texts[0]!).fontSize) : 0,
        };
      });
      const key = JSON.stringify(drawn);
      const stable = key === last;
      last = key;
      return stable;
    }, 30_000, 0);
    return drawn!;
  }

  function check(drawn: Drawn, where: string, theme: 'light' | 'dark'): void {
    assert.equal(isLight(drawn.labelFill), theme === 'dark', `${where}: labels in the theme's foreground (${drawn.labelFill})`);
    assert.equal(drawn.values, N * N, `${where}: a value in every cell`);
    assert.ok((drawn.inks['#000000'] ?? 0) > 0 && (drawn.inks['#ffffff'] ?? 0) > 0, `${where}: black on light cells, white on dark ones (${JSON.stringify(drawn.inks)})`);
    assert.ok(drawn.fontSize >= 9, `${where}: values at ${drawn.fontSize} px`);
    for (const tick of ['0.0', '0.2', '0.4', '0.6', '0.8', '1.0']) assert.ok(drawn.legend.includes(tick), `${where}: legend label ${tick} among ${JSON.stringify(drawn.legend)}`);
    assert.ok(drawn.chartWidth <= drawn.viewWidth + 1, `${where}: the chart (${drawn.chartWidth} px) fits the output (${drawn.viewWidth} px)`);
    assert.equal(drawn.scrolls, false, `${where}: no horizontal scrolling`);
    assert.deepEqual(drawn.outside, [], `${where}: no text cut off at the output's edges`);
  }

  async function shoot(wb: Workbench, name: string): Promise<void> {
    const file = await wb.screenshot(name);
    const frame = await wb.outputFrame();
    await frame.locator('.tl-view').first().screenshot({ path: path.join(path.dirname(file), `${name}-output.png`) });
  }

  it('draws a 16×16 heatmap with readable values at normal and narrow widths, light and dark', async () => {
    const widths: Record<string, number> = {};
    for (const theme of ['light', 'dark'] as const) {
      const wb = await open(theme === 'dark' ? 'Default Dark Modern' : 'Default Light Modern');
      assert.equal(await wb.page.locator('.monaco-workbench.vs-dark').count(), theme === 'dark' ? 1 : 0, `VS Code in its ${theme} theme`);
      await wb.page.setViewportSize({ width: 1400, height: 1000 });
      const normal = await measure(wb);
      check(normal, `${theme}, normal width`, theme);
      await shoot(wb, `charts-${theme}-normal`);
      // narrow: a small window with the side bar open leaves the notebook's outputs about 400 px
      await wb.page.setViewportSize({ width: 820, height: 1000 });
      const narrow = await measure(wb);
      check(narrow, `${theme}, narrow width`, theme);
      assert.ok(narrow.viewWidth < normal.viewWidth - 200, `${theme}: the narrow editor is narrower (${narrow.viewWidth} vs ${normal.viewWidth} px)`);
      await shoot(wb, `charts-${theme}-narrow`);
      widths[`${theme} normal`] = Math.round(normal.chartWidth);
      widths[`${theme} narrow`] = Math.round(narrow.chartWidth);
      await close();
    }
    console.log(`16×16 heatmap widths (px): ${JSON.stringify(widths)}`);
  });
});
