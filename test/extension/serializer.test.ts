import { test } from 'node:test';
import assert from 'node:assert/strict';
import type * as vscode from 'vscode';
import { NotebookOpenError, PRESERVED_KEY, TsnbSerializer, VscodeMime, type NotebookApi } from '../../extension/serializer';
import { NotebookSchemaError, NotebookSyntaxError, NotebookVersionError, stableStringify } from '../../kernel/protocol/tsnb';
import { CANONICAL } from '../protocol/fixtures';
import { CellData, Data, Kind } from './notebookApiFake';

// Stand-ins for the constructors of the `vscode` module (which exists only in the extension host),
// with the same fields as the real classes; the notebook data ones are shared (notebookApiFake.ts).
class OutputItem {
  constructor(
    public data: Uint8Array,
    public mime: string,
  ) {}
}
let outputIds = 0;
class Output {
  id = `output-${++outputIds}`;
  constructor(
    public items: vscode.NotebookCellOutputItem[],
    public metadata?: { [key: string]: unknown },
  ) {}
}
const api: NotebookApi = { NotebookData: Data, NotebookCellData: CellData, NotebookCellOutput: Output, NotebookCellOutputItem: OutputItem, NotebookCellKind: Kind };

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
const serializer = (saveOutputs = true): TsnbSerializer => new TsnbSerializer({ api, saveOutputsSetting: () => saveOutputs });

test('opening and saving an unchanged notebook is byte-identical', () => {
  const s = serializer();
  const data = s.deserializeNotebook(enc(CANONICAL));
  assert.equal(dec(s.serializeNotebook(data)), CANONICAL);
  // and again, from the model the second save produced
  assert.equal(dec(s.serializeNotebook(s.deserializeNotebook(s.serializeNotebook(data)))), CANONICAL);
});

