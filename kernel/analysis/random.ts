/**
 * Seeded pseudo-random numbers for data generation, shuffling and splits: mulberry32, a small
 * 32-bit generator with good statistical quality for these uses (not cryptographic). The same
 * seed gives the same sequence on every machine and backend.
 */

/** A generator of uniform numbers in [0, 1). */
export type Rng = () => number;

export function rng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal sample (Box–Muller). */
export function gaussian(r: Rng): number {
  let u = r();
  while (u <= 1e-12) u = r();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

/** A uniformly random permutation of 0..n−1 (Fisher–Yates), seeded. */
export function permutation(n: number, seed: number): Int32Array {
  return permutationFrom(n, rng(seed));
}

/** A uniformly random permutation of 0..n−1 drawn from `r` (Fisher–Yates), into `out` if given. */
export function permutationFrom(n: number, r: Rng, out = new Int32Array(n)): Int32Array {
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    const t = out[i]!;
    out[i] = out[j]!;
    out[j] = t;
  }
  return out;
}
