/**
 * The outputs contract (kernel/protocol/outputs.ts, displayIds.ts): recorded iopub sequences and
 * the outputs they leave, tested once here. Then the same sequences through both front ends: the
 * extension's CellRun (under plain Node, with the vscode stand-in, its outputs read back by the
 * .tsnb serializer as a save would) and `transferlab run`'s OutputCollector must leave the same
 * outputs.
 */
import { NotebookCellOutput, NotebookCellOutputItem } from '../extension/vscodeFake';
import { CellData, Data, Kind } from '../extension/notebookApiFake';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type * as vscode from 'vscode';
import { CellRun, NotebookOutputs, type NotebookSession } from '../../extension/controller';
import { TsnbSerializer, type NotebookApi } from '../../extension/serializer';
import { OutputCollector } from '../../cli/run';
import {
  applyCarriageReturns,
  emptyOutputState,
  outputsOf,
  reduceOutput,
  removeLastOutput,
  startCell,
  type OutputChange,
  type OutputMessage,
  type OutputState,
} from '../../kernel/protocol/outputs';
import { addDisplay, displayIdOf, displaysOf, emptyDisplayIds, forgetCell } from '../../kernel/protocol/displayIds';
import type { JsonObject, TsnbOutput } from '../../kernel/protocol/tsnb';

// ---- recorded sequences -----------------------------------------------------------------------------

const m = (msg_type: string, content: Record<string, unknown>): OutputMessage => ({ header: { msg_type }, content });
const out = (text: string, name = 'stdout') => m('stream', { name, text });
const display = (text: string, id?: string, metadata: Record<string, unknown> = {}) =>
  m('display_data', { data: { 'text/plain': text }, metadata, ...(id !== undefined ? { transient: { display_id: id } } : {}) });
const update = (text: string, id: string, metadata: Record<string, unknown> = {}) => m('update_display_data', { data: { 'text/plain': text }, metadata, transient: { display_id: id } });

const stream = (text: string, name = 'stdout'): TsnbOutput => ({ output_type: 'stream', name, text });
const shown = (text: string, metadata: JsonObject = {}): TsnbOutput => ({ output_type: 'display_data', data: { 'text/plain': text }, metadata });

/** A recorded run: the messages of each cell, in the order the cells ran, and the outputs they leave. */
interface Recording {
  readonly name: string;
  readonly cells: readonly (readonly OutputMessage[])[];
  readonly expected: readonly (readonly TsnbOutput[])[];
}

const RECORDINGS: readonly Recording[] = [
  {
    name: 'a \\r split across chunks overwrites the line character by character; \\r\\n split is a newline',
    cells: [[out('epoch 1/3 loss 0.9\r'), out('epoch 2/3\r'), out('\r'), out('epoch 3/3 loss 0.1\n'), out('abc\r'), out('X'), out('\r'), out('\nnext\n')]],
    expected: [[stream('epoch 3/3 loss 0.1\nXbc\nnext\n')]],
  },
  {
    name: 'shorter text after \\r leaves the rest of the line (terminal overwrite); a trailing \\r is kept',
    cells: [[out('progress 20%\r'), out('done\n'), out('10%\r')]],
    expected: [[stream('doneress 20%\n10%\r')]],
  },
  {
    name: 'streams of the same name merge only when consecutive',
    cells: [[out('a\n'), out('b\n'), out('oops\n', 'stderr'), out('c\n'), display('x'), out('d\n')]],
    expected: [[stream('a\nb\n'), stream('oops\n', 'stderr'), stream('c\n'), shown('x'), stream('d\n')]],
  },
  {
    name: 'clear_output(wait) then output: cleared just before the new output',
    cells: [[out('old\n'), display('chart v1'), m('clear_output', { wait: true }), out('new\n'), display('chart v2')]],
    expected: [[stream('new\n'), shown('chart v2')]],
  },
  {
    name: 'clear_output(wait) with no further output leaves the outputs',
    cells: [[out('kept\n'), display('kept too'), m('clear_output', { wait: true })]],
    expected: [[stream('kept\n'), shown('kept too')]],
  },
  {
    name: 'clear_output at once, then output',
    cells: [[out('gone\n'), m('clear_output', { wait: false }), display('after')]],
    expected: [[shown('after')]],
  },
  {
    name: 'a display of an earlier cell is updated from a later one; an unknown display id changes nothing',
    cells: [
      [display('training: epoch 0', 'train'), out('started\n')],
      [out('meanwhile\n'), update('training: epoch 5', 'train'), update('lost', 'unknown')],
    ],
    expected: [[shown('training: epoch 5'), stream('started\n')], [stream('meanwhile\n')]],
  },
  {
    name: 'two outputs sharing one display id are both updated, the others are not',
    cells: [[display('step 0', 'bar'), out('between\n'), display('step 0', 'bar'), display('other', 'baz'), update('step 9', 'bar')]],
    expected: [[shown('step 9'), stream('between\n'), shown('step 9'), shown('other')]],
  },
  {
    name: 'one display id shown in two cells is updated in both, from a third',
    cells: [[display('v0', 'd')], [display('w0', 'd')], [update('v1', 'd')]],
    expected: [[shown('v1')], [shown('v1')], []],
  },
  {
    name: 'execute_result and error',
    cells: [
      [
        m('execute_result', { data: { 'text/plain': '42', 'application/json': { answer: 42 } }, metadata: {}, execution_count: 3 }),
        m('error', { ename: 'TypeError', evalue: 'x is not a function', traceback: ['TypeError: x is not a function', '    at cell 1:1'] }),
      ],
    ],
    expected: [
      [
        { output_type: 'execute_result', data: { 'text/plain': '42', 'application/json': { answer: 42 } }, metadata: {}, execution_count: 3 },
        { output_type: 'error', ename: 'TypeError', evalue: 'x is not a function', traceback: ['TypeError: x is not a function', '    at cell 1:1'] },
      ],
    ],
  },
];

