/**
 * Types while typing, in code-server: a type error typed into a cell shows as a squiggle and in
 * the Problems panel without running anything (no kernel starts), knowing what an earlier,
 * never-run cell declared; `tl.cka.linear(` opens signature help with the API's docs; completion
 * offers no internal names and resolves items; hover renders `@example` as code and `{@link}` as links. Screenshots: test-results/e2e/editing-*.png.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { CodeServer, Workbench, normalize, waitFor, workspaceCopy } from './harness';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const NOTEBOOK = {
  cells: [
    { cell_type: 'markdown', metadata: {}, source: ['# Types while typing'] },
    { cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source: ['const rate = 0.5;'] },
    { cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source: ['const doubled = rate * 2;'] },
  ],
  metadata: { format_version: 1, kernel: { display_name: 'TransferLab (TypeScript)', language: 'typescript', name: 'transferlab' } },
};

describe('types while typing', () => {
  let server: CodeServer;
  let wb: Workbench;

  before(async () => {
    const workspace = workspaceCopy('workspace');
    writeFileSync(path.join(workspace, 'typing.tsnb'), JSON.stringify(NOTEBOOK, null, 1));
    server = await CodeServer.start({ name: 'editing', workspace });
    wb = await Workbench.open(server);
    await wb.waitReady();
    await wb.openNotebook('typing.tsnb');
  });

  afterEach(async (t) => {
    await wb?.screenshot(`editing ${t.name} (end)`).catch(() => undefined);
  });

  after(async () => {
    await wb?.close();
    await server?.stop();
  });

  /** Types at the end of a code cell, as a user would. */
  async function typeAtEnd(index: number, text: string): Promise<void> {
    await wb.focusCell(index);
    await wb.page.keyboard.press('Control+End');
    await wb.page.keyboard.type(text, { delay: 20 });
  }

  it('a type error typed into a cell: squiggle and Problems entry, no kernel started', async (t) => {
    const cell = wb.codeCells().nth(1);
    await typeAtEnd(1, '\nconst label: string = rate;');
    await wb.page.keyboard.press('Escape');
    const squiggle = cell.locator('.squiggly-error');
    await waitFor('a squiggle in the second cell', async () => (await squiggle.count()) > 0, 60_000);
    // Warm now: a second error, pasted in one edit, timed from that edit to its squiggle. The editor
    // may draw the first squiggle in more than one element, and redraw it once focus returns: count
    // the elements once their number has held still, and wait for more than that.
    await wb.focusCell(1);
    await wb.page.keyboard.press('Control+End');
    let before = await squiggle.count();
    for (let still = 0; still < 4; ) {
      await new Promise((r) => setTimeout(r, 150));
      const now = await squiggle.count();
      still = now === before ? still + 1 : 0;
      before = now;
    }
    const t0 = Date.now();
    await wb.page.keyboard.insertText('\nconst count: number = "three";');
    await waitFor('a second squiggle', async () => (await squiggle.count()) > before, 20_000, 25);
    const ms = Date.now() - t0;
    t.diagnostic(`squiggle ${ms} ms after the edit (includes the 250 ms pause the checker waits for)`);
    assert.ok(ms >= 250, `a squiggle ${ms} ms after the edit: it was there before`);
    await cell.scrollIntoViewIfNeeded();
    await wb.screenshot('editing squiggle');
    // The Problems panel lists both, with the cell's line and column.
    await wb.command('Focus on Problems View');
    const rows = wb.page.locator('.markers-panel .monaco-list-row');
    await waitFor('the Problems entries', async () => {
      const text = normalize((await rows.allInnerTexts()).join('\n'));
      return /Type 'number' is not assignable to type 'string'/.test(text) && /Type 'string' is not assignable to type 'number'/.test(text) ? text : undefined;
    }, 20_000);
    const text = normalize((await rows.allInnerTexts()).join('\n'));
    assert.match(text, /\[Ln 2, Col 7\]/);
    assert.match(text, /TransferLab/);
    await wb.screenshot('editing problems');
    assert.deepEqual(server.kernelPids(), [], 'checking while typing started a kernel');
  });

  it('signature help after tl.cka.linear(', async () => {
    await typeAtEnd(1, '\nconst X = tf.zeros([4, 2]);\ntl.cka.linear(');
    const hints = wb.page.locator('.parameter-hints-widget');
    await waitFor('the signature help', async () => {
      const s = normalize(await hints.innerText().catch(() => ''));
      return /linear\(X: tl\.cka\.Features/.test(s) && /Linear CKA/.test(s) ? s : undefined;
    }, 30_000);
    const shown = normalize(await hints.innerText());
    assert.match(shown, /Y: tl\.cka\.Features/);
    await wb.screenshot('editing signature help');
    // Then `X, `: the second parameter is the active one.
    await wb.page.keyboard.type('X, ', { delay: 30 });
    await waitFor('the second parameter highlighted', async () => normalize(await hints.locator('.parameter.active, .signature .highlight').first().innerText().catch(() => '')).includes('Y'), 10_000);
    await wb.page.keyboard.press('Escape');
  });

  it('completion without internal names, items resolved with their declaration; hover renders @example and {@link}', async () => {
    await typeAtEnd(1, ';\ntl.cka.');
    const suggest = wb.page.locator('.suggest-widget');
    await waitFor('the completion list', async () => /\blinear\b/.test(normalize(await suggest.innerText().catch(() => ''))), 30_000);
    assert.doesNotMatch(normalize(await suggest.innerText()), /ckaInternals/);
    await wb.page.keyboard.type('linear', { delay: 30 });
    // The focused item is resolved: its declaration shows beside it.
    await waitFor('the resolved item', async () => /function linear\(X: tl\.cka\.Feat/.test(normalize(await suggest.innerText().catch(() => ''))), 20_000);
    await wb.screenshot('editing completion');
    await wb.page.keyboard.press('Escape');
    // Hover over `linear` in the line above: the docs, the example as a code block, links.
    const word = wb.codeCells().nth(1).locator('.view-line', { hasText: 'tl.cka.linear(X' }).locator('span', { hasText: /^linear$/ }).first();
    await word.hover();
    const hover = wb.page.locator('.monaco-hover').filter({ visible: true });
    await waitFor('the hover', async () => /Linear CKA between two representations/.test(normalize(await hover.innerText().catch(() => ''))), 20_000);
    await sleep(300);
    await wb.screenshot('editing hover');
    // The example is a code block (Monaco's markdown renders it as a tokenized `.code` block), {@link CkaEstimate} a link.
    assert.ok((await hover.locator('.monaco-tokenized-source', { hasText: 'tf.randomNormal' }).count()) > 0, 'the @example is not a code block');
    assert.ok((await hover.locator('a', { hasText: 'CkaEstimate' }).count()) > 0, '{@link CkaEstimate} is not a link');
  });
});
