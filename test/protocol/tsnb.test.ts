import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  NotebookSchemaError,
  NotebookSyntaxError,
  NotebookVersionError,
  TSNB_FORMAT_VERSION,
  createTsnbNotebook,
  locateJsonError,
  parseJsonText,
  parseTsnb,
  resolveSaveOutputs,
  serializeTsnb,
  splitLines,
  stableStringify,
  type TsnbNotebook,
} from '../../kernel/protocol/tsnb';
import { CANONICAL } from './fixtures';


test('a canonical file re-saves byte-identical', () => {
  const nb = parseTsnb(CANONICAL);
  assert.equal(serializeTsnb(nb), CANONICAL);
  assert.equal(nb.cells.length, 3);
  assert.equal(nb.cells[0]!.source, '# Transfer\n\nWhich layers *transfer*?');
  const code = nb.cells[1]!;
  assert.equal(code.cell_type, 'code');
  if (code.cell_type !== 'code') return;
  assert.equal(code.execution_count, 3);
  assert.deepEqual(
    code.outputs.map((o) => o.output_type),
    ['stream', 'execute_result', 'error'],
  );
  const result = code.outputs[1]!;
  assert.ok(result.output_type === 'execute_result');
  assert.equal(result.data['text/plain'], 'CKA 1×1\nconv1 1.000');
  assert.deepEqual((result.data['application/vnd.transferlab.cka+json'] as { rows: string[] }).rows, ['conv1']);
});

