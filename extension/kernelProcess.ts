/**
 * One TransferLab kernel for one notebook: starts it through a {@link KernelLauncher} (a local
 * child process `node dist/kernel.js <connection file>`, or a kernel on a Jupyter Server:
 * extension/remoteServers.ts), tells when it dies, interrupts and restarts it, and, for a remote
 * kernel, follows the link to it. Holds the kernel as a {@link KernelConnection}, so it does not
 * care where the kernel runs. Knows nothing of cells; the controller drives executions through `client`.
 */
import * as vscode from 'vscode';
import * as os from 'node:os';
import * as path from 'node:path';
import { KernelClient, type HeartbeatOptions } from '../client/kernelClient';
import { LinkState, describeLocation, type KernelConnection } from '../client/connection';
import type { KernelInfoReply } from '../kernel/protocol/messages';
import { kernelBackendInfo } from '../kernel/protocol/backends';
import { KernelDiedError, KernelStartError } from './errors';
import { Backend, isBackend, kernelEnvironment, readSettings, type Settings } from './settings';

/** Where a kernel process is in its life. */
export const KernelState = {
  /** Not started yet, or its start failed (the next run tries again). */
  stopped: 'stopped',
  starting: 'starting',
  idle: 'idle',
  busy: 'busy',
  /** Alive as far as we know, but not answering its heartbeat (hung, stopped, overloaded). */
  unresponsive: 'unresponsive',
  dead: 'dead',
  disposed: 'disposed',
} as const;
export type KernelState = (typeof KernelState)[keyof typeof KernelState];

/** The backend and device a kernel computes on, as shown in the status bar. */
export interface KernelDescription {
  /** e.g. `wasm`, `webgpu`, `cpu`; `starting…` until the kernel says. */
  readonly backend: string;
  /** e.g. `1 thread`, `llvmpipe (Mesa 25.0.7)`, `NVIDIA H100 80GB HBM3`; `starting…` until the kernel says. */
  readonly device: string;
  /** The kernel's full banner (tooltip). */
  readonly banner: string;
  /** False while the kernel is still starting its backend. */
  readonly known: boolean;
}

/**
 * Starts kernels for notebooks: as local processes ({@link localLauncher}) or on a Jupyter Server
 * (extension/remoteServers.ts). A {@link KernelProcess} asks it again for each (re)start.
 */
export interface KernelLauncher {
  /**
   * The server's URL with its base path (never a token) when kernels run on a Jupyter Server;
   * undefined for local processes. Shown in the status bar, logs and messages.
   */
  readonly server: string | undefined;
  /**
   * Starts a kernel for `notebook` and resolves once it answered kernel_info.
   * @throws KernelStartError (or an error that says why) when it does not start.
   */
  launch(notebook: vscode.NotebookDocument, log: vscode.LogOutputChannel, heartbeat: HeartbeatOptions): Promise<KernelConnection>;
  /** Text with every secret of this launcher (a server's token) taken out, for logs and messages. */
  redact(text: string): string;
}

/** How often the child process is checked for having exited (a backstop to the client's 'exit' event). */
const EXIT_POLL_MS = 250;
/** How often, and how long, kernel_info is asked again until the kernel has started its backend. */
const DESCRIPTION_POLL_MS = 1500;
const DESCRIPTION_POLL_LIMIT_MS = 120_000;

export class KernelProcess implements vscode.Disposable {
  private clientPromise: Promise<KernelConnection> | undefined;
  private current: KernelConnection | undefined;
  private linkValue: LinkState = LinkState.connected;
  private stateValue: KernelState = KernelState.stopped;
  private stoppingOnPurpose = false;
  /** A cell of the notebook is running (the state to go back to when the heartbeat returns). */
  private busy = false;
  private exitWatch: ReturnType<typeof setInterval> | undefined;
  private readonly stateEmitter = new vscode.EventEmitter<KernelState>();
  private readonly diedEmitter = new vscode.EventEmitter<KernelDiedError>();
  private readonly descriptionEmitter = new vscode.EventEmitter<KernelDescription>();
  private readonly unresponsiveEmitter = new vscode.EventEmitter<number>();
  private readonly linkEmitter = new vscode.EventEmitter<LinkState>();
  private descriptionValue: KernelDescription | undefined;

