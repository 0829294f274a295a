/**
 * Gram products on the backend, shared by the linear and RBF kernels: a representation uploaded in
 * column chunks, and columns of its Gram matrix as short float32 sums over those chunks.
 */
import { tf } from '../tfjs';
import type { Analysis } from '../engine';
import { subBlock, transposeBlock } from '../float64';
import { ckaInternals } from './internals';
import type { Rep } from './rep';

/** A representation's columns [c0, c1) on the backend, n × (c1 − c0). */
export interface ColumnChunk {
  readonly c0: number;
  readonly c1: number;
  readonly t: tf.Tensor2D;
}

/** Uploads a representation in column chunks (n × kc each) for the Gram products. */
export function uploadChunks(r: Rep): ColumnChunk[] {
  const kc = ckaInternals.kChunk;
  const out: ColumnChunk[] = [];
  for (let c0 = 0; c0 < r.p; c0 += kc) {
    const c1 = Math.min(r.p, c0 + kc);
    out.push({ c0, c1, t: tf.tensor2d(subBlock(r.x, r.p, 0, r.n, c0, c1), [r.n, c1 - c0]) });
  }
  return out;
}

/** K[from:n, r0:r1] = X̃[from:n] X̃[r0:r1]ᵀ as a (n − from) × (r1 − r0) tensor. */
export function gramColumns(r: Rep, chunks: readonly ColumnChunk[], from: number, r0: number, r1: number): tf.Tensor2D {
  return tf.tidy(() => {
    let acc: tf.Tensor2D | undefined;
    for (const { c0, c1, t } of chunks) {
      const a = from === 0 ? t : tf.slice(t, [from, 0], [r.n - from, c1 - c0]);
      const b = tf.tensor2d(transposeBlock(r.x, r.p, r0, r1, c0, c1), [c1 - c0, r1 - r0]);
      const m = tf.matMul(a, b);
      acc = (acc ? tf.add(acc, m) : m) as tf.Tensor2D;
    }
    return acc!;
  });
}

/**
 * The whole n × n Gram matrix X̃X̃ᵀ in float32, row-major, from column blocks of at most 512
 * examples (for the estimators that need every entry at once: RBF, the bootstrap).
 */
export function* fullGram(r: Rep): Analysis<Float32Array> {
  const n = r.n;
  const k = new Float32Array(n * n);
  const chunks = uploadChunks(r);
  try {
    const bb = Math.min(n, 512);
    for (let r0 = 0; r0 < n; r0 += bb) {
      const r1 = Math.min(n, r0 + bb);
      const cols = yield gramColumns(r, chunks, 0, r0, r1);
      const w = r1 - r0;
      for (let c = 0; c < n; c++) k.set(cols.subarray(c * w, c * w + w), c * n + r0);
    }
  } finally {
    tf.dispose(chunks.map((c) => c.t));
  }
  return k;
}
