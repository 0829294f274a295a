/**
 * A Jupyter client for the TransferLab kernel (or any kernel speaking protocol 5.3 over
 * ZeroMQ): launches the kernel process with a fresh connection file, sends requests, routes
 * iopub messages to the request they belong to. Used by the VS Code extension, the command
 * line (`transferlab run`), the benchmarks and the tests. Imports only kernel/protocol.
 */
import * as zmq from 'zeromq';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { ConnectionInfo, Header, KernelInfoReply, Message } from '../kernel/protocol/messages';
import { Signer, decode, encode } from '../kernel/protocol/wire';
import { OWNS_CONNECTION_FILE_ENV, PARENT_PID_ENV } from '../kernel/protocol/environment';
import { KernelDiedError, KernelStartError, KernelUnresponsiveError } from './errors';
import { KernelRequests, type ExecuteOptions, type KernelConnection, type KernelLocation } from './connection';

export type { ExecuteOptions, KernelConnection };

export { KernelDiedError, KernelStartError, KernelUnresponsiveError };

/**
 * Heartbeat monitoring, as Jupyter clients do it: a ping on the kernel's hb socket every
 * `intervalMs`; a ping without an echo within `timeoutMs` is a miss, and `misses` misses in a row
 * make the client emit 'unresponsive' (silent milliseconds). The next echo emits 'responsive'.
 */
export interface HeartbeatOptions {
  /** Between pings (default 3000 ms). */
  readonly intervalMs?: number;
  /** How long one ping waits for its echo (default 5000 ms). */
  readonly timeoutMs?: number;
  /** Missed pings in a row before 'unresponsive' (default 3). */
  readonly misses?: number;
}

export interface LaunchOptions {
  /** Working directory of the kernel (the notebook's folder). */
  readonly cwd: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Node executable; default: the one running this code (or `node` inside VS Code). */
  readonly nodePath?: string;
  /** The kernel script; default: dist/kernel.js of this package. */
  readonly kernelScript?: string;
  /**
   * Another kernel's command line, `{connection_file}` standing for the file (e.g. ipykernel's,
   * for side-by-side benchmarks). Default: Node running the TransferLab kernel.
   */
  readonly argv?: readonly string[];
  /** Milliseconds to wait for kernel_info_reply. */
  readonly startTimeoutMs?: number;
  /** Called with each chunk the kernel process writes to its stderr (its log). */
  readonly onLog?: (text: string) => void;
  /** Heartbeat monitoring (default on, with the defaults of {@link HeartbeatOptions}); false: off. */
  readonly heartbeat?: HeartbeatOptions | false;
}

/**
 * The kernels this process launched and has not shut down yet. When the process exits (normally,
 * through `process.exit`, or from a signal handler that calls it) each is sent SIGTERM and its
 * connection folder, key included, is removed: 'exit' handlers run synchronously, so this is all
 * that can be done there. A process killed outright (SIGKILL) runs no handler: then the kernel
 * notices its parent is gone (JPY_PARENT_PID) and cleans up itself.
 */
const launched = new Set<KernelClient>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const client of launched) client.abandon();
  });
}

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<import('node:net').Server>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

interface PendingRequest {
  resolve(m: Message): void;
  reject(e: Error): void;
  onIOPub?: (m: Message) => void;
  /** Resolves when status idle with this parent arrived. */
  idle: Promise<void>;
  markIdle(): void;
}

/**
 * Events: 'exit' (code, signal) when a launched process exits; 'status' (execution_state);
 * 'iopub' (every iopub message); 'log' (text); 'unresponsive' (silent ms) and 'responsive' from
 * the heartbeat.
 */
export class KernelClient extends KernelRequests implements KernelConnection {
  private readonly signer: Signer;
  private readonly session = randomUUID();
  private shell!: zmq.Dealer;
  private control!: zmq.Dealer;
  private iopub!: zmq.Subscriber;
  private readonly pending = new Map<string, PendingRequest>();
  private sendTail: Promise<void> = Promise.resolve();
  private stderrTail = '';
  private closed = false;
  /** kernel_info_reply content, after launch. */
  kernelInfo: KernelInfoReply | undefined;
  /** Last execution_state seen on iopub. */
  executionState: string = 'starting';
  /** False while the heartbeat is missing (see {@link HeartbeatOptions}). */
  responsive = true;
  /** When the last heartbeat echo arrived (epoch ms). */
  private lastEcho = Date.now();
  private heartbeatSocket: zmq.Request | undefined;
  private heartbeatTimer: ReturnType<typeof setTimeout> | undefined;
  /** Bumped when heartbeat monitoring stops or restarts, so that a loop of an older run ends. */
  private heartbeatRun = 0;

