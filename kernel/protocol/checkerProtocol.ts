/**
 * Messages between the extension and its type checker thread (kernel/executor/checkerWorker.ts,
 * built as dist/checkerWorker.js), which checks notebooks while they are edited, apart from the
 * kernel. Offsets are UTF-16 offsets in a cell's text, as VS Code's documents count them.
 */

/** A TypeScript cell: its id (the cell document's URI) and text. */
export interface CheckerCell {
  readonly id: string;
  readonly text: string;
}

/** One error in a cell, as the kernel would report it when the cell runs. */
export interface CheckerDiagnostic {
  /** UTF-16 span of the squiggle in the cell. */
  readonly start: number;
  readonly length: number;
  /** TypeScript's error code (TS2322 → 2322). */
  readonly code: number;
  readonly message: string;
  /** A syntax error (VS Code's own TypeScript support shows those for cells already). */
  readonly syntactic: boolean;
}

/** The notebook as the editor has it: every request carries it, the thread checks what changed. */
export interface CheckerNotebook {
  /** The notebook's URI. */
  readonly notebook: string;
  /** The folder relative imports and node_modules resolve from (the kernel's working folder). */
  readonly cwd: string;
  /** Its TypeScript cells, in notebook order. */
  readonly cells: readonly CheckerCell[];
}

export type CheckerQuery =
  | { readonly kind: 'complete'; readonly cell: string; readonly offset: number }
  | { readonly kind: 'completionDetails'; readonly cell: string; readonly offset: number; readonly name: string; readonly source?: string; readonly data?: unknown }
  | { readonly kind: 'hover'; readonly cell: string; readonly offset: number }
  | { readonly kind: 'signatureHelp'; readonly cell: string; readonly offset: number };

export type ToChecker =
  /** The notebook changed: diagnose what may have changed and send `diagnostics` per cell. */
  | ({ readonly type: 'update' } & CheckerNotebook)
  /** The notebook closed: forget it. */
  | { readonly type: 'close'; readonly notebook: string }
  /** A question about a cell, answered by a `reply` with the same `id`. */
  | ({ readonly type: 'query'; readonly id: number; readonly query: CheckerQuery } & CheckerNotebook);

export type FromChecker =
  /** A cell's errors (all of them: replaces what was shown). `ms`: time to compute them. */
  | { readonly type: 'diagnostics'; readonly notebook: string; readonly cell: string; readonly diagnostics: readonly CheckerDiagnostic[]; readonly ms: number }
  /** The answer to a query (`result` undefined: nothing there), or why there is none. */
  | { readonly type: 'reply'; readonly id: number; readonly result?: unknown; readonly error?: string }
  | { readonly type: 'log'; readonly text: string };

/** Completion entries of a `complete` query. */
export interface CheckerCompletions {
  readonly entries: readonly { readonly name: string; readonly kind: string; readonly sortText: string; readonly insertText?: string; readonly source?: string; readonly data?: unknown }[];
  readonly isMemberCompletion: boolean;
}
/** A `completionDetails` answer: the declaration and Markdown documentation. */
export interface CheckerCompletionDetails {
  readonly detail: string;
  readonly documentation: string;
}
/** A `hover` answer. */
export interface CheckerHover {
  readonly signature: string;
  readonly documentation: string;
  readonly start: number;
  readonly length: number;
}
/** A `signatureHelp` answer. */
export interface CheckerSignatureHelp {
  readonly signatures: readonly { readonly label: string; readonly documentation: string; readonly parameters: readonly { readonly label: readonly [number, number]; readonly documentation: string }[] }[];
  readonly activeSignature: number;
  readonly activeParameter: number;
}

/** The bundle of the checker thread, in the extension's dist/ folder. */
export const CHECKER_WORKER_FILE = 'checkerWorker.js';
