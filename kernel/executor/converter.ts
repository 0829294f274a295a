/**
 * Turns a TypeScript cell into a script that runs in the kernel's global scope:
 * - top-level declarations (const/let/var, function, class, enum, namespace, import) become
 *   properties of the global object, so later cells see them and re-running a cell re-declares;
 * - the cell runs inside an async function, so top-level `await` works;
 * - the value of a final expression statement is returned (it becomes execute_result);
 * - imports, ESM-only packages too, go through the runtime's `import` (dynamic import).
 * Line numbers are preserved (edits never add or remove lines), so runtime errors point at the
 * cell's lines through the TypeScript source map.
 */
import ts from 'typescript';

/** The global through which converted cells reach the kernel runtime. */
export const RUNTIME_GLOBAL = '__transferlab_rt';

export type DeclarationKind = 'const' | 'let' | 'var' | 'function' | 'class' | 'enum' | 'namespace' | 'import' | 'type' | 'interface';

export interface Declaration {
  readonly name: string;
  readonly kind: DeclarationKind;
  /** True for names that exist at run time (not types or interfaces). */
  readonly value: boolean;
}

export interface ConvertedCell {
  /** The script to run: evaluates to a Promise of the last expression's value. */
  readonly js: string;
  /** Source map (v3 JSON) from the transpiled JS (before line-preserving edits) to the cell. */
  readonly sourceMap: string;
  /** Declarations of the cell in source order (last one wins for duplicate names). */
  readonly declarations: readonly Declaration[];
  /** Whether the cell ends in an expression statement whose value is returned. */
  readonly hasLastExpression: boolean;
}

const TRANSPILE_OPTIONS: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  verbatimModuleSyntax: true,
  sourceMap: true,
  useDefineForClassFields: true,
  experimentalDecorators: false,
  jsx: ts.JsxEmit.None,
};

function hasModifier(node: ts.Node, kind: ts.SyntaxKind): boolean {
  return ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === kind);
}

function bindingNames(name: ts.BindingName, out: string[]): void {
  if (ts.isIdentifier(name)) out.push(name.text);
  else for (const el of name.elements) if (!ts.isOmittedExpression(el)) bindingNames(el.name, out);
}

/** Top-level declarations of a cell, from its TypeScript source. */
export function declarationsOf(sf: ts.SourceFile): Declaration[] {
  const out: Declaration[] = [];
  const add = (name: string, kind: DeclarationKind, value = true) => out.push({ name, kind, value });
  for (const st of sf.statements) {
    if (ts.isVariableStatement(st)) {
      const flags = st.declarationList.flags;
      const kind: DeclarationKind = flags & ts.NodeFlags.Const ? 'const' : flags & ts.NodeFlags.Let ? 'let' : 'var';
      if (hasModifier(st, ts.SyntaxKind.DeclareKeyword)) continue;
      for (const d of st.declarationList.declarations) {
        const names: string[] = [];
        bindingNames(d.name, names);
        for (const n of names) add(n, kind);
      }
    } else if (ts.isFunctionDeclaration(st) && st.name) {
      if (st.body) add(st.name.text, 'function');
    } else if (ts.isClassDeclaration(st) && st.name) {
      add(st.name.text, 'class');
    } else if (ts.isEnumDeclaration(st)) {
      add(st.name.text, 'enum');
    } else if (ts.isModuleDeclaration(st) && ts.isIdentifier(st.name)) {
      add(st.name.text, 'namespace');
    } else if (ts.isInterfaceDeclaration(st)) {
      add(st.name.text, 'interface', false);
    } else if (ts.isTypeAliasDeclaration(st)) {
      add(st.name.text, 'type', false);
    } else if (ts.isImportDeclaration(st) && st.importClause) {
      const c = st.importClause;
      const typeOnly = c.isTypeOnly;
      if (c.name) add(c.name.text, 'import', !typeOnly);
      if (c.namedBindings) {
        if (ts.isNamespaceImport(c.namedBindings)) add(c.namedBindings.name.text, 'import', !typeOnly);
        else for (const el of c.namedBindings.elements) add(el.name.text, 'import', !typeOnly && !el.isTypeOnly);
      }
    } else if (ts.isImportEqualsDeclaration(st)) {
      add(st.name.text, 'import', !st.isTypeOnly);
    }
  }
  return out;
}

interface Edit {
  start: number;
  end: number;
  text: string;
}

/** Replacement text padded with the newlines of the replaced range, so lines stay aligned. */
function keepLines(original: string, replacement: string): string {
  const lost = (original.match(/\n/g)?.length ?? 0) - (replacement.match(/\n/g)?.length ?? 0);
  return lost > 0 ? replacement + '\n'.repeat(lost) : replacement;
}

