/**
 * Completion, hover and signature help in TypeScript cells. The editor's own checker thread
 * (extension/typeChecking.ts) answers them: it knows every cell, run or not, and never waits for
 * or slows down a busy kernel; completion items carry their documentation, hover and signature
 * help render `@example` as code and `{@link}` as links. Only when that thread has no answer (not
 * started, given up, timed out) do completion and hover ask the notebook's kernel (complete_request,
 * inspect_request).
 */
import * as vscode from 'vscode';
import { stripVTControlCharacters } from 'node:util';
import type { KernelConnection } from '../client/connection';
import type { CompleteReply, InspectReply } from '../kernel/protocol/messages';
import { Mime } from '../kernel/protocol/mime';
import { TSNB_NOTEBOOK_TYPE } from './serializer';
import { JUPYTER_NOTEBOOK_TYPE, type TransferLabController } from './controller';
import { KernelState } from './kernelProcess';
import type { NotebookTypeChecker } from './typeChecking';
import type { CheckerCompletionDetails, CheckerCompletions, CheckerHover, CheckerSignatureHelp } from '../kernel/protocol/checkerProtocol';

/**
 * How long the editor waits for the kernel's answer. The first completion of a fresh kernel loads
 * its full type checker (about 2 s here); while a cell runs the kernel is not asked at all, as it
 * would answer only after the cell.
 */
const LANGUAGE_REQUEST_TIMEOUT_MS = 5000;

/** JS string offset (UTF-16) → Jupyter cursor position (Unicode code points, protocol 5.2+). */
export function toCodePoints(text: string, offset: number): number {
  return [...text.slice(0, offset)].length;
}
/** Jupyter cursor position (code points) → JS string offset. */
export function fromCodePoints(text: string, codePoints: number): number {
  let offset = 0;
  let n = 0;
  for (const ch of text) {
    if (n === codePoints) break;
    offset += ch.length;
    n++;
  }
  return offset;
}

const COMPLETION_KINDS: Record<string, vscode.CompletionItemKind> = {
  function: vscode.CompletionItemKind.Function,
  method: vscode.CompletionItemKind.Method,
  class: vscode.CompletionItemKind.Class,
  interface: vscode.CompletionItemKind.Interface,
  module: vscode.CompletionItemKind.Module,
  keyword: vscode.CompletionItemKind.Keyword,
  property: vscode.CompletionItemKind.Property,
  variable: vscode.CompletionItemKind.Variable,
  let: vscode.CompletionItemKind.Variable,
  const: vscode.CompletionItemKind.Constant,
  enum: vscode.CompletionItemKind.Enum,
  type: vscode.CompletionItemKind.TypeParameter,
  alias: vscode.CompletionItemKind.TypeParameter,
  // TypeScript's ScriptElementKind names (the editor's checker)
  var: vscode.CompletionItemKind.Variable,
  'local var': vscode.CompletionItemKind.Variable,
  'local function': vscode.CompletionItemKind.Function,
  parameter: vscode.CompletionItemKind.Variable,
  getter: vscode.CompletionItemKind.Property,
  setter: vscode.CompletionItemKind.Property,
  constructor: vscode.CompletionItemKind.Constructor,
  'enum member': vscode.CompletionItemKind.EnumMember,
  'type parameter': vscode.CompletionItemKind.TypeParameter,
  string: vscode.CompletionItemKind.Value,
};

/** What resolving a completion item from the editor's checker needs. */
interface LocalItem {
  readonly document: vscode.TextDocument;
  readonly offset: number;
  readonly name: string;
  readonly source?: string;
  readonly data?: unknown;
}

/**
 * Completion, hover and signature help in TypeScript cells: from the editor's checker thread
 * (`local`) when it is there, else completion and hover from the notebook's kernel, which knows
 * the declarations of the cells run so far (silent when the notebook has no idle kernel).
 */