/** Replays a recording through the reducer alone; cell `i` is known as `cell-i`. */
function replay(rec: Recording): { state: OutputState<string>; changes: OutputChange<string>[] } {
  let state = emptyOutputState<string>();
  const changes: OutputChange<string>[] = [];
  rec.cells.forEach((messages, i) => {
    const key = `cell-${i}`;
    ({ state } = startCell(state, key));
    for (const msg of messages) {
      const step = reduceOutput(state, key, msg);
      state = step.state;
      changes.push(...step.changes);
    }
  });
  return { state, changes };
}

describe('the output reducer on recorded sequences', () => {
  for (const rec of RECORDINGS) {
    it(rec.name, () => {
      const { state } = replay(rec);
      assert.deepEqual(
        rec.cells.map((_, i) => outputsOf(state, `cell-${i}`)),
        rec.expected,
      );
    });
  }

  it('a cell run again forgets its old displays', () => {
    let state = emptyOutputState<string>();
    ({ state } = reduceOutput(state, 'a', display('v0', 'd')));
    ({ state } = reduceOutput(state, 'b', display('w0', 'd')));
    ({ state } = startCell(state, 'a'));
    const { state: after, changes } = reduceOutput(state, undefined, update('v1', 'd'));
    assert.deepEqual(outputsOf(after, 'a'), []);
    assert.deepEqual(outputsOf(after, 'b'), [shown('v1')]);
    assert.deepEqual(changes, [{ type: 'replace', cell: 'b', index: 0, output: shown('v1') }]);
  });

  it('reports changes a front end can apply one by one', () => {
    const { changes } = replay({ name: '', cells: [[out('a'), out('b'), m('clear_output', { wait: true }), display('x', 'p'), update('y', 'p', { k: 1 })]], expected: [] });
    assert.deepEqual(changes, [
      { type: 'append', cell: 'cell-0', index: 0, output: stream('a') },
      { type: 'replace', cell: 'cell-0', index: 0, output: stream('ab') },
      { type: 'clear', cell: 'cell-0' }, // the wait ends with the next output
      { type: 'append', cell: 'cell-0', index: 0, output: shown('x') },
      { type: 'replace', cell: 'cell-0', index: 0, output: shown('y', { k: 1 }) },
    ]);
  });

  it('is pure: the state given is left as it was', () => {
    let state = emptyOutputState<string>();
    ({ state } = reduceOutput(state, 'a', out('1\r')));
    ({ state } = reduceOutput(state, 'a', display('v', 'd')));
    const before = structuredClone({ cells: [...state.cells], displays: [...state.displays] });
    reduceOutput(state, 'a', out('2\n'));
    reduceOutput(state, 'a', update('w', 'd'));
    reduceOutput(state, 'a', m('clear_output', { wait: false }));
    assert.deepEqual({ cells: [...state.cells], displays: [...state.displays] }, before);
  });

  it('ignores messages without outputs, and updates without a display id', () => {
    const state = emptyOutputState<string>();
    for (const msg of [m('status', { execution_state: 'busy' }), m('execute_input', { code: '1', execution_count: 1 }), m('update_display_data', { data: {}, metadata: {} })]) {
      const step = reduceOutput(state, 'a', msg);
      assert.equal(step.state, state);
      assert.deepEqual(step.changes, []);
    }
    assert.deepEqual(reduceOutput(state, undefined, out('no cell')).changes, []);
  });

  it('removes the last output (a timeout replacing the kernel error), forgetting its display', () => {
    let state = emptyOutputState<string>();
    ({ state } = reduceOutput(state, 'a', out('x\n')));
    ({ state } = reduceOutput(state, 'a', display('v', 'd')));
    const { state: after, removed } = removeLastOutput(state, 'a');
    assert.deepEqual(removed, shown('v'));
    assert.deepEqual(outputsOf(after, 'a'), [stream('x\n')]);
    assert.deepEqual(displaysOf(after.displays, 'd'), []);
  });
});