  private constructor(
    readonly connection: ConnectionInfo,
    public process: ChildProcess | undefined,
    private readonly launchOptions: LaunchOptions | undefined,
    private readonly connectionFile: string | undefined,
    private readonly heartbeatOptions: HeartbeatOptions | false = {},
  ) {
    super();
    this.signer = new Signer(connection.key, connection.signature_scheme);
  }

  /**
   * Starts a kernel process and connects to it. The ports are found free here and bound by the
   * kernel a moment later; another process can take one in between (tests and CI start many
   * kernels at once), so a kernel that fails with "address already in use" is started again on
   * fresh ports, up to three times in all.
   */
  static async launch(options: LaunchOptions): Promise<KernelClient> {
    for (let attempt = 1; ; attempt++) {
      const ports = await freePorts(5);
      const connection: ConnectionInfo = {
        transport: 'tcp',
        ip: '127.0.0.1',
        shell_port: ports[0]!,
        control_port: ports[1]!,
        stdin_port: ports[2]!,
        iopub_port: ports[3]!,
        hb_port: ports[4]!,
        key: randomBytes(32).toString('hex'),
        signature_scheme: 'hmac-sha256',
        kernel_name: 'transferlab',
      };
      const dir = mkdtempSync(path.join(os.tmpdir(), 'transferlab-'));
      const file = path.join(dir, 'connection.json');
      writeFileSync(file, JSON.stringify(connection), { mode: 0o600 });
      const client = new KernelClient(connection, undefined, options, file, options.heartbeat ?? {});
      installExitHook();
      launched.add(client);
      try {
        await client.spawnAndConnect();
        return client;
      } catch (e) {
        launched.delete(client);
        client.closeSockets();
        client.process?.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
        if (attempt >= 3 || !(e instanceof KernelStartError) || !/address already in use|EADDRINUSE/i.test(e.message)) throw e;
        options.onLog?.(`kernel start: a port was taken (${e.message.split('\n').find((l) => /in use/i.test(l))?.trim()}); starting again on fresh ports\n`);
      }
    }
  }

  /**
   * Connects to a kernel someone else started. There is no process to watch: the heartbeat is
   * what tells that it is gone ('unresponsive').
   */
  static async connect(connection: ConnectionInfo, options: { heartbeat?: HeartbeatOptions | false } = {}): Promise<KernelClient> {
    const client = new KernelClient(connection, undefined, undefined, undefined, options.heartbeat ?? {});
    client.openSockets();
    await client.waitForKernelInfo(30_000);
    client.startHeartbeat();
    return client;
  }

