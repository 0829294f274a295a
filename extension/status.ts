/**
 * The status-bar item: which backend and device the active notebook's kernel computes on, where
 * (this machine, or the Jupyter Server it runs on: host and base path, never a token), and whether
 * it is busy, dead, or its link to a remote kernel is being retried. Shown while a notebook that
 * runs on TransferLab is the active editor.
 */
import * as vscode from 'vscode';
import { Messages } from './errors';
import { KernelState } from './kernelProcess';
import { LinkState } from '../client/connection';
import { serverLabel } from './remoteServers';
import { RESTART_COMMAND, type TransferLabController } from './controller';

/** Command the item runs on click before the kernel started (its details); once it runs, a click restarts it, as the tooltip says. */
export const SHOW_KERNEL_INFO_COMMAND = 'transferlab.showKernelInfo';

export class KernelStatusItem implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly controller: TransferLabController) {
    this.item = vscode.window.createStatusBarItem('transferlab.kernel', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'TransferLab Kernel';
    this.disposables.push(
      this.item,
      vscode.window.onDidChangeActiveNotebookEditor(() => this.update()),
      controller.onDidChangeSession(() => this.update()),
    );
    this.update();
  }

  /** `transferlab.showKernelInfo`: the kernel's banner, with Restart. */
  registerCommands(): vscode.Disposable[] {
    return [
      vscode.commands.registerCommand(SHOW_KERNEL_INFO_COMMAND, async () => {
        const notebook = vscode.window.activeNotebookEditor?.notebook;
        const session = notebook ? this.controller.session(notebook) : undefined;
        const kernel = session?.kernel;
        const text =
          kernel?.state === KernelState.dead
            ? Messages.statusDead.replace(/^\$\([^)]*\)\s*/, '')
            : (kernel?.description?.banner ?? Messages.noKernelToRestart);
        const choice = await vscode.window.showInformationMessage(text, Messages.restartAction);
        if (choice === Messages.restartAction && notebook) await vscode.commands.executeCommand(RESTART_COMMAND, notebook.uri);
      }),
    ];
  }

  /** Re-reads the active notebook's session. */
  update(): void {
    const notebook = vscode.window.activeNotebookEditor?.notebook;
    if (!notebook || !this.controller.isOurs(notebook)) {
      this.item.hide();
      return;
    }
    const kernel = this.controller.session(notebook)?.kernel;
    const d = kernel?.description;
    const backend = d?.backend ?? 'not started';
    const device = d?.device ?? 'starts on first run';
    const server = kernel?.server;
    const where = server ? serverLabel(server) : undefined;
    /** The text, naming the server of a remote kernel. */
    const at = (text: string) => (where ? Messages.statusRemote(text, where) : text);
    const onServer = where ? `\nOn the Jupyter Server ${server}` : '';
    this.item.backgroundColor = undefined;
    // A running (or dead) kernel: a click restarts it, as its tooltip says.
    this.item.command = { command: RESTART_COMMAND, title: Messages.restartAction, arguments: [notebook.uri] };
    switch (kernel?.state) {
      case undefined:
      case KernelState.stopped:
        this.item.text = Messages.statusIdle(backend, device);
        this.item.tooltip = Messages.statusTooltipNotStarted;
        this.item.command = SHOW_KERNEL_INFO_COMMAND;
        break;
      case KernelState.starting:
        this.item.text = at(Messages.statusStarting);
        this.item.tooltip = `TransferLab kernel: starting.${onServer} Click for details.`;
        this.item.command = SHOW_KERNEL_INFO_COMMAND;
        break;
      case KernelState.idle:
      case KernelState.busy:
        this.item.text = at(kernel.state === KernelState.busy ? Messages.statusBusy(backend, device) : Messages.statusIdle(backend, device));
        this.item.tooltip = Messages.statusTooltip(`${d?.banner ?? ''}${onServer}`);
        break;
      case KernelState.unresponsive:
        this.item.text = at(Messages.statusUnresponsive);
        this.item.tooltip = 'The TransferLab kernel is not answering its heartbeat. Click to restart it, or wait.';
        this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
        break;
      case KernelState.dead:
        this.item.text = at(Messages.statusDead);
        this.item.tooltip = `The TransferLab kernel died.${onServer} Click to restart it.`;
        this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
        break;
      case KernelState.disposed:
        this.item.hide();
        return;
    }
    // A remote kernel whose websocket dropped: said over whatever state it had.
    if (where && kernel && kernel.state !== KernelState.dead && kernel.link !== LinkState.connected) {
      this.item.text = kernel.link === LinkState.reconnecting ? Messages.statusReconnecting(where) : Messages.statusDisconnected(where);
      this.item.tooltip = `The link to the TransferLab kernel on ${server} ${kernel.link === LinkState.reconnecting ? 'dropped; reconnecting with backoff. Outputs the server kept are shown when it is back.' : 'is lost.'} Click to restart the kernel.`;
      this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
    }
    this.item.show();
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
