import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runExport, runImport } from '../../cli/notebookConvert';
import { parseTsnb, serializeTsnb } from '../../kernel/protocol/tsnb';
import { CANONICAL } from '../protocol/fixtures';
import { richNotebook } from './fixtures';
import { captureIo } from '../helpers/tools';

const fresh = (): string => mkdtempSync(path.join(tmpdir(), 'tl-convert-'));

const IPYNB = `${JSON.stringify(
  {
    cells: [
      { cell_type: 'markdown', id: 'a', metadata: {}, source: ['# Hi'] },
      { cell_type: 'code', execution_count: 1, id: 'b', metadata: {}, source: ['1 + 1'], outputs: [{ data: { 'text/plain': ['2'] }, execution_count: 1, metadata: {}, output_type: 'execute_result' }] },
    ],
    metadata: { kernelspec: { name: 'tslab', display_name: 'TypeScript', language: 'typescript' } },
    nbformat: 4,
    nbformat_minor: 5,
  },
  null,
  1,
)}\n`;

test('import writes a .tsnb next to the .ipynb (or to --out), outputs kept', async () => {
  const dir = fresh();
  const input = path.join(dir, 'analysis.ipynb');
  writeFileSync(input, IPYNB);
  const a = captureIo();
  assert.equal(await runImport([input], a), 0, a.err);
  const out = path.join(dir, 'analysis.tsnb');
  assert.equal(a.out, `wrote ${out} (2 cells, 1 output)\n`);
  assert.equal(a.err, '');
  const nb = parseTsnb(readFileSync(out, 'utf8'));
  const code = nb.cells[1]!;
  assert.ok(code.cell_type === 'code');
  assert.equal(code.outputs[0]!.output_type, 'execute_result');
  assert.equal(nb.metadata.kernel?.name, 'transferlab');
  const b = captureIo();
  assert.equal(await runImport([input, '--out', path.join(dir, 'other.tsnb')], b), 0);
  assert.equal(readFileSync(path.join(dir, 'other.tsnb'), 'utf8'), readFileSync(out, 'utf8'));
  const c = captureIo();
  assert.equal(await runImport([input, '--out=-'], c), 0);
  assert.equal(c.out, readFileSync(out, 'utf8'));
});

test('import of a bad file: exit 1, the file and position named, the existing output untouched', async () => {
  const dir = fresh();
  const input = path.join(dir, 'broken.ipynb');
  writeFileSync(input, IPYNB.slice(0, 120));
  const out = path.join(dir, 'broken.tsnb');
  writeFileSync(out, 'previous content');
  const before = statSync(out).mtimeMs;
  const r = captureIo();
  assert.equal(await runImport([input, '--out', out], r), 1);
  assert.match(r.err, new RegExp(`^transferlab import: ${input.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not valid JSON at line \\d+, column \\d+: `));
  assert.equal(readFileSync(out, 'utf8'), 'previous content');
  assert.equal(statSync(out).mtimeMs, before);
  assert.deepEqual(readdirSync(dir).sort(), ['broken.ipynb', 'broken.tsnb']);

  const bad = JSON.parse(IPYNB);
  bad.cells[1].outputs[0].execution_count = 'one';
  writeFileSync(input, JSON.stringify(bad));
  const s = captureIo();
  assert.equal(await runImport([input, '--out', out], s), 1);
  assert.match(s.err, /broken\.ipynb: cells\[1\]\.outputs\[0\]\.execution_count must be a non-negative integer or null, found a string \("one"\)/);

  const m = captureIo();
  assert.equal(await runImport([path.join(dir, 'nope.ipynb')], m), 1);
  assert.match(m.err, /cannot read .*nope\.ipynb: no such file/);
});

test('usage errors: exit 2 with the usage text', async () => {
  const cases: [Promise<number>, ReturnType<typeof captureIo>, RegExp][] = [];
  const add = (run: (r: ReturnType<typeof captureIo>) => Promise<number>, msg: RegExp): void => {
    const r = captureIo();
    cases.push([run(r), r, msg]);
  };
  add((r) => runImport([], r), /which notebook\?/);
  add((r) => runImport(['a.ipynb', '--bogus'], r), /unknown option --bogus/);
  add((r) => runImport(['a.ipynb', 'b.ipynb'], r), /unexpected argument b\.ipynb/);
  add((r) => runImport(['a.ipynb', '--out'], r), /--out needs a value/);
  add((r) => runImport(['a.ipynb', '--out', 'a.ipynb'], r), /is the input file/);
  add((r) => runExport(['a.tsnb'], r), /--to is missing/);
  add((r) => runExport(['a.tsnb', '--to', 'pdf'], r), /--to pdf: expected ipynb or html/);
  for (const [status, r, msg] of cases) {
    assert.equal(await status, 2);
    assert.match(r.err, msg);
    assert.match(r.err, /usage: transferlab (import|export)/);
  }
  const h = captureIo();
  assert.equal(await runExport(['--help'], h), 0);
  assert.match(h.out, /--to FORMAT/);
});

