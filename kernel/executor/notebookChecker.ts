/**
 * Type checking of a whole notebook while it is edited (the editor's checker; the kernel checks
 * cells as they run with CellChecker). Same compiler options, prelude (`tl`, `tf`, display) and
 * error filter as the kernel, so a cell shows the errors the kernel would report on run.
 *
 * Each TypeScript cell is a module in one language service, in cell order, run or not. What
 * earlier cells declared reaches a cell the way the kernel's globals do: after the cell's own
 * text (positions in the cell stay as they are) comes a header that imports every earlier cell
 * that declares a name, and declares the latest declaration of each name it does not declare
 * itself, as the kernel's `globals.ts` does (`declare const x: typeof import('./cell3').x;`,
 * `import C = __c3.C;`), then an export of the cell's own names for the cells after it.
 *
 * Incremental: each cell file has its own version; an edit changes that cell's file (and the
 * headers of later cells only when the declared names change), and only the edited cell and the
 * cells after it are diagnosed again (earlier cells cannot see it).
 */
import ts from 'typescript';
import { declarationsOf, type Declaration } from './converter';
import { createCellLanguageService, DIR, isHiddenCompletion, missesModule, toCellDiagnostics, type CellDiagnostic, type CheckerOptions, type VirtualFiles } from './checker';
import { docsToMarkdown, partsToMarkdown, programLocator, type LinkLocator } from './docMarkdown';

/** A TypeScript cell of the notebook: a stable id (the editor's cell URI) and its text. */
export interface NotebookCellSource {
  readonly id: string;
  readonly text: string;
}

export interface CompletionEntry {
  readonly name: string;
  readonly kind: string;
  readonly sortText: string;
  readonly insertText?: string;
  /** Opaque: handed back to {@link NotebookChecker.completionDetails}. */
  readonly source?: string;
  readonly data?: ts.CompletionEntryData;
}

export interface Completions {
  readonly entries: readonly CompletionEntry[];
  readonly isMemberCompletion: boolean;
}

export interface CompletionDetails {
  /** The declaration, as TypeScript displays it (`function linear(x: Tensor, y: Tensor): number`). */
  readonly detail: string;
  /** Markdown: documentation, then tags (`@example` as code). */
  readonly documentation: string;
}

export interface HoverInfo {
  readonly signature: string;
  readonly documentation: string;
  /** UTF-16 span in the cell of the hovered name. */
  readonly start: number;
  readonly length: number;
}

export interface SignatureInfo {
  readonly label: string;
  readonly documentation: string;
  /** Each parameter's span in `label` ([start, end), UTF-16) and its documentation. */
  readonly parameters: readonly { readonly label: readonly [number, number]; readonly documentation: string }[];
}

export interface SignatureHelpInfo {
  readonly signatures: readonly SignatureInfo[];
  readonly activeSignature: number;
  readonly activeParameter: number;
}

interface CellState {
  readonly id: string;
  readonly key: number;
  readonly text: string;
  readonly declarations: readonly Declaration[];
  /** Names the cell declares with an `export` of its own (not exported again). */
  readonly exported: ReadonlySet<string>;
  /** JSDoc of its declarations, repeated in later cells' headers (so hover shows it there too). */
  readonly docs: ReadonlyMap<string, string>;
  readonly file: string;
}

const GLOBAL_AUGMENTATION = /\bdeclare\s+global\b/;

function exportedNames(sf: ts.SourceFile): Set<string> {
  const out = new Set<string>();
  for (const st of sf.statements) {
    const modifiers = ts.canHaveModifiers(st) ? (ts.getModifiers(st) ?? []) : [];
    if (!modifiers.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) continue;
    if (ts.isVariableStatement(st)) {
      for (const d of st.declarationList.declarations) if (ts.isIdentifier(d.name)) out.add(d.name.text);
    } else if ((ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st) || ts.isEnumDeclaration(st) || ts.isInterfaceDeclaration(st) || ts.isTypeAliasDeclaration(st) || ts.isModuleDeclaration(st)) && st.name && ts.isIdentifier(st.name)) {
      out.add(st.name.text);
    }
  }
  return out;
}

/** The JSDoc comment (`/** … *\/`) of each top-level declaration that has one, by name. */
function docComments(sf: ts.SourceFile): Map<string, string> {
  const out = new Map<string, string>();
  const text = sf.getFullText();
  for (const st of sf.statements) {
    const docs = (ts.getLeadingCommentRanges(text, st.pos) ?? []).filter((r) => text.startsWith('/**', r.pos));
    const last = docs[docs.length - 1];
    if (!last) continue;
    const names: string[] = [];
    if (ts.isVariableStatement(st)) {
      for (const d of st.declarationList.declarations) if (ts.isIdentifier(d.name)) names.push(d.name.text);
    } else if ((ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st) || ts.isEnumDeclaration(st) || ts.isInterfaceDeclaration(st) || ts.isTypeAliasDeclaration(st) || ts.isModuleDeclaration(st)) && st.name && ts.isIdentifier(st.name)) {
      names.push(st.name.text);
    }
    for (const n of names) out.set(n, text.slice(last.pos, last.end));
  }
  return out;
}

