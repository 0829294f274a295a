/**
 * The chart renderers' messages to the extension (Save as PNG / SVG, Copy): checked before use,
 * file names made safe, and package.json's renderers with messaging are exactly the chart ones.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CHART_RENDERER_IDS, RendererMessageType, imageFileName, isRendererMessage } from '../../kernel/protocol/rendererMessages';

test('isRendererMessage accepts the two messages and nothing malformed', () => {
  assert.equal(isRendererMessage({ type: RendererMessageType.saveImage, format: 'png', data: 'iVBOR', name: 'a.png' }), true);
  assert.equal(isRendererMessage({ type: RendererMessageType.saveImage, format: 'svg', data: '<svg/>', name: 'a.svg' }), true);
  assert.equal(isRendererMessage({ type: RendererMessageType.copyImage, svg: '<svg/>' }), true);
  for (const bad of [null, 'x', {}, { type: RendererMessageType.saveImage, format: 'gif', data: '', name: 'a' }, { type: RendererMessageType.saveImage, format: 'png', data: 3, name: 'a' }, { type: RendererMessageType.saveImage, format: 'png', data: '' }, { type: RendererMessageType.copyImage }, { type: 'other', svg: '' }]) {
    assert.equal(isRendererMessage(bad), false, JSON.stringify(bad));
  }
});

test('imageFileName: the title without characters file systems refuse, or "chart"', () => {
  assert.equal(imageFileName('CKA: P-T vs RI-T', 'png'), 'CKA - P-T vs RI-T.png');
  assert.equal(imageFileName('a/b\\c*?"<>|d', 'svg'), 'a b c d.svg');
  assert.equal(imageFileName(undefined, 'png'), 'chart.png');
  assert.equal(imageFileName('...', 'png'), 'chart.png');
  assert.ok(!imageFileName('../../etc/passwd', 'svg').includes('/'));
  assert.ok(imageFileName('x'.repeat(200), 'png').length <= 84);
});

test("package.json: the chart renderers ask for messaging ('optional'), the others do not", () => {
  const pkg = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', 'package.json'), 'utf8')) as { contributes: { notebookRenderer: { id: string; requiresMessaging: string }[] } };
  const withMessaging = pkg.contributes.notebookRenderer.filter((r) => r.requiresMessaging !== 'never').map((r) => r.id);
  assert.deepEqual([...withMessaging].sort(), [...CHART_RENDERER_IDS].sort());
  for (const r of pkg.contributes.notebookRenderer) if (CHART_RENDERER_IDS.includes(r.id)) assert.equal(r.requiresMessaging, 'optional', r.id);
});
