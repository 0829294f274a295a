/**
 * Errors the extension's user can meet, one class per failure, and the user-facing messages of
 * the controller, kernel process and status item in one place.
 *
 * Each error keeps what caused it in `cause` (wrap, never swallow). They are handled where they
 * surface: the controller turns them into a cell error output or a notification; nothing else
 * catches them. The kernel's own failures ({@link KernelStartError}, {@link KernelDiedError}) are
 * the kernel client's classes, re-exported here: one class each for the extension and the CLI.
 */
import { KernelDiedError, KernelStartError } from '../client/errors';

export { KernelDiedError, KernelStartError };

/**
 * Base class: lets a caller tell the extension's own failures from bugs. Each subclass spells out
 * its `name` (shown in cell error outputs): the production bundle is minified, class names are not.
 */
export abstract class TransferLabExtensionError extends Error {
  abstract override readonly name: string;
}

/**
 * A `transferlab.*` setting has a value of the wrong type or outside its allowed values (possible
 * when settings.json is edited by hand). Raised by `readSettings`; the controller shows it on the
 * cell that was about to run, and the kernel is not started.
 */
export class InvalidSettingError extends TransferLabExtensionError {
  override readonly name = 'InvalidSettingError';
  constructor(
    readonly setting: string,
    readonly value: unknown,
    readonly expected: string,
  ) {
    super(`Setting ${setting} is ${JSON.stringify(value)}; expected ${expected}.`);
  }
}

/**
 * A cell was asked to run while the workspace is not trusted (Restricted Mode). Running a cell runs
 * arbitrary code, so the controller refuses; the cell ends without output and the user is told how
 * to trust the workspace.
 */
export class UntrustedWorkspaceError extends TransferLabExtensionError {
  override readonly name = 'UntrustedWorkspaceError';
  constructor() {
    super(Messages.untrusted);
  }
}