test('writing is independent of key insertion order and ends with one newline', () => {
  const a: TsnbNotebook = { metadata: { format_version: 1, backend: 'cpu', zeta: 1, alpha: { y: 2, x: 1 } }, cells: [] };
  const b: TsnbNotebook = { cells: [], metadata: { alpha: { x: 1, y: 2 }, zeta: 1, backend: 'cpu', format_version: 1 } };
  const text = serializeTsnb(a);
  assert.equal(text, serializeTsnb(b));
  assert.ok(text.endsWith('}\n') && !text.endsWith('\n\n'));
  assert.match(text, /^\{\n {2}"cells": \[\],\n {2}"metadata": \{\n {4}"alpha"/);
});

test('unknown fields at every level survive a round trip', () => {
  const withExtras = JSON.parse(CANONICAL) as Record<string, any>;
  withExtras.future_top = { a: [1, 2] };
  withExtras.cells[1].future_cell = 'kept';
  withExtras.cells[1].outputs[0].future_output = true;
  withExtras.cells[0].future_markdown = null;
  withExtras.metadata.future_meta = { nested: 'yes' };
  const text = `${stableStringify(withExtras)}\n`;
  const nb = parseTsnb(text);
  assert.deepEqual(nb.preserved, { future_top: { a: [1, 2] } });
  assert.deepEqual(nb.cells[1]!.preserved, { future_cell: 'kept' });
  assert.equal(serializeTsnb(nb), text);
  assert.deepEqual(JSON.parse(serializeTsnb(nb)), withExtras);
});

test('non-canonical input (strings instead of lines, missing optional fields) is normalised', () => {
  const text = JSON.stringify({
    metadata: { format_version: 1 },
    cells: [{ cell_type: 'code', source: 'a\nb\n' }, { cell_type: 'raw', source: ['x', 'y'] }],
  });
  const nb = parseTsnb(text);
  const code = nb.cells[0]!;
  assert.ok(code.cell_type === 'code');
  assert.deepEqual(code.outputs, []);
  assert.equal(code.execution_count, null);
  assert.equal(nb.cells[1]!.source, 'xy');
  const once = serializeTsnb(nb);
  assert.deepEqual(JSON.parse(once).cells[0].source, ['a\n', 'b\n']);
  assert.equal(serializeTsnb(parseTsnb(once)), once);
});

test('outputs: false writes code cells without outputs or execution counts', () => {
  const nb = parseTsnb(CANONICAL);
  const bare = JSON.parse(serializeTsnb(nb, { outputs: false }));
  assert.deepEqual(bare.cells[1].outputs, []);
  assert.equal(bare.cells[1].execution_count, null);
  assert.deepEqual(bare.cells[0], JSON.parse(CANONICAL).cells[0]);
});

test('resolveSaveOutputs: the notebook flag wins over the setting', () => {
  assert.equal(resolveSaveOutputs({}, true), true);
  assert.equal(resolveSaveOutputs({}, false), false);
  assert.equal(resolveSaveOutputs({ transferlab: { saveOutputs: false } }, true), false);
  assert.equal(resolveSaveOutputs({ transferlab: { saveOutputs: true } }, false), true);
  assert.equal(resolveSaveOutputs({ transferlab: {} }, false), false);
});

test('a truncated file is a syntax error with line and column, never an empty notebook', () => {
  const cut = CANONICAL.slice(0, CANONICAL.indexOf('"outputs"') + 14);
  assert.throws(
    () => parseTsnb(cut, { file: 'cut.tsnb' }),
    (e: unknown) => {
      assert.ok(e instanceof NotebookSyntaxError);
      const lines = cut.split('\n');
      assert.equal(e.line, lines.length);
      assert.equal(e.column, lines[lines.length - 1]!.length + 1);
      assert.match(e.message, /^cut\.tsnb: not valid JSON at line \d+, column \d+: unexpected end of the file/);
      return true;
    },
  );
});

test('syntax errors point at the offending character', () => {
  const cases: [string, number, number, RegExp][] = [
    ['{\n  "a": 1,\n  "b": 2,\n}', 3, 9, /trailing comma/],
    ['{\n  "a": 1\n  "b": 2\n}', 3, 3, /expected ',' or '}'/],
    ['{"a": tru}', 1, 7, /expected a value/],
    ['{"a": "x\ny"}', 1, 9, /line break inside a string/],
    ['{"a": 1}\n<<<<<<< HEAD\n', 2, 1, /merge-conflict marker/],
    ['', 1, 1, /the file is empty/],
    ['  \n ', 2, 2, /the file is empty/],
    ["{'a': 1}", 1, 2, /property name in double quotes/],
    ['[1, 2', 1, 6, /end of the file/],
  ];
  for (const [text, line, column, problem] of cases) {
    assert.throws(
      () => parseJsonText(text, 'x.tsnb'),
      (e: unknown) => {
        assert.ok(e instanceof NotebookSyntaxError, `${JSON.stringify(text)}: ${String(e)}`);
        assert.deepEqual([e.line, e.column], [line, column], `${JSON.stringify(text)}: ${e.message}`);
        assert.match(e.problem, problem);
        return true;
      },
    );
  }
});

test('a byte-order mark is accepted, and positions still count it', () => {
  const nb = parseTsnb(`\uFEFF${CANONICAL}`);
  assert.equal(nb.cells.length, 3);
  assert.throws(
    () => parseJsonText('\uFEFF{\n x}'),
    (e: unknown) => e instanceof NotebookSyntaxError && e.line === 2 && e.column === 2,
  );
});

test('the error scanner agrees with JSON.parse on mutated files', () => {
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const alphabet = ['{', '}', '[', ']', ',', ':', '"', '\\', 'a', '1', '-', '.', 'e', ' ', '\n', 't', 'n'];
  for (let k = 0; k < 400; k++) {
    const chars = CANONICAL.split('');
    const edits = 1 + rand(3);
    for (let e = 0; e < edits; e++) {
      const at = rand(chars.length);
      const op = rand(3);
      if (op === 0) chars.splice(at, 1);
      else if (op === 1) chars.splice(at, 0, alphabet[rand(alphabet.length)]!);
      else chars[at] = alphabet[rand(alphabet.length)]!;
    }
    const text = chars.join('');
    let valid = true;
    try {
      JSON.parse(text);
    } catch {
      valid = false;
    }
    assert.equal(locateJsonError(text) === undefined, valid, text);
  }
});

test('schema errors name the path of the value', () => {
  const doc = JSON.parse(CANONICAL) as Record<string, any>;
  const expectPath = (mutate: (d: any) => void, path: string, problem: RegExp): void => {
    const d = structuredClone(doc);
    mutate(d);
    assert.throws(
      () => parseTsnb(JSON.stringify(d), { file: 'nb.tsnb' }),
      (e: unknown) => {
        assert.ok(e instanceof NotebookSchemaError, String(e));
        assert.equal(e.path, path);
        assert.match(e.message, problem);
        assert.ok(e.message.startsWith(`nb.tsnb: ${path}`), e.message);
        return true;
      },
    );
  };
  expectPath((d) => (d.cells[2].source = 42), 'cells[2].source', /must be a string or an array of strings, found number 42/);
  expectPath((d) => (d.cells[1].source[1] = {}), 'cells[1].source[1]', /must be a string/);
  expectPath((d) => (d.cells[0].cell_type = 'heading'), 'cells[0].cell_type', /"code", "markdown" or "raw"/);
  expectPath((d) => (d.cells[1].outputs[2].output_type = 'pager'), 'cells[1].outputs[2].output_type', /"stream"/);
  expectPath((d) => delete d.cells[1].outputs[0].name, 'cells[1].outputs[0].name', /is missing/);
  expectPath((d) => (d.cells[1].outputs[1].data['image/png'] = 7), 'cells[1].outputs[1].data["image/png"]', /string/);
  expectPath((d) => (d.cells[1].execution_count = -1), 'cells[1].execution_count', /non-negative integer/);
  expectPath((d) => (d.cells = {}), 'cells', /must be an array/);
  expectPath((d) => delete d.metadata.format_version, 'metadata.format_version', /is missing/);
  expectPath((d) => (d.metadata.format_version = '1'), 'metadata.format_version', /positive integer/);
  expectPath((d) => (d.metadata.kernel = 'ts'), 'metadata.kernel', /must be an object/);
  expectPath((d) => (d.metadata.transferlab = { saveOutputs: 'no' }), 'metadata.transferlab.saveOutputs', /true or false/);
  assert.throws(() => parseTsnb('[]'), (e: unknown) => e instanceof NotebookSchemaError && /the top level must be an object/.test(e.message));
});

test('an .ipynb given as .tsnb says how to convert it', () => {
  assert.throws(
    () => parseTsnb(JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [] }), { file: 'a.tsnb' }),
    /looks like a Jupyter \.ipynb notebook.*transferlab import/,
  );
});

