/**
 * Notebook-format fuzz: seeded and deterministic. Invalid files are refused with a message naming
 * where (line and column, or the field path), by the parser, the VS Code serializer and the command
 * line (`import`, `export`, and the reading of `run`), leaving the input and any existing output
 * byte-identical. Odd but valid files come back exactly.
 *
 * What "exactly" means: a file in the canonical form (what the writer writes: keys sorted, 2-space
 * indent, text as lines, binary base64 on one line) comes back byte for byte. A byte-order mark and
 * CRLF line ends are whitespace outside any value, so they come back as the canonical form of the
 * same value (no BOM, LF): the writer is deterministic so that a save touches only what changed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type * as vscode from 'vscode';
import { runExport, runImport } from '../../cli/notebookConvert';
import { readNotebook } from '../../cli/run/writing';
import { NotebookOpenError, TsnbSerializer, type NotebookApi } from '../../extension/serializer';
import { ipynbToTsnb, tsnbToIpynb } from '../../kernel/protocol/ipynb';
import {
  JsonNumber,
  MAX_JSON_DEPTH,
  NotebookFileError,
  NotebookSchemaError,
  NotebookSyntaxError,
  NotebookVersionError,
  childPath,
  decodeNotebookBytes,
  parseJsonText,
  parseTsnb,
  parseTsnbBytes,
  serializeTsnb,
  setJsonKey,
  splitLines,
  stableStringify,
  type JsonObject,
  type JsonValue,
} from '../../kernel/protocol/tsnb';
import { CellData, Data, Kind } from '../extension/notebookApiFake';
import { captureIo } from '../helpers/tools';

// ---- a seeded generator ---------------------------------------------------------------------------

function rng(seed: number): { int(n: number): number; pick<T>(xs: readonly T[]): T; chance(p: number): boolean } {
  let s = seed >>> 0;
  const next = (): number => {
    // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    int: (n) => Math.floor(next() * n),
    pick: (xs) => xs[Math.floor(next() * xs.length)]!,
    chance: (p) => next() < p,
  };
}
type Rng = ReturnType<typeof rng>;

const PIECES = ['a', 'xyz', ' ', '  ', '\n', '\r\n', '\r', '\t', 'é', '😀', '\ud800', '\udc00', '"', '\\', '\u2028', '\u0000', '\u001f', '<b>', '---\n'];
const KEYS = ['a', 'b', '__proto__', 'constructor', 'toString', 'hasOwnProperty', '', 'a b', 'ключ', 'x.y', '0', '10', 'tsnbPreserved'];
const NUMBERS: readonly JsonValue[] = [0, 1, -1, 3.5, 1e21, 2 ** 53, new JsonNumber('12345678901234567891'), new JsonNumber('-98765432109876543210123'), new JsonNumber('1e400'), new JsonNumber('1.0'), new JsonNumber('1E5'), new JsonNumber('-0'), new JsonNumber('0.1000000000000000000001')];

function text(r: Rng, max = 6): string {
  let s = '';
  for (let k = r.int(max); k > 0; k--) s += r.pick(PIECES);
  return s;
}

function obj(entries: [string, JsonValue][]): JsonObject {
  const o: JsonObject = {};
  for (const [k, v] of entries) setJsonKey(o, k, v);
  return o;
}

function jsonValue(r: Rng, depth: number): JsonValue {
  const kind = depth > 3 ? r.int(4) : r.int(6);
  switch (kind) {
    case 0:
      return r.pick([null, true, false]);
    case 1:
      return r.pick(NUMBERS);
    case 2:
    case 3:
      return text(r);
    case 4:
      return Array.from({ length: r.int(4) }, () => jsonValue(r, depth + 1));
    default:
      return obj(Array.from({ length: r.int(4) }, () => [r.pick(KEYS), jsonValue(r, depth + 1)] as [string, JsonValue]));
  }
}

function base64(r: Rng): string {
  return Buffer.from(Array.from({ length: r.int(40) }, () => r.int(256))).toString('base64');
}

/** Unknown fields for a level: keys the format does not know (never one it does). */
function extras(r: Rng, on: boolean): [string, JsonValue][] {
  if (!on) return [];
  return Array.from({ length: 1 + r.int(2) }, (_, k) => [r.pick(['future', '__proto__', 'x_extra', `zz${k}`]), jsonValue(r, 1)] as [string, JsonValue]);
}

