/**
 * The built renderer bundles in a real Chromium page that looks like VS Code's notebook webview
 * (fake RendererContext, VS Code theme classes and CSS variables, a CSP without 'unsafe-eval').
 * Needs the Debian package `chromium`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import type { BrowserContext, Page } from 'playwright-core';
import { Mime } from '../../kernel/protocol/mime';
import { dispose, launchChromium, openRendererPage, render, requireBundle, type RendererPage } from './browser';

let browser: BrowserContext;
let close: () => Promise<void>;
let light: RendererPage;

before(async () => {
  for (const b of ['cka', 'interpolation', 'images', 'training', 'vegalite']) requireBundle(b);
  ({ browser, close } = await launchChromium());
  light = await openRendererPage(browser, 'vscode-light');
});

after(async () => {
  // Nothing in any test may have needed the network or broken the CSP.
  assert.deepEqual(light.refused, []);
  assert.deepEqual(await light.violations(), []);
  await close();
});

const names = (n: number, prefix = 'layer'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);
function cka(n: number, m = n): Record<string, unknown> {
  return {
    rows: names(n),
    columns: names(m),
    values: names(n).map((_, i) => names(m).map((_, j) => Math.exp(-Math.abs(i - j) / 6))),
    kind: 'linear',
    debiased: false,
    modelA: 'scratch',
    modelB: 'pretrained',
    n: 500,
  };
}

function png(width: number, height: number, shade: number): string {
  const p = new PNG({ width, height });
  for (let i = 0; i < width * height; i++) p.data.set([shade, (i * 17) % 256, 255 - shade, 255], i * 4);
  return PNG.sync.write(p).toString('base64');
}

/** Texts of the SVG text elements inside an output. */
function svgTexts(page: Page, id: string): Promise<string[]> {
  return page.evaluate((i) => {
    const el = (window as unknown as { tlElement: (id: string) => HTMLElement }).tlElement(i);
    return Array.from(el.querySelectorAll('svg text')).map((t) => t.textContent ?? '');
  }, id);
}

test('cka: a heatmap with module names on both axes and a 0..1 legend', async () => {
  const r = await render(light.page, 'cka', Mime.cka, cka(4, 3), 'cka-small');
  assert.equal(r.error, null);
  assert.equal(r.svg, 1);
  const texts = await svgTexts(light.page, 'cka-small');
  for (const t of ['layer1', 'layer4', 'CKA', 'scratch module', 'pretrained module', 'linear CKA', '0.0', '1.0']) {
    assert.ok(texts.includes(t), `${t} not among ${JSON.stringify(texts)}`);
  }
});

test('cka: the tooltip names the cell under the pointer and its value', async () => {
  await render(light.page, 'cka', Mime.cka, cka(4, 3), 'cka-tip');
  const box = await light.page.evaluate(() => {
    const el = (window as unknown as { tlElement: (id: string) => HTMLElement }).tlElement('cka-tip');
    const paths = Array.from(el.querySelectorAll('svg .mark-path path'));
    const rects = paths.map((p) => p.getBoundingClientRect());
    const left = Math.min(...rects.map((b) => b.left));
    const top = Math.min(...rects.map((b) => b.top));
    const right = Math.max(...rects.map((b) => b.right));
    const bottom = Math.max(...rects.map((b) => b.bottom));
    return { left, top, width: right - left, height: bottom - top };
  });
  // row 2 (layer3), column 1 (layer2): value exp(-1/6)
  await light.page.mouse.move(box.left + (1.5 * box.width) / 3, box.top + (2.5 * box.height) / 4);
  const tip = await light.page.evaluate(() => {
    const el = (window as unknown as { tlElement: (id: string) => HTMLElement }).tlElement('cka-tip');
    const t = el.querySelector<HTMLElement>('.tl-tooltip');
    return t === null ? null : { text: t.innerText, display: t.style.display };
  });
  assert.ok(tip !== null);
  assert.equal(tip.display, 'block');
  assert.equal(tip.text, `scratch: layer3\npretrained: layer2\nCKA: ${Math.exp(-1 / 6).toFixed(4)}`);
  await light.page.mouse.move(0, 0);
});

