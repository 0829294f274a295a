/**
 * The extension's half of the charts' "Save as PNG / SVG" and "Copy" (renderers/common/actions.ts):
 * renderer messaging for each chart renderer; a save asks for a file (next to the notebook, named
 * after the chart) and writes it; a copy the webview could not do puts the SVG text on the
 * clipboard. Messages come from a webview, so they are checked before use.
 */
import * as vscode from 'vscode';
import { CHART_RENDERER_IDS, RendererMessageType, isRendererMessage, type SaveImageMessage } from '../kernel/protocol/rendererMessages';

/** Where a save dialog starts: the notebook's folder, else the first workspace folder. */
function defaultFolder(editor: vscode.NotebookEditor | undefined): vscode.Uri | undefined {
  const nb = editor?.notebook.uri;
  if (nb !== undefined && nb.scheme !== 'untitled') return vscode.Uri.joinPath(nb, '..');
  return vscode.workspace.workspaceFolders?.[0]?.uri;
}

async function save(message: SaveImageMessage, editor: vscode.NotebookEditor | undefined): Promise<void> {
  const folder = defaultFolder(editor);
  const uri = await vscode.window.showSaveDialog({
    title: message.format === 'png' ? 'Save chart as PNG' : 'Save chart as SVG',
    ...(folder !== undefined ? { defaultUri: vscode.Uri.joinPath(folder, message.name) } : {}),
    filters: message.format === 'png' ? { 'PNG image': ['png'] } : { 'SVG image': ['svg'] },
  });
  if (uri === undefined) return;
  const bytes = message.format === 'png' ? Buffer.from(message.data, 'base64') : Buffer.from(message.data, 'utf8');
  await vscode.workspace.fs.writeFile(uri, bytes);
  void vscode.window.setStatusBarMessage(`Saved ${vscode.workspace.asRelativePath(uri)}`, 4000);
}

/**
 * Listens to the chart renderers' messages; dispose to stop. A renderer whose messaging VS Code
 * refuses (it has been seen to refuse an extension run from a development folder) is left without
 * the Save / Copy bar, which the renderer hides when it cannot message (`requiresMessaging:
 * optional`); the extension still activates, and the refusal is logged once per renderer.
 * @example
 * context.subscriptions.push(...registerFigureExport());
 */
export function registerFigureExport(log: (line: string) => void = (line) => console.warn(line)): vscode.Disposable[] {
  const out: vscode.Disposable[] = [];
  for (const id of CHART_RENDERER_IDS) {
    let messaging: vscode.NotebookRendererMessaging;
    try {
      messaging = vscode.notebooks.createRendererMessaging(id);
    } catch (e) {
      log(`TransferLab: no Save / Copy for charts of ${id}: ${e instanceof Error ? e.message : String(e)}`);
      continue;
    }
    out.push(
      messaging.onDidReceiveMessage(({ editor, message }) => {
        if (!isRendererMessage(message)) return;
        const done =
          message.type === RendererMessageType.saveImage
            ? save(message, editor)
            : Promise.resolve(vscode.env.clipboard.writeText(message.svg)).then(() => void vscode.window.setStatusBarMessage('Copied the chart as SVG', 4000));
        done.catch((e: unknown) => void vscode.window.showErrorMessage(`Could not save the chart: ${e instanceof Error ? e.message : String(e)}`));
      }),
    );
  }
  return out;
}
