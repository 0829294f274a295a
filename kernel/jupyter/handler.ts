/**
 * The kernel's message handler: one method per request type, no sockets. The transport decodes
 * and verifies messages and calls `handle`; replies and iopub messages go out through the
 * `KernelIO` it is given, so tests can drive the handler directly.
 *
 * Every request is bracketed by status busy → idle on iopub, every reply and output carries its
 * request as parent. Shell requests run one at a time in order; control requests (interrupt,
 * shutdown, kernel_info) are answered at once, also while a cell runs.
 */
import {
  PROTOCOL_VERSION,
  isRequestType,
  replyTypeOf,
  type CommInfoReply,
  type ExecuteReply,
  type Header,
  type IsCompleteReply,
  type Message,
  type RequestType,
} from '../protocol/messages';
import { BadRequestError, validateHeader, validateRequest, type ValidRequestContent } from '../protocol/validate';
import { KERNEL_INFO_BACKEND_KEY, startingBackend, type KernelBackendInfo, type TransferLabKernelInfoReply } from '../protocol/backends';
import type { ExecuteOutcome, DisplayMessage } from '../executor/workerProtocol';
import type { OutputListener } from '../executor/workerHost';
import { History } from './history';
import { VARIABLES_METADATA_KEY } from '../protocol/variables';

export type ReplyChannel = 'shell' | 'control';

/** Where the handler sends what it produces. */
export interface KernelIO {
  reply(channel: ReplyChannel, request: Message, msgType: string, content: object, metadata?: Record<string, unknown>): void;
  publish(msgType: string, content: object, parent: Header | undefined, metadata?: Record<string, unknown>): void;
  log(text: string): void;
}

/** What the handler needs from the executor (WorkerHost in the kernel; fakes in tests). */
export interface ExecutorPort {
  execute(code: string, executionCount: number, silent: boolean, storeHistory: boolean, output: OutputListener): Promise<ExecuteOutcome>;
  complete(code: string, cursorPos: number): Promise<{ matches: string[]; cursorStart: number; cursorEnd: number; metadata: Record<string, unknown> }>;
  inspect(code: string, cursorPos: number, detailLevel: number): Promise<{ found: boolean; data: Record<string, unknown> }>;
  isComplete(code: string): Promise<IsCompleteReply>;
  interrupt(): Promise<void>;
  /** The compute backend once the executor has started it; undefined while it starts. */
  readonly computeBackend: KernelBackendInfo | undefined;
}

export interface HandlerOptions {
  readonly version: string;
  /** The compute backend as configured before it started (e.g. `auto`, `wasm`). */
  readonly backendChoice: string;
  /** Called after shutdown_reply is sent. */
  readonly onShutdown: (restart: boolean) => void;
}

export class KernelHandler {
  private executionCount = 0;
  private readonly history = new History();
  private shellQueue: Promise<void> = Promise.resolve();
  /** Execute requests received but not yet started; aborted after an error with stop_on_error. */
  private readonly queued = new Set<Message>();
  private readonly aborted = new Set<Message>();
  private lastParent: Header | undefined;
  /** Reply metadata of requests being answered (execute_reply: the variables summary). */
  private readonly replyMetadata = new Map<Message, Record<string, unknown>>();

  constructor(
    private readonly executor: ExecutorPort,
    private readonly io: KernelIO,
    private readonly opts: HandlerOptions,
  ) {}

  /**
   * Entry point for every decoded message on shell or control. Never rejects: whatever goes wrong
   * while handling one message is answered (or logged) and the next message is handled as usual.
   */
  handle(channel: ReplyChannel, msg: Message): Promise<void> {
    const type = this.msgTypeOf(msg);
    if (channel === 'shell' && type !== 'kernel_info_request' && type !== 'interrupt_request' && type !== 'shutdown_request') {
      if (type === 'execute_request') this.queued.add(msg);
      const run = this.shellQueue.then(() => this.dispatch(channel, msg));
      this.shellQueue = run.catch(() => undefined);
      return run;
    }
    return this.dispatch(channel, msg);
  }

  /** Waits until every shell request received so far has been handled. */
  drain(): Promise<void> {
    return this.shellQueue;
  }

