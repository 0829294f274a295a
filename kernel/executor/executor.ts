/**
 * Runs TypeScript cells: type check (CellChecker), convert (convertCell), run in this thread's
 * global scope, and turn the value or the error into what the Jupyter handler sends.
 * Lives in the executor worker; knows nothing of sockets.
 */
import vm from 'node:vm';
import path from 'node:path';
import { SourceMap } from 'node:module';
import ts from 'typescript';
import { CellChecker, type CellDiagnostic } from './checker';
import { convertCell, RUNTIME_GLOBAL } from './converter';
import { toBundle, NO_RESULT_SYMBOL, type DisplaySink } from './display';
import type { ExecuteOutcome } from './workerProtocol';
import type { IsCompleteReply } from '../protocol/messages';
import type { Runtime } from './runtime';
import { VariableTracker } from './variables';
import { BundleFrames } from './bundleFrames';
import type { VariablesSummary } from '../protocol/variables';

/** The cell was stopped by an interrupt (interrupt_request or SIGINT). */
export class InterruptError extends Error {
  override readonly name = 'InterruptError';
  constructor() {
    super('The cell was interrupted.');
  }
}

const RED = '\u001b[31m';
const BOLD = '\u001b[1m';
const DIM = '\u001b[2m';
const RESET = '\u001b[0m';

function codeFrame(source: string, line: number, column: number): string[] {
  const lines = source.split('\n');
  const from = Math.max(1, line - 2);
  const to = Math.min(lines.length, line + 1);
  const width = String(to).length;
  const out: string[] = [];
  for (let i = from; i <= to; i++) {
    const mark = i === line ? `${RED}>${RESET}` : ' ';
    out.push(`${mark} ${DIM}${String(i).padStart(width)} |${RESET} ${lines[i - 1]}`);
    if (i === line) out.push(`  ${' '.repeat(width)} ${DIM}|${RESET} ${' '.repeat(Math.max(0, column - 1))}${RED}^${RESET}`);
  }
  return out;
}

export function typeErrorOutcome(source: string, diags: readonly CellDiagnostic[]): ExecuteOutcome {
  const first = diags[0]!;
  const evalue = diags.map((d) => `${d.line}:${d.column} TS${d.code}: ${d.message}`).join('\n');
  const traceback: string[] = [];
  for (const d of diags) {
    traceback.push(`${RED}${BOLD}TypeScript error TS${d.code}${RESET} at line ${d.line}, column ${d.column}: ${d.message}`);
    traceback.push(...codeFrame(source, d.line, d.column));
  }
  void first;
  return { status: 'error', ename: 'TypeScriptError', evalue, traceback };
}

interface RunningCell {
  reject(e: Error): void;
  cancelled: boolean;
}

export interface ExecutorOptions {
  readonly cwd: string;
  readonly packageRoot: string;
  readonly runtime: Runtime;
  readonly sink: DisplaySink;
  readonly preludeDeclarations: string;
  /**
   * Runs the kernel's own synchronous work (type checking, loading modules) marked as such, so
   * that an interrupt never terminates it halfway (see workerHost.ts).
   */
  readonly guard?: <T>(fn: () => T) => T;
  /** Prelude for the light checker (no `tl`/`tf`); undefined: no light checker. */
  readonly lightPreludeDeclarations?: string;
}

export class Executor {
  readonly checker: CellChecker;
  /** For the first cells, while the full checker loads (see CheckerOptions.light). */
  private readonly lightChecker: CellChecker | undefined;
  private fullCheckerUsed = false;
  private running: RunningCell | undefined;
  private readonly sourceMaps = new Map<string, { map: SourceMap; source: string; jsLines: number }>();
  /** Frames in TransferLab's bundles (dist/analysis.js) shown at their source file and line. */
  private readonly bundleFrames = new BundleFrames();
  /** The names cells declared and TensorFlow.js memory per cell, for the Variables view. */
  readonly variables = new VariableTracker();

  constructor(private readonly opts: ExecutorOptions) {
    this.checker = new CellChecker({ cwd: opts.cwd, packageRoot: opts.packageRoot, preludeDeclarations: opts.preludeDeclarations });
    this.lightChecker = opts.lightPreludeDeclarations === undefined ? undefined : new CellChecker({ cwd: opts.cwd, packageRoot: opts.packageRoot, preludeDeclarations: opts.lightPreludeDeclarations, light: true });
    (globalThis as Record<string, unknown>)[RUNTIME_GLOBAL] = opts.runtime;
  }

