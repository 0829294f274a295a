/**
 * One figure everywhere: the chart the kernel puts in a result's MIME bundle (drawn by Jupyter) and
 * the chart the renderers draw (VS Code, the HTML report) come from the same builder in
 * kernel/protocol/charts, and differ only in the theme's config.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import { CkaResult } from '../../kernel/analysis/cka';
import { InterpolationResult } from '../../kernel/analysis/interpolate';
import { trainingBundle } from '../../kernel/analysis/progress';
import { ckaSpec, interpolationSpec, lightTheme, PALETTES, trainingSpec, vegaConfig, type Theme } from '../../kernel/protocol/charts';
import { HoverSignal, LEVELS, cellUncertaintyLines } from '../../kernel/protocol/charts/cka';
import { barrierIntervalBar, barrierLabel } from '../../kernel/protocol/charts/interpolation';
import { expressionInterpreter } from 'vega-interpreter';
import { Mime, type TrainingPayload } from '../../kernel/protocol/mime';

const root = path.resolve(import.meta.dirname, '../..');

/** VS Code's dark theme as the renderers read it (same font size as the kernel's light theme). */
const dark: Theme = {
  kind: 'dark',
  foreground: '#cccccc',
  mutedForeground: '#9d9d9d',
  background: '#1e1e1e',
  gridColor: 'rgba(255,255,255,0.12)',
  borderColor: '#454545',
  errorForeground: '#f48771',
  fontFamily: 'sans-serif',
  fontSize: 12,
  palette: PALETTES.dark,
  scheme: 'viridis',
};

const display = (r: object): Record<string, unknown> => (r as Record<symbol, () => Record<string, unknown>>)[Symbol.for('Jupyter.display')]!.call(r);
const withoutConfig = (spec: unknown): Record<string, unknown> => {
  const { config: _config, ...rest } = JSON.parse(JSON.stringify(spec)) as Record<string, unknown>;
  return rest;
};
const json = (x: unknown): unknown => JSON.parse(JSON.stringify(x));

/** Asserts that the renderer draws `kind` with the shared builder `name`, and has no spec of its own. */
function assertRendererUses(kind: string, name: string): void {
  const source = readFileSync(path.join(root, 'renderers', kind, 'render.ts'), 'utf8');
  assert.match(source, new RegExp(`import \\{[^}]*\\b${name}\\b[^}]*\\} from '\\.\\./\\.\\./kernel/protocol/charts/${kind}';`), `renderers/${kind}/render.ts imports ${name}`);
  assert.match(source, new RegExp(`\\b${name}\\(payload, theme[,)]`), `renderers/${kind}/render.ts builds the spec from the payload and the theme`);
  assert.equal(existsSync(path.join(root, 'renderers', kind, 'spec.ts')), false, `renderers/${kind} keeps no spec builder of its own`);
}