  private msgTypeOf(msg: Message): string | undefined {
    const header = msg.header as unknown;
    return header !== null && typeof header === 'object' && typeof (header as Header).msg_type === 'string' ? (header as Header).msg_type : undefined;
  }

  /** Handles one message; catches everything, so that the shell queue always goes on. */
  private async dispatch(channel: ReplyChannel, msg: Message): Promise<void> {
    try {
      await this.dispatchUnsafe(channel, msg);
    } catch (e) {
      this.queued.delete(msg);
      this.aborted.delete(msg);
      this.logSafely(`failed to handle a message on ${channel}: ${describeError(e)}`);
    }
  }

  private logSafely(text: string): void {
    try {
      this.io.log(text);
    } catch {
      // nowhere left to report it
    }
  }

  private async dispatchUnsafe(channel: ReplyChannel, msg: Message): Promise<void> {
    try {
      validateHeader(msg.header);
    } catch (e) {
      this.queued.delete(msg);
      this.io.log(`dropped a message on ${channel}: ${(e as Error).message}`);
      return;
    }
    const type = msg.header.msg_type;
    if (!isRequestType(type)) {
      this.io.log(`ignoring unsupported message type ${JSON.stringify(type.length > 80 ? `${type.slice(0, 80)}…` : type)} on ${channel}`);
      return;
    }
    this.io.publish('status', { execution_state: 'busy' }, msg.header);
    let restart: boolean | undefined;
    try {
      const content = validateRequest(type, msg.content);
      if (type === 'shutdown_request') restart = (content as ValidRequestContent['shutdown_request']).restart;
      const reply = await this.answer(type, msg, content);
      if (reply) this.io.reply(channel, msg, replyTypeOf(type), reply, this.replyMetadata.get(msg));
    } catch (e) {
      this.queued.delete(msg);
      this.aborted.delete(msg);
      if (!(e instanceof BadRequestError)) this.io.log(`error handling ${type}: ${describeError(e)}`);
      else this.io.log(`rejected a request: ${e.message}`);
      const error = e instanceof Error ? e : new Error(String(e));
      const content: Record<string, unknown> = { status: 'error', ename: error.name || 'Error', evalue: error.message, traceback: [`${error.name || 'Error'}: ${error.message}`] };
      if (type === 'execute_request') content.execution_count = this.executionCount;
      this.io.reply(channel, msg, replyTypeOf(type), content);
    } finally {
      this.replyMetadata.delete(msg);
      this.io.publish('status', { execution_state: 'idle' }, msg.header);
    }
    if (restart !== undefined) this.opts.onShutdown(restart);
  }

  /** The reply content of a request (undefined when the method sent its own reply). */
  private answer(type: RequestType, msg: Message, content: ValidRequestContent[RequestType]): Promise<object | undefined> | object {
    switch (type) {
      case 'kernel_info_request':
        return this.kernelInfo();
      case 'execute_request':
        return this.execute(msg, content as ValidRequestContent['execute_request']);
      case 'complete_request':
        return this.complete(content as ValidRequestContent['complete_request']);
      case 'inspect_request':
        return this.inspect(content as ValidRequestContent['inspect_request']);
      case 'is_complete_request':
        return this.executor.isComplete((content as ValidRequestContent['is_complete_request']).code);
      case 'history_request':
        return { status: 'ok', history: this.history.query(content as ValidRequestContent['history_request']) };
      case 'comm_info_request':
        return { status: 'ok', comms: {} } satisfies CommInfoReply;
      case 'shutdown_request':
        return { status: 'ok', restart: (content as ValidRequestContent['shutdown_request']).restart };
      case 'interrupt_request':
        return this.executor.interrupt().then(() => ({ status: 'ok' }));
      default: {
        const never: never = type;
        throw new Error(`unhandled request ${String(never)}`);
      }
    }
  }

