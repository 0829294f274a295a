/**
 * The linear kernel: Σ_{a≠b} K_ab L_ab for pairs of representations, in one of two exact forms
 * chosen by cost (`algorithm: 'auto'`):
 * - features: ‖X̃ᵀỸ‖²_F from p×q cross-products, O(n·p·q) per pair; best when widths ≪ n.
 * - gram: per module, the centred Gram K = X̃X̃ᵀ is computed once, by row blocks of its upper
 *   triangle (half the work), and every pair needs only ⟨K, L⟩ over the block; O(n²p) per module
 *   plus O(n²) per pair. For a heatmap of many wide modules this is far cheaper than per-pair work.
 * The Gram form's blocks are reduced in float64 on the host (on worker threads for large jobs on
 * wasm: ../gram/), on WebGPU by TransferLab's own kernels in float-float (./deviceGram.ts), or in
 * short float32 sums on the device (other GPU backends, or WebGPU with the stock kernels).
 */
import { tf } from '../tfjs';
import { type Analysis, reduceOnHost } from '../engine';
import { dot, subBlock, sumSquares, transposeBlock } from '../float64';
import { addOffDiagonalProducts } from '../gram/offDiagonal';
import { gramOffDiagonalParallel, gramThreads } from '../gram/pool';
import { ckaInternals } from './internals';
import type { CkaAlgorithm } from './options';
import { type Pair, type Rep, uniqueOf } from './rep';
import { type ColumnChunk, gramColumns, uploadChunks } from './gramBlocks';
import { deviceFeatureCross, deviceGramKernels, deviceOffDiagonal } from './deviceGram';

/** Estimated cost of each form, in multiply-adds weighted by where they run. */
function chooseAlgorithm(reps: readonly Rep[], pairs: readonly Pair[], host: boolean, debiased: boolean): 'gram' | 'features' {
  const n = reps[0]!.n;
  const used = uniqueOf(pairs);
  const jsWeight = host ? 20 : 1;
  let sumP = 0;
  for (const u of used) sumP += reps[u]!.p;
  const gram = (n * n * sumP) / 2 + (jsWeight * n * n * pairs.length) / 2;
  let cross = 0;
  for (const [i, j] of pairs) cross += reps[i]!.p * reps[j]!.p;
  const features = cross * (n + (jsWeight * n) / ckaInternals.rowChunk);
  // The unbiased HSIC needs the off-diagonal sum Σ_{a≠b} K_ab L_ab. The features form gets it as
  // ‖X̃ᵀỸ‖² − d_K·d_L, a difference that loses digits when the two are close (nearly independent
  // representations); the Gram form sums the off-diagonal terms directly. Prefer it unless it
  // costs far more.
  return features * (debiased ? 16 : 1) <= gram ? 'features' : 'gram';
}

/** Σ_{a≠b} Kᵢ_ab Kⱼ_ab per pair, by the form `algorithm` names (or the cheaper, for `auto`). */
export function* linearOffDiagonal(reps: readonly Rep[], pairs: readonly Pair[], algorithm: CkaAlgorithm, debiased: boolean): Analysis<Float64Array> {
  const host = ckaInternals.reducer ? ckaInternals.reducer === 'host' : reduceOnHost();
  const form = algorithm === 'auto' ? chooseAlgorithm(reps, pairs, host, debiased) : algorithm;
  if (form === 'features') {
    const full = !host && deviceGramKernels(reps, pairs, 'features') ? yield* deviceFeatureCross(reps, pairs) : yield* featureCross(reps, pairs);
    return full.map((v, k) => v - dot(reps[pairs[k]![0]]!.d, reps[pairs[k]![1]]!.d));
  }
  return yield* gramOffDiagonal(reps, pairs, host);
}

/** ‖X̃ᵢᵀX̃ⱼ‖²_F per pair, from cross-products over row chunks summed in float64. */
function* featureCross(reps: readonly Rep[], pairs: readonly Pair[]): Analysis<Float64Array> {
  const n = reps[0]!.n;
  const rows = ckaInternals.rowChunk;
  const acc = pairs.map(([i, j]) => new Float64Array(reps[i]!.p * reps[j]!.p));
  const lefts = [...new Set(pairs.map(([i]) => i))];
  const rights = [...new Set(pairs.map(([, j]) => j))];
  for (let r0 = 0; r0 < n; r0 += rows) {
    const r1 = Math.min(n, r0 + rows);
    const L = new Map<number, tf.Tensor2D>();
    const R = new Map<number, tf.Tensor2D>();
    try {
      for (const i of lefts) {
        const r = reps[i]!;
        L.set(i, tf.tensor2d(transposeBlock(r.x, r.p, r0, r1, 0, r.p), [r.p, r1 - r0]));
      }
      for (const j of rights) {
        const r = reps[j]!;
        R.set(j, tf.tensor2d(subBlock(r.x, r.p, r0, r1, 0, r.p), [r1 - r0, r.p]));
      }
      for (let k = 0; k < pairs.length; k++) {
        const [i, j] = pairs[k]!;
        const v = yield tf.matMul(L.get(i)!, R.get(j)!);
        const a = acc[k]!;
        for (let t = 0; t < a.length; t++) a[t]! += v[t]!;
      }
    } finally {
      tf.dispose([...L.values(), ...R.values()]);
    }
  }
  return Float64Array.from(acc, sumSquares);
}