  private async spawnAndConnect(): Promise<void> {
    const o = this.launchOptions!;
    const script = o.kernelScript ?? path.resolve(__dirname, '..', 'dist', 'kernel.js');
    const node = o.nodePath ?? (process.versions.electron ? 'node' : process.execPath);
    const [cmd, ...args] = o.argv ? o.argv.map((a) => a.replace('{connection_file}', this.connectionFile!)) : [node, script, this.connectionFile!];
    // JPY_PARENT_PID (the Jupyter convention): the kernel exits when this process is gone. Set here,
    // not inherited: a client started from inside another kernel must not pass on that one's.
    const env = { ...process.env, [PARENT_PID_ENV]: String(process.pid), [OWNS_CONNECTION_FILE_ENV]: '1', ...o.env };
    const child = spawn(cmd!, args, { cwd: o.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.process = child;
    this.stderrTail = '';
    child.stdout?.on('data', (d: Buffer) => o.onLog?.(d.toString()));
    child.stderr?.on('data', (d: Buffer) => {
      const t = d.toString();
      this.stderrTail = (this.stderrTail + t).slice(-4000);
      o.onLog?.(t);
    });
    const exited = new Promise<never>((_, reject) => {
      child.once('error', (e) => reject(new KernelStartError(`could not start the kernel with ${cmd}: ${e.message}`)));
      child.once('exit', (code, signal) => {
        const err = new KernelDiedError(code, signal, this.stderrTail.trim().split('\n').slice(-20).join('\n'));
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
        if (this.process === child) {
          this.stopHeartbeat();
          this.emit('exit', code, signal);
        }
        reject(new KernelStartError(err.message, { cause: err }));
      });
    });
    exited.catch(() => undefined);
    this.openSockets();
    await Promise.race([this.waitForKernelInfo(o.startTimeoutMs ?? 30_000), exited]);
    this.startHeartbeat();
  }

  private address(port: number): string {
    const c = this.connection;
    return c.transport === 'ipc' ? `ipc://${c.ip}-${port}` : `tcp://${c.ip}:${port}`;
  }

  /** Pings the hb socket until the client closes (see {@link HeartbeatOptions}). */
  private startHeartbeat(): void {
    this.stopHeartbeat();
    if (this.heartbeatOptions === false) return;
    const intervalMs = this.heartbeatOptions.intervalMs ?? 3000;
    const timeoutMs = this.heartbeatOptions.timeoutMs ?? 5000;
    const misses = this.heartbeatOptions.misses ?? 3;
    const run = ++this.heartbeatRun;
    let missed = 0;
    this.lastEcho = Date.now();
    this.responsive = true;
    const beat = async (): Promise<void> => {
      if (run !== this.heartbeatRun || this.closed) return;
      // A REQ socket whose request went unanswered cannot send again: each miss gets a new one.
      if (!this.heartbeatSocket) {
        this.heartbeatSocket = new zmq.Request({ linger: 0, receiveTimeout: timeoutMs, sendTimeout: timeoutMs });
        this.heartbeatSocket.connect(this.address(this.connection.hb_port));
      }
      const socket = this.heartbeatSocket;
      let ok = false;
      try {
        const ping = Buffer.from(randomUUID());
        await socket.send(ping);
        const [echo] = await socket.receive();
        ok = echo !== undefined && echo.equals(ping);
      } catch {
        ok = false;
      }
      if (run !== this.heartbeatRun || this.closed) return;
      if (ok) {
        missed = 0;
        this.lastEcho = Date.now();
        if (!this.responsive) {
          this.responsive = true;
          this.emit('responsive');
        }
      } else {
        socket.close();
        if (this.heartbeatSocket === socket) this.heartbeatSocket = undefined;
        missed++;
        if (missed >= misses && this.responsive) {
          this.responsive = false;
          this.emit('unresponsive', this.silentMs);
        }
      }
      this.heartbeatTimer = setTimeout(() => void beat(), intervalMs);
      this.heartbeatTimer.unref();
    };
    this.heartbeatTimer = setTimeout(() => void beat(), intervalMs);
    this.heartbeatTimer.unref();
  }

  /** A process this machine started (or a kernel it connected to by connection file). */
  get location(): KernelLocation {
    return { kind: 'local', pid: this.process?.pid };
  }

  /** SIGKILL to the kernel process, if this client started one that still runs. */
  kill(): void {
    const child = this.process;
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }

  /** Milliseconds since the last heartbeat echo (0 while the kernel is responsive). */
  get silentMs(): number {
    return this.responsive ? 0 : Date.now() - this.lastEcho;
  }

  private stopHeartbeat(): void {
    this.heartbeatRun++;
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    this.heartbeatSocket?.close();
    this.heartbeatSocket = undefined;
  }

  private openSockets(): void {
    const c = this.connection;
    const addr = (p: number) => this.address(p);
    this.shell = new zmq.Dealer({ routingId: this.session, linger: 0 });
    this.control = new zmq.Dealer({ routingId: `${this.session}-control`, linger: 0 });
    this.iopub = new zmq.Subscriber({ linger: 0 });
    this.shell.connect(addr(c.shell_port));
    this.control.connect(addr(c.control_port));
    this.iopub.connect(addr(c.iopub_port));
    this.iopub.subscribe();
    void this.receive(this.shell);
    void this.receive(this.control);
    void this.receiveIOPub();
  }

  private async waitForKernelInfo(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    // iopub subscriptions take a moment; kernel_info until a reply arrives (as jupyter_client does).
    while (Date.now() < deadline) {
      try {
        const reply = await this.request('shell', 'kernel_info_request', {}, Math.min(1000, deadline - Date.now()));
        this.kernelInfo = reply.content as unknown as KernelInfoReply;
        return;
      } catch (e) {
        if (e instanceof KernelDiedError) throw e;
      }
    }
    throw new KernelStartError(`the kernel did not answer kernel_info_request within ${timeoutMs} ms${this.stderrTail ? `; its log:\n${this.stderrTail}` : ''}`);
  }

  private async receive(socket: zmq.Dealer): Promise<void> {
    try {
      for await (const frames of socket) {
        let msg: Message;
        try {
          msg = decode(frames as Buffer[], this.signer);
        } catch (e) {
          this.emit('log', `dropped a reply: ${(e as Error).message}`);
          continue;
        }
        const id = (msg.parent_header as Header).msg_id;
        const p = this.pending.get(id);
        if (p) {
          this.pending.delete(id);
          p.resolve(msg);
        }
      }
    } catch (e) {
      if (!this.closed) this.emit('log', `socket closed: ${(e as Error).message}`);
    }
  }

  private async receiveIOPub(): Promise<void> {
    try {
      for await (const frames of this.iopub) {
        let msg: Message;
        try {
          msg = decode(frames as Buffer[], this.signer);
        } catch {
          continue;
        }
        if (msg.header.msg_type === 'status') {
          this.executionState = (msg.content as { execution_state: string }).execution_state;
          this.emit('status', this.executionState);
        }
        this.emit('iopub', msg);
        const parentId = (msg.parent_header as Header).msg_id;
        const p = parentId ? this.inflight.get(parentId) : undefined;
        if (p) {
          if (msg.header.msg_type === 'status' && (msg.content as { execution_state: string }).execution_state === 'idle') p.markIdle();
          else p.onIOPub?.(msg);
        }
      }
    } catch (e) {
      if (!this.closed) this.emit('log', `iopub closed: ${(e as Error).message}`);
    }
  }

  /** Requests whose iopub messages are still expected (until their status idle). */
  private readonly inflight = new Map<string, PendingRequest>();

  /**
   * Sends a request and resolves with its reply, after the kernel's status idle for it (so every
   * output has arrived). Rejects with KernelDiedError if the kernel exits first.
   */
  request(channel: 'shell' | 'control', msgType: string, content: object, timeoutMs?: number, onIOPub?: (m: Message) => void): Promise<Message> {
    if (this.closed) return Promise.reject(new Error('the client is closed'));
    const header: Header = { msg_id: randomUUID(), session: this.session, username: os.userInfo().username, date: new Date().toISOString(), msg_type: msgType, version: '5.3' };
    const frames = encode({ identities: [], header, parent_header: {}, metadata: {}, content }, this.signer);
    const socket = channel === 'shell' ? this.shell : this.control;
    let markIdle!: () => void;
    const idle = new Promise<void>((r) => (markIdle = r));
    const reply = new Promise<Message>((resolve, reject) => {
      const entry: PendingRequest = { resolve, reject, onIOPub, idle, markIdle };
      this.pending.set(header.msg_id, entry);
      this.inflight.set(header.msg_id, entry);
    });
    this.sendTail = this.sendTail.then(() => socket.send(frames)).catch((e: Error) => this.pending.get(header.msg_id)?.reject(e));
    const done = reply.then(async (m) => {
      // Outputs precede idle on iopub; wait for it, but not forever (iopub may be unsubscribed).
      await Promise.race([idle, new Promise((r) => setTimeout(r, 2000))]);
      return m;
    });
    const cleanup = () => this.inflight.delete(header.msg_id);
    done.then(cleanup, cleanup);
    if (!timeoutMs) return done;
    return Promise.race([
      done,
      new Promise<never>((_, reject) =>
        setTimeout(() => {
          this.pending.delete(header.msg_id);
          reject(new Error(`no ${msgType.replace('_request', '_reply')} within ${timeoutMs} ms`));
        }, timeoutMs),
      ),
    ]);
  }

  /** Interrupts the running cell: SIGINT to a process we started (interrupt_mode signal), else interrupt_request. */
  async interrupt(): Promise<void> {
    if (this.process && this.process.exitCode === null && this.process.signalCode === null) {
      this.process.kill('SIGINT');
      return;
    }
    await this.request('control', 'interrupt_request', {}, 5000);
  }

  /** Restarts a kernel we started: asks it to shut down (or kills it), then starts a new one. */
  async restart(): Promise<void> {
    if (!this.launchOptions) throw new Error('restart needs a kernel started by KernelClient.launch');
    await this.stopProcess(true);
    this.closeSockets();
    this.closed = false;
    await this.spawnAndConnect();
  }

  private async stopProcess(restart: boolean): Promise<void> {
    const child = this.process;
    this.stopHeartbeat();
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    this.process = undefined;
    await this.request('control', 'shutdown_request', { restart }, 2000).catch(() => undefined);
    const t = setTimeout(() => child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(t);
  }

  private closeSockets(): void {
    this.closed = true;
    this.stopHeartbeat();
    for (const s of [this.shell, this.control, this.iopub]) s?.close();
  }

  /** Shuts the kernel down (if we started it) and closes the sockets. */
  async shutdown(): Promise<void> {
    try {
      await this.stopProcess(false);
      this.closeSockets();
    } finally {
      this.removeConnectionFile();
    }
  }

  /**
   * Synchronous last-resort cleanup, for a process that is exiting: SIGTERM to a kernel we started
   * that still runs, the connection file and its folder removed. Called for every launched client
   * from the process's 'exit' handler; safe to call more than once.
   */
  abandon(): void {
    const child = this.process;
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    this.removeConnectionFile();
  }

  private removeConnectionFile(): void {
    launched.delete(this);
    if (this.connectionFile) rmSync(path.dirname(this.connectionFile), { recursive: true, force: true });
  }
}