  /**
   * The kernel_info_reply: the standard fields, a banner for people, and the compute backend as
   * data under {@link KERNEL_INFO_BACKEND_KEY} (`starting` until the executor has started it).
   */
  kernelInfo(): TransferLabKernelInfoReply {
    const backend = this.executor.computeBackend ?? startingBackend(this.opts.backendChoice);
    return {
      status: 'ok',
      protocol_version: PROTOCOL_VERSION,
      implementation: 'transferlab',
      implementation_version: this.opts.version,
      language_info: {
        name: 'typescript',
        version: '5.9',
        mimetype: 'text/typescript',
        file_extension: '.ts',
        pygments_lexer: 'typescript',
        codemirror_mode: { name: 'javascript', typescript: true },
        nbconvert_exporter: 'script',
      },
      banner: `TransferLab ${this.opts.version}: TypeScript 5.9 on Node ${process.version}; compute backend: ${backend.description}. \`tl\` (analysis) and \`tf\` (TensorFlow.js) are preloaded.`,
      debugger: false,
      help_links: [{ text: 'TransferLab', url: 'https://www.npmjs.com/package/transferlab' }],
      [KERNEL_INFO_BACKEND_KEY]: backend,
    };
  }

  private async execute(msg: Message, req: ValidRequestContent['execute_request']): Promise<ExecuteReply | undefined> {
    this.queued.delete(msg);
    const code = req.code;
    const silent = req.silent ?? false;
    const storeHistory = req.store_history === undefined ? !silent : req.store_history && !silent;
    const stopOnError = req.stop_on_error ?? true;
    if (this.aborted.delete(msg)) {
      return { status: 'aborted', execution_count: this.executionCount };
    }
    if (storeHistory) this.executionCount++;
    const count = this.executionCount;
    const parent = msg.header;
    this.lastParent = parent;
    if (!silent) this.io.publish('execute_input', { code, execution_count: count }, parent);
    const historyItem = storeHistory ? this.history.add(count, code) : undefined;
    if (code.trim() === '') return { status: 'ok', execution_count: count, user_expressions: {}, payload: [] };

    const outcome = await this.executor.execute(code, count, silent, storeHistory, this.outputListener(silent));
    if (outcome.variables) this.replyMetadata.set(msg, { [VARIABLES_METADATA_KEY]: outcome.variables });
    if (outcome.status === 'ok') {
      if (outcome.result && !silent) {
        this.io.publish('execute_result', { execution_count: count, data: outcome.result.data, metadata: outcome.result.metadata }, parent);
        if (historyItem) historyItem.output = String(outcome.result.data['text/plain'] ?? '');
      }
      return { status: 'ok', execution_count: count, user_expressions: {}, payload: [] };
    }
    const error = { ename: outcome.ename, evalue: outcome.evalue, traceback: outcome.traceback };
    if (!silent) this.io.publish('error', error, parent);
    if (stopOnError) {
      for (const q of this.queued) this.aborted.add(q);
    }
    return { status: 'error', execution_count: count, ...error };
  }

  /** Outputs of the running cell, or (after it ended) of the last cell, as Jupyter does. */
  private outputListener(silent: boolean): OutputListener {
    const parent = () => this.lastParent;
    return {
      stream: (name, text) => {
        if (!silent) this.io.publish('stream', { name, text }, parent());
      },
      display: (content: DisplayMessage, update) => {
        if (silent) return;
        if (update) this.io.publish('update_display_data', content, parent());
        else this.io.publish('display_data', content, parent());
      },
      clear: (wait) => {
        if (!silent) this.io.publish('clear_output', { wait }, parent());
      },
    };
  }

  private async complete(req: ValidRequestContent['complete_request']) {
    const code = req.code;
    const pos = Math.min(req.cursor_pos ?? Number.MAX_SAFE_INTEGER, codePointLength(code));
    const r = await this.executor.complete(code, pos);
    return { status: 'ok', matches: r.matches, cursor_start: r.cursorStart, cursor_end: r.cursorEnd, metadata: r.metadata };
  }

  private async inspect(req: ValidRequestContent['inspect_request']) {
    const code = req.code;
    const r = await this.executor.inspect(code, Math.min(req.cursor_pos ?? Number.MAX_SAFE_INTEGER, codePointLength(code)), req.detail_level ?? 0);
    return { status: 'ok', found: r.found, data: r.data, metadata: {} };
  }
}

/** The length of a string in Unicode code points, as cursor positions count (protocol 5.2+). */
function codePointLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const next = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
    if (c >= 0xd800 && c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) i++;
    n++;
  }
  return n;
}

function describeError(e: unknown): string {
  if (e instanceof Error) return e.stack ?? `${e.name}: ${e.message}`;
  try {
    return String(e);
  } catch {
    return 'an unprintable value';
  }
}
