/**
 * `transferlab run`: executes a notebook headlessly through the TransferLab kernel, as nbclient
 * and papermill do for Python notebooks.
 *
 *   transferlab run analysis.tsnb [--out executed.tsnb | --in-place] [--html report.html]
 *                                 [--backend NAME] [--param name=value …] [--timeout SECONDS]
 *
 * - The kernel starts in the notebook's folder, on the backend named by `--backend`.
 * - Parameters go into a new cell tagged `injected-parameters`, right after the cell tagged
 *   `parameters` (a later declaration replaces the earlier one in the kernel). The parameters
 *   cell's type annotations are kept, so a value of the wrong type is a type error naming the cell.
 * - Outputs are collected as nbformat outputs by the reducer the editor uses too
 *   (kernel/protocol/outputs.ts) and written back with execution counts, deterministically.
 * - The input is replaced only with `--in-place`; an `--out` or `--html` that is the input under
 *   any name (another spelling, a symbolic or hard link) is refused. In place, cells that did not
 *   run keep their saved outputs, so a failing run loses nothing it did not redo.
 * - Outputs are regular files only: an `--out` or `--html` that exists as a device, a FIFO, a
 *   socket or a folder is refused before the kernel starts.
 * - A failing cell stops the run: its error is printed (ANSI colours removed), the notebook is
 *   still written with every output up to the error, and the exit status is 1.
 * - Cells tagged `raises-exception` may fail without stopping the run; cells tagged
 *   `skip-execution` are not run (the nbclient conventions).
 *
 * Exit status: 0 every cell ran, 1 a cell failed (or timed out, or the kernel died or could not
 * start, or a file could not be read or written), 2 bad usage, 130 interrupted with Ctrl-C, 143
 * terminated (SIGTERM; the kernel is stopped and its connection file removed, nothing is written).
 */
import path from 'node:path';
import { KernelStartError } from '../../client/errors';
import { JupyterServerError, type JupyterServer } from '../../client/jupyterServer';
import { serverOption } from '../serverOption';
import type { JsonValue } from '../../kernel/protocol/tsnb';
import { parseCliArgs, type CliOptions } from '../args';
import { checkOutputTarget, isSameFile } from '../atomicWrite';
import { FailureKind, UsageError } from '../errors';
import type { RunRecord } from '../htmlReport';
import { withCliErrors, type CliIo } from '../notebookConvert';
import { RUN_BACKENDS, runNotebook, type RunNotebookResult } from './execution';
import { parseParameters } from './parameters';
import { ProgressReporter, formatSeconds, type ProgressTerminal } from './progress';
import { defaultOutput, readNotebook, writeHtmlReport, writeNotebook } from './writing';


export const RUN_USAGE = `usage: transferlab run NOTEBOOK [--out FILE | --in-place] [--html FILE [--no-code]] [--backend NAME] [--param name=value …] [--timeout SECONDS]
                       [--server URL [--token-file FILE] [--server-path PATH]]

Runs every code cell of a notebook (.tsnb or .ipynb) in a fresh TransferLab kernel started in the
notebook's folder, and writes the executed notebook with its outputs.
  --out FILE         where to write (default: NOTEBOOK.executed.tsnb next to the input; .ipynb
                     output when FILE ends in .ipynb); never the input itself, under any name
  --in-place         write the executed notebook over the input; cells that do not run (after
                     a failure, skip-execution) keep the outputs they had
  --html FILE        also write a standalone HTML report with the charts drawn
  --no-code          leave code out of the HTML report (outputs only)
  --backend NAME     compute backend of the kernel: ${RUN_BACKENDS.join(', ')} (default: auto)
  --param name=value a parameter (repeatable), injected after the cell tagged "parameters";
                     the value is JSON when valid (3, [0,1], true), otherwise a string
  --timeout SECONDS  interrupt and fail a cell that runs longer (default: no limit)
  --quiet            no progress on stderr
  --server URL       run on a new kernel of this Jupyter Server (JupyterHub: its /user/NAME/
                     URL) instead of a local process; same outputs and exit status
  --token-file FILE  the server's token is the file's first line (default: $JUPYTER_TOKEN)
  --server-path PATH the notebook's path on the server: its kernel starts in that folder
Outputs are written only as regular files: an existing device, FIFO, socket or folder is refused.
Exit status: 0 all cells ran, 1 a cell failed (the notebook is still written), 2 bad usage,
130 interrupted (Ctrl-C), 143 terminated (SIGTERM: the kernel is stopped, nothing is written).
`;

export interface RunCommandOptions {
  /** The progress terminal; default: process.stderr. */
  readonly terminal?: ProgressTerminal;
  /** Handle Ctrl-C (default true for the real command line). */
  readonly handleSigint?: boolean;
}