test('export --to ipynb (and --to inferred from --out, --out -, --no-outputs)', async () => {
  const dir = fresh();
  const input = path.join(dir, 'nb.tsnb');
  writeFileSync(input, CANONICAL);
  const a = captureIo();
  assert.equal(await runExport([input, '--to', 'ipynb'], a), 0, a.err);
  const written = JSON.parse(readFileSync(path.join(dir, 'nb.ipynb'), 'utf8'));
  assert.equal(written.nbformat, 4);
  assert.equal(written.cells[1].outputs.length, 3);
  const b = captureIo();
  assert.equal(await runExport([input, '--out', path.join(dir, 'copy.ipynb')], b), 0);
  assert.deepEqual(JSON.parse(readFileSync(path.join(dir, 'copy.ipynb'), 'utf8')), written);
  const c = captureIo();
  assert.equal(await runExport([input, '--to', 'ipynb', '--out', '-', '--no-outputs'], c), 0);
  assert.deepEqual(JSON.parse(c.out).cells[1].outputs, []);
  assert.equal(readFileSync(input, 'utf8'), CANONICAL, 'the input is never touched');
});

test('export of a newer or malformed .tsnb fails without touching the output', async () => {
  const dir = fresh();
  const input = path.join(dir, 'nb.tsnb');
  const out = path.join(dir, 'nb.html');
  writeFileSync(out, 'old report');
  writeFileSync(input, CANONICAL.replace('"format_version": 1', '"format_version": 7'));
  const a = captureIo();
  assert.equal(await runExport([input, '--to', 'html'], a), 1);
  assert.match(a.err, /nb\.tsnb: written in \.tsnb format version 7 by a newer TransferLab/);
  writeFileSync(input, CANONICAL.replace('"cell_type": "code"', '"cell_type": 3'));
  const b = captureIo();
  assert.equal(await runExport([input, '--to', 'html'], b), 1);
  assert.match(b.err, /nb\.tsnb: cells\[1\]\.cell_type must be "code", "markdown" or "raw", found number 3/);
  assert.equal(readFileSync(out, 'utf8'), 'old report');
});

test('export --to html: one deterministic, self-contained page with the chart script inlined', async () => {
  const dir = fresh();
  const input = path.join(dir, 'rich.tsnb');
  writeFileSync(input, serializeTsnb(richNotebook()));
  const a = captureIo();
  assert.equal(await runExport([input, '--to', 'html'], a), 0, a.err);
  const html = readFileSync(path.join(dir, 'rich.html'), 'utf8');
  assert.match(html, /^<!doctype html>\n<html lang="en">/);
  assert.equal((html.match(/class="tl-chart"/g) ?? []).length, 5);
  assert.match(html, /<h1 id="what-is-being-transferred">What is being transferred\?<\/h1>/);
  assert.match(html, /<img src="data:image\/png;base64,[A-Za-z0-9+/=]+" alt="inline">/, 'markdown attachment inlined');
  assert.match(html, /<pre class="tl-stream tl-stdout">training\nepoch 1 &lt;done&gt;\n<\/pre>/);
  assert.match(html, /<pre class="tl-stream tl-stderr">warning: slow backend\n<\/pre>/, 'ANSI colours stripped');
  assert.match(html, /<iframe class="tl-html" sandbox="allow-same-origin" srcdoc="&lt;meta name=&quot;color-scheme&quot; content=&quot;light dark&quot;&gt;&lt;b id=&quot;bold&quot;&gt;/);
  assert.ok(!html.includes('<script>parent'), 'HTML outputs stay inside the sandboxed frame');
  assert.ok(!/\bsrc="(https?:)?\/\//.test(html), 'nothing is loaded from the network');
  // only the module script and the JSON payloads are scripts
  const scripts = [...html.matchAll(/<script([^>]*)>/g)].map((m) => m[1]);
  assert.deepEqual(scripts, [...Array(5).fill(' type="application/json"'), ' type="module"']);
  const again = captureIo();
  assert.equal(await runExport([input, '--to', 'html', '--out', path.join(dir, 'again.html')], again), 0);
  assert.equal(readFileSync(path.join(dir, 'again.html'), 'utf8'), html);
  assert.ok(!existsSync(path.join(dir, 'rich.ipynb')));
});
