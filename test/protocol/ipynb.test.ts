import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { ipynbToTsnb, tsnbToIpynb } from '../../kernel/protocol/ipynb';
import { NotebookSchemaError, NotebookSyntaxError, NotebookVersionError, createTsnbNotebook, parseTsnb, serializeTsnb, stableStringify } from '../../kernel/protocol/tsnb';
import { PYTHON, requirePythonModule } from '../helpers/tools';
import { richNotebook } from '../cli/fixtures';
import { CANONICAL } from './fixtures';

/** An nbformat 4.4 notebook as Jupyter writes it (no cell ids, a Python kernel, base64 split in lines). */
const JUPYTER = JSON.stringify(
  {
    cells: [
      { cell_type: 'markdown', metadata: {}, source: ['# Title\n', 'text ![a](attachment:a.png)'], attachments: { 'a.png': { 'image/png': 'iVBO\nRw0K\n' } } },
      {
        cell_type: 'code',
        execution_count: 4,
        metadata: { scrolled: true },
        source: 'print(1)\n1',
        outputs: [
          { name: 'stdout', output_type: 'stream', text: ['1\n'] },
          { data: { 'image/png': 'iVBO\nRw0K\n', 'text/plain': ['<Figure>'] }, metadata: { 'image/png': { width: 10 } }, output_type: 'display_data' },
          { data: { 'text/plain': ['1'] }, execution_count: 4, metadata: {}, output_type: 'execute_result' },
          { ename: 'ValueError', evalue: 'bad', output_type: 'error', traceback: ['\u001b[0;31mValueError\u001b[0m'] },
        ],
      },
      { cell_type: 'raw', metadata: { format: 'text/x-rst' }, source: '.. note::' },
    ],
    metadata: { kernelspec: { display_name: 'Python 3', language: 'python', name: 'python3' }, language_info: { name: 'python' } },
    nbformat: 4,
    nbformat_minor: 4,
  },
  null,
  1,
);

test('import: an .ipynb becomes a .tsnb with its outputs, on the TransferLab kernel', () => {
  const { notebook, warnings } = ipynbToTsnb(JUPYTER, 'a.ipynb');
  assert.deepEqual(notebook.metadata.kernel, { name: 'transferlab', display_name: 'TransferLab (TypeScript)', language: 'typescript' });
  assert.equal(notebook.metadata.format_version, 1);
  assert.deepEqual(notebook.metadata['kernelspec'], { display_name: 'Python 3', language: 'python', name: 'python3' });
  assert.deepEqual(warnings, ["the notebook's language is python; its code cells are kept as they are but will run as TypeScript"]);
  assert.deepEqual(
    notebook.cells.map((c) => c.cell_type),
    ['markdown', 'code', 'raw'],
  );
  const code = notebook.cells[1]!;
  assert.ok(code.cell_type === 'code');
  assert.equal(code.execution_count, 4);
  assert.deepEqual(
    code.outputs.map((o) => o.output_type),
    ['stream', 'display_data', 'execute_result', 'error'],
  );
  const shown = code.outputs[1]!;
  assert.ok(shown.output_type === 'display_data');
  assert.equal(shown.data['image/png'], 'iVBORw0K');
  assert.deepEqual(shown.metadata, { 'image/png': { width: 10 } });
  // the result is a valid .tsnb that re-saves identically
  const text = serializeTsnb(notebook);
  assert.equal(serializeTsnb(parseTsnb(text)), text);
});

test('import: bad files are refused with the file and the position', () => {
  assert.throws(
    () => ipynbToTsnb(JUPYTER.slice(0, 200), 'cut.ipynb'),
    (e: unknown) => e instanceof NotebookSyntaxError && /^cut\.ipynb: not valid JSON at line \d+, column \d+: /.test(e.message),
  );
  const doc = JSON.parse(JUPYTER);
  const variant = (mutate: (d: any) => void): string => {
    const d = structuredClone(doc);
    mutate(d);
    return JSON.stringify(d);
  };
  assert.throws(
    () => ipynbToTsnb(variant((d) => (d.cells[1].outputs[2].output_type = 'result')), 'x.ipynb'),
    (e: unknown) => e instanceof NotebookSchemaError && e.path === 'cells[1].outputs[2].output_type' && e.message.startsWith('x.ipynb: cells[1].outputs[2].output_type must be'),
  );
  assert.throws(() => ipynbToTsnb(variant((d) => delete d.cells), 'x.ipynb'), /x\.ipynb: cells is missing/);
  assert.throws(
    () => ipynbToTsnb(variant((d) => (d.nbformat = 3)), 'old.ipynb'),
    (e: unknown) => e instanceof NotebookVersionError && e.found === 3 && /nbconvert --to notebook --nbformat 4/.test(e.message),
  );
  assert.throws(() => ipynbToTsnb(variant((d) => (d.nbformat = 5)), 'new.ipynb'), (e: unknown) => e instanceof NotebookVersionError && e.found === 5);
  assert.throws(() => ipynbToTsnb(CANONICAL, 'a.tsnb'), /a\.tsnb: nbformat is missing: not a Jupyter notebook \(it looks like a \.tsnb notebook already\)/);
});

