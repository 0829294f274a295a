/**
 * What every driver of a kernel (the VS Code extension, `transferlab run`, `transferlab sweep`,
 * the benchmarks) needs from it, wherever it runs: a process this machine started over ZeroMQ
 * ({@link KernelClient}, client/kernelClient.ts) or a kernel on a Jupyter Server reached over REST
 * and its websocket ({@link RemoteKernelClient}, client/remoteKernel.ts). Drivers are written
 * against this interface only, so they do not care where the kernel is.
 */
import { EventEmitter } from 'node:events';
import type { CompleteReply, ExecuteReply, ExecuteRequest, InspectReply, IsCompleteReply, KernelInfoReply, Message } from '../kernel/protocol/messages';

export interface ExecuteOptions {
  readonly onIOPub?: (msg: Message) => void;
  readonly silent?: boolean;
  readonly storeHistory?: boolean;
  readonly stopOnError?: boolean;
  /** Called with the whole execute_reply message (its `metadata` carries the variables summary). */
  readonly onReply?: (reply: Message) => void;
}

/** Where a kernel runs, as shown to people (status bars, logs, summaries). Never holds a token. */
export type KernelLocation =
  | { readonly kind: 'local'; readonly pid: number | undefined }
  | {
      readonly kind: 'remote';
      /** The server's URL with its base path, e.g. `https://hub.example.org/user/ada/`; no token, no query. */
      readonly server: string;
      /** The kernel's id on the server. */
      readonly kernelId: string;
    };

/** The state of the link to a remote kernel (a local kernel is always `connected`). */
export const LinkState = {
  connected: 'connected',
  /** The websocket dropped; trying again with backoff. */
  reconnecting: 'reconnecting',
  /** Gave up, or the kernel is gone. */
  disconnected: 'disconnected',
} as const;
export type LinkState = (typeof LinkState)[keyof typeof LinkState];

/**
 * A connected kernel. Events (node:events):
 * - `'exit'` (code: number | null, signal: string | null, reason?: string): the kernel is gone
 *   without being asked to (a local process that exited; a remote kernel that died, was culled or
 *   lost with its server). Requests still waiting reject with `KernelDiedError`.
 * - `'status'` (execution_state), `'iopub'` (every iopub message), `'log'` (text; never a token).
 * - `'unresponsive'` (silent ms) and `'responsive'`: the heartbeat (local) or the link (remote).
 * - `'link'` (LinkState): remote only; a dropped websocket, retried, and back.
 */
export interface KernelConnection extends EventEmitter {
  /** kernel_info_reply content, after start. */
  readonly kernelInfo: KernelInfoReply | undefined;
  /** Last execution_state seen on iopub. */
  readonly executionState: string;
  /** False while the heartbeat (or, remote, the link) is missing. */
  readonly responsive: boolean;
  /** Milliseconds without sign of life (0 while responsive). */
  readonly silentMs: number;
  readonly location: KernelLocation;
  /**
   * Sends a request and resolves with its reply, after the kernel's status idle for it (so every
   * output has arrived). Rejects with KernelDiedError if the kernel goes away first.
   */
  request(channel: 'shell' | 'control', msgType: string, content: object, timeoutMs?: number, onIOPub?: (m: Message) => void): Promise<Message>;
  /** Runs code; iopub messages of this request go to onIOPub. Resolves with execute_reply content. */
  execute(code: string, options?: ExecuteOptions): Promise<ExecuteReply>;
  complete(code: string, cursorPos: number): Promise<CompleteReply>;
  inspect(code: string, cursorPos: number, detailLevel?: 0 | 1): Promise<InspectReply>;
  isComplete(code: string): Promise<IsCompleteReply>;
  /** Interrupts the running cell. */
  interrupt(): Promise<void>;
  /** A fresh kernel with empty state, behind the same connection. */
  restart(): Promise<void>;
  /** Shuts the kernel down and closes the connection. */
  shutdown(): Promise<void>;
  /**
   * Ends the kernel at once without asking it (SIGKILL to a local process; a remote kernel is shut
   * down through the server's REST API). For a kernel that no longer answers.
   */
  kill(): void;
}

/**
 * The requests every kernel connection makes the same way, on top of its own `request`: what
 * differs between a local and a remote kernel is the transport, not the messages.
 */
export abstract class KernelRequests extends EventEmitter {
  abstract request(channel: 'shell' | 'control', msgType: string, content: object, timeoutMs?: number, onIOPub?: (m: Message) => void): Promise<Message>;

  /** Runs code; iopub messages of this request go to onIOPub. Resolves with execute_reply content. */
  async execute(code: string, options: ExecuteOptions = {}): Promise<ExecuteReply> {
    const content: ExecuteRequest = {
      code,
      silent: options.silent ?? false,
      store_history: options.storeHistory ?? true,
      user_expressions: {},
      allow_stdin: false,
      stop_on_error: options.stopOnError ?? true,
    };
    const reply = await this.request('shell', 'execute_request', content, undefined, options.onIOPub);
    options.onReply?.(reply);
    return reply.content as unknown as ExecuteReply;
  }

  async complete(code: string, cursorPos: number): Promise<CompleteReply> {
    return (await this.request('shell', 'complete_request', { code, cursor_pos: cursorPos })).content as unknown as CompleteReply;
  }

  async inspect(code: string, cursorPos: number, detailLevel: 0 | 1 = 0): Promise<InspectReply> {
    return (await this.request('shell', 'inspect_request', { code, cursor_pos: cursorPos, detail_level: detailLevel })).content as unknown as InspectReply;
  }

  async isComplete(code: string): Promise<IsCompleteReply> {
    return (await this.request('shell', 'is_complete_request', { code })).content as unknown as IsCompleteReply;
  }
}

/** Words for a location: `pid 1234` or `https://host/base/ (kernel 8c1f…)`. */
export function describeLocation(location: KernelLocation): string {
  return location.kind === 'local' ? (location.pid === undefined ? 'local' : `local, pid ${location.pid}`) : `${location.server} (kernel ${location.kernelId.slice(0, 8)})`;
}
