/**
 * Type checking while typing: TypeScript cells of .tsnb notebooks and of .ipynb notebooks on our
 * kernel are checked in a worker thread of the extension host (dist/checkerWorker.js, the kernel's
 * own checker code), never in the kernel, so no cell runs and a busy kernel is not slowed down.
 * Errors show as squiggles and in the Problems panel a moment after typing stops; the same thread
 * answers completion, hover and signature help (extension/languageFeatures.ts).
 */
import * as vscode from 'vscode';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { CHECKER_WORKER_FILE, type CheckerCell, type CheckerDiagnostic, type CheckerNotebook, type CheckerQuery, type FromChecker, type ToChecker } from '../kernel/protocol/checkerProtocol';
import { TSNB_NOTEBOOK_TYPE } from './serializer';
import { JUPYTER_NOTEBOOK_TYPE, isTypeScriptIpynb } from './controller';

/** How long after the last keystroke a notebook is checked again (the issue asks for about half a second). */
export const CHECK_DELAY_MS = 250;
/** How long a completion, hover or signature help waits for the checker thread. */
const QUERY_TIMEOUT_MS = 5000;
/** A checker thread that died this many times is not started again (the kernel answers instead). */
const MAX_WORKER_FAILURES = 3;
/** VS Code's built-in TypeScript support: it reports syntax errors in notebook cells (not type errors). */
export const BUILTIN_TYPESCRIPT = 'vscode.typescript-language-features';
/** The source shown beside each diagnostic in the Problems panel. */
export const DIAGNOSTIC_SOURCE = 'TransferLab';

interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Line and character of a UTF-16 offset in a text. */
export function positionIn(text: string, offset: number): { line: number; character: number } {
  let line = 0;
  let lineStart = 0;
  const end = Math.min(offset, text.length);
  for (let i = text.indexOf('\n'); i !== -1 && i < end; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, character: end - lineStart };
}

/** The notebook a cell document belongs to. */
export function notebookOf(document: vscode.TextDocument): vscode.NotebookDocument | undefined {
  return vscode.workspace.notebookDocuments.find((nb) => nb.getCells().some((c) => c.document === document));
}

export class NotebookTypeChecker implements vscode.Disposable {
  private worker: Worker | undefined;
  private failures = 0;
  private readonly collection = vscode.languages.createDiagnosticCollection('transferlab');
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly replies = new Map<number, (m: { result?: unknown; error?: string } | undefined) => void>();
  private nextId = 1;
  /** Per notebook URI: its cells' documents and the text last sent for each (diagnostics refer to it). */
  private readonly sent = new Map<string, Map<string, { uri: vscode.Uri; text: string }>>();
  private readonly diagnosedEmitter = new vscode.EventEmitter<{ readonly cell: vscode.Uri; readonly diagnostics: readonly CheckerDiagnostic[]; readonly ms: number }>();
  /** Fires when a cell's diagnostics arrive (after they are shown). */
  readonly onDidDiagnose = this.diagnosedEmitter.event;

  constructor(
    private readonly extensionPath: string,
    private readonly log: Logger,
    /** Whether an .ipynb notebook that does not declare TypeScript runs on our kernel. */
    private readonly isOurs: (notebook: vscode.NotebookDocument) => boolean = () => false,
    private readonly delayMs = CHECK_DELAY_MS,
  ) {}

