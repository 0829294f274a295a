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
import { CkaResult, sideBySide } from '../../kernel/analysis/cka';
import { parseCkaPayload } from '../../renderers/common/payloads';
import { InterpolationResult } from '../../kernel/analysis/interpolate';
import { trainingBundle } from '../../kernel/analysis/progress';
import { cellText, ckaSpec, curvatureSpec, interpolationSpec, isLight, LEGEND_LABEL_LIMIT, lightTheme, MIN_VALUE_CELL, PALETTES, panelLayout, trainingSpec, vegaConfig, wrapLines, type Theme } from '../../kernel/protocol/charts';
import { CurvatureResult, curvatureTable } from '../../kernel/analysis/curvature';
import { HoverSignal, LEVELS, MeasureSignal, cellUncertaintyLines } from '../../kernel/protocol/charts/cka';
import { SimilarityResult } from '../../kernel/analysis/similarity';
import { barrierIntervalBar, barrierLabel, pairLegendLabel } from '../../kernel/protocol/charts/interpolation';
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
  assert.deepEqual((without['marks'] as { name: string }[]).map((m) => m.name), ['heatmap', 'cell-values']);
  assert.deepEqual((withHover['marks'] as { name: string }[]).map((m) => m.name), ['heatmap', 'cell-values', 'hover-cell', 'hover-text']);
  for (const key of ['data', 'scales', 'axes', 'legends', 'title', 'width', 'height']) assert.deepEqual(without[key], withHover[key], key);
  assert.deepEqual(without['config'], json(vegaConfig(dark)));
  const source = readFileSync(path.join(root, 'renderers', 'cka', 'render.ts'), 'utf8');
  assert.match(source, /ckaSpec\(payload, theme, \{ hover: false[,}]/, 'the renderer draws its own tooltip instead');
  const view = await headless(without, true);
  assert.ok(!(await view.toSVG()).includes('>A: '));
  view.finalize();
});

test('cka: a payload with several measures gets a switch; the cells, legend and hover follow it', async () => {
  const result = new SimilarityResult({
    rows: ['conv1', 'fc'],
    columns: ['conv1', 'fc'],
    measures: [
      { measure: 'cka', label: 'Linear CKA (0–1)', values: [[1, 0.2], [0.3, 0.9]] },
      { measure: 'svcca', label: 'SVCCA, 99% variance (0–1)', values: [[0.95, 0.41], [0.5, Number.NaN]] },
      { measure: 'rsa', label: 'RSA, Spearman of correlation RDMs (−1–1)', values: [[1, -0.25], [0.1, 0.7]] },
    ],
    n: 64,
    modelA: 'P-T',
    modelB: 'RI-T',
  });
  const payload = result.toPayload();
  const kernel = json(display(result)[Mime.vega]) as { signals: { name: string; value?: unknown; bind?: { input: string; options: string[]; labels: string[] } }[]; legends: { title: unknown }[] };
  assert.deepEqual(kernel, json(ckaSpec(payload, lightTheme).spec), 'the kernel\'s fallback is the builder\'s spec');
  const measure = kernel.signals.find((x) => x.name === MeasureSignal.measure);
  assert.equal(measure?.value, 'cka', 'the first measure is shown first');
  assert.deepEqual(measure?.bind, { input: 'radio', options: ['cka', 'svcca', 'rsa'], labels: ['Linear CKA (0–1)', 'SVCCA, 99% variance (0–1)', 'RSA, Spearman of correlation RDMs (−1–1)'], name: 'Measure ' });
  assert.deepEqual(kernel.legends[0]!.title, { signal: `${MeasureSignal.labels}[${MeasureSignal.index}]` }, 'the legend names the measure and its range');
  const step = ckaSpec(payload, lightTheme).layout.step;
  for (const interpreter of [false, true]) {
    const view = await headless(kernel, interpreter);
    const shown = () => (view.data('cells') as { m: number }[]).map((c) => c.m);
    assert.ok(shown().length > 0 && shown().every((m) => m === 0), 'only the first measure\'s cells are drawn');
    assert.ok((await view.toSVG()).includes('Linear CKA (0–1)'));
    await pointAt(view, 1.5 * step, 0.5 * step);
    assert.equal(view.signal(HoverSignal.text), 'P-T: conv1, RI-T: fc, CKA: 0.200');
    view.signal(MeasureSignal.measure, 'svcca');
    await view.runAsync();
    assert.ok(shown().length > 0 && shown().every((m) => m === 1), 'the switch draws the chosen measure\'s cells');
    assert.equal(view.signal(HoverSignal.text), 'P-T: conv1, RI-T: fc, SVCCA: 0.410', 'the hover reads the chosen measure');
    await pointAt(view, 1.5 * step, 1.5 * step);
    assert.equal(view.signal(HoverSignal.text), 'P-T: fc, RI-T: fc, SVCCA: n/a');
    view.signal(MeasureSignal.measure, 'rsa');
    await pointAt(view, 1.5 * step, 0.5 * step);
    assert.equal(view.signal(HoverSignal.text), 'P-T: conv1, RI-T: fc, RSA: −0.250', 'a negative RSA is exact on hover (its colour clamps to 0)');
    const svg = await view.toSVG();
    assert.ok(svg.includes('RSA, Spearman of correlation RDMs (−1–1)') && !svg.includes('Linear CKA (0–1)'), 'the legend title follows the switch');
    view.finalize();
  }
  // VS Code: no hover line, the switch stays (the renderer's tooltip reads the index signal).
  const vscode = json(ckaSpec(payload, dark, { hover: false }).spec) as { signals: { name: string }[]; marks: { name: string }[] };
  assert.deepEqual(vscode.signals.map((x) => x.name), [MeasureSignal.measure, MeasureSignal.index, MeasureSignal.labels, MeasureSignal.names]);
  assert.deepEqual(vscode.marks.map((m) => m.name), ['heatmap', 'cell-values']);
  const source = readFileSync(path.join(root, 'renderers', 'cka', 'render.ts'), 'utf8');
  assert.match(source, /view\.signal\(MeasureSignal\.index\)/, 'the renderer\'s tooltip shows the measure the switch picked');
});