test('cka: a payload with several measures shows a switch; the legend and the tooltip follow it', async () => {
  const base = cka(4, 3) as { values: number[][] };
  const svcca = base.values.map((row) => row.map((v) => v / 2));
  const payload = {
    ...base,
    measures: [
      { measure: 'cka', label: 'Linear CKA (0–1)', values: base.values },
      { measure: 'svcca', label: 'SVCCA, 99% variance (0–1)', values: svcca },
    ],
  };
  const r = await render(light.page, 'cka', Mime.cka, payload, 'cka-measures');
  assert.equal(r.error, null);
  assert.ok((await svgTexts(light.page, 'cka-measures')).includes('Linear CKA (0–1)'));
  const radios = await light.page.evaluate(() => {
    const el = (window as unknown as { tlElement: (id: string) => HTMLElement }).tlElement('cka-measures');
    return Array.from(el.querySelectorAll<HTMLInputElement>('input[type=radio]')).map((i) => `${i.value}:${i.checked}`);
  });
  assert.deepEqual(radios, ['cka:true', 'svcca:false']);
  await light.page.evaluate(() => {
    const el = (window as unknown as { tlElement: (id: string) => HTMLElement }).tlElement('cka-measures');
    el.querySelector<HTMLInputElement>('input[type=radio][value=svcca]')!.click();
  });
  await light.page.waitForFunction(() => {
    const el = (window as unknown as { tlElement: (id: string) => HTMLElement }).tlElement('cka-measures');
    return Array.from(el.querySelectorAll('svg text')).some((t) => t.textContent === 'SVCCA, 99% variance (0–1)');
  });
  const box = await light.page.evaluate(() => {
    const el = (window as unknown as { tlElement: (id: string) => HTMLElement }).tlElement('cka-measures');
    el.scrollIntoView({ block: 'start' });
    const rects = Array.from(el.querySelectorAll('svg .mark-path path')).map((p) => p.getBoundingClientRect());
    const left = Math.min(...rects.map((b) => b.left));
    const top = Math.min(...rects.map((b) => b.top));
    return { left, top, width: Math.max(...rects.map((b) => b.right)) - left, height: Math.max(...rects.map((b) => b.bottom)) - top };
  });
  await light.page.mouse.move(box.left + (1.5 * box.width) / 3, box.top + (2.5 * box.height) / 4);
  const tip = await light.page.evaluate(() => {
    const el = (window as unknown as { tlElement: (id: string) => HTMLElement }).tlElement('cka-measures');
    return el.querySelector<HTMLElement>('.tl-tooltip')?.innerText ?? null;
  });
  assert.equal(tip, `scratch: layer3\npretrained: layer2\nSVCCA: ${(Math.exp(-1 / 6) / 2).toFixed(4)}`);
});