function importReplacement(st: ts.ImportDeclaration, js: string): string {
  const spec = JSON.stringify((st.moduleSpecifier as ts.StringLiteral).text);
  const rt = RUNTIME_GLOBAL;
  const c = st.importClause;
  if (!c) return `await ${rt}.import(${spec});`;
  const parts: string[] = [];
  if (c.name) parts.push(`${c.name.text} = ${rt}.defaultOf(__m);`);
  if (c.namedBindings) {
    if (ts.isNamespaceImport(c.namedBindings)) parts.push(`${c.namedBindings.name.text} = __m;`);
    else {
      const els = c.namedBindings.elements.filter((e) => !e.isTypeOnly);
      if (els.length > 0) {
        const pattern = els
          .map((e) => {
            const imported = e.propertyName ? e.propertyName.getText() : e.name.text;
            return imported === e.name.text ? e.name.text : `${imported}: ${e.name.text}`;
          })
          .join(', ');
        parts.push(`({ ${pattern} } = ${rt}.namedOf(__m, ${JSON.stringify(els.map((e) => (e.propertyName ?? e.name).getText()))}));`);
      }
    }
  }
  void js;
  return `{ const __m = await ${rt}.import(${spec}); ${parts.join(' ')} }`;
}

/**
 * Converts a cell. Throws nothing for type errors (the checker reports those); syntax errors
 * produce JS that the checker will already have rejected.
 */
export function convertCell(source: string, fileName = 'cell.ts'): ConvertedCell {
  const tsFile = ts.createSourceFile(fileName, source, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const declarations = declarationsOf(tsFile);
  // `export {}` makes the cell a module, so top-level await and imports transpile as such.
  const out = ts.transpileModule(`${source}\nexport {};\n`, { compilerOptions: TRANSPILE_OPTIONS, fileName, reportDiagnostics: false });
  const jsIn = out.outputText.replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n');
  const sf = ts.createSourceFile('cell.js', jsIn, ts.ScriptTarget.ES2022, true, ts.ScriptKind.JS);
  const edits: Edit[] = [];
  const functionNames: string[] = [];
  const statements = sf.statements.filter((s) => !(ts.isExportDeclaration(s) && !s.moduleSpecifier && s.exportClause && ts.isNamedExports(s.exportClause) && s.exportClause.elements.length === 0));
  for (const st of sf.statements) {
    if (!statements.includes(st)) edits.push({ start: st.getStart(sf), end: st.end, text: '' });
  }
  let hasLastExpression = false;
  statements.forEach((st, index) => {
    const start = st.getStart(sf);
    const text = jsIn.slice(start, st.end);
    const isLast = index === statements.length - 1;
    const exportKw = ts.canHaveModifiers(st) ? (ts.getModifiers(st) ?? []).find((m) => m.kind === ts.SyntaxKind.ExportKeyword) : undefined;
    if (exportKw) edits.push({ start: exportKw.getStart(sf), end: exportKw.end, text: '' });
    if (ts.isImportDeclaration(st)) {
      edits.push({ start, end: st.end, text: keepLines(text, importReplacement(st, jsIn)) });
    } else if (ts.isVariableStatement(st)) {
      const decls = st.declarationList.declarations;
      const isVar = !(st.declarationList.flags & (ts.NodeFlags.Const | ts.NodeFlags.Let));
      const pieces: string[] = [];
      decls.forEach((d, i) => {
        const dText = jsIn.slice(d.getStart(sf), d.end);
        let piece: string;
        if (d.initializer) piece = `(${dText})`;
        else if (isVar) piece = '';
        else piece = `(${dText} = undefined)`;
        const sep = i + 1 < decls.length ? jsIn.slice(d.end, decls[i + 1]!.getStart(sf)).replace(',', piece ? ',' : '') : '';
        pieces.push(piece + (piece ? sep : sep.replace(/[^\n]/g, '')));
      });
      let body = pieces.join('').replace(/,\s*$/, '');
      if (body.trim() === '') body = '';
      edits.push({ start, end: st.end, text: keepLines(text, body ? `;${body};` : ';') });
    } else if (ts.isFunctionDeclaration(st) && st.name) {
      functionNames.push(st.name.text);
    } else if (ts.isClassDeclaration(st) && st.name) {
      edits.push({ start, end: start, text: `${st.name.text} = ` });
      edits.push({ start: st.end, end: st.end, text: ';' });
    } else if (ts.isExportAssignment(st)) {
      edits.push({ start, end: st.expression.getStart(sf), text: '' });
    } else if (isLast && ts.isExpressionStatement(st)) {
      hasLastExpression = true;
      const expr = st.expression;
      edits.push({ start, end: st.end, text: keepLines(text, `return (${jsIn.slice(expr.getStart(sf), expr.end)});`) });
    }
  });
  edits.sort((a, b) => b.start - a.start || b.end - a.end);
  let body = jsIn;
  for (const e of edits) body = body.slice(0, e.start) + e.text + body.slice(e.end);
  const valueNames = [...new Set(declarations.filter((d) => d.value).map((d) => d.name))];
  const declare = valueNames.length > 0 ? `${RUNTIME_GLOBAL}.declare(${JSON.stringify(valueNames)}); ` : '';
  const prologue = declare + functionNames.map((n) => `globalThis.${n} = ${n};`).join(' ');
  const js = `(async () => { ${prologue}${body}\n})()`;
  return { js, sourceMap: out.sourceMapText ?? '', declarations, hasLastExpression };
}