test('cka: one measure other than CKA is named without a switch; a CKA payload without measures draws as before', async () => {
  const one = ckaSpec({ rows: ['a'], columns: ['b'], values: [[0.4]], kind: 'linear', debiased: false, measures: [{ measure: 'procrustes', label: 'Procrustes similarity 1 − d²/2 (0–1)', values: [[0.4]] }] }, lightTheme);
  const spec = json(one.spec) as { signals: { name: string; bind?: unknown }[]; title: { text: string } };
  assert.equal(spec.signals.find((x) => x.name === MeasureSignal.measure)?.bind, undefined, 'nothing to switch to');
  const view = await headless(spec, true);
  assert.ok((await view.toSVG()).includes('Procrustes similarity 1 − d²/2 (0–1)'));
  await pointAt(view, 0.5 * one.layout.step, 0.5 * one.layout.step);
  assert.equal(view.signal(HoverSignal.text), 'A: a, B: b, Procrustes: 0.400');
  view.finalize();
  assert.equal(spec.title.text, 'Module similarity');

  const old = { rows: ['a', 'b'], columns: ['c'], values: [[0.3], [0.8]], kind: 'linear' as const, debiased: false };
  for (const hover of [true, false]) {
    const plain = json(ckaSpec(old, dark, { hover }).spec) as { signals?: { name: string }[]; data: object[]; legends: { title: unknown }[]; title: { text: string } };
    assert.ok(!(plain.signals ?? []).some((x) => x.name.startsWith('cka_measure')), 'no measure signals');
    assert.deepEqual(plain.data, json([{ name: 'cells', values: (plain.data[0] as { values: object[] }).values }, { name: 'cell_values', values: (plain.data[1] as { values: object[] }).values }]), 'no filter on the cells');
    assert.ok((plain.data[0] as { values: object[] }).values.every((c) => !('m' in c)));
    assert.equal(plain.legends[0]!.title, 'CKA');
    assert.equal(plain.title.text, 'linear CKA');
    assert.deepEqual(plain, json(ckaSpec({ ...old, measures: [] }, dark, { hover }).spec), 'an empty measures list is no measures');
  }
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

test('interpolation with aligned curves: dashed in the pair\'s colour, with their own barrier; without, the chart has no dash legend', async () => {
  const curve = { lambdas: [0, 0.5, 1], loss: [0.3, 1.1, 0.4], accuracy: [0.9, 0.5, 0.88], barrier: 0.75, barrierLambda: 0.5, accuracyBarrier: 0.39, recalibrated: false };
  const aligned = { loss: [0.3, 0.36, 0.4], accuracy: [0.9, 0.89, 0.88], barrier: 0.01, barrierLambda: 0.5, accuracyBarrier: 0, iterations: 3, converged: true, distanceBefore: 2, distanceAfter: 1 };
  const result = new InterpolationResult([{ label: 'A/B', ...curve, aligned }, { label: 'C/D', ...curve }], 'aligned');
  const payload = result.toPayload();
  assert.deepEqual(payload.pairs[0]!.aligned, { loss: aligned.loss, accuracy: aligned.accuracy, barrier: 0.01, barrierLambda: 0.5 });
  assert.equal(payload.pairs[1]!.aligned, undefined);
  const spec = interpolationSpec(payload, lightTheme) as unknown as { data: { values: { pair: string; weights: string }[] }; hconcat: { layer?: { encoding?: Record<string, unknown>; data?: { values: { label: string }[] } }[]; encoding?: Record<string, unknown> }[] };
  assert.equal(spec.data.values.filter((r) => r.weights === 'aligned').length, 6, 'A/B aligned: loss and accuracy at 3 λ');
  assert.ok(spec.data.values.filter((r) => r.pair === 'C/D').every((r) => r.weights === 'raw'));
  const curves = spec.hconcat[0]!.layer![1]!.encoding!;
  assert.equal((curves['strokeDash'] as { field: string }).field, 'weights');
  assert.equal((curves['color'] as { field: string }).field, 'pair', 'raw and aligned share the pair\'s colour');
  assert.ok(spec.hconcat[1]!.encoding!['strokeDash'], 'the accuracy panel dashes aligned curves too');
  assert.deepEqual(payload.pairs.map(pairLegendLabel), ['A/B: barrier 0.75; aligned 0.01', 'C/D: barrier 0.75'], 'barriers are written in the legend, not on the plot');
  assert.ok(!spec.hconcat[0]!.layer!.some((l) => (l as { mark?: { type?: string } }).mark?.type === 'text'), 'no text on the plot');
  assert.deepEqual(json(display(result)[Mime.vegaLite]), json(spec));
  const view = new vega.View(vega.parse(vl.compile(spec as unknown as vl.TopLevelSpec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  for (const text of ['>A/B: barrier 0.75; aligned 0.01<', '>C/D: barrier 0.75<', '>weights<', '>raw<']) assert.ok(svg.includes(text), text);
  assert.match(display(result)[Mime.plain] as string, /Aligned by weight matching[^\n]*\n.*\n.*\nA\/B +0\.7500 +0\.0100 +0\.50 +0\.0000 +2\.000 → 1\.000/);
  const plain = interpolationSpec({ pairs: [payload.pairs[1]!] }, lightTheme) as unknown as { hconcat: { layer: { encoding?: Record<string, unknown> }[] }[] };
  assert.equal(plain.hconcat[0]!.layer[1]!.encoding!['strokeDash'], undefined);
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

test('curvature: the kernel\'s vega-lite fallback is the builder\'s chart in the light theme; μ only when joined', async () => {
  const module = (name: string, lambda: number, trace: number, se: number) => ({
    module: name, parameters: 10, topEigenvalue: lambda, iterations: 5, relativeChange: 1e-5, converged: true, trace, traceStandardError: se, traceSamples: [trace],
    method: 'exact' as const, step: NaN, seconds: 0.1,
  });
  const init = { n: 50, batchNorm: false, seed: 0, batchSize: 256, maxIterations: 100, tolerance: 1e-4, probes: 4 };
  const pt = new CurvatureResult({ ...init, label: 'P-T', modules: [module('conv1', 0.5, 2, 0.1), module('fc', 3, 9, NaN)] });
  const rit = new CurvatureResult({ ...init, label: 'RI-T', modules: [module('conv1', 0.9, 4, 0.3), module('fc', 7, 20, 2)] });
  const kernel = display(pt)[Mime.vegaLite];
  assert.deepEqual(json(kernel), json(curvatureSpec(pt.rows(), lightTheme, { title: 'Curvature of P-T per module' })));
  assert.deepEqual(withoutConfig(kernel), withoutConfig(curvatureSpec(pt.rows(), dark, { title: 'Curvature of P-T per module' })));
  assert.equal((kernel as { hconcat: unknown[] }).hconcat.length, 2, 'λ_max and trace');
  const criticality = { label: 'init', metric: 'error' as const, modules: [{ module: 'conv1', criticality: 0, rewoundError: 0.1, rewoundLoss: 0.3 }, { module: 'fc', criticality: Infinity, rewoundError: 0.8, rewoundLoss: 2 }] };
  const both = curvatureTable([pt.withCriticality(criticality), rit]).toVegaLite() as { hconcat: { data: { values: Record<string, unknown>[] } }[] };
  assert.equal(both.hconcat.length, 3, 'a μ panel');
  const rows = both.hconcat[2]!.data.values;
  assert.deepEqual(rows.map((r) => [r['label'], r['module'], r['criticality']]), [['P-T', 'conv1', 0], ['P-T', 'fc', null], ['RI-T', 'conv1', null], ['RI-T', 'fc', null]]);
  // The trace's 95% interval; none without a standard error.
  assert.ok(Math.abs((rows[0]!['traceHigh'] as number) - (2 + 1.959963984540054 * 0.1)) < 1e-12);
  assert.deepEqual([rows[1]!['traceLow'], rows[1]!['traceHigh']], [9, 9]);
  const view = new vega.View(vega.parse(vl.compile(both as unknown as vl.TopLevelSpec).spec), { renderer: 'none' });
  await view.runAsync();
  view.finalize();
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
  assert.deepEqual(s.marks.map((m) => m.name), ['heatmap', 'null-marks-halo', 'null-marks', 'cell-values', 'hover-cell', 'hover-text']);
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
  assert.deepEqual(plain.marks.map((x) => x.name), ['heatmap', 'cell-values', 'hover-cell', 'hover-text']);
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
  assert.ok(svg.includes('>A/B: barrier 0.75 [0.61, 0.88]<'), 'the legend entry carries the interval');
  const layers = (s: unknown) => ((s as { hconcat: { layer: { mark: { type: string } }[] }[] }).hconcat[0]!.layer.map((l) => l.mark.type));
  assert.deepEqual(layers(spec), ['line', 'line', 'rule', 'errorbar']);
  const { barrierInterval: _b, ...plainPair } = payload.pairs[0]!;
  assert.deepEqual(layers(interpolationSpec({ pairs: [plainPair] }, lightTheme)), ['line', 'line', 'rule']);
});

/** The width and height of a drawn chart (the root `<svg>`'s attributes). */
function svgSize(svg: string): { width: number; height: number } {
  const m = /^<svg[^>]*\swidth="([\d.]+)"[^>]*\sheight="([\d.]+)"/.exec(svg);
  assert.ok(m !== null, 'an svg with a width and height');
  return { width: Number(m[1]), height: Number(m[2]) };
}

/** A seeded n×n matrix of values in [0, 1] with a bright diagonal. */
function matrix(n: number): number[][] {
  let s = 7;
  const next = () => ((s = (s * 16807) % 2147483647) / 2147483647);
  return Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 0.97 : 0.05 + 0.6 * next())));
}

const modules = (n: number) => Array.from({ length: n }, (_, i) => `block${i + 1}.conv`);

async function drawn(spec: unknown, vegaLite = false): Promise<{ view: vega.View; svg: string }> {
  const compiled = vegaLite ? vl.compile(spec as vl.TopLevelSpec).spec : (spec as vega.Spec);
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  return { view, svg };
}

test('cka: a 3×3 and a 16×16 heatmap both fill a sensible width, with the value printed in each cell', async () => {
  for (const n of [3, 16]) {
    const payload = { rows: modules(n), columns: modules(n), values: matrix(n), kind: 'linear' as const, debiased: false, modelA: 'P-T', modelB: 'RI-T' };
    const { spec, layout } = ckaSpec(payload, lightTheme);
    const side = layout.step * n;
    assert.ok(side >= 240 && side <= 560, `${n}×${n}: the matrix is ${side} px wide`);
    assert.ok(layout.step >= 28, `${n}×${n}: cells of ${layout.step} px read at a glance`);
    const { view, svg } = await drawn(json(spec));
    assert.deepEqual(itemsByMark(view, ['cell-values'])['cell-values'], n * n, 'one value per cell');
    assert.ok(svg.includes(`>${payload.values[0]![1]!.toFixed(2)}<`) && svg.includes('>0.97<'), 'two decimals');
    view.finalize();
  }
  assert.deepEqual([cellText(0.8712, 30), cellText(0.8712, 18), cellText(-0.05, 18), cellText(1, 18), cellText(1, 30)], ['0.87', '.87', '-.05', '1.0', '1.00']);
  // A 64×64 matrix: cells too small for text, so none (and the heatmap stays a few paths).
  const big = ckaSpec({ rows: modules(64), columns: modules(64), values: matrix(64), kind: 'linear', debiased: false }, lightTheme);
  assert.ok(!(json(big.spec) as { marks: { name: string }[] }).marks.some((m) => m.name === 'cell-values'));
});

test('cka: each value is printed in the colour that contrasts with its cell, in the spec\'s scale or a renderer\'s colours', async () => {
  const payload = { rows: ['a', 'b'], columns: ['c', 'd'], values: [[0.02, 0.98], [0.5, Number.NaN]], kind: 'linear' as const, debiased: false };
  for (const theme of [lightTheme, dark]) {
    const { view } = await drawn(json(ckaSpec(payload, theme).spec));
    type Item = { text: string; fill: string };
    const items: Item[] = [];
    const walk = (node: { name?: string; items?: unknown[] }): void => {
      if (node.name === 'cell-values') items.push(...((node.items ?? []) as Item[]));
      else (node.items as { name?: string; items?: unknown[] }[] | undefined)?.forEach(walk);
    };
    walk((view.scenegraph() as unknown as { root: { items: unknown[] } }).root);
    const ink = Object.fromEntries(items.map((i) => [i.text, i.fill]));
    // viridis: dark purple at 0, yellow at 1
    assert.deepEqual(ink, { '0.02': '#ffffff', '0.98': '#000000', '0.50': '#000000' }, 'white on dark cells, black on light ones (viridis at 0.5 is a light teal); nothing on a NaN cell');
    view.finalize();
  }
  const own = json(ckaSpec(payload, lightTheme, { colorOf: (t) => (t > 0.9 ? '#fafafa' : 'rgb(10, 10, 40)') }).spec) as { data: { name: string; values: { text: string; ink: string }[] }[] };
  assert.deepEqual(own.data.find((d) => d.name === 'cell_values')!.values.map((v) => [v.text, v.ink]), [['0.02', '#ffffff'], ['0.98', '#000000'], ['0.50', '#ffffff']]);
  assert.equal(isLight('#fde725'), true);
  assert.equal(isLight('#440154'), false);
  assert.equal(isLight('rgb(250, 250, 250)'), true);
});

test('cka: the colour scale is the whole of [0, 1] with its legend; narrow containers shrink the chart and move the legend below', async () => {
  const payload = { rows: modules(16), columns: modules(16), values: matrix(16), kind: 'linear' as const, debiased: true, modelA: 'P-T₁ (fine-tuned)', modelB: 'RI-T₁ (from scratch)', n: 512 };
  for (const width of [900, 640, 420, 320]) {
    const { spec, layout } = ckaSpec(payload, lightTheme, { width });
    const s = json(spec) as { scales: { name: string; domain: unknown }[]; legends: { values: number[]; orient?: string }[] };
    assert.deepEqual(s.scales.find((x) => x.name === 'color')!.domain, [0, 1]);
    assert.deepEqual(s.legends[0]!.values, [0, 0.2, 0.4, 0.6, 0.8, 1]);
    assert.equal(s.legends[0]!.orient, width < 560 ? 'bottom' : undefined, `${width} px: legend ${width < 560 ? 'below' : 'beside'}`);
    const { view, svg } = await drawn(s);
    view.finalize();
    for (const tick of ['>0.0<', '>0.4<', '>1.0<']) assert.ok(svg.includes(tick), `${width} px: legend label ${tick}`);
    const size = svgSize(svg);
    assert.ok(size.width <= width, `${width} px container: the chart is ${size.width} px wide`);
    if (width >= 420) assert.ok(layout.step >= MIN_VALUE_CELL && itemsByMark(view, ['cell-values'])['cell-values'] === 256, `${width} px: values still printed (cells of ${layout.step} px)`);
  }
});

test('training: solid train, dashed validation; no validation entry for runs without it; long names cut in the legend, whole in tooltips', async () => {
  const long = 'fine-tuned from the checkpoint after 12 epochs on CIFAR-10, seed 3, lr 0.01';
  const trainOnly: TrainingPayload = { runs: [{ label: long, points: [{ epoch: 1, step: 10, loss: 1.2 }, { epoch: 2, step: 20, loss: 0.9 }], done: true }] };
  const spec = trainingSpec(trainOnly, lightTheme) as unknown as { hconcat: { encoding: Record<string, { legend?: { labelLimit?: number } }> }[] };
  assert.equal(spec.hconcat[0]!.encoding['strokeDash'], undefined, 'no dash legend');
  assert.equal(spec.hconcat[0]!.encoding['color']!.legend!.labelLimit, LEGEND_LABEL_LIMIT);
  const { view, svg } = await drawn(spec, true);
  view.finalize();
  assert.ok(!svg.includes('validation') && !svg.includes('>split<'), 'no "validation" entry');
  assert.ok(!svg.includes(`>${long}<`) && svg.includes('…'), 'the long name is cut with an ellipsis in the legend');
  assert.ok(JSON.stringify(spec).includes(`"field":"run","type":"nominal"}`), 'the tooltip names the run in full');
  const both: TrainingPayload = { runs: [{ label: 'P-T', points: [{ epoch: 1, step: 10, loss: 1.2, valLoss: 1.3 }], done: true }] };
  const dashed = trainingSpec(both, lightTheme) as unknown as { hconcat: { encoding: { strokeDash: { scale: { domain: string[]; range: number[][] } } } }[] };
  assert.deepEqual(dashed.hconcat[0]!.encoding.strokeDash.scale, { domain: ['train', 'validation'], range: [[1, 0], [5, 3]] });
});

test('training and interpolation charts fit their container: panels shrink, then stack, legends go below', async () => {
  const training: TrainingPayload = {
    title: 'P-T vs RI-T',
    runs: ['P-T', 'RI-T'].map((label) => ({ label, points: [1, 2, 3].map((e) => ({ epoch: e, step: 10 * e, loss: 1 / e, accuracy: 0.5 + e / 10, valLoss: 1.1 / e, valAccuracy: 0.45 + e / 10 })), done: true })),
  };
  const curve = { lambdas: [0, 0.5, 1], loss: [0.3, 1.1, 0.4], accuracy: [0.9, 0.5, 0.88], barrier: 0.75, barrierLambda: 0.5, accuracyBarrier: 0.39, recalibrated: false };
  const interpolation = new InterpolationResult([{ label: 'P-T₁ – P-T₂', ...curve }, { label: 'RI-T₁ – RI-T₂', ...curve, barrier: 0.74 }]).toPayload();
  for (const width of [1000, 700, 420]) {
    for (const [name, spec] of [['training', trainingSpec(training, lightTheme, { width })], ['interpolation', interpolationSpec(interpolation, lightTheme, { width })]] as const) {
      const { view, svg } = await drawn(spec, true);
      view.finalize();
      assert.ok(svgSize(svg).width <= width, `${name} at ${width} px: ${svgSize(svg).width} px wide`);
      assert.equal('vconcat' in spec, width < 600, `${name} at ${width} px: ${width < 600 ? 'stacked' : 'side by side'}`);
    }
  }
  assert.deepEqual(panelLayout(2, 420), { panelWidth: 320, stacked: true, legendBelow: true });
  assert.deepEqual(panelLayout(2, 800), { panelWidth: 230, stacked: false, legendBelow: false });
  assert.deepEqual(wrapLines(['barrier: highest loss above the straight line between the end losses'], 300), ['barrier: highest loss above the', 'straight line between the end', 'losses']);
});

test('cka: several heatmaps side by side share one 0..1 colour scale and one legend, and fit the width', async () => {
  const a = new CkaResult({ rows: modules(8), columns: modules(8), values: matrix(8), kind: 'linear', debiased: false, estimator: 'full', n: 100, modelA: 'P-T₁', modelB: 'P-T₂' });
  const b = new CkaResult({ rows: modules(3), columns: modules(3), values: [[1, 0.2, 0.1], [0.2, 1, 0.3], [0.1, 0.3, 1]], kind: 'linear', debiased: false, estimator: 'full', n: 100, modelA: 'RI-T₁', modelB: 'RI-T₂' });
  const panels = sideBySide([a, b], { title: 'P-T/P-T and RI-T/RI-T' });
  const bundle = display(panels);
  const payload = bundle[Mime.cka] as { panels: unknown[]; rows: string[] };
  assert.equal(payload.panels.length, 2);
  assert.deepEqual(payload.rows, modules(8), 'the outer payload is the first heatmap');
  assert.deepEqual(parseCkaPayload(json(payload)), json(payload), 'the renderer accepts it');
  for (const width of [1000, 700, 420]) {
    const spec = json(ckaSpec(panels.toPayload(), lightTheme, { width }).spec) as { scales: { name: string; domain: number[] }[]; legends: { values: number[] }[]; marks: { type: string; name: string; scales: { name: string }[] }[] };
    assert.deepEqual(spec.scales.map((s) => [s.name, s.domain]), [['color', [0, 1]]], 'one colour scale over [0, 1]');
    assert.equal(spec.legends.length, 1);
    assert.deepEqual(spec.legends[0]!.values, [0, 0.2, 0.4, 0.6, 0.8, 1]);
    assert.deepEqual(spec.marks.map((m) => [m.type, m.name]), [['group', 'panel-0'], ['group', 'panel-1']]);
    assert.ok(spec.marks.every((m) => !m.scales.some((s) => s.name === 'color')), 'no panel has a colour scale of its own');
    for (const m of spec.marks) {
      const x = m.scales.find((s) => s.name === 'x') as unknown as { range: number[] };
      assert.ok(Array.isArray(x.range) && x.range[1]! > 0, `${m.name}: the module axis spans its cells`);
    }
    const { view, svg } = await drawn(spec);
    const items = itemsByMark(view, ['cell-values']);
    const inks = new Set<string>();
    const walk = (node: { name?: string; items?: { fill?: string; items?: unknown[] }[] }): void => {
      if (node.name === 'cell-values') node.items?.forEach((i) => inks.add(String(i.fill)));
      else node.items?.forEach((c) => walk(c as never));
    };
    walk((view.scenegraph() as unknown as { root: never }).root);
    view.finalize();
    if (width === 1000) assert.deepEqual([...inks].sort(), ['#000000', '#ffffff'], 'values in black or white from the shared scale');
    assert.ok(svgSize(svg).width <= width, `${width} px: ${svgSize(svg).width} px wide`);
    for (const text of ['>P-T₁ module<', 'RI-T₁ vs RI-T₂', '>P-T/P-T and RI-T/RI-T<', '>1.0<']) assert.ok(svg.includes(text), `${width} px: ${text}`);
    if (width === 1000) assert.ok(items['cell-values']! > 0, 'values printed in the cells');
  }
  assert.deepEqual(bundle[Mime.vega], json(panels.toVega()));
  assert.throws(() => sideBySide([]), /cka\.sideBySide: results must be a non-empty array/);
  assert.throws(() => sideBySide([a, {} as CkaResult]), /cka\.sideBySide: results\[1\] is not a CKA result/);
});
