/**
 * Messages between the kernel's main thread (transport and handler) and the executor worker
 * (where cells run). Cells run in a worker thread so the main thread stays responsive to
 * heartbeats, control messages and SIGINT while a cell computes; an interrupt can then stop even
 * a synchronous infinite loop without losing the worker's state.
 */
import type { ErrorContent, MimeBundle, IsCompleteReply } from '../protocol/messages';
import type { KernelBackendInfo } from '../protocol/backends';
import type { VariablesSummary } from '../protocol/variables';

export type ToWorker =
  | { type: 'execute'; id: number; code: string; executionCount: number; silent: boolean; storeHistory: boolean }
  | { type: 'complete'; id: number; code: string; cursorPos: number }
  | { type: 'inspect'; id: number; code: string; cursorPos: number; detailLevel: number }
  | { type: 'isComplete'; id: number; code: string }
  | { type: 'backend'; id: number }
  | { type: 'interrupt'; seq: number };

export interface DisplayMessage {
  data: MimeBundle;
  metadata: Record<string, unknown>;
  transient: { display_id?: string };
}

export type ExecuteOutcome = (
  | { status: 'ok'; result?: { data: MimeBundle; metadata: Record<string, unknown> } }
  | ({ status: 'error' } & ErrorContent)
) & {
  /** The kernel's variables after the cell, for the Variables view (kernel/protocol/variables.ts). */
  variables?: VariablesSummary;
};

export type FromWorker =
  | { type: 'ready' }
  | { type: 'backendReady'; backend: KernelBackendInfo }
  | { type: 'stream'; name: 'stdout' | 'stderr'; text: string }
  | { type: 'display'; update: boolean; content: DisplayMessage }
  | { type: 'clear'; wait: boolean }
  | { type: 'executed'; id: number; outcome: ExecuteOutcome }
  | { type: 'completed'; id: number; matches: string[]; cursorStart: number; cursorEnd: number; metadata: Record<string, unknown> }
  | { type: 'inspected'; id: number; found: boolean; data: MimeBundle }
  | { type: 'isCompleteResult'; id: number; reply: IsCompleteReply }
  | { type: 'backendInfo'; id: number; description: string }
  | { type: 'interruptAck'; seq: number }
  /** A request (by id) threw in the worker; the main thread rejects it with this error. */
  | { type: 'failed'; id: number; name: string; message: string }
  | { type: 'log'; text: string };