  /** Fires on every state change. */
  readonly onDidChangeState = this.stateEmitter.event;
  /** Fires once per process that exits without being asked to (killed, crashed). */
  readonly onDidDie = this.diedEmitter.event;
  /** Fires when the kernel reports its backend and device. */
  readonly onDidChangeDescription = this.descriptionEmitter.event;
  /** Fires with the silent seconds when the kernel stops answering its heartbeat. */
  readonly onDidStopResponding = this.unresponsiveEmitter.event;
  /** Fires when the link to a remote kernel drops, is being retried, or is back. */
  readonly onDidChangeLink = this.linkEmitter.event;

  constructor(
    /** The notebook this kernel serves (its folder is the kernel's working directory). */
    readonly notebook: vscode.NotebookDocument,
    /** The extension's root: dist/kernel.js lives there. */
    extensionPath: string,
    private readonly log: vscode.LogOutputChannel,
    /** Heartbeat monitoring of the kernel (the client's defaults: a miss after 5 s, three misses). */
    private readonly heartbeat: HeartbeatOptions = {},
    /** Where kernels start: a local process (default) or a Jupyter Server. */
    readonly launcher: KernelLauncher = localLauncher(extensionPath),
  ) {}

  /** The Jupyter Server the kernel runs on (URL with base path, no token); undefined when local. */
  get server(): string | undefined {
    return this.launcher.server;
  }

  /** The link to the kernel: always `connected` for a local one. */
  get link(): LinkState {
    return this.linkValue;
  }

  get state(): KernelState {
    return this.stateValue;
  }

  get description(): KernelDescription | undefined {
    return this.descriptionValue;
  }

  /** The running client, if the kernel has started and not died. */
  get client(): KernelConnection | undefined {
    return this.stateValue === KernelState.dead || this.stateValue === KernelState.disposed ? undefined : this.current;
  }

  /** Process id of a local kernel, for diagnostics (undefined for a remote one). */
  get pid(): number | undefined {
    const location = this.current?.location;
    return location?.kind === 'local' ? location.pid : undefined;
  }

  /**
   * The kernel's client, starting the process on first use (and again after it died).
   * @throws KernelStartError when the process cannot be started or never answers.
   */
  start(): Promise<KernelConnection> {
    if (this.stateValue === KernelState.disposed) return Promise.reject(new Error('KernelProcess.start: the kernel was disposed'));
    if (this.stateValue === KernelState.dead || this.stateValue === KernelState.stopped) this.clientPromise = undefined;
    this.clientPromise ??= this.launch();
    return this.clientPromise;
  }

  private async launch(): Promise<KernelConnection> {
    this.setState(KernelState.starting);
    this.stoppingOnPurpose = false;
    this.setLink(LinkState.connected);
    const t0 = Date.now();
    let client: KernelConnection;
    try {
      client = await this.launcher.launch(this.notebook, this.log, this.heartbeat);
    } catch (err) {
      this.setState(KernelState.stopped);
      throw err;
    }
    if (this.stateValue === KernelState.disposed) {
      void client.shutdown().catch(() => client.kill());
      throw new Error('KernelProcess.start: the notebook closed while the kernel started');
    }
    this.current = client;
    this.log.info(`kernel started in ${Date.now() - t0} ms: ${describeLocation(client.location)}`);
    this.watch(client);
    this.setState(KernelState.idle);
    this.updateDescription(client.kernelInfo);
    void this.pollDescription(client);
    return client;
  }

  /** The kernel starts its compute backend in the background; ask until its kernel_info names it. */
  private async pollDescription(client: KernelConnection): Promise<void> {
    const until = Date.now() + DESCRIPTION_POLL_LIMIT_MS;
    while (client === this.current && this.client && Date.now() < until && !this.descriptionValue?.known) {
      await new Promise((r) => setTimeout(r, DESCRIPTION_POLL_MS));
      if (client !== this.current || !this.client) return;
      try {
        await this.refreshDescription();
      } catch (err) {
        this.log.debug(`kernel_info while waiting for the backend: ${this.launcher.redact(String(err))}`);
      }
    }
  }