const MIMES = ['text/plain', 'text/html', 'text/csv', 'application/yaml', 'application/x-yaml', 'application/javascript', 'image/svg+xml', 'text/markdown', 'application/x-custom', 'application/json', 'application/vnd.transferlab.cka+json', 'application/vnd.vegalite.v5+json', 'image/png', 'image/jpeg', 'application/octet-stream', 'application/pdf'];
const BINARY = new Set(['image/png', 'image/jpeg', 'application/octet-stream', 'application/pdf']);

function bundle(r: Rng): JsonObject {
  const entries: [string, JsonValue][] = [];
  for (const mime of MIMES) {
    if (!r.chance(0.35)) continue;
    if (mime.endsWith('json')) entries.push([mime, jsonValue(r, 0)]);
    else if (BINARY.has(mime)) entries.push([mime, base64(r)]);
    else entries.push([mime, splitLines(text(r, 10))]);
  }
  if (entries.length === 0) entries.push(['application/yaml', splitLines('a: 1\n  b:   [x,  y]\n\n')]);
  return obj(entries);
}

interface Generated {
  /** The canonical text of the notebook. */
  readonly canonical: string;
  /** Whether it can go to .ipynb and back unchanged (no fields nbformat has no place for). */
  readonly ipynb: boolean;
}

/** An odd but valid notebook, in canonical form. */
function validNotebook(r: Rng, index: number): Generated {
  const unknown = r.chance(0.5);
  const ipynb = !unknown;
  const cells: JsonValue[] = [];
  for (let c = r.int(5); c >= 0; c--) {
    const type = r.pick(['code', 'code', 'markdown', 'raw'] as const);
    const cell: [string, JsonValue][] = [
      ['cell_type', type],
      ['metadata', obj(r.chance(0.3) ? [['vscode', obj([['languageId', r.pick(['raw', 'python', 'typescript'])]])]] : Array.from({ length: r.int(3) }, () => [r.pick(KEYS), jsonValue(r, 1)] as [string, JsonValue]))],
      ['source', splitLines(text(r, 8))],
      ...extras(r, unknown && r.chance(0.5)),
    ];
    if (ipynb || r.chance(0.7)) cell.push(['id', `c${cells.length}`]);
    if (type === 'code') {
      const count = r.chance(0.5) ? null : r.int(100);
      cell.push(['execution_count', count]);
      const outputs: JsonValue[] = [];
      for (let o = r.int(4); o > 0; o--) {
        const kind = r.pick(['stream', 'display_data', 'execute_result', 'error'] as const);
        const out: [string, JsonValue][] = [['output_type', kind], ...extras(r, unknown && r.chance(0.5))];
        if (kind === 'stream') out.push(['name', r.pick(['stdout', 'stderr', 'other'])], ['text', splitLines(text(r, 10))]);
        if (kind === 'display_data' || kind === 'execute_result') out.push(['data', bundle(r)], ['metadata', obj(r.chance(0.5) ? [[r.pick(KEYS), jsonValue(r, 1)]] : [])]);
        if (kind === 'execute_result') out.push(['execution_count', r.chance(0.5) ? null : r.int(100)]);
        if (kind === 'error') out.push(['ename', text(r, 2)], ['evalue', text(r)], ['traceback', Array.from({ length: r.int(3) }, () => text(r))]);
        outputs.push(obj(out));
      }
      cell.push(['outputs', outputs]);
    } else if (r.chance(0.3)) {
      cell.push(['attachments', obj([['a.png', obj([['image/png', base64(r)]])]])]);
    }
    cells.push(obj(cell));
  }
  if (index === 0) {
    // a large output
    cells.push(obj([['cell_type', 'code'], ['execution_count', 1], ['id', 'big'], ['metadata', {}], ['source', []], ['outputs', [obj([['name', 'stdout'], ['output_type', 'stream'], ['text', splitLines('line of output é😀\n'.repeat(20000))]])]]]));
  }
  const language = r.pick(['typescript', 'raw', 'javascript']);
  const metadata: [string, JsonValue][] = [
    ['format_version', 1],
    ['kernel', obj([['name', 'transferlab'], ['display_name', r.pick(['TransferLab (TypeScript)', 'My kernel', 'Ω'])], ['language', language]])],
    ...Array.from({ length: r.int(4) }, () => [r.pick(KEYS), jsonValue(r, 0)] as [string, JsonValue]),
  ];
  if (r.chance(0.3)) metadata.push(['transferlab', obj([['saveOutputs', true], ['other', jsonValue(r, 1)]])]);
  if (index === 1) {
    // nesting within the limit: the root and `metadata` are two levels, so MAX_JSON_DEPTH - 2 more
    let deep: JsonValue = 1;
    for (let d = 0; d < MAX_JSON_DEPTH - 2; d++) deep = d % 2 === 0 ? [deep] : obj([['k', deep]]);
    metadata.push(['deep', deep]);
  }
  const doc = obj([['cells', cells], ['metadata', obj(metadata)], ...extras(r, unknown)]);
  return { canonical: `${stableStringify(doc)}\n`, ipynb };
}

