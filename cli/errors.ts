/**
 * The failures the `transferlab` command line reports, one class each, with the exit status each
 * leads to. `withCliErrors` (notebookConvert.ts) and `main` turn them into a message on stderr and
 * an exit status; anything else thrown is a bug and propagates. Tell them apart with `instanceof`;
 * each also spells out its `name`.
 */
import { stripVTControlCharacters } from 'node:util';

/**
 * Bad command-line usage: an unknown option, a missing argument or value, a value out of range.
 * Raised while arguments are parsed (import, export, run, demo, kernel install); printed with the
 * command's usage, exit status 2.
 */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * A `--param` argument that is not `name=value` with a valid identifier as the name. Raised by
 * `parseParameters` (run, demo); a usage error, exit status 2.
 */
export class ParameterError extends UsageError {
  constructor(message: string) {
    super(message);
    this.name = 'ParameterError';
  }
}

/**
 * The input file cannot be read (missing, a folder, no permission). Raised when a command reads
 * its notebook; exit status 1, the message naming the file.
 */
export class InputError extends Error {
  constructor(
    readonly file: string,
    why: string,
    cause: unknown,
  ) {
    super(`cannot read ${file}: ${why}`, { cause });
    this.name = 'InputError';
  }
}

/**
 * The report bundle (dist/renderers/report.js) is missing: the package was not built. Raised by
 * `export --to html` and `run --html`; exit status 1 with the command that builds it.
 */
export class MissingBuildError extends Error {
  constructor(readonly searched: readonly string[]) {
    super(`the chart script of the HTML report is missing (looked for ${searched.join(', ')}); run \`npm run build\` first`);
    this.name = 'MissingBuildError';
  }
}

/** What a sweep's lock file (DIR/sweep.lock, cli/sweep/lock.ts) records of the sweep holding it. */
export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  readonly started: string;
}

/**
 * `transferlab sweep`: another sweep holds the output folder (or its lock file cannot be read).
 * Exit status 1, nothing written into the folder; the message names the holder and the lock file.
 */
export class FolderInUseError extends Error {
  constructor(
    /** The output folder. */
    readonly dir: string,
    /** Its lock file, DIR/sweep.lock. */
    readonly lockFile: string,
    readonly holder: LockHolder | undefined,
    why?: string,
  ) {
    super(
      holder
        ? `${dir} is in use by another sweep (pid ${holder.pid} on ${holder.host}, since ${holder.started}); wait for it to finish, or give this one another --out. If that sweep is gone, remove ${lockFile}`
        : `${dir} is in use by another sweep: ${lockFile} exists but ${why ?? 'cannot be read'}; if no sweep is running there, remove it`,
    );
    this.name = 'FolderInUseError';
  }
}

/** How a cell failed. */
export const FailureKind = {
  /** The cell raised an exception (or a TypeScript error). */
  error: 'error',
  /** The cell ran longer than `--timeout` and was interrupted. */
  timeout: 'timeout',
  /** The run was interrupted (Ctrl-C). */
  interrupted: 'interrupted',
  /** The kernel process exited while the cell ran, or stopped answering its heartbeat. */
  died: 'died',
} as const;
export type FailureKind = (typeof FailureKind)[keyof typeof FailureKind];

/**
 * A cell of a headless run failed: it raised an error, ran past the timeout, was interrupted, or
 * its kernel died. Returned by `runNotebook` (which still returns the partial notebook) and
 * printed by `transferlab run`, which then exits with status 1 (130 when interrupted).
 */
export class CellExecutionError extends Error {
  override readonly name = 'CellExecutionError';
  constructor(
    readonly kind: FailureKind,
    /** Index of the failing cell among all cells of the executed notebook (0-based). */
    readonly cellIndex: number,
    /** Its position among the code cells that were to run (1-based), and how many there were. */
    readonly position: number,
    readonly total: number,
    /** The kernel's execution count of the cell, when it got one. */
    readonly executionCount: number | null,
    readonly ename: string,
    readonly evalue: string,
    /** As the kernel sent it (may contain ANSI colour codes). */
    readonly traceback: readonly string[],
  ) {
    super(`cell ${position}/${total}${executionCount !== null ? ` [${executionCount}]` : ''} failed: ${ename}: ${evalue}`);
  }

  /** The error as a person reads it: which cell, then the traceback without colour codes. */
  report(): string {
    const where = `cell ${this.position} of ${this.total} (notebook cell ${this.cellIndex + 1}${this.executionCount !== null ? `, execution count ${this.executionCount}` : ''})`;
    const what =
      this.kind === FailureKind.timeout ? 'timed out' : this.kind === FailureKind.interrupted ? 'was interrupted' : this.kind === FailureKind.died ? 'lost its kernel' : 'failed';
    const body = this.traceback.length > 0 ? this.traceback.map((t) => stripVTControlCharacters(t)).join('\n') : `${this.ename}: ${this.evalue}`;
    const head = stripVTControlCharacters(body).includes(this.evalue) ? '' : `${this.ename}: ${this.evalue}\n`;
    return `${where} ${what}:\n${head}${body}\n`;
  }
}
