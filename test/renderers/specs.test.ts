/**
 * The renderers' pure parts in Node: payload checks, spec builders (compiled and run headless with
 * vega's interpreter, as in the webview), helpers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import { expressionInterpreter } from 'vega-interpreter';
import type { CkaPayload, InterpolationPayload, TrainingPayload } from '../../kernel/protocol/mime';
import { cellSize, ckaSpec, levelPaths, uniqueLabels, LEVELS } from '../../kernel/protocol/charts/cka';
import { barrierNote, barrierSegment, chordEnds, interpolationSpec, short } from '../../kernel/protocol/charts/interpolation';
import { statusLines, trainingRows, trainingSpec } from '../../kernel/protocol/charts/training';
import { mergeConfig, themedSpec } from '../../renderers/vegalite/render';
import { displayScale } from '../../renderers/images/render';
import {
  PayloadError,
  parseCkaPayload,
  parseImagesPayload,
  parseInterpolationPayload,
  parseTrainingPayload,
  parseVegaLiteSpec,
} from '../../renderers/common/payloads';
import { vegaConfig, type Theme } from '../../renderers/common/theme';

const theme: Theme = {
  kind: 'light',
  foreground: '#333333',
  mutedForeground: '#777777',
  background: '#ffffff',
  gridColor: '#eeeeee',
  borderColor: '#dddddd',
  errorForeground: '#a1260d',
  fontFamily: 'sans-serif',
  fontSize: 12,
  palette: ['#4c78a8', '#f58518'],
  scheme: 'viridis',
};

/** Runs a Vega spec headless with the expression interpreter and returns its SVG text. */
async function svgOf(spec: vega.Spec): Promise<string> {
  const view = new vega.View(vega.parse(spec, undefined, { ast: true }), { renderer: 'none', expr: expressionInterpreter } as vega.ViewOptions);
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

test('cka: cells merge into one path per colour level', () => {
  const paths = levelPaths(
    [
      [1, 1, 0],
      [0, Number.NaN, 0],
    ],
    10,
  );
  assert.deepEqual(
    [...paths].sort((a, b) => a[0] - b[0]),
    [
      [-1, 'M10,10h10v10h-10z'],
      [0, 'M20,0h10v10h-10zM0,10h10v10h-10zM20,10h10v10h-10z'],
      [LEVELS - 1, 'M0,0h20v10h-20z'],
    ],
  );
  assert.deepEqual([cellSize(3, 3), cellSize(16, 16), cellSize(64, 64), cellSize(200, 10), cellSize(16, 16, 300)], [80, 35, 8, 5, 18]);
  assert.deepEqual(uniqueLabels(['fc', 'fc', 'conv', 'fc']), ['fc', 'fc #2', 'conv', 'fc #3']);
});

test('cka: the Vega spec runs with the interpreter and draws names, legend and cells', async () => {
  const p: CkaPayload = { rows: ['a1', 'a2'], columns: ['b1', 'b2', 'b3'], values: [[1, 0.5, 1.2], [0, -0.1, 0.25]], kind: 'rbf', debiased: true, modelA: 'A', modelB: 'B', n: 64 };
  const colors: number[] = [];
  const { spec, layout } = ckaSpec(p, theme, {
    colorOf: (t) => {
      colors.push(t);
      return `rgb(${Math.round(t * 255)},0,0)`;
    },
  });
  assert.deepEqual(layout, { step: 80, rows: ['a1', 'a2'], columns: ['b1', 'b2', 'b3'] });
  assert.ok(colors.every((t) => t >= 0 && t <= 1), 'values outside 0..1 are clamped in colour');
  const svg = await svgOf(spec);
  for (const text of ['>a1<', '>b3<', '>Debiased RBF CKA<', '>A vs B, n = 64<', '>CKA<', '>A module<', '>B module<']) assert.ok(svg.includes(text), text);
  assert.ok(svg.includes('fill="rgb(255,0,0)"') && svg.includes('fill="rgb(0,0,0)"'));
});

test('interpolation: chord, barrier and a spec vega-lite compiles', async () => {
  const pair = { label: 'p', lambdas: [-0.5, 0, 0.5, 1, 1.5], loss: [3, 1, 2.5, 2, 4], accuracy: [], barrier: 1, barrierLambda: 0.5 };
  assert.deepEqual(chordEnds(pair), [
    { lambda: 0, loss: 1 },
    { lambda: 1, loss: 2 },
  ]);
  assert.deepEqual(barrierSegment(pair), { lambda: 0.5, top: 2.5, bottom: 1.5 });
  assert.deepEqual([short(1.4753), short(0.000123), short(123456), short(2)], ['1.48', '1.23e-4', '1.23e+5', '2']);
  const payload: InterpolationPayload = { pairs: [pair, { ...pair, label: 'q', accuracy: [0.1, 0.9, 0.5, 0.9, 0.1] }] };
  const compiled = vl.compile(interpolationSpec(payload, theme)).spec;
  const svg = await svgOf(compiled);
  for (const text of ['>p: barrier 1<', '>q: barrier 1<', '>loss<', '>accuracy<']) assert.ok(svg.includes(text), text);
  const lossOnly = vl.compile(interpolationSpec({ pairs: [pair] }, theme)).spec;
  assert.ok(!(await svgOf(lossOnly)).includes('>accuracy<'));
});

test('interpolation: the mean barrier definition draws its reference at the mean end loss; the subtitle names each definition and any warning', async () => {
  const pair = { label: 'p', lambdas: [0, 0.5, 1], loss: [1, 2.5, 3], accuracy: [], barrier: 1, barrierLambda: 1, barrierDefinition: 'mean' as const };
  assert.deepEqual(chordEnds(pair), [
    { lambda: 0, loss: 2 },
    { lambda: 1, loss: 2 },
  ]);
  assert.deepEqual(barrierSegment(pair), { lambda: 1, top: 3, bottom: 2 });
  const linear = { ...pair, label: 'q', barrierDefinition: undefined, barrier: 0.5, barrierLambda: 0.5 };
  assert.match(barrierNote({ pairs: [linear] }), /^barrier: highest loss above the straight line between the end losses \(Frankle et al\. 2020\)$/);
  assert.match(barrierNote({ pairs: [pair] }), /^barrier: highest loss above the mean end loss \(Ainsworth et al\. 2023\)$/);
  assert.match(barrierNote({ pairs: [linear, pair] }), /linear: .*; mean: /);
  const spec = interpolationSpec({ pairs: [pair, linear], warnings: ['p: BatchNorm statistics from the evaluation data'] }, theme);
  const svg = await svgOf(vl.compile(spec).spec);
  for (const text of ['⚠ p: BatchNorm statistics from the evaluation data', 'mean end loss', '>p: barrier 1<']) assert.ok(svg.includes(text), text);
});

test('training: rows, status lines and a spec vega-lite compiles', async () => {
  const payload: TrainingPayload = {
    runs: [
      { label: 'a', points: [{ epoch: 0, step: 10, loss: 1.5, valLoss: 1.7 }, { epoch: 1, step: 20, loss: 1, accuracy: 0.5, examplesPerSecond: 99.6 }], done: false },
      { label: 'b', points: [], done: true },
    ],
  };
  const rows = trainingRows(payload);
  assert.deepEqual(
    rows.loss.map((r) => [r.run, r.split, r.step, r.value]),
    [
      ['a', 'train', 10, 1.5],
      ['a', 'validation', 10, 1.7],
      ['a', 'train', 20, 1],
    ],
  );
  assert.equal(rows.accuracy.length, 1);
  assert.deepEqual(statusLines(payload), ['a: epoch 1, step 20, loss 1.0000, accuracy 0.5000, 100 ex/s (running)', 'b: no steps yet (done)']);
  const svg = await svgOf(vl.compile(trainingSpec(payload, theme)).spec);
  for (const text of ['>loss<', '>accuracy<', '>validation<', '>step<']) assert.ok(svg.includes(text), text);
});

test('vegalite: the theme goes under the spec config, which wins', () => {
  assert.deepEqual(mergeConfig({ a: { b: 1, c: 2 }, d: [1] }, { a: { c: 3 }, d: [2] }), { a: { b: 1, c: 3 }, d: [2] });
  const spec = themedSpec({ mark: 'point', config: { axis: { labelColor: 'red' } } }, theme) as unknown as { config: { axis: Record<string, unknown> } };
  assert.equal(spec.config.axis['labelColor'], 'red');
  assert.equal(spec.config.axis['titleColor'], theme.foreground);
  const high = vegaConfig({ ...theme, kind: 'high-contrast' }) as { line: { strokeWidth: number } };
  assert.equal(high.line.strokeWidth, 3);
});

test('images: display scale', () => {
  assert.deepEqual([displayScale(28, 28), displayScale(32, 32), displayScale(4, 4), displayScale(224, 224)], [2, 2, 8, 1]);
});

test('payload checks name the MIME type and the field', () => {
  const expectError = (fn: () => unknown, path: string, problem: RegExp): void => {
    assert.throws(fn, (e: unknown) => {
      assert.ok(e instanceof PayloadError, String(e));
      assert.equal(e.path, path);
      assert.match(e.message, problem);
      return true;
    });
  };
  const cka = { rows: ['a'], columns: ['b'], values: [[1]], kind: 'linear', debiased: false };
  assert.equal(parseCkaPayload(cka), cka);
  expectError(() => parseCkaPayload({ ...cka, rows: 'a' }), 'rows', /cka\+json: rows must be an array, found string "a"/);
  expectError(() => parseCkaPayload({ ...cka, values: [['x']] }), 'values[0][0]', /must be a number/);
  expectError(() => parseCkaPayload({ ...cka, values: [] }), 'values', /has 0 rows but rows has 1 names/);
  assert.doesNotThrow(() => parseCkaPayload({ ...cka, values: [[null]] }), 'null stands for NaN');
  const measures = [{ measure: 'svcca', label: 'SVCCA', values: [[0.5]] }];
  assert.doesNotThrow(() => parseCkaPayload({ ...cka, measures }), 'several measures (tl.similarity)');
  expectError(() => parseCkaPayload({ ...cka, measures: [{ ...measures[0], measure: 'cca' }] }), 'measures[0].measure', /is 'cca', not one of cka, svcca/);
  expectError(() => parseCkaPayload({ ...cka, measures: [{ ...measures[0], values: [[0.5, 1]] }] }), 'measures[0].values[0]', /has 2 entries but columns has 1 names/);
  const pair = { label: 'p', lambdas: [0, 1], loss: [1, 2], accuracy: [], barrier: 0, barrierLambda: 0 };
  expectError(() => parseInterpolationPayload({ pairs: [] }), 'pairs', /is empty/);
  expectError(() => parseInterpolationPayload({ pairs: [{ ...pair, loss: [1] }] }), 'pairs[0].loss', /has 1 values but lambdas has 2/);
  expectError(() => parseInterpolationPayload({ pairs: [pair, { ...pair, accuracy: [1] }] }), 'pairs[1].accuracy', /use \[\] when there is no accuracy/);
  const aligned = { loss: [1, 1], accuracy: [], barrier: 0, barrierLambda: 0 };
  assert.doesNotThrow(() => parseInterpolationPayload({ pairs: [{ ...pair, aligned }] }));
  expectError(() => parseInterpolationPayload({ pairs: [{ ...pair, aligned: { ...aligned, loss: [1] } }] }), 'pairs[0].aligned.loss', /has 1 values but lambdas has 2/);
  expectError(() => parseInterpolationPayload({ pairs: [{ ...pair, aligned: 3 }] }), 'pairs[0].aligned', /must be an object/);
  expectError(() => parseInterpolationPayload({ pairs: [{ ...pair, barrierDefinition: 'max' }] }), 'pairs[0].barrierDefinition', /must be 'linear' or 'mean'/);
  expectError(() => parseInterpolationPayload({ pairs: [pair], warnings: [1] }), 'warnings[0]', /must be a string/);
  expectError(() => parseImagesPayload({ width: 0, height: 2, rows: [] }), 'width', /positive integer/);
  expectError(() => parseTrainingPayload({ runs: [{ label: 'r', points: [{ epoch: 0, step: 0 }], done: false }] }), 'runs[0].points[0].loss', /must be a number/);
  expectError(() => parseTrainingPayload({ runs: [{ label: 'r', points: [], done: 'no' }] }), 'runs[0].done', /true or false/);
  expectError(() => parseVegaLiteSpec([]), '', /must be an object/);
});