test('the VS Code model: kinds, languages, execution order, output items', () => {
  const data = serializer().deserializeNotebook(enc(CANONICAL));
  assert.deepEqual(
    data.cells.map((c) => [c.kind, c.languageId]),
    [
      [Kind.Markup, 'markdown'],
      [Kind.Code, 'typescript'],
      [Kind.Code, 'typescript'],
    ],
  );
  assert.equal(data.metadata?.['backend'], 'wasm');
  const code = data.cells[1]!;
  assert.equal(code.executionSummary?.executionOrder, 3);
  assert.deepEqual(code.metadata, { id: 'run', metadata: { tags: ['slow'] } });
  const [stream, result, error] = code.outputs!;
  assert.equal(stream!.items[0]!.mime, VscodeMime.stdout);
  assert.equal(dec(stream!.items[0]!.data), 'epoch 1\nepoch 2\n');
  const byMime = new Map(result!.items.map((i) => [i.mime, i.data]));
  assert.deepEqual(JSON.parse(dec(byMime.get('application/vnd.transferlab.cka+json')!)).rows, ['conv1']);
  assert.deepEqual([...byMime.get('image/png')!], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.equal(dec(byMime.get('text/plain')!), 'CKA 1×1\nconv1 1.000');
  assert.deepEqual(result!.metadata, { outputType: 'execute_result', metadata: {}, executionCount: 3 });
  assert.deepEqual(JSON.parse(dec(error!.items[0]!.data)), {
    name: 'TypeError',
    message: 'x is not a function',
    stack: 'TypeError: x is not a function\n    at cell 2:1:1',
  });
  assert.equal(data.cells[2]!.executionSummary, undefined);
});

test('unknown fields survive opening and saving', () => {
  const doc = JSON.parse(CANONICAL);
  doc.future = { x: 1 };
  doc.cells[0].future_cell = [1];
  doc.cells[1].outputs[1].future_output = 'y';
  doc.metadata.future_meta = true;
  const text = `${stableStringify(doc)}\n`;
  const s = serializer();
  const data = s.deserializeNotebook(enc(text));
  assert.deepEqual(data.metadata?.[PRESERVED_KEY], { future: { x: 1 } });
  assert.equal(dec(s.serializeNotebook(data)), text);
});

test('the setting and the per-notebook flag save without outputs', () => {
  const bare = (text: string, setting: boolean): boolean => {
    const s = serializer(setting);
    const saved = JSON.parse(dec(s.serializeNotebook(s.deserializeNotebook(enc(text)))));
    const code = saved.cells[1];
    return code.outputs.length === 0 && code.execution_count === null;
  };
  const flagged = (flag: boolean): string => {
    const doc = JSON.parse(CANONICAL);
    doc.metadata.transferlab = { saveOutputs: flag };
    return JSON.stringify(doc);
  };
  assert.equal(bare(CANONICAL, true), false);
  assert.equal(bare(CANONICAL, false), true);
  assert.equal(bare(flagged(false), true), true);
  assert.equal(bare(flagged(true), false), false);
});

test('a malformed or truncated file throws with line and column instead of opening empty', () => {
  const s = serializer();
  const truncated = CANONICAL.slice(0, 300);
  assert.throws(
    () => s.deserializeNotebook(enc(truncated)),
    (e: unknown) => {
      assert.ok(e instanceof NotebookOpenError);
      assert.ok(e.cause instanceof NotebookSyntaxError);
      assert.match(e.message, /^Cannot open this TransferLab notebook: not valid JSON at line \d+, column \d+: unexpected end of the file/);
      assert.match(e.message, /left unchanged/);
      return true;
    },
  );
  assert.throws(
    () => s.deserializeNotebook(enc(CANONICAL.replace('"source": []', '"source": 3'))),
    (e: unknown) => e instanceof NotebookOpenError && e.cause instanceof NotebookSchemaError && /cells\[2\]\.source must be/.test(e.message),
  );
  assert.throws(
    () => s.deserializeNotebook(enc(CANONICAL.replace('"format_version": 1', '"format_version": 9'))),
    (e: unknown) => e instanceof NotebookOpenError && e.cause instanceof NotebookVersionError && /format version 9/.test(e.message),
  );
  const binary = new Uint8Array([...enc('{\n  "cells": '), 0xff, 0xfe]);
  assert.throws(
    () => s.deserializeNotebook(binary),
    (e: unknown) => e instanceof NotebookOpenError && /line 2, column 12: byte 0xff at offset 13 is not UTF-8/.test(e.message),
  );
});

test('an empty file (just created) opens as a new TransferLab notebook', () => {
  const s = serializer();
  for (const content of [new Uint8Array(0), enc(' \n')]) {
    const data = s.deserializeNotebook(content);
    assert.equal(data.cells.length, 0);
    assert.equal((data.metadata?.['kernel'] as { name: string }).name, 'transferlab');
  }
});

test('outputs made by a controller (no metadata) are saved with the right nbformat types', () => {
  const s = serializer();
  const cell = new CellData(Kind.Code, 'console.log(1)\nthrow new Error("boom")', 'typescript');
  cell.executionSummary = { executionOrder: 7, success: false, timing: { startTime: 1, endTime: 2 } };
  cell.outputs = [
    new Output([new OutputItem(enc('1\n'), VscodeMime.stdout), new OutputItem(enc('2\n'), VscodeMime.stdout)]),
    new Output([new OutputItem(enc('warn\n'), VscodeMime.stderr)]),
    new Output([
      new OutputItem(enc('{"rows":["a"],"columns":["a"],"values":[[1]],"kind":"linear","debiased":false}'), 'application/vnd.transferlab.cka+json'),
      new OutputItem(new Uint8Array([1, 2, 3]), 'image/png'),
      new OutputItem(enc('<b>x</b>'), 'text/html'),
    ]),
    new Output([new OutputItem(enc('42'), 'text/plain')], { outputType: 'execute_result', executionCount: 7 }),
    new Output([new OutputItem(enc(JSON.stringify({ name: 'Error', message: 'boom', stack: 'Error: boom\n    at <cell>:2:7' })), VscodeMime.error)]),
  ];
  const md = new CellData(Kind.Markup, '# Title', 'markdown');
  const js = new CellData(Kind.Code, '1', 'javascript');
  const data = new Data([md, cell, js]);
  const saved = JSON.parse(dec(s.serializeNotebook(data)));
  assert.equal(saved.metadata.kernel.name, 'transferlab');
  assert.equal(saved.metadata.format_version, 1);
  assert.deepEqual(saved.cells[0], { cell_type: 'markdown', metadata: {}, source: ['# Title'] });
  const code = saved.cells[1];
  assert.equal(code.execution_count, 7);
  assert.deepEqual(code.outputs, [
    { output_type: 'stream', name: 'stdout', text: ['1\n', '2\n'] },
    { output_type: 'stream', name: 'stderr', text: ['warn\n'] },
    {
      output_type: 'display_data',
      metadata: {},
      data: {
        'application/vnd.transferlab.cka+json': { columns: ['a'], debiased: false, kind: 'linear', rows: ['a'], values: [[1]] },
        'image/png': 'AQID',
        'text/html': ['<b>x</b>'],
      },
    },
    { output_type: 'execute_result', metadata: {}, execution_count: 7, data: { 'text/plain': ['42'] } },
    { output_type: 'error', ename: 'Error', evalue: 'boom', traceback: ['Error: boom', '    at <cell>:2:7'] },
  ]);
  assert.deepEqual(saved.cells[2].metadata, { vscode: { languageId: 'javascript' } });
  // and a cell switched back to the notebook's language keeps the record up to date
  const reopened = s.deserializeNotebook(s.serializeNotebook(data));
  assert.equal(reopened.cells[2]!.languageId, 'javascript');
  reopened.cells[2]!.languageId = 'typescript';
  assert.deepEqual(JSON.parse(dec(s.serializeNotebook(reopened))).cells[2].metadata, { vscode: { languageId: 'typescript' } });
});

test('raw cells and markdown attachments round-trip', () => {
  const doc = {
    cells: [
      { cell_type: 'raw', metadata: { format: 'text/x-rst' }, source: ['.. note::'] },
      { attachments: { 'a.png': { 'image/png': 'AQID' } }, cell_type: 'markdown', metadata: {}, source: ['![a](attachment:a.png)'] },
    ],
    metadata: { format_version: 1 },
  };
  const text = `${stableStringify(doc)}\n`;
  const s = serializer();
  const data = s.deserializeNotebook(enc(text));
  assert.deepEqual([data.cells[0]!.kind, data.cells[0]!.languageId], [Kind.Code, 'raw']);
  assert.equal(dec(s.serializeNotebook(data)), text);
});

// ---- issue 10: what VS Code opens, it saves as it was ------------------------------------------

const roundTrip = (doc: unknown): void => {
  const text = `${stableStringify(doc)}\n`;
  const s = serializer();
  assert.equal(dec(s.serializeNotebook(s.deserializeNotebook(enc(text)))), text);
};

test('a code cell in the language "raw", or in a notebook whose language is raw, stays a code cell with its outputs', () => {
  const code = (languageId?: string): object => ({
    cell_type: 'code',
    execution_count: 2,
    metadata: languageId === undefined ? {} : { vscode: { languageId } },
    outputs: [{ name: 'stdout', output_type: 'stream', text: ['hi\n'] }],
    source: ['x'],
  });
  roundTrip({ cells: [code('raw'), code()], metadata: { format_version: 1 } });
  roundTrip({ cells: [code(), { cell_type: 'raw', metadata: {}, source: ['r'] }], metadata: { format_version: 1, kernel: { language: 'raw', name: 'transferlab' } } });
});

test("metadata named like the serializer's own keys stays in metadata", () => {
  roundTrip({ cells: [], metadata: { format_version: 1, [PRESERVED_KEY]: { a: 1 }, tsnbShadowed: [2] } });
  roundTrip({ cells: [], future: true, metadata: { format_version: 1, [PRESERVED_KEY]: { a: 1 } } });
});

test('an execute_result without a count keeps it null; lone surrogates survive', () => {
  roundTrip({
    cells: [
      {
        cell_type: 'code',
        execution_count: 5,
        metadata: { note: 'a\ud800b' },
        outputs: [
          { data: { 'text/plain': ['x\udc00'] }, execution_count: null, metadata: {}, output_type: 'execute_result' },
          { name: 'stdout', output_type: 'stream', text: ['\ud83d\n', 'ok'] },
          { data: { 'application/json': { s: '\udfff' }, 'image/png': ['not base64!'] }, metadata: {}, output_type: 'display_data' },
        ],
        source: ['s\ud800'],
      },
    ],
    metadata: { format_version: 1 },
  });
});

test('numbers a double cannot hold and deep nesting: opened and saved exactly, or refused with a position', () => {
  const text = `{\n  "cells": [],\n  "metadata": {\n    "big": 12345678901234567891,\n    "format_version": 1,\n    "huge": 1e400\n  }\n}\n`;
  const s = serializer();
  assert.equal(dec(s.serializeNotebook(s.deserializeNotebook(enc(text)))), text);
  const deep = `{"metadata": {"format_version": 1, "x": ${'['.repeat(2000)}${']'.repeat(2000)}}, "cells": []}`;
  assert.throws(
    () => s.deserializeNotebook(enc(deep)),
    (e: unknown) => e instanceof NotebookOpenError && e.cause instanceof NotebookSyntaxError && /line 1, column \d+: nesting deeper/.test(e.message),
  );
});

/**
 * VS Code hands notebook, cell and output metadata between its processes as JSON: what the
 * serializer gives it comes back as plain JSON values. Numbers a double cannot hold must survive
 * that trip, and a value edited in between must be saved as edited.
 */
function acrossProcesses(data: vscode.NotebookData): vscode.NotebookData {
  const json = <T>(v: T): T => (v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T));
  const nb = new Data(
    data.cells.map((c) => {
      const cell = new CellData(c.kind, c.value, c.languageId);
      cell.metadata = json(c.metadata);
      if (c.executionSummary) cell.executionSummary = json(c.executionSummary);
      if (c.outputs) cell.outputs = c.outputs.map((o) => new Output(o.items.map((i) => new OutputItem(i.data, i.mime)), json(o.metadata)));
      return cell;
    }),
  );
  nb.metadata = json(data.metadata);
  return nb;
}

