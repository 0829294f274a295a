/**
 * Seeded random data for the float64 reference tests, written independently of the code under
 * test (a linear congruential generator, not kernel/analysis/random.ts): plain number[][] matrices.
 */

/** A dense matrix as rows of numbers. */
export type M = number[][];

/** Uniform numbers in [0, 1) from a 32-bit linear congruential generator. */
export function rand(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** A standard normal sample (Box–Muller) from `r`. */
export function normal(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() + 1e-300)) * Math.cos(2 * Math.PI * r());
}

/** n × p independent normals from `r`, times `scale` plus `offset`. */
export function randnFrom(n: number, p: number, r: () => number, scale = 1, offset = 0): M {
  return Array.from({ length: n }, () => Array.from({ length: p }, () => offset + scale * normal(r)));
}

/** n × p independent normals from `seed`, times `scale` plus `offset`. */
export function randn(n: number, p: number, seed: number, scale = 1, offset = 0): M {
  return randnFrom(n, p, rand(seed), scale, offset);
}

/** A random p × p orthogonal matrix (Gram–Schmidt on normal rows). */
export function orthogonal(p: number, seed: number): M {
  const A = randn(p, p, seed);
  const Q: M = [];
  for (const v of A) {
    const u = [...v];
    for (const q of Q) {
      const d = u.reduce((s, x, k) => s + x * q[k]!, 0);
      for (let k = 0; k < p; k++) u[k]! -= d * q[k]!;
    }
    const norm = Math.sqrt(u.reduce((s, x) => s + x * x, 0));
    Q.push(u.map((x) => x / norm));
  }
  return Q;
}
