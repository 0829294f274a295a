/**
 * Parameters of `transferlab run`: `--param name=value` values, the declarations of the cell
 * tagged `parameters`, and the cell tagged `injected-parameters` that carries the values (papermill's
 * conventions; nbclient's tags for cells that may fail or are skipped).
 */
import type * as TS from 'typescript';
import type { JsonValue, TsnbCell, TsnbCodeCell, TsnbNotebook } from '../../kernel/protocol/tsnb';
import { ParameterError } from '../errors';

/** Tag of the cell whose declarations are the notebook's parameters (papermill's convention). */
export const PARAMETERS_TAG = 'parameters';
/** Tag of the cell `transferlab run` inserts with the values given on the command line. */
export const INJECTED_PARAMETERS_TAG = 'injected-parameters';
/** A cell that is expected to fail: the run goes on (nbclient's convention). */
export const RAISES_EXCEPTION_TAG = 'raises-exception';
/** A cell that is not run (nbclient's convention). */
export const SKIP_EXECUTION_TAG = 'skip-execution';

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const RESERVED = new Set(
  ('break case catch class const continue debugger default delete do else enum export extends false finally for function if import in ' +
    'instanceof new null return super switch this throw true try typeof var void while with let static yield await implements interface ' +
    'package private protected public')
    .split(' '),
);

/**
 * Reads `--param` values: `name=value`, the value parsed as JSON when it is valid JSON
 * (`3`, `[0, 1]`, `true`, `"text"`), else taken as a string (`mnist`). A later value for the same
 * name wins.
 * @throws ParameterError for a missing `=` or a name that is not a JavaScript identifier.
 * @example
 * parseParameters(['epochs=3', 'seeds=[0,1]', 'dataset=mnist']);
 * // Map { 'epochs' => 3, 'seeds' => [0, 1], 'dataset' => 'mnist' }
 */
export function parseParameters(args: readonly string[]): Map<string, JsonValue> {
  const out = new Map<string, JsonValue>();
  for (const a of args) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new ParameterError(`--param ${JSON.stringify(a)}: expected name=value, e.g. --param epochs=3`);
    const name = a.slice(0, eq).trim();
    if (!IDENTIFIER.test(name) || RESERVED.has(name)) {
      throw new ParameterError(`--param ${JSON.stringify(a)}: ${JSON.stringify(name)} is not a valid variable name`);
    }
    out.set(name, parseParameterValue(a.slice(eq + 1)));
  }
  return out;
}

/** A parameter value: JSON when valid, else the text itself. */
export function parseParameterValue(text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return text;
  }
}

/** A declaration found in a parameters cell: `const epochs: number = 3` → keyword, name, type. */
export interface ParameterDeclaration {
  readonly keyword: 'const' | 'let' | 'var';
  readonly name: string;
  /** The type annotation's text, when there is one. */
  readonly type?: string;
}

/**
 * The top-level variables a parameters cell declares (parsed with the TypeScript parser, so
 * comments, destructuring and odd spacing do not fool it; destructured names are left out).
 */
export function parameterDeclarations(source: string): ParameterDeclaration[] {
  // Loaded only here: the other commands should not pay for the compiler.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ts = require('typescript') as typeof TS;
  const file = ts.createSourceFile('parameters.ts', source, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out: ParameterDeclaration[] = [];
  for (const statement of file.statements) {
    if (!ts.isVariableStatement(statement)) continue;
    const flags = statement.declarationList.flags;
    const keyword = flags & ts.NodeFlags.Const ? 'const' : flags & ts.NodeFlags.Let ? 'let' : 'var';
    for (const d of statement.declarationList.declarations) {
      if (!ts.isIdentifier(d.name)) continue;
      out.push({ keyword, name: d.name.text, ...(d.type !== undefined ? { type: d.type.getText(file) } : {}) });
    }
  }
  return out;
}

function tagsOf(cell: TsnbCell): string[] {
  const tags = cell.metadata['tags'];
  return Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [];
}

/** Whether a cell's `metadata.tags` holds `tag`. */
export function hasTag(cell: TsnbCell, tag: string): boolean {
  return tagsOf(cell).includes(tag);
}

/** The source of the injected cell: one declaration per parameter, typed like the parameters cell's. */
export function injectedSource(parameters: ReadonlyMap<string, JsonValue>, declared: readonly ParameterDeclaration[]): string {
  const lines = ['// Parameters injected by `transferlab run`.'];
  for (const [name, value] of parameters) {
    const d = declared.find((x) => x.name === name);
    const keyword = d?.keyword ?? 'const';
    lines.push(`${keyword} ${name}${d?.type !== undefined ? `: ${d.type}` : ''} = ${JSON.stringify(value)};`);
  }
  return lines.join('\n');
}

/**
 * A copy of `notebook` with the parameters in a cell tagged `injected-parameters` right after the
 * cell tagged `parameters` (or first, with a warning, when no cell has that tag). A previous run's
 * injected cell is removed first. With no parameters, the copy only loses that old cell.
 * @example
 * const { notebook, warnings } = injectParameters(nb, new Map([['epochs', 1]]));
 */
export function injectParameters(notebook: TsnbNotebook, parameters: ReadonlyMap<string, JsonValue>): { notebook: TsnbNotebook; warnings: string[] } {
  const nb = structuredClone(notebook);
  const warnings: string[] = [];
  nb.cells = nb.cells.filter((c) => !hasTag(c, INJECTED_PARAMETERS_TAG));
  if (parameters.size === 0) return { notebook: nb, warnings };
  const at = nb.cells.findIndex((c) => c.cell_type === 'code' && hasTag(c, PARAMETERS_TAG));
  const declared = at >= 0 ? parameterDeclarations(nb.cells[at]!.source) : [];
  if (at < 0) {
    warnings.push(`no cell is tagged "${PARAMETERS_TAG}": the parameters go into a new first cell`);
  } else {
    for (const name of parameters.keys()) {
      if (!declared.some((d) => d.name === name)) {
        const known = declared.map((d) => d.name).join(', ');
        warnings.push(`parameter ${name} is not declared in the parameters cell${known ? ` (it declares ${known})` : ''}; injected anyway`);
      }
    }
  }
  const cell: TsnbCodeCell = {
    cell_type: 'code',
    execution_count: null,
    metadata: { tags: [INJECTED_PARAMETERS_TAG] },
    outputs: [],
    source: injectedSource(parameters, declared),
  };
  if (nb.cells.some((c) => c.id !== undefined)) {
    const ids = new Set(nb.cells.map((c) => c.id));
    let id = INJECTED_PARAMETERS_TAG;
    for (let k = 2; ids.has(id); k++) id = `${INJECTED_PARAMETERS_TAG}-${k}`;
    cell.id = id;
  }
  nb.cells.splice(at + 1, 0, cell);
  return { notebook: nb, warnings };
}

