/**
 * "TransferLab: Export Notebook to HTML" (extension/exportHtml.ts) under plain Node: the command
 * asks with or without code and where, saves a dirty notebook first, writes the same report as
 * `transferlab export --to html`, and writes nothing when cancelled or when the file is malformed.
 */
import './vscodeFake';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type * as ExportHtml from '../../extension/exportHtml';

interface FakeUri {
  scheme: string;
  fsPath: string;
  path: string;
  with(change: { path: string }): FakeUri;
  toString(): string;
}
const uri = (p: string): FakeUri => ({ scheme: 'file', fsPath: p, path: p, with: (c) => uri(c.path), toString: () => `file://${p}` });

// eslint-disable-next-line @typescript-eslint/no-require-imports
const vscode = require('vscode') as Record<string, any>;
const handlers = new Map<string, (arg?: unknown) => Promise<void>>();
const dialogs: Array<{ defaultUri?: FakeUri }> = [];
const errors: string[] = [];
const opened: FakeUri[] = [];
let pick: 'With code' | 'Outputs only' | undefined;
let target: FakeUri | undefined;
let openAnswer: string | undefined;

vscode['commands'] = {
  registerCommand: (id: string, fn: (arg?: unknown) => Promise<void>) => {
    handlers.set(id, fn);
    return { dispose: () => handlers.delete(id) };
  },
};
vscode['env'] = { openExternal: async (u: FakeUri) => void opened.push(u) };
Object.assign(vscode['window'], {
  showQuickPick: async (items: Array<{ label: string }>) => items.find((i) => i.label === pick),
  showSaveDialog: async (o: { defaultUri?: FakeUri }) => {
    dialogs.push(o);
    return target;
  },
  showErrorMessage: async (m: string) => void errors.push(m),
  showInformationMessage: async () => openAnswer,
});
Object.assign(vscode['workspace'], {
  fs: {
    readFile: async (u: FakeUri) => new Uint8Array(readFileSync(u.fsPath)),
    writeFile: async (u: FakeUri, bytes: Uint8Array) => writeFileSync(u.fsPath, bytes),
  },
});

// Loaded after the stand-ins above exist (its `import * as vscode` copies the module's names when loaded).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { registerExportHtml, reportUri, EXPORT_HTML_COMMAND } = require('../../extension/exportHtml') as typeof ExportHtml;

const dir = mkdtempSync(path.join(os.tmpdir(), 'transferlab-export-html-'));
const file = path.join(dir, 'analysis.tsnb');
copyFileSync(path.join(__dirname, '..', 'e2e', 'fixtures', 'workspace', 'smoke.tsnb'), file);

function notebookAt(p: string, options: { dirty?: boolean; untitled?: boolean } = {}) {
  const nb = { uri: uri(p), isDirty: options.dirty ?? false, isUntitled: options.untitled ?? false, saves: 0, save: async () => ((nb.saves += 1), (nb.isDirty = false), true) };
  return nb;
}

async function run(notebook: unknown): Promise<void> {
  vscode['window'].activeNotebookEditor = notebook === undefined ? undefined : { notebook };
  await handlers.get(EXPORT_HTML_COMMAND)!();
}

test('the report sits next to the notebook: analysis.tsnb and analysis.ipynb give analysis.html', () => {
  assert.equal(reportUri(uri('/home/ada/analysis.tsnb') as never).fsPath, '/home/ada/analysis.html');
  assert.equal(reportUri(uri('/home/ada/analysis.ipynb') as never).fsPath, '/home/ada/analysis.html');
});

test('Export to HTML: with code, outputs only, a dirty notebook saved first, then offered to open', async () => {
  const disposable = registerExportHtml();
  try {
    // With code: the dialog proposes analysis.html; the report has the heading, the code and its output.
    pick = 'With code';
    target = uri(path.join(dir, 'with-code.html'));
    openAnswer = 'Open in Browser';
    const nb = notebookAt(file, { dirty: true });
    await run(nb);
    assert.deepEqual(errors, []);
    assert.equal(nb.saves, 1, 'a dirty notebook is saved before it is read');
    assert.equal(dialogs.at(-1)!.defaultUri!.fsPath, path.join(dir, 'analysis.html'));
    const withCode = readFileSync(target.fsPath, 'utf8');
    assert.match(withCode, /^<!DOCTYPE html>/i);
    assert.match(withCode, /Smoke test/);
    assert.match(withCode, /saved output/);
    assert.match(withCode, /console\.log\(/);
    assert.deepEqual(opened.map((u) => u.fsPath), [target.fsPath]);

    // Outputs only: the output stays, the code goes.
    pick = 'Outputs only';
    target = uri(path.join(dir, 'outputs-only.html'));
    openAnswer = undefined;
    await run(notebookAt(file));
    const outputsOnly = readFileSync(target.fsPath, 'utf8');
    assert.match(outputsOnly, /saved output/);
    assert.doesNotMatch(outputsOnly, /console\.log\(/);
    assert.equal(opened.length, 1, 'not opened when the user does not ask');
  } finally {
    disposable.dispose();
  }
});

test('cancelled, untitled or malformed: nothing is written, and the error names the file', async () => {
  const disposable = registerExportHtml();
  try {
    // Cancelled at the first question: no dialog, no file.
    pick = undefined;
    target = uri(path.join(dir, 'cancelled.html'));
    const before = dialogs.length;
    await run(notebookAt(file));
    assert.equal(dialogs.length, before);
    assert.ok(!existsSync(target.fsPath));

    // An untitled notebook (or none) has no file to export.
    pick = 'With code';
    await run(notebookAt(path.join(dir, 'Untitled-1.tsnb'), { untitled: true }));
    await run(undefined);
    assert.equal(errors.length, 2);
    for (const e of errors) assert.match(e, /open a saved notebook to export it to HTML/);

    // A malformed file: an error naming it, nothing written.
    const broken = path.join(dir, 'broken.tsnb');
    writeFileSync(broken, '{"cells": [');
    target = uri(path.join(dir, 'broken.html'));
    await run(notebookAt(broken));
    assert.equal(errors.length, 3);
    assert.match(errors[2]!, /cannot export to HTML: .*broken\.tsnb/);
    assert.ok(!existsSync(target.fsPath));
  } finally {
    disposable.dispose();
  }
});