/**
 * Σ_{a≠b} Kᵢ_ab Kⱼ_ab per pair, from row blocks of the upper triangle of each Gram matrix
 * (computed once per module), reduced in float64 on the host or in short float32 sums on the
 * device.
 */
function* gramOffDiagonal(reps: readonly Rep[], pairs: readonly Pair[], host: boolean): Analysis<Float64Array> {
  if (!host && deviceGramKernels(reps, pairs, 'gram')) return yield* deviceOffDiagonal(reps, pairs);
  const n = reps[0]!.n;
  const used = uniqueOf(pairs);
  const threads = host ? parallelThreads(n, used.map((u) => reps[u]!.p)) : 1;
  if (threads > 1) {
    const local = pairs.map(([i, j]) => [used.indexOf(i), used.indexOf(j)] as const);
    try {
      return gramOffDiagonalParallel(n, used.map((u) => reps[u]!), local, Math.min(n, ckaInternals.hostBlockRows), ckaInternals.kChunk, threads);
    } catch (e) {
      // Worker threads are an optimisation: if they cannot run here, compute on this thread.
      workersBroken = true;
      if (ckaInternals.threads !== undefined) throw e;
      console.warn(`tl.cka: worker threads unavailable, computing on one thread (${(e as Error).message.split('\n')[0]})`);
    }
  }
  const out = new Float64Array(pairs.length);
  const bb = host ? Math.min(n, ckaInternals.hostBlockRows) : Math.max(256, Math.min(n, Math.floor(2 ** 28 / (n * used.length))));
  const uploaded = new Map<number, ColumnChunk[]>();
  try {
    for (const u of used) uploaded.set(u, uploadChunks(reps[u]!));
    for (let r0 = 0; r0 < n; r0 += bb) {
      const r1 = Math.min(n, r0 + bb);
      const w = r1 - r0;
      if (host) {
        const blocks = new Map<number, Float32Array>();
        for (const u of used) blocks.set(u, yield gramColumns(reps[u]!, uploaded.get(u)!, r0, r0, r1));
        addOffDiagonalProducts(blocks, pairs, w, n - r0, out);
      } else {
        const values = yield reduceBlocksOnDevice(reps, uploaded, pairs, r0, r1);
        const lefts = [...new Set(pairs.map(([i]) => i))];
        const rights = [...new Set(pairs.map(([, j]) => j))];
        const q = values.length / (lefts.length * rights.length);
        pairs.forEach(([i, j], k) => {
          const o = lefts.indexOf(i) * rights.length + rights.indexOf(j);
          let s = 0;
          for (let t = 0; t < q; t++) s += values[t * lefts.length * rights.length + o]!;
          out[k]! += s;
        });
      }
    }
  } finally {
    for (const chunks of uploaded.values()) tf.dispose(chunks.map((c) => c.t));
  }
  return out;
}

/** Worker threads for a Gram computation on the host (1: the single-thread path). */
let workersBroken = false;

function parallelThreads(n: number, widths: readonly number[]): number {
  if (ckaInternals.threads !== undefined) return ckaInternals.threads;
  if (workersBroken || tf.getBackend() !== 'wasm') return 1;
  const work = (n * n * widths.reduce((a, b) => a + b, 0)) / 2;
  return work >= ckaInternals.parallelMinWork ? gramThreads() : 1;
}

/**
 * The same reduction on the backend (for GPU backends, where reading Gram blocks back would cost
 * more than the products): weighted Gram blocks stacked per module, multiplied in chunks of 256
 * (short float32 sums), 16 chunks added on the device, returning [groups, lefts, rights] partial
 * sums for the host to add in float64.
 */
function reduceBlocksOnDevice(reps: readonly Rep[], uploaded: ReadonlyMap<number, ColumnChunk[]>, pairs: readonly Pair[], r0: number, r1: number): tf.Tensor {
  const n = reps[0]!.n;
  const w = r1 - r0;
  const C = n - r0;
  const L = C * w;
  const chunk = 256;
  const group = 16;
  const q = Math.ceil(L / (chunk * group)) * group;
  const lefts = [...new Set(pairs.map(([i]) => i))];
  const rights = [...new Set(pairs.map(([, j]) => j))];
  const weights = new Float32Array(L);
  for (let c = 0; c < C; c++) for (let r = 0; r < w; r++) weights[c * w + r] = c < w ? (c === r ? 0 : 1) : 2;
  return tf.tidy(() => {
    const grams = new Map<number, tf.Tensor>();
    for (const u of new Set([...lefts, ...rights])) grams.set(u, tf.reshape(gramColumns(reps[u]!, uploaded.get(u)!, r0, r0, r1), [L]));
    const wt = tf.tensor1d(weights);
    const pad = (t: tf.Tensor) => tf.pad(t, [[0, 0], [0, q * chunk - L]]);
    const A = tf.transpose(tf.reshape(pad(tf.stack(lefts.map((u) => tf.mul(grams.get(u)!, wt)))), [lefts.length, q, chunk]), [1, 0, 2]);
    const B = tf.transpose(tf.reshape(pad(tf.stack(rights.map((u) => grams.get(u)!))), [rights.length, q, chunk]), [1, 2, 0]);
    const partial = tf.matMul(A as tf.Tensor3D, B as tf.Tensor3D);
    return tf.sum(tf.reshape(partial, [q / group, group, lefts.length, rights.length]), 1);
  });
}
