/**
 * `transferlab sweep`: the grid and its errors, run keys, the summary, and sweeps on real kernels:
 * a failing cell fails its run without a retry, a dead server slot is retired, a rerun skips what
 * finished; and the proof of issue 13: 6 grid points over 3 kernels (two local, one on a real
 * Jupyter Server with a token and a base path), one kernel killed mid-run, give the results of
 * the same grid run serially, and no file or message holds the token.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import type { KernelConnection } from '../../client/connection';
import { Mime } from '../../kernel/protocol/mime';
import { createTsnbNotebook, parseTsnb, serializeTsnb, type JsonValue, type TsnbCodeCell, type TsnbNotebook } from '../../kernel/protocol/tsnb';
import {
  canonicalJson,
  gridPoints,
  notebookFingerprint,
  parseGrid,
  parseSweepArgs,
  findingsCountsOf,
  resultsOf,
  runFileName,
  runKey,
  runSweep,
  summaryNotebook,
  SweepProgress,
  type KernelSlot,
  type PoolEvent,
  type SweepManifest,
  type SweepServer,
} from '../../cli/sweep';
import { UsageError } from '../../cli/errors';
import { startJupyterServer, type TestJupyterServer } from '../helpers/jupyterServer';
import { captureIo } from '../helpers/tools';

const fresh = (): string => mkdtempSync(path.join(tmpdir(), 'tl-sweep-'));

function code(source: string, tags: string[] = []): TsnbCodeCell {
  return { cell_type: 'code', source, metadata: tags.length > 0 ? { tags } : {}, execution_count: null, outputs: [] };
}

/**
 * A notebook of seconds: parameters seed and blockSize, a value computed with tf on generated
 * data, a pause (where a test kills the kernel), and results marked with tl.result / tl.results.
 */
function fixture(extra = ''): TsnbNotebook {
  const nb = createTsnbNotebook();
  nb.cells.push(
    { cell_type: 'markdown', metadata: {}, source: '# Tiny sweep' },
    code('const seed: number = 1;\nconst blockSize: number = 4;', ['parameters']),
    code(
      [
        extra,
        'const values = tf.tidy(() => tf.range(0, 8 * blockSize).mul(seed / 10).sin().arraySync() as number[]);',
        'await new Promise((r) => setTimeout(r, 500));',
        "tl.result('sum', values.reduce((a, b) => a + b, 0));",
        "tl.results({ product: seed * blockSize, label: `s${seed}b${blockSize}` });",
      ].join('\n'),
    ),
  );
  return nb;
}

/** The reference of the fixture's `sum`, in float64. */
function referenceSum(seed: number, blockSize: number): number {
  let s = 0;
  for (let k = 0; k < 8 * blockSize; k++) s += Math.sin(k * (seed / 10));
  return s;
}

function manifestOf(dir: string): SweepManifest {
  return JSON.parse(readFileSync(path.join(dir, 'sweep.json'), 'utf8')) as SweepManifest;
}

/** Every file under a folder, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => path.join(dir, f))
    .filter((f) => statSync(f).isFile());
}

/** The manifest's results by grid point (canonical JSON of the point). */
function resultsByPoint(m: SweepManifest): Map<string, { [name: string]: JsonValue }> {
  return new Map(Object.values(m.runs).map((r) => [canonicalJson(r.point), r.results]));
}