  /** Stops the running cell, if any: its promise rejects with InterruptError. */
  interrupt(): boolean {
    const r = this.running;
    if (!r) return false;
    this.running = undefined;
    r.cancelled = true;
    r.reject(new InterruptError());
    return true;
  }

  /**
   * Runs a cell. `prepare` runs first (e.g. starting the compute backend when the cell uses it).
   * An interrupt settles the returned promise at once, whatever the cell was doing.
   */
  async execute(code: string, executionCount: number, prepare?: () => Promise<unknown>): Promise<ExecuteOutcome> {
    let token!: RunningCell;
    const interrupted = new Promise<never>((_, reject) => {
      token = { reject, cancelled: false };
      this.running = token;
    });
    interrupted.catch(() => undefined);
    const state = { checked: false, committed: false };
    const commit = () => {
      if (state.checked && !state.committed) (this.opts.guard ?? ((f: () => void) => f()))(() => this.checker.commit(code, executionCount));
      state.committed = true;
    };
    try {
      const outcome = await Promise.race([this.run(code, executionCount, state, token, prepare), interrupted]);
      commit();
      return outcome;
    } catch (e) {
      commit();
      return this.errorOutcome(e);
    } finally {
      this.running = undefined;
    }
  }

  private async run(code: string, executionCount: number, state: { checked: boolean }, token: RunningCell, prepare?: () => Promise<unknown>): Promise<ExecuteOutcome> {
    const guard = this.opts.guard ?? (<T>(fn: () => T) => fn());
    const diags = guard(() => this.check(code, executionCount));
    if (diags.length > 0) return typeErrorOutcome(code, diags);
    const filename = `cell-${executionCount}.js`;
    const converted = guard(() => convertCell(code, `cell-${executionCount}.ts`));
    this.variables.declare(converted.declarations.filter((d) => d.value));
    if (converted.sourceMap) {
      try {
        this.sourceMaps.set(filename, guard(() => ({ map: new SourceMap(JSON.parse(converted.sourceMap)), source: code, jsLines: converted.js.split('\n').length })));
      } catch {
        // a missing map only costs line numbers in tracebacks
      }
    }
    if (prepare) await prepare();
    state.checked = true;
    const script = guard(() => new vm.Script(converted.js, { filename, importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER }));
    // Run the cell from a microtask, never directly inside a message callback: V8's
    // TerminateExecution (used to interrupt synchronous loops) is only safe there.
    await null;
    if (token.cancelled) throw new InterruptError();
    const value = await (script.runInThisContext() as Promise<unknown>);
    if (!converted.hasLastExpression || value === undefined) return { status: 'ok' };
    if (value !== null && typeof value === 'object' && (value as Record<symbol, unknown>)[NO_RESULT_SYMBOL]) return { status: 'ok' };
    return { status: 'ok', result: toBundle(value) };
  }

  /**
   * The Variables view's summary after cell `executionCount`: TypeScript's types once the full
   * checker has loaded (asking it earlier would load it now, for seconds), run-time kinds before.
   */
  variablesSummary(executionCount: number): VariablesSummary {
    const names = this.variables.names();
    const guard = this.opts.guard ?? (<T>(fn: () => T) => fn());
    let types = new Map<string, string>();
    if (this.fullCheckerUsed) {
      try {
        types = guard(() => this.checker.typesOf(names));
      } catch {
        // types are a nicety: the run-time kinds stand in
      }
    }
    return this.variables.summary(executionCount, globalThis, (n) => types.get(n));
  }

  /** Whether the full checker has loaded (or been asked to). */
  get fullCheckerWarm(): boolean {
    return this.fullCheckerUsed;
  }

  warmUpLight(): void {
    this.lightChecker?.warmUp();
  }

  warmUpFull(): void {
    this.fullCheckerUsed = true;
    this.checker.warmUp();
  }