test('cka: the kernel puts the renderer\'s Vega heatmap under the vega MIME type, in the light theme', async () => {
  const result = new CkaResult({
    rows: ['conv1', 'conv1', 'fc'],
    columns: ['conv1', 'fc'],
    values: [[0.98, 0.2], [0.5, 0.4], [0.1, 0.91]],
    kind: 'linear',
    debiased: false,
    estimator: 'full',
    n: 90,
    modelA: 'P-T',
    modelB: 'RI-T',
  });
  const bundle = display(result);
  const payload = result.toPayload();
  const kernel = bundle[Mime.vega];
  assert.deepEqual(json(kernel), json(ckaSpec(payload, lightTheme).spec));
  assert.deepEqual(withoutConfig(kernel), withoutConfig(ckaSpec(payload, dark).spec), 'VS Code draws the same figure, in its own theme');
  assert.notDeepEqual(json(kernel), json(ckaSpec(payload, dark).spec), 'the theme is in the config');
  assertRendererUses('cka', 'ckaSpec');

  // A valid Vega spec: drawn headless, with the module names (a repeated one made unique) and
  // the white background of the light theme.
  const view = new vega.View(vega.parse(kernel as vega.Spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  for (const text of ['>conv1 #2<', '>P-T module<', '>RI-T module<', '>CKA<']) assert.ok(svg.includes(text), text);
  assert.match(svg, /fill="#ffffff"/);
});

/** Items of the marks named `names` in a view's scenegraph, by name. */
function itemsByMark(view: vega.View, names: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  type Node = { name?: string; items?: Node[] };
  const walk = (node: Node): void => {
    if (node.name !== undefined && names.includes(node.name)) counts[node.name] = node.items?.length ?? 0;
    node.items?.forEach(walk);
  };
  walk((view.scenegraph() as unknown as { root: Node }).root);
  return counts;
}

/** Draws `spec` headless, as Jupyter's vega-embed does (compiled expressions) or as VS Code's webview (interpreter). */
async function headless(spec: unknown, interpreter: boolean): Promise<vega.View> {
  const runtime = vega.parse(spec as vega.Spec, undefined, interpreter ? { ast: true } : undefined);
  const view = new vega.View(runtime, { renderer: 'none', ...(interpreter ? { expr: expressionInterpreter } : {}) } as vega.ViewOptions);
  await view.runAsync();
  return view;
}

/** Moves the spec's pointer to (x, y), relative to the matrix's top-left corner, as a `mousemove` there does. */
async function pointAt(view: vega.View, x: number, y: number): Promise<void> {
  view.signal(HoverSignal.pointer, [x, y]);
  await view.runAsync();
}

test('cka: in Jupyter, hovering a cell of the heatmap shows its row, column and value (3 decimals, n/a for NaN)', async () => {
  const result = new CkaResult({
    rows: ['conv1', 'conv1', 'fc'],
    columns: ['conv1', 'fc'],
    values: [[0.98765, 0.2], [0.5, Number.NaN], [0.1, 0.91]],
    kind: 'linear',
    debiased: false,
    estimator: 'full',
    n: 90,
    modelA: 'P-T',
    modelB: 'RI-T',
  });
  // What Jupyter gets: the bundle's JSON (NaN arrives as null).
  const kernel = json(display(result)[Mime.vega]) as { signals: { name: string; on?: { events: string; update: string }[] }[] };
  const pointer = kernel.signals.find((s) => s.name === HoverSignal.pointer);
  assert.deepEqual(pointer?.on, [
    { events: 'mousemove', update: '[x(), y()]' },
    { events: 'mouseout', update: 'null' },
  ], 'the pointer follows the mouse over the view, in the coordinates of the matrix, and leaves with it');
  const step = ckaSpec(result.toPayload(), lightTheme).layout.step;
  for (const interpreter of [false, true]) {
    const view = await headless(kernel, interpreter);
    assert.equal(view.signal(HoverSignal.text), '', 'nothing hovered, nothing shown');
    await pointAt(view, 0.5 * step, 0.5 * step);
    assert.deepEqual(view.signal(HoverSignal.cell), [0, 0]);
    assert.equal(view.signal(HoverSignal.text), 'P-T: conv1, RI-T: conv1, CKA: 0.988');
    await pointAt(view, 0.2 * step, 1.9 * step);
    assert.equal(view.signal(HoverSignal.text), 'P-T: conv1 #2, RI-T: conv1, CKA: 0.500');
    await pointAt(view, 1.99 * step, 2.01 * step);
    assert.equal(view.signal(HoverSignal.text), 'P-T: fc, RI-T: fc, CKA: 0.910');
    await pointAt(view, 1.5 * step, 1.5 * step);
    const svg = await view.toSVG();
    assert.ok(svg.includes('>P-T: conv1 #2, RI-T: fc, CKA: n/a</text>'), 'the drawn line names the cell; a NaN cell reads n/a');
    for (const [x, y] of [[2 * step + 1, step], [step, 3 * step + 1], [-1, step], [step, -1]] as const) {
      await pointAt(view, x, y);
      assert.equal(view.signal(HoverSignal.cell), null, `(${x}, ${y}) is outside the matrix`);
      assert.equal(view.signal(HoverSignal.text), '');
    }
    view.signal(HoverSignal.pointer, null);
    await view.runAsync();
    assert.ok(!(await view.toSVG()).includes('>P-T: '), 'the mouse gone, the line is empty');
    view.finalize();
  }
});

test('cka: the hover adds two items whatever the size, and the heatmap stays one path per colour level', async () => {
  const n = 64;
  const names = Array.from({ length: n }, (_, i) => `layer${i + 1}`);
  // 4,096 distinct values: as many levels as there are.
  const values = names.map((_, i) => names.map((_, j) => ((i * n + j) * 7919 % 4096) / 4095));
  const { spec, layout } = ckaSpec({ rows: names, columns: names, values, kind: 'linear', debiased: false }, lightTheme);
  const view = await headless(json(spec), false);
  await pointAt(view, 10.5 * layout.step, 3.5 * layout.step);
  assert.equal(view.signal(HoverSignal.text), `A: layer4, B: layer11, CKA: ${values[3]![10]!.toFixed(3)}`);
  const items = itemsByMark(view, ['heatmap', 'hover-cell', 'hover-text']);
  view.finalize();
  assert.equal(items['hover-cell'], 1);
  assert.equal(items['hover-text'], 1);
  assert.ok(items['heatmap']! > 200 && items['heatmap']! <= LEVELS + 1, `${items['heatmap']} heatmap items: one per colour level, not one per cell`);
  assert.ok(items['heatmap']! + items['hover-cell']! + items['hover-text']! < (n * n) / 10);
});

test('cka: VS Code\'s renderer turns the spec\'s hover off and keeps the figure', async () => {
  const payload = { rows: ['a', 'b'], columns: ['c'], values: [[0.3], [Number.NaN]], kind: 'rbf' as const, debiased: true, modelA: 'A', modelB: 'B' };
  const withHover = json(ckaSpec(payload, dark).spec) as Record<string, unknown>;
  const without = json(ckaSpec(payload, dark, { hover: false }).spec) as Record<string, unknown>;
  assert.equal(without['signals'], undefined);
  assert.deepEqual((without['marks'] as { name: string }[]).map((m) => m.name), ['heatmap']);
  assert.deepEqual((withHover['marks'] as { name: string }[]).map((m) => m.name), ['heatmap', 'hover-cell', 'hover-text']);
  for (const key of ['data', 'scales', 'axes', 'legends', 'title', 'width', 'height']) assert.deepEqual(without[key], withHover[key], key);
  assert.deepEqual(without['config'], json(vegaConfig(dark)));
  const source = readFileSync(path.join(root, 'renderers', 'cka', 'render.ts'), 'utf8');
  assert.match(source, /ckaSpec\(payload, theme, \{ hover: false \}\)/, 'the renderer draws its own tooltip instead');
  const view = await headless(without, true);
  assert.ok(!(await view.toSVG()).includes('>A: '));
  view.finalize();
});

test('interpolation: the kernel\'s vega-lite fallback is the renderer\'s chart in the light theme', () => {
  const curve = { lambdas: [0, 0.5, 1], loss: [0.3, 1.1, 0.4], accuracy: [0.9, 0.5, 0.88], barrier: 0.75, barrierLambda: 0.5, accuracyBarrier: 0.39, recalibrated: false };
  const result = new InterpolationResult([{ label: 'A/B', ...curve }, { label: 'B/A', ...curve, accuracy: [] }], 'two pairs');
  const bundle = display(result);
  const payload = result.toPayload();
  const kernel = bundle[Mime.vegaLite];
  assert.deepEqual(json(kernel), json(interpolationSpec(payload, lightTheme)));
  assert.deepEqual(withoutConfig(kernel), withoutConfig(interpolationSpec(payload, dark)));
  assert.equal((kernel as { config: { background: string } }).config.background, '#ffffff');
  assert.equal((kernel as { data: { values: unknown[] } }).data.values.length, 9, 'one row per pair, λ and metric reported');
  assertRendererUses('interpolation', 'interpolationSpec');
  vl.compile(kernel as vl.TopLevelSpec);
});

test('training: the kernel\'s vega-lite fallback is the renderer\'s chart in the light theme', () => {
  const payload: TrainingPayload = {
    title: 'P-T vs RI-T',
    runs: [
      { label: 'P-T', points: [{ epoch: 0.5, step: 10, loss: 1.2, accuracy: 0.6 }, { epoch: 1, step: 20, loss: 0.8, accuracy: 0.7, valLoss: 0.9, valAccuracy: 0.65 }], done: true },
      { label: 'RI-T', points: [{ epoch: 0.5, step: 10, loss: 2.1 }], done: false },
    ],
  };
  const kernel = trainingBundle(payload)[Mime.vegaLite];
  assert.deepEqual(json(kernel), json(trainingSpec(payload, lightTheme)));
  assert.deepEqual(withoutConfig(kernel), withoutConfig(trainingSpec(payload, dark)));
  assertRendererUses('training', 'trainingSpec');
  vl.compile(kernel as vl.TopLevelSpec);
});

test('the kernel\'s light theme paints its background; the renderers\' themes leave it to the page', () => {
  assert.equal(vegaConfig(lightTheme)['background'], '#ffffff');
  assert.equal(vegaConfig(dark)['background'], 'transparent');
  assert.equal(vegaConfig({ ...lightTheme, paintBackground: false })['background'], 'transparent');
});

test('cka with uncertainty: × over the cells with p > alpha (two items), a legend note, interval and p in the hover line; old payloads unchanged', async () => {
  const result = new CkaResult({
    rows: ['conv1', 'fc'],
    columns: ['conv1', 'fc'],
    values: [[0.9, 0.05], [0.2, 0.7]],
    kind: 'linear',
    debiased: false,
    estimator: 'full',
    n: 300,
    modelA: 'P-T',
    modelB: 'RI-T',
    uncertainty: {
      level: 0.95,
      alpha: 0.05,
      bootstrap: 200,
      permutations: 199,
      seed: 0,
      interval: 'percentile',
      lower: [[0.85, 0.01], [0.12, 0.6]],
      upper: [[0.94, 0.09], [0.3, 0.8]],
      pValue: [[0.005, 0.4], [0.01, 0.005]],
      indistinguishable: [[false, true], [false, false]],
      undefinedResamples: 0,
    },
  });
  const payload = result.toPayload();
  const { spec, layout } = ckaSpec(payload, lightTheme);
  const s = json(spec) as { marks: { name: string; encode: { update: { path: { value: string } } } }[]; title: { subtitle: string } };
  assert.deepEqual(s.marks.map((m) => m.name), ['heatmap', 'null-marks-halo', 'null-marks', 'hover-cell', 'hover-text']);
  const step = layout.step;
  const m = Math.round(step * 0.3);
  const d = step - 2 * m;
  assert.equal(s.marks[2]!.encode.update.path.value, `M${step + m},${m}l${d},${d}M${step + m + d},${m}l${-d},${d}`, 'one ×, in row 0, column 1 (p = 0.4)');
  assert.equal(s.title.subtitle, 'P-T vs RI-T, n = 300; 95% bootstrap intervals on hover; × permutation p > 0.05: not distinguishable from the null');
  for (const interpreter of [false, true]) {
    const view = await headless(display(result)[Mime.vega], interpreter);
    await pointAt(view, 1.5 * step, 0.5 * step);
    assert.equal(view.signal(HoverSignal.text), 'P-T: conv1, RI-T: fc, CKA: 0.050 [0.010, 0.090], p = 0.400');
    assert.deepEqual(itemsByMark(view, ['null-marks', 'null-marks-halo']), { 'null-marks': 1, 'null-marks-halo': 1 });
    view.finalize();
  }
  assert.deepEqual(cellUncertaintyLines(payload, 0, 1), ['95% interval: [0.0100, 0.0900]', 'p = 0.4000 (199 permutations)', 'not distinguishable from the null (α = 0.05)']);
  assert.deepEqual(cellUncertaintyLines(payload, 1, 1), ['95% interval: [0.6000, 0.8000]', 'p = 0.0050 (199 permutations)']);
  // A payload without uncertainty (older outputs): no marks, no note, the hover line as before.
  const { uncertainty: _u, ...old } = payload;
  const plain = json(ckaSpec(old, lightTheme).spec) as { marks: { name: string }[]; title: { subtitle: string } };
  assert.deepEqual(plain.marks.map((x) => x.name), ['heatmap', 'hover-cell', 'hover-text']);
  assert.equal(plain.title.subtitle, 'P-T vs RI-T, n = 300');
  assert.deepEqual(cellUncertaintyLines(old, 0, 1), []);
  // p-values only (no bootstrap): marks and p, no interval.
  const pOnly = { ...old, uncertainty: { level: 0.95, alpha: 0.05, bootstrap: 0, permutations: 99, pValue: [[0.01, 0.5], [0.01, 0.01]] } };
  const view = await headless(json(ckaSpec(pOnly, lightTheme).spec), true);
  await pointAt(view, 1.5 * step, 0.5 * step);
  assert.equal(view.signal(HoverSignal.text), 'P-T: conv1, RI-T: fc, CKA: 0.050, p = 0.500');
  view.finalize();
});

test('interpolation with a barrier interval: an error bar and the interval in the label; without, the chart as before', async () => {
  const curve = { lambdas: [0, 0.5, 1], loss: [0.3, 1.1, 0.4], accuracy: [0.9, 0.5, 0.88], barrier: 0.75, barrierLambda: 0.5, accuracyBarrier: 0.39, recalibrated: false };
  const result = new InterpolationResult([{ label: 'A/B', ...curve, barrierInterval: { lower: 0.61, upper: 0.88, level: 0.95, bootstrap: 200 } }, { label: 'B/A', ...curve }]);
  const payload = result.toPayload();
  assert.deepEqual(barrierIntervalBar(payload.pairs[0]!), { lambda: 0.5, low: 1.1 - 0.75 + 0.61, high: 1.1 - 0.75 + 0.88, lower: 0.61, upper: 0.88, interval: '95% bootstrap over examples (200 resamples)' });
  assert.equal(barrierIntervalBar(payload.pairs[1]!), undefined);
  assert.deepEqual(payload.pairs.map(barrierLabel), ['barrier 0.75 [0.61, 0.88]', 'barrier 0.75']);
  const spec = interpolationSpec(payload, lightTheme);
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  assert.ok(svg.includes('>barrier 0.75 [0.61, 0.88]<'), 'the label carries the interval');
  const layers = (s: unknown) => ((s as { hconcat: { layer: { mark: { type: string } }[] }[] }).hconcat[0]!.layer.map((l) => l.mark.type));
  assert.deepEqual(layers(spec), ['line', 'line', 'rule', 'errorbar', 'text']);
  const { barrierInterval: _b, ...plainPair } = payload.pairs[0]!;
  assert.deepEqual(layers(interpolationSpec({ pairs: [plainPair] }, lightTheme)), ['line', 'line', 'rule', 'text']);
});