/**
 * The header line that brings an earlier cell's declaration into a cell, as globals.ts does.
 * Values through `typeof import(…)`: a `typeof ns.x` of a namespace import placed after the
 * cell's code makes TypeScript see a circular type when the cell calls `x`.
 */
function headerLine(name: string, decl: Declaration, key: number): { line: string; namespace: boolean } {
  switch (decl.kind) {
    case 'const':
      return { line: `declare const ${name}: typeof import('./cell${key}').${name};`, namespace: false };
    case 'let':
    case 'var':
    case 'function':
      return { line: `declare var ${name}: typeof import('./cell${key}').${name};`, namespace: false };
    case 'class':
    case 'enum':
    case 'namespace':
    case 'interface':
    case 'type':
    case 'import':
      return { line: `import ${name} = __c${key}.${name};`, namespace: true };
  }
}

export class NotebookChecker {
  private readonly files: VirtualFiles = new Map();
  private readonly service: ts.LanguageService;
  private readonly forgetDisk: () => void;
  private readonly locate: LinkLocator;
  private readonly dir: string;
  private cells: CellState[] = [];
  private readonly keys = new Map<string, number>();
  private nextKey = 1;
  private versionCounter = 0;
  /** Diagnostics known for the current texts, by cell id. */
  private readonly known = new Map<string, (CellDiagnostic & { readonly syntactic?: boolean })[]>();

  constructor(opts: CheckerOptions & { readonly registry?: ts.DocumentRegistry; readonly name?: string }) {
    this.dir = `${DIR}/${opts.name ?? 'notebook'}`;
    this.setFile(`${this.dir}/prelude.ts`, opts.preludeDeclarations);
    const { service, forgetDisk } = createCellLanguageService(opts, this.files, opts.registry);
    this.service = service;
    this.forgetDisk = forgetDisk;
    this.locate = programLocator(service, (f) => f.startsWith(`${DIR}/`));
  }

  private setFile(name: string, text: string): boolean {
    const old = this.files.get(name);
    if (old && old.text === text) return false;
    this.files.set(name, { text, version: ++this.versionCounter });
    return true;
  }

