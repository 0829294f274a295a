/**
 * The reduction both Gram paths share: the single-thread path in ../cka and the worker threads
 * (./worker.ts) add each row block's products with this one function, so that their sums agree
 * to the last bit.
 */

/**
 * Adds one row block's share of Σ_{a≠b} Kᵢ_ab Kⱼ_ab to out[k] for each pair k = (i, j). Each block
 * is C × w, row-major: its first w rows are the w × w square on the diagonal (counted once, less
 * its diagonal), the rest is the strip below it (counted twice: it stands for its mirror image).
 *
 * The products are summed in float64 over tiles of 2048 elements, so that the tiles of all the
 * modules stay in cache while every pair is reduced over them (the whole blocks, ~5 MB each at
 * n = 5000, would be read from memory once per pair), and each left module's tile is read once
 * for four partners at a time.
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