test('cka: with uncertainty, the tooltip adds interval and p-value, and cells not distinguishable from the null carry a ×', async () => {
  const base = cka(4, 3);
  const values = base['values'] as number[][];
  const payload = {
    ...base,
    uncertainty: {
      level: 0.95,
      alpha: 0.05,
      bootstrap: 200,
      permutations: 199,
      lower: values.map((r) => r.map((v) => v - 0.05)),
      upper: values.map((r) => r.map((v) => v + 0.05)),
      pValue: values.map((r, i) => r.map((_, j) => (Math.abs(i - j) >= 2 ? 0.3 : 0.005))),
    },
  };
  const r = await render(light.page, 'cka', Mime.cka, payload, 'cka-unc');
  assert.equal(r.error, null);
  const texts = await svgTexts(light.page, 'cka-unc');
  assert.ok(texts.some((t) => t.includes('× permutation p > 0.05: not distinguishable from the null')), JSON.stringify(texts));
  const box = await light.page.evaluate(() => {
    const el = (window as unknown as { tlElement: (id: string) => HTMLElement }).tlElement('cka-unc');
    // Earlier tests leave their outputs on the page: bring this one on screen before pointing at it.
    el.scrollIntoView({ block: 'start' });
    const marks = el.querySelectorAll('svg .mark-path').length;
    const paths = Array.from(el.querySelectorAll('svg .mark-path path')).filter((p) => p.getAttribute('fill') !== 'none' && p.getAttribute('fill') !== null);
    const rects = paths.map((p) => p.getBoundingClientRect());
    const left = Math.min(...rects.map((b) => b.left));
    const top = Math.min(...rects.map((b) => b.top));
    return { left, top, width: Math.max(...rects.map((b) => b.right)) - left, height: Math.max(...rects.map((b) => b.bottom)) - top, marks };
  });
  assert.equal(box.marks, 3, 'the heatmap and the two strokes of the × layer');
  // row 2 (layer3), column 0 (layer1): |i − j| = 2, p = 0.3, marked
  await light.page.mouse.move(box.left + (0.5 * box.width) / 3, box.top + (2.5 * box.height) / 4);
  const tip = await light.page.evaluate(() => {
    const el = (window as unknown as { tlElement: (id: string) => HTMLElement }).tlElement('cka-unc');
    return el.querySelector<HTMLElement>('.tl-tooltip')?.innerText ?? null;
  });
  const v = Math.exp(-2 / 6);
  assert.equal(tip, `scratch: layer3\npretrained: layer1\nCKA: ${v.toFixed(4)}\n95% interval: [${(v - 0.05).toFixed(4)}, ${(v + 0.05).toFixed(4)}]\np = 0.3000 (199 permutations)\nnot distinguishable from the null (α = 0.05)`);
  await light.page.mouse.move(0, 0);
});

test('cka: a 64×64 heatmap renders within 150 ms', async () => {
  const page = await openRendererPage(browser, 'vscode-dark');
  const payload = cka(64);
  const times: number[] = [];
  for (let k = 0; k < 4; k++) {
    const r = await render(page.page, 'cka', Mime.cka, payload, `big-${k}`);
    assert.equal(r.error, null);
    assert.equal(r.svg, 1);
    times.push(r.ms);
  }
  const [first, ...rest] = times;
  const median = [...rest].sort((a, b) => a - b)[1]!;
  console.log(`64×64 CKA heatmap in Chromium: first render ${first!.toFixed(1)} ms (includes the first run of vega's code), then ${rest.map((t) => t.toFixed(1)).join(', ')} ms; median ${median.toFixed(1)} ms`);
  assert.ok(median <= 150, `median render ${median.toFixed(1)} ms > 150 ms (all: ${times.map((t) => t.toFixed(1)).join(', ')})`);
  assert.deepEqual(await page.violations(), []);
  await page.page.close();
});

test('cka: colours follow the theme (light, dark, high contrast) and a theme change redraws', async () => {
  const fills: Record<string, string[]> = {};
  for (const theme of ['vscode-light', 'vscode-dark', 'vscode-high-contrast'] as const) {
    const page = await openRendererPage(browser, theme);
    await render(page.page, 'cka', Mime.cka, cka(3), 'themed');
    fills[theme] = await page.page.evaluate(() => {
      const el = (window as unknown as { tlElement: (id: string) => HTMLElement }).tlElement('themed');
      const label = Array.from(el.querySelectorAll('svg text')).find((t) => t.textContent === 'layer1')!;
      const cell = Array.from(el.querySelectorAll('svg .mark-path path')).find((p) => /^M0,0h/.test(p.getAttribute('d') ?? ''))!;
      return [label.getAttribute('fill') ?? '', cell.getAttribute('stroke') ?? 'none'];
    });
    if (theme === 'vscode-light') {
      // switch the page to dark as VS Code does: body class and CSS variables
      await page.page.evaluate(() => {
        document.body.className = 'vscode-dark';
        document.body.style.setProperty('--vscode-editor-foreground', '#cccccc');
      });
      await page.page.waitForFunction(() => {
        const el = (window as unknown as { tlElement: (id: string) => HTMLElement }).tlElement('themed');
        const label = Array.from(el.querySelectorAll('svg text')).find((t) => t.textContent === 'layer1');
        return label?.getAttribute('fill') === '#cccccc' && el.querySelectorAll('.tl-view').length === 1;
      });
    }
    await page.page.close();
  }
  assert.deepEqual(fills['vscode-light'], ['#3b3b3b', 'none']);
  assert.deepEqual(fills['vscode-dark'], ['#cccccc', 'none']);
  assert.deepEqual(fills['vscode-high-contrast'], ['#ffffff', '#ffffff']);
});

