/**
 * A Gram worker thread: its own entry, bundled as dist/gramWorker.js (esbuild.mjs) and started by
 * ./pool.ts (from source under tsx in tests). It runs its own wasm backend, reads the centred
 * representations from shared memory, computes the Gram row blocks of each {@link GramJob} and
 * reduces them with the same {@link addOffDiagonalProducts} as the single-thread path.
 *
 * TensorFlow.js is loaded at run time (an external of the bundle, as for the other entries); a
 * failure to load or start it is reported on every job, not thrown, since the caller is blocked
 * waiting on the job's flag and would otherwise wait for the start timeout.
 */
import { parentPort } from 'node:worker_threads';
import path from 'node:path';
import { transposeBlock } from '../float64';
import { addOffDiagonalProducts } from './offDiagonal';
import { type GramJob, GramJobState } from './protocol';

type Tf = typeof import('@tensorflow/tfjs-core');
type Tensor = import('@tensorflow/tfjs-core').Tensor;

let tf: Tf;
let ready: Promise<unknown>;
try {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  tf = require('@tensorflow/tfjs-core') as Tf;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
  wasm.setWasmPaths(path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep);
  ready = tf.setBackend('wasm');
} catch (e) {
  ready = Promise.reject(e);
}

function fail(job: GramJob, message: string): void {
  new Uint8Array(job.error).set(new TextEncoder().encode(message).subarray(0, job.error.byteLength));
  const flag = new Int32Array(job.flag);
  Atomics.store(flag, 0, GramJobState.failed);
  Atomics.notify(flag, 0);
}

function run(job: GramJob): void {
  const flag = new Int32Array(job.flag);
  try {
    const out = new Float64Array(job.out);
    const n = job.n;
    const mods = job.modules.map((m) => ({ p: m.p, x: new Float32Array(m.buf, m.offset, m.length) }));
    const used = [...new Set(job.pairs.flat())];
    const chunks = new Map<number, { c0: number; c1: number; t: Tensor }[]>();
    try {
      for (const u of used) {
        const m = mods[u]!;
        const list: { c0: number; c1: number; t: Tensor }[] = [];
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
            let acc: Tensor | undefined;
            for (const { c0, c1, t } of chunks.get(u)!) {
              const a = r0 === 0 ? t : tf.slice(t, [r0, 0], [C, c1 - c0]);
              const b = tf.tensor2d(transposeBlock(m.x, m.p, r0, r1, c0, c1), [c1 - c0, w]);
              const prod = tf.matMul(a, b);
              acc = acc === undefined ? prod : tf.add(acc, prod);
            }
            return acc!;
          });
          blocks.set(u, g.dataSync() as Float32Array);
          g.dispose();
        }
        addOffDiagonalProducts(blocks, job.pairs, w, C, out);
      }
    } finally {
      for (const list of chunks.values()) for (const c of list) c.t.dispose();
    }
    Atomics.store(flag, 0, GramJobState.done);
    Atomics.notify(flag, 0);
  } catch (e) {
    fail(job, String((e as Error)?.stack ?? e));
  }
}

parentPort!.on('message', (job: GramJob) => {
  Atomics.store(new Int32Array(job.started), 0, 1);
  ready.then(
    () => run(job),
    (e: unknown) => fail(job, `wasm backend did not start in the worker: ${String(e)}`),
  );
});