// ---- the VS Code serializer with stand-ins ----------------------------------------------------------

class OutputItem {
  constructor(
    public data: Uint8Array,
    public mime: string,
  ) {}
}
class Output {
  constructor(
    public items: vscode.NotebookCellOutputItem[],
    public metadata?: { [key: string]: unknown },
  ) {}
}
const api: NotebookApi = { NotebookData: Data, NotebookCellData: CellData, NotebookCellOutput: Output, NotebookCellOutputItem: OutputItem, NotebookCellKind: Kind };
const vscodeSerializer = new TsnbSerializer({ api, saveOutputsSetting: () => true });
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Text equality with the first difference shown (the texts can be large). */
function same(actual: string, expected: string, label: string): void {
  if (actual === expected) return;
  let i = 0;
  while (actual[i] === expected[i]) i++;
  assert.fail(`${label}: differs at offset ${i}: ${JSON.stringify(actual.slice(Math.max(0, i - 80), i + 80))} instead of ${JSON.stringify(expected.slice(Math.max(0, i - 80), i + 80))}`);
}

// ---- odd but valid ---------------------------------------------------------------------------------

test('50 odd but valid notebooks come back exactly: parse→write, VS Code open→save, .tsnb→.ipynb→.tsnb', () => {
  const r = rng(20240610);
  let viaIpynb = 0;
  for (let k = 0; k < 50; k++) {
    const { canonical, ipynb } = validNotebook(r, k);
    const variants = [canonical, `\uFEFF${canonical}`, canonical.replace(/\n/g, '\r\n')];
    for (const [v, input] of variants.entries()) {
      const label = `notebook ${k}, variant ${v}`;
      same(serializeTsnb(parseTsnb(input)), canonical, `${label}: parse→write`);
      same(serializeTsnb(parseTsnbBytes(enc(input))), canonical, `${label}: bytes`);
      const data = vscodeSerializer.deserializeNotebook(enc(input));
      same(dec(vscodeSerializer.serializeNotebook(data)), canonical, `${label}: VS Code`);
    }
    if (ipynb) {
      viaIpynb++;
      const exported = tsnbToIpynb(parseTsnb(canonical));
      assert.deepEqual(exported.warnings, [], `notebook ${k}`);
      const back = ipynbToTsnb(exported.notebook);
      same(serializeTsnb(back.notebook), canonical, `notebook ${k}: .tsnb→.ipynb→.tsnb`);
      // and .ipynb→.tsnb→.ipynb
      same(tsnbToIpynb(back.notebook).notebook, exported.notebook, `notebook ${k}: .ipynb→.tsnb→.ipynb`);
    }
  }
  assert.ok(viaIpynb >= 15, `${viaIpynb} notebooks went through .ipynb`);
});

