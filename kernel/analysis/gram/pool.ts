/**
 * The Gram form of linear CKA on several CPU cores. tfjs's wasm backend computes on one thread
 * under Node; a heatmap of wide modules spends nearly all its time in Gram products, which split
 * cleanly by row block. Each worker thread runs its own wasm backend, reads the centred
 * representations from shared memory (no copies between threads), computes its share of the
 * row blocks and reduces them to per-pair float64 sums exactly as the single-thread path does;
 * the caller adds the workers' sums.
 *
 * The caller blocks (Atomics.wait) until the workers are done, so synchronous functions can use
 * the pool too. Workers start on first use, stay for later calls, and are unref'd so that they
 * never keep a process alive. The worker's code is one self-contained function below, run with
 * `eval` (no file to locate in a bundle).
 */
import { Worker } from 'node:worker_threads';
import os from 'node:os';
import path from 'node:path';

/** A representation as the workers see it: n × p row-major float32 in shared memory. */
export interface SharedRep {
  readonly p: number;
  readonly x: Float32Array;
}

interface Job {
  readonly n: number;
  readonly modules: { p: number; buf: SharedArrayBuffer; offset: number; length: number }[];
  readonly pairs: [number, number][];
  readonly blocks: number[];
  readonly bb: number;
  readonly kc: number;
  readonly out: SharedArrayBuffer;
  readonly flag: SharedArrayBuffer;
  readonly error: SharedArrayBuffer;
  /** Set by the worker when it receives the job (to tell a worker that never started). */
  readonly started: SharedArrayBuffer;
}

/**
 * Adds one row block's share of Σ_{a≠b} Kᵢ_ab Kⱼ_ab to out[k] for each pair k = (i, j). Each block
 * is C × w, row-major: its first w rows are the w × w square on the diagonal (counted once, less
 * its diagonal), the rest is the strip below it (counted twice: it stands for its mirror image).
 *
 * The products are summed in float64 over tiles of 2048 elements, so that the tiles of all the
 * modules stay in cache while every pair is reduced over them (the whole blocks, ~5 MB each at
 * n = 5000, would be read from memory once per pair), and each left module's tile is read once
 * for four partners at a time. Self-contained: the Gram workers run its source text too.
 */
export function addOffDiagonalProducts(blocks: ReadonlyMap<number, Float32Array>, pairs: readonly (readonly [number, number])[], w: number, C: number, out: Float64Array): void {
  const TILE = 2048;
  const diagEnd = w * w;
  const end = C * w;
  const byLeft = new Map<number, number[]>();
  for (let k = 0; k < pairs.length; k++) {
    const i = pairs[k]![0];
    const ks = byLeft.get(i);
    if (ks) ks.push(k);
    else byLeft.set(i, [k]);
  }
  const acc = new Float64Array(pairs.length);
  for (let part = 0; part < 2; part++) {
    const lo = part === 0 ? 0 : diagEnd;
    const hi = part === 0 ? diagEnd : end;
    const scale = part === 0 ? 1 : 2;
    for (let from = lo; from < hi; from += TILE) {
      const to = Math.min(hi, from + TILE);
      for (const [i, ks] of byLeft) {
        const a = blocks.get(i)!;
        let g = 0;
        for (; g + 3 < ks.length; g += 4) {
          const b0 = blocks.get(pairs[ks[g]!]![1])!;
          const b1 = blocks.get(pairs[ks[g + 1]!]![1])!;
          const b2 = blocks.get(pairs[ks[g + 2]!]![1])!;
          const b3 = blocks.get(pairs[ks[g + 3]!]![1])!;
          let s0 = 0;
          let s1 = 0;
          let s2 = 0;
          let s3 = 0;
          for (let t = from; t < to; t++) {
            const x = a[t]!;
            s0 += x * b0[t]!;
            s1 += x * b1[t]!;
            s2 += x * b2[t]!;
            s3 += x * b3[t]!;
          }
          acc[ks[g]!]! += scale * s0;
          acc[ks[g + 1]!]! += scale * s1;
          acc[ks[g + 2]!]! += scale * s2;
          acc[ks[g + 3]!]! += scale * s3;
        }
        for (; g < ks.length; g++) {
          const b = blocks.get(pairs[ks[g]!]![1])!;
          let s0 = 0;
          for (let t = from; t < to; t++) s0 += a[t]! * b[t]!;
          acc[ks[g]!]! += scale * s0;
        }
      }
    }
  }
  for (let k = 0; k < pairs.length; k++) {
    const a = blocks.get(pairs[k]![0])!;
    const b = blocks.get(pairs[k]![1])!;
    let diag = 0;
    for (let t = 0; t < w; t++) diag += a[t * w + t]! * b[t * w + t]!;
    out[k]! += acc[k]! - diag;
  }
}

/**
 * The worker: everything it needs is inside this function and {@link addOffDiagonalProducts}
 * (both are sent as source text).
 */
