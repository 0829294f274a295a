/**
 * More of the `vscode` stand-in (vscodeFake.ts re-exports it): positions and ranges, diagnostics,
 * Markdown, completion, hover and signature help, and `languages` recording what is registered,
 * for the language features' and the type checker's tests.
 */
export class Position {
  constructor(
    readonly line: number,
    readonly character: number,
  ) {}
}

export class Range {
  readonly start: Position;
  readonly end: Position;
  constructor(a: Position | number, b: Position | number, c?: number, d?: number) {
    this.start = typeof a === 'number' ? new Position(a, b as number) : a;
    this.end = typeof a === 'number' ? new Position(c!, d!) : (b as Position);
  }
}

export const DiagnosticSeverity = { Error: 0, Warning: 1, Information: 2, Hint: 3 } as const;

export class Diagnostic {
  source?: string;
  code?: number | string;
  constructor(
    readonly range: Range,
    readonly message: string,
    readonly severity: number = DiagnosticSeverity.Error,
  ) {}
}

export class MarkdownString {
  constructor(public value = '') {}
  appendMarkdown(text: string): this {
    this.value += text;
    return this;
  }
  appendCodeblock(code: string, language = ''): this {
    this.value += `\n\`\`\`${language}\n${code}\n\`\`\`\n`;
    return this;
  }
}

export class Hover {
  constructor(
    readonly contents: MarkdownString,
    readonly range?: Range,
  ) {}
}

export class CompletionItem {
  sortText?: string;
  insertText?: string;
  range?: Range;
  detail?: string;
  documentation?: MarkdownString;
  constructor(
    readonly label: string,
    readonly kind?: number,
  ) {}
}

export class CompletionList {
  constructor(
    readonly items: CompletionItem[],
    readonly isIncomplete = false,
  ) {}
}

export class ParameterInformation {
  constructor(
    readonly label: string | [number, number],
    readonly documentation?: MarkdownString,
  ) {}
}

export class SignatureInformation {
  parameters: ParameterInformation[] = [];
  constructor(
    readonly label: string,
    readonly documentation?: MarkdownString,
  ) {}
}

export class SignatureHelp {
  signatures: SignatureInformation[] = [];
  activeSignature = 0;
  activeParameter = 0;
}

/** A diagnostic collection kept in a map (URI text → diagnostics). */
export class FakeDiagnosticCollection {
  readonly entries = new Map<string, Diagnostic[]>();
  constructor(readonly name: string) {}
  set(uri: { toString(): string }, diagnostics: Diagnostic[]): void {
    this.entries.set(uri.toString(), diagnostics);
  }
  delete(uri: { toString(): string }): void {
    this.entries.delete(uri.toString());
  }
  get(uri: { toString(): string }): Diagnostic[] | undefined {
    return this.entries.get(uri.toString());
  }
  dispose(): void {
    this.entries.clear();
  }
}

/** What the code under test registered with `languages`. */
export const registered = {
  collections: [] as FakeDiagnosticCollection[],
  providers: [] as { kind: 'completion' | 'hover' | 'signatureHelp'; selector: unknown; provider: unknown; triggers: unknown[] }[],
};
const disposable = { dispose: () => undefined };
export const languages = {
  createDiagnosticCollection(name: string) {
    const c = new FakeDiagnosticCollection(name);
    registered.collections.push(c);
    return c;
  },
  registerCompletionItemProvider(selector: unknown, provider: unknown, ...triggers: unknown[]) {
    registered.providers.push({ kind: 'completion', selector, provider, triggers });
    return disposable;
  },
  registerHoverProvider(selector: unknown, provider: unknown) {
    registered.providers.push({ kind: 'hover', selector, provider, triggers: [] });
    return disposable;
  },
  registerSignatureHelpProvider(selector: unknown, provider: unknown, metadata: unknown) {
    registered.providers.push({ kind: 'signatureHelp', selector, provider, triggers: [metadata] });
    return disposable;
  },
};

/** `extensions`: the ids in `installed` are there (tests add VS Code's built-in ones). */
export const extensions = {
  installed: new Set<string>(),
  getExtension(id: string) {
    return extensions.installed.has(id) ? { id } : undefined;
  },
};