// ---- invalid ---------------------------------------------------------------------------------------

interface Invalid {
  readonly label: string;
  readonly bytes: Uint8Array;
  /** The field path the message must name; undefined: a line and column. */
  readonly path?: string;
  /** Whether it is a format-version refusal (the message names the version). */
  readonly version?: boolean;
}

/** Field paths the reader checks, with a value of the wrong type for each. */
function typedPaths(doc: any): [string, (target: any) => void][] {
  const out: [string, (target: any) => void][] = [];
  const at = (p: (string | number)[]): string => p.reduce<string>((acc, k) => childPath(acc, k), '');
  const get = (d: any, p: (string | number)[]): any => p.reduce((o, k) => o[k], d);
  const wrong = (p: (string | number)[], value: JsonValue): void => {
    out.push([at(p), (d) => (get(d, p.slice(0, -1))[p[p.length - 1]!] = value)]);
  };
  const missing = (p: (string | number)[]): void => {
    out.push([at(p), (d) => delete get(d, p.slice(0, -1))[p[p.length - 1]!]]);
  };
  wrong(['cells'], { a: 1 });
  wrong(['metadata'], [1]);
  missing(['cells']);
  missing(['metadata', 'format_version']);
  wrong(['metadata', 'format_version'], '1');
  wrong(['metadata', 'format_version'], 0);
  wrong(['metadata', 'format_version'], 1.5);
  wrong(['metadata', 'kernel'], 'transferlab');
  wrong(['metadata', 'kernel', 'name'], 7);
  wrong(['metadata', 'kernel', 'display_name'], []);
  wrong(['metadata', 'backend'], false);
  wrong(['metadata', 'transferlab'], 'yes');
  doc.cells.forEach((cell: any, i: number) => {
    const c = ['cells', i];
    wrong(c, 'cell');
    wrong([...c, 'cell_type'], 'heading');
    missing([...c, 'cell_type']);
    wrong([...c, 'source'], 42);
    missing([...c, 'source']);
    wrong([...c, 'metadata'], null);
    wrong([...c, 'id'], 3);
    if (cell.source.length > 0) wrong([...c, 'source', 0], { line: 1 });
    if (cell.cell_type !== 'code') {
      wrong([...c, 'attachments'], ['a.png']);
      return;
    }
    wrong([...c, 'outputs'], {});
    wrong([...c, 'execution_count'], -1);
    wrong([...c, 'execution_count'], new JsonNumber('12345678901234567891'));
    cell.outputs.forEach((o: any, j: number) => {
      const p = [...c, 'outputs', j];
      wrong(p, 7);
      wrong([...p, 'output_type'], 'pager');
      missing([...p, 'output_type']);
      if (o.output_type === 'stream') {
        wrong([...p, 'name'], null);
        wrong([...p, 'text'], true);
      } else if (o.output_type === 'error') {
        wrong([...p, 'traceback'], 'tb');
        missing([...p, 'ename']);
      } else {
        wrong([...p, 'data'], 'x');
        wrong([...p, 'metadata'], 'x');
        const text = Object.keys(o.data).find((m) => !m.endsWith('json'));
        if (text !== undefined) wrong([...p, 'data', text], 5);
        if (o.output_type === 'execute_result') wrong([...p, 'execution_count'], 'one');
      }
    });
  });
  return out;
}