  /**
   * Type errors of a cell. Until the full checker has loaded, a cell with no imports in a
   * session with no declarations yet goes to the light checker first; only a cell it passes
   * is accepted from it (adding Node's and TensorFlow.js's declarations adds no errors to a
   * cell that referred to none of them).
   */
  private check(code: string, executionCount: number): CellDiagnostic[] {
    if (this.lightChecker && !this.fullCheckerUsed && !this.checker.hasDeclarations && !/\bimport\b|\brequire\s*\(/.test(code)) {
      const light = this.lightChecker.check(code, executionCount);
      if (light.length === 0) return light;
    }
    this.fullCheckerUsed = true;
    return this.checker.check(code, executionCount);
  }

  /** ename/evalue/traceback for a thrown value, with stack frames mapped to cell lines. */
  errorOutcome(e: unknown): ExecuteOutcome {
    if (!(e instanceof Error)) {
      return { status: 'error', ename: 'Error', evalue: `Uncaught ${String(e)}`, traceback: [`${RED}Uncaught${RESET} ${String(e)}`] };
    }
    const ename = e.name || e.constructor?.name || 'Error';
    const evalue = e.message;
    const traceback = [`${RED}${BOLD}${ename}${RESET}: ${evalue}`];
    if (e instanceof InterruptError) return { status: 'error', ename, evalue, traceback };
    const frames = (e.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l));
    let framed = false;
    for (const f of frames) {
      const m = /(cell-(\d+)\.js):(\d+):(\d+)/.exec(f);
      if (m) {
        const sm = this.sourceMaps.get(m[1]!);
        const line = Number(m[3]);
        const col = Number(m[4]);
        if (sm && line >= sm.jsLines) continue; // the cell's async wrapper
        const entry = sm?.map.findEntry(line - 1, Math.max(0, col - 1)) as { originalLine?: number; originalColumn?: number } | undefined;
        const origLine = entry?.originalLine !== undefined ? entry.originalLine + 1 : line;
        const origCol = entry?.originalColumn !== undefined ? entry.originalColumn + 1 : col;
        // IPython's `Cell In[n], line l`: VS Code's error renderer links it to the cell's line.
        traceback.push(`  Cell In[${m[2]}], line ${origLine}, column ${origCol}`);
        if (!framed && sm) {
          traceback.push(...codeFrame(sm.source, origLine, origCol));
          framed = true;
        }
      } else if (/node:vm|Script\.runInThisContext/.test(f)) {
        break;
      } else if (!/node:internal|\/dist\/kernelWorker\.js|kernel\/executor\//.test(f)) {
        traceback.push(this.bundleFrames.map(f));
      }
    }
    return { status: 'error', ename, evalue, traceback };
  }

  isComplete(code: string): IsCompleteReply {
    const sf = ts.createSourceFile('cell.ts', code, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
    const diags = (sf as unknown as { parseDiagnostics: ts.DiagnosticWithLocation[] }).parseDiagnostics ?? [];
    if (diags.length === 0) return { status: 'complete' };
    const trimmedEnd = code.trimEnd().length;
    const atEnd = diags.every((d) => d.start >= trimmedEnd || d.code === 1002 || d.code === 1010 || d.code === 1160 || d.code === 1161);
    if (!atEnd) return { status: 'invalid' };
    const lastLine = code.split('\n').pop() ?? '';
    const indent = /^\s*/.exec(lastLine)![0];
    const opens = /[{([]\s*$/.test(code.trimEnd()) ? '  ' : '';
    return { status: 'incomplete', indent: indent + opens };
  }

  /** `complete_request`: cursor positions are in Unicode code points (protocol 5.2+). */
  complete(code: string, cursorPos: number) {
    const offset = codePointsToUtf16(code, cursorPos);
    const r = this.checker.complete(code, offset);
    return {
      matches: r.matches,
      cursorStart: utf16ToCodePoints(code, r.start),
      cursorEnd: utf16ToCodePoints(code, r.end),
      metadata: { _jupyter_types_experimental: r.entries.slice(0, 200).map((e) => ({ text: e.name, type: e.kind, start: utf16ToCodePoints(code, r.start), end: utf16ToCodePoints(code, r.end) })) },
    };
  }

  inspect(code: string, cursorPos: number) {
    const info = this.checker.inspect(code, codePointsToUtf16(code, cursorPos));
    if (!info) return { found: false, data: {} };
    const text = info.documentation ? `${info.signature}\n\n${info.documentation}` : info.signature;
    return { found: true, data: { 'text/plain': text, 'text/markdown': `\`\`\`typescript\n${info.signature}\n\`\`\`${info.documentation ? `\n\n${info.documentation}` : ''}` } };
  }
}

export function codePointsToUtf16(s: string, cp: number): number {
  let i = 0;
  let n = 0;
  while (i < s.length && n < cp) {
    const c = s.codePointAt(i)!;
    i += c > 0xffff ? 2 : 1;
    n++;
  }
  return i;
}
export function utf16ToCodePoints(s: string, off: number): number {
  return [...s.slice(0, off)].length;
}

export function kernelPackageRoot(fromDir: string): string {
  // dist/kernelWorker.js → package root; kernel/executor/*.ts (tests) → package root
  return path.basename(fromDir) === 'dist' ? path.dirname(fromDir) : path.resolve(fromDir, '..', '..');
}
