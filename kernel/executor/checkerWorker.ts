/**
 * The editor's type checker thread (dist/checkerWorker.js): a worker thread of the VS Code
 * extension host, never of the kernel, so checking while typing neither runs cells nor slows a
 * busy kernel. One NotebookChecker per open notebook (sharing parsed library files); messages in
 * kernel/protocol/checkerProtocol.ts. After each update it diagnoses the cells that may have
 * changed, the edited one first, one cell at a time, taking new messages in between (an update
 * or a completion request does not wait for a 100-cell notebook to be checked through).
 */
// First: load the TypeScript compiler through the V8 code cache (before anything imports it).
import { saveTypeScriptCodeCache } from './codeCache';
import { parentPort, workerData } from 'node:worker_threads';
import ts from 'typescript';
import { NotebookChecker } from './notebookChecker';
import { preludeDeclarations } from './prelude';
import type { CheckerNotebook, CheckerQuery, FromChecker, ToChecker } from '../protocol/checkerProtocol';

export interface CheckerWorkerData {
  /** TransferLab's package root (dist/types, node_modules): the extension's folder. */
  readonly packageRoot: string;
}

const port = parentPort;
if (!port) throw new Error('kernel/executor/checkerWorker.ts must run in a worker thread');
const { packageRoot } = workerData as CheckerWorkerData;
const post = (m: FromChecker) => port.postMessage(m);
const prelude = preludeDeclarations(packageRoot);
const registry = ts.createDocumentRegistry();
const notebooks = new Map<string, { checker: NotebookChecker; cwd: string }>();
let names = 0;

function checkerFor(nb: CheckerNotebook): NotebookChecker {
  let entry = notebooks.get(nb.notebook);
  if (entry && entry.cwd !== nb.cwd) {
    entry.checker.dispose();
    entry = undefined;
  }
  if (!entry) {
    entry = { checker: new NotebookChecker({ cwd: nb.cwd, packageRoot, preludeDeclarations: prelude, registry, name: `nb${++names}` }), cwd: nb.cwd };
    notebooks.set(nb.notebook, entry);
  }
  entry.checker.update(nb.cells);
  return entry.checker;
}

function answer(checker: NotebookChecker, q: CheckerQuery): unknown {
  switch (q.kind) {
    case 'complete':
      return checker.complete(q.cell, q.offset);
    case 'completionDetails':
      return checker.completionDetails(q.cell, q.offset, q.name, q.source, q.data as ts.CompletionEntryData | undefined);
    case 'hover':
      return checker.hover(q.cell, q.offset);
    case 'signatureHelp':
      return checker.signatureHelp(q.cell, q.offset);
    default: {
      const never: never = q;
      throw new Error(`unknown query ${JSON.stringify(never)}`);
    }
  }
}

let diagnosing = false;
let cacheSaved = false;
/** Diagnoses pending cells, one per turn of the event loop, until none is left. */
async function diagnoseAll(): Promise<void> {
  if (diagnosing) return;
  diagnosing = true;
  try {
    for (;;) {
      const next = [...notebooks].map(([uri, { checker }]) => ({ uri, checker, cell: checker.pending[0] })).find((n) => n.cell !== undefined);
      if (!next) break;
      const t0 = performance.now();
      try {
        const diags = next.checker.diagnostics(next.cell!);
        post({ type: 'diagnostics', notebook: next.uri, cell: next.cell!, diagnostics: diags.map((d) => ({ start: d.start ?? 0, length: d.length ?? 0, code: d.code, message: d.message, syntactic: d.syntactic === true })), ms: performance.now() - t0 });
      } catch (e) {
        post({ type: 'log', text: `type check of a cell failed: ${(e as Error).stack ?? String(e)}` });
        // Not again until the cell changes.
        next.checker.markChecked(next.cell!);
      }
      if (!cacheSaved) {
        cacheSaved = true;
        saveTypeScriptCodeCache();
      }
      await new Promise((r) => setImmediate(r));
    }
  } finally {
    diagnosing = false;
  }
}

port.on('message', (m: ToChecker) => {
  try {
    switch (m.type) {
      case 'update':
        checkerFor(m);
        break;
      case 'close':
        notebooks.get(m.notebook)?.checker.dispose();
        notebooks.delete(m.notebook);
        break;
      case 'query':
        try {
          post({ type: 'reply', id: m.id, result: answer(checkerFor(m), m.query) });
        } catch (e) {
          post({ type: 'reply', id: m.id, error: (e as Error).message });
        }
        break;
      default: {
        const never: never = m;
        post({ type: 'log', text: `unknown message ${JSON.stringify(never)}` });
      }
    }
  } catch (e) {
    post({ type: 'log', text: `checker: ${(e as Error).stack ?? String(e)}` });
  }
  void diagnoseAll();
});
