/**
 * `transferlab demo`: runs the flagship sample notebook (sample-notebooks/flagship.tsnb) with its
 * default parameters on the CPU backend and writes the executed notebook and an HTML report.
 *
 *   transferlab demo [--out DIR] [--backend NAME] [--param name=value …]
 *
 * Writes DIR/flagship.executed.tsnb and DIR/flagship.html (DIR default: ./transferlab-demo). The
 * kernel runs in DIR, so anything the notebook writes lands there, never in the package.
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import type { CliIo } from './notebookConvert';
import { withCliErrors } from './notebookConvert';
import { parseCliArgs, type CliOptions } from './args';
import { UsageError } from './errors';
import { RUN_BACKENDS, parseParameters, runNotebookFile, type RunCommandOptions } from './run';

/** The compute backend of the demo unless `--backend` says otherwise: the embedded CPU backend. */
export const DEMO_BACKEND = 'wasm';
/** Where the demo writes unless `--out` says otherwise (relative to the current folder). */
export const DEMO_DIR = 'transferlab-demo';

export const DEMO_USAGE = `usage: transferlab demo [--out DIR] [--backend NAME] [--param name=value …]

Runs the flagship notebook (pre-training, transfer P-T vs RI-T, block shuffling, CKA, parameter
distances, interpolation, module criticality, checkpoints) with its default parameters and writes
DIR/flagship.executed.tsnb and DIR/flagship.html (open it in a browser).
  --out DIR          output folder (default: ./${DEMO_DIR})
  --backend NAME     ${RUN_BACKENDS.join(', ')} (default: ${DEMO_BACKEND}, the CPU backend)
  --param name=value override a parameter of the notebook (repeatable)
`;

const DEMO_OPTIONS = {
  out: { type: 'string', short: 'o' },
  backend: { type: 'string' },
  param: { type: 'string', short: 'p', multiple: true },
} as const satisfies CliOptions;

/** The flagship notebook shipped with the package. */
export function flagshipPath(): string {
  const candidates = [path.resolve(__dirname, '..', 'sample-notebooks', 'flagship.tsnb'), path.resolve(__dirname, '..', '..', 'sample-notebooks', 'flagship.tsnb')];
  return candidates.find((c) => existsSync(c)) ?? candidates[0]!;
}

/**
 * `transferlab demo …`: returns the exit status.
 * @example
 * process.exitCode = await runDemo(['--out', 'demo']);
 */
export function runDemo(args: string[], io: CliIo, options: RunCommandOptions = {}): Promise<number> {
  return withCliErrors('demo', DEMO_USAGE, io, async () => {
    const parsed = parseCliArgs(args, DEMO_OPTIONS, { maxPositionals: 0 });
    if (parsed.help) {
      io.stdout(DEMO_USAGE);
      return 0;
    }
    const { out = DEMO_DIR, backend = DEMO_BACKEND, param: params } = parsed.values;
    if (!RUN_BACKENDS.includes(backend)) throw new UsageError(`--backend ${backend}: expected one of ${RUN_BACKENDS.join(', ')}`);
    const parameters = parseParameters(params);
    const dir = path.resolve(out);
    await fs.mkdir(dir, { recursive: true });
    const notebook = path.join(dir, 'flagship.executed.tsnb');
    const html = path.join(dir, 'flagship.html');
    io.stderr(`transferlab demo: running the flagship notebook on ${backend} (a few minutes on 2 CPU cores)\n`);
    const status = await runNotebookFile(io, 'demo', { input: flagshipPath(), out: notebook, html, backend, parameters, quiet: false, cwd: dir }, options);
    const shown = (f: string) => {
      const r = path.relative(process.cwd(), f);
      return r !== '' && !r.startsWith('..') && !path.isAbsolute(r) ? r : f;
    };
    if (status === 0) io.stdout(`open ${shown(html)} in a browser, or ${shown(notebook)} in VS Code\n`);
    return status;
  });
}
