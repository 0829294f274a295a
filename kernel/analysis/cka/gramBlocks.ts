/**
 * Gram products on the backend, shared by the linear and RBF kernels: a representation uploaded in
 * column chunks, and columns of its Gram matrix as short float32 sums over those chunks.
 */
import { tf } from '../tfjs';
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
