/**
 * The extension's half of the charts' Save / Copy (extension/figureExport.ts) under plain Node:
 * messages from the chart renderers are checked, a save asks for a file next to the notebook,
 * named after the chart, and writes the decoded bytes; a copy writes SVG text to the clipboard.
 */
import './vscodeFake';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type * as FigureExport from '../../extension/figureExport';
import { CHART_RENDERER_IDS } from '../../kernel/protocol/rendererMessages';

interface FakeUri {
  scheme: string;
  fsPath: string;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const vscode = require('vscode') as Record<string, any>;
const listeners = new Map<string, (e: { editor: unknown; message: unknown }) => void>();
const dialogs: Array<{ defaultUri?: FakeUri; filters?: Record<string, string[]> }> = [];
const writes: Array<{ path: string; bytes: Uint8Array }> = [];
const clipboard: string[] = [];
const errors: string[] = [];
let answer: FakeUri | undefined;

// The fake's `notebooks` (shared with other tests) gets the renderer messaging this test needs.
Object.assign(vscode['notebooks'], {
  createRendererMessaging: (id: string) => ({
    onDidReceiveMessage: (listener: (e: { editor: unknown; message: unknown }) => void) => {
      listeners.set(id, listener);
      return { dispose: () => listeners.delete(id) };
    },
  }),
});
vscode['env'] = { clipboard: { writeText: async (t: string) => void clipboard.push(t) } };
vscode['Uri'].joinPath = (base: FakeUri, ...parts: string[]) => {
  let p = base.fsPath;
  for (const part of parts) p = part === '..' ? p.slice(0, p.lastIndexOf('/')) : `${p}/${part}`;
  return vscode['Uri'].file(p);
};
Object.assign(vscode['window'], {
  showSaveDialog: async (o: { defaultUri?: FakeUri; filters?: Record<string, string[]> }) => {
    dialogs.push(o);
    return answer;
  },
  setStatusBarMessage: () => ({ dispose: () => undefined }),
  showErrorMessage: async (m: string) => void errors.push(m),
});
Object.assign(vscode['workspace'], {
  fs: { writeFile: async (uri: FakeUri, bytes: Uint8Array) => void writes.push({ path: uri.fsPath, bytes }) },
  asRelativePath: (uri: FakeUri) => uri.fsPath,
  workspaceFolders: undefined,
});

// Loaded after the stand-ins above exist (its `import * as vscode` copies the module's names when loaded).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { registerFigureExport } = require('../../extension/figureExport') as typeof FigureExport;

const settle = () => new Promise((r) => setTimeout(r, 10));
const editor = { notebook: { uri: vscode['Uri'].file('/home/ada/papers/analysis.tsnb') } };

test('listens to every chart renderer; disposing stops listening', () => {
  const disposables = registerFigureExport();
  assert.deepEqual([...listeners.keys()].sort(), [...CHART_RENDERER_IDS].sort());
  for (const d of disposables) d.dispose();
  assert.equal(listeners.size, 0);
});

test('Save as PNG: a dialog next to the notebook, named after the chart; the decoded bytes written', async () => {
  const disposables = registerFigureExport();
  answer = vscode['Uri'].file('/home/ada/papers/figure-1.png');
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
  listeners.get('transferlab-cka')!({ editor, message: { type: 'transferlab.saveImage', format: 'png', data: png.toString('base64'), name: 'CKA - P-T vs RI-T.png' } });
  await settle();
  assert.equal(dialogs.at(-1)!.defaultUri!.fsPath, '/home/ada/papers/CKA - P-T vs RI-T.png');
  assert.deepEqual(dialogs.at(-1)!.filters, { 'PNG image': ['png'] });
  assert.equal(writes.at(-1)!.path, '/home/ada/papers/figure-1.png');
  assert.deepEqual([...writes.at(-1)!.bytes], [...png]);
  // SVG is written as UTF-8 text.
  answer = vscode['Uri'].file('/home/ada/papers/figure-1.svg');
  listeners.get('transferlab-vegalite')!({ editor, message: { type: 'transferlab.saveImage', format: 'svg', data: '<svg>é</svg>', name: 'chart.svg' } });
  await settle();
  assert.equal(Buffer.from(writes.at(-1)!.bytes).toString('utf8'), '<svg>é</svg>');
  // Cancelled: nothing written.
  answer = undefined;
  const before = writes.length;
  listeners.get('transferlab-training')!({ editor, message: { type: 'transferlab.saveImage', format: 'png', data: '', name: 'x.png' } });
  await settle();
  assert.equal(writes.length, before);
  for (const d of disposables) d.dispose();
});

test('Copy puts SVG text on the clipboard; malformed messages do nothing', async () => {
  const disposables = registerFigureExport();
  listeners.get('transferlab-interpolation')!({ editor, message: { type: 'transferlab.copyImage', svg: '<svg/>' } });
  await settle();
  assert.deepEqual(clipboard, ['<svg/>']);
  const [d, w] = [dialogs.length, writes.length];
  for (const message of [null, { type: 'transferlab.saveImage', format: 'exe', data: 'x', name: 'a' }, { type: 'transferlab.copyImage' }, 'save']) {
    listeners.get('transferlab-cka')!({ editor, message });
  }
  await settle();
  assert.deepEqual([dialogs.length, writes.length, clipboard.length, errors.length], [d, w, 1, 0]);
  for (const x of disposables) x.dispose();
});

test('a renderer whose messaging VS Code refuses is logged and skipped; the others still listen', () => {
  const create = vscode['notebooks'].createRendererMessaging as (id: string) => unknown;
  vscode['notebooks'].createRendererMessaging = (id: string) => {
    if (id === 'transferlab-cka') throw new Error(`Extensions may only call createRendererMessaging() for renderers they contribute (got ${id})`);
    return create(id);
  };
  const logged: string[] = [];
  try {
    const disposables = registerFigureExport((line) => logged.push(line));
    assert.equal(disposables.length, CHART_RENDERER_IDS.length - 1);
    assert.ok(!listeners.has('transferlab-cka'));
    assert.equal(logged.length, 1);
    assert.match(logged[0]!, /transferlab-cka: Extensions may only call/);
    for (const d of disposables) d.dispose();
  } finally {
    vscode['notebooks'].createRendererMessaging = create;
  }
});