export class KernelLanguageFeatures implements vscode.CompletionItemProvider, vscode.HoverProvider, vscode.SignatureHelpProvider {
  private readonly localItems = new WeakMap<vscode.CompletionItem, LocalItem>();

  constructor(
    private readonly controller: TransferLabController,
    private readonly local?: NotebookTypeChecker,
  ) {}

  /** Registers the providers for TypeScript cells of .tsnb and .ipynb notebooks. */
  register(): vscode.Disposable {
    const selector: vscode.DocumentSelector = [
      { notebookType: TSNB_NOTEBOOK_TYPE, language: 'typescript' },
      { notebookType: JUPYTER_NOTEBOOK_TYPE, language: 'typescript' },
    ];
    return vscode.Disposable.from(
      vscode.languages.registerCompletionItemProvider(selector, this, '.'),
      vscode.languages.registerHoverProvider(selector, this),
      vscode.languages.registerSignatureHelpProvider(selector, this, { triggerCharacters: ['(', ','], retriggerCharacters: [')'] }),
    );
  }

  /** Completion from the editor's checker; undefined when it cannot answer. */
  private async localCompletions(document: vscode.TextDocument, position: vscode.Position, token: vscode.CancellationToken): Promise<vscode.CompletionList | undefined> {
    const offset = document.offsetAt(position);
    const r = (await this.local?.query(document, (cell) => ({ kind: 'complete', cell, offset }), token)) as CheckerCompletions | undefined;
    if (!r) return undefined;
    const range = document.getWordRangeAtPosition(position, /[\w$]+/) ?? new vscode.Range(position, position);
    const items = r.entries.map((e) => {
      const item = new vscode.CompletionItem(e.name, COMPLETION_KINDS[e.kind] ?? vscode.CompletionItemKind.Text);
      item.sortText = e.sortText + e.name;
      if (e.insertText !== undefined) item.insertText = e.insertText;
      item.range = range;
      this.localItems.set(item, { document, offset, name: e.name, ...(e.source !== undefined ? { source: e.source } : {}), ...(e.data !== undefined ? { data: e.data } : {}) });
      return item;
    });
    return new vscode.CompletionList(items, false);
  }

  /** Adds the declaration and its documentation (Markdown) to an item of the editor's checker. */
  async resolveCompletionItem(item: vscode.CompletionItem, token: vscode.CancellationToken): Promise<vscode.CompletionItem> {
    const info = this.localItems.get(item);
    if (!info || !this.local) return item;
    const d = (await this.local.query(info.document, (cell) => ({ kind: 'completionDetails', cell, offset: info.offset, name: info.name, ...(info.source !== undefined ? { source: info.source } : {}), ...(info.data !== undefined ? { data: info.data } : {}) }), token)) as CheckerCompletionDetails | undefined;
    if (d) {
      item.detail = d.detail;
      if (d.documentation) item.documentation = new vscode.MarkdownString(d.documentation);
    }
    return item;
  }

  async provideSignatureHelp(document: vscode.TextDocument, position: vscode.Position, token: vscode.CancellationToken): Promise<vscode.SignatureHelp | undefined> {
    const offset = document.offsetAt(position);
    const r = (await this.local?.query(document, (cell) => ({ kind: 'signatureHelp', cell, offset }), token)) as CheckerSignatureHelp | undefined;
    if (!r || r.signatures.length === 0) return undefined;
    const help = new vscode.SignatureHelp();
    help.signatures = r.signatures.map((s) => {
      const info = new vscode.SignatureInformation(s.label, s.documentation ? new vscode.MarkdownString(s.documentation) : undefined);
      info.parameters = s.parameters.map((p) => new vscode.ParameterInformation([p.label[0], p.label[1]], p.documentation ? new vscode.MarkdownString(p.documentation) : undefined));
      return info;
    });
    help.activeSignature = r.activeSignature;
    help.activeParameter = r.activeParameter;
    return help;
  }

