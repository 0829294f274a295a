/**
 * Entry point: creates each contribution as its own disposable and hands it to VS Code. No logic.
 */
import * as vscode from 'vscode';
import { TSNB_NOTEBOOK_TYPE, TSNB_SERIALIZER_OPTIONS, TsnbSerializer } from './serializer';
import { TransferLabController } from './controller';
import { KernelLanguageFeatures } from './languageFeatures';
import { KernelStatusItem } from './status';
import { registerFigureExport } from './figureExport';
import { VariablesView } from './variablesView';
import { NotebookTypeChecker } from './typeChecking';
import { registerExportHtml } from './exportHtml';
import { JupyterServers, remoteLauncher, serverControllerId, serverLabel } from './remoteServers';
import { remoteTarget } from './controller';
import { JupyterServer } from '../client/jupyterServer';

/** What `activate` returns: the extension's API (`vscode.extensions.getExtension(id).exports`), used by tests. */
export interface TransferLabApi {
  readonly controller: TransferLabController;
  readonly servers: JupyterServers;
}

export function activate(context: vscode.ExtensionContext): TransferLabApi {
  const log = vscode.window.createOutputChannel('TransferLab', { log: true });
  const controller = new TransferLabController(context.extensionPath, log);
  const status = new KernelStatusItem(controller);
  const typeChecker = new NotebookTypeChecker(context.extensionPath, log, (nb) => controller.isOurs(nb));
  context.subscriptions.push(
    log,
    vscode.workspace.registerNotebookSerializer(TSNB_NOTEBOOK_TYPE, new TsnbSerializer(), TSNB_SERIALIZER_OPTIONS),
    controller,
    ...controller.registerCommands(),
    typeChecker,
    typeChecker.register(),
    new KernelLanguageFeatures(controller, typeChecker).register(),
    status,
    ...status.registerCommands(),
    ...registerFigureExport(),
    new VariablesView(controller),
    registerExportHtml(),
  );
  // Jupyter Servers: a pair of controllers each, for as long as it is connected.
  const servers = new JupyterServers(context, (options) => new JupyterServer(options), log, () =>
    vscode.commands.executeCommand('markdown.showPreview', vscode.Uri.joinPath(context.extensionUri, 'README.md')),
  );
  const serverTargets = new Map<string, vscode.Disposable>();
  context.subscriptions.push(
    servers,
    ...servers.registerCommands(),
    servers.onDidAdd((entry) => {
      serverTargets.get(entry.url)?.dispose();
      serverTargets.set(entry.url, controller.addTarget(remoteTarget(serverControllerId(entry.url), serverLabel(entry.url), entry.url, remoteLauncher(entry))));
    }),
    servers.onDidRemove((entry) => {
      serverTargets.get(entry.url)?.dispose();
      serverTargets.delete(entry.url);
    }),
  );
  void servers.restore();
  return { controller, servers };
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}
