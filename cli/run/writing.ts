/**
 * Reading and writing the notebooks of a run: .tsnb or .ipynb by the file's extension, the default
 * output name, and the HTML report.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ipynbToTsnb, tsnbToIpynb } from '../../kernel/protocol/ipynb';
import { decodeNotebookBytes, parseTsnb, serializeTsnb, type TsnbNotebook } from '../../kernel/protocol/tsnb';
import { writeFileAtomic } from '../atomicWrite';
import { InputError } from '../errors';
import { notebookToHtml, type RunRecord } from '../htmlReport';
import { findReportScript, readKatexCss } from '../notebookConvert';

/** Whether a file name ends in .ipynb (any case). */
export function isIpynb(file: string): boolean {
  return path.extname(file).toLowerCase() === '.ipynb';
}

/** The default output: `x.tsnb` → `x.executed.tsnb`, `x.ipynb` → `x.executed.ipynb`. */
export function defaultOutput(input: string): string {
  const p = path.parse(input);
  return path.join(p.dir, `${p.name}.executed${isIpynb(input) ? '.ipynb' : '.tsnb'}`);
}

/** Reads a .tsnb, or an .ipynb converted to one (warnings go to `warn`). */
export async function readNotebook(file: string, warn: (text: string) => void): Promise<TsnbNotebook> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(file, code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder' : (e as Error).message, e);
  }
  const text = decodeNotebookBytes(bytes, file);
  if (!isIpynb(file)) return parseTsnb(text, { file });
  const { notebook, warnings } = ipynbToTsnb(text, file);
  for (const w of warnings) warn(w);
  return notebook;
}

/** Writes the executed notebook as .tsnb, or as .ipynb when the file name ends so. */
export async function writeNotebook(file: string, nb: TsnbNotebook, warn: (text: string) => void): Promise<void> {
  if (isIpynb(file)) {
    const { notebook, warnings } = tsnbToIpynb(nb);
    for (const w of warnings) warn(w);
    await writeFileAtomic(file, notebook);
  } else {
    await writeFileAtomic(file, serializeTsnb(nb));
  }
}

/** Writes the HTML report of a notebook (charts drawn by the report bundle), with the run at its top when given. */
export async function writeHtmlReport(file: string, nb: TsnbNotebook, source: string, options: { readonly run?: RunRecord; readonly code?: boolean } = {}): Promise<void> {
  const script = await fs.readFile(findReportScript(), 'utf8');
  const mathCss = await readKatexCss();
  await writeFileAtomic(file, notebookToHtml(nb, { script, source, ...options, ...(mathCss !== undefined ? { mathCss } : {}) }));
}
