/**
 * Type checking while typing, wired as in VS Code (with the vscode stand-in): the checker thread
 * (dist/checkerWorker.js, built by scripts/test.mjs) diagnoses a notebook's TypeScript cells when
 * it opens and after edits, the diagnostics land on the right cell and range; completion (with
 * docs on resolve), hover and signature help come from it, for .tsnb and TypeScript .ipynb.
 */
import { workspace, extensions, EventEmitter, NotebookCellKind, Position, Range, registered, type MarkdownString, type CompletionList, type CompletionItem, type SignatureHelp, type Hover } from './vscodeFake';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type * as vscode from 'vscode';
import { NotebookTypeChecker, positionIn, DIAGNOSTIC_SOURCE, BUILTIN_TYPESCRIPT } from '../../extension/typeChecking';
import { KernelLanguageFeatures } from '../../extension/languageFeatures';
import type { TransferLabController } from '../../extension/controller';

const ROOT = path.resolve(__dirname, '..', '..');

/** A cell document: text that tests change, offsets and positions as VS Code counts them. */
class FakeDocument {
  readonly languageId: string;
  constructor(
    readonly uri: { scheme: string; fsPath: string; toString(): string },
    public text: string,
    languageId = 'typescript',
  ) {
    this.languageId = languageId;
  }
  getText(): string {
    return this.text;
  }
  offsetAt(p: Position): number {
    const lines = this.text.split('\n');
    return lines.slice(0, p.line).reduce((n, l) => n + l.length + 1, 0) + p.character;
  }
  positionAt(offset: number): Position {
    const { line, character } = positionIn(this.text, offset);
    return new Position(line, character);
  }
  getWordRangeAtPosition(p: Position): Range | undefined {
    const offset = this.offsetAt(p);
    let s = offset;
    while (s > 0 && /[\w$]/.test(this.text[s - 1]!)) s--;
    let e = offset;
    while (e < this.text.length && /[\w$]/.test(this.text[e]!)) e++;
    return s === e ? undefined : new Range(this.positionAt(s), this.positionAt(e));
  }
}