test('a newer format version is refused by name', () => {
  const newer = CANONICAL.replace('"format_version": 1', `"format_version": ${TSNB_FORMAT_VERSION + 1}`);
  assert.throws(
    () => parseTsnb(newer, { file: 'new.tsnb' }),
    (e: unknown) => {
      assert.ok(e instanceof NotebookVersionError);
      assert.equal(e.found, TSNB_FORMAT_VERSION + 1);
      assert.equal(e.supported, TSNB_FORMAT_VERSION);
      assert.match(e.message, /^new\.tsnb: written in \.tsnb format version 2 by a newer TransferLab/);
      return true;
    },
  );
});

test('splitLines and join are inverse', () => {
  for (const s of ['', 'a', 'a\n', '\n', '\n\n', 'a\nb', 'a\r\nb\r\n', 'x\n\ny\n']) {
    const lines = splitLines(s);
    assert.equal(lines.join(''), s);
    lines.slice(0, -1).forEach((l) => assert.ok(l.endsWith('\n')));
    lines.forEach((l) => assert.ok(l !== '' && !l.slice(0, -1).includes('\n')));
  }
});

test('binary data is normalised to one base64 line; createTsnbNotebook asks for the TransferLab kernel', () => {
  const nb = createTsnbNotebook({ backend: 'webgpu' });
  nb.cells.push({
    cell_type: 'code',
    source: 'x',
    metadata: {},
    execution_count: 1,
    outputs: [{ output_type: 'display_data', data: { 'image/png': 'iVBO\nRw0K\nGgo=\n' }, metadata: {} }],
  });
  const doc = JSON.parse(serializeTsnb(nb));
  assert.equal(doc.cells[0].outputs[0].data['image/png'], 'iVBORw0KGgo=');
  assert.deepEqual(doc.metadata, {
    backend: 'webgpu',
    format_version: TSNB_FORMAT_VERSION,
    kernel: { display_name: 'TransferLab (TypeScript)', language: 'typescript', name: 'transferlab' },
  });
});

