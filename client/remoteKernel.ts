/**
 * A kernel on a Jupyter Server, behind the same {@link KernelConnection} interface as a local
 * kernel process. Messages travel over the server's kernel websocket through
 * `@jupyterlab/services`' KernelConnection; interrupt, restart and shutdown are REST calls.
 *
 * The link: when the websocket drops (server restart, network loss), services retries with
 * backoff, on the same session id, so the server replays what it buffered for us meanwhile.
 * This client watches beside it: it emits 'link' (reconnecting / connected), asks the REST API
 * whether the kernel still exists (every 2 s, backing off to 15 s), reconnects at once when the
 * server answers again, and when the kernel is gone (404: the server restarted, or it was culled)
 * or the link stays down past `linkTimeoutMs` it emits 'exit' with the reason and fails what was
 * waiting with {@link KernelDiedError}. A link down for longer than `unresponsiveAfterMs` also
 * emits 'unresponsive' (as a silent heartbeat does locally), and 'responsive' when it is back.
 * While a request waits, the REST API is also asked every few seconds whether the kernel still
 * exists: a kernel shut down or culled on the server may leave its websocket open.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { KernelConnection as ServicesKernel, KernelMessage, type Kernel } from '@jupyterlab/services';
import type { KernelInfoReply, Message } from '../kernel/protocol/messages';
import { KernelRequests, LinkState, type KernelConnection, type KernelLocation } from './connection';
import { KernelDiedError, KernelStartError } from './errors';
import { addServicesLogSink, type JupyterServer } from './jupyterServer';

export interface RemoteKernelOptions {
  readonly kernelId: string;
  /** The kernelspec name. */
  readonly name: string;
  /** The server session (POST api/sessions) the kernel belongs to, shut down with it. */
  readonly sessionId?: string;
  /** How long the link may stay down before the kernel is given up (default 300 000 ms). */
  readonly linkTimeoutMs?: number;
  /** How long the link may be down before 'unresponsive' (default 30 000 ms). */
  readonly unresponsiveAfterMs?: number;
  /**
   * While a request waits for its reply, how often the REST API is asked whether the kernel still
   * exists (default 5000 ms): a kernel shut down or culled on the server can leave its websocket
   * open, and would otherwise leave the request waiting for ever.
   */
  readonly aliveCheckMs?: number;
  /** Diagnostics (token-free). */
  readonly onLog?: (text: string) => void;
}

/** The remote kernels this process started or attached to and has not let go of. */
const live = new Set<RemoteKernelClient>();

/**
 * Shuts down every remote kernel this process still holds (for a process that is ending: a
 * SIGTERM to `transferlab run --server` must not leave its kernel running on the server). Waits at
 * most `timeoutMs`; the server's own culling is the backstop.
 */
