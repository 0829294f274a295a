/**
 * The HTML report keeps its live charts when bundles carry static images (kernel/executor/statics.ts):
 * the chart is drawn by the report's script, and the PNG is only its fallback, hidden once drawn,
 * never a second copy of the figure beside it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bundleToHtml } from '../../cli/htmlReport';
import { Mime } from '../../kernel/protocol/mime';

test('a chart bundle with image/png and image/svg+xml becomes a live chart with the PNG as hidden fallback', () => {
  const spec = { mark: 'bar', data: { values: [{ a: 1 }] }, encoding: { x: { field: 'a', type: 'quantitative' } } };
  for (const [mime, payload] of [
    [Mime.vegaLite, spec],
    [Mime.cka, { rows: ['a'], columns: ['b'], values: [[0.5]], kind: 'linear', debiased: false }],
  ] as const) {
    const html = bundleToHtml({ [mime]: payload, [Mime.vega]: {}, [Mime.svg]: '<svg xmlns="http://www.w3.org/2000/svg"></svg>', [Mime.png]: 'iVBORw0KGgo=', [Mime.plain]: 'chart' } as never);
    assert.ok(html.startsWith(`<div class="tl-chart" data-mime="${mime}">`), html.slice(0, 80));
    assert.equal((html.match(/<img/g) ?? []).length, 1, 'one image: the fallback');
    assert.match(html, /<div class="tl-fallback"><img src="data:image\/png;base64,/);
    assert.doesNotMatch(html, /tl-image|image\/svg\+xml;base64/);
  }
});
