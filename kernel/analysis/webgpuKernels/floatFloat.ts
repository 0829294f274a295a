/**
 * WGSL helpers for float-float ("double-single") arithmetic, shared by the CKA Gram kernels
 * (./centeredGram.ts, ./hsic.ts).
 *
 * A float-float value is a pair (hi, lo) of float32 whose exact sum carries ~48 bits. The kernels
 * accumulate sums of products with Ogita, Rump & Oishi's Dot2 ("Accurate sum and dot product",
 * SIAM J. Sci. Comput. 2005): each product is split exactly into p + q by `tlTwoProd`, p is added
 * to the running sum s by `tlTwoSum` (which returns the rounding error r of s + p exactly), and the
 * errors q + r are collected in a float32 companion c. The result s + c is as accurate as if the
 * sum had been computed in twice the precision (~2⁻⁴⁸ relative) and then rounded, whatever the
 * length of the sum: the error no longer grows with n as a plain float32 sum's does.
 *
 * Error-free transformations only work if the compiler keeps every rounding. WGSL does not promise
 * that: shader compilers may simplify `(a + b) − a` to `b`, fuse a multiply into a later add or
 * reassociate (on lavapipe the plain formulas gave float32 accuracy, and with a multiply by an
 * opaque 1.0 some sums were still off by an ulp), and may lower `fma` to a rounded multiply and an
 * add. So:
 * - every intermediate whose rounding matters passes through `tlKeep`, max(x, −FLT_MAX) with the
 *   bound a uniform (`lowest`, set at dispatch): the value is unchanged (NaN aside: the analyses
 *   reject non-finite features), but the optimiser can neither cancel terms through it nor fuse
 *   across it;
 * - products are split exactly by Dekker's algorithm (Veltkamp's split into 12-bit halves, whose
 *   pairwise products are exact in float32), not by `fma`. A contraction of these products into
 *   fused multiply-adds changes nothing, since the products are exact. The split of each operand
 *   is computed once, where the kernel loads it (`tlSplit`), and reused for every product.
 * The programs declare the uniform `lowest : f32` and pass {@link LOWEST}.
 */
/** −FLT_MAX, the bound `tlKeep` takes from the uniform `lowest`. */
export const LOWEST = -3.4028234663852886e38;

export const FLOAT_FLOAT_WGSL = /* wgsl */ `
  // x, as a value the optimiser knows nothing about: max(x, lowest) with lowest = −FLT_MAX set at
  // dispatch. Nothing can be cancelled through it, and no multiply before it can be fused with
  // (or reassociated into) an add after it.
  fn tlKeep(x : f32) -> f32 {
    return max(x, uniforms.lowest);
  }
  // (s, e) with s = fl(a + b) and s + e = a + b exactly (Knuth's TwoSum).
  fn tlTwoSum(a : f32, b : f32) -> vec2<f32> {
    let s = tlKeep(a + b);
    let bb = tlKeep(s - a);
    return vec2<f32>(s, (a - tlKeep(s - bb)) + (b - bb));
  }
  // (hi, lo) with hi + lo = a exactly, each with at most 12 significant bits (Veltkamp).
  fn tlSplit(a : f32) -> vec2<f32> {
    let c = tlKeep(4097.0 * a);
    let hi = tlKeep(c - tlKeep(c - a));
    return vec2<f32>(hi, a - hi);
  }
  // (p, e) with p = fl(a * b) and p + e = a * b exactly (Dekker), from the splits of a and b.
  fn tlTwoProd(a : vec2<f32>, b : vec2<f32>) -> vec2<f32> {
    let p = tlKeep((a.x + a.y) * (b.x + b.y));
    return vec2<f32>(p, (((a.x * b.x - p) + a.x * b.y) + a.y * b.x) + a.y * b.y);
  }
  // Dot2 step: adds the exact product pair (p, q) to the accumulator (s, c).
  fn tlAccumulate(acc : vec2<f32>, pq : vec2<f32>) -> vec2<f32> {
    let t = tlTwoSum(acc.x, pq.x);
    return vec2<f32>(t.x, acc.y + (pq.y + t.y));
  }
  // The sum of two accumulators (s1 + c1) + (s2 + c2), still as an (s, c) pair.
  fn tlCombine(x : vec2<f32>, y : vec2<f32>) -> vec2<f32> {
    let t = tlTwoSum(x.x, y.x);
    return vec2<f32>(t.x, (x.y + y.y) + t.y);
  }
  // An accumulator renormalised so that hi = fl(s + c) and lo is what hi misses.
  fn tlNormalise(x : vec2<f32>) -> vec2<f32> {
    return tlTwoSum(x.x, x.y);
  }
`;