function invalidNotebooks(): Invalid[] {
  const r = rng(77);
  const out: Invalid[] = [];
  const bases = Array.from({ length: 8 }, (_, k) => validNotebook(r, k + 2).canonical);
  const utf8 = (s: string): Uint8Array => enc(s);
  for (let k = 0; k < 60; k++) {
    // a syntax error at a random position: a character inserted, deleted or replaced
    const base = r.pick(bases);
    for (;;) {
      const at = r.int(base.length);
      const op = r.int(3);
      const ch = r.pick(['{', '}', '[', ']', ',', ':', '"', '\\', 'x', '-', '.', '\u0001', '<<<<<<< HEAD\n']);
      const mutated = op === 0 ? base.slice(0, at) + base.slice(at + 1) : op === 1 ? base.slice(0, at) + ch + base.slice(at) : base.slice(0, at) + ch + base.slice(at + 1);
      if (isJson(mutated)) continue;
      out.push({ label: `syntax ${k} (${op} at ${at})`, bytes: utf8(mutated) });
      break;
    }
  }
  for (let k = 0; k < 30; k++) {
    const base = r.pick(bases);
    const cut = base.slice(0, r.int(base.trimEnd().length - 1));
    out.push({ label: `truncated at ${cut.length}`, bytes: utf8(cut) });
  }
  for (let k = 0; k < 20; k++) {
    // invalid UTF-8 at a random byte
    const bytes = utf8(r.pick(bases));
    const at = r.int(bytes.length);
    const bad = r.pick([[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0x80], [0xf5, 0x80, 0x80, 0x80]]);
    out.push({ label: `bad UTF-8 at byte ${at}`, bytes: new Uint8Array([...bytes.subarray(0, at), ...bad, ...bytes.subarray(at)]) });
  }
  let typed = 0;
  for (const base of bases) {
    const doc = JSON.parse(base);
    const paths = typedPaths(doc);
    for (let k = 0; k < 14 && paths.length > 0; k++) {
      const [p, mutate] = paths.splice(r.int(paths.length), 1)[0]!;
      const d = parseTsnbDoc(base);
      mutate(d);
      out.push({ label: `wrong type at ${p}`, bytes: utf8(stableStringify(d)), path: p });
      typed++;
    }
  }
  assert.ok(typed >= 60, `${typed} wrong-type cases`);
  for (const v of [2, 3, 17, 1000]) {
    out.push({ label: `version ${v}`, bytes: utf8(r.pick(bases).replace('"format_version": 1', `"format_version": ${v}`)), version: true });
  }
  const base = bases[0]!;
  out.push({ label: 'too deep', bytes: utf8(base.replace('"metadata": {', `"metadata": {\n"deep": ${'['.repeat(MAX_JSON_DEPTH + 1000)}${']'.repeat(MAX_JSON_DEPTH + 1000)},`)) });
  out.push({ label: 'duplicate key', bytes: utf8(base.replace('"metadata": {', '"metadata": {\n"x": 1, "x": 2,')) });
  out.push({ label: 'not an object', bytes: utf8('[1, 2]\n'), path: '' });
  out.push({ label: 'a number', bytes: utf8('1e400'), path: '' });
  out.push({ label: 'an .ipynb', bytes: utf8('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'), path: '' });
  return out;
}

