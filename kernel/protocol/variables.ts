/**
 * The kernel's variables as the extension's Variables view shows them. The kernel summarises its
 * top-level names after every execute_request and sends the summary in the execute_reply's
 * metadata under {@link VARIABLES_METADATA_KEY}: nobody asks a busy kernel, the view shows the
 * summary of the last cell that ended. Values are summarised in the kernel, bounded in size (no
 * getter runs, long values are cut, large collections show their length and first items).
 */

/** execute_reply `metadata` key of the summary. */
export const VARIABLES_METADATA_KEY = 'transferlab_variables';

/** At most this many names are summarised (the latest declared win). */
export const MAX_VARIABLES = 200;
/** A value's text is cut to this many characters. */
export const MAX_VALUE_CHARS = 120;
/** A TypeScript type is cut to this many characters. */
export const MAX_TYPE_CHARS = 160;

/** A tensor's shape, dtype and the bytes its data takes. */
export interface TensorSummary {
  readonly shape: readonly number[];
  readonly dtype: string;
  readonly bytes: number;
  readonly disposed: boolean;
}

/** A TransferLab model (kernel/analysis/modelContract.ts): its modules and parameter count. */
export interface ModelSummary {
  readonly arch: string;
  readonly modules: readonly string[];
  readonly parameters: number;
}

export interface VariableSummary {
  readonly name: string;
  /** How the cell declared it: const, let, var, function, class, enum, namespace, import. */
  readonly kind: string;
  /** Its TypeScript type as the kernel's checker inferred it, else its run-time kind (`number`, `Map`). */
  readonly type: string;
  /** A short, bounded text of its value. */
  readonly value: string;
  readonly tensor?: TensorSummary;
  readonly model?: ModelSummary;
  /** Number of elements of an array, Map or Set. */
  readonly length?: number;
}

/** TensorFlow.js memory (`tf.memory()`): totals, and what the last cell added. */
export interface MemorySummary {
  readonly numTensors: number;
  readonly numBytes: number;
  readonly addedTensors: number;
  readonly addedBytes: number;
}

/** What each cell added to TensorFlow.js memory, per execution count (the latest cells). */
export interface CellMemory {
  readonly executionCount: number;
  readonly addedTensors: number;
  readonly addedBytes: number;
}

export interface VariablesSummary {
  /** The execution count of the cell after which this was taken. */
  readonly executionCount: number;
  readonly variables: readonly VariableSummary[];
  /** Names left out beyond {@link MAX_VARIABLES}. */
  readonly omitted: number;
  /** Undefined until TensorFlow.js is loaded. */
  readonly memory?: MemorySummary;
  readonly cells: readonly CellMemory[];
}

/** A byte count for people: `512 B`, `3.1 kB`, `12.0 MB`. */
export function formatBytes(bytes: number): string {
  const sign = bytes < 0 ? '-' : '';
  let b = Math.abs(bytes);
  if (b < 1000) return `${sign}${b} B`;
  for (const unit of ['kB', 'MB', 'GB', 'TB']) {
    b /= 1000;
    if (b < 1000 || unit === 'TB') return `${sign}${b.toFixed(1)} ${unit}`;
  }
  return `${sign}${b} B`;
}

/** Whether a value read from a reply's metadata looks like a {@link VariablesSummary}. */
export function isVariablesSummary(x: unknown): x is VariablesSummary {
  if (x === null || typeof x !== 'object') return false;
  const s = x as Record<string, unknown>;
  return typeof s['executionCount'] === 'number' && Array.isArray(s['variables']) && Array.isArray(s['cells']) && typeof s['omitted'] === 'number';
}
