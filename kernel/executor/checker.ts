/**
 * Type checking of cells against everything earlier cells declared.
 *
 * Each cell is a module in an in-memory project. When a cell has run, its file is committed
 * with an `export { … }` of its top-level names appended, and a generated `globals.ts` turns the
 * latest declaration of every name into a global (`declare global { const x: typeof cellN.x;
 * export import C = cellN.C; … }`). A new cell is checked as a module, so its own declarations
 * shadow the globals: re-running a cell that declares `const x` works, and types flow from
 * earlier cells exactly as TypeScript inferred them. The same language service answers
 * completion and hover requests.
 */
import ts from 'typescript';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { declarationsOf, type Declaration } from './converter';
import { docsToMarkdown, programLocator } from './docMarkdown';

/** The virtual folder of in-memory cell files (never looked up on disk). */
export const DIR = '/__transferlab__';
const GLOBALS = `${DIR}/globals.ts`;
const PRELUDE = `${DIR}/prelude.ts`;
const SCRATCH = `${DIR}/scratch.ts`;

export interface CellDiagnostic {
  readonly line: number; // 1-based, in the cell
  readonly column: number; // 1-based
  readonly code: number;
  readonly message: string;
  readonly category: 'error' | 'warning';
  /** UTF-16 offset of the start in the cell, and the length of the span (for squiggles). */
  readonly start?: number;
  readonly length?: number;
}

export interface CheckerOptions {
  /** The notebook's folder: relative imports and node_modules resolve from here first. */
  readonly cwd: string;
  /** The package root of TransferLab (its node_modules and dist/types). */
  readonly packageRoot: string;
  /** Extra declarations visible in every cell (display API etc.), as a module body with `declare global`. */
  readonly preludeDeclarations: string;
  /**
   * A light checker: the ECMAScript library and the prelude only (no Node or TensorFlow.js
   * types). It loads in a fraction of the time, so the first simple cells need not wait for
   * the full one; a cell it rejects is checked again by the full checker.
   */
  readonly light?: boolean;
}

function cellFile(id: number): string {
  return `${DIR}/cell${id}.ts`;
}

/** In-memory files of a language service: name → text and a version that only grows. */
export type VirtualFiles = Map<string, { text: string; version: number }>;

/** The compiler options cells are checked with (the kernel's and the editor's checker alike). */
export function checkerCompilerOptions(opts: CheckerOptions): ts.CompilerOptions {
  const nm = (root: string) => path.join(root, 'node_modules');
  const analysisTypes = path.join(opts.packageRoot, 'dist', 'types', 'kernel', 'analysis', 'index.d.ts');
  const paths: Record<string, string[]> = {
    '*': [path.join(nm(opts.cwd), '*'), path.join(nm(opts.packageRoot), '*'), path.join(nm(opts.packageRoot), '@types', '*')],
  };
  if (existsSync(analysisTypes)) paths['transferlab'] = [analysisTypes];
  return {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2023.d.ts'],
    types: opts.light ? [] : ['node'],
    typeRoots: [path.join(nm(opts.packageRoot), '@types')],
    strict: true,
    noImplicitAny: false,
    skipLibCheck: true,
    esModuleInterop: true,
    allowSyntheticDefaultImports: true,
    resolveJsonModule: true,
    allowJs: true,
    noEmit: true,
    paths,
    useDefineForClassFields: true,
  };
}

/**
 * A language service over in-memory cell files (`files`, under the virtual folder) and the disk
 * (libraries, node_modules). The disk's answers are remembered: they do not change while a
 * session checks cells, and every edit makes a new program that looks them all up again;
 * `forgetDisk` forgets them (after `npm install` in a running session).
 */
