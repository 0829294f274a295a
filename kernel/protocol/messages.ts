/**
 * Jupyter messaging protocol 5.3: message envelopes and the content of every message type the
 * kernel and its clients exchange. Field names are the spec's (snake_case). Types only, plus a
 * few pure helpers; imports nothing else from the project.
 * Spec: https://jupyter-client.readthedocs.io/en/stable/messaging.html
 */

export const PROTOCOL_VERSION = '5.3';

/** The five channels of a kernel. */
export const Channel = {
  shell: 'shell',
  control: 'control',
  stdin: 'stdin',
  iopub: 'iopub',
  hb: 'hb',
} as const;
export type Channel = (typeof Channel)[keyof typeof Channel];

/** A connection file as written by Jupyter clients. */
export interface ConnectionInfo {
  readonly transport: 'tcp' | 'ipc';
  readonly ip: string;
  readonly shell_port: number;
  readonly control_port: number;
  readonly stdin_port: number;
  readonly iopub_port: number;
  readonly hb_port: number;
  readonly key: string;
  readonly signature_scheme: string;
  readonly kernel_name?: string;
}

export interface Header {
  readonly msg_id: string;
  readonly session: string;
  readonly username: string;
  readonly date: string;
  readonly msg_type: string;
  readonly version: string;
}

/** A message as the spec defines it; `content` depends on `header.msg_type`. */
export interface Message<C = Record<string, unknown>> {
  /** ZeroMQ routing identities (ROUTER sockets); empty for iopub topics. */
  readonly identities: readonly Buffer[];
  readonly header: Header;
  readonly parent_header: Header | Record<string, never>;
  readonly metadata: Record<string, unknown>;
  readonly content: C;
  readonly buffers: readonly Buffer[];
}

export type Status = 'ok' | 'error' | 'aborted';
export type ExecutionState = 'busy' | 'idle' | 'starting';
export type MimeBundle = Record<string, unknown>;

// ---- shell / control requests and replies -------------------------------------------------

export interface KernelInfoReply {
  status: 'ok';
  protocol_version: string;
  implementation: string;
  implementation_version: string;
  language_info: {
    name: string;
    version: string;
    mimetype: string;
    file_extension: string;
    pygments_lexer?: string;
    codemirror_mode?: string | Record<string, unknown>;
    nbconvert_exporter?: string;
  };
  banner: string;
  debugger: boolean;
  help_links: { text: string; url: string }[];
}

export interface ExecuteRequest {
  code: string;
  silent?: boolean;
  store_history?: boolean;
  user_expressions?: Record<string, string>;
  allow_stdin?: boolean;
  stop_on_error?: boolean;
}

export interface ErrorContent {
  ename: string;
  evalue: string;
  traceback: string[];
}

export type ExecuteReply =
  | { status: 'ok'; execution_count: number; user_expressions: Record<string, unknown>; payload: unknown[] }
  | ({ status: 'error'; execution_count: number } & ErrorContent)
  | { status: 'aborted'; execution_count: number };

export interface CompleteRequest {
  code: string;
  cursor_pos: number;
}
export interface CompleteReply {
  status: 'ok';
  matches: string[];
  cursor_start: number;
  cursor_end: number;
  metadata: Record<string, unknown>;
}

export interface InspectRequest {
  code: string;
  cursor_pos: number;
  detail_level?: 0 | 1;
}
export interface InspectReply {
  status: 'ok';
  found: boolean;
  data: MimeBundle;
  metadata: Record<string, unknown>;
}

export interface IsCompleteRequest {
  code: string;
}
export type IsCompleteReply =
  | { status: 'complete' }
  | { status: 'incomplete'; indent: string }
  | { status: 'invalid' }
  | { status: 'unknown' };

export interface HistoryRequest {
  output?: boolean;
  raw?: boolean;
  hist_access_type: 'range' | 'tail' | 'search';
  session?: number;
  start?: number;
  stop?: number;
  n?: number;
  pattern?: string;
  unique?: boolean;
}
export type HistoryEntry = [number, number, string] | [number, number, [string, string | null]];
export interface HistoryReply {
  status: 'ok';
  history: HistoryEntry[];
}

export interface ShutdownRequest {
  restart: boolean;
}

export interface InterruptReply {
  status: 'ok';
}

export interface CommInfoReply {
  status: 'ok';
  comms: Record<string, { target_name: string }>;
}

// ---- iopub ---------------------------------------------------------------------------------

export interface StreamContent {
  name: 'stdout' | 'stderr';
  text: string;
}
export interface DisplayDataContent {
  data: MimeBundle;
  metadata: Record<string, unknown>;
  transient?: { display_id?: string };
}
export interface ExecuteResultContent extends DisplayDataContent {
  execution_count: number;
}
export interface ExecuteInputContent {
  code: string;
  execution_count: number;
}
export interface StatusContent {
  execution_state: ExecutionState;
}
export interface ClearOutputContent {
  wait: boolean;
}

/** Requests a kernel answers on shell or control, mapped to their reply types. */
export const RequestType = {
  kernel_info_request: 'kernel_info_reply',
  execute_request: 'execute_reply',
  complete_request: 'complete_reply',
  inspect_request: 'inspect_reply',
  is_complete_request: 'is_complete_reply',
  history_request: 'history_reply',
  comm_info_request: 'comm_info_reply',
  shutdown_request: 'shutdown_reply',
  interrupt_request: 'interrupt_reply',
} as const;
export type RequestType = keyof typeof RequestType;
export function isRequestType(t: string): t is RequestType {
  return Object.prototype.hasOwnProperty.call(RequestType, t);
}
export function replyTypeOf(t: RequestType): (typeof RequestType)[RequestType] {
  return RequestType[t];
}
