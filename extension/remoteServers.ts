/**
 * Jupyter Servers the user connected to (a Jupyter Server on a lab machine, a JupyterHub's
 * `/user/NAME/`, an Enterprise Gateway): the commands "TransferLab: Connect to Jupyter Server…" and
 * "Disconnect from Jupyter Server…", where their tokens are kept, and the kernel launcher that
 * starts a notebook's kernel on one.
 *
 * A token lives only in VS Code's SecretStorage, keyed by the server's URL; the list of servers
 * (URLs only) in the extension's global state. Neither goes into settings or notebooks, and no
 * log line, message or cell output carries a token: URLs are shown without their query, and every
 * text that comes from a server goes through its `redact` first.
 */
import * as vscode from 'vscode';
import { createHash } from 'node:crypto';
import type { KernelConnection } from '../client/connection';
import { normaliseServerUrl, type JupyterServerErrorKind } from '../client/jupyterServer';
import { KernelStartError, Messages, errorMessage } from './errors';
import type { KernelLauncher } from './kernelProcess';

/** The kernelspec the servers are asked for (what `transferlab kernel install` installs). */
export const KERNELSPEC_NAME = 'transferlab';
/** Command ids (package.json `contributes.commands`). */
export const CONNECT_COMMAND = 'transferlab.connectToJupyterServer';
export const DISCONNECT_COMMAND = 'transferlab.disconnectFromJupyterServer';
/** Global-state key of the list of connected servers' URLs (never tokens). */
export const SERVERS_STATE_KEY = 'transferlab.jupyterServers';
/** The SecretStorage key of a server's token. */
export function tokenSecretKey(url: string): string {
  return `transferlab.jupyterServer.token:${url}`;
}

/** The failures of a Jupyter Server (client/jupyterServer.ts's `JupyterServerError` kinds). */
export type ServerErrorKind = JupyterServerErrorKind;

/**
 * What the extension needs of a Jupyter Server (client/jupyterServer.ts's `JupyterServer`): its
 * normalised URL, whether it has the kernelspec, a kernel started on it, and its token taken out of
 * a text.
 */
export interface RemoteServer {
  /** Normalised, ends in '/', never holds the token. */
  readonly url: string;
  checkKernelspec(name?: string): Promise<{ name: string; displayName: string }>;
  startKernel(options?: { name?: string; path?: string; onLog?: (text: string) => void }): Promise<KernelConnection>;
  redact(text: string): string;
}

/** Makes a {@link RemoteServer} client for a URL and token (the extension passes `new JupyterServer(…)`). */
export type ServerConnector = (options: { url: string; token?: string; onLog?: (text: string) => void }) => RemoteServer;

/** A server the user connected to. */
export interface ServerEntry {
  readonly url: string;
  readonly server: RemoteServer;
}

/**
 * Reads a server address as people paste it: `http://127.0.0.1:8888/lab?token=abc`,
 * `https://hub.example.org/user/ada/`, `localhost:8888`. The result's URL keeps the scheme, host,
 * port and base path (ending in '/'), without the query, fragment or a trailing Jupyter UI page
 * (`/lab`, `/tree/…`, `/notebooks/…`; not when it is a JupyterHub user's name, `/user/lab/`); a
 * `token` in the query is returned apart.
 * @example
 * parseServerUrl('http://127.0.0.1:8888/user/ada/lab?token=abc');
 * // → { url: 'http://127.0.0.1:8888/user/ada/', token: 'abc' }
 */
export function parseServerUrl(input: string): { url: string; token: string | undefined } | { error: string } {
  const text = input.trim();
  if (text === '') return { error: Messages.serverUrlEmpty };
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let scheme: string;
  try {
    const u = new URL(withScheme);
    if (u.hostname === '') return { error: Messages.serverUrlInvalid(text) };
    scheme = u.protocol;
  } catch {
    return { error: Messages.serverUrlInvalid(text) };
  }
  if (scheme !== 'http:' && scheme !== 'https:') return { error: Messages.serverUrlScheme(scheme) };
  // The one reading of a server URL, shared with the command line (client/jupyterServer.ts).
  return normaliseServerUrl(withScheme);
}