export async function shutdownRemoteKernels(timeoutMs = 3000): Promise<void> {
  if (live.size === 0) return;
  await Promise.race([Promise.allSettled([...live].map((k) => k.shutdown())), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
}

interface Pending {
  readonly msgType: string;
  reject(e: Error): void;
}

export class RemoteKernelClient extends KernelRequests implements KernelConnection {
  readonly kernelId: string;
  private kernel: ServicesKernel;
  private readonly clientId = randomUUID();
  kernelInfo: KernelInfoReply | undefined;
  executionState = 'starting';
  responsive = true;
  private downSince: number | undefined;
  private link: LinkState = LinkState.connected;
  private gone = false;
  private closing = false;
  private readonly pending = new Set<Pending>();
  private watchTimer: ReturnType<typeof setTimeout> | undefined;
  private unresponsiveTimer: ReturnType<typeof setTimeout> | undefined;
  private aliveTimer: ReturnType<typeof setInterval> | undefined;
  private readonly removeLogSink: () => void;
  private everConnected = false;

  constructor(
    readonly server: JupyterServer,
    private readonly options: RemoteKernelOptions,
  ) {
    super();
    this.kernelId = options.kernelId;
    this.removeLogSink = addServicesLogSink((t) => this.log(t));
    this.kernel = this.makeKernel();
    live.add(this);
  }

  get location(): KernelLocation {
    return { kind: 'remote', server: this.server.url, kernelId: this.kernelId };
  }

  get silentMs(): number {
    return this.downSince === undefined ? 0 : Date.now() - this.downSince;
  }

  /** The state of the websocket link. */
  get linkState(): LinkState {
    return this.link;
  }

  private log(text: string): void {
    const t = this.server.redact(text);
    this.options.onLog?.(`${t}\n`);
    this.emit('log', t);
  }

  private makeKernel(): ServicesKernel {
    const kernel = new ServicesKernel({
      model: { id: this.kernelId, name: this.options.name },
      serverSettings: this.server.settings,
      clientId: this.clientId,
      username: os.userInfo().username,
      handleComms: false,
    });
    kernel.iopubMessage.connect((_, msg) => {
      if (msg.header.msg_type === 'status') {
        this.executionState = (msg.content as { execution_state: string }).execution_state;
        this.emit('status', this.executionState);
      }
      this.emit('iopub', msg as unknown as Message);
    });
    kernel.connectionStatusChanged.connect((_, status) => this.onConnectionStatus(status));
    kernel.statusChanged.connect((_, status) => {
      if (status === 'dead' && !this.closing) void this.checkGone('the server reports the kernel dead');
    });
    return kernel;
  }

  /** Opens the websocket and waits for kernel_info (called by JupyterServer.startKernel). */
  async connect(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // Services sends kernel_info itself when the websocket opens; a kernel_info sent before
      // that is refused at once, so wait for the link first (without spinning).
      if (this.kernel.connectionStatus !== 'connected') {
        if (this.kernel.status === 'dead') throw new KernelStartError(`the kernel ${this.kernelId} on ${this.server.url} died while starting`);
        if (Date.now() > deadline) throw new KernelStartError(`could not open the websocket of kernel ${this.kernelId} on ${this.server.url} within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      try {
        const reply = await this.request('shell', 'kernel_info_request', {}, Math.max(1000, Math.min(10_000, deadline - Date.now())));
        this.kernelInfo = reply.content as unknown as KernelInfoReply;
        this.everConnected = true;
        return;
      } catch (e) {
        if (e instanceof KernelDiedError || Date.now() > deadline) {
          throw new KernelStartError(`the kernel ${this.kernelId} on ${this.server.url} did not answer kernel_info within ${timeoutMs} ms: ${(e as Error).message}`, { cause: e });
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  private onConnectionStatus(status: 'connected' | 'connecting' | 'disconnected'): void {
    if (this.closing || this.gone) return;
    if (status === 'connected') {
      if (this.link !== LinkState.connected) {
        this.log(`reattached to kernel ${this.kernelId} on ${this.server.url} after ${(this.silentMs / 1000).toFixed(1)} s`);
        this.setLink(LinkState.connected);
      }
      return;
    }
    if (!this.everConnected) return; // the first connection: connect() handles it
    if (this.link === LinkState.connected) {
      this.log(`the link to kernel ${this.kernelId} on ${this.server.url} dropped; reconnecting`);
      this.setLink(LinkState.reconnecting);
    }
    this.scheduleWatch(0);
  }

  private setLink(state: LinkState): void {
    if (this.link === state) return;
    this.link = state;
    if (state === LinkState.connected) {
      this.downSince = undefined;
      if (this.unresponsiveTimer) clearTimeout(this.unresponsiveTimer);
      this.unresponsiveTimer = undefined;
      if (this.watchTimer) clearTimeout(this.watchTimer);
      this.watchTimer = undefined;
      if (!this.responsive) {
        this.responsive = true;
        this.emit('responsive');
      }
    } else if (this.downSince === undefined) {
      this.downSince = Date.now();
      this.unresponsiveTimer = setTimeout(() => {
        if (this.link !== LinkState.connected && !this.gone && this.responsive) {
          this.responsive = false;
          this.emit('unresponsive', this.silentMs);
        }
      }, this.options.unresponsiveAfterMs ?? 30_000);
      this.unresponsiveTimer.unref();
    }
    this.emit('link', state);
  }

  /** While the link is down: ask the REST API about the kernel, with backoff. */
  private scheduleWatch(delayMs: number, attempt = 0): void {
    if (this.watchTimer) clearTimeout(this.watchTimer);
    this.watchTimer = setTimeout(() => void this.watch(attempt), delayMs);
    this.watchTimer.unref();
  }

  private async watch(attempt: number): Promise<void> {
    this.watchTimer = undefined;
    if (this.closing || this.gone || this.link === LinkState.connected) return;
    const limit = this.options.linkTimeoutMs ?? 300_000;
    if (this.silentMs > limit) {
      this.declareGone(`the link to ${this.server.url} stayed down for ${Math.round(this.silentMs / 1000)} s`);
      return;
    }
    let exists: boolean | undefined;
    try {
      exists = await this.server.kernelExists(this.kernelId);
    } catch (e) {
      this.log(`checking kernel ${this.kernelId}: ${(e as Error).message}`);
      exists = undefined;
    }
    if (this.closing || this.gone || this.linkState === LinkState.connected) return;
    if (exists === false) {
      this.declareGone(`the kernel is no longer on the server (the server restarted, or the kernel was shut down or culled)`);
      return;
    }
    if (exists === true && this.kernel.connectionStatus !== 'connected') {
      // The server answers and the kernel lives: reconnect now rather than at services' next backoff.
      this.log(`kernel ${this.kernelId} is alive on ${this.server.url}; reconnecting`);
      if (this.kernel.isDisposed) this.kernel = this.makeKernel();
      this.kernel.reconnect().catch(() => undefined);
    }
    this.scheduleWatch(Math.min(15_000, 2000 * 1.5 ** attempt), attempt + 1);
  }

  private async checkGone(why: string): Promise<void> {
    const exists = await this.server.kernelExists(this.kernelId).catch(() => undefined);
    if (exists === false || this.kernel.status === 'dead') this.declareGone(why);
  }

  private declareGone(reason: string): void {
    if (this.gone || this.closing) return;
    this.gone = true;
    this.stopWatching();
    this.log(`kernel ${this.kernelId} on ${this.server.url} is gone: ${reason}`);
    const error = new KernelDiedError(null, null, '', `The kernel on ${this.server.url} is gone: ${reason}.`);
    for (const p of this.pending) p.reject(error);
    this.pending.clear();
    this.link = LinkState.disconnected;
    this.emit('link', LinkState.disconnected);
    this.emit('exit', null, null, error.message);
    this.removeLogSink();
    live.delete(this);
    if (!this.kernel.isDisposed) this.kernel.dispose();
  }

  /** Starts or stops the liveness check with the requests waiting for replies. */
  private updateAliveCheck(): void {
    const want = this.pending.size > 0 && !this.gone && !this.closing;
    if (want && this.aliveTimer === undefined) {
      let asking = false;
      this.aliveTimer = setInterval(() => {
        if (asking || this.linkState !== LinkState.connected) return; // a dropped link has its own watch
        asking = true;
        void this.server
          .kernelExists(this.kernelId)
          .then((exists) => {
            if (exists === false) this.declareGone('the kernel is no longer on the server (it was shut down, culled, or the server restarted)');
          }, () => undefined)
          .finally(() => (asking = false));
      }, this.options.aliveCheckMs ?? 5000);
      this.aliveTimer.unref();
    } else if (!want && this.aliveTimer !== undefined) {
      clearInterval(this.aliveTimer);
      this.aliveTimer = undefined;
    }
  }

  private stopWatching(): void {
    if (this.aliveTimer) clearInterval(this.aliveTimer);
    this.aliveTimer = undefined;
    if (this.watchTimer) clearTimeout(this.watchTimer);
    if (this.unresponsiveTimer) clearTimeout(this.unresponsiveTimer);
    this.watchTimer = undefined;
    this.unresponsiveTimer = undefined;
  }

  request(channel: 'shell' | 'control', msgType: string, content: object, timeoutMs?: number, onIOPub?: (m: Message) => void): Promise<Message> {
    if (this.gone) return Promise.reject(new KernelDiedError(null, null, '', `The kernel on ${this.server.url} is gone.`));
    if (this.closing) return Promise.reject(new Error('the client is closed'));
    const msg = KernelMessage.createMessage({
      msgType: msgType as 'kernel_info_request',
      channel: channel as never,
      session: this.clientId,
      username: os.userInfo().username,
      content: content as never,
    });
    let future: Kernel.IShellFuture | Kernel.IControlFuture;
    try {
      future = channel === 'shell' ? this.kernel.sendShellMessage(msg, true, true) : this.kernel.sendControlMessage(msg as never, true, true);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    if (onIOPub) {
      future.onIOPub = (m) => {
        if (m.header.msg_type === 'status' && (m.content as { execution_state?: string }).execution_state === 'idle') return;
        onIOPub(m as unknown as Message);
      };
    }
    let entry!: Pending;
    const failed = new Promise<never>((_, reject) => {
      entry = { msgType, reject };
      this.pending.add(entry);
    });
    this.updateAliveCheck();
    failed.catch(() => undefined);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout =
      timeoutMs === undefined
        ? undefined
        : new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no ${msgType.replace('_request', '_reply')} within ${timeoutMs} ms`)), timeoutMs);
          });
    const done = (future.done as Promise<unknown>).then((reply) => reply as unknown as Message);
    const race = Promise.race([done, failed, ...(timeout ? [timeout] : [])]);
    const cleanup = () => {
      this.pending.delete(entry);
      if (timer) clearTimeout(timer);
      this.updateAliveCheck();
    };
    race.then(cleanup, cleanup);
    // A request given up (timeout, kernel gone) must not leave services' future rejecting unseen.
    done.catch(() => undefined);
    return race;
  }

  /** POST api/kernels/ID/interrupt: the server interrupts the kernel as its kernelspec says (a signal). */
  async interrupt(): Promise<void> {
    await this.server.call(`POST api/kernels/${this.kernelId}/interrupt`, () => this.kernel.interrupt(), true);
  }

  /**
   * POST api/kernels/ID/restart, then reconnects and waits for kernel_info. Requests still
   * waiting fail with KernelDiedError (their kernel is gone).
   */
  async restart(): Promise<void> {
    if (this.gone) throw new KernelDiedError(null, null, '', `The kernel on ${this.server.url} is gone; start a new one.`);
    const error = new KernelDiedError(null, null, '', 'The kernel was restarted.');
    for (const p of this.pending) p.reject(error);
    this.pending.clear();
    this.closing = true; // connection changes during a restart are ours
    try {
      await this.server.call(`POST api/kernels/${this.kernelId}/restart`, () => this.kernel.restart(), true);
    } finally {
      this.closing = false;
    }
    this.setLink(LinkState.connected);
    this.kernelInfo = undefined;
    await this.connect(60_000);
  }

  /** Shuts the kernel (its session, if it has one) down on the server and closes the link. */
  async shutdown(): Promise<void> {
    if (this.closing && this.kernel.isDisposed) return;
    this.closing = true;
    this.stopWatching();
    this.removeLogSink();
    live.delete(this);
    try {
      if (!this.gone) await this.server.shutdownKernel(this.kernelId, this.options.sessionId).catch((e: unknown) => this.log(`shutting kernel ${this.kernelId} down: ${(e as Error).message}`));
    } finally {
      const error = new Error('the client is closed');
      for (const p of this.pending) p.reject(error);
      this.pending.clear();
      if (!this.kernel.isDisposed) this.kernel.dispose();
    }
  }

  /** For a kernel that no longer answers: asks the server to shut it down, and gives it up now. */
  kill(): void {
    if (this.gone || this.closing) return;
    void this.server.shutdownKernel(this.kernelId, this.options.sessionId).catch(() => undefined);
    this.declareGone('it was shut down because it stopped answering');
  }
}