/** The arguments of `transferlab run`, parsed. */
export interface RunArgs {
  input: string;
  out: string | undefined;
  html: string | undefined;
  /** `--no-code`: the HTML report shows outputs only (present only when given). */
  noCode?: true;
  backend: string | undefined;
  parameters: Map<string, JsonValue>;
  timeout: number | undefined;
  quiet: boolean;
  /** `--in-place`: the input is the output (present only when given). */
  inPlace?: true;
  /** `--server URL`: run on a kernel of this Jupyter Server (present only when given). */
  server?: string;
  /** `--token-file FILE`: the server's token is its first line (else JUPYTER_TOKEN). */
  tokenFile?: string;
  /** `--server-path PATH`: the notebook's path on the server; its kernel starts in that folder. */
  serverPath?: string;
}

/** The options of `transferlab run`. */
const RUN_OPTIONS = {
  out: { type: 'string', short: 'o' },
  html: { type: 'string' },
  'no-code': { type: 'boolean' },
  backend: { type: 'string' },
  param: { type: 'string', short: 'p', multiple: true },
  timeout: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  'in-place': { type: 'boolean' },
  server: { type: 'string' },
  'token-file': { type: 'string' },
  'server-path': { type: 'string' },
} as const satisfies CliOptions;

/** `--backend NAME` (of `run` and `sweep`): one of {@link RUN_BACKENDS}, else a {@link UsageError}. */
export function backendOption(value: string | undefined): string | undefined {
  if (value !== undefined && !RUN_BACKENDS.includes(value)) throw new UsageError(`--backend ${value}: expected one of ${RUN_BACKENDS.join(', ')}`);
  return value;
}

/** `--timeout SECONDS` (of `run` and `sweep`): a positive number, else a {@link UsageError}. */
export function timeoutOption(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new UsageError(`--timeout ${value}: expected a positive number of seconds`);
  return seconds;
}

/**
 * Parses the arguments of `transferlab run`; throws a {@link UsageError} when they are wrong.
 * @example
 * parseRunArgs(['a.tsnb', '-p', 'epochs=1', '--backend=cpu']); // { input: 'a.tsnb', backend: 'cpu', … }
 */
export function parseRunArgs(args: readonly string[]): RunArgs | 'help' {
  const parsed = parseCliArgs(args, RUN_OPTIONS, { maxPositionals: 1, tooManyHint: 'one notebook at a time' });
  if (parsed.help) return 'help';
  const { values } = parsed;
  const input = parsed.positionals[0];
  if (input === undefined) throw new UsageError('which notebook? give a .tsnb or .ipynb file');
  const backend = backendOption(values.backend);
  const timeout = timeoutOption(values.timeout);
  if (values.server === undefined && (values['token-file'] !== undefined || values['server-path'] !== undefined)) {
    throw new UsageError(`${values['token-file'] !== undefined ? '--token-file' : '--server-path'} goes with --server URL`);
  }
  if (values.server !== undefined && backend !== undefined) {
    throw new UsageError('--backend does not apply with --server: the kernel on the server computes on the backend its kernelspec sets (`transferlab kernel install --backend NAME` on the server)');
  }
  return {
    input,
    out: values.out,
    html: values.html,
    backend,
    parameters: parseParameters(values.param),
    timeout,
    quiet: values.quiet,
    ...(values['in-place'] ? { inPlace: true as const } : {}),
    ...(values['no-code'] ? { noCode: true as const } : {}),
    ...(values.server !== undefined ? { server: values.server } : {}),
    ...(values['token-file'] !== undefined ? { tokenFile: values['token-file'] } : {}),
    ...(values['server-path'] !== undefined ? { serverPath: values['server-path'] } : {}),
  };
}

/**
 * Runs a notebook file and writes the results: the shared body of `transferlab run` and
 * `transferlab demo`. Returns the exit status (0, 1 or 130). The output paths are checked before
 * the kernel starts (regular files only, see `checkOutputTarget`); with `inPlace`, cells that do
 * not run keep the outputs they had.
 */