test('numbers a double cannot hold survive VS Code passing metadata between processes as JSON', () => {
  const text = `{
  "cells": [
    {
      "cell_type": "code",
      "execution_count": 1,
      "metadata": {
        "seed": 98765432109876543210,
        "tags": [1.0, 1e400]
      },
      "outputs": [
        {
          "data": {
            "text/plain": "x"
          },
          "metadata": {
            "n": 18446744073709551617
          },
          "output_type": "display_data"
        }
      ],
      "source": "1"
    }
  ],
  "metadata": {
    "big": 12345678901234567891,
    "format_version": 1,
    "huge": 1e400,
    "tsnbNumbers": [[["big"], "1"]]
  }
}
`;
  const s = serializer();
  // The file in the writer's own layout (arrays one item a line), with every number as written.
  const canonical = dec(s.serializeNotebook(s.deserializeNotebook(enc(text))));
  for (const n of ['98765432109876543210', '1.0', '1e400', '18446744073709551617', '12345678901234567891']) assert.ok(canonical.includes(n), n);
  const opened = s.deserializeNotebook(enc(canonical));
  assert.equal(dec(s.serializeNotebook(acrossProcesses(opened))), canonical);
  // A user key named like the serializer's list is kept as the user's.
  assert.match(canonical, /"tsnbNumbers": \[/);
  // An edited number is saved as edited; the others keep their digits.
  const edited = acrossProcesses(opened);
  (edited.metadata as { big: number }).big = 7;
  const saved = dec(s.serializeNotebook(edited));
  assert.match(saved, /"big": 7,/);
  assert.match(saved, /"huge": 1e400,/);
  assert.match(saved, /"seed": 98765432109876543210,/);
  assert.match(saved, /"n": 18446744073709551617/);
});