describe('applyCarriageReturns', () => {
  it('is a terminal: \\r\\n a newline, \\r back to the line start, overwriting character by character', () => {
    assert.equal(applyCarriageReturns('no returns'), 'no returns');
    assert.equal(applyCarriageReturns('abc\rX'), 'Xbc');
    assert.equal(applyCarriageReturns('10%\r20%\r30%'), '30%');
    assert.equal(applyCarriageReturns('a\r\nb\r\r\nc'), 'a\nb\nc');
    assert.equal(applyCarriageReturns('10%\r'), '10%\r');
    assert.equal(applyCarriageReturns('12345\r\rab\rc'), 'cb345');
    assert.equal(applyCarriageReturns('𝛉𝛉𝛉\rx'), 'x𝛉𝛉', 'characters, not UTF-16 units');
  });

  it('a stream cut into chunks anywhere reads as the whole text does (the cursor is kept across chunks)', () => {
    // '\rab' then 'c' after 'xyz123' is 'abc123', as on a terminal: the chunk boundary falls in
    // the middle of the text that overwrites the line.
    const run = (chunks: readonly string[]): string => {
      let state = emptyOutputState<string>();
      for (const text of chunks) ({ state } = reduceOutput(state, 'c', { header: { msg_type: 'stream' }, content: { name: 'stdout', text } }));
      const [out] = outputsOf(state, 'c');
      return out?.output_type === 'stream' ? out.text : '';
    };
    assert.equal(run(['xyz123\rab', 'c']), 'abc123');
    assert.equal(run(['xyz123\r', 'ab', 'c\n', 'next']), 'abc123\nnext');
    // Seeded random streams over the characters that matter, cut into random chunks.
    let seed = 12345;
    const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const alphabet = ['a', 'b', '\r', '\n', '𝛉', '\r\n', '\r\r'];
    for (let trial = 0; trial < 500; trial++) {
      const pieces = Array.from({ length: 1 + rand(30) }, () => alphabet[rand(alphabet.length)]!);
      const chunks: string[] = [];
      for (let i = 0; i < pieces.length; ) {
        const k = 1 + rand(4);
        chunks.push(pieces.slice(i, i + k).join(''));
        i += k;
      }
      assert.equal(run(chunks), applyCarriageReturns(chunks.join('')), JSON.stringify(chunks));
    }
  });
});

describe('display ids', () => {
  it('remember, list, and forget a cell (from an output on)', () => {
    let ids = emptyDisplayIds<string>();
    ids = addDisplay(ids, 'p', { cell: 'a', index: 0 });
    ids = addDisplay(ids, 'p', { cell: 'b', index: 2 });
    ids = addDisplay(ids, 'q', { cell: 'a', index: 1 });
    assert.deepEqual(displaysOf(ids, 'p'), [{ cell: 'a', index: 0 }, { cell: 'b', index: 2 }]);
    assert.deepEqual(displaysOf(forgetCell(ids, 'a'), 'p'), [{ cell: 'b', index: 2 }]);
    assert.deepEqual(displaysOf(forgetCell(ids, 'a'), 'q'), []);
    assert.deepEqual(displaysOf(forgetCell(ids, 'a', 1), 'p'), [{ cell: 'a', index: 0 }, { cell: 'b', index: 2 }]);
    assert.deepEqual(displaysOf(forgetCell(ids, 'a', 1), 'q'), []);
    assert.equal(forgetCell(ids, 'nobody'), ids);
  });

  it('read transient.display_id', () => {
    assert.equal(displayIdOf({ transient: { display_id: 'x' } }), 'x');
    assert.equal(displayIdOf({ transient: { display_id: '' } }), undefined);
    assert.equal(displayIdOf({ transient: {} }), undefined);
    assert.equal(displayIdOf({}), undefined);
    assert.equal(displayIdOf(null), undefined);
  });
});