export function createCellLanguageService(
  opts: CheckerOptions,
  files: VirtualFiles,
  registry: ts.DocumentRegistry = ts.createDocumentRegistry(),
): { service: ts.LanguageService; options: ts.CompilerOptions; forgetDisk: () => void } {
  const options = checkerCompilerOptions(opts);
  const caches: Map<string, unknown>[] = [];
  const memo = <T>(fn: (p: string) => T) => {
    const cache = new Map<string, T>();
    caches.push(cache);
    return (p: string): T => {
      let v = cache.get(p);
      if (v === undefined && !cache.has(p)) {
        v = fn(p);
        cache.set(p, v);
      }
      return v as T;
    };
  };
  const diskFileExists = memo((f) => ts.sys.fileExists(f));
  const diskDirectoryExists = memo((d) => ts.sys.directoryExists(d));
  const diskRealpath = memo((f) => (ts.sys.realpath ? ts.sys.realpath(f) : f));
  const moduleCache = ts.createModuleResolutionCache(opts.cwd, (f) => f, undefined);
  const forgetDisk = () => {
    for (const c of caches) c.clear();
    moduleCache.clear();
  };
  const diskSnapshot = memo((f) => {
    const text = ts.sys.readFile(f);
    return text === undefined ? undefined : ts.ScriptSnapshot.fromString(text);
  });
  const virtual = (f: string) => f === DIR || f.startsWith(`${DIR}/`);
  const host: ts.LanguageServiceHost = {
    getCompilationSettings: () => options,
    getScriptFileNames: () => [...files.keys()],
    getScriptVersion: (f) => String(files.get(f)?.version ?? 0),
    getScriptSnapshot: (f) => {
      const mem = files.get(f);
      if (mem) return ts.ScriptSnapshot.fromString(mem.text);
      return virtual(f) ? undefined : diskSnapshot(f);
    },
    getCurrentDirectory: () => opts.cwd,
    getDefaultLibFileName: (o) => ts.getDefaultLibFilePath(o),
    fileExists: (f) => files.has(f) || (!virtual(f) && diskFileExists(f)),
    readFile: (f) => files.get(f)?.text ?? (virtual(f) ? undefined : ts.sys.readFile(f)),
    directoryExists: (d) => virtual(d) || diskDirectoryExists(d),
    getDirectories: (d) => (virtual(d) ? [] : ts.sys.getDirectories(d)),
    readDirectory: ts.sys.readDirectory,
    realpath: (f) => (virtual(f) ? f : diskRealpath(f)),
    resolveModuleNameLiterals: (literals, containingFile, redirected, compilerOptions) =>
      literals.map((l) => ts.resolveModuleName(l.text, containingFile, compilerOptions, host, moduleCache, redirected)),
    useCaseSensitiveFileNames: () => true,
  };
  return { service: ts.createLanguageService(host, registry), options, forgetDisk };
}

/**
 * The errors of a cell's file as the kernel reports them: errors only, those inside the cell's
 * own text (`sourceLength` characters; what follows is generated), positions 1-based in the cell.
 */
export function toCellDiagnostics(diags: readonly ts.Diagnostic[], sourceLength: number): CellDiagnostic[] {
  return diags
    .filter((d) => d.category === ts.DiagnosticCategory.Error && d.file && d.start !== undefined && d.start <= sourceLength)
    .map((d) => {
      const { line, character } = d.file!.getLineAndCharacterOfPosition(d.start!);
      return { line: line + 1, column: character + 1, code: d.code, message: explainMessage(ts.flattenDiagnosticMessageText(d.messageText, '\n')), category: 'error' as const, start: d.start!, length: d.length ?? 0 };
    });
}

/**
 * A compiler message as a notebook user should read it: `tl`'s namespaces by their names, not the
 * path of their declaration file; a removed `…Async` twin of an analysis and a value used without
 * `await` (every analysis returns a promise, on every backend) say what to write instead.
 */
export function explainMessage(message: string): string {
  let m = message.replace(/typeof import\("[^"]*\/kernel\/analysis(?:\/([\w/]+?))?\/index"\)/g, (_, sub: string | undefined) => (sub ? `typeof tl.${sub.replace(/\//g, '.')}` : 'typeof tl'));
  const twin = /^Property '(\w+)Async' does not exist on type '(typeof tl(?:\.\w+)*|MinibatchCka)'/.exec(m);
  if (twin) {
    const call = twin[2]!.startsWith('typeof ') ? `${twin[2]!.slice('typeof '.length)}.${twin[1]}(…)` : `….${twin[1]}(…)`;
    m += ` TransferLab has one name per operation, on every backend: write \`await ${call}\`.`;
  } else if (/'Promise<[^']*>'/.test(m) && /does not exist on type 'Promise<|Type 'Promise<[^']*>' is not assignable|cannot be applied to types? 'Promise<|of type 'Promise</.test(m) && !/await/.test(m)) {
    m += " Did you forget `await`? (tl's analyses return promises on every backend.)";
  }
  return m;
}

/**
 * Names that completion never offers: the kernel's and the checker's own machinery (`__tl`,
 * `__c3`, `__transferlab_rt`, any `__` name). Declarations marked `@internal` are not in the
 * analysis API's declaration files at all (`stripInternal`).
 */
export function isHiddenCompletion(name: string): boolean {
  return name.startsWith('__');
}

/** Whether a cell file's diagnostics said a module was not found (it may have been installed since). */
export function missesModule(diags: readonly ts.Diagnostic[]): boolean {
  return diags.some((d) => d.code === 2307 || d.code === 2792);
}

