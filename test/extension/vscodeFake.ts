/**
 * A small stand-in for the `vscode` module, so the extension's logic can be unit-tested under
 * plain Node (the real module exists only inside VS Code's extension host; the end-to-end tests
 * cover that). Only what the controller, kernel process and settings modules touch. Importing
 * this file routes `require('vscode')` here.
 */
import Module from 'node:module';

export class NotebookCellOutputItem {
  constructor(
    readonly data: Uint8Array,
    readonly mime: string,
  ) {}
  static text(value: string, mime = 'text/plain'): NotebookCellOutputItem {
    return new NotebookCellOutputItem(Buffer.from(value), mime);
  }
  static json(value: unknown, mime = 'text/x-json'): NotebookCellOutputItem {
    return new NotebookCellOutputItem(Buffer.from(JSON.stringify(value, undefined, '\t')), mime);
  }
  static error(e: { name: string; message: string; stack?: string }): NotebookCellOutputItem {
    return new NotebookCellOutputItem(Buffer.from(JSON.stringify({ name: e.name, message: e.message, stack: e.stack })), 'application/vnd.code.notebook.error');
  }
}

let outputIds = 0;
export class NotebookCellOutput {
  readonly id = `output-${++outputIds}`;
  constructor(
    public items: NotebookCellOutputItem[],
    public metadata?: Record<string, unknown>,
  ) {}
}

export class EventEmitter<T> {
  private listeners: ((e: T) => void)[] = [];
  readonly event = (listener: (e: T) => void) => {
    this.listeners.push(listener);
    return { dispose: () => (this.listeners = this.listeners.filter((l) => l !== listener)) };
  };
  fire(e: T): void {
    for (const l of [...this.listeners]) l(e);
  }
  dispose(): void {
    this.listeners = [];
  }
}

export class Disposable {
  constructor(private readonly fn: () => void) {}
  static from(...items: { dispose(): unknown }[]): Disposable {
    return new Disposable(() => items.forEach((i) => i.dispose()));
  }
  dispose(): void {
    this.fn();
  }
}

export class Uri {
  private constructor(
    readonly scheme: string,
    readonly fsPath: string,
  ) {}
  static file(p: string): Uri {
    return new Uri('file', p);
  }
  toString(): string {
    return `${this.scheme}://${this.fsPath}`;
  }
}

export const CompletionItemKind = Object.fromEntries(
  ['Text', 'Method', 'Function', 'Constructor', 'Field', 'Variable', 'Class', 'Interface', 'Module', 'Property', 'Unit', 'Value', 'Enum', 'Keyword', 'Snippet', 'Color', 'File', 'Reference', 'Folder', 'EnumMember', 'Constant', 'Struct', 'Event', 'Operator', 'TypeParameter'].map((k, i) => [k, i]),
);
export const NotebookCellKind = { Markup: 1, Code: 2 } as const;

/** Settings the fake `workspace.getConfiguration` returns; tests set them. */
export const fakeSettings: Record<string, unknown> = {};
export const workspace = {
  getConfiguration(section: string) {
    return {
      get<T>(key: string, defaultValue: T): T {
        const full = `${section}.${key}`;
        return (full in fakeSettings ? fakeSettings[full] : defaultValue) as T;
      },
    };
  },
  notebookDocuments: [] as unknown[],
};
export const window = { activeNotebookEditor: undefined };
export const NotebookControllerAffinity = { Default: 1, Preferred: 2 } as const;
/** Notebook controllers as the controller's constructor creates them; tests read `created`. */
export const notebooks = {
  created: [] as { id: string; createNotebookCellExecution?: unknown }[],
  createNotebookController(id: string) {
    const c = { id, dispose() {}, onDidChangeSelectedNotebooks: () => ({ dispose() {} }), updateNotebookAffinity() {} };
    notebooks.created.push(c);
    return c;
  },
};

const fakePath = __filename;
const moduleInternals = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
const resolve = moduleInternals._resolveFilename;
moduleInternals._resolveFilename = function (request: string, ...rest: unknown[]) {
  return request === 'vscode' ? fakePath : resolve.call(this, request, ...rest);
};
