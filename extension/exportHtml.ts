/**
 * "TransferLab: Export Notebook to HTML": the notebook on screen as the standalone HTML report that
 * `transferlab export --to html` writes (the same code: cli/htmlReport.ts, with the charts drawn by
 * the report bundle and math by KaTeX), with or without its code. The notebook is saved first, so
 * that the report shows what is on screen.
 */
import * as vscode from 'vscode';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { notebookToHtml } from '../cli/htmlReport';
import { findReportScript, readKatexCss } from '../cli/notebookConvert';
import { ipynbToTsnb } from '../kernel/protocol/ipynb';
import { parseTsnb, type TsnbNotebook } from '../kernel/protocol/tsnb';

export const EXPORT_HTML_COMMAND = 'transferlab.exportHtml';

/** The report's file next to the notebook: `analysis.tsnb` → `analysis.html`. */
export function reportUri(notebook: vscode.Uri): vscode.Uri {
  return notebook.with({ path: `${notebook.path.replace(/\.(tsnb|ipynb)$/i, '')}.html` });
}

/** The notebook file as the report reads it (.tsnb, or .ipynb converted). */
function readNotebookText(text: string, file: string): TsnbNotebook {
  return /\.ipynb$/i.test(file) ? ipynbToTsnb(text, file).notebook : parseTsnb(text, { file });
}

/**
 * Writes the HTML report of `notebook` to `target` (`code`: show code cells' source) and returns
 * nothing; throws what reading or writing throws.
 */
export async function exportNotebookToHtml(notebook: vscode.NotebookDocument, target: vscode.Uri, code: boolean): Promise<void> {
  if (notebook.isDirty && !(await notebook.save())) throw new Error('the notebook could not be saved');
  const text = new TextDecoder().decode(await vscode.workspace.fs.readFile(notebook.uri));
  const nb = readNotebookText(text, notebook.uri.fsPath);
  const script = await fs.readFile(findReportScript(), 'utf8');
  const mathCss = await readKatexCss();
  const html = notebookToHtml(nb, { script, source: path.basename(notebook.uri.fsPath), code, ...(mathCss !== undefined ? { mathCss } : {}) });
  await vscode.workspace.fs.writeFile(target, new TextEncoder().encode(html));
}

/** The command: asks with or without code and where, writes, offers to open the report. */
export function registerExportHtml(): vscode.Disposable {
  return vscode.commands.registerCommand(EXPORT_HTML_COMMAND, async (arg?: unknown) => {
    const notebook =
      arg instanceof vscode.Uri ? vscode.workspace.notebookDocuments.find((d) => d.uri.toString() === arg.toString()) : vscode.window.activeNotebookEditor?.notebook;
    if (notebook === undefined || notebook.isUntitled) {
      void vscode.window.showErrorMessage('TransferLab: open a saved notebook to export it to HTML.');
      return;
    }
    const choice = await vscode.window.showQuickPick(
      [
        { label: 'With code', description: 'code cells and their outputs', code: true },
        { label: 'Outputs only', description: 'no code (as transferlab export --no-code)', code: false },
      ],
      { placeHolder: 'Export to HTML: a standalone report, charts drawn, opens offline' },
    );
    if (choice === undefined) return;
    const target = await vscode.window.showSaveDialog({ defaultUri: reportUri(notebook.uri), filters: { HTML: ['html'] }, title: 'Export Notebook to HTML' });
    if (target === undefined) return;
    try {
      await exportNotebookToHtml(notebook, target, choice.code);
    } catch (e) {
      void vscode.window.showErrorMessage(`TransferLab: cannot export to HTML: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    const open = await vscode.window.showInformationMessage(`Exported ${path.basename(target.fsPath)}`, 'Open in Browser');
    if (open !== undefined) await vscode.env.openExternal(target);
  });
}
