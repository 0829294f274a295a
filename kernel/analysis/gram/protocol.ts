/**
 * The contract between the Gram pool (./pool.ts, on the caller's thread) and its worker threads
 * (./worker.ts, bundled as dist/gramWorker.js): one {@link GramJob} message per worker per call.
 * Everything a job carries is shared memory or plain data, so nothing is copied between threads
 * but the small job object itself.
 *
 * The caller blocks on `flag` (Atomics.wait) while the workers run, so it cannot receive messages:
 * workers answer through the shared buffers only.
 */

/** A module's centred representation as a worker sees it: n × p row-major float32 in shared memory. */
export interface GramModule {
  readonly p: number;
  readonly buf: SharedArrayBuffer;
  /** Byte offset of the first value in `buf`. */
  readonly offset: number;
  /** Number of float32 values (n · p). */
  readonly length: number;
}

/** What {@link GramJob.flag} holds: set by the worker when it is done, then notified. */
export const GramJobState = { pending: 0, done: 1, failed: -1 } as const;
export type GramJobState = (typeof GramJobState)[keyof typeof GramJobState];

/** One worker's share of Σ_{a≠b} Kᵢ_ab Kⱼ_ab: the row blocks starting at `blocks`. */
export interface GramJob {
  /** Examples (rows of every module). */
  readonly n: number;
  readonly modules: readonly GramModule[];
  /** Pairs (i, j) of indices into `modules`. */
  readonly pairs: readonly (readonly [number, number])[];
  /** First rows of the row blocks this worker computes. */
  readonly blocks: readonly number[];
  /** Rows per block. */
  readonly bb: number;
  /** Columns per backend product (the length of each float32 sum). */
  readonly kc: number;
  /** float64 per pair: the worker's sums (written before `flag` is set to done). */
  readonly out: SharedArrayBuffer;
  /** Int32 [0]: a {@link GramJobState}. */
  readonly flag: SharedArrayBuffer;
  /** UTF-8, zero-padded: the worker's error when `flag` is failed. */
  readonly error: SharedArrayBuffer;
  /** Int32 [0]: set to 1 by the worker when it receives the job (to tell a worker that never started). */
  readonly started: SharedArrayBuffer;
}
