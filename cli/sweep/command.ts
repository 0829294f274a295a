/**
 * `transferlab sweep`: runs a notebook once per point of a parameter grid, several at a time, on
 * local kernel processes and on Jupyter Servers, and writes each executed notebook, a manifest and
 * a summary into one folder.
 *
 *   transferlab sweep study.tsnb --grid 'seed=[1,2,3],blockSize=[1,4,7]' --kernels 3 --out study.sweep
 *
 * - Parameters are injected as `transferlab run --param` does (a cell after the one tagged
 *   `parameters`); `--param` gives values shared by every run.
 * - Each run gets a fresh kernel on a free slot (grid.ts, pool.ts, slots.ts); a run whose kernel
 *   died is requeued elsewhere, a slot whose kernels do not start is retired.
 * - DIR/runs/KEY-POINT.tsnb is written as each run finishes, with DIR/sweep.json (manifest.ts)
 *   and DIR/summary.tsnb + summary.html (summary.ts); a rerun skips the runs already finished.
 *
 * Exit status: 0 every run finished, 1 a run failed (or none could start), 2 bad usage, 130
 * interrupted with Ctrl-C (finished runs are kept), 143 terminated (SIGTERM).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { serverOption } from '../serverOption';
import type { JsonValue } from '../../kernel/protocol/tsnb';
import { parseCliArgs, type CliOptions } from '../args';
import { FileWriteError, writeFileAtomic } from '../atomicWrite';
import { UsageError } from '../errors';
import { withCliErrors, type CliIo } from '../notebookConvert';
import { RUN_BACKENDS } from '../run/execution';
import { backendOption, timeoutOption } from '../run/command';
import { parseParameters } from '../run/parameters';
import { formatSeconds, type ProgressTerminal } from '../run/progress';
import { readNotebook } from '../run/writing';
import { serializeTsnb } from '../../kernel/protocol/tsnb';
import { describePoint, gridPoints, parseGrid, type GridAxis } from './grid';
import { lockSweepFolder } from './lock';
import { readManifest, runFileExists, writeManifest, type SweepManifest, type SweepRunRecord } from './manifest';
import { RunStatus, runPool, type KernelSlot, type PoolEvent, type RunOutcome, type SweepTask } from './pool';
import { SweepProgress } from './progress';
import { findingsCountsOf, resultsOf } from './results';
import { notebookFingerprint, runFileName, runKey } from './runKey';
import { localSlot, serverSlot, type KernelServer } from './slots';
import { SUMMARY_HTML, SUMMARY_NOTEBOOK, writeSummary, type RowState, type SummaryRow } from './summary';

export const SWEEP_USAGE = `usage: transferlab sweep NOTEBOOK --grid 'name=[v1,v2,…],…' [--kernels N] [--server URL …] [--server-kernels K] [--token-file FILE] [--out DIR] [--backend NAME] [--param name=value …] [--timeout SECONDS] [--retries R] [--quiet]

Runs a notebook once per point of a parameter grid, N runs at a time, each in a fresh kernel, and
writes every executed notebook, sweep.json and a summary (summary.tsnb, summary.html) into DIR.
  --grid SPEC         name=[values] pairs separated by commas, e.g. 'seed=[1,2,3],blockSize=[1,4,7]'
                      (repeatable); values as --param reads them (JSON when valid, else text);
                      every combination runs, the first name varying slowest
  --kernels N         local kernel processes (default 2, or 0 when --server is given)
  --server URL        a Jupyter Server (JupyterHub: https://HOST/user/NAME/) to run on too
                      (repeatable); the token from --token-file, JUPYTER_TOKEN or ?token= in URL
  --server-kernels K  kernels at a time on each server (default 1)
  --token-file FILE   a file holding the servers' token
  --out DIR           where runs and the summary go (default: NOTEBOOK.sweep next to it)
  --backend NAME      compute backend of local kernels: ${RUN_BACKENDS.join(', ')} (default: auto);
                      a server's kernels use their kernelspec's (kernel install --backend)
  --param name=value  a parameter every run gets (repeatable), as transferlab run --param
  --timeout SECONDS   fail a run whose cell runs longer (default: no limit)
  --retries R         rerun a run whose kernel died up to R times, elsewhere (default 2)
  --quiet             no progress on stderr
A rerun into the same DIR skips the runs already finished (same code cells and parameters).
Exit status: 0 every run finished, 1 a run failed, 2 bad usage, 130 interrupted (Ctrl-C;
finished runs are kept), 143 terminated (SIGTERM).
`;

/** The arguments of `transferlab sweep`, parsed. */
export interface SweepArgs {
  readonly input: string;
  readonly axes: readonly GridAxis[];
  /** `--param` values, shared by every run. */
  readonly fixed: Map<string, JsonValue>;
  readonly kernels: number;
  readonly servers: readonly string[];
  readonly serverKernels: number;
  readonly tokenFile: string | undefined;
  readonly out: string;
  readonly backend: string | undefined;
  readonly timeout: number | undefined;
  readonly retries: number;
  readonly quiet: boolean;
}