describe('grid', () => {
  test('names with lists, values as --param reads them, commas inside JSON kept; the product in a stable order', () => {
    const axes = parseGrid(['seed=[1,2,3], blockSize=[1, 4,7]', 'data=[mnist, "a,b", [1,2], {"lr": 0.1, "m": [0,1]}]']);
    assert.deepEqual(axes, [
      { name: 'seed', values: [1, 2, 3] },
      { name: 'blockSize', values: [1, 4, 7] },
      { name: 'data', values: ['mnist', 'a,b', [1, 2], { lr: 0.1, m: [0, 1] }] },
    ]);
    const points = gridPoints(axes.slice(0, 2)).map((p) => Object.fromEntries(p));
    assert.equal(points.length, 9);
    assert.deepEqual(points.slice(0, 4), [
      { seed: 1, blockSize: 1 },
      { seed: 1, blockSize: 4 },
      { seed: 1, blockSize: 7 },
      { seed: 2, blockSize: 1 },
    ]);
    assert.deepEqual(gridPoints([]).map((p) => p.size), [0]);
  });

  test('faults are usage errors that name the column', () => {
    const cases: [string, RegExp][] = [
      ['seed=[1,2', /the \[ here is never closed \(column 6\)/],
      ['seed=[1,2]],b=[1]', /\] closes nothing \(column 11\)/],
      ['seed=[1,{"a":2]]', /\] does not close the \{ at column 9 \(column 15\)/],
      ['seed=["a,1]', /string that starts here is never closed \(column 7\)/],
      ['seed=[]', /seed=\[\] lists no values \(column 6\)/],
      ['seed=[1,,2]', /an empty value in the list of seed \(column 9\)/],
      ['seed=[1,2],seed=[3]', /seed is given twice \(column 12\)/],
      ['seed=3', /must be a list in brackets, e.g\. seed=\[3\] \(column 6\)/],
      ['seed=[1,2,1]', /seed lists 1 twice \(also at column 7\) \(column 11\)/],
      ['1x=[1]', /"1x" is not a valid variable name \(column 1\)/],
      ['seed=[1],', /an empty entry/],
      ['seed', /seed is not name=\[values\]/],
    ];
    for (const [spec, message] of cases) {
      assert.throws(() => parseGrid([spec]), (e: unknown) => e instanceof UsageError && message.test(e.message), spec);
    }
    assert.throws(() => parseGrid(['seed=[1]'], new Set(['seed'])), /seed is also given with --param; give it in one place \(column 1\)/);
    assert.throws(() => parseGrid(['a=[1]', 'a=[2]']), /a is given twice/);
  });

  test('the command line: defaults, and what cannot go together', () => {
    const a = parseSweepArgs(['study.tsnb', '-g', 'seed=[1,2]', '--param', 'epochs=1']);
    assert.ok(a !== 'help');
    assert.equal(a.kernels, 2);
    assert.equal(a.out, 'study.sweep');
    assert.equal(a.retries, 2);
    assert.deepEqual([...a.fixed], [['epochs', 1]]);
    const s = parseSweepArgs(['study.tsnb', '--grid', 'seed=[1]', '--server', 'http://h/', '--server', 'http://g/']);
    assert.ok(s !== 'help');
    assert.equal(s.kernels, 0, 'no local kernels by default when servers are given');
    assert.equal(s.serverKernels, 1);
    assert.throws(() => parseSweepArgs(['study.tsnb']), /--grid is missing/);
    assert.throws(() => parseSweepArgs(['study.tsnb', '--grid', 'seed=[1]', '--kernels', '0']), /nowhere to run/);
    assert.throws(() => parseSweepArgs(['study.tsnb', '--grid', 'seed=[1]', '--kernels', '1.5']), /--kernels 1\.5: expected a whole number ≥ 0/);
    assert.throws(() => parseSweepArgs(['study.tsnb', '--grid', 'seed=[1]', '--server-kernels', '2']), /--server-kernels needs a --server/);
    assert.throws(() => parseSweepArgs(['study.tsnb', '--grid', 'seed=[1]', '--param', 'seed=3']), /seed is also given with --param/);
    assert.throws(() => parseSweepArgs(['study.tsnb', '--grid', 'seed=[1]', '--backend', 'gpu']), /--backend gpu: expected one of/);
  });

  test('a usage error exits with status 2 and prints the usage', async () => {
    const io = captureIo();
    assert.equal(await runSweep(['x.tsnb', '--grid', 'seed=[1,2'], io), 2);
    assert.match(io.err, /transferlab sweep: --grid seed=\[1,2: the \[ here is never closed \(column 6\)/);
    assert.match(io.err, /usage: transferlab sweep NOTEBOOK --grid/);
  });
});

describe('run keys', () => {
  test('the code and the parameters make the key; outputs, counts and markdown do not', () => {
    const nb = fixture();
    const f = notebookFingerprint(nb);
    assert.match(f, /^[0-9a-f]{64}$/);
    const executed = structuredClone(nb);
    (executed.cells[2] as TsnbCodeCell).outputs.push({ output_type: 'stream', name: 'stdout', text: 'x\n' });
    (executed.cells[2] as TsnbCodeCell).execution_count = 7;
    executed.cells[0]!.source = '# Tiny sweep, retitled';
    assert.equal(notebookFingerprint(executed), f, 'outputs, counts and markdown leave the key alone');
    const edited = structuredClone(nb);
    edited.cells[2]!.source += '\n// edited';
    assert.notEqual(notebookFingerprint(edited), f, 'editing code changes it');
    const retagged = structuredClone(nb);
    retagged.cells[2]!.metadata = { tags: ['skip-execution'] };
    assert.notEqual(notebookFingerprint(retagged), f, 'tags change what runs');

    const k = runKey(f, new Map<string, JsonValue>([['seed', 1], ['opts', { b: 1, a: 2 }]]), undefined);
    assert.equal(runKey(f, new Map<string, JsonValue>([['opts', { a: 2, b: 1 }], ['seed', 1]]), 'auto'), k, 'parameter and key order do not matter; no backend is auto');
    assert.notEqual(runKey(f, new Map([['seed', 2]]), undefined), runKey(f, new Map([['seed', 1]]), undefined));
    assert.notEqual(runKey(f, new Map([['seed', 1]]), 'cpu'), runKey(f, new Map([['seed', 1]]), 'wasm'));
    assert.equal(runFileName(k, new Map<string, JsonValue>([['seed', 1], ['data', 'a b/../c:d'], ['l', [1, 2]]])), `${k.slice(0, 12)}-seed=1,data=a_b_.._c_d,l=_1,2_.tsnb`);
  });
});

describe('results and summary', () => {
  test('results are read from every output, a later value of a name replacing the earlier one; a findings table gives its verdict counts', () => {
    const nb = createTsnbNotebook();
    const shown = (results: { name: string; value: JsonValue }[]) => ({ output_type: 'display_data' as const, metadata: {}, data: { [Mime.result]: { results }, [Mime.plain]: 'x' } });
    nb.cells.push(
      { ...code('a'), outputs: [shown([{ name: 'acc', value: 0.5 }, { name: 'n', value: 3 }]), { output_type: 'stream', name: 'stdout', text: 'acc = 9\n' }] },
      { ...code('b'), outputs: [shown([{ name: 'acc', value: 0.75 }])] },
      { cell_type: 'markdown', metadata: {}, source: 'no outputs here' },
    );
    const r = resultsOf(parseTsnb(serializeTsnb(nb)));
    assert.deepEqual(Object.keys(r), ['acc', 'n']);
    assert.equal(Number(r['acc']), 0.75);
    assert.equal(Number(r['n']), 3);
    assert.equal(findingsCountsOf(nb), undefined);
    const findings = { title: 'Findings', rows: [{ claim: 'a', verdict: 'holds' }, { claim: 'b', verdict: 'fails' }, { claim: 'c', verdict: 'holds' }, { claim: 'd', verdict: 'unresolved' }] };
    (nb.cells[1] as TsnbCodeCell).outputs.push({ output_type: 'display_data', metadata: {}, data: { [Mime.json]: findings, [Mime.plain]: 'table' } });
    assert.deepEqual(findingsCountsOf(nb), { holds: 2, fails: 1, unresolved: 1 });
  });

  test('the summary: a row per grid point with its results, status, place and link; the failed runs with their errors', () => {
    const axes = parseGrid(['seed=[1,2,3]']);
    const points = gridPoints(axes);
    const base = { attempts: 1, finished: '2026-01-01T00:00:00.000Z' };
    const nb = summaryNotebook({
      notebook: 'study.tsnb',
      axes,
      fixed: new Map([['epochs', 1]]),
      rows: [
        { point: points[0]!, record: { ...base, point: { seed: 1 }, parameters: { seed: 1, epochs: 1 }, status: 'ok', file: 'runs/abc-seed=1.tsnb', results: { acc: 0.8125, note: 'a|b' }, findings: { holds: 2, fails: 1, unresolved: 0 }, where: 'local', seconds: 3.21 }, earlier: true },
        { point: points[1]!, record: { ...base, attempts: 2, point: { seed: 2 }, parameters: { seed: 2, epochs: 1 }, status: 'failed', file: 'runs/def-seed=2.tsnb', results: {}, where: 'http://127.0.0.1:8888/user/ada/', seconds: 1, error: 'cell 2 of 3 failed:\nError: unlucky' } },
        { point: points[2]!, state: 'running' },
      ],
    });
    const [intro, table, failures] = nb.cells.map((c) => c.source);
    assert.match(intro!, /^# Sweep of study\.tsnb/);
    assert.match(intro!, /3 runs: 1 finished, 1 failed, 1 running\./);
    assert.match(intro!, /Grid: `seed` = 1, 2, 3\./);
    assert.match(intro!, /Every run also: `epochs` = 1\./);
    const rows = table!.split('\n');
    assert.equal(rows[0], '| # | seed | status | acc | note | findings | seconds | where | notebook |');
    assert.equal(rows[2], '| 1 | 1 | ok, earlier | 0.8125 | a\\|b | 2 hold · 1 fail · 0 unresolved | 3.2 | local | [abc-seed=1.tsnb](runs/abc-seed=1.tsnb) |');
    assert.equal(rows[3], '| 2 | 2 | FAILED (2 attempts) |  |  |  | 1.0 | http://127.0.0.1:8888/user/ada/ | [def-seed=2.tsnb](runs/def-seed=2.tsnb) |');
    assert.equal(rows[4], '| 3 | 3 | running |  |  |  |  |  |  |');
    assert.match(failures!, /## Failed runs\n\n\*\*seed=2\*\* on http:\/\/127\.0\.0\.1:8888\/user\/ada\/:\n\n```text\ncell 2 of 3 failed:\nError: unlucky\n```/);
  });
});

describe('servers checked up front', () => {
  test('a server that cannot run TransferLab kernels is named with its message (token redacted) and left out; with nowhere left to run, exit status 1', async () => {
    const dir = fresh();
    const input = path.join(dir, 'tiny.tsnb');
    writeFileSync(input, serializeTsnb(fixture()));
    let started = 0;
    const server: SweepServer = {
      url: 'http://127.0.0.1:9/user/ada/',
      checkKernelspec: () => Promise.reject(new Error('The Jupyter Server at http://127.0.0.1:9/user/ada/?token=tok123 refused the token tok123')),
      startKernel: () => {
        started++;
        return Promise.reject(new Error('not to be called'));
      },
      redact: (t) => t.split('tok123').join('…'),
    };
    const io = captureIo();
    const status = await runSweep([input, '--grid', 'seed=[1,2]', '--server', server.url, '--out', path.join(dir, 'out')], io, { connectServer: () => server });
    assert.equal(status, 1, io.err);
    assert.equal(started, 0);
    assert.match(io.err, /warning: http:\/\/127\.0\.0\.1:9\/user\/ada\/: The Jupyter Server at .* refused the token …; the sweep does not use it/);
    assert.match(io.err, /no kernel slot is left to run on/);
    assert.ok(!io.err.includes('tok123'));
  });

  test('a --token-file that is missing is a usage error naming it', async () => {
    const io = captureIo();
    const dir = fresh();
    const input = path.join(dir, 'tiny.tsnb');
    writeFileSync(input, serializeTsnb(fixture()));
    assert.equal(await runSweep([input, '--grid', 'seed=[1]', '--server', 'http://127.0.0.1:9/', '--token-file', path.join(dir, 'nope')], io), 2);
    assert.match(io.err, /--token-file .*nope: no such file/);
  });
});

describe('progress', () => {
  const slot: KernelSlot = { label: 'local #2', where: 'local', start: () => Promise.reject(new Error('not started in this test')) };
  const task = (seed: number) => ({ key: `k${seed}`, point: new Map<string, JsonValue>([['seed', seed], ['blockSize', 4]]), parameters: new Map<string, JsonValue>() });
  const started = (seed: number): PoolEvent => ({ type: 'run-started', task: task(seed), slot, attempt: 1, kernel: {} as KernelConnection });
  const cell = (seed: number, position: number): PoolEvent => ({ type: 'run-event', task: task(seed), slot, event: { type: 'cell-started', position, total: 7, cellIndex: position, source: '' } });

  test('on a terminal: one line redrawn, naming the run heard from last and its cell', () => {
    let text = '';
    const p = new SweepProgress({ write: (t) => (text += t), isTTY: true, columns: 200 }, 6, 2);
    p.onEvent(started(1));
    p.onEvent(started(2));
    p.onEvent(cell(2, 3));
    p.finish();
    const frames = text.split('\r\x1b[K').filter((f) => f !== '');
    assert.equal(frames.at(-1), '[2/6 done · 2 running · 2 queued · 0 failed] seed=2 blockSize=4 on local #2, cell 3/7');
    assert.ok(!text.includes('\n'), 'no line kept while nothing finished');
  });

  test('elsewhere: a line per finished, failed or requeued run, nothing in between', () => {
    const lines: string[] = [];
    const p = new SweepProgress({ write: (t) => lines.push(t), isTTY: false }, 3, 0);
    p.onEvent(started(1));
    p.onEvent(cell(1, 2));
    p.onEvent(started(2));
    p.onEvent({ type: 'run-requeued', task: task(2), slot, reason: 'its kernel died' });
    p.onEvent({ type: 'run-finished', task: task(1), outcome: { status: 'ok', attempts: 1, slot } });
    p.onEvent({ type: 'run-finished', task: task(3), outcome: { status: 'failed', attempts: 0, error: 'no kernel slot was left to run it' } });
    p.finish();
    assert.equal(lines.length, 3, lines.join(''));
    assert.equal(lines[0], 'requeued seed=2 blockSize=4: its kernel died\n');
    assert.match(lines[1]!, /^\[1\/3 done · 0 running · 2 queued · 0 failed\] ok seed=1 blockSize=4 on local #2 · [\d.]+ s\n$/);
    assert.equal(lines[2], '[2/3 done · 0 running · 1 queued · 1 failed] FAILED seed=3 blockSize=4: no kernel slot was left to run it\n');
  });
});

describe('sweeps on kernels', { concurrency: 1 }, () => {
  test('a failing cell fails its run without a retry; a server whose kernels do not start is retired; a rerun skips the finished runs', async () => {
    const dir = fresh();
    const input = path.join(dir, 'tiny.tsnb');
    writeFileSync(input, serializeTsnb(fixture("if (seed === 2) throw new Error('seed 2 is unlucky');")));
    const out = path.join(dir, 'out');
    const events: PoolEvent[] = [];
    let starts = 0;
    const deadServer: SweepServer = {
      url: 'http://127.0.0.1:9/user/gone/',
      startKernel: () => {
        starts++;
        return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:9'));
      },
      redact: (t) => t,
    };
    const args = [input, '--grid', 'seed=[1,2,3]', '--param', 'blockSize=2', '--kernels', '1', '--server', deadServer.url, '--backend', 'wasm', '--out', out];
    const io = captureIo();
    const status = await runSweep(args, io, { onPoolEvent: (e) => events.push(e), connectServer: () => deadServer });
    assert.equal(status, 1, io.err);
    const m = manifestOf(out);
    const runs = Object.values(m.runs);
    assert.equal(runs.length, 3);
    const bySeed = new Map(runs.map((r) => [r.point['seed'], r]));
    assert.equal(bySeed.get(2)!.status, 'failed');
    assert.equal(bySeed.get(2)!.attempts, 1, 'a failing cell is not retried');
    assert.match(bySeed.get(2)!.error!, /Error: seed 2 is unlucky/);
    for (const seed of [1, 3]) {
      const r = bySeed.get(seed)!;
      assert.equal(r.status, 'ok', JSON.stringify(r));
      assert.equal(r.where, 'local');
      assert.deepEqual(r.parameters, { blockSize: 2, seed });
      assert.ok(Math.abs(Number(r.results['sum']) - referenceSum(seed, 2)) < 1e-4, `sum ${String(r.results['sum'])} vs ${referenceSum(seed, 2)}`);
      assert.equal(r.results['product'], seed * 2);
      assert.equal(r.results['label'], `s${seed}b2`);
    }
    assert.equal(starts, 2, 'the dead server was tried twice, then retired');
    assert.ok(events.some((e) => e.type === 'slot-retired' && e.slot.where === deadServer.url && /2 kernel starts failed in a row/.test(e.reason)));
    assert.equal(events.filter((e) => e.type === 'run-started').length, 3, 'every run started once, all on the local slot');
    assert.ok(events.filter((e) => e.type === 'run-started').every((e) => e.type === 'run-started' && e.slot.label === 'local #1'));
    assert.match(io.err, /seed=2 failed: cell 3 of 3 \(notebook cell \d+.*\) failed:/);
    assert.match(io.err, /3 runs: 2 ran, 1 failed in /);

    // The failed run's notebook is kept with its error; the summary says it.
    const failedNb = parseTsnb(readFileSync(path.join(out, bySeed.get(2)!.file!), 'utf8'));
    assert.ok(failedNb.cells.some((c) => c.cell_type === 'code' && c.outputs.some((o) => o.output_type === 'error' && /unlucky/.test(o.evalue))));
    const okNb = parseTsnb(readFileSync(path.join(out, bySeed.get(1)!.file!), 'utf8'));
    assert.ok(okNb.cells.some((c) => c.cell_type === 'code' && c.outputs.some((o) => o.output_type === 'display_data' && o.data[Mime.plain] === 'product = 2\nlabel = "s1b2"')));
    const summary = readFileSync(path.join(out, 'summary.tsnb'), 'utf8');
    assert.match(summary, /3 runs: 2 finished, 1 failed\./);
    assert.match(summary, /## Failed runs/);
    const html = readFileSync(path.join(out, 'summary.html'), 'utf8');
    assert.match(html, /<table>/);
    assert.match(html, /seed 2 is unlucky/);
    assert.match(html, new RegExp(`<a href="${bySeed.get(1)!.file!.replace(/[.]/g, '\\.')}"`));

    // A rerun skips the finished runs and runs the failed one again.
    const again: PoolEvent[] = [];
    const io2 = captureIo();
    assert.equal(await runSweep(args, io2, { onPoolEvent: (e) => again.push(e), connectServer: () => deadServer }), 1, io2.err);
    assert.match(io2.err, /2 of 3 runs finished earlier in .*; skipping them/);
    const started = again.filter((e) => e.type === 'run-started');
    assert.deepEqual(started.map((e) => e.type === 'run-started' && e.task.point.get('seed')), [2]);
    assert.match(readFileSync(path.join(out, 'summary.tsnb'), 'utf8'), /ok, earlier/);
  });

  test('Ctrl-C: the running runs stop, nothing unfinished is recorded, the summary says so, exit status 130', { timeout: 120_000 }, async () => {
    const dir = fresh();
    const input = path.join(dir, 'tiny.tsnb');
    writeFileSync(input, serializeTsnb(fixture('await new Promise((r) => setTimeout(r, 120_000));')));
    const out = path.join(dir, 'out');
    const controller = new AbortController();
    const inLastCell = new Set<string>();
    const onPoolEvent = (e: PoolEvent) => {
      if (e.type === 'run-event' && e.event.type === 'cell-started' && e.event.position === e.event.total) inLastCell.add(e.task.key);
      // As Ctrl-C does: from outside, a moment later (not inside the run's own event).
      if (inLastCell.size === 2 && e.type === 'run-event') setTimeout(() => controller.abort(), 300);
    };
    const io = captureIo();
    const t0 = performance.now();
    const status = await runSweep([input, '--grid', 'seed=[1,2,3]', '--kernels', '2', '--backend', 'wasm', '--out', out], io, { onPoolEvent, signal: controller.signal });
    assert.equal(status, 130, io.err);
    assert.ok(performance.now() - t0 < 60_000, 'the cells were interrupted, not waited for');
    assert.deepEqual(manifestOf(out).runs, {});
    assert.deepEqual(readdirSync(path.join(out, 'runs')), []);
    assert.match(io.err, /interrupted; 3 runs: 0 ran, 0 failed, 3 interrupted in /);
    const table = parseTsnb(readFileSync(path.join(out, 'summary.tsnb'), 'utf8')).cells[1]!.source;
    assert.equal(table.split('\n').filter((l) => / interrupted \|/.test(l)).length, 3, table);
  });

  test('one sweep at a time per folder: a second is refused, naming the first, and writes nothing; a stale lock of this host is taken over, one of another host is not', { timeout: 180_000 }, async () => {
    const dir = fresh();
    const input = path.join(dir, 'tiny.tsnb');
    const gate = path.join(fresh(), 'open');
    const wait = [
      "const { existsSync } = await import('node:fs');",
      `for (let i = 0; i < 1200 && !existsSync(${JSON.stringify(gate)}); i++) await new Promise((r) => setTimeout(r, 100));`,
    ].join('\n');
    writeFileSync(input, serializeTsnb(fixture(wait)));
    const out = path.join(dir, 'out');
    const lock = path.join(out, 'sweep.lock');
    const args = [input, '--grid', 'seed=[1,2]', '--kernels', '1', '--backend', 'wasm', '--out', out];
    const snapshot = () => new Map(filesUnder(out).map((f) => [f, readFileSync(f, 'utf8')]));

    // The first sweep holds the folder while its first run waits at the gate…
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const ioA = captureIo();
    const first = runSweep(args, ioA, { onPoolEvent: (e) => e.type === 'run-started' && started() });
    await running;
    const holder = JSON.parse(readFileSync(lock, 'utf8')) as { pid: number; host: string; started: string };
    assert.equal(holder.pid, process.pid);
    assert.equal(holder.host, hostname());
    // …so a second one into the same folder is refused, naming the first, and changes no file.
    const before = snapshot();
    const ioB = captureIo();
    assert.equal(await runSweep(args, ioB), 1, ioB.err);
    assert.match(ioB.err, new RegExp(`${out.replace(/[.]/g, '\\.')} is in use by another sweep \\(pid ${process.pid} on ${hostname().replace(/[.]/g, '\\.')}, since ${holder.started.replace(/[.]/g, '\\.')}\\); wait for it to finish, or give this one another --out\\. If that sweep is gone, remove .*sweep\\.lock`));
    assert.deepEqual(snapshot(), before, 'the refused sweep changed a file');
    writeFileSync(gate, '');
    assert.equal(await first, 0, ioA.err);
    assert.ok(!existsSync(lock), 'the lock is removed when the sweep ends');
    assert.equal(Object.keys(manifestOf(out).runs).length, 2);

    // A lock left by a sweep of this host that is gone (its pid no longer runs) is taken over.
    const gone = spawnSync('true').pid;
    writeFileSync(lock, JSON.stringify({ pid: gone, host: hostname(), started: '2026-01-01T00:00:00.000Z' }));
    const ioC = captureIo();
    assert.equal(await runSweep(args, ioC), 0, ioC.err);
    assert.match(ioC.err, /2 of 2 runs finished earlier/);
    assert.ok(!existsSync(lock));

    // A lock of another host is never guessed stale, and a lock that names no sweep is not either.
    for (const [text, message] of [
      [JSON.stringify({ pid: gone, host: 'elsewhere.example', started: '2026-01-01T00:00:00.000Z' }), /in use by another sweep \(pid \d+ on elsewhere\.example, since 2026-01-01T00:00:00\.000Z\)/],
      ['{"half": ', /in use by another sweep: .*sweep\.lock exists but does not name a sweep \(pid, host, start time\); if no sweep is running there, remove it/],
    ] as const) {
      writeFileSync(lock, text);
      const io = captureIo();
      assert.equal(await runSweep(args, io), 1, io.err);
      assert.match(io.err, message);
      assert.equal(readFileSync(lock, 'utf8'), text, 'the lock of another sweep is left as it was');
    }
    rmSync(lock);
  });

  describe('6 grid points over 3 kernels, two local and one on a Jupyter Server, kernels lost mid-run', () => {
    let server: TestJupyterServer;
    before(async () => {
      server = await startJupyterServer({ basePath: '/user/sweeper/' });
    });
    after(async () => {
      await server?.dispose();
    });

    test('finish with the results of the same grid run serially (a local kernel killed, a remote one shut down mid-run), and no file or message holds the token', { timeout: 420_000 }, async () => {
      const dir = fresh();
      const input = path.join(dir, 'tiny.tsnb');
      // A gate in the last cell, so that what runs where does not depend on how fast each kernel
      // starts or how the CI machine is loaded: a run waits (at most 4 minutes) until its own gate
      // file or the "open" file exists. On the server, the gate opens at once for its first run and
      // for the retry of the killed run; any other run there waits until the test shuts its kernel
      // down. Every gate opens once that run has been requeued. Until then the local runs wait, so
      // the server always gets a third run (6 points, at most 2 held by the local slots).
      const gates = fresh();
      const opened = path.join(gates, 'open');
      const wait = [
        "const { existsSync } = await import('node:fs');",
        `for (let i = 0; i < 2400 && !existsSync(${JSON.stringify(opened)}) && !existsSync(${JSON.stringify(gates)} + \`/go-\${seed}-\${blockSize}\`); i++) await new Promise((r) => setTimeout(r, 100));`,
      ].join('\n');
      writeFileSync(input, serializeTsnb(fixture(wait)));
      const tokenFile = path.join(fresh(), 'token');
      writeFileSync(tokenFile, `${server.token}\n`);
      const grid = ['--grid', 'seed=[1,2,3]', '--grid', 'blockSize=[1,4]'];

      const out = path.join(dir, 'parallel');
      const events: PoolEvent[] = [];
      const kernels = new Map<string, KernelConnection>();
      let killed: { key: string; label: string } | undefined;
      let deleted: { key: string; label: string; status: Promise<number> } | undefined;
      const remoteStarts: string[] = [];
      const onPoolEvent = (e: PoolEvent) => {
        events.push(e);
        if (e.type === 'run-started') {
          kernels.set(e.task.key, e.kernel);
          if (e.kernel.location.kind === 'remote') {
            remoteStarts.push(e.task.key);
            if (remoteStarts.length === 1 || e.task.key === killed?.key) {
              writeFileSync(path.join(gates, `go-${String(e.task.point.get('seed'))}-${String(e.task.point.get('blockSize'))}`), '');
            }
          }
        }
        if (e.type === 'run-requeued' && e.task.key === deleted?.key) writeFileSync(opened, '');
        if (e.type !== 'run-event' || e.event.type !== 'cell-started' || e.event.position !== e.event.total) return;
        const location = kernels.get(e.task.key)!.location;
        // The first run on the second local kernel loses it (SIGKILL) while its last cell runs…
        if (killed === undefined && e.slot.label === 'local #2') {
          assert.equal(location.kind, 'local');
          killed = { key: e.task.key, label: e.slot.label };
          process.kill(location.pid!, 'SIGKILL');
        }
        // …and another run on the server (neither its first nor the killed one) has its kernel shut
        // down through the server's REST API (the websocket stays open: only the remote client's
        // check of the kernel, while a cell runs, notices).
        if (deleted === undefined && location.kind === 'remote' && e.task.key !== remoteStarts[0] && e.task.key !== killed?.key) {
          const status = fetch(`${server.url}api/kernels/${location.kernelId}`, { method: 'DELETE', headers: { Authorization: `token ${server.token}` } }).then((r) => r.status);
          deleted = { key: e.task.key, label: e.slot.label, status };
        }
      };
      const io = captureIo();
      const args = [input, ...grid, '--kernels', '2', '--server', server.url, '--token-file', tokenFile, '--backend', 'wasm', '--out', out];
      const status = await runSweep(args, io, { onPoolEvent });
      assert.equal(status, 0, io.err);
      assert.ok(killed, 'a kernel was killed');
      const m = manifestOf(out);
      const runs = Object.values(m.runs);
      assert.equal(runs.length, 6);
      assert.ok(runs.every((r) => r.status === 'ok'), JSON.stringify(runs, null, 1));
      assert.equal(m.runs[killed.key]!.attempts, 2, 'the killed run ran again');
      const startsOfKilled = events.filter((e) => e.type === 'run-started' && e.task.key === killed!.key).map((e) => (e.type === 'run-started' ? e.slot.label : ''));
      assert.equal(startsOfKilled.length, 2);
      assert.notEqual(startsOfKilled[1], killed.label, 'requeued on another slot');
      assert.ok(events.some((e) => e.type === 'run-requeued' && e.task.key === killed!.key && /was lost: The kernel exited \(signal SIGKILL\).* \(cell 3\/3\)$/s.test(e.reason)));
      assert.ok(deleted, 'a remote kernel was shut down');
      assert.equal(await deleted.status, 204);
      assert.equal(m.runs[deleted.key]!.attempts, 2, 'the run whose remote kernel was shut down ran again');
      assert.ok(events.some((e) => e.type === 'run-requeued' && e.task.key === deleted!.key && e.slot.label === deleted!.label && /is no longer on the server .* \(cell 3\/3\)$/.test(e.reason)));
      assert.equal(m.runs[remoteStarts[0]!]!.where, server.url, "the server's first run finished there");
      assert.ok(runs.some((r) => r.where === server.url), 'a run ran on the server');
      assert.ok(runs.some((r) => r.where === 'local'), 'a run ran locally');
      assert.equal(readdirSync(path.join(out, 'runs')).length, 6);

      // The same grid, serially, on one local kernel.
      const serialOut = path.join(dir, 'serial');
      const io2 = captureIo();
      assert.equal(await runSweep([input, ...grid, '--kernels', '1', '--backend', 'wasm', '--out', serialOut], io2), 0, io2.err);
      const parallel = resultsByPoint(m);
      const serial = resultsByPoint(manifestOf(serialOut));
      assert.equal(serial.size, 6);
      for (const [point, results] of serial) {
        assert.deepEqual(parallel.get(point), results, `the results of ${point}`);
        const { seed, blockSize } = JSON.parse(point) as { seed: number; blockSize: number };
        assert.ok(Math.abs(Number(results['sum']) - referenceSum(seed, blockSize)) < 1e-4, point);
        assert.equal(results['product'], seed * blockSize);
      }

      // A rerun has nothing left to do.
      const rerun: PoolEvent[] = [];
      const io3 = captureIo();
      assert.equal(await runSweep(args, io3, { onPoolEvent: (e) => rerun.push(e) }), 0, io3.err);
      assert.match(io3.err, /6 of 6 runs finished earlier/);
      assert.equal(rerun.length, 0, 'no run started');

      // The summary names the server without its token; no file or message holds the token.
      const summary = readFileSync(path.join(out, 'summary.tsnb'), 'utf8');
      assert.match(summary, new RegExp(server.url.replace(/[.]/g, '\\.')));
      for (const file of [...filesUnder(out), ...filesUnder(serialOut)]) {
        assert.ok(!readFileSync(file, 'utf8').includes(server.token), `${file} holds the token`);
      }
      for (const text of [io.out, io.err, io2.out, io2.err, io3.out, io3.err]) assert.ok(!text.includes(server.token), 'a message holds the token');
    });
  });
});