const uri = (scheme: string, p: string, fragment = '') => ({ scheme, fsPath: p, toString: () => `${scheme}://${p}${fragment ? `#${fragment}` : ''}` });

function notebook(file: string, notebookType: string, cells: { kind: number; text: string; language?: string }[], metadata: Record<string, unknown> = {}) {
  const nbUri = uri('file', path.join(ROOT, file));
  const docs = cells.map((c, i) => ({ kind: c.kind, document: new FakeDocument(uri('vscode-notebook-cell', path.join(ROOT, file), `c${i}`), c.text, c.language ?? (c.kind === NotebookCellKind.Code ? 'typescript' : 'markdown')) }));
  return { uri: nbUri, notebookType, metadata, getCells: () => docs, docs: docs.map((d) => d.document) };
}

const events = {
  open: new EventEmitter<unknown>(),
  close: new EventEmitter<unknown>(),
  changeNotebook: new EventEmitter<unknown>(),
  changeText: new EventEmitter<unknown>(),
};
Object.assign(workspace, {
  onDidOpenNotebookDocument: events.open.event,
  onDidCloseNotebookDocument: events.close.event,
  onDidChangeNotebookDocument: events.changeNotebook.event,
  onDidChangeTextDocument: events.changeText.event,
  workspaceFolders: undefined,
});

const logged: string[] = [];
const log = { info: (m: string) => logged.push(m), warn: (m: string) => logged.push(m), error: (m: string) => logged.push(m) };
const checker = new NotebookTypeChecker(ROOT, log, () => false, 20);
const registration = checker.register();
const collection = registered.collections.at(-1)!;
const features = new KernelLanguageFeatures({ session: () => undefined } as unknown as TransferLabController, checker);
const token = { isCancellationRequested: false, onCancellationRequested: () => ({ dispose: () => undefined }) } as unknown as vscode.CancellationToken;

/** Resolves when every listed cell has had its diagnostics delivered (after `act`). */
function diagnosed(cells: { uri: { toString(): string } }[], act: () => void): Promise<Map<string, number>> {
  const waiting = new Set(cells.map((c) => c.uri.toString()));
  const ms = new Map<string, number>();
  return new Promise((resolve) => {
    const sub = checker.onDidDiagnose((e) => {
      ms.set(e.cell.toString(), e.ms);
      waiting.delete(e.cell.toString());
      if (waiting.size === 0) {
        sub.dispose();
        resolve(ms);
      }
    });
    act();
  });
}

after(() => {
  registration.dispose();
  checker.dispose();
});

describe('type checking while typing', () => {
  const nb = notebook('typing.tsnb', 'transferlab-notebook', [
    { kind: NotebookCellKind.Code, text: 'const rate = 0.5;' },
    { kind: NotebookCellKind.Markup, text: '# Not code' },
    { kind: NotebookCellKind.Code, text: 'const ok = rate * 2;\nconst label: string = rate;' },
    { kind: NotebookCellKind.Code, text: 'tl.cka.' },
  ]);
  const [first, , second, third] = nb.docs;

  it('diagnoses a notebook when it opens: the error on its cell, line and columns', async () => {
    (workspace.notebookDocuments as unknown[]).push(nb);
    await diagnosed([first!, second!, third!], () => events.open.fire(nb));
    assert.deepEqual(collection.get(first!.uri), []);
    const [d] = collection.get(second!.uri)!;
    assert.equal(d!.range.start.line, 1);
    assert.equal(d!.range.start.character, 6);
    assert.equal(d!.range.end.character, 'const label'.length);
    assert.equal(d!.code, 2322);
    assert.equal(d!.source, DIAGNOSTIC_SOURCE);
    assert.match(d!.message, /Type 'number' is not assignable to type 'string'/);
    assert.equal(collection.get(nb.docs[1]!.uri), undefined, 'a markdown cell is not checked');
  });

  it('an edit of an earlier cell re-checks the cells after it', async () => {
    first!.text = 'const rate = "half";';
    await diagnosed([first!, second!], () => events.changeText.fire({ document: first, contentChanges: [{ text: 'x' }] }));
    assert.deepEqual(collection.get(second!.uri)!.map((d) => `${d.range.start.line}:${d.code}`), ['0:2362']);
    first!.text = 'const rate = 0.5;';
    await diagnosed([first!, second!], () => events.changeText.fire({ document: first, contentChanges: [{ text: 'x' }] }));
    assert.deepEqual(collection.get(second!.uri)!.map((d) => `${d.range.start.line}:${d.code}`), ['1:2322']);
  });

  it("syntax errors only where VS Code's own TypeScript support does not show them", async () => {
    const text = first!.text;
    first!.text = 'const rate = 0.5 +;';
    await diagnosed([first!], () => events.changeText.fire({ document: first, contentChanges: [{ text: 'x' }] }));
    assert.deepEqual(collection.get(first!.uri)!.map((d) => d.code), [1109]);
    extensions.installed.add(BUILTIN_TYPESCRIPT);
    try {
      first!.text = 'const rate = 0.5 +;;';
      await diagnosed([first!], () => events.changeText.fire({ document: first, contentChanges: [{ text: 'x' }] }));
      assert.deepEqual(collection.get(first!.uri), [], 'shown twice: by VS Code and by us');
    } finally {
      extensions.installed.delete(BUILTIN_TYPESCRIPT);
    }
    first!.text = text;
    await diagnosed([first!], () => events.changeText.fire({ document: first, contentChanges: [{ text: 'x' }] }));
  });

  it('registers completion on ".", hover, and signature help on "(" and ","', () => {
    registered.providers.length = 0;
    features.register();
    assert.deepEqual(registered.providers.map((p) => p.kind), ['completion', 'hover', 'signatureHelp']);
    assert.deepEqual(registered.providers[0]!.triggers, ['.']);
    assert.deepEqual(registered.providers[2]!.triggers, [{ triggerCharacters: ['(', ','], retriggerCharacters: [')'] }]);
    assert.deepEqual(registered.providers[0]!.selector, [
      { notebookType: 'transferlab-notebook', language: 'typescript' },
      { notebookType: 'jupyter-notebook', language: 'typescript' },
    ]);
  });

  it('completion without a kernel: public names only, documentation on resolve', async () => {
    const list = (await features.provideCompletionItems(third as unknown as vscode.TextDocument, new Position(0, 'tl.cka.'.length) as vscode.Position, token)) as unknown as CompletionList;
    const names = list.items.map((i) => i.label);
    assert.ok(names.includes('linear'));
    assert.ok(!names.includes('ckaInternals'));
    const item = list.items.find((i) => i.label === 'linear')!;
    const resolved = (await features.resolveCompletionItem(item as unknown as vscode.CompletionItem, token)) as unknown as CompletionItem;
    assert.match(resolved.detail!, /function linear\(/);
    assert.match(resolved.documentation!.value, /Linear CKA between two representations/);
    assert.match(resolved.documentation!.value, /\*@example\*\n```ts/);
  });

  it('signature help after "(" and hover with Markdown docs', async () => {
    third!.text = 'const X = tf.zeros([4, 2]);\ntl.cka.linear(';
    const help = (await features.provideSignatureHelp(third as unknown as vscode.TextDocument, new Position(1, 'tl.cka.linear('.length) as vscode.Position, token)) as unknown as SignatureHelp;
    assert.equal(help.activeParameter, 0);
    assert.match(help.signatures[help.activeSignature]!.label, /^linear\(X: tl\.cka\.Features/);
    assert.deepEqual(help.signatures[0]!.parameters[0]!.label, [7, 7 + 'X: tl.cka.Features'.length]);
    const hover = (await features.provideHover(third as unknown as vscode.TextDocument, new Position(1, 9) as vscode.Position, token)) as unknown as Hover;
    const md = (hover.contents as MarkdownString).value;
    assert.match(md, /```typescript\n\(alias\) (function )?linear\(X: tl\.cka\.Features/);
    assert.match(md, /returns a \[`CkaEstimate`\]\(file:\/\//, 'a link after the example');
    assert.equal(hover.range!.start.character, 'tl.cka.'.length);
  });

  it('checks TypeScript .ipynb notebooks, not others; closing clears the squiggles', async () => {
    const ts = notebook('typing.ipynb', 'jupyter-notebook', [{ kind: NotebookCellKind.Code, text: 'const n: number = "x";' }], { metadata: { kernelspec: { language: 'typescript' } } });
    const py = notebook('other.ipynb', 'jupyter-notebook', [{ kind: NotebookCellKind.Code, text: 'x: int = "s"', language: 'python' }], { metadata: { kernelspec: { language: 'python' } } });
    assert.equal(checker.checks(ts as unknown as vscode.NotebookDocument), true);
    assert.equal(checker.checks(py as unknown as vscode.NotebookDocument), false);
    (workspace.notebookDocuments as unknown[]).push(ts, py);
    await diagnosed([ts.docs[0]!], () => events.open.fire(ts));
    assert.deepEqual(collection.get(ts.docs[0]!.uri)!.map((d) => d.code), [2322]);
    events.close.fire(ts);
    assert.equal(collection.get(ts.docs[0]!.uri), undefined);
    events.open.fire(py);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(collection.get(py.docs[0]!.uri), undefined);
    assert.deepEqual(logged, []);
  });
});