function workerMain(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { parentPort, workerData } = require('node:worker_threads');
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let tf: any;
  let ready: Promise<unknown>;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    tf = require(workerData.core);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const wasm = require(workerData.wasm);
    wasm.setWasmPaths(workerData.wasmDir);
    ready = tf.setBackend('wasm');
  } catch (e) {
    ready = Promise.reject(e);
  }

  function transposeBlock(data: Float32Array, p: number, r0: number, r1: number, c0: number, c1: number): Float32Array {
    const rows = r1 - r0;
    const out = new Float32Array((c1 - c0) * rows);
    for (let i = r0; i < r1; i++) {
      const o = i * p;
      const k = i - r0;
      for (let j = c0; j < c1; j++) out[(j - c0) * rows + k] = data[o + j]!;
    }
    return out;
  }
  function run(job: Job): void {
    const flag = new Int32Array(job.flag);
    try {
      const out = new Float64Array(job.out);
      const n = job.n;
      const mods = job.modules.map((m) => ({ p: m.p, x: new Float32Array(m.buf, m.offset, m.length) }));
      const used = [...new Set(job.pairs.flat())];
      const chunks = new Map<number, { c0: number; c1: number; t: { dispose(): void } }[]>();
      try {
        for (const u of used) {
          const m = mods[u]!;
          const list: { c0: number; c1: number; t: { dispose(): void } }[] = [];
          for (let c0 = 0; c0 < m.p; c0 += job.kc) {
            const c1 = Math.min(m.p, c0 + job.kc);
            const block = new Float32Array(n * (c1 - c0));
            for (let i = 0; i < n; i++) block.set(m.x.subarray(i * m.p + c0, i * m.p + c1), i * (c1 - c0));
            list.push({ c0, c1, t: tf.tensor2d(block, [n, c1 - c0]) });
          }
          chunks.set(u, list);
        }
        for (const r0 of job.blocks) {
          const r1 = Math.min(n, r0 + job.bb);
          const w = r1 - r0;
          const C = n - r0;
          const blocks = new Map<number, Float32Array>();
          for (const u of used) {
            const m = mods[u]!;
            const g = tf.tidy(() => {
              let acc: unknown;
              for (const { c0, c1, t } of chunks.get(u)!) {
                const a = r0 === 0 ? t : tf.slice(t, [r0, 0], [C, c1 - c0]);
                const b = tf.tensor2d(transposeBlock(m.x, m.p, r0, r1, c0, c1), [c1 - c0, w]);
                const prod = tf.matMul(a, b);
                acc = acc === undefined ? prod : tf.add(acc, prod);
              }
              return acc;
            });
            blocks.set(u, g.dataSync() as Float32Array);
            g.dispose();
          }
          addOffDiagonalProducts(blocks, job.pairs, w, C, out);
        }
      } finally {
        for (const list of chunks.values()) for (const c of list) c.t.dispose();
      }
      Atomics.store(flag, 0, 1);
    } catch (e) {
      const text = new TextEncoder().encode(String((e as Error)?.stack ?? e));
      new Uint8Array(job.error).set(text.subarray(0, job.error.byteLength));
      Atomics.store(flag, 0, -1);
    }
    Atomics.notify(flag, 0);
  }
  parentPort.on('message', (job: Job) => {
    Atomics.store(new Int32Array(job.started), 0, 1);
    ready.then(
      () => run(job),
      (e: unknown) => {
        new Uint8Array(job.error).set(new TextEncoder().encode(`wasm backend did not start in the worker: ${String(e)}`).subarray(0, job.error.byteLength));
        const flag = new Int32Array(job.flag);
        Atomics.store(flag, 0, -1);
        Atomics.notify(flag, 0);
      },
    );
  });
}

let pool: Worker[] | undefined;

/** Number of worker threads the pool uses (one per core, at most 8). */
export function gramThreads(): number {
  return Math.max(1, Math.min(8, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length));
}

function workers(count: number): Worker[] {
  if (pool && pool.length >= count) return pool.slice(0, count);
  const core = require.resolve('@tensorflow/tfjs-core');
  const wasm = require.resolve('@tensorflow/tfjs-backend-wasm');
  const wasmDir = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep;
  // Transpilers that keep function names insert calls to a `__name` helper; give the worker one.
  const source = `var __name = (f) => f;\n${addOffDiagonalProducts.toString()}\n(${workerMain.toString()})();`;
  pool = pool ?? [];
  while (pool.length < count) {
    const w = new Worker(source, { eval: true, workerData: { core, wasm, wasmDir }, execArgv: [] });
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
  const modules = reps.map((r) => {
    const x = shared(r.x);
    return { p: r.p, buf: x.buffer as SharedArrayBuffer, offset: x.byteOffset, length: x.length };
  });
  const jobs: Job[] = assigned.map((blocks) => ({
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
    while (Atomics.load(flag, 0) === 0) {
      Atomics.wait(flag, 0, 0, 200);
      if (Atomics.load(started, 0) === 0 && Date.now() - t0 > 60_000) {
        void stopGramWorkers();
        throw new Error('Gram worker did not start within 60 s');
      }
    }
    if (Atomics.load(flag, 0) < 0) errors.push(new TextDecoder().decode(new Uint8Array(job.error)).replace(/\0+$/, ''));
    else new Float64Array(job.out).forEach((v, i) => (total[i]! += v));
  }
  if (errors.length > 0) throw new Error(`Gram worker failed: ${errors[0]}`);
  return total;
}
