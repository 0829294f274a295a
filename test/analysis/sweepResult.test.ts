/**
 * tl.result and tl.results (kernel/analysis/sweepResult.ts): the MIME bundle a sweep reads back,
 * its text fallback, where it goes (the installed display, else stdout), and the checks on names
 * and values.
 */
import { afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../kernel/analysis/tfjs';
import { initBackend } from '../../kernel/analysis/backends';
import { result, results, setResultDisplay, SweepResult } from '../../kernel/analysis/sweepResult';
import { InvalidArgumentError } from '../../kernel/analysis/errors';
import { DISPLAY } from '../../kernel/analysis/display';
import { Mime } from '../../kernel/protocol/mime';
import { resultsOf } from '../../cli/sweep/results';
import { createTsnbNotebook } from '../../kernel/protocol/tsnb';
import { assertNoLeak } from './leak';

before(async () => {
  await initBackend('cpu');
});
afterEach(() => setResultDisplay(undefined));

function capture(): SweepResult[] {
  const shown: SweepResult[] = [];
  setResultDisplay((r) => shown.push(r));
  return shown;
}

test('tl.result shows one bundle: the result as JSON and `name = value` as text', () => {
  const shown = capture();
  result('accuracy', 0.8125);
  result(' label ', 'P-T');
  assert.equal(shown.length, 2);
  assert.deepEqual(shown[0]![DISPLAY](), { [Mime.result]: { results: [{ name: 'accuracy', value: 0.8125 }] }, [Mime.plain]: 'accuracy = 0.8125' });
  assert.deepEqual(shown[1]![DISPLAY](), { [Mime.result]: { results: [{ name: 'label', value: 'P-T' }] }, [Mime.plain]: 'label = "P-T"' });
});

test('tl.results shows several in the order given; non-finite numbers become null, typed arrays lists', () => {
  const shown = capture();
  results({ barrier: NaN, perSeed: new Float32Array([0.5, 0.25]), config: { lr: 0.1, layers: [1, 2], inf: Infinity }, ok: true, none: null });
  assert.equal(shown.length, 1);
  const bundle = shown[0]![DISPLAY]();
  assert.deepEqual(bundle[Mime.result], {
    results: [
      { name: 'barrier', value: null },
      { name: 'perSeed', value: [0.5, 0.25] },
      { name: 'config', value: { lr: 0.1, layers: [1, 2], inf: null } },
      { name: 'ok', value: true },
      { name: 'none', value: null },
    ],
  });
  assert.equal(bundle[Mime.plain], 'barrier = null\nperSeed = [0.5,0.25]\nconfig = {"lr":0.1,"layers":[1,2],"inf":null}\nok = true\nnone = null');
});

test('what the sweep reads back from such outputs: a later value of a name wins', () => {
  const shown = capture();
  result('acc', 0.5);
  results({ acc: 0.75, n: 3 });
  const nb = createTsnbNotebook();
  nb.cells.push({
    cell_type: 'code',
    source: '',
    metadata: {},
    execution_count: 1,
    outputs: shown.map((r) => ({ output_type: 'display_data' as const, metadata: {}, data: JSON.parse(JSON.stringify(r[DISPLAY]())) as Record<string, never> })),
  });
  assert.deepEqual(resultsOf(nb), { acc: 0.75, n: 3 });
});

test('without a display, a result is a line on stdout', (t) => {
  const lines: string[] = [];
  t.mock.method(process.stdout, 'write', (s: string) => {
    lines.push(s);
    return true;
  });
  result('epochs', 3);
  t.mock.restoreAll();
  assert.deepEqual(lines, ['epochs = 3\n']);
});

test('names and values are checked, naming the function and the argument', async () => {
  capture();
  const fails = (f: () => void, message: RegExp) => assert.throws(f, (e: unknown) => e instanceof InvalidArgumentError && message.test(e.message));
  fails(() => result('', 1), /^tl\.result: name must be a non-empty string; got the string ""/);
  fails(() => result(3 as never, 1), /^tl\.result: name must be a non-empty string; got the number 3/);
  fails(() => result('a\nb', 1), /^tl\.result: name must be one line/);
  fails(() => result('f', (() => 1) as never), /^tl\.result: value is a function; a result is JSON/);
  fails(() => result('d', { when: new Date(0) } as never), /^tl\.result: value\.when is an object \(Date\); a result is JSON/);
  fails(() => result('u', [1, undefined] as never), /^tl\.result: value\[1\] is undefined/);
  const cyclic: Record<string, unknown> = {};
  cyclic['self'] = cyclic;
  fails(() => result('c', cyclic as never), /^tl\.result: value\.self refers to itself/);
  fails(() => results({}), /^tl\.results: values has no entries/);
  fails(() => results([1] as never), /^tl\.results: values must be an object of name: value; got an array of length 1/);
  fails(() => setResultDisplay(3 as never), /^tl\.setResultDisplay: f must be a function/);
  const t = tf.scalar(2);
  await assertNoLeak('a tensor refused', () => fails(() => result('t', t as never), /^tl\.result: value is a float32 tensor of shape \[\]; read its value first/));
  t.dispose();
});