export class CellChecker {
  private readonly files: VirtualFiles = new Map();
  private readonly service: ts.LanguageService;
  /** Latest declaring cell for each global name. */
  private readonly owners = new Map<string, { cell: number; decl: Declaration }>();
  private environmentVersion = 0;
  /** Versions only grow, also across deleted and re-added files (the document registry remembers). */
  private versionCounter = 0;
  private readonly cache = new Map<string, CellDiagnostic[]>();
  /** TypeScript's type of each global name, with the cell that declared it ({@link typesOf}). */
  private readonly typeCache = new Map<string, { cell: number; type: string }>();
  /** The program of the last check, whose scratch file holds the cell checked (see {@link typesOf}). */
  private checkedProgram: ts.Program | undefined;
  /** The last committed cell: its id and its text as the scratch file holds it. */
  private lastCommit: { id: number; text: string } | undefined;
  /** Forgets what was learnt about the disk (after `npm install` in a running session). */
  private readonly forgetDisk: () => void;

  constructor(opts: CheckerOptions) {
    this.setFile(PRELUDE, opts.preludeDeclarations);
    this.setFile(GLOBALS, 'export {};\n');
    this.setFile(SCRATCH, 'export {};\n');
    const { service, forgetDisk } = createCellLanguageService(opts, this.files);
    this.service = service;
    this.forgetDisk = forgetDisk;
  }

  private setFile(name: string, text: string): void {
    const old = this.files.get(name);
    if (old && old.text === text) return;
    this.files.set(name, { text, version: ++this.versionCounter });
  }

  /** True once a cell has declared something (then only the full checker knows the globals). */
  get hasDeclarations(): boolean {
    return this.owners.size > 0;
  }

  /** Loads the libraries once, so the first real cell is checked quickly. */
  warmUp(): void {
    this.check('const __warm: number = 1 + 1;', -1);
  }