test('export: nbformat 4.5 with the transferlab kernelspec, ids added, unknown fields left out with a warning', () => {
  const doc = JSON.parse(CANONICAL);
  doc.cells[1].future = 1;
  doc.extra = true;
  const { notebook, warnings } = tsnbToIpynb(parseTsnb(JSON.stringify(doc)));
  const nb = JSON.parse(notebook);
  assert.equal(nb.nbformat, 4);
  assert.equal(nb.nbformat_minor, 5);
  assert.deepEqual(nb.metadata.kernelspec, { name: 'transferlab', display_name: 'TransferLab (TypeScript)', language: 'typescript' });
  assert.equal(nb.metadata.language_info.name, 'typescript');
  assert.equal(nb.metadata.backend, 'wasm');
  assert.equal(nb.metadata.format_version, undefined);
  assert.deepEqual(
    nb.cells.map((c: { id: string }) => c.id),
    ['intro', 'run', 'cell-1'],
  );
  assert.equal(nb.cells[1].future, undefined);
  assert.deepEqual(warnings, ['top-level field extra left out (nbformat has no place for it)', 'cells[1].future left out (nbformat has no place for it)']);
  // Jupyter's layout: 1-space indent, sorted keys, trailing newline
  assert.match(notebook, /^\{\n "cells": \[\n {2}\{\n {3}"cell_type": "markdown",/);
  assert.ok(notebook.endsWith('}\n'));
});

test('export: invalid and duplicate ids are replaced', () => {
  const nb = parseTsnb(CANONICAL);
  nb.cells[0]!.id = 'has space';
  nb.cells[2]!.id = 'run';
  const ids = JSON.parse(tsnbToIpynb(nb).notebook).cells.map((c: { id: string }) => c.id);
  assert.deepEqual(ids, ['cell-1', 'run', 'cell-2']);
});

test('tsnb → ipynb → tsnb keeps cells and outputs', () => {
  const original = richNotebook();
  const back = ipynbToTsnb(tsnbToIpynb(original).notebook).notebook;
  const strip = (text: string): unknown => {
    const d = JSON.parse(text);
    for (const c of d.cells) delete c.id;
    return d.cells;
  };
  assert.deepEqual(strip(serializeTsnb(back)), strip(serializeTsnb(original)));
});

test('exported notebooks pass nbformat validation (Debian python3-nbformat)', () => {
  requirePythonModule('nbformat', 'python3-nbformat');
  for (const nb of [parseTsnb(CANONICAL), richNotebook(), ipynbToTsnb(JUPYTER).notebook]) {
    const text = tsnbToIpynb(nb).notebook;
    const r = spawnSync(PYTHON, ['-c', 'import sys, nbformat; nb = nbformat.reads(sys.stdin.read(), as_version=4); nbformat.validate(nb); print(nb.nbformat, nb.nbformat_minor)'], {
      input: text,
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '4 5');
  }
  // and the no-outputs variant
  const bare = JSON.parse(tsnbToIpynb(richNotebook(), { outputs: false }).notebook);
  assert.ok(bare.cells.every((c: { cell_type: string; outputs?: unknown[] }) => c.cell_type !== 'code' || c.outputs!.length === 0));
  assert.equal(stableStringify(bare).includes('image/png'), true, 'markdown attachments stay');
});

test('the kernel entry as the file says it survives .tsnb → .ipynb → .tsnb', () => {
  const nb = createTsnbNotebook({ kernel: { name: 'transferlab', display_name: 'My TransferLab', language: 'javascript' }, backend: 'cpu' });
  const back = ipynbToTsnb(tsnbToIpynb(nb).notebook).notebook;
  assert.deepEqual(back.metadata, nb.metadata);
  assert.equal(serializeTsnb(back), serializeTsnb(nb));
});