export async function runNotebookFile(
  io: CliIo,
  command: string,
  spec: {
    input: string;
    out: string;
    html?: string;
    noCode?: boolean;
    backend?: string;
    parameters: Map<string, JsonValue>;
    timeout?: number;
    quiet: boolean;
    cwd?: string;
    inPlace?: boolean;
    /** Run on a kernel of this Jupyter Server instead of a local process (in the folder of `path` there). */
    server?: { readonly server: JupyterServer; readonly path?: string };
  },
  options: RunCommandOptions = {},
): Promise<number> {
  const warn = (t: string) => io.stderr(`transferlab ${command}: warning: ${t}\n`);
  const notebook = await readNotebook(spec.input, warn);
  await checkOutputTarget(spec.out);
  if (spec.html !== undefined) await checkOutputTarget(spec.html);
  const terminal: ProgressTerminal = options.terminal ?? {
    write: (t) => io.stderr(t),
    isTTY: false,
  };
  const reporter = spec.quiet ? undefined : new ProgressReporter(terminal);
  const controller = new AbortController();
  let sigints = 0;
  const onSigint = () => {
    sigints++;
    if (sigints > 1) process.exit(130);
    io.stderr(`\ntransferlab ${command}: interrupting (Ctrl-C again to quit at once)\n`);
    controller.abort();
  };
  if (options.handleSigint) process.on('SIGINT', onSigint);
  const startedAt = new Date();
  let result: RunNotebookResult;
  const server = spec.server?.server;
  const remotePath = spec.server?.path;
  try {
    result = await runNotebook(notebook, {
      ...(server ? { startKernel: () => server.startKernel(remotePath !== undefined ? { path: remotePath } : {}) } : {}),
      cwd: spec.cwd ?? path.dirname(path.resolve(spec.input)),
      ...(spec.backend !== undefined ? { backend: spec.backend } : {}),
      parameters: spec.parameters,
      ...(spec.timeout !== undefined ? { timeoutSeconds: spec.timeout } : {}),
      signal: controller.signal,
      onWarning: warn,
      ...(reporter ? { onEvent: reporter.onEvent } : {}),
      ...(spec.inPlace ? { keepOutputsOfCellsNotRun: true } : {}),
    });
  } catch (e) {
    if (e instanceof KernelStartError || e instanceof JupyterServerError) {
      const text = `transferlab ${command}: the kernel did not start: ${e.message}\n`;
      io.stderr(server ? server.redact(text) : text);
      return 1;
    }
    throw e;
  } finally {
    reporter?.finish();
    if (options.handleSigint) process.off('SIGINT', onSigint);
  }
  await writeNotebook(spec.out, result.notebook, warn);
  if (spec.html !== undefined) {
    // The run goes at the top of the report (not into the notebook, whose bytes stay the same from run to run).
    const run: RunRecord = {
      date: startedAt.toISOString(),
      seconds: result.seconds,
      ...(result.backend !== undefined ? { backend: result.backend } : result.notebook.metadata.backend !== undefined ? { backend: result.notebook.metadata.backend } : {}),
      parameters: Object.fromEntries(spec.parameters),
      executed: result.executed,
      total: result.total,
    };
    await writeHtmlReport(spec.html, result.notebook, path.basename(spec.input), { run, code: !spec.noCode });
  }
  const wrote = [spec.out, spec.html].filter((f): f is string => f !== undefined).join(' and ');
  if (result.error) {
    io.stderr(`transferlab ${command}: ${result.error.report()}`);
    io.stderr(`transferlab ${command}: ran ${result.executed} of ${result.total} code cells in ${formatSeconds(result.seconds)}; wrote the partial notebook to ${wrote}\n`);
    return result.error.kind === FailureKind.interrupted ? 130 : 1;
  }
  io.stdout(`ran ${result.total} code cell${result.total === 1 ? '' : 's'} in ${formatSeconds(result.seconds)}${result.backend ? ` on ${result.backend}` : ''}; wrote ${wrote}\n`);
  return 0;
}

/** The server of `--server` (cli/serverOption.ts), and `--server-path`. */
function remoteOf(parsed: RunArgs): { server: JupyterServer; path?: string } {
  return { server: serverOption(parsed.server!, parsed.tokenFile), ...(parsed.serverPath !== undefined ? { path: parsed.serverPath } : {}) };
}

const processIo: CliIo = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
};

/**
 * `transferlab run …`: returns the exit status.
 * @example
 * process.exitCode = await runRun(['analysis.tsnb', '--param', 'epochs=1', '--html', 'report.html']);
 */
export function runRun(args: string[], io: CliIo = processIo, options: RunCommandOptions = {}): Promise<number> {
  return withCliErrors('run', RUN_USAGE, io, async () => {
    const parsed = parseRunArgs(args);
    if (parsed === 'help') {
      io.stdout(RUN_USAGE);
      return 0;
    }
    const { input, inPlace } = parsed;
    if (inPlace && parsed.out !== undefined && !(await isSameFile(parsed.out, input))) {
      throw new UsageError(`--in-place writes over ${input}, but --out names another file (${parsed.out}); give one of them`);
    }
    const out = inPlace ? input : (parsed.out ?? defaultOutput(input));
    if (!inPlace && (await isSameFile(out, input))) {
      throw new UsageError(`--out ${out} is the input file ${input}; choose another name, or pass --in-place to replace it`);
    }
    if (parsed.html !== undefined && (await isSameFile(parsed.html, input))) {
      throw new UsageError(`--html ${parsed.html} is the input file; choose another name`);
    }
    if (parsed.html !== undefined && (await isSameFile(parsed.html, out))) {
      throw new UsageError(`--html ${parsed.html} is the output notebook ${out}; choose another name`);
    }
    return runNotebookFile(
      io,
      'run',
      {
        input: parsed.input,
        out,
        ...(parsed.html !== undefined ? { html: parsed.html } : {}),
        ...(parsed.noCode ? { noCode: true } : {}),
        ...(parsed.backend !== undefined ? { backend: parsed.backend } : {}),
        parameters: parsed.parameters,
        ...(parsed.timeout !== undefined ? { timeout: parsed.timeout } : {}),
        quiet: parsed.quiet,
        ...(inPlace ? { inPlace } : {}),
        ...(parsed.server !== undefined ? { server: remoteOf(parsed) } : {}),
      },
      options,
    );
  });
}