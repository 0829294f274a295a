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
  assert.match(source, new RegExp(`\\b${name}\\(payload, theme\\)`), `renderers/${kind}/render.ts builds the spec from the payload and the theme`);
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
