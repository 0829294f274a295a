/**
 * Completion and hover in TypeScript cells, answered by the notebook's kernel (complete_request,
 * inspect_request), which knows the declarations of the cells run so far.
 */
import * as vscode from 'vscode';
import { stripVTControlCharacters } from 'node:util';
import type { KernelClient } from '../client/kernelClient';
import type { CompleteReply, InspectReply } from '../kernel/protocol/messages';
import { Mime } from '../kernel/protocol/mime';
import { TSNB_NOTEBOOK_TYPE } from './serializer';
import { JUPYTER_NOTEBOOK_TYPE, type TransferLabController } from './controller';
import { KernelState } from './kernelProcess';

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
};

/**
 * Completion and hover in TypeScript cells, answered by the notebook's kernel (complete_request,
 * inspect_request), which knows the declarations of the cells run so far. Silent when the
 * notebook has no running kernel.
 */
export class KernelLanguageFeatures implements vscode.CompletionItemProvider, vscode.HoverProvider {
  constructor(private readonly controller: TransferLabController) {}

  /** Registers both providers for TypeScript cells of .tsnb and .ipynb notebooks. */
  register(): vscode.Disposable {
    const selector: vscode.DocumentSelector = [
      { notebookType: TSNB_NOTEBOOK_TYPE, language: 'typescript' },
      { notebookType: JUPYTER_NOTEBOOK_TYPE, language: 'typescript' },
    ];
    return vscode.Disposable.from(
      vscode.languages.registerCompletionItemProvider(selector, this, '.'),
      vscode.languages.registerHoverProvider(selector, this),
    );
  }

  private clientFor(document: vscode.TextDocument): KernelClient | undefined {
    const notebook = vscode.workspace.notebookDocuments.find((nb) => nb.getCells().some((c) => c.document === document));
    if (!notebook) return undefined;
    const session = this.controller.session(notebook);
    if (!session || session.busy) return undefined;
    return session.kernel.state === KernelState.idle ? session.kernel.client : undefined;
  }

  async provideCompletionItems(document: vscode.TextDocument, position: vscode.Position, token: vscode.CancellationToken): Promise<vscode.CompletionList | undefined> {
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