/** A server as shown in labels: host, port and base path, e.g. `127.0.0.1:8888/user/ada/`. */
export function serverLabel(url: string): string {
  return url.replace(/^[a-z]+:\/\//i, '');
}

/** A stable controller id for a server: `transferlab-remote-` and 12 hex digits of its URL's SHA-256. */
export function serverControllerId(url: string): string {
  return `transferlab-remote-${createHash('sha256').update(url).digest('hex').slice(0, 12)}`;
}

/** The `kind` of a Jupyter Server failure (duck-typed: the production bundle is minified). */
export function serverErrorKind(err: unknown): ServerErrorKind | undefined {
  const kind = (err as { kind?: unknown } | undefined)?.kind;
  return typeof kind === 'string' && kind in Messages.serverError ? (kind as ServerErrorKind) : undefined;
}

/**
 * What to tell the user about a failure to reach, or to start a kernel on, a server: one message
 * per kind that says what to do (for any other failure, what happened), the token taken out.
 */
export function serverErrorMessage(err: unknown, server: Pick<RemoteServer, 'url' | 'redact'>): string {
  const kind = serverErrorKind(err);
  const label = serverLabel(server.url);
  return kind ? Messages.serverError[kind](label) : Messages.serverOtherError(label, server.redact(errorMessage(err)));
}

/** The server's own account of a failure (status codes, the kernelspecs it has), the token taken out: for logs and cell outputs. */
export function serverErrorDetail(err: unknown, server: Pick<RemoteServer, 'redact'>): string {
  return server.redact(errorMessage(err));
}

/**
 * The launcher of kernels on a server: `startKernel` with the TransferLab kernelspec and the
 * notebook's path relative to its workspace folder (the server starts the kernel in that folder
 * under its root when it has one, else in its root).
 */
export function remoteLauncher(entry: ServerEntry): KernelLauncher {
  const { server } = entry;
  return {
    server: server.url,
    redact: (text) => server.redact(text),
    async launch(notebook, log) {
      const notebookPath = notebook.uri.scheme === 'file' || notebook.uri.scheme === 'vscode-remote' ? vscode.workspace.asRelativePath(notebook.uri, false) : undefined;
      log.info(`starting kernel on ${server.url} (kernelspec ${KERNELSPEC_NAME}${notebookPath ? `, path ${notebookPath}` : ''})`);
      try {
        return await server.startKernel({
          name: KERNELSPEC_NAME,
          ...(notebookPath ? { path: notebookPath } : {}),
          onLog: (text) => log.info(`[${serverLabel(server.url)}] ${server.redact(text).trimEnd()}`),
        });
      } catch (err) {
        const message = serverErrorKind(err) ? `${serverErrorMessage(err, server)}\n${serverErrorDetail(err, server)}` : serverErrorMessage(err, server);
        log.error(message);
        throw new KernelStartError(message, { cause: err });
      }
    },
  };
}

/** Where connected servers are kept: the extension context's SecretStorage and global state. */
export interface ServerStore {
  readonly secrets: Pick<vscode.SecretStorage, 'get' | 'store' | 'delete'>;
  readonly globalState: Pick<vscode.Memento, 'get' | 'update'>;
}

/**
 * The connected servers: the Connect and Disconnect commands, restoring them at activation, and
 * `onDidAdd` / `onDidRemove` for the controller, which offers a kernel per server.
 */
export class JupyterServers implements vscode.Disposable {
  private readonly entries = new Map<string, ServerEntry>();
  private readonly addEmitter = new vscode.EventEmitter<ServerEntry>();
  private readonly removeEmitter = new vscode.EventEmitter<ServerEntry>();
  /** A server was connected (or restored, or connected again with a new token). */
  readonly onDidAdd = this.addEmitter.event;
  /** A server was disconnected (or is being replaced by a new connection to it). */
  readonly onDidRemove = this.removeEmitter.event;

  constructor(
    private readonly store: ServerStore,
    private readonly connector: ServerConnector,
    private readonly log: vscode.LogOutputChannel,
    /** Shows where to read how to install the kernelspec on a server. */
    private readonly openInstallDocs: () => unknown = () => undefined,
  ) {}

  /** The connected servers, in the order they were connected. */
  get servers(): readonly ServerEntry[] {
    return [...this.entries.values()];
  }

  /** The URLs kept in global state. */
  private storedUrls(): string[] {
    const v = this.store.globalState.get<unknown>(SERVERS_STATE_KEY, []);
    return Array.isArray(v) ? v.filter((u): u is string => typeof u === 'string') : [];
  }

  /** Offers the servers connected in earlier sessions again (tokens from SecretStorage); not checked until a kernel starts. */
  async restore(): Promise<void> {
    for (const url of this.storedUrls()) {
      try {
        const token = await this.store.secrets.get(tokenSecretKey(url));
        this.add(url, token);
      } catch (err) {
        this.log.warn(`could not restore the Jupyter Server ${url}: ${errorMessage(err)}`);
      }
    }
  }

  private add(url: string, token: string | undefined): ServerEntry {
    const server = this.connector({ url, ...(token ? { token } : {}), onLog: (text) => this.log.debug(`[${serverLabel(url)}] ${text.trimEnd()}`) });
    const old = this.entries.get(server.url);
    if (old) {
      this.entries.delete(server.url);
      this.removeEmitter.fire(old);
    }
    const entry: ServerEntry = { url: server.url, server };
    this.entries.set(server.url, entry);
    this.addEmitter.fire(entry);
    return entry;
  }

  /**
   * "TransferLab: Connect to Jupyter Server…": asks for the URL and the token, checks that the
   * server answers and has the `transferlab` kernelspec, then keeps the token in SecretStorage and
   * offers the server's kernel in the kernel picker. Resolves with the server's URL, or undefined
   * when cancelled or it failed (the user was told why).
   */
  async connect(initialUrl?: string): Promise<string | undefined> {
    const input = await vscode.window.showInputBox({
      title: Messages.connectTitle,
      prompt: Messages.connectUrlPrompt,
      placeHolder: 'http://127.0.0.1:8888/  ·  https://hub.example.org/user/NAME/',
      ...(initialUrl ? { value: initialUrl } : {}),
      ignoreFocusOut: true,
      validateInput: (value) => {
        const parsed = parseServerUrl(value);
        return 'error' in parsed ? parsed.error : undefined;
      },
    });
    if (input === undefined) return undefined;
    const parsed = parseServerUrl(input);
    if ('error' in parsed) {
      void vscode.window.showErrorMessage(parsed.error);
      return undefined;
    }
    let token = parsed.token;
    if (token === undefined) {
      token = await vscode.window.showInputBox({
        title: Messages.connectTitle,
        prompt: Messages.connectTokenPrompt(serverLabel(parsed.url)),
        placeHolder: Messages.connectTokenPlaceholder,
        password: true,
        ignoreFocusOut: true,
      });
      if (token === undefined) return undefined;
    }
    token = token.trim();
    const server = this.connector({ url: parsed.url, ...(token ? { token } : {}) });
    const label = serverLabel(server.url);
    this.log.info(`connecting to the Jupyter Server ${server.url}`);
    let spec: { name: string; displayName: string };
    try {
      spec = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: Messages.connecting(label) }, () => server.checkKernelspec(KERNELSPEC_NAME));
    } catch (err) {
      const message = serverErrorMessage(err, server);
      this.log.error(`${message} (${serverErrorDetail(err, server)})`);
      const kind = serverErrorKind(err);
      const actions = kind === 'no-kernelspec' ? [Messages.installDocsAction, Messages.tryAgainAction] : [Messages.tryAgainAction];
      const choice = await vscode.window.showErrorMessage(message, ...actions);
      if (choice === Messages.tryAgainAction) return this.connect(server.url);
      if (choice === Messages.installDocsAction) this.openInstallDocs();
      return undefined;
    }
    await this.store.secrets.store(tokenSecretKey(server.url), token);
    await this.store.globalState.update(SERVERS_STATE_KEY, [...this.storedUrls().filter((u) => u !== server.url), server.url]);
    const entry = this.add(server.url, token || undefined);
    this.log.info(`connected to the Jupyter Server ${server.url} (kernelspec ${spec.name}: ${spec.displayName})`);
    const notebook = vscode.window.activeNotebookEditor?.notebook;
    void vscode.window.showInformationMessage(Messages.connected(label), ...(notebook ? [Messages.selectKernelAction] : [])).then((choice) => {
      if (choice === Messages.selectKernelAction) void vscode.commands.executeCommand('notebook.selectKernel');
    });
    return entry.url;
  }

  /**
   * "TransferLab: Disconnect from Jupyter Server…": the server given (its URL), or one picked from
   * the connected ones, is forgotten: its token deleted from SecretStorage, its kernels shut down,
   * its controllers gone from the kernel picker. Resolves with its URL, or undefined.
   */
  async disconnect(url?: string): Promise<string | undefined> {
    const known = this.servers;
    if (known.length === 0 && this.storedUrls().length === 0) {
      void vscode.window.showInformationMessage(Messages.noServers);
      return undefined;
    }
    let target = url;
    if (target === undefined) {
      const items = known.map((e) => ({ label: serverLabel(e.url), description: e.url, url: e.url }));
      const pick = await vscode.window.showQuickPick(items, { title: Messages.disconnectTitle, placeHolder: Messages.disconnectPlaceholder });
      if (!pick) return undefined;
      target = pick.url;
    }
    const entry = this.entries.get(target);
    await this.store.secrets.delete(tokenSecretKey(target));
    await this.store.globalState.update(SERVERS_STATE_KEY, this.storedUrls().filter((u) => u !== target));
    if (entry) {
      this.entries.delete(target);
      this.removeEmitter.fire(entry);
    }
    this.log.info(`disconnected from the Jupyter Server ${target}`);
    void vscode.window.showInformationMessage(Messages.disconnected(serverLabel(target)));
    return target;
  }

  /** The Connect and Disconnect commands. */
  registerCommands(): vscode.Disposable[] {
    return [
      vscode.commands.registerCommand(CONNECT_COMMAND, (url?: unknown) => this.connect(typeof url === 'string' ? url : undefined)),
      vscode.commands.registerCommand(DISCONNECT_COMMAND, (url?: unknown) => this.disconnect(typeof url === 'string' ? url : undefined)),
    ];
  }

  dispose(): void {
    this.addEmitter.dispose();
    this.removeEmitter.dispose();
  }
}
