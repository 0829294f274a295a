/**
 * One TransferLab kernel process for one notebook: starts it through the kernel client (a child
 * process `node dist/kernel.js <connection file>`), tells when it dies, interrupts and restarts it.
 * Knows nothing of cells; the controller drives executions through `client`.
 */
import * as vscode from 'vscode';
import * as os from 'node:os';
import * as path from 'node:path';
import { KernelClient, type HeartbeatOptions } from '../client/kernelClient';
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

/** How often the child process is checked for having exited (a backstop to the client's 'exit' event). */
const EXIT_POLL_MS = 250;
/** How often, and how long, kernel_info is asked again until the kernel has started its backend. */
const DESCRIPTION_POLL_MS = 1500;
const DESCRIPTION_POLL_LIMIT_MS = 120_000;

export class KernelProcess implements vscode.Disposable {
  private clientPromise: Promise<KernelClient> | undefined;
  private current: KernelClient | undefined;
  private stateValue: KernelState = KernelState.stopped;
  private stoppingOnPurpose = false;
  /** A cell of the notebook is running (the state to go back to when the heartbeat returns). */
  private busy = false;
  private exitWatch: ReturnType<typeof setInterval> | undefined;
  private readonly stateEmitter = new vscode.EventEmitter<KernelState>();
  private readonly diedEmitter = new vscode.EventEmitter<KernelDiedError>();
  private readonly descriptionEmitter = new vscode.EventEmitter<KernelDescription>();
  private readonly unresponsiveEmitter = new vscode.EventEmitter<number>();
  private descriptionValue: KernelDescription | undefined;

  /** Fires on every state change. */
  readonly onDidChangeState = this.stateEmitter.event;
  /** Fires once per process that exits without being asked to (killed, crashed). */
  readonly onDidDie = this.diedEmitter.event;
  /** Fires when the kernel reports its backend and device. */
  readonly onDidChangeDescription = this.descriptionEmitter.event;
  /** Fires with the silent seconds when the kernel stops answering its heartbeat. */
  readonly onDidStopResponding = this.unresponsiveEmitter.event;

  constructor(
    /** The notebook this kernel serves (its folder is the kernel's working directory). */
    readonly notebook: vscode.NotebookDocument,
    /** The extension's root: dist/kernel.js lives there. */
    private readonly extensionPath: string,
    private readonly log: vscode.LogOutputChannel,
    /** Heartbeat monitoring of the kernel (the client's defaults: a miss after 5 s, three misses). */
    private readonly heartbeat: HeartbeatOptions = {},
  ) {}

  get state(): KernelState {
    return this.stateValue;
  }

  get description(): KernelDescription | undefined {
    return this.descriptionValue;
  }

  /** The running client, if the kernel has started and not died. */
  get client(): KernelClient | undefined {
    return this.stateValue === KernelState.dead || this.stateValue === KernelState.disposed ? undefined : this.current;
  }

  /** Process id of the kernel, for diagnostics. */
  get pid(): number | undefined {
    return this.current?.process?.pid;
  }

  /**
   * The kernel's client, starting the process on first use (and again after it died).
   * @throws KernelStartError when the process cannot be started or never answers.
   */
  start(): Promise<KernelClient> {
    if (this.stateValue === KernelState.disposed) return Promise.reject(new Error('KernelProcess.start: the kernel was disposed'));
    if (this.stateValue === KernelState.dead || this.stateValue === KernelState.stopped) this.clientPromise = undefined;
    this.clientPromise ??= this.launch();
    return this.clientPromise;
  }