  private watch(client: KernelConnection): void {
    const onExit = (code: number | null, signal: string | null, reason?: string) => {
      if (client !== this.current) return;
      this.stopExitWatch();
      if (this.stoppingOnPurpose || this.stateValue === KernelState.disposed) return;
      const error = reason === undefined ? new KernelDiedError(code, signal) : new KernelDiedError(code, signal, '', this.launcher.redact(reason));
      this.log.error(error.message);
      this.setLink(this.server ? LinkState.disconnected : LinkState.connected);
      this.setState(KernelState.dead);
      this.diedEmitter.fire(error);
    };
    client.on('exit', onExit);
    client.on('link', (state: LinkState) => {
      if (client !== this.current || this.stateValue === KernelState.disposed) return;
      if (state === LinkState.reconnecting) this.log.warn(`lost the link to the kernel on ${this.server ?? 'this machine'}; reconnecting…`);
      else if (state === LinkState.connected) this.log.info(`link to the kernel on ${this.server ?? 'this machine'} is back`);
      else this.log.warn(`gave up on the link to the kernel on ${this.server ?? 'this machine'}`);
      this.setLink(state);
    });
    client.on('unresponsive', (silentMs: number) => {
      if (client !== this.current || this.stateValue === KernelState.dead || this.stateValue === KernelState.disposed) return;
      this.log.warn(`kernel (${describeLocation(client.location)}) has not answered ${this.server ? 'over its link' : 'its heartbeat'} for ${silentMs} ms`);
      this.setState(KernelState.unresponsive);
      this.unresponsiveEmitter.fire(silentMs / 1000);
    });
    client.on('responsive', () => {
      if (client !== this.current || this.stateValue !== KernelState.unresponsive) return;
      this.log.info(`kernel answers ${this.server ? 'over its link' : 'its heartbeat'} again`);
      this.setState(this.busy ? KernelState.busy : KernelState.idle);
    });
    // The 'exit' event is the fast path; for a local process, this catches one that vanished
    // without the event reaching us (e.g. the client's pipes were already torn down).
    this.stopExitWatch();
    if (!(client instanceof KernelClient)) return;
    this.exitWatch = setInterval(() => {
      const child = client.process;
      if (child && (child.exitCode !== null || child.signalCode !== null)) onExit(child.exitCode, child.signalCode);
    }, EXIT_POLL_MS);
  }

  private setLink(state: LinkState): void {
    if (this.linkValue === state) return;
    this.linkValue = state;
    if (this.stateValue !== KernelState.disposed) this.linkEmitter.fire(state);
  }

  private stopExitWatch(): void {
    if (this.exitWatch) clearInterval(this.exitWatch);
    this.exitWatch = undefined;
  }

  private updateDescription(info: KernelInfoReply | undefined): void {
    if (!info) return;
    const d = describeKernel(info);
    const old = this.descriptionValue;
    if (old?.banner !== d.banner || old.backend !== d.backend || old.device !== d.device || old.known !== d.known) this.setDescription(d);
  }

  private setDescription(d: KernelDescription): void {
    this.descriptionValue = d;
    this.descriptionEmitter.fire(d);
  }

  /** Asks the kernel for kernel_info again (the backend is known only once the kernel started it). */
  async refreshDescription(): Promise<KernelDescription | undefined> {
    const client = this.client;
    if (!client) return this.descriptionValue;
    const info = (await client.request('shell', 'kernel_info_request', {}, 5000)).content as unknown as KernelInfoReply;
    this.updateDescription(info);
    return this.descriptionValue;
  }