test('stableStringify refuses values JSON cannot hold', () => {
  assert.throws(() => stableStringify({ a: [1, NaN] }), /a\[1\] is NaN/);
  assert.equal(stableStringify({ b: undefined, a: [undefined] }), '{\n  "a": [\n    null\n  ]\n}');
});

// ---- issue 10: valid data comes back exactly -----------------------------------------------------

const notebookWith = (metadata: string, data: string): string => `{
  "cells": [
    {
      "cell_type": "code",
      "execution_count": 1,
      "metadata": {},
      "outputs": [
        {
          "data": ${data},
          "metadata": {},
          "output_type": "display_data"
        }
      ],
      "source": []
    }
  ],
  "metadata": ${metadata}
}
`;

test('text-like MIME types keep every character; only binary base64 is normalised', () => {
  const text = notebookWith(
    '{\n    "format_version": 1\n  }',
    '{\n            "application/x-custom": [\n              "a  b\\n",\n              "\\tc"\n            ],\n            "application/yaml": [\n              "a: 1\\n",\n              "  b:   [x,  y]\\n"\n            ]\n          }',
  );
  const nb = parseTsnb(text);
  const out = (nb.cells[0] as { outputs: { data: Record<string, unknown> }[] }).outputs[0]!;
  assert.equal(out.data['application/yaml'], 'a: 1\n  b:   [x,  y]\n');
  assert.equal(out.data['application/x-custom'], 'a  b\n\tc');
  assert.equal(serializeTsnb(nb), text);
});

test('numbers keep their digits: beyond 2^53, beyond the double range, 1.0', () => {
  const text = notebookWith(
    '{\n    "big": 12345678901234567891,\n    "format_version": 1,\n    "huge": 1e400,\n    "one": 1.0\n  }',
    '{\n            "application/json": {\n              "id": -98765432109876543210123\n            }\n          }',
  );
  assert.equal(serializeTsnb(parseTsnb(text)), text);
});

test('a key named __proto__ is an ordinary key', () => {
  const text = notebookWith(
    '{\n    "__proto__": {\n      "x": 1\n    },\n    "format_version": 1\n  }',
    '{\n            "application/json": {\n              "__proto__": [\n                1\n              ]\n            },\n            "text/plain": [\n              "p"\n            ]\n          }',
  );
  const nb = parseTsnb(text);
  assert.deepEqual(Object.keys(nb.metadata), ['__proto__', 'format_version']);
  assert.equal(serializeTsnb(nb), text);
  // as an unknown field of the notebook, a cell and an output, and as a MIME type
  const doc = JSON.parse(text);
  doc.cells[0].outputs[0].data = JSON.parse('{"__proto__": ["q"], "text/plain": ["p"]}');
  const fields = (o: object): object => Object.defineProperty(o, '__proto__', { value: { kept: true }, enumerable: true, writable: true, configurable: true });
  fields(doc);
  fields(doc.cells[0]);
  fields(doc.cells[0].outputs[0]);
  const withFields = `${stableStringify(doc)}\n`;
  assert.equal((withFields.match(/"__proto__"/g) ?? []).length, 5);
  assert.equal(serializeTsnb(parseTsnb(withFields)), withFields);
});

test('nesting past the limit and a key given twice are refused with line and column, not a raw stack', () => {
  const deep = `{"metadata": {"format_version": 1, "x": ${'['.repeat(2000)}${']'.repeat(2000)}}, "cells": []}`;
  assert.throws(
    () => parseTsnb(deep, { file: 'deep.tsnb' }),
    (e: unknown) => e instanceof NotebookSyntaxError && /^deep\.tsnb: not valid JSON at line 1, column \d+: nesting deeper than 1000 levels/.test(e.message),
  );
  assert.throws(
    () => parseTsnb('{"metadata": {"format_version": 1},\n "cells": [], "cells": []}'),
    (e: unknown) => e instanceof NotebookSyntaxError && e.line === 2 && e.column === 15 && /the key "cells" appears twice/.test(e.problem),
  );
});