  private async launch(): Promise<KernelClient> {
    this.setState(KernelState.starting);
    this.stoppingOnPurpose = false;
    let settings: Settings;
    try {
      settings = readSettings(this.notebook.uri);
    } catch (err) {
      this.setState(KernelState.stopped);
      throw err;
    }
    const kernelScript = path.join(this.extensionPath, 'dist', 'kernel.js');
    // Empty setting: the runtime of the extension host itself (in desktop VS Code an Electron binary,
    // which behaves as Node with ELECTRON_RUN_AS_NODE; the kernel's native parts are N-API).
    const nodePath = settings.nodePath ?? process.execPath;
    const cwd =
      this.notebook.uri.scheme === 'file'
        ? path.dirname(this.notebook.uri.fsPath)
        : (vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? os.homedir());
    // A backend chosen in the settings wins; with `auto` the notebook's own `metadata.backend` applies.
    const backend = settings.backend !== Backend.auto ? settings.backend : (notebookBackend(this.notebook) ?? Backend.auto);
    // KernelClient tells the kernel its parent (JPY_PARENT_PID), so it exits with the extension host.
    const env: Record<string, string> = { ELECTRON_RUN_AS_NODE: '1', ...kernelEnvironment({ ...settings, backend }) };
    const t0 = Date.now();
    this.log.info(`starting kernel: ${nodePath} ${kernelScript} (cwd ${cwd}, backend ${backend})`);
    let client: KernelClient;
    try {
      client = await KernelClient.launch({ cwd, env, nodePath, kernelScript, heartbeat: this.heartbeat, onLog: (text) => this.log.info(`[kernel] ${text.trimEnd()}`) });
    } catch (err) {
      this.setState(KernelState.stopped);
      throw KernelStartError.ofProcess(nodePath, kernelScript, err);
    }
    if (this.stateValue === KernelState.disposed) {
      void client.shutdown().catch(() => undefined);
      throw new Error('KernelProcess.start: the notebook closed while the kernel started');
    }
    this.current = client;
    this.log.info(`kernel started (pid ${client.process?.pid}) in ${Date.now() - t0} ms`);
    this.watch(client);
    this.setState(KernelState.idle);
    this.updateDescription(client.kernelInfo);
    void this.pollDescription(client);
    return client;
  }

  /** The kernel starts its compute backend in the background; ask until its kernel_info names it. */
  private async pollDescription(client: KernelClient): Promise<void> {
    const until = Date.now() + DESCRIPTION_POLL_LIMIT_MS;
    while (client === this.current && this.client && Date.now() < until && !this.descriptionValue?.known) {
      await new Promise((r) => setTimeout(r, DESCRIPTION_POLL_MS));
      if (client !== this.current || !this.client) return;
      try {
        await this.refreshDescription();
      } catch (err) {
        this.log.debug(`kernel_info while waiting for the backend: ${String(err)}`);
      }
    }
  }

  private watch(client: KernelClient): void {
    const onExit = (code: number | null, signal: string | null) => {
      if (client !== this.current) return;
      this.stopExitWatch();
      if (this.stoppingOnPurpose || this.stateValue === KernelState.disposed) return;
      const error = new KernelDiedError(code, signal);
      this.log.error(error.message);
      this.setState(KernelState.dead);
      this.diedEmitter.fire(error);
    };
    client.on('exit', onExit);
    client.on('unresponsive', (silentMs: number) => {
      if (client !== this.current || this.stateValue === KernelState.dead || this.stateValue === KernelState.disposed) return;
      this.log.warn(`kernel (pid ${client.process?.pid}) has not answered its heartbeat for ${silentMs} ms`);
      this.setState(KernelState.unresponsive);
      this.unresponsiveEmitter.fire(silentMs / 1000);
    });
    client.on('responsive', () => {
      if (client !== this.current || this.stateValue !== KernelState.unresponsive) return;
      this.log.info('kernel answers its heartbeat again');
      this.setState(this.busy ? KernelState.busy : KernelState.idle);
    });
    // The 'exit' event is the fast path; this catches a process that vanished without the event
    // reaching us (e.g. the client's pipes were already torn down).
    this.stopExitWatch();
    this.exitWatch = setInterval(() => {
      const child = client.process;
      if (child && (child.exitCode !== null || child.signalCode !== null)) onExit(child.exitCode, child.signalCode);
    }, EXIT_POLL_MS);
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
  async restart(): Promise<KernelClient> {
    const old = this.current;
    if (old && this.stateValue !== KernelState.dead) {
      this.stoppingOnPurpose = true;
      this.stopExitWatch();
      this.log.info('restarting kernel');
      try {
        await old.shutdown();
      } catch (err) {
        this.log.warn(`kernel did not shut down cleanly: ${String(err)}; killing it`);
        old.process?.kill('SIGKILL');
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
      void client.shutdown().catch(() => {
        if (client.process?.exitCode === null) client.process.kill('SIGKILL');
      });
    }
    this.stateEmitter.dispose();
    this.diedEmitter.dispose();
    this.descriptionEmitter.dispose();
    this.unresponsiveEmitter.dispose();
  }
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