  /** Interrupts the running cell (the kernel answers with a KeyboardInterrupt-like error). */
  async interrupt(): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.log.info('interrupting kernel');
    await client.interrupt();
  }

  /**
   * Restarts the kernel: a fresh process with empty state. Starts one if none runs (or it died).
   * @throws KernelStartError when the new process does not start.
   */
  async restart(): Promise<KernelConnection> {
    const old = this.current;
    if (old && this.stateValue !== KernelState.dead) {
      this.stoppingOnPurpose = true;
      this.stopExitWatch();
      this.log.info('restarting kernel');
      try {
        await old.shutdown();
      } catch (err) {
        this.log.warn(`kernel did not shut down cleanly: ${this.launcher.redact(String(err))}; killing it`);
        old.kill();
      }
    }
    this.current = undefined;
    this.clientPromise = undefined;
    this.descriptionValue = undefined;
    this.setState(KernelState.starting);
    return this.start();
  }

  /**
   * Marks the kernel busy while a cell of the notebook runs. (The kernel's own execution_state is
   * per request: its `idle` after a kernel_info or completion says nothing about a running cell.)
   */
  markBusy(busy: boolean): void {
    this.busy = busy;
    if (this.stateValue === KernelState.idle || this.stateValue === KernelState.busy) this.setState(busy ? KernelState.busy : KernelState.idle);
  }

  private setState(state: KernelState): void {
    if (this.stateValue === state || this.stateValue === KernelState.disposed) return;
    this.stateValue = state;
    this.stateEmitter.fire(state);
  }

  /** Shuts the kernel down (kills it if it does not answer). */
  dispose(): void {
    if (this.stateValue === KernelState.disposed) return;
    this.stoppingOnPurpose = true;
    this.stopExitWatch();
    const client = this.current;
    this.stateValue = KernelState.disposed;
    this.stateEmitter.fire(KernelState.disposed);
    if (client) {
      void client.shutdown().catch(() => client.kill());
    }
    this.stateEmitter.dispose();
    this.linkEmitter.dispose();
    this.diedEmitter.dispose();
    this.descriptionEmitter.dispose();
    this.unresponsiveEmitter.dispose();
  }
}

/**
 * Local kernel processes: `node dist/kernel.js` under the extension, in the notebook's folder, with
 * the Node and backend of the settings (or the notebook's `metadata.backend`).
 */
export function localLauncher(extensionPath: string): KernelLauncher {
  return {
    server: undefined,
    redact: (text) => text,
    async launch(notebook, log, heartbeat) {
      const settings: Settings = readSettings(notebook.uri);
      const kernelScript = path.join(extensionPath, 'dist', 'kernel.js');
      // Empty setting: the runtime of the extension host itself (in desktop VS Code an Electron binary,
      // which behaves as Node with ELECTRON_RUN_AS_NODE; the kernel's native parts are N-API).
      const nodePath = settings.nodePath ?? process.execPath;
      const cwd = notebook.uri.scheme === 'file' ? path.dirname(notebook.uri.fsPath) : (vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? os.homedir());
      // A backend chosen in the settings wins; with `auto` the notebook's own `metadata.backend` applies.
      const backend = settings.backend !== Backend.auto ? settings.backend : (notebookBackend(notebook) ?? Backend.auto);
      // KernelClient tells the kernel its parent (JPY_PARENT_PID), so it exits with the extension host.
      const env: Record<string, string> = { ELECTRON_RUN_AS_NODE: '1', ...kernelEnvironment({ ...settings, backend }) };
      log.info(`starting kernel: ${nodePath} ${kernelScript} (cwd ${cwd}, backend ${backend})`);
      try {
        return await KernelClient.launch({ cwd, env, nodePath, kernelScript, heartbeat, onLog: (text) => log.info(`[kernel] ${text.trimEnd()}`) });
      } catch (err) {
        throw KernelStartError.ofProcess(nodePath, kernelScript, err);
      }
    },
  };
}

/** The backend a notebook asks for in its metadata (`.tsnb`: `metadata.backend`), if a valid one. */
export function notebookBackend(notebook: { readonly metadata: Record<string, unknown> }): Backend | undefined {
  const b = notebook.metadata['backend'];
  return isBackend(b) && b !== Backend.auto ? b : undefined;
}

/**
 * The backend and device of a kernel_info_reply: its `transferlab` field (kernel/protocol/backends.ts),
 * e.g. `wasm` on `1 thread`, or not `known` while the kernel is still starting its backend. A kernel
 * without the field is described as TypeScript on an unknown backend.
 */
export function describeKernel(info: KernelInfoReply): KernelDescription {
  const banner = info.banner;
  const b = kernelBackendInfo(info);
  if (!b) return { backend: 'TypeScript', device: 'unknown backend', banner, known: true };
  if (b.starting) return { backend: b.backend, device: 'starting…', banner, known: false };
  return { backend: b.backend, device: b.detail || b.backend, banner, known: true };
}