/** The JSON of a file with exact numbers and `__proto__` keys, to mutate. */
function parseTsnbDoc(text: string): any {
  return parseJsonText(text);
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function expectRefusal(c: Invalid, e: unknown, where: string): void {
  assert.ok(e instanceof NotebookFileError, `${c.label} (${where}): ${e instanceof Error ? e.stack : String(e)}`);
  if (c.version === true) {
    assert.ok(e instanceof NotebookVersionError, `${c.label} (${where}): ${e.message}`);
    assert.match(e.message, /format version \d+/);
  } else if (c.path !== undefined) {
    assert.ok(e instanceof NotebookSchemaError, `${c.label} (${where}): ${e.message}`);
    assert.equal(e.path, c.path, `${c.label} (${where}): ${e.message}`);
    assert.ok(e.detail.startsWith(c.path === '' ? 'the top level ' : `${c.path} `), `${c.label} (${where}): ${e.message}`);
  } else {
    assert.ok(e instanceof NotebookSyntaxError, `${c.label} (${where}): ${e.message}`);
    assert.match(e.message, /at line \d+, column \d+: /);
  }
}

test('200+ invalid notebooks are refused, naming where, by the parser, VS Code and the command line, touching no file', async () => {
  const cases = invalidNotebooks();
  assert.ok(cases.length >= 200, `${cases.length} cases`);
  const dir = mkdtempSync(path.join(tmpdir(), 'tl-fuzz-'));
  const tsnb = path.join(dir, 'nb.tsnb');
  const ipynb = path.join(dir, 'nb.ipynb');
  const html = path.join(dir, 'nb.html');
  for (const c of cases) {
    assert.throws(
      () => parseTsnb(decodeNotebookBytes(c.bytes, 'nb.tsnb'), { file: 'nb.tsnb' }),
      (e: unknown) => {
        expectRefusal(c, e, 'parse');
        return true;
      },
    );
    assert.throws(
      () => vscodeSerializer.deserializeNotebook(c.bytes),
      (e: unknown) => {
        assert.ok(e instanceof NotebookOpenError, `${c.label}: ${String(e)}`);
        expectRefusal(c, e.cause, 'VS Code');
        assert.ok(e.message.includes(e.cause.detail));
        return true;
      },
    );
    // the command line: export (to .ipynb and to HTML) and the reading of `run`
    writeFileSync(tsnb, c.bytes);
    writeFileSync(ipynb, 'previous ipynb');
    writeFileSync(html, 'previous report');
    for (const to of ['ipynb', 'html']) {
      const io = captureIo();
      assert.equal(await runExport([tsnb, '--to', to], io), 1, `${c.label}: ${io.err}`);
      assert.ok(io.err.startsWith(`transferlab export: ${tsnb}: `), io.err);
      assert.equal(io.out, '');
    }
    await assert.rejects(readNotebook(tsnb, () => {}), (e: unknown) => {
      expectRefusal(c, e, 'run');
      return true;
    });
    assert.deepEqual(readFileSync(tsnb), Buffer.from(c.bytes), c.label);
    assert.equal(readFileSync(ipynb, 'utf8'), 'previous ipynb', c.label);
    assert.equal(readFileSync(html, 'utf8'), 'previous report', c.label);
  }
});

test('invalid .ipynb files are refused by import, naming where, touching no file', async () => {
  const r = rng(4242);
  const dir = mkdtempSync(path.join(tmpdir(), 'tl-fuzz-import-'));
  const input = path.join(dir, 'nb.ipynb');
  const out = path.join(dir, 'nb.tsnb');
  let n = 0;
  for (let k = 0; k < 8; k++) {
    let g: Generated;
    do g = validNotebook(r, k + 2);
    while (!g.ipynb);
    const text = tsnbToIpynb(parseTsnb(g.canonical)).notebook;
    const doc = parseTsnbDoc(text);
    const cases: Invalid[] = [];
    for (let m = 0; m < 6; m++) {
      const cut = text.slice(0, r.int(text.trimEnd().length - 1));
      cases.push({ label: `truncated at ${cut.length}`, bytes: enc(cut) });
    }
    const paths = typedPaths({ cells: doc.cells }).filter(([p]) => p.startsWith('cells['));
    for (let m = 0; m < 6 && paths.length > 0; m++) {
      const [p, mutate] = paths.splice(r.int(paths.length), 1)[0]!;
      const d = parseTsnbDoc(text);
      mutate(d);
      cases.push({ label: `wrong type at ${p}`, bytes: enc(stableStringify(d, 1)), path: p });
    }
    for (const c of cases) {
      writeFileSync(input, c.bytes);
      writeFileSync(out, 'previous tsnb');
      const io = captureIo();
      assert.equal(await runImport([input], io), 1, `${c.label}: ${io.err}`);
      assert.match(io.err, c.path === undefined ? /: not valid JSON at line \d+, column \d+: / : new RegExp(`: ${c.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} `), c.label);
      assert.deepEqual(readFileSync(input), Buffer.from(c.bytes), c.label);
      assert.equal(readFileSync(out, 'utf8'), 'previous tsnb', c.label);
      n++;
    }
  }
  assert.ok(n >= 80, `${n} cases`);
});