  /** Hover from the editor's checker; undefined when it has nothing or cannot answer. */
  private async localHover(document: vscode.TextDocument, position: vscode.Position, token: vscode.CancellationToken): Promise<vscode.Hover | undefined> {
    const offset = document.offsetAt(position);
    const r = (await this.local?.query(document, (cell) => ({ kind: 'hover', cell, offset }), token)) as CheckerHover | undefined;
    if (!r) return undefined;
    const contents = new vscode.MarkdownString();
    contents.appendCodeblock(r.signature, 'typescript');
    if (r.documentation) contents.appendMarkdown(`\n\n${r.documentation}`);
    return new vscode.Hover(contents, new vscode.Range(document.positionAt(r.start), document.positionAt(r.start + r.length)));
  }

  private clientFor(document: vscode.TextDocument): KernelConnection | undefined {
    const notebook = vscode.workspace.notebookDocuments.find((nb) => nb.getCells().some((c) => c.document === document));
    if (!notebook) return undefined;
    const session = this.controller.session(notebook);
    if (!session || session.busy) return undefined;
    return session.kernel.state === KernelState.idle ? session.kernel.client : undefined;
  }

  async provideCompletionItems(document: vscode.TextDocument, position: vscode.Position, token: vscode.CancellationToken): Promise<vscode.CompletionList | undefined> {
    const local = await this.localCompletions(document, position, token);
    if (local) return local;
    const client = this.clientFor(document);
    if (!client) return undefined;
    const code = document.getText();
    const reply = (await withTimeout(client.complete(code, toCodePoints(code, document.offsetAt(position))), token)) as CompleteReply | undefined;
    if (!reply || reply.status !== 'ok' || reply.matches.length === 0) return undefined;
    const range = new vscode.Range(document.positionAt(fromCodePoints(code, reply.cursor_start)), document.positionAt(fromCodePoints(code, reply.cursor_end)));
    const types = new Map<string, string>();
    const experimental = reply.metadata['_jupyter_types_experimental'];
    if (Array.isArray(experimental)) {
      for (const t of experimental as { text?: unknown; type?: unknown }[]) {
        if (typeof t.text === 'string' && typeof t.type === 'string') types.set(t.text, t.type);
      }
    }
    const items = reply.matches.map((match, i) => {
      const item = new vscode.CompletionItem(match, COMPLETION_KINDS[types.get(match) ?? ''] ?? vscode.CompletionItemKind.Text);
      item.range = range;
      item.sortText = String(i).padStart(5, '0');
      return item;
    });
    return new vscode.CompletionList(items, false);
  }

  async provideHover(document: vscode.TextDocument, position: vscode.Position, token: vscode.CancellationToken): Promise<vscode.Hover | undefined> {
    const local = await this.localHover(document, position, token);
    if (local) return local;
    const client = this.clientFor(document);
    if (!client) return undefined;
    const code = document.getText();
    const reply = (await withTimeout(client.inspect(code, toCodePoints(code, document.offsetAt(position)), 0), token)) as InspectReply | undefined;
    if (!reply || reply.status !== 'ok' || !reply.found) return undefined;
    const markdown = reply.data[Mime.markdown];
    const plain = reply.data[Mime.plain];
    const contents = new vscode.MarkdownString();
    if (typeof markdown === 'string') contents.appendMarkdown(markdown);
    else if (typeof plain === 'string') contents.appendCodeblock(stripVTControlCharacters(plain), 'typescript');
    else return undefined;
    return new vscode.Hover(contents, document.getWordRangeAtPosition(position));
  }
}

function withTimeout<T>(promise: Promise<T>, token: vscode.CancellationToken): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), LANGUAGE_REQUEST_TIMEOUT_MS);
    const sub = token.onCancellationRequested(() => resolve(undefined));
    promise.then(
      (v) => resolve(v),
      () => resolve(undefined),
    ).finally(() => {
      clearTimeout(timer);
      sub.dispose();
    });
  });
}