const SWEEP_OPTIONS = {
  grid: { type: 'string', short: 'g', multiple: true },
  kernels: { type: 'string', short: 'k' },
  server: { type: 'string', multiple: true },
  'server-kernels': { type: 'string' },
  'token-file': { type: 'string' },
  out: { type: 'string', short: 'o' },
  backend: { type: 'string' },
  param: { type: 'string', short: 'p', multiple: true },
  timeout: { type: 'string' },
  retries: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
} as const satisfies CliOptions;

function integer(option: string, text: string | undefined, min: number, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${option} ${text}: expected a whole number ≥ ${min}`);
  return n;
}

/** The default output folder: `study.tsnb` → `study.sweep` next to it. */
export function defaultSweepFolder(input: string): string {
  const p = path.parse(input);
  return path.join(p.dir, `${p.name}.sweep`);
}

/**
 * Parses the arguments of `transferlab sweep`; throws a {@link UsageError} when they are wrong.
 * @example
 * parseSweepArgs(['study.tsnb', '--grid', 'seed=[1,2]', '--kernels', '2']); // { input: 'study.tsnb', axes: [{ name: 'seed', values: [1, 2] }], … }
 */
export function parseSweepArgs(args: readonly string[]): SweepArgs | 'help' {
  const parsed = parseCliArgs(args, SWEEP_OPTIONS, { maxPositionals: 1, tooManyHint: 'one notebook at a time' });
  if (parsed.help) return 'help';
  const { values } = parsed;
  const input = parsed.positionals[0];
  if (input === undefined) throw new UsageError('which notebook? give a .tsnb or .ipynb file');
  const fixed = parseParameters(values.param);
  if (values.grid.length === 0) throw new UsageError("--grid is missing: say which parameters take which values, e.g. --grid 'seed=[1,2,3]'");
  const axes = parseGrid(values.grid, new Set(fixed.keys()));
  const backend = backendOption(values.backend);
  const timeout = timeoutOption(values.timeout);
  const servers = values.server;
  const kernels = integer('kernels', values.kernels, 0, servers.length > 0 ? 0 : 2);
  const serverKernels = integer('server-kernels', values['server-kernels'], 1, 1);
  if (values['server-kernels'] !== undefined && servers.length === 0) throw new UsageError('--server-kernels needs a --server');
  if (values['token-file'] !== undefined && servers.length === 0) throw new UsageError('--token-file needs a --server');
  if (kernels === 0 && servers.length === 0) throw new UsageError('--kernels 0 and no --server: nowhere to run');
  return {
    input,
    axes,
    fixed,
    kernels,
    servers,
    serverKernels,
    tokenFile: values['token-file'],
    out: values.out ?? defaultSweepFolder(input),
    backend,
    timeout,
    retries: integer('retries', values.retries, 0, 2),
    quiet: values.quiet,
  };
}

/** A Jupyter Server as the sweep uses it: kernels, a check before the sweep, and its token taken out of text. */
export interface SweepServer extends KernelServer {
  /** Throws, with a message saying what to do, when the server cannot run TransferLab kernels. */
  checkKernelspec?(name?: string): Promise<unknown>;
  /** Replaces the token wherever it occurs in `text`. */
  redact(text: string): string;
}

export interface SweepCommandOptions {
  /** The progress terminal; default: process.stderr. */
  readonly terminal?: ProgressTerminal;
  /** Handle Ctrl-C (true for the real command line). */
  readonly handleSigint?: boolean;
  /** Aborting it stops the sweep as Ctrl-C does (for tests and embedders). */
  readonly signal?: AbortSignal;
  /** Everything the pool reports (tests kill a kernel from here). */
  readonly onPoolEvent?: (event: PoolEvent) => void;
  /** Connects to `--server URL` (default: cli/serverOption.ts, a client/jupyterServer.ts `JupyterServer`). */
  readonly connectServer?: (url: string, tokenFile: string | undefined) => SweepServer;
  /** The local kernels' script (default: the package's dist/kernel.js). */
  readonly kernelScript?: string;
}


const processIo: CliIo = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
};

function record(parameters: ReadonlyMap<string, JsonValue>): { [name: string]: JsonValue } {
  const o: { [name: string]: JsonValue } = {};
  for (const [k, v] of parameters) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  return o;
}

/**
 * `transferlab sweep …`: returns the exit status.
 * @example
 * process.exitCode = await runSweep(['study.tsnb', '--grid', 'seed=[1,2,3]', '--kernels', '3']);
 */
export function runSweep(args: string[], io: CliIo = processIo, options: SweepCommandOptions = {}): Promise<number> {
  return withCliErrors('sweep', SWEEP_USAGE, io, async () => {
    const parsed = parseSweepArgs(args);
    if (parsed === 'help') {
      io.stdout(SWEEP_USAGE);
      return 0;
    }
    return sweep(parsed, io, options);
  });
}

async function sweep(spec: SweepArgs, io: CliIo, options: SweepCommandOptions): Promise<number> {
  const warned = new Set<string>();
  const warn = (t: string) => {
    if (warned.has(t)) return;
    warned.add(t);
    io.stderr(`transferlab sweep: warning: ${t}\n`);
  };
  const notebook = await readNotebook(spec.input, warn);
  const notebookName = path.basename(spec.input);
  const cwd = path.dirname(path.resolve(spec.input));

  // Where to run: servers first checked, so that a wrong token or URL is said once, up front.
  const connect = options.connectServer ?? serverOption;
  const servers = spec.servers.map((url) => connect(url, spec.tokenFile));
  const redact = (text: string) => servers.reduce((t, s) => s.redact(t), text);
  const slots: KernelSlot[] = [];
  for (let n = 1; n <= spec.kernels; n++) slots.push(localSlot(n, { cwd, ...(spec.backend !== undefined ? { backend: spec.backend } : {}), ...(options.kernelScript ? { kernelScript: options.kernelScript } : {}) }));
  for (const server of servers) {
    try {
      await server.checkKernelspec?.('transferlab');
    } catch (e) {
      warn(`${server.url}: ${redact(e instanceof Error ? e.message : String(e))}; the sweep does not use it`);
      continue;
    }
    for (let n = 1; n <= spec.serverKernels; n++) slots.push(serverSlot(server, n));
  }
  if (slots.length === 0) {
    io.stderr('transferlab sweep: no kernel slot is left to run on (see the warnings above)\n');
    return 1;
  }

  // The runs, and those an earlier sweep into this folder finished.
  const fingerprint = notebookFingerprint(notebook);
  const points = gridPoints(spec.axes);
  const tasks: SweepTask[] = points.map((point) => {
    const parameters = new Map([...spec.fixed, ...point]);
    return { key: runKey(fingerprint, parameters, spec.backend), point, parameters };
  });
  const dir = spec.out;
  await fs.mkdir(path.join(dir, 'runs'), { recursive: true }).catch((e: unknown) => {
    throw new FileWriteError(path.join(dir, 'runs'), e);
  });
  // One sweep at a time in a folder (./lock.ts): a second one is refused, naming the first.
  const lock = await lockSweepFolder(dir);
  try {
    const manifest: SweepManifest = await readManifest(dir, notebookName);
    manifest.notebook = notebookName;
    const earlier = new Set<string>();
    for (const t of tasks) {
      const rec = manifest.runs[t.key];
      if (rec?.status === 'ok' && (await runFileExists(dir, rec))) earlier.add(t.key);
    }
    const toRun = tasks.filter((t) => !earlier.has(t.key));
    const state = new Map<string, RowState>(toRun.map((t) => [t.key, 'queued']));

    // Files are written one at a time, in the order runs finish.
    let writing: Promise<void> = Promise.resolve();
    const summaryRows = (): SummaryRow[] =>
      tasks.map((t) => {
        const rec = manifest.runs[t.key];
        const s = state.get(t.key);
        if (rec !== undefined && (earlier.has(t.key) || s === undefined)) return { point: t.point, record: rec, ...(earlier.has(t.key) ? { earlier: true } : {}) };
        return { point: t.point, state: s ?? 'queued' };
      });
    const writeSummaryNow = () => writeSummary(dir, { notebook: notebookName, axes: spec.axes, fixed: spec.fixed, rows: summaryRows() });
    const enqueueWrite = (work: () => Promise<void>): Promise<void> => {
      writing = writing.then(work);
      return writing;
    };

    await writeManifest(dir, manifest);
    await writeSummaryNow();
    if (earlier.size > 0) io.stderr(`transferlab sweep: ${earlier.size} of ${tasks.length} runs finished earlier in ${dir}; skipping them\n`);

    const terminal: ProgressTerminal = options.terminal ?? { write: (t) => io.stderr(t), isTTY: false };
    const progress = spec.quiet ? undefined : new SweepProgress(terminal, tasks.length, earlier.size);
    const controller = new AbortController();
    const onOuterAbort = () => controller.abort();
    options.signal?.addEventListener('abort', onOuterAbort);
    if (options.signal?.aborted) controller.abort();
    let sigints = 0;
    const onSigint = () => {
      sigints++;
      if (sigints > 1) {
        lock.releaseSync();
        process.exit(130);
      }
      io.stderr('\ntransferlab sweep: interrupting the running runs; finished runs are kept (Ctrl-C again to quit at once)\n');
      controller.abort();
    };
    if (options.handleSigint) process.on('SIGINT', onSigint);

    const onFinished = (task: SweepTask, outcome: RunOutcome): Promise<void> =>
      enqueueWrite(async () => {
        if (outcome.status === RunStatus.interrupted) {
          state.set(task.key, 'interrupted');
          await writeSummaryNow();
          return;
        }
        state.delete(task.key);
        const result = outcome.result;
        let file: string | undefined;
        if (result !== undefined) {
          file = path.join('runs', runFileName(task.key, task.point));
          await writeFileAtomic(path.join(dir, file), serializeTsnb(result.notebook));
        }
        const findings = result ? findingsCountsOf(result.notebook) : undefined;
        const rec: SweepRunRecord = {
          point: record(task.point),
          parameters: record(task.parameters),
          status: outcome.status === RunStatus.ok ? 'ok' : 'failed',
          ...(file !== undefined ? { file } : {}),
          results: result ? resultsOf(result.notebook) : {},
          ...(findings !== undefined ? { findings } : {}),
          ...(outcome.slot ? { where: outcome.slot.where } : {}),
          ...(result ? { seconds: Math.round(result.seconds * 10) / 10 } : {}),
          attempts: outcome.attempts,
          ...(outcome.error !== undefined ? { error: outcome.error } : {}),
          finished: new Date().toISOString(),
        };
        manifest.runs[task.key] = rec;
        await writeManifest(dir, manifest);
        await writeSummaryNow();
      });

    const started = performance.now();
    let outcomes: Map<string, RunOutcome>;
    try {
      outcomes = await runPool(toRun, slots, {
        notebook,
        cwd,
        ...(spec.timeout !== undefined ? { timeoutSeconds: spec.timeout } : {}),
        retries: spec.retries,
        signal: controller.signal,
        onEvent: (e) => {
          if (e.type === 'run-started') state.set(e.task.key, 'running');
          if (e.type === 'run-requeued') state.set(e.task.key, 'queued');
          progress?.onEvent(e);
          options.onPoolEvent?.(e);
        },
        onFinished,
        onWarning: warn,
        redact,
      });
    } finally {
      progress?.finish();
      if (options.handleSigint) process.off('SIGINT', onSigint);
      options.signal?.removeEventListener('abort', onOuterAbort);
    }
    await writing;
    for (const t of toRun) if (!outcomes.has(t.key) || outcomes.get(t.key)!.status === RunStatus.interrupted) state.set(t.key, 'interrupted');
    await writeSummaryNow();

    const list = [...outcomes.values()];
    const ok = list.filter((o) => o.status === RunStatus.ok).length;
    const failed = tasks.filter((t) => outcomes.get(t.key)?.status === RunStatus.failed);
    const interrupted = toRun.length - ok - failed.length;
    const counts = [`${ok} ran`, `${failed.length} failed`, ...(earlier.size > 0 ? [`${earlier.size} skipped (finished earlier)`] : []), ...(interrupted > 0 ? [`${interrupted} interrupted`] : [])].join(', ');
    const wrote = `${path.join(dir, SUMMARY_NOTEBOOK)} and ${path.join(dir, SUMMARY_HTML)}`;
    for (const t of failed) io.stderr(`transferlab sweep: ${describePoint(t.point) || 'the run'} failed: ${outcomes.get(t.key)?.error ?? ''}\n`);
    const line = `${tasks.length} run${tasks.length === 1 ? '' : 's'}: ${counts} in ${formatSeconds((performance.now() - started) / 1000)}; wrote ${wrote}\n`;
    if (controller.signal.aborted) {
      io.stderr(`transferlab sweep: interrupted; ${line}`);
      return 130;
    }
    if (failed.length > 0) {
      io.stderr(`transferlab sweep: ${line}`);
      return 1;
    }
    io.stdout(line);
    return 0;
  } finally {
    await lock.release();
  }
}