// ---- both front ends --------------------------------------------------------------------------------

/** A notebook as VS Code's model holds it: outputs per cell, found by id across cells. */
class FakeNotebook {
  readonly outputs = new Map<vscode.NotebookCell, NotebookCellOutput[]>();
  execution(cell: vscode.NotebookCell) {
    const list = () => this.outputs.get(cell) ?? [];
    return {
      cell,
      executionOrder: undefined as number | undefined,
      appendOutput: (o: NotebookCellOutput) => {
        this.outputs.set(cell, [...list(), o]);
        return Promise.resolve();
      },
      clearOutput: () => {
        this.outputs.set(cell, []);
        return Promise.resolve();
      },
      replaceOutputItems: (items: NotebookCellOutputItem | NotebookCellOutputItem[], output: NotebookCellOutput) => {
        const target = [...this.outputs.values()].flat().find((o) => o.id === output.id);
        if (!target) return Promise.reject(new Error(`no output ${output.id}`));
        target.items = Array.isArray(items) ? items : [items];
        return Promise.resolve();
      },
    };
  }
}

const api = {
  NotebookData: Data,
  NotebookCellData: CellData,
  NotebookCellOutput,
  NotebookCellOutputItem,
  NotebookCellKind: Kind,
} as unknown as NotebookApi;

/** The extension's path: a CellRun per cell, its outputs read back as the .tsnb serializer saves them. */
async function throughExtension(cells: readonly (readonly OutputMessage[])[]): Promise<TsnbOutput[][]> {
  const notebook = new FakeNotebook();
  const session = { outputs: new NotebookOutputs() } as unknown as NotebookSession;
  const log = { warn: (t: string) => assert.fail(t), debug: () => undefined } as unknown as vscode.LogOutputChannel;
  const cellObjects = cells.map((_, index) => ({ index }) as vscode.NotebookCell);
  for (const [i, messages] of cells.entries()) {
    const execution = notebook.execution(cellObjects[i]!);
    session.outputs.startCell(cellObjects[i]!);
    await execution.clearOutput();
    const run = new CellRun(execution as unknown as vscode.NotebookCellExecution, session, log);
    for (const msg of messages) run.handle({ ...msg, parent_header: { msg_id: `req-${i}` } });
    await run.settled();
  }
  const data = new Data(
    cellObjects.map((cell) => {
      const c = new CellData(2 as vscode.NotebookCellKind, '', 'typescript');
      c.outputs = notebook.outputs.get(cell) as unknown as vscode.NotebookCellOutput[];
      return c as unknown as vscode.NotebookCellData;
    }),
  );
  const saved = new TsnbSerializer({ api, saveOutputsSetting: () => true }).fromNotebookData(data as unknown as vscode.NotebookData);
  return saved.cells.map((c) => (c.cell_type === 'code' ? c.outputs : []));
}

/** `transferlab run`'s path: one OutputCollector, begin per cell. */
function throughCli(cells: readonly (readonly OutputMessage[])[]): TsnbOutput[][] {
  const collector = new OutputCollector();
  const outputs = cells.map(() => [] as TsnbOutput[]);
  cells.forEach((messages, i) => {
    collector.begin(outputs[i]!);
    for (const msg of messages) collector.handle(msg as Parameters<OutputCollector['handle']>[0]);
  });
  return outputs;
}

describe('the editor and transferlab run leave the same outputs', () => {
  for (const rec of RECORDINGS) {
    it(rec.name, async () => {
      const cli = throughCli(rec.cells);
      assert.deepEqual(cli, rec.expected);
      assert.deepEqual(await throughExtension(rec.cells), cli);
    });
  }
});