  /** Diagnostics of a cell (as a module), positions in the cell's own lines and columns. */
  check(source: string, id: number): CellDiagnostic[] {
    const key = `${this.environmentVersion}\u0000${source}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    // Always the same file: when only its text changes (and not its imports), TypeScript reuses
    // the whole program structure instead of walking every library file again.
    void id;
    const file = SCRATCH;
    this.setFile(file, `${source}\nexport {};\n`);
    const diagnose = () => {
      const sf = this.service.getProgram()?.getSourceFile(file);
      return [...this.service.getSyntacticDiagnostics(file), ...(sf ? this.service.getSemanticDiagnostics(file) : [])];
    };
    let diags = diagnose();
    if (missesModule(diags)) {
      // "Cannot find module": the package may have been installed since we last looked.
      this.forgetDisk();
      this.setFile(file, `${source}\n\nexport {};\n`);
      diags = diagnose();
    }
    this.checkedProgram = this.service.getProgram();
    const result = toCellDiagnostics(diags, source.length);
    if (this.cache.size > 500) this.cache.clear();
    this.cache.set(key, result);
    return result;
  }

  /**
   * Records a cell that ran: its declarations become globals for later cells.
   * `id` must be unique per execution (the execution count).
   */
  commit(source: string, id: number): void {
    const sf = ts.createSourceFile('cell.ts', source, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
    const decls = declarationsOf(sf);
    if (decls.length === 0) return;
    const names = [...new Set(decls.map((d) => d.name))];
    this.lastCommit = { id, text: `${source}\nexport {};\n` };
    this.setFile(cellFile(id), `${source}\nexport { ${names.join(', ')} };\n`);
    for (const d of decls) this.owners.set(d.name, { cell: id, decl: d });
    this.rebuildGlobals();
  }

  private rebuildGlobals(): void {
    const cells = new Set<number>();
    const lines: string[] = [];
    for (const [name, { cell, decl }] of this.owners) {
      cells.add(cell);
      const ref = `__c${cell}.${name}`;
      switch (decl.kind) {
        case 'const':
          lines.push(`  const ${name}: typeof ${ref};`);
          break;
        case 'let':
        case 'var':
        case 'function':
          lines.push(`  var ${name}: typeof ${ref};`);
          break;
        case 'class':
        case 'enum':
        case 'namespace':
        case 'interface':
        case 'type':
        case 'import':
          lines.push(`  export import ${name} = ${ref};`);
          break;
      }
    }
    // Drop cell files nobody refers to any more.
    for (const f of [...this.files.keys()]) {
      const m = /\/cell(\d+)\.ts$/.exec(f);
      if (m && !cells.has(Number(m[1]))) this.files.delete(f);
    }
    const imports = [...cells].sort((a, b) => a - b).map((c) => `import * as __c${c} from './cell${c}';`);
    this.setFile(GLOBALS, `${imports.join('\n')}\ndeclare global {\n${lines.join('\n')}\n}\nexport {};\n`);
    this.environmentVersion++;
  }

  /**
   * TypeScript's types of global names declared by cells that ran (`name` → `number[]`,
   * `tf.Tensor<tf.Rank>`, `typeof Net`), from the program the next cell's check uses anyway.
   */
  typesOf(names: readonly string[]): Map<string, string> {
    const out = new Map<string, string>();
    let checker: ts.TypeChecker | undefined;
    let program: ts.Program | undefined;
    for (const name of names) {
      const owner = this.owners.get(name);
      if (!owner) continue;
      // A name's type is read once per declaring cell: only names the last cell declared cost anything.
      const cached = this.typeCache.get(name);
      if (cached?.cell === owner.cell) {
        out.set(name, cached.type);
        continue;
      }
      // The last cell's names from the program its check built (no new program for the new
      // globals, which the next check builds anyway); older ones from the current program.
      const scratch = owner.cell === this.lastCommit?.id ? this.checkedProgram?.getSourceFile(SCRATCH) : undefined;
      let sf: ts.SourceFile | undefined;
      let tc: ts.TypeChecker | undefined;
      if (scratch && scratch.text === this.lastCommit?.text) {
        sf = scratch;
        tc = this.checkedProgram!.getTypeChecker();
      } else {
        program ??= this.service.getProgram();
        checker ??= program?.getTypeChecker();
        sf = program?.getSourceFile(cellFile(owner.cell));
        tc = checker;
      }
      const id = sf ? declarationIdentifier(sf, name) : undefined;
      const symbol = id ? tc?.getSymbolAtLocation(id) : undefined;
      if (!id || !symbol || !tc) continue;
      const type = tc.typeToString(tc.getTypeOfSymbolAtLocation(symbol, id), undefined, ts.TypeFormatFlags.NoTruncation);
      this.typeCache.set(name, { cell: owner.cell, type });
      out.set(name, type);
    }
    return out;
  }

  /** Completions at a UTF-16 offset of `code`. */
  complete(code: string, offset: number): { matches: string[]; start: number; end: number; entries: ts.CompletionEntry[] } {
    this.setFile(SCRATCH, `${code}\nexport {};\n`);
    const info = this.service.getCompletionsAtPosition(SCRATCH, offset, { includeCompletionsWithInsertText: true });
    let start = offset;
    while (start > 0 && /[\w$]/.test(code[start - 1]!)) start--;
    let end = offset;
    while (end < code.length && /[\w$]/.test(code[end]!)) end++;
    const prefix = code.slice(start, offset);
    const entries = (info?.entries ?? []).filter((e) => e.name.startsWith(prefix) && !isHiddenCompletion(e.name));
    entries.sort((a, b) => (a.sortText < b.sortText ? -1 : a.sortText > b.sortText ? 1 : a.name.localeCompare(b.name)));
    return { matches: entries.map((e) => e.name), start, end, entries };
  }

  /** Hover text (signature and documentation) at a UTF-16 offset, or undefined. */
  inspect(code: string, offset: number): { signature: string; documentation: string; markdown: string } | undefined {
    this.setFile(SCRATCH, `${code}\nexport {};\n`);
    let q = this.service.getQuickInfoAtPosition(SCRATCH, offset);
    if (!q && offset > 0) q = this.service.getQuickInfoAtPosition(SCRATCH, offset - 1);
    if (!q) return undefined;
    const signature = ts.displayPartsToString(q.displayParts);
    const docs = ts.displayPartsToString(q.documentation);
    const tags = (q.tags ?? []).map((t) => `@${t.name} ${ts.displayPartsToString(t.text)}`).join('\n');
    const markdown = docsToMarkdown(q.documentation, q.tags, programLocator(this.service, (f) => f.startsWith(`${DIR}/`)));
    return { signature, documentation: [docs, tags].filter(Boolean).join('\n\n'), markdown };
  }
}

/** The identifier that declares `name` at the top level of a cell (the last such declaration). */
function declarationIdentifier(sf: ts.SourceFile, name: string): ts.Identifier | undefined {
  let found: ts.Identifier | undefined;
  const visitBinding = (b: ts.BindingName) => {
    if (ts.isIdentifier(b)) {
      if (b.text === name) found = b;
    } else for (const el of b.elements) if (!ts.isOmittedExpression(el)) visitBinding(el.name);
  };
  for (const st of sf.statements) {
    if (ts.isVariableStatement(st)) for (const d of st.declarationList.declarations) visitBinding(d.name);
    else if ((ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st) || ts.isEnumDeclaration(st)) && st.name?.text === name) found = st.name;
    else if (ts.isModuleDeclaration(st) && ts.isIdentifier(st.name) && st.name.text === name) found = st.name;
    else if (ts.isImportEqualsDeclaration(st) && st.name.text === name) found = st.name;
    else if (ts.isImportDeclaration(st) && st.importClause) {
      const c = st.importClause;
      if (c.name?.text === name) found = c.name;
      const nb = c.namedBindings;
      if (nb && ts.isNamespaceImport(nb) && nb.name.text === name) found = nb.name;
      if (nb && ts.isNamedImports(nb)) for (const el of nb.elements) if (el.name.text === name) found = el.name;
    }
  }
  return found;
}
