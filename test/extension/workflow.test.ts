/**
 * The notebook workflow under plain Node with the vscode stand-in: the Variables view's rows and
 * message (a busy kernel shows the last summary, nobody asks it), the session keeping the summary
 * each execute_reply brings, Run All going past cells tagged `raises-exception` (and stopping at
 * other failures), a kernel shut down when its notebook closes, and the status item's click.
 */
import * as fake from './vscodeFake';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter as NodeEmitter } from 'node:events';
import type * as vscode from 'vscode';
import { NotebookSession, TransferLabController, cellIndexFromCommandArg, cellTags, raisesException } from '../../extension/controller';
import { KernelState } from '../../extension/kernelProcess';
import { variableNodes, variablesMessage } from '../../extension/variablesView';
import { VARIABLES_METADATA_KEY, type VariablesSummary } from '../../kernel/protocol/variables';

const SUMMARY: VariablesSummary = {
  executionCount: 3,
  variables: [
    { name: 'x', kind: 'const', type: 'Tensor<Rank>', value: 'Tensor float32 [2, 3]', tensor: { shape: [2, 3], dtype: 'float32', bytes: 24, disposed: false } },
    { name: 'model', kind: 'const', type: 'NetModel', value: 'cnn: conv1, fc · 1,234 parameters', model: { arch: 'cnn', modules: ['conv1', 'fc'], parameters: 1234 } },
    { name: 'n', kind: 'let', type: 'number', value: '5' },
  ],
  omitted: 2,
  memory: { numTensors: 7, numBytes: 2048, addedTensors: 1, addedBytes: 24 },
  cells: [
    { executionCount: 2, addedTensors: 6, addedBytes: 2024 },
    { executionCount: 3, addedTensors: 1, addedBytes: 24 },
  ],
};

describe('Variables view', () => {
  test('rows: tf.memory() with each cell, tensors with shape, dtype and bytes, models with modules and parameters', () => {
    const nodes = variableNodes(SUMMARY);
    assert.deepEqual(nodes.map((n) => n.label), ['tf.memory()', 'x', 'model', 'n', '… 2 older names not shown']);
    assert.equal(nodes[0]!.description, '7 tensors · 2.0 kB (last cell +1, +24 B)');
    assert.deepEqual(nodes[0]!.children!.map((c) => `${c.label}: ${c.description}`), ['cell [3]: +1 tensor, +24 B', 'cell [2]: +6 tensors, +2.0 kB']);
    assert.equal(nodes[1]!.description, 'float32 [2, 3] · 24 B');
    assert.equal(nodes[2]!.description, 'cnn · 2 modules · 1,234 parameters');
    assert.deepEqual(nodes[2]!.children!.map((c) => c.label), ['conv1', 'fc']);
    assert.equal(nodes[3]!.description, 'number  5');
    assert.match(nodes[3]!.tooltip!, /^let n: number/);
  });

  test('message: busy shows the values of the last cell that ended; nothing yet; a dead kernel', () => {
    assert.equal(variablesMessage(SUMMARY, KernelState.busy), 'A cell is running: values as of cell [3].');
    assert.equal(variablesMessage(undefined, KernelState.idle), 'Run a cell to see the kernel’s variables.');
    assert.equal(variablesMessage(SUMMARY, KernelState.idle), undefined);
    assert.match(variablesMessage(SUMMARY, KernelState.dead)!, /died/);
  });
});

describe('cell tags', () => {
  test('raises-exception from .tsnb (metadata.metadata.tags) and .ipynb (metadata.tags)', () => {
    assert.deepEqual(cellTags({ metadata: { metadata: { tags: ['raises-exception', 3] } } }), ['raises-exception']);
    assert.ok(raisesException({ metadata: { tags: ['raises-exception'] } }));
    assert.ok(!raisesException({ metadata: { tags: ['parameters'] } }));
    assert.ok(!raisesException({ metadata: {} }));
  });
});

describe('Restart Kernel and Run All Above', () => {
  test('runs the cells above the cell it was invoked on (cell toolbar), else above the selection or all', () => {
    const notebook = { cellCount: 5 } as unknown as vscode.NotebookDocument;
    assert.equal(cellIndexFromCommandArg({ index: 3, notebook }, notebook), 3);
    assert.equal(cellIndexFromCommandArg({ index: 3, notebook: {} }, notebook), 5, "another notebook's cell: no selection here, all cells");
    assert.equal(cellIndexFromCommandArg(undefined, notebook), 5);
  });
});

// ---- a session on a fake kernel -------------------------------------------------------------------

interface FakeCell {
  index: number;
  kind: number;
  metadata: Record<string, unknown>;
  document: { getText(): string };
  executionSummary: undefined;
}

const cell = (index: number, code: string, tags: string[] = []): FakeCell => ({ index, kind: fake.NotebookCellKind.Code, metadata: { metadata: { tags } }, document: { getText: () => code }, executionSummary: undefined });

class FakeExecution {
  ended: boolean | undefined | 'pending' = 'pending';
  started = false;
  executionOrder: number | undefined;
  constructor(readonly cell: FakeCell) {}
  start(): void {
    this.started = true;
  }
  end(success: boolean | undefined): void {
    this.ended = success;
  }
  async clearOutput(): Promise<void> {}
  async appendOutput(): Promise<void> {}
  async replaceOutput(): Promise<void> {}
  async replaceOutputItems(): Promise<void> {}
}

