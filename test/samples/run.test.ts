/**
 * `transferlab run`: parameters, output collection and the command end to end through a real
 * kernel (outputs, execution counts, injection, failures, timeouts, .ipynb, the input never
 * overwritten, update_display_data replaced, deterministic files).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CellExecutionError,
  FailureKind,
  runNotebook,
  OutputCollector,
  applyCarriageReturns,
  defaultOutput,
  injectParameters,
  parameterDeclarations,
  parseParameters,
  parseRunArgs,
  progressText,
  runRun,
  ProgressReporter,
  type RunEvent,
} from '../../cli/run';
import type { Message } from '../../kernel/protocol/messages';
import { Mime } from '../../kernel/protocol/mime';
import { createTsnbNotebook, parseTsnb, serializeTsnb, type TsnbCell, type TsnbCodeCell, type TsnbNotebook, type TsnbOutput } from '../../kernel/protocol/tsnb';
import { captureIo, repoRoot } from '../helpers/tools';

const fresh = (): string => mkdtempSync(path.join(tmpdir(), 'tl-run-'));

function code(source: string, tags: string[] = []): TsnbCodeCell {
  return { cell_type: 'code', source, metadata: tags.length > 0 ? { tags } : {}, execution_count: null, outputs: [] };
}

function notebook(cells: TsnbCell[]): TsnbNotebook {
  const nb = createTsnbNotebook();
  nb.cells.push(...cells);
  return nb;
}

function msg(type: string, content: Record<string, unknown>): Pick<Message, 'header' | 'content'> {
  return { header: { msg_type: type } as Message['header'], content };
}

const codeCells = (nb: TsnbNotebook): TsnbCodeCell[] => nb.cells.filter((c): c is TsnbCodeCell => c.cell_type === 'code');

describe('parameters', () => {
  test('values are JSON when valid, else strings; the last one wins', () => {
    const p = parseParameters(['epochs=3', 'seeds=[0, 1]', 'dataset=mnist', 'flag=true', 'quoted="7"', 'expr=a=b', 'epochs=4']);
    assert.deepEqual([...p], [
      ['epochs', 4],
      ['seeds', [0, 1]],
      ['dataset', 'mnist'],
      ['flag', true],
      ['quoted', '7'],
      ['expr', 'a=b'],
    ]);
  });

  test('bad names and missing = are usage errors naming the argument', () => {
    assert.throws(() => parseParameters(['epochs']), /--param "epochs": expected name=value/);
    assert.throws(() => parseParameters(['2x=1']), /"2x" is not a valid variable name/);
    assert.throws(() => parseParameters(['const=1']), /"const" is not a valid variable name/);
    assert.throws(() => parseParameters(['=1']), /expected name=value/);
  });

  test('declarations of the parameters cell are read with their types', () => {
    const d = parameterDeclarations("// sizes\nconst epochs = 3;\nlet mode: 'a' | 'b' = 'a', n = 2;\nvar seeds: number[] = [0];\nconst { x } = { x: 1 };\nfunction f() { const inner = 1; }");
    assert.deepEqual(d, [
      { keyword: 'const', name: 'epochs' },
      { keyword: 'let', name: 'mode', type: "'a' | 'b'" },
      { keyword: 'let', name: 'n' },
      { keyword: 'var', name: 'seeds', type: 'number[]' },
    ]);
  });

  test('the injected cell follows the parameters cell, keeps types, replaces an old one', () => {
    const nb = notebook([
      { cell_type: 'markdown', source: '# T', metadata: {} },
      code("const epochs = 3;\nconst mode: 'a' | 'b' = 'a';", ['parameters']),
      code('// old\nconst epochs = 1;', ['injected-parameters']),
      code('console.log(epochs)'),
    ]);
    const before = serializeTsnb(nb);
    const { notebook: out, warnings } = injectParameters(nb, parseParameters(['epochs=5', 'mode=b', 'extra=[1,2]']));
    assert.equal(serializeTsnb(nb), before, 'the argument is not changed');
    assert.deepEqual(out.cells.map((c) => c.metadata['tags'] ?? []), [[], ['parameters'], ['injected-parameters'], []]);
    assert.equal(out.cells[2]!.source, '// Parameters injected by `transferlab run`.\nconst epochs = 5;\nconst mode: \'a\' | \'b\' = "b";\nconst extra = [1,2];');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /parameter extra is not declared in the parameters cell \(it declares epochs, mode\)/);
  });

  test('without a parameters cell the values go first, with a warning; cell ids stay unique', () => {
    const nb = notebook([code('1', []), code('2')]);
    nb.cells[0]!.id = 'injected-parameters';
    nb.cells[1]!.id = 'b';
    const { notebook: out, warnings } = injectParameters(nb, new Map([['n', 1]]));
    assert.equal(out.cells[0]!.source.split('\n')[1], 'const n = 1;');
    assert.equal(out.cells[0]!.id, 'injected-parameters-2');
    assert.match(warnings[0]!, /no cell is tagged "parameters"/);
  });
});

describe('output collection', () => {
  test('streams merge per name, carriage returns overwrite, clear_output(wait) waits', () => {
    const c = new OutputCollector();
    const outputs: TsnbOutput[] = [];
    c.begin(outputs);
    c.handle(msg('stream', { name: 'stdout', text: 'a\n10%\r' }));
    c.handle(msg('stream', { name: 'stdout', text: '20%\r30%\n' }));
    c.handle(msg('stream', { name: 'stderr', text: 'warn\n' }));
    c.handle(msg('stream', { name: 'stdout', text: 'b\n' }));
    assert.deepEqual(outputs, [
      { output_type: 'stream', name: 'stdout', text: 'a\n30%\n' },
      { output_type: 'stream', name: 'stderr', text: 'warn\n' },
      { output_type: 'stream', name: 'stdout', text: 'b\n' },
    ]);
    c.handle(msg('clear_output', { wait: true }));
    assert.equal(outputs.length, 3, 'wait=true clears only when the next output arrives');
    c.handle(msg('execute_result', { data: { 'text/plain': '2' }, metadata: {}, execution_count: 7 }));
    assert.deepEqual(outputs, [{ output_type: 'execute_result', data: { 'text/plain': '2' }, metadata: {}, execution_count: 7 }]);
    c.handle(msg('clear_output', { wait: false }));
    assert.equal(outputs.length, 0);
  });

  test('update_display_data replaces every output with that display_id, in earlier cells too', () => {
    const c = new OutputCollector();
    const first: TsnbOutput[] = [];
    const second: TsnbOutput[] = [];
    c.begin(first);
    c.handle(msg('display_data', { data: { 'text/plain': 'start' }, metadata: {}, transient: { display_id: 'p' } }));
    c.handle(msg('display_data', { data: { 'text/plain': 'other' }, metadata: {}, transient: { display_id: 'q' } }));
    c.begin(second);
    c.handle(msg('display_data', { data: { 'text/plain': 'again' }, metadata: {}, transient: { display_id: 'p' } }));
    const r = c.handle(msg('update_display_data', { data: { 'text/plain': 'done', [Mime.json]: { a: 1 } }, metadata: { m: 1 }, transient: { display_id: 'p' } }));
    assert.deepEqual(r?.update, { 'text/plain': 'done', [Mime.json]: { a: 1 } });
    assert.deepEqual(first, [
      { output_type: 'display_data', data: { 'text/plain': 'done', [Mime.json]: { a: 1 } }, metadata: { m: 1 } },
      { output_type: 'display_data', data: { 'text/plain': 'other' }, metadata: {} },
    ]);
    assert.deepEqual(second, [{ output_type: 'display_data', data: { 'text/plain': 'done', [Mime.json]: { a: 1 } }, metadata: { m: 1 } }]);
    c.handle(msg('update_display_data', { data: { 'text/plain': 'x' }, metadata: {}, transient: { display_id: 'unknown' } }));
    assert.equal(first.length + second.length, 3, 'an update for an unknown id adds nothing');
  });

  test('carriage returns', () => {
    assert.equal(applyCarriageReturns('abc'), 'abc');
    assert.equal(applyCarriageReturns('1\r2\r3\nx\r\n'), '3\nx\n');
    assert.equal(applyCarriageReturns('10%\r'), '10%\r');
  });

  test('progress lines come from training payloads, else from text', () => {
    const payload = {
      title: 'P-T vs RI-T',
      runs: [
        { label: 'P-T seed 1', points: [{ epoch: 1, step: 10, loss: 0.5, accuracy: 0.9 }], done: true },
        { label: 'RI-T seed 1', points: [{ epoch: 0.5, step: 5, loss: 1.25, accuracy: 0.5, examplesPerSecond: 812.4 }], done: false },
      ],
    };
    assert.equal(progressText({ [Mime.training]: payload, 'text/plain': 'x' }), 'RI-T seed 1 (1/2 runs done) · epoch 0.50 · loss 1.2500 · acc 50.0% · 812 ex/s');
    assert.equal(progressText({ 'text/plain': 'title\nA: epoch 1\nB: epoch 0.5 (running)\n' }), 'B: epoch 0.5 (running)');
    assert.equal(progressText({ 'text/plain': '\u001b[1mstep 3\u001b[0m\n' }), 'step 3');
  });

  test('the progress reporter writes a line per cell off a terminal, and redraws on one', () => {
    let text = '';
    const plain = new ProgressReporter({ write: (t) => (text += t), isTTY: false }, 0);
    const events: RunEvent[] = [
      { type: 'kernel-started', banner: '', total: 2 },
      { type: 'cell-started', position: 1, total: 2, cellIndex: 0, source: 'const a = 1;' },
      { type: 'progress', position: 1, text: 'epoch 1' },
      { type: 'cell-finished', position: 1, total: 2, cellIndex: 0, seconds: 1.25, status: 'ok' },
    ];
    events.forEach(plain.onEvent);
    plain.finish();
    assert.match(text, /^kernel started; 2 code cells to run\ncell 1\/2 · [0-9.]+ s · epoch 1\ncell 1\/2 ok · 1\.3 s · epoch 1\n$/);
    let tty = '';
    const bar = new ProgressReporter({ write: (t) => (tty += t), isTTY: true, columns: 60 });
    events.forEach(bar.onEvent);
    bar.finish();
    assert.match(tty, /\r\u001b\[K▕░+▏ cell 1\/2 · 0\.0 s · const a = 1;/);
    assert.match(tty, /cell 1\/2 · [0-9.]+ s · epoch 1/);
    assert.ok(tty.split(/\r\u001b\[K|\n/).every((l) => l.length <= 60), 'lines fit the terminal');
  });
});

describe('command line', () => {
  test('arguments', () => {
    assert.deepEqual(parseRunArgs(['a.tsnb', '--param', 'x=1', '-p', 'y=z', '--backend=cpu', '--timeout', '2.5', '--html', 'r.html', '-o', 'b.tsnb']), {
      input: 'a.tsnb',
      out: 'b.tsnb',
      html: 'r.html',
      backend: 'cpu',
      parameters: new Map<string, unknown>([['x', 1], ['y', 'z']]),
      timeout: 2.5,
      quiet: false,
    });
    assert.equal(parseRunArgs(['--help']), 'help');
    assert.throws(() => parseRunArgs([]), /which notebook/);
    assert.throws(() => parseRunArgs(['a.tsnb', '--backend', 'gpu']), /--backend gpu: expected one of auto, wasm, cpu, webgpu, tensorflow/);
    assert.throws(() => parseRunArgs(['a.tsnb', '--timeout', '0']), /--timeout 0: expected a positive number/);
    assert.throws(() => parseRunArgs(['a.tsnb', '--nope']), /unknown option --nope/);
    assert.equal(defaultOutput(path.join('d', 'x.tsnb')), path.join('d', 'x.executed.tsnb'));
    assert.equal(defaultOutput('x.ipynb'), 'x.executed.ipynb');
  });

  test('usage errors exit 2 without starting a kernel; unreadable notebooks exit 1', async () => {
    const io = captureIo();
    assert.equal(await runRun(['a.tsnb', '--param', 'nope'], io), 2);
    assert.match(io.err, /transferlab run: --param "nope": expected name=value[\s\S]*usage: transferlab run/);
    const dir = fresh();
    const bad = path.join(dir, 'bad.tsnb');
    writeFileSync(bad, '{"cells": [}');
    const io2 = captureIo();
    assert.equal(await runRun([bad], io2), 1);
    assert.match(io2.err, /bad\.tsnb: not valid JSON at line 1, column 12/);
    assert.equal(existsSync(defaultOutput(bad)), false);
    const io3 = captureIo();
    assert.equal(await runRun([path.join(dir, 'missing.tsnb')], io3), 1);
    assert.match(io3.err, /cannot read .*missing\.tsnb: no such file/);
  });
});

const SMALL = (): TsnbNotebook =>
  notebook([
    { cell_type: 'markdown', source: '# Small', metadata: {} },
    code("const epochs = 2;\nconst mode: 'fast' | 'slow' = 'fast';", ['parameters']),
    code("console.log('epochs', epochs, mode);\nconsole.error('careful');\nconsole.log('more');"),
    code("const h = display.markdown('**start**');\nfor (let i = 0; i < 3; i++) {\n  await new Promise((r) => setTimeout(r, 20));\n  h.update({ [Symbol.for('Jupyter.display')]: () => ({ 'text/plain': `step ${i}`, 'application/json': { step: i } }) });\n}"),
    code(''),
    code("console.log('gone');\nclearOutput();\nconsole.log('kept');"),
    code("console.log('not run');", ['skip-execution']),
    code('epochs * 10'),
  ]);

describe('transferlab run, end to end', { concurrency: 2 }, () => {
  test('runs every cell, injects parameters, writes outputs and counts; the input stays as it was', async () => {
    const dir = fresh();
    const input = path.join(dir, 'small.tsnb');
    const original = serializeTsnb(SMALL());
    writeFileSync(input, original);
    const io = captureIo();
    const html = path.join(dir, 'small.html');
    const status = await runRun([input, '--param', 'epochs=5', '--param', 'mode=slow', '--html', html, '--backend', 'cpu'], io);
    assert.equal(status, 0, io.err);
    assert.equal(readFileSync(input, 'utf8'), original, 'the input is not overwritten');
    const outFile = path.join(dir, 'small.executed.tsnb');
    const text = readFileSync(outFile, 'utf8');
    const nb = parseTsnb(text);
    assert.equal(serializeTsnb(nb), text, 'written deterministically (re-serializing gives the same bytes)');
    const cells = codeCells(nb);
    assert.deepEqual(cells.map((c) => c.metadata['tags'] ?? []), [['parameters'], ['injected-parameters'], [], [], [], [], ['skip-execution'], []]);
    assert.deepEqual(cells.map((c) => c.execution_count), [1, 2, 3, 4, null, 5, null, 6]);
    assert.equal(cells[1]!.source, "// Parameters injected by `transferlab run`.\nconst epochs = 5;\nconst mode: 'fast' | 'slow' = \"slow\";");
    assert.deepEqual(cells[2]!.outputs, [
      { output_type: 'stream', name: 'stdout', text: 'epochs 5 slow\n' },
      { output_type: 'stream', name: 'stderr', text: 'careful\n' },
      { output_type: 'stream', name: 'stdout', text: 'more\n' },
    ]);
    assert.deepEqual(cells[3]!.outputs, [{ output_type: 'display_data', data: { 'text/plain': 'step 2', 'application/json': { step: 2 } }, metadata: {} }], 'the display was replaced by its last update');
    assert.deepEqual(cells[5]!.outputs, [{ output_type: 'stream', name: 'stdout', text: 'kept\n' }]);
    assert.deepEqual(cells[6]!.outputs, []);
    assert.deepEqual(cells[7]!.outputs, [{ output_type: 'execute_result', data: { 'text/plain': '50' }, metadata: {}, execution_count: 6 }]);
    assert.equal(nb.metadata.backend, 'cpu');
    assert.match(io.out, /ran 6 code cells in [0-9.]+ s.*; wrote .*small\.executed\.tsnb and .*small\.html/);
    assert.match(io.err, /kernel started; 6 code cells to run\n(cell \d\/6 ok · [0-9.]+ s.*\n){6}/);
    const report = readFileSync(html, 'utf8');
    assert.match(report, /<title>Small<\/title>/);
    assert.match(report, /epochs 5 slow/);

    // The same run again gives the same bytes.
    const again = path.join(dir, 'again.tsnb');
    assert.equal(await runRun([input, '--param', 'epochs=5', '--param', 'mode=slow', '--backend', 'cpu', '--out', again, '--quiet'], captureIo()), 0);
    assert.equal(readFileSync(again, 'utf8'), text, 'outputs are written deterministically');
  });

  test('a failing cell: exit 1, its error printed without colours, the partial notebook written', async () => {
    const dir = fresh();
    const input = path.join(dir, 'fails.tsnb');
    const nb = notebook([
      code("throw new RangeError('expected')", ['raises-exception']),
      code("const n: number = 2;\nconsole.log('before');"),
      code("function inner() {\n  throw new Error(`boom ${n}`);\n}\ninner();"),
      code("console.log('after');"),
    ]);
    const staleCell = nb.cells[3]!;
    if (staleCell.cell_type === 'code') staleCell.outputs.push({ output_type: 'stream', name: 'stdout', text: 'stale output\n' });
    const original = serializeTsnb(nb);
    writeFileSync(input, original);
    const out = path.join(dir, 'out.tsnb');
    const r = spawnSync(process.execPath, [path.join(repoRoot, 'bin', 'transferlab.js'), 'run', input, '--out', out, '--backend', 'cpu'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /\u001b\[/, 'no ANSI colour codes in the printed error');
    assert.match(r.stderr, /cell 1\/4 raised \(expected\)/);
    assert.match(r.stderr, /transferlab run: cell 3 of 4 \(notebook cell 3, execution count 3\) failed:\nError: boom 2\n/);
    assert.match(r.stderr, /line 2/, 'the traceback points into the cell');
    assert.match(r.stderr, /ran 3 of 4 code cells .* wrote the partial notebook to .*out\.tsnb/);
    assert.equal(readFileSync(input, 'utf8'), original);
    const cells = codeCells(parseTsnb(readFileSync(out, 'utf8')));
    assert.deepEqual(cells.map((c) => c.execution_count), [1, 2, 3, null]);
    assert.equal(cells[0]!.outputs[0]!.output_type, 'error');
    const err = cells[2]!.outputs.at(-1)!;
    assert.equal(err.output_type, 'error');
    assert.equal(err.output_type === 'error' && err.ename, 'Error');
    assert.equal(err.output_type === 'error' && err.evalue, 'boom 2');
    assert.deepEqual(cells[3]!.outputs, [], 'cells after the failure are cleared, not left with stale outputs');
  });

  test('a type error in an injected parameter names the injected cell', async () => {
    const dir = fresh();
    const input = path.join(dir, 'typed.tsnb');
    writeFileSync(input, serializeTsnb(notebook([code('const epochs: number = 1;', ['parameters']), code('epochs + 1')])));
    const io = captureIo();
    assert.equal(await runRun([input, '--param', 'epochs=many', '--backend', 'cpu', '--quiet'], io), 1);
    assert.match(io.err, /cell 2 of 3 \(notebook cell 2, execution count 2\) failed:\nTypeScriptError: .*TS2322/);
  });

  test('--timeout interrupts a cell that runs too long', async () => {
    const dir = fresh();
    const input = path.join(dir, 'slow.tsnb');
    writeFileSync(input, serializeTsnb(notebook([code("'warm up'"), code("console.log('start');\nawait new Promise(() => {});"), code('1')])));
    const io = captureIo();
    const t0 = Date.now();
    // Generous: the first cell of a fresh kernel also waits for its type checker.
    assert.equal(await runRun([input, '--timeout', '6', '--backend', 'cpu', '--quiet'], io), 1);
    assert.ok(Date.now() - t0 < 30_000, 'the run ends soon after the timeout');
    assert.match(io.err, /cell 2 of 3 \(notebook cell 2, execution count 2\) timed out:\nCellTimeoutError: the cell ran longer than 6 s \(--timeout\) and was interrupted/);
    const cells = codeCells(parseTsnb(readFileSync(defaultOutput(input), 'utf8')));
    assert.deepEqual(cells.map((c) => c.execution_count), [1, 2, null]);
    assert.deepEqual(cells[1]!.outputs.map((o) => o.output_type), ['stream', 'error'], 'what the cell printed before it was stopped is kept');
    const e = cells[1]!.outputs[1]!;
    assert.equal(e.output_type === 'error' && e.ename, 'CellTimeoutError');
  });

  test('a kernel that dies in a cell fails the run at once, with the partial notebook written', async () => {
    const dir = fresh();
    const input = path.join(dir, 'dies.tsnb');
    writeFileSync(input, serializeTsnb(notebook([code("console.log('a')"), code("process.kill(process.pid, 'SIGKILL')"), code("console.log('b')")])));
    const io = captureIo();
    assert.equal(await runRun([input, '--backend', 'cpu', '--quiet'], io), 1);
    assert.match(io.err, /cell 2 of 3 \(notebook cell 2, execution count 2\) lost its kernel:\nKernelDiedError: The kernel exited \(signal SIGKILL\)/);
    const cells = codeCells(parseTsnb(readFileSync(defaultOutput(input), 'utf8')));
    assert.deepEqual(cells.map((c) => c.execution_count), [1, 2, null]);
    assert.deepEqual(cells[0]!.outputs, [{ output_type: 'stream', name: 'stdout', text: 'a\n' }]);
    const e = cells[1]!.outputs.at(-1)!;
    assert.equal(e.output_type === 'error' && e.ename, 'KernelDiedError');
  });

  test('a kernel that stops answering its heartbeat fails the run, is killed, and the partial notebook is kept', async () => {
    const nb = notebook([code("console.log('a')"), code("process.kill(process.pid, 'SIGSTOP')"), code("console.log('b')")]);
    const t0 = Date.now();
    const result = await runNotebook(nb, { cwd: fresh(), backend: 'cpu', heartbeat: { intervalMs: 100, timeoutMs: 300, misses: 3 } });
    const ms = Date.now() - t0;
    assert.equal(result.error?.kind, FailureKind.died);
    assert.equal(result.error?.ename, 'KernelUnresponsiveError');
    assert.match(result.error!.evalue, /has not answered its heartbeat for \d+\.\d s; its process was killed/);
    assert.ok(ms < 30_000, `the run ended after ${ms} ms`);
    const cells = codeCells(result.notebook);
    assert.deepEqual(cells.map((c) => c.execution_count), [1, 2, null]);
    assert.deepEqual(cells[0]!.outputs, [{ output_type: 'stream', name: 'stdout', text: 'a\n' }]);
  });

  test('.ipynb in, .ipynb out; --out may name the input on purpose (with --in-place)', async () => {
    const dir = fresh();
    const input = path.join(dir, 'nb.ipynb');
    const ipynb = {
      cells: [{ cell_type: 'code', execution_count: null, id: 'c1', metadata: { tags: ['parameters'] }, outputs: [], source: ['const who = "world";'] }, { cell_type: 'code', execution_count: null, id: 'c2', metadata: {}, outputs: [], source: ['`hello ${who}`'] }],
      metadata: { kernelspec: { name: 'transferlab', display_name: 'TransferLab (TypeScript)', language: 'typescript' } },
      nbformat: 4,
      nbformat_minor: 5,
    };
    writeFileSync(input, JSON.stringify(ipynb));
    assert.equal(await runRun([input, '--param', 'who=you', '--out', input, '--in-place', '--backend', 'cpu', '--quiet'], captureIo()), 0);
    const out = JSON.parse(readFileSync(input, 'utf8')) as { nbformat: number; cells: { id: string; execution_count: number | null; outputs: { data?: Record<string, string[]> }[] }[] };
    assert.equal(out.nbformat, 4);
    assert.deepEqual(out.cells.map((c) => c.id), ['c1', 'injected-parameters', 'c2']);
    assert.deepEqual(out.cells.map((c) => c.execution_count), [1, 2, 3]);
    assert.deepEqual(out.cells[2]!.outputs[0]!.data!['text/plain'], ["'hello you'"]);
  });

  test('CellExecutionError.report reads without colours', () => {
    const e = new CellExecutionError('error', 4, 2, 5, 3, 'Error', 'bad', ['\u001b[31mError\u001b[0m: bad', '    at cell [3], line 1']);
    assert.equal(e.report(), 'cell 2 of 5 (notebook cell 5, execution count 3) failed:\nError: bad\n    at cell [3], line 1\n');
    assert.equal(e.message, 'cell 2/5 [3] failed: Error: bad');
  });
});