  /**
   * Sets the notebook's TypeScript cells, in order. Returns the ids of the cells whose
   * diagnostics may have changed: the first changed (edited, added, moved) cell and all after
   * it; all cells when a cell augments the global scope (`declare global`).
   */
  update(sources: readonly NotebookCellSource[]): string[] {
    const old = this.cells;
    const oldById = new Map(old.map((c) => [c.id, c]));
    const next: CellState[] = [];
    let firstChanged = -1;
    let everything = false;
    const owners = new Map<string, { key: number; decl: Declaration; doc: string | undefined }>();
    for (const [i, src] of sources.entries()) {
      let key = this.keys.get(src.id);
      if (key === undefined) {
        key = this.nextKey++;
        this.keys.set(src.id, key);
      }
      const prev = oldById.get(src.id);
      let declarations: readonly Declaration[];
      let exported: ReadonlySet<string>;
      let docs: ReadonlyMap<string, string>;
      if (prev && prev.text === src.text) {
        ({ declarations, exported, docs } = prev);
      } else {
        const sf = ts.createSourceFile('cell.ts', src.text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
        declarations = declarationsOf(sf);
        exported = exportedNames(sf);
        docs = docComments(sf);
        if (GLOBAL_AUGMENTATION.test(src.text) || (prev && GLOBAL_AUGMENTATION.test(prev.text))) everything = true;
      }
      const own = new Set(declarations.map((d) => d.name));
      const imports = new Set<number>();
      const lines: string[] = [];
      for (const [name, { key: from, decl, doc }] of owners) {
        if (own.has(name)) continue;
        const { line, namespace } = headerLine(name, decl, from);
        if (namespace) imports.add(from);
        lines.push(doc && !namespace ? `${doc}\n${line}` : line);
      }
      const header = [...imports].sort((a, b) => a - b).map((k) => `import * as __c${k} from './cell${k}';`);
      const exports = [...own].filter((n) => !exported.has(n));
      const file = `${this.dir}/cell${key}.ts`;
      const text = `${src.text}\n${[...header, ...lines].join(' ')}\nexport { ${exports.join(', ')} };\n`;
      const changedFile = this.setFile(file, text);
      if (firstChanged < 0 && (old[i]?.id !== src.id || !prev || prev.text !== src.text || changedFile)) firstChanged = i;
      next.push({ id: src.id, key, text: src.text, declarations, exported, docs, file });
      for (const d of declarations) owners.set(d.name, { key, decl: d, doc: docs.get(d.name) });
    }
    // Cells gone: their files go, and what followed them may have seen them.
    const ids = new Set(sources.map((s) => s.id));
    for (const c of old) {
      if (ids.has(c.id)) continue;
      this.files.delete(c.file);
      this.keys.delete(c.id);
      this.known.delete(c.id);
      if (GLOBAL_AUGMENTATION.test(c.text)) everything = true;
    }
    if (firstChanged < 0 && old.length !== next.length) firstChanged = next.length;
    this.cells = next;
    const from = everything ? 0 : firstChanged < 0 ? next.length : firstChanged;
    const stale = next.slice(from).map((c) => c.id);
    for (const id of stale) this.known.delete(id);
    return stale;
  }

  /** The cells, in order. */
  get cellIds(): string[] {
    return this.cells.map((c) => c.id);
  }

  /** Ids of cells whose diagnostics are not computed yet, in order. */
  get pending(): string[] {
    return this.cells.filter((c) => !this.known.has(c.id)).map((c) => c.id);
  }

  private cell(id: string): CellState {
    const c = this.cells.find((x) => x.id === id);
    if (!c) throw new RangeError(`NotebookChecker: no cell ${JSON.stringify(id)} (update() first)`);
    return c;
  }

  /**
   * A cell's errors (as the kernel would report them on run), positions in the cell; syntax
   * errors first, marked `syntactic`.
   */
  diagnostics(id: string): (CellDiagnostic & { readonly syntactic?: boolean })[] {
    const hit = this.known.get(id);
    if (hit) return hit;
    const c = this.cell(id);
    const syntactic = toCellDiagnostics(this.service.getSyntacticDiagnostics(c.file), c.text.length).map((d) => ({ ...d, syntactic: true }));
    let semantic = this.service.getSemanticDiagnostics(c.file);
    if (missesModule(semantic)) {
      // "Cannot find module": the package may have been installed since we last looked.
      this.forgetDisk();
      const f = this.files.get(c.file)!;
      this.files.set(c.file, { text: f.text, version: ++this.versionCounter });
      semantic = this.service.getSemanticDiagnostics(c.file);
    }
    const result = [...syntactic, ...toCellDiagnostics(semantic, c.text.length)];
    this.known.set(id, result);
    return result;
  }

  /** Records a cell as checked with no errors (after its check failed: not again until it changes). */
  markChecked(id: string): void {
    this.known.set(id, []);
  }

  /** Completions at a UTF-16 offset of a cell, without the checker's and the kernel's own names. */
  complete(id: string, offset: number): Completions {
    const c = this.cell(id);
    const info = this.service.getCompletionsAtPosition(c.file, Math.min(offset, c.text.length), { includeCompletionsWithInsertText: true });
    const entries = (info?.entries ?? [])
      .filter((e) => !isHiddenCompletion(e.name))
      .map((e) => ({ name: e.name, kind: e.kind, sortText: e.sortText, ...(e.insertText !== undefined ? { insertText: e.insertText } : {}), ...(e.source !== undefined ? { source: e.source } : {}), ...(e.data !== undefined ? { data: e.data } : {}) }));
    return { entries, isMemberCompletion: info?.isMemberCompletion ?? false };
  }

  /** The declaration and Markdown documentation of one completion entry. */
  completionDetails(id: string, offset: number, name: string, source?: string, data?: ts.CompletionEntryData): CompletionDetails | undefined {
    const c = this.cell(id);
    const d = this.service.getCompletionEntryDetails(c.file, Math.min(offset, c.text.length), name, {}, source, {}, data);
    if (!d) return undefined;
    return { detail: ts.displayPartsToString(d.displayParts), documentation: docsToMarkdown(d.documentation, d.tags, this.locate) };
  }

  /** Hover: the signature and Markdown documentation of the name at a UTF-16 offset. */
  hover(id: string, offset: number): HoverInfo | undefined {
    const c = this.cell(id);
    const at = Math.min(offset, c.text.length);
    let q = this.service.getQuickInfoAtPosition(c.file, at);
    if (!q && at > 0) q = this.service.getQuickInfoAtPosition(c.file, at - 1);
    if (!q || q.textSpan.start + q.textSpan.length > c.text.length) return undefined;
    return {
      signature: ts.displayPartsToString(q.displayParts),
      documentation: docsToMarkdown(q.documentation, q.tags, this.locate),
      start: q.textSpan.start,
      length: q.textSpan.length,
    };
  }

  /** Signature help inside a call's parentheses at a UTF-16 offset. */
  signatureHelp(id: string, offset: number): SignatureHelpInfo | undefined {
    const c = this.cell(id);
    const help = this.service.getSignatureHelpItems(c.file, Math.min(offset, c.text.length), undefined);
    if (!help) return undefined;
    const signatures = help.items.map((item): SignatureInfo => {
      let label = ts.displayPartsToString(item.prefixDisplayParts);
      const parameters = item.parameters.map((p, i) => {
        if (i > 0) label += ts.displayPartsToString(item.separatorDisplayParts);
        const start = label.length;
        label += ts.displayPartsToString(p.displayParts);
        return { label: [start, label.length] as const, documentation: partsToMarkdown(p.documentation, this.locate) };
      });
      label += ts.displayPartsToString(item.suffixDisplayParts);
      return { label, documentation: docsToMarkdown(item.documentation, item.tags.filter((t) => t.name !== 'param'), this.locate), parameters };
    });
    return { signatures, activeSignature: help.selectedItemIndex, activeParameter: help.argumentIndex };
  }

  /** Drops the language service (its files stay in the shared document registry until released). */
  dispose(): void {
    this.service.dispose();
  }
}