/** A kernel client that answers each cell by its code: `fail…` errors, anything else is ok, with a summary. */
class FakeClient extends NodeEmitter {
  readonly ran: string[] = [];
  gate: Promise<void> | undefined;
  shutdowns = 0;
  async execute(code: string, options: { onReply?: (m: unknown) => void }): Promise<unknown> {
    this.ran.push(code);
    if (this.gate) await this.gate;
    const count = this.ran.length;
    const content = code.startsWith('fail') ? { status: 'error', execution_count: count, ename: 'Error', evalue: code, traceback: [] } : { status: 'ok', execution_count: count };
    options.onReply?.({ metadata: { [VARIABLES_METADATA_KEY]: { ...SUMMARY, executionCount: count } }, content });
    return content;
  }
  async shutdown(): Promise<void> {
    this.shutdowns++;
  }
}

const log = { debug() {}, info() {}, warn() {}, error() {} } as unknown as vscode.LogOutputChannel;

function fakeSession(client: FakeClient) {
  const notebook = { uri: fake.Uri.file('/nb/a.tsnb'), metadata: {}, notebookType: 'transferlab-notebook' } as unknown as vscode.NotebookDocument;
  const session = new NotebookSession(notebook, '/ext', log, () => undefined);
  const kernel = session.kernel as unknown as { start(): Promise<unknown>; current: unknown; stateValue: string };
  kernel.start = async () => {
    kernel.current = client;
    kernel.stateValue = KernelState.idle;
    return client;
  };
  const executions: FakeExecution[] = [];
  const controller = {
    createNotebookCellExecution(c: FakeCell) {
      const e = new FakeExecution(c);
      executions.push(e);
      return e;
    },
  } as unknown as vscode.NotebookController;
  return { session, controller, executions };
}

describe('NotebookSession', () => {
  test('Run All goes on past a cell tagged raises-exception and stops at an untagged failure', async () => {
    const client = new FakeClient();
    const { session, controller, executions } = fakeSession(client);
    const cells = [cell(0, 'a'), cell(1, 'fail on purpose', ['raises-exception']), cell(2, 'b'), cell(3, 'fail for real'), cell(4, 'c')];
    await session.run(cells as unknown as vscode.NotebookCell[], controller);
    assert.deepEqual(client.ran, ['a', 'fail on purpose', 'b', 'fail for real']);
    assert.deepEqual(executions.map((e) => e.ended), [true, false, true, false, undefined], 'the last cell is cancelled, not run');
    session.dispose();
  });

  test('keeps the variables each execute_reply brings; while a cell runs they stay readable at once', async () => {
    const client = new FakeClient();
    const { session, controller } = fakeSession(client);
    const seen: (number | undefined)[] = [];
    session.onDidChangeVariables((s) => seen.push(s?.executionCount));
    await session.run([cell(0, 'a')] as unknown as vscode.NotebookCell[], controller);
    assert.equal(session.variables?.executionCount, 1);
    let open!: () => void;
    client.gate = new Promise((r) => (open = r));
    const running = session.run([cell(1, 'slow')] as unknown as vscode.NotebookCell[], controller);
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(session.busy);
    assert.equal(session.variables?.executionCount, 1, 'the last summary, without asking the busy kernel');
    assert.equal(variablesMessage(session.variables, session.kernel.state), 'A cell is running: values as of cell [1].');
    open();
    await running;
    assert.equal(session.variables?.executionCount, 2);
    assert.deepEqual(seen, [1, 2]);
    session.dispose();
  });

  test('dispose (the notebook closed) shuts its kernel down', async () => {
    const client = new FakeClient();
    const { session, controller } = fakeSession(client);
    await session.run([cell(0, 'a')] as unknown as vscode.NotebookCell[], controller);
    session.dispose();
    await new Promise((r) => setImmediate(r));
    assert.equal(client.shutdowns, 1);
    assert.equal(session.kernel.state, KernelState.disposed);
  });
});

describe('TransferLabController', () => {
  test('closing a notebook shuts its kernel down; another notebook keeps its own', async () => {
    // The few parts of the vscode API the controller's constructor touches.
    const closeListeners: ((nb: unknown) => void)[] = [];
    const event = () => ({ dispose() {} });
    Object.assign(fake.workspace, {
      onDidOpenNotebookDocument: event,
      onDidChangeConfiguration: event,
      onDidCloseNotebookDocument: (l: (nb: unknown) => void) => {
        closeListeners.push(l);
        return { dispose() {} };
      },
      isTrusted: true,
    });
    const controller = new TransferLabController('/ext', log);
    const clients = new Map<string, FakeClient>();
    const open = (name: string) => ({ uri: fake.Uri.file(`/nb/${name}.tsnb`), metadata: {}, notebookType: 'transferlab-notebook', getCells: () => [] }) as unknown as vscode.NotebookDocument;
    const a = open('a');
    const b = open('b');
    for (const nb of [a, b]) {
      const client = new FakeClient();
      clients.set(nb.uri.toString(), client);
      // Start each notebook's session through the controller's own path (its execute handler).
      const session = (controller as unknown as { sessionFor(nb: vscode.NotebookDocument): NotebookSession }).sessionFor(nb);
      const kernel = session.kernel as unknown as { start(): Promise<unknown>; current: unknown; stateValue: string };
      kernel.start = async () => {
        kernel.current = client;
        kernel.stateValue = KernelState.idle;
        return client;
      };
      const nbController = { createNotebookCellExecution: (c: FakeCell) => new FakeExecution(c) } as unknown as vscode.NotebookController;
      await session.run([cell(0, 'x')] as unknown as vscode.NotebookCell[], nbController);
    }
    for (const l of closeListeners) l(a);
    await new Promise((r) => setImmediate(r));
    assert.equal(clients.get(a.uri.toString())!.shutdowns, 1, 'the closed notebook’s kernel shut down');
    assert.equal(clients.get(b.uri.toString())!.shutdowns, 0, 'the other notebook’s kernel runs on');
    assert.equal(controller.session(a), undefined);
    assert.ok(controller.session(b));
    controller.dispose();
  });
});