test('a payload of the wrong shape shows an error naming the field, not a chart', async () => {
  const bad = { ...cka(3), values: [[1, 0, 0], [0, 1], [0, 0, 1]] };
  const r = await render(light.page, 'cka', Mime.cka, bad, 'bad');
  assert.equal(r.svg, 0);
  assert.match(r.error ?? '', /application\/vnd\.transferlab\.cka\+json: values\[1\] has 2 entries but columns has 3 names/);
  const notJson = await render(light.page, 'vegalite', Mime.vegaLite, '{"mark": ', 'not-json');
  assert.match(notJson.error ?? '', /Cannot draw this output: .*JSON/);
});

test('disposeOutputItem finalizes the view and removes it; dispose without id clears all', async () => {
  await render(light.page, 'cka', Mime.cka, cka(3), 'gone');
  const after1 = await dispose(light.page, 'cka', 'gone');
  assert.deepEqual([after1.svg, after1.views], [0, 0]);
  const before = await light.page.evaluate(async () => {
    const api = await (window as unknown as { tlApi: (b: string) => Promise<{ viewCount: number }> }).tlApi('cka');
    return api.viewCount;
  });
  assert.ok(before >= 1);
  await dispose(light.page, 'cka');
  const count = await light.page.evaluate(async () => {
    const api = await (window as unknown as { tlApi: (b: string) => Promise<{ viewCount: number }> }).tlApi('cka');
    return [api.viewCount, document.querySelectorAll('#outputs .tl-view').length];
  });
  // only the cka views are gone; the other renderers' outputs are theirs to dispose
  assert.equal(count[0], 0);
});

test('interpolation: loss and accuracy panels, one curve per pair, barriers labelled', async () => {
  const lambdas = [0, 0.25, 0.5, 0.75, 1];
  const payload = {
    title: 'scratch ↔ pretrained',
    pairs: [
      { label: 'P–P', lambdas, loss: [0.3, 0.32, 0.35, 0.31, 0.29], accuracy: [0.9, 0.9, 0.89, 0.9, 0.91], barrier: 0.055, barrierLambda: 0.5 },
      { label: 'RI–RI', lambdas, loss: [0.4, 1.1, 1.9, 1.2, 0.45], accuracy: [0.85, 0.5, 0.2, 0.5, 0.84], barrier: 1.475, barrierLambda: 0.5 },
    ],
  };
  const r = await render(light.page, 'interpolation', Mime.interpolation, payload, 'interp');
  assert.equal(r.error, null);
  assert.equal(r.svg, 1);
  const texts = await svgTexts(light.page, 'interp');
  for (const t of ['scratch ↔ pretrained', 'loss', 'accuracy', 'P–P: barrier 0.055', 'RI–RI: barrier 1.48', 'λ']) {
    assert.ok(texts.includes(t), `${t} not among ${JSON.stringify(texts)}`);
  }
  const noAcc = { pairs: [{ ...payload.pairs[0]!, accuracy: [] }] };
  await render(light.page, 'interpolation', Mime.interpolation, noAcc, 'interp-noacc');
  const texts2 = await svgTexts(light.page, 'interp-noacc');
  assert.ok(texts2.includes('loss') && !texts2.includes('accuracy'), JSON.stringify(texts2));
});

