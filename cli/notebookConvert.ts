/**
 * `transferlab import` and `transferlab export`: notebooks between .tsnb, .ipynb and a standalone
 * HTML report.
 *
 *   transferlab import analysis.ipynb [--out analysis.tsnb]
 *   transferlab export analysis.tsnb --to ipynb|html [--out FILE | --out -] [--no-outputs]
 *
 * Exit status: 0 done, 1 the input could not be read or converted (the message names the file and
 * the position: line and column for JSON errors, the field path for schema errors), 2 bad usage.
 * Output files are replaced atomically and only once everything converted: a failed run leaves an
 * existing output untouched. The output is never the input (under any name: another spelling, a
 * symbolic or hard link) and is written only as a regular file (a device, FIFO, socket or folder
 * is refused, see atomicWrite.ts).
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { ipynbToTsnb, tsnbToIpynb } from '../kernel/protocol/ipynb';
import { NotebookFileError, decodeNotebookBytes, parseTsnb, serializeTsnb, type TsnbNotebook } from '../kernel/protocol/tsnb';
import { parseCliArgs, type CliOptions } from './args';
import { FileWriteError, isSameFile, writeFileAtomic } from './atomicWrite';
import { notebookToHtml } from './htmlReport';
import { FolderInUseError, InputError, MissingBuildError, UsageError } from './errors';

export { InputError, MissingBuildError, UsageError };

/** Where the commands write; tests pass their own. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

const processIo: CliIo = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
};

export const IMPORT_USAGE = `usage: transferlab import NOTEBOOK.ipynb [--out NOTEBOOK.tsnb]

Converts a Jupyter notebook (nbformat 4) to a TransferLab notebook, outputs included.
  --out FILE   where to write (default: the input with .tsnb instead of .ipynb)
`;

export const EXPORT_USAGE = `usage: transferlab export NOTEBOOK.tsnb|NOTEBOOK.ipynb --to ipynb|html [--out FILE] [--no-outputs] [--no-code]

Converts a TransferLab notebook to a Jupyter notebook (nbformat 4.5) or a standalone HTML report
with its charts drawn (opens offline, no VS Code needed); a Jupyter notebook to an HTML report.
  --to FORMAT    ipynb or html (default: from the --out extension)
  --out FILE     where to write (default: the input with .ipynb or .html); - writes to stdout
  --no-outputs   leave cell outputs out
  --no-code      leave code out of the HTML report (its outputs stay)
`;

const IMPORT_OPTIONS = { out: { type: 'string', short: 'o' } } as const satisfies CliOptions;
const EXPORT_OPTIONS = { ...IMPORT_OPTIONS, to: { type: 'string' }, 'no-outputs': { type: 'boolean' }, 'no-code': { type: 'boolean' } } as const satisfies CliOptions;
/** Both commands convert one notebook. */
const ONE_NOTEBOOK = { maxPositionals: 1, tooManyHint: 'one notebook at a time' } as const;

function replaceExtension(file: string, ext: string): string {
  const parsed = path.parse(file);
  return path.join(parsed.dir, `${parsed.name}${ext}`);
}

async function readInput(file: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder' : (e as Error).message;
    throw new InputError(file, why, e);
  }
  return decodeNotebookBytes(bytes, file);
}

