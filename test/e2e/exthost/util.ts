/** Helpers shared by the extension-host suites. */
import * as vscode from 'vscode';
import * as path from 'node:path';

export const EXTENSION_ID = 'transferlab.transferlab';

/** A file of the workspace code-server opened. */
export function workspaceFile(name: string): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) throw new Error('no workspace folder is open');
  return vscode.Uri.file(path.join(folder.uri.fsPath, name));
}
