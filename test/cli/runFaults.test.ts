/**
 * `transferlab run` (and import/export) under faults: a real command-line process killed with
 * SIGTERM or SIGKILL leaves no kernel and no connection file; outputs that are not regular files
 * (a FIFO, a device, a folder) are refused before any cell runs; an output that is the input
 * under any name is refused unless `--in-place`, which keeps the outputs of cells that did not run.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { defaultOutput, runRun } from '../../cli/run';
import { runExport, runImport } from '../../cli/notebookConvert';
import { createTsnbNotebook, parseTsnb, serializeTsnb, type TsnbCell, type TsnbCodeCell, type TsnbNotebook } from '../../kernel/protocol/tsnb';
import { captureIo, repoRoot } from '../helpers/tools';

const fresh = (): string => mkdtempSync(path.join(tmpdir(), 'tl-faults-'));
const bin = path.join(repoRoot, 'bin', 'transferlab.js');

function code(source: string, extra: Partial<TsnbCodeCell> = {}): TsnbCodeCell {
  return { cell_type: 'code', source, metadata: {}, execution_count: null, outputs: [], ...extra };
}

function notebook(cells: TsnbCell[]): TsnbNotebook {
  const nb = createTsnbNotebook();
  nb.cells.push(...cells);
  return nb;
}

const codeCells = (nb: TsnbNotebook): TsnbCodeCell[] => nb.cells.filter((c): c is TsnbCodeCell => c.cell_type === 'code');

/** Whether a process runs (a zombie, dead but not yet reaped, counts as gone). Linux /proc. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** The processes whose command line holds `arg`. */
function pidsWith(arg: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').includes(arg)) pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

async function waitFor(what: string, ok: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The connection files under a temporary folder (KernelClient writes transferlab-*\/connection.json). */
function connectionFiles(tmp: string): string[] {
  return readdirSync(tmp, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('connection.json')).map((f) => path.join(tmp, f));
}

/** Starts `transferlab run` on a notebook whose second cell never ends; resolves once it runs. */
async function startLongRun(): Promise<{ child: ChildProcess; dir: string; tmp: string; input: string; kernelPid: number; stderr: () => string }> {
  const dir = fresh();
  const tmp = path.join(dir, 'tmp');
  mkdirSync(tmp);
  const input = path.join(dir, 'long.tsnb');
  writeFileSync(input, serializeTsnb(notebook([code("console.log('first')"), code('await new Promise(() => {});')])));
  const child = spawn(process.execPath, [bin, 'run', input, '--backend', 'cpu'], { cwd: dir, env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout!.resume();
  await waitFor('the first cell to finish', () => /cell 1\/2 ok/.test(stderr) || child.exitCode !== null, 90_000);
  assert.equal(child.exitCode, null, stderr);
  const files = connectionFiles(tmp);
  assert.equal(files.length, 1, `one connection file in ${tmp}`);
  const pids = pidsWith(files[0]!);
  assert.equal(pids.length, 1, `one kernel process started with ${files[0]}`);
  return { child, dir, tmp, input, kernelPid: pids[0]!, stderr: () => stderr };
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

describe('transferlab run killed', { concurrency: 1, skip: process.platform !== 'linux' && 'reads /proc' }, () => {
  test('SIGTERM: exit status 143, the kernel ends, no connection file and no output remain', async () => {
    const run = await startLongRun();
    try {
      run.child.kill('SIGTERM');
      const { code, signal } = await exited(run.child);
      assert.deepEqual({ code, signal }, { code: 143, signal: null }, run.stderr());
      await waitFor('the kernel to end', () => !alive(run.kernelPid), 5000);
      assert.deepEqual(connectionFiles(run.tmp), [], 'no connection file is left');
      assert.deepEqual(readdirSync(run.tmp), [], 'no connection folder is left');
      assert.equal(existsSync(defaultOutput(run.input)), false, 'nothing is written');
      assert.deepEqual(readdirSync(run.dir).sort(), ['long.tsnb', 'tmp']);
    } finally {
      if (alive(run.kernelPid)) process.kill(run.kernelPid, 'SIGKILL');
    }
  });

  test('SIGKILL: the kernel notices its parent is gone, ends within seconds and removes its connection file', async () => {
    const run = await startLongRun();
    try {
      run.child.kill('SIGKILL');
      const { signal } = await exited(run.child);
      assert.equal(signal, 'SIGKILL');
      await waitFor('the kernel to end', () => !alive(run.kernelPid), 5000);
      await waitFor('the connection folder to go', () => readdirSync(run.tmp).length === 0, 2000);
    } finally {
      if (alive(run.kernelPid)) process.kill(run.kernelPid, 'SIGKILL');
    }
  });
});

describe('outputs that are not regular files', () => {
  test('a FIFO, a folder, a link to a FIFO or a device as --out or --html is refused before any cell runs', async () => {
    const dir = fresh();
    const input = path.join(dir, 'nb.tsnb');
    const original = serializeTsnb(notebook([code("console.log('ran')")]));
    writeFileSync(input, original);
    const fifo = path.join(dir, 'fifo');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
    const link = path.join(dir, 'link.tsnb');
    symlinkSync(fifo, link);
    const folder = path.join(dir, 'folder');
    mkdirSync(folder);
    const cases: [string[], RegExp][] = [
      [['--out', fifo], /cannot write .*fifo: it is a FIFO \(named pipe\), not a regular file/],
      [['--out', link], /cannot write .*link\.tsnb: it is a link to .*fifo, a FIFO \(named pipe\), not a regular file/],
      [['--out', folder], /cannot write .*folder: it is a folder, not a regular file/],
      [['--html', fifo], /cannot write .*fifo: it is a FIFO/],
      // Last, and only as a target that must be refused: it is checked unchanged below.
      [['--out', '/dev/null'], /cannot write \/dev\/null: it is a character device, not a regular file/],
    ];
    const devNull = statSync('/dev/null');
    for (const [args, why] of cases) {
      const io = captureIo();
      assert.equal(await runRun([input, ...args, '--backend', 'cpu'], io), 1, `${args.join(' ')}: ${io.err}`);
      assert.match(io.err, why);
      assert.doesNotMatch(io.err, /kernel started;/, 'refused before the kernel starts');
    }
    assert.ok(lstatSync(fifo).isFIFO(), 'the FIFO is still a FIFO');
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.deepEqual(readdirSync(folder), []);
    const after = statSync('/dev/null');
    assert.ok(after.isCharacterDevice());
    assert.deepEqual([after.mode, after.rdev, after.ino], [devNull.mode, devNull.rdev, devNull.ino], '/dev/null is unchanged');
    assert.equal(readFileSync(input, 'utf8'), original);
    assert.deepEqual(readdirSync(dir).sort(), ['fifo', 'folder', 'link.tsnb', 'nb.tsnb'], 'nothing else written');
  });

  test('export and import refuse a FIFO too', async () => {
    const dir = fresh();
    const input = path.join(dir, 'nb.tsnb');
    writeFileSync(input, serializeTsnb(notebook([code('1')])));
    const fifo = path.join(dir, 'fifo.ipynb');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
    const io = captureIo();
    assert.equal(await runExport([input, '--to', 'ipynb', '--out', fifo], io), 1);
    assert.match(io.err, /cannot write .*fifo\.ipynb: it is a FIFO/);
    const ipynb = path.join(dir, 'nb.ipynb');
    assert.equal(await runExport([input, '--out', ipynb], captureIo()), 0);
    const fifo2 = path.join(dir, 'fifo.tsnb');
    assert.equal(spawnSync('mkfifo', [fifo2]).status, 0, 'mkfifo');
    const io2 = captureIo();
    assert.equal(await runImport([ipynb, '--out', fifo2], io2), 1);
    assert.match(io2.err, /cannot write .*fifo\.tsnb: it is a FIFO/);
    assert.ok(lstatSync(fifo).isFIFO() && lstatSync(fifo2).isFIFO());
  });
});

describe('the input as output', () => {
  test('--out naming the input under any name is refused with status 2, before the kernel starts', async () => {
    const dir = fresh();
    const input = path.join(dir, 'nb.tsnb');
    const original = serializeTsnb(notebook([code("console.log('ran')")]));
    writeFileSync(input, original);
    const sym = path.join(dir, 'sym.tsnb');
    symlinkSync(input, sym);
    const hard = path.join(dir, 'hard.tsnb');
    linkSync(input, hard);
    for (const out of [input, path.join(dir, '.', 'sub', '..', 'nb.tsnb'), sym, hard]) {
      const io = captureIo();
      assert.equal(await runRun([input, '--out', out, '--backend', 'cpu'], io), 2, `--out ${out}: ${io.err}`);
      assert.match(io.err, /is the input file .*nb\.tsnb; choose another name, or pass --in-place to replace it/);
      assert.doesNotMatch(io.err, /kernel started;/);
    }
    for (const args of [['--html', hard], ['--out', path.join(dir, 'o.tsnb'), '--html', path.join(dir, 'o.tsnb')], ['--in-place', '--out', path.join(dir, 'other.tsnb')]]) {
      const io = captureIo();
      assert.equal(await runRun([input, ...args], io), 2, `${args.join(' ')}: ${io.err}`);
    }
    assert.equal(readFileSync(input, 'utf8'), original);
    assert.deepEqual(readdirSync(dir).sort(), ['hard.tsnb', 'nb.tsnb', 'sym.tsnb'], 'nothing written');
  });

  test('import and export refuse an --out that is a link to the input', async () => {
    const dir = fresh();
    const input = path.join(dir, 'nb.tsnb');
    writeFileSync(input, serializeTsnb(notebook([code('1')])));
    const hard = path.join(dir, 'hard.ipynb');
    linkSync(input, hard);
    const io = captureIo();
    assert.equal(await runExport([input, '--to', 'ipynb', '--out', hard], io), 2);
    assert.match(io.err, /is the input file/);
    const io2 = captureIo();
    assert.equal(await runImport([hard, '--out', input], io2), 2);
    assert.match(io2.err, /is the input file/);
  });

  test('--in-place replaces the input; a failing run keeps the saved outputs of the cells after the failure', async () => {
    const dir = fresh();
    const input = path.join(dir, 'nb.tsnb');
    const saved = (text: string, count: number): Partial<TsnbCodeCell> => ({ execution_count: count, outputs: [{ output_type: 'stream', name: 'stdout', text }] });
    writeFileSync(
      input,
      serializeTsnb(
        notebook([
          code("console.log('new a')", saved('old a\n', 4)),
          code("throw new Error('boom')", saved('old b\n', 5)),
          code("console.log('new c')", saved('old c\n', 6)),
          code("console.log('new d')", { ...saved('old d\n', 7), metadata: { tags: ['skip-execution'] } }),
        ]),
      ),
    );
    const io = captureIo();
    assert.equal(await runRun([input, '--in-place', '--backend', 'cpu', '--quiet'], io), 1, io.err);
    assert.match(io.err, /cell 2 of 3 .* failed:\nError: boom/);
    assert.match(io.err, /wrote the partial notebook to .*nb\.tsnb/);
    const cells = codeCells(parseTsnb(readFileSync(input, 'utf8')));
    assert.deepEqual(cells.map((c) => c.execution_count), [1, 2, 6, 7]);
    assert.deepEqual(cells[0]!.outputs, [{ output_type: 'stream', name: 'stdout', text: 'new a\n' }], 'a cell that ran has its new outputs');
    assert.equal(cells[1]!.outputs.at(-1)!.output_type, 'error', 'the failing cell has its error');
    assert.ok(!cells[1]!.outputs.some((o) => o.output_type === 'stream' && o.text === 'old b\n'));
    assert.deepEqual(cells[2]!.outputs, [{ output_type: 'stream', name: 'stdout', text: 'old c\n' }], 'a cell after the failure keeps its saved outputs');
    assert.deepEqual(cells[3]!.outputs, [{ output_type: 'stream', name: 'stdout', text: 'old d\n' }], 'a skipped cell keeps its saved outputs');
    assert.deepEqual(readdirSync(dir), ['nb.tsnb'], 'no other file written');
  });
});
