/**
 * A small stand-in for the `vscode` module, so the extension's logic can be unit-tested under
 * plain Node (the real module exists only inside VS Code's extension host; the end-to-end tests
 * cover that). Only what the controller, kernel process and settings modules touch. Importing
 * this file routes `require('vscode')` here.
 */
import Module from 'node:module';

export * from './vscodeLanguageFake';

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
export const NotebookControllerAffinity = { Default: 1, Preferred: 2 } as const;
export const ProgressLocation = { SourceControl: 1, Window: 10, Notification: 15 } as const;
export const StatusBarAlignment = { Left: 1, Right: 2 } as const;
export class ThemeColor {
  constructor(readonly id: string) {}
}

/** A notebook controller as `notebooks.createNotebookController` makes it; `select` plays the kernel picker. */
export interface FakeNotebookController {
  readonly id: string;
  readonly notebookType: string;
  label: string;
  description?: string;
  detail?: string;
  disposed: boolean;
  affinity: Map<unknown, number>;
  executeHandler?: (cells: unknown[], notebook: unknown, controller: unknown) => unknown;
  createNotebookCellExecution?: unknown;
  /** Fires onDidChangeSelectedNotebooks, as VS Code does when the user picks (or leaves) this controller. */
  select(notebook: unknown, selected: boolean): void;
}
/** Notebook controllers as the controller's constructor creates them; tests read `created`. */
export const notebooks = {
  created: [] as FakeNotebookController[],
  createNotebookController(id: string, notebookType: string, label: string) {
    const listeners: ((e: { notebook: unknown; selected: boolean }) => void)[] = [];
    const c: FakeNotebookController & Record<string, unknown> = {
      id,
      notebookType,
      label,
      disposed: false,
      affinity: new Map(),
      dispose() {
        c.disposed = true;
      },
      onDidChangeSelectedNotebooks: (l: (e: { notebook: unknown; selected: boolean }) => void) => {
        listeners.push(l);
        return { dispose() {} };
      },
      updateNotebookAffinity(nb: unknown, a: number) {
        c.affinity.set(nb, a);
      },
      select(notebook: unknown, selected: boolean) {
        for (const l of [...listeners]) l({ notebook, selected });
      },
    };
    notebooks.created.push(c);
    return c;
  },
};

/**
 * The user, scripted: what input boxes and quick picks answer (in order; `undefined` is Escape),
 * which message button is clicked, and a record of what was asked and shown.
 */
export const ui = {
  inputs: [] as (string | undefined)[],
  picks: [] as (string | undefined)[],
  /** Answers a message (its text and buttons) with the button clicked, or undefined. */
  choose: (() => undefined) as (text: string, actions: string[]) => string | undefined,
  asked: [] as Record<string, unknown>[],
  picked: [] as unknown[][],
  shown: [] as { level: 'info' | 'warning' | 'error'; text: string; actions: string[] }[],
  progress: [] as string[],
  reset(): void {
    ui.inputs = [];
    ui.picks = [];
    ui.asked = [];
    ui.picked = [];
    ui.shown = [];
    ui.progress = [];
    ui.choose = () => undefined;
  },
};
function message(level: 'info' | 'warning' | 'error') {
  return (text: string, ...rest: unknown[]) => {
    const actions = rest.filter((a): a is string => typeof a === 'string');
    ui.shown.push({ level, text, actions });
    return Promise.resolve(ui.choose(text, actions));
  };
}
/** Status bar items the code under test created. */
export const statusBarItems: { text: string; tooltip?: unknown; backgroundColor?: ThemeColor; visible: boolean; command?: unknown }[] = [];
export const window = {
  activeNotebookEditor: undefined as unknown,
  showInputBox(options: Record<string, unknown> = {}): Promise<string | undefined> {
    ui.asked.push(options);
    const answer = ui.inputs.shift();
    const validate = options['validateInput'] as ((v: string) => string | undefined) | undefined;
    if (answer !== undefined && validate?.(answer)) return Promise.resolve(undefined); // VS Code keeps the box open; the test's user gives up
    return Promise.resolve(answer);
  },
  showQuickPick<T extends { label: string }>(items: T[]): Promise<T | undefined> {
    ui.picked.push(items);
    const label = ui.picks.shift();
    return Promise.resolve(items.find((i) => i.label === label));
  },
  showInformationMessage: message('info'),
  showWarningMessage: message('warning'),
  showErrorMessage: message('error'),
  withProgress<T>(options: { title?: string }, task: () => Promise<T>): Promise<T> {
    ui.progress.push(options.title ?? '');
    return task();
  },
  onDidChangeActiveNotebookEditor: () => ({ dispose() {} }),
  createStatusBarItem() {
    const item = { text: '', visible: false, show: () => (item.visible = true), hide: () => (item.visible = false), dispose() {} } as (typeof statusBarItems)[number] & { show(): void; hide(): void; dispose(): void };
    statusBarItems.push(item);
    return item;
  },
};

/**
 * A `commands` namespace that records what is registered and executed: the module's `commands`,
 * which a test may replace with its own (`require('vscode').commands = …`).
 */
export const fakeCommands = {
  registered: new Map<string, (...args: unknown[]) => unknown>(),
  executed: [] as { command: string; args: unknown[] }[],
  registerCommand(id: string, fn: (...args: unknown[]) => unknown) {
    fakeCommands.registered.set(id, fn);
    return { dispose: () => fakeCommands.registered.delete(id) };
  },
  executeCommand(command: string, ...args: unknown[]): Promise<unknown> {
    fakeCommands.executed.push({ command, args });
    const fn = fakeCommands.registered.get(command);
    return Promise.resolve(fn?.(...args));
  },
};

/** `vscode.SecretStorage` in memory; `values` is what it holds. */
export class FakeSecretStorage {
  readonly values = new Map<string, string>();
  get(key: string): Promise<string | undefined> {
    return Promise.resolve(this.values.get(key));
  }
  store(key: string, value: string): Promise<void> {
    this.values.set(key, value);
    return Promise.resolve();
  }
  delete(key: string): Promise<void> {
    this.values.delete(key);
    return Promise.resolve();
  }
}

/** `vscode.Memento` (an extension's global state) in memory; `values` is what it holds. */
export class FakeMemento {
  readonly values = new Map<string, unknown>();
  get<T>(key: string, defaultValue?: T): T | undefined {
    return this.values.has(key) ? (this.values.get(key) as T) : defaultValue;
  }
  update(key: string, value: unknown): Promise<void> {
    if (value === undefined) this.values.delete(key);
    else this.values.set(key, value);
    return Promise.resolve();
  }
}

// Writable, unlike an `export const`, so that a test can put its own `commands` in its place.
Object.defineProperty(module.exports, 'commands', { value: fakeCommands, writable: true, enumerable: true, configurable: true });

const fakePath = __filename;
const moduleInternals = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
const resolve = moduleInternals._resolveFilename;
moduleInternals._resolveFilename = function (request: string, ...rest: unknown[]) {
  return request === 'vscode' ? fakePath : resolve.call(this, request, ...rest);
};