  /** Listens to notebooks opening, changing and closing; checks those open now. */
  register(): vscode.Disposable {
    const subscriptions = [
      vscode.workspace.onDidOpenNotebookDocument((nb) => this.schedule(nb, 0)),
      vscode.workspace.onDidCloseNotebookDocument((nb) => this.close(nb)),
      vscode.workspace.onDidChangeNotebookDocument((e) => {
        if (e.contentChanges.length > 0 || e.cellChanges.some((c) => c.document !== undefined)) this.schedule(e.notebook);
      }),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.contentChanges.length === 0 || e.document.uri.scheme !== 'vscode-notebook-cell') return;
        const nb = notebookOf(e.document);
        if (nb) this.schedule(nb);
      }),
    ];
    for (const nb of vscode.workspace.notebookDocuments) this.schedule(nb, 0);
    return vscode.Disposable.from(...subscriptions);
  }

  /** Whether a notebook's TypeScript cells are checked here. */
  checks(notebook: vscode.NotebookDocument): boolean {
    if (notebook.notebookType === TSNB_NOTEBOOK_TYPE) return true;
    return notebook.notebookType === JUPYTER_NOTEBOOK_TYPE && (isTypeScriptIpynb(notebook) || this.isOurs(notebook));
  }

  /** Whether the checker thread can answer (not given up after repeated failures). */
  get available(): boolean {
    return this.failures < MAX_WORKER_FAILURES;
  }

  /** Checks a notebook `delayMs` after the last call for it. */
  schedule(notebook: vscode.NotebookDocument, delayMs = this.delayMs): void {
    if (!this.checks(notebook) || !this.available) return;
    const key = notebook.uri.toString();
    clearTimeout(this.timers.get(key));
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        this.post({ type: 'update', ...this.snapshot(notebook) });
      }, delayMs),
    );
  }

  /** Asks the checker thread about a cell; undefined when it cannot answer in time. */
  async query(document: vscode.TextDocument, query: (cell: string) => CheckerQuery, token?: vscode.CancellationToken): Promise<unknown> {
    const notebook = notebookOf(document);
    if (!notebook || !this.checks(notebook) || !this.available) return undefined;
    const id = this.nextId++;
    const answer = new Promise<{ result?: unknown; error?: string } | undefined>((resolve) => {
      const timer = setTimeout(() => done(undefined), QUERY_TIMEOUT_MS);
      const sub = token?.onCancellationRequested(() => done(undefined));
      const done = (m: { result?: unknown; error?: string } | undefined) => {
        clearTimeout(timer);
        sub?.dispose();
        this.replies.delete(id);
        resolve(m);
      };
      this.replies.set(id, done);
    });
    if (!this.post({ type: 'query', id, query: query(document.uri.toString()), ...this.snapshot(notebook) })) {
      this.replies.get(id)?.(undefined);
    }
    const reply = await answer;
    if (reply?.error) this.log.warn(`type checker: ${reply.error}`);
    return reply?.result;
  }

  private snapshot(notebook: vscode.NotebookDocument): CheckerNotebook {
    const key = notebook.uri.toString();
    const cells: CheckerCell[] = [];
    const texts = new Map<string, { uri: vscode.Uri; text: string }>();
    for (const cell of notebook.getCells()) {
      if (cell.kind !== vscode.NotebookCellKind.Code || cell.document.languageId !== 'typescript') continue;
      const id = cell.document.uri.toString();
      const text = cell.document.getText();
      cells.push({ id, text });
      texts.set(id, { uri: cell.document.uri, text });
    }
    // Cells that left the notebook (or stopped being TypeScript) lose their squiggles.
    for (const [id, { uri }] of this.sent.get(key) ?? []) if (!texts.has(id)) this.collection.delete(uri);
    this.sent.set(key, texts);
    const cwd = notebook.uri.scheme === 'file' ? path.dirname(notebook.uri.fsPath) : (vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? os.homedir());
    return { notebook: key, cwd, cells };
  }

  private close(notebook: vscode.NotebookDocument): void {
    const key = notebook.uri.toString();
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    for (const { uri } of this.sent.get(key)?.values() ?? []) this.collection.delete(uri);
    if (this.sent.delete(key)) this.post({ type: 'close', notebook: key });
  }

  private post(message: ToChecker): boolean {
    const worker = this.ensureWorker();
    if (!worker) return false;
    worker.postMessage(message);
    return true;
  }

  private ensureWorker(): Worker | undefined {
    if (this.worker || !this.available) return this.worker;
    const file = path.join(this.extensionPath, 'dist', CHECKER_WORKER_FILE);
    let worker: Worker;
    try {
      worker = new Worker(file, { workerData: { packageRoot: this.extensionPath } });
    } catch (e) {
      this.failed(`cannot start the type checker (${file}): ${(e as Error).message}`);
      return undefined;
    }
    worker.on('message', (m: FromChecker) => this.receive(m));
    worker.on('error', (e) => this.log.error(`type checker: ${e.stack ?? e.message}`));
    worker.on('exit', (code) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      for (const done of [...this.replies.values()]) done(undefined);
      this.failed(`the type checker stopped (exit code ${code})`);
      // A new thread knows nothing: give it every notebook again.
      for (const nb of vscode.workspace.notebookDocuments) if (this.sent.has(nb.uri.toString())) this.schedule(nb, 0);
    });
    this.worker = worker;
    return worker;
  }

  private failed(message: string): void {
    this.failures++;
    this.log.warn(this.available ? message : `${message}; checking while typing is off until VS Code restarts (the kernel still checks cells when they run)`);
  }

  private receive(m: FromChecker): void {
    switch (m.type) {
      case 'diagnostics': {
        const cell = this.sent.get(m.notebook)?.get(m.cell);
        if (!cell) return;
        // Syntax errors only where VS Code's own TypeScript support does not show them already.
        const builtin = vscode.extensions.getExtension(BUILTIN_TYPESCRIPT) !== undefined;
        const diagnostics = m.diagnostics.filter((d) => !(builtin && d.syntactic)).map((d) => {
          const from = positionIn(cell.text, d.start);
          const to = positionIn(cell.text, d.start + d.length);
          const diagnostic = new vscode.Diagnostic(new vscode.Range(from.line, from.character, to.line, to.character), d.message, vscode.DiagnosticSeverity.Error);
          diagnostic.source = DIAGNOSTIC_SOURCE;
          diagnostic.code = d.code;
          return diagnostic;
        });
        this.collection.set(cell.uri, diagnostics);
        this.diagnosedEmitter.fire({ cell: cell.uri, diagnostics: m.diagnostics, ms: m.ms });
        return;
      }
      case 'reply':
        this.replies.get(m.id)?.(m);
        return;
      case 'log':
        this.log.warn(m.text);
        return;
      default: {
        const never: never = m;
        this.log.warn(`type checker sent an unknown message: ${JSON.stringify(never)}`);
      }
    }
  }

  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    const worker = this.worker;
    this.worker = undefined;
    void worker?.terminate();
    this.collection.dispose();
    this.diagnosedEmitter.dispose();
  }
}
