/**
 * The editor's checker of a whole notebook (kernel/executor/notebookChecker.ts): positions in the
 * right cell, earlier cells' names seen (run or not) and later cells' not, the same errors as the
 * kernel's checker, `tl`/`tf` with their types, incremental updates, completion without internal
 * names, hover and signature help as Markdown. Needs dist/types (scripts/test.mjs builds it).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { NotebookChecker, type NotebookCellSource } from '../../kernel/executor/notebookChecker';
import { CellChecker } from '../../kernel/executor/checker';
import { preludeDeclarations } from '../../kernel/executor/prelude';
import { docsToMarkdown } from '../../kernel/executor/docMarkdown';

const root = path.resolve(__dirname, '..', '..');
const prelude = preludeDeclarations(root);
const checker = new NotebookChecker({ cwd: root, packageRoot: root, preludeDeclarations: prelude });
const cells = (...texts: string[]): NotebookCellSource[] => texts.map((text, i) => ({ id: `cell-${i}`, text }));
const errors = (id: string) => checker.diagnostics(id).map((d) => `${d.line}:${d.column} TS${d.code}`);

describe('NotebookChecker', () => {
  it('maps an error to its own cell, line and column, with the span of the squiggle', () => {
    const text = 'const ok = 1;\nconst s: string = ok;';
    checker.update(cells('const a = 1;', text));
    assert.deepEqual(errors('cell-0'), []);
    const [d] = checker.diagnostics('cell-1');
    assert.equal(d!.line, 2);
    assert.equal(d!.column, 7);
    assert.equal(d!.code, 2322);
    assert.equal(text.slice(d!.start, d!.start! + d!.length!), 's');
    assert.equal(d!.syntactic, undefined);
    checker.update(cells('const a = 1 +;'));
    assert.deepEqual(checker.diagnostics('cell-0').map((x) => [x.code, x.syntactic]), [[1109, true]]);
  });

  it('sees names of earlier cells (run or not), the latest declaration winning, and not those of later cells', () => {
    checker.update(cells('let x = 1;\nfunction twice(n: number) { return 2 * n; }', 'const x = "text";', 'const y: string = x.toUpperCase() + twice(2);\nconst z = later;', 'const later = 3;'));
    assert.deepEqual(errors('cell-0'), []);
    assert.deepEqual(errors('cell-1'), []);
    // `later` is declared only by the cell after it.
    assert.deepEqual(errors('cell-2'), ['2:11 TS2304']);
    assert.match(checker.diagnostics('cell-2')[0]!.message, /Cannot find name 'later'/);
  });

  it('reports what the kernel reports for the same cells run in order', () => {
    const texts = ['let n = 1;\nconst label = "a";\ninterface Point { x: number }\nclass Box { constructor(public v: number) {} }', 'n = 2;\nconst p: Point = { x: n };\nlabel = "b";', 'const b = new Box("no");\nconst q: Point = { y: 1 };\ntl.cka.linear(1);'];
    checker.update(cells(...texts));
    const kernel = new CellChecker({ cwd: root, packageRoot: root, preludeDeclarations: prelude });
    texts.forEach((text, i) => {
      const strip = (ds: readonly { line: number; column: number; code: number; message: string }[]) => ds.map(({ line, column, code, message }) => ({ line, column, code, message }));
      const expected = strip(kernel.check(text, i + 1));
      assert.deepEqual(strip(checker.diagnostics(`cell-${i}`)), expected, `cell ${i}`);
      kernel.commit(text, i + 1);
    });
    // The cells do have errors (assigning to a const, wrong argument types, tl's own signature).
    assert.ok(checker.diagnostics('cell-1').some((d) => d.code === 2588));
    assert.ok(checker.diagnostics('cell-2').length >= 3);
  });

  it('knows tl and tf with their types', () => {
    checker.update(cells('const X = tf.zeros([4, 2]);\nconst v: number = await tl.cka.linear(X, X);\nconst w: string = await tl.cka.linear(X, X);'));
    assert.deepEqual(errors('cell-0'), ['3:7 TS2322']);
  });

  it('a removed …Async twin and a promise used without await say what to write', () => {
    checker.update(cells('const X = tf.zeros([4, 2]);\nawait tl.cka.linearAsync(X, X);\nconst acc = new tl.cka.MinibatchCka();\nawait acc.updateAsync({ x: X });\nconst v: number = tl.similarity.svcca(X, X);'));
    const messages = checker.diagnostics('cell-0').map((d) => `${d.line} ${d.message}`);
    assert.equal(messages.length, 3, messages.join('\n'));
    assert.match(messages[0]!, /^2 Property 'linearAsync' does not exist on type 'typeof tl\.cka'\. TransferLab has one name per operation, on every backend: write `await tl\.cka\.linear\(…\)`\.$/);
    assert.match(messages[1]!, /^4 Property 'updateAsync' does not exist on type 'MinibatchCka'\. .*`await …\.update\(…\)`/);
    assert.match(messages[2]!, /^5 Type 'Promise<number>' is not assignable to type 'number'\. Did you forget `await`\?/);
  });

  it('re-diagnoses only the edited cell and the cells after it', () => {
    const texts = ['const a = 1;', 'const b = a + 1;', 'const c: number = b;', 'const d: number = c;'];
    assert.deepEqual(checker.update(texts.map((text, i) => ({ id: `inc-${i}`, text }))), ['inc-0', 'inc-1', 'inc-2', 'inc-3']);
    for (const id of checker.cellIds) checker.diagnostics(id);
    assert.deepEqual(checker.pending, []);
    texts[2] = 'const c: number = String(b);';
    assert.deepEqual(checker.update(texts.map((text, i) => ({ id: `inc-${i}`, text }))), ['inc-2', 'inc-3']);
    assert.deepEqual(checker.pending, ['inc-2', 'inc-3']);
    assert.deepEqual(errors('inc-2'), ['1:7 TS2322']);
    // A cell before the edit keeps its result; nothing changed: nothing to do.
    assert.deepEqual(checker.update(texts.map((text, i) => ({ id: `inc-${i}`, text }))), []);
    // Changing an earlier cell's type reaches the later ones.
    texts[0] = 'const a = "one";';
    assert.deepEqual(checker.update(texts.map((text, i) => ({ id: `inc-${i}`, text }))), ['inc-0', 'inc-1', 'inc-2', 'inc-3']);
    assert.deepEqual(errors('inc-3'), []);
    texts[2] = 'const c = b;';
    checker.update(texts.map((text, i) => ({ id: `inc-${i}`, text })));
    assert.deepEqual(errors('inc-3'), ['1:7 TS2322']); // b is now a string
    // Deleting a cell: the ones after it lose its names.
    assert.deepEqual(checker.update([0, 2, 3].map((i) => ({ id: `inc-${i}`, text: texts[i]! }))), ['inc-2', 'inc-3']);
    assert.match(checker.diagnostics('inc-2')[0]!.message, /Cannot find name 'b'/);
  });

  it('completes names of earlier cells and the API with docs, never internal names', () => {
    const text = 'tl.cka.';
    checker.update(cells('const transferRatio = 0.5;', 'transferR', text));
    const globals = checker.complete('cell-1', 'transferR'.length).entries.map((e) => e.name);
    assert.ok(globals.includes('transferRatio'));
    assert.ok(globals.includes('tl'));
    assert.deepEqual(globals.filter((n) => n.startsWith('__')), [], 'the checker machinery shows');
    const members = checker.complete('cell-2', text.length);
    const names = members.entries.map((e) => e.name);
    assert.equal(members.isMemberCompletion, true);
    assert.ok(names.includes('linear'), names.join(', '));
    assert.ok(!names.includes('ckaInternals'), 'ckaInternals is not public API');
    const details = checker.completionDetails('cell-2', text.length, 'linear');
    assert.match(details!.detail, /function linear\(X: tl\.cka\.Features, Y: tl\.cka\.Features/);
    assert.match(details!.documentation, /Linear CKA between two representations/);
  });

  it('the kernel completes no internal names either', () => {
    const kernel = new CellChecker({ cwd: root, packageRoot: root, preludeDeclarations: prelude });
    const r = kernel.complete('tl.cka.', 'tl.cka.'.length);
    assert.ok(r.matches.includes('linear'));
    assert.ok(!r.matches.includes('ckaInternals'));
    assert.deepEqual(kernel.complete('__', 2).matches, []);
  });

  it('hover: @example as a TypeScript block, {@link} as a link to the declaration or as code', () => {
    const fn = '/**\n * Adds one, see {@link twice} and {@link https://example.org/add the notes}.\n * @param n a number\n * @example\n * addOne(2); // 3\n */\nfunction addOne(n: number) { return n + 1; }\nfunction twice(n: number) { return 2 * n; }';
    checker.update(cells(fn, 'addOne(1);\ntl.cka.linear'));
    const own = checker.hover('cell-1', 2)!;
    assert.match(own.signature, /addOne: \(n: number\) => number/);
    assert.match(own.documentation, /Adds one, see `twice` and \[the notes\]\(https:\/\/example\.org\/add\)\./);
    assert.match(own.documentation, /\*@param\* `n` — a number/);
    assert.match(own.documentation, /\*@example\*\n```typescript\naddOne\(2\); \/\/ 3\n```/);
    assert.equal(own.start, 0);
    assert.equal(own.length, 'addOne'.length);
    const api = checker.hover('cell-1', 'addOne(1);\ntl.cka.li'.length)!;
    // tl's own docs: the example keeps its fence; {@link CkaEstimate} opens its declaration.
    assert.match(api.documentation, /```ts\n const X = tf\.randomNormal|```ts\nconst X = tf\.randomNormal/);
    assert.match(api.documentation, /\[`CkaEstimate`\]\(file:\/\/\/.*\/dist\/types\/kernel\/analysis\/cka\/estimate\.d\.ts#L\d+\)/);
  });

  it('signature help after ( and ,', () => {
    const text = 'const X = tf.zeros([4, 2]);\ntl.cka.linear(X, ';
    checker.update(cells(text));
    const first = checker.signatureHelp('cell-0', text.length - 3)!; // after `(`
    assert.equal(first.activeParameter, 0);
    const help = checker.signatureHelp('cell-0', text.length)!;
    assert.equal(help.activeParameter, 1);
    const sig = help.signatures[help.activeSignature]!;
    assert.match(sig.label, /^linear\(X: tl\.cka\.Features, Y: tl\.cka\.Features/);
    assert.equal(sig.label.slice(...sig.parameters[1]!.label), 'Y: tl.cka.Features');
    assert.match(sig.documentation, /Linear CKA/);
  });

  it('a 100-cell notebook: an edit re-diagnoses the cells from it on, with the right errors', (t) => {
    const big = new NotebookChecker({ cwd: root, packageRoot: root, preludeDeclarations: prelude, name: 'big' });
    const texts = Array.from({ length: 100 }, (_, i) => (i === 0 ? 'const v0 = tf.zeros([2, 2]);' : `const v${i} = v${i - 1};\nconst s${i}: number = await tl.cka.linear(v${i}, v0);`));
    let t0 = performance.now();
    big.update(texts.map((text, i) => ({ id: `c${i}`, text })));
    for (const id of big.cellIds) assert.deepEqual(big.diagnostics(id), [], id);
    const first = performance.now() - t0;
    // An edit in the middle: v50 becomes a string, every later cell calls linear with one.
    texts[50] = 'const v50 = "oops";\nconst s50 = 0;';
    t0 = performance.now();
    const stale = big.update(texts.map((text, i) => ({ id: `c${i}`, text })));
    const edited = big.diagnostics('c50');
    const editedMs = performance.now() - t0;
    for (const id of stale) big.diagnostics(id);
    const allMs = performance.now() - t0;
    assert.equal(stale.length, 50);
    assert.equal(stale[0], 'c50');
    assert.deepEqual(edited, []);
    for (let i = 51; i < 100; i++) {
      const ds = big.diagnostics(`c${i}`);
      assert.deepEqual(ds.map((d) => `${d.line}:${d.column}:${d.code}`), [`2:${`const s${i}: number = await tl.cka.linear(`.length + 1}:2345`], `cell ${i}`);
      assert.match(ds[0]!.message, /Argument of type 'string'/);
    }
    assert.deepEqual(big.diagnostics('c49'), []);
    t.diagnostic(`100 cells: first check of all ${first.toFixed(0)} ms; after an edit in cell 50: that cell ${editedMs.toFixed(0)} ms, cells 50–99 ${allMs.toFixed(0)} ms`);
    big.dispose();
  });
});

describe('docsToMarkdown', () => {
  it('turns tags into paragraphs and keeps fenced examples', () => {
    const md = docsToMarkdown([{ kind: 'text', text: 'Text.' }], [
      { name: 'returns', text: [{ kind: 'text', text: 'the sum' }] },
      { name: 'example', text: [{ kind: 'text', text: '```ts\nf(1)\n```' }] },
      { name: 'example', text: [{ kind: 'text', text: '<caption>Plain</caption>\nf(2)' }] },
    ]);
    assert.equal(md, 'Text.\n\n*@returns* — the sum\n\n*@example*\n```ts\nf(1)\n```\n\n*@example* — Plain\n```typescript\nf(2)\n```');
  });
});
