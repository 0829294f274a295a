/**
 * The Gram form of linear CKA on several CPU cores. tfjs's wasm backend computes on one thread
 * under Node; a heatmap of wide modules spends nearly all its time in Gram products, which split
 * cleanly by row block. Each worker thread (./worker.ts, bundled as dist/gramWorker.js) runs its
 * own wasm backend, reads the centred representations from shared memory (no copies between
 * threads), computes its share of the row blocks and reduces them to per-pair float64 sums
 * exactly as the single-thread path does; the caller adds the workers' sums. The messages are
 * those of ./protocol.ts.
 *
 * The caller blocks (Atomics.wait) until the workers are done, so synchronous functions can use
 * the pool too. Workers start on first use, stay for later calls, and are unref'd so that they
 * never keep a process alive.
 */
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type GramJob, type GramModule, GramJobState } from './protocol';

/** A representation as the workers see it: n × p row-major float32 in shared memory. */
export interface SharedRep {
  readonly p: number;
  readonly x: Float32Array;
}

/**
 * A Gram worker failed to start or to compute: the file is missing, the wasm backend did not
 * start in the thread, or a computation threw there. The CKA functions catch it and compute on
 * one thread instead, unless a thread count was forced (`ckaInternals.threads`).
 */
export class GramWorkerError extends Error {
  override readonly name = 'GramWorkerError';
}

/**
 * The worker's script: dist/gramWorker.js next to the bundle that holds this code (dist/analysis.js
 * for `require('transferlab')` and the kernel's preload, dist/cli.js for the CLI); under tsx (tests
 * and benches run the sources) the TypeScript entry, compiled in the worker by tsx's require hook.
 */
export function gramWorkerScript(): { readonly file: string; readonly execArgv: string[] } {
  if (path.extname(__filename) === '.ts') return { file: path.join(__dirname, 'worker.ts'), execArgv: ['--require', 'tsx/cjs'] };
  return { file: path.join(__dirname, 'gramWorker.js'), execArgv: [] };
}

let pool: Worker[] | undefined;

/** Number of worker threads the pool uses (one per core, at most 8). */
export function gramThreads(): number {
  return Math.max(1, Math.min(8, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length));
}

function workers(count: number): Worker[] {
  if (pool && pool.length >= count) return pool.slice(0, count);
  const { file, execArgv } = gramWorkerScript();
  if (!existsSync(file)) throw new GramWorkerError(`the Gram worker script ${file} is missing (build with \`node esbuild.mjs\`)`);
  pool = pool ?? [];
  while (pool.length < count) {
    const w = new Worker(file, { execArgv });
    w.unref();
    pool.push(w);
  }
  return pool.slice(0, count);
}

/** Stops the pool's threads (they are unref'd; this only frees their memory sooner). */
export async function stopGramWorkers(): Promise<void> {
  const p = pool ?? [];
  pool = undefined;
  await Promise.all(p.map((w) => w.terminate()));
}

/** A copy of `x` in shared memory, unless it is there already. */
export function shared(x: Float32Array): Float32Array {
  if (x.buffer instanceof SharedArrayBuffer) return x;
  const s = new Float32Array(new SharedArrayBuffer(x.byteLength));
  s.set(x);
  return s;
}

/**
 * Σ_{a≠b} Kᵢ_ab Kⱼ_ab per pair (as the single-thread Gram path), with row blocks shared among
 * `threads` workers by cost (a block starting at row r0 costs ∝ n − r0). Blocks until done.
 */
export function gramOffDiagonalParallel(n: number, reps: readonly SharedRep[], pairs: readonly (readonly [number, number])[], bb: number, kc: number, threads: number): Float64Array {
  const starts: number[] = [];
  for (let r0 = 0; r0 < n; r0 += bb) starts.push(r0);
  const k = Math.max(1, Math.min(threads, starts.length));
  const load = new Array<number>(k).fill(0);
  const assigned: number[][] = Array.from({ length: k }, () => []);
  for (const r0 of starts) {
    let best = 0;
    for (let t = 1; t < k; t++) if (load[t]! < load[best]!) best = t;
    assigned[best]!.push(r0);
    load[best]! += n - r0;
  }
  const modules: GramModule[] = reps.map((r) => {
    const x = shared(r.x);
    return { p: r.p, buf: x.buffer as SharedArrayBuffer, offset: x.byteOffset, length: x.length };
  });
  const jobs: GramJob[] = assigned.map((blocks) => ({
    n,
    modules,
    pairs: pairs.map(([i, j]) => [i, j] as [number, number]),
    blocks,
    bb,
    kc,
    out: new SharedArrayBuffer(8 * pairs.length),
    flag: new SharedArrayBuffer(4),
    error: new SharedArrayBuffer(4096),
    started: new SharedArrayBuffer(4),
  }));
  const ws = workers(k);
  jobs.forEach((job, t) => ws[t]!.postMessage(job));
  const total = new Float64Array(pairs.length);
  const errors: string[] = [];
  for (const job of jobs) {
    const flag = new Int32Array(job.flag);
    const started = new Int32Array(job.started);
    const t0 = Date.now();
    while (Atomics.load(flag, 0) === GramJobState.pending) {
      Atomics.wait(flag, 0, GramJobState.pending, 200);
      if (Atomics.load(started, 0) === 0 && Date.now() - t0 > 60_000) {
        void stopGramWorkers();
        throw new GramWorkerError('Gram worker did not start within 60 s');
      }
    }
    if (Atomics.load(flag, 0) === GramJobState.failed) errors.push(new TextDecoder().decode(new Uint8Array(job.error)).replace(/\0+$/, ''));
    else new Float64Array(job.out).forEach((v, i) => (total[i]! += v));
  }
  if (errors.length > 0) throw new GramWorkerError(`Gram worker failed: ${errors[0]}`);
  return total;
}