/** Exit status of a command body, with usage and file errors printed (import, export, run, demo). */
export async function withCliErrors(command: string, usage: string, io: CliIo, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`transferlab ${command}: ${e.message}\n\n${usage}`);
      return 2;
    }
    if (e instanceof NotebookFileError || e instanceof InputError || e instanceof FileWriteError || e instanceof MissingBuildError || e instanceof FolderInUseError) {
      io.stderr(`transferlab ${command}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

/**
 * `transferlab import x.ipynb [--out y.tsnb]`: returns the exit status.
 * @example
 * process.exitCode = await runImport(['analysis.ipynb', '--out', 'analysis.tsnb']);
 */
export function runImport(args: string[], io: CliIo = processIo): Promise<number> {
  return withCliErrors('import', IMPORT_USAGE, io, async () => {
    const { help, values, positionals } = parseCliArgs(args, IMPORT_OPTIONS, ONE_NOTEBOOK);
    if (help) {
      io.stdout(IMPORT_USAGE);
      return 0;
    }
    const input = positionals[0];
    if (input === undefined) throw new UsageError('which notebook? give an .ipynb file');
    const out = values.out ?? replaceExtension(input, '.tsnb');
    if (out !== '-' && (await isSameFile(input, out))) throw new UsageError(`--out ${out} is the input file; choose another name`);
    const { notebook, warnings } = ipynbToTsnb(await readInput(input), input);
    const text = serializeTsnb(notebook);
    if (out === '-') io.stdout(text);
    else await writeFileAtomic(out, text);
    for (const w of warnings) io.stderr(`transferlab import: warning: ${w}\n`);
    if (out !== '-') io.stdout(`wrote ${out} (${summarizeNotebook(notebook)})\n`);
    return 0;
  });
}

/** A Jupyter notebook read for export, its conversion warnings printed. */
function importIpynb(text: string, file: string, io: CliIo): TsnbNotebook {
  const { notebook, warnings } = ipynbToTsnb(text, file);
  for (const w of warnings) io.stderr(`transferlab export: warning: ${w}\n`);
  return notebook;
}

function summarizeNotebook(nb: TsnbNotebook): string {
  const outputs = nb.cells.reduce((n, c) => n + (c.cell_type === 'code' ? c.outputs.length : 0), 0);
  return `${nb.cells.length} cell${nb.cells.length === 1 ? '' : 's'}, ${outputs} output${outputs === 1 ? '' : 's'}`;
}

/** Finds the HTML report's chart script next to the running code (dist/) or in the source tree. */
export function findReportScript(): string {
  const candidates = [path.join(__dirname, 'renderers', 'report.js'), path.join(__dirname, '..', 'dist', 'renderers', 'report.js')];
  const found = candidates.find((c) => existsSync(c));
  if (found === undefined) throw new MissingBuildError(candidates);
  return found;
}

/** KaTeX's stylesheet with inlined fonts (dist/katex.css) next to the report script, if built. */
export async function readKatexCss(): Promise<string | undefined> {
  const file = path.join(path.dirname(findReportScript()), '..', 'katex.css');
  return existsSync(file) ? fs.readFile(file, 'utf8') : undefined;
}

/**
 * `transferlab export y.tsnb --to ipynb|html [--out file] [--no-outputs]`: returns the exit status.
 * @example
 * process.exitCode = await runExport(['analysis.tsnb', '--to', 'html']);
 */
export function runExport(args: string[], io: CliIo = processIo): Promise<number> {
  return withCliErrors('export', EXPORT_USAGE, io, async () => {
    const { help, values, positionals } = parseCliArgs(args, EXPORT_OPTIONS, ONE_NOTEBOOK);
    if (help) {
      io.stdout(EXPORT_USAGE);
      return 0;
    }
    const input = positionals[0];
    if (input === undefined) throw new UsageError('which notebook? give a .tsnb or .ipynb file');
    const fromIpynb = path.extname(input).toLowerCase() === '.ipynb';
    const outOption = values.out;
    let to = values.to;
    if (to === undefined && outOption !== undefined) {
      const ext = path.extname(outOption).toLowerCase();
      to = ext === '.ipynb' ? 'ipynb' : ext === '.html' || ext === '.htm' ? 'html' : undefined;
    }
    if (to === undefined) throw new UsageError('--to is missing: ipynb or html');
    if (to !== 'ipynb' && to !== 'html') throw new UsageError(`--to ${to}: expected ipynb or html`);
    if (fromIpynb && to === 'ipynb') throw new UsageError(`${input} is a Jupyter notebook already: --to html makes its report`);
    if (values['no-code'] && to !== 'html') throw new UsageError('--no-code applies to --to html');
    const out = outOption ?? replaceExtension(input, `.${to}`);
    if (out !== '-' && (await isSameFile(input, out))) throw new UsageError(`--out ${out} is the input file; choose another name`);
    const withOutputs = !values['no-outputs'];
    const notebook = fromIpynb ? importIpynb(await readInput(input), input, io) : parseTsnb(await readInput(input), { file: input });
    let text: string;
    if (to === 'ipynb') {
      const converted = tsnbToIpynb(notebook, { outputs: withOutputs });
      for (const w of converted.warnings) io.stderr(`transferlab export: warning: ${w}\n`);
      text = converted.notebook;
    } else {
      const nb = withOutputs ? notebook : parseTsnb(serializeTsnb(notebook, { outputs: false }));
      const script = await fs.readFile(findReportScript(), 'utf8');
      const mathCss = await readKatexCss();
      text = notebookToHtml(nb, { script, source: path.basename(input), code: !values['no-code'], ...(mathCss !== undefined ? { mathCss } : {}) });
    }
    if (out === '-') {
      io.stdout(text);
      return 0;
    }
    await writeFileAtomic(out, text);
    io.stdout(`wrote ${out} (${summarizeNotebook(notebook)})\n`);
    return 0;
  });
}