/** Short, readable text of an unknown thrown value. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** User-facing texts of the extension (one place, as vega-lite keeps its log messages). */
export const Messages = {
  untrusted:
    'TransferLab does not run notebook cells in an untrusted workspace (Restricted Mode). ' +
    'Trust the workspace (command "Workspaces: Manage Workspace Trust") to run cells.',
  trustAction: 'Manage Workspace Trust',
  /** Added to a {@link KernelStartError} shown on a cell: the setting that names the Node to use. */
  checkNodePath: 'Check the setting transferlab.nodePath (a Node 20+ executable).',
  kernelDied(exitCode: number | null, signal: string | null): string {
    const how = signal ? `was killed by ${signal}` : `exited with code ${exitCode ?? 'unknown'}`;
    return `The TransferLab kernel ${how}. Variables are lost; the notebook is unchanged.`;
  },
  kernelStopsResponding: (seconds: number) =>
    `The TransferLab kernel has not answered its heartbeat for ${seconds.toFixed(0)} s (is the machine overloaded, or the process stopped?). Wait, or restart it (variables are lost).`,
  restartAction: 'Restart Kernel',
  settingsChanged: 'TransferLab settings changed. Running kernels keep their Node and backend until they restart.',
  restarting: 'Restarting the TransferLab kernel…',
  restarted: 'TransferLab kernel restarted.',
  noKernelToRestart: 'No TransferLab kernel runs for this notebook; it will start when a cell runs.',
  noNotebook: 'Open a notebook to restart its kernel.',
  cellCancelled: 'Not run: an earlier cell failed or was interrupted.',
  statusStarting: '$(loading~spin) TransferLab: starting…',
  statusIdle: (backend: string, device: string) => `$(circuit-board) TransferLab: ${backend} · ${device}`,
  statusBusy: (backend: string, device: string) => `$(sync~spin) TransferLab: ${backend} · ${device}`,
  statusDead: '$(error) TransferLab: kernel died',
  statusUnresponsive: '$(warning) TransferLab: kernel not responding',
  statusTooltip: (banner: string) => `TransferLab kernel\n${banner}\nClick to restart.`,
  statusTooltipNotStarted: 'TransferLab kernel: starts when a cell runs. Click for details.',
  confirmRestart: (what: string) => `${what}? The kernel's variables are lost.`,
  restartConfirm: 'Restart',
  dontAskAgain: "Don't Ask Again",
  restartTitle: 'Restart the TransferLab kernel',
  restartRunAllTitle: 'Restart the TransferLab kernel and run all cells',
  restartRunAboveTitle: 'Restart the TransferLab kernel and run the cells above',

  // ---- remote kernels on Jupyter Servers (extension/remoteServers.ts) ----
  connectTitle: 'Connect to Jupyter Server',
  connectUrlPrompt: "The Jupyter Server's URL with its base path (JupyterHub: https://HUB/user/NAME/). A ?token=… in it is used as the token.",
  connectTokenPrompt: (server: string) => `The token of ${server} (kept in VS Code's secret storage). Leave empty for a server without one.`,
  connectTokenPlaceholder: 'token (empty for a server without authentication)',
  serverUrlEmpty: 'Enter the URL of a Jupyter Server, e.g. http://127.0.0.1:8888/ or https://hub.example.org/user/NAME/.',
  serverUrlInvalid: (text: string) => `"${text.replace(/[?#].*$/, '')}" is not a URL. Enter one like http://127.0.0.1:8888/ or https://hub.example.org/user/NAME/.`,
  serverUrlScheme: (protocol: string) => `A Jupyter Server is reached over http: or https:, not ${protocol}.`,
  connecting: (server: string) => `Connecting to ${server}…`,
  connected: (server: string) =>
    `Connected to the Jupyter Server ${server}. Its TransferLab kernel is in the kernel picker ("TransferLab (TypeScript) on ${server}").`,
  selectKernelAction: 'Select Kernel',
  tryAgainAction: 'Try Again',
  installDocsAction: 'How to Install',
  noServers: 'No Jupyter Server is connected. Connect one with "TransferLab: Connect to Jupyter Server…".',
  disconnectTitle: 'Disconnect from Jupyter Server',
  disconnectPlaceholder: 'The server to forget (its token is deleted; its TransferLab kernels are shut down)',
  disconnected: (server: string) => `Disconnected from ${server}: its token is deleted and its TransferLab kernels are shut down.`,
  /** What to do, per kind of Jupyter Server failure (client/jupyterServer.ts's `JupyterServerError.kind`). */
  serverError: {
    'bad-url': (server: string) => `${server} is not a Jupyter Server URL. Enter the URL with its base path, e.g. https://hub.example.org/user/NAME/.`,
    unreachable: (server: string) => `Cannot reach the Jupyter Server at ${server}. Check the URL (scheme, host, port) and your network or VPN, and that the server runs.`,
    unauthorized: (server: string) =>
      `The Jupyter Server at ${server} refused the token (or needs one). Check the token: \`jupyter server list\` on the server shows it; on JupyterHub, make one on the Hub's Token page. Then connect again.`,
    forbidden: (server: string) => `The Jupyter Server at ${server} forbids this (403). Check that the token belongs to this server and user, and that your account may start kernels there.`,
    xsrf: (server: string) => `The Jupyter Server at ${server} rejected the request for its XSRF check (403). Connect with a token (not a password or browser login), or ask its administrator to accept token-authenticated API requests.`,
    'no-kernelspec': (server: string) =>
      `The Jupyter Server at ${server} has no "transferlab" kernel. In the server's environment run \`npx transferlab kernel install --sys-prefix\` (or --user), then connect again.`,
    'not-found': (server: string) => `Nothing answers as a Jupyter Server at ${server} (404). Check the base path: JupyterHub's is /user/NAME/.`,
    'server-error': (server: string) => `The Jupyter Server at ${server} failed (5xx). Try again; if it persists, look at the server's log.`,
  },
  serverOtherError: (server: string, detail: string) => `Could not use the Jupyter Server at ${server}: ${detail}`,
  remoteKernelDied: (server: string, reason: string) =>
    `${reason || `The TransferLab kernel on ${server} is gone.`} Variables are lost; the notebook is unchanged. Restart starts a new kernel on the server.`,
  remoteKernelStopsResponding: (server: string, seconds: number) =>
    `The TransferLab kernel on ${server} has not answered for ${seconds.toFixed(0)} s (network, or the server busy?). Wait, or restart it (variables are lost).`,
  statusRemote: (text: string, server: string) => `${text} @ ${server}`,
  statusReconnecting: (server: string) => `$(sync~spin) TransferLab: reconnecting to ${server}…`,
  statusDisconnected: (server: string) => `$(debug-disconnect) TransferLab: lost ${server}`,
} as const;