test('images: one labelled row per variant, PNGs decoded at their size', async () => {
  const payload = {
    title: 'block shuffling',
    width: 4,
    height: 4,
    rows: [
      { label: 'original', images: [png(4, 4, 0), png(4, 4, 80), png(4, 4, 160)] },
      { label: 'block 2', images: [png(4, 4, 30), png(4, 4, 90), png(4, 4, 200)] },
    ],
  };
  const r = await render(light.page, 'images', Mime.images, payload, 'imgs');
  assert.equal(r.error, null);
  assert.deepEqual(r.images, Array(6).fill([4, 4, true]));
  assert.match(r.text, /block shuffling.*original.*block 2/s);
  const shown = await light.page.evaluate(() => {
    const el = (window as unknown as { tlElement: (id: string) => HTMLElement }).tlElement('imgs');
    const img = el.querySelector('img')!;
    return [img.width, img.height, getComputedStyle(img).imageRendering];
  });
  assert.deepEqual(shown, [32, 32, 'pixelated']);
  const bad = await render(light.page, 'images', Mime.images, { ...payload, rows: [{ label: 'x', images: ['<script>'] }] }, 'imgs-bad');
  assert.match(bad.error ?? '', /rows\[0\]\.images\[0\] is not base64/);
});

test('training: live updates redraw the same output in place', async () => {
  const point = (step: number): Record<string, number> => ({ epoch: Math.floor(step / 2), step, loss: 2 / (step + 1), accuracy: 1 - 1 / (step + 2), examplesPerSecond: 250 });
  const payload = (steps: number, done: boolean): unknown => ({
    title: 'fine-tuning',
    runs: [
      { label: 'pretrained', points: Array.from({ length: steps }, (_, i) => point(i + 1)), done },
      { label: 'scratch', points: Array.from({ length: steps }, (_, i) => ({ ...point(i + 1), loss: 3 / (i + 2) })), done },
    ],
  });
  const first = await render(light.page, 'training', Mime.training, payload(2, false), 'train');
  assert.equal(first.error, null);
  assert.equal(first.svg, 1);
  assert.match(first.text, /pretrained: epoch 1, step 2, loss 0\.6667, accuracy 0\.7500, 250 ex\/s \(running\)/);
  // Several updates in a row, as update_display_data sends them; the last one wins.
  const updates = [3, 4, 5].map((n) => render(light.page, 'training', Mime.training, payload(n, n === 5), 'train'));
  const last = (await Promise.all(updates))[2]!;
  assert.equal(last.views, 1);
  assert.equal(last.svg, 1);
  assert.match(last.text, /pretrained: epoch 2, step 5, loss 0\.3333, accuracy 0\.8571, 250 ex\/s \(done\)/);
  const texts = await svgTexts(light.page, 'train');
  assert.ok(texts.includes('loss') && texts.includes('accuracy') && texts.includes('scratch'), JSON.stringify(texts));
});

test('vegalite: a plain spec is drawn, its own config wins over the theme', async () => {
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    data: { values: [{ a: 'x', b: 3 }, { a: 'y', b: 5 }, { a: 'z', b: 1 }] },
    mark: 'bar',
    encoding: { x: { field: 'a', type: 'nominal' }, y: { field: 'b', type: 'quantitative' }, tooltip: [{ field: 'b', format: '.1f' }] },
    transform: [{ calculate: 'datum.b * 2', as: 'b2' }, { filter: 'datum.b2 > 1' }],
    config: { axis: { labelColor: '#ff0000' } },
  };
  const r = await render(light.page, 'vegalite', Mime.vegaLite, spec, 'vl');
  assert.equal(r.error, null);
  assert.equal(r.svg, 1);
  const fills = await light.page.evaluate(() => {
    const el = (window as unknown as { tlElement: (id: string) => HTMLElement }).tlElement('vl');
    return {
      bars: el.querySelectorAll('svg .mark-rect path').length,
      label: Array.from(el.querySelectorAll('svg text')).find((t) => t.textContent === 'y')?.getAttribute('fill'),
    };
  });
  assert.deepEqual(fills, { bars: 3, label: '#ff0000' });
  const notSpec = await render(light.page, 'vegalite', Mime.vegaLite, { data: [] }, 'vl-bad');
  assert.match(notSpec.error ?? '', /not a vega-lite spec/);
});
