/**
 * The linear CKA sums on WebGPU with TransferLab's own kernels (../webgpuKernels/centeredGram.ts,
 * ../webgpuKernels/hsic.ts): float32 products, float-float (Dot2) accumulation on the device, and
 * per pair only a few partial sums read back and added in float64 here. No Gram matrix or
 * cross-product matrix leaves the device.
 *
 * Numerics: the features arrive centred in float64 and rounded once to float32 (./rep.ts), so
 * every row of K = X̃X̃ᵀ sums to zero up to that rounding and the HSIC terms reduce to
 * Σ_{a≠b} K_ab L_ab plus the diagonal and trace, which the host has exactly (./hsic.ts). Each Gram
 * entry is accurate to ~2⁻⁴⁸ relative to Σₖ|x_ak x_bk|, each HSIC partial likewise; a plain
 * float32 sum's error grows with the length of the sum instead.
 */
import { tf } from '../tfjs';
import type { Analysis } from '../engine';
import { transpose } from '../float64';
import { CENTERED_GRAM, centeredGram } from '../webgpuKernels/centeredGram';
import { HSIC, hsicGroups, hsicPartials } from '../webgpuKernels/hsic';
import { asWebGpu } from '../webgpuKernels/shared';
import { ckaInternals } from './internals';
import { type Pair, type Rep, uniqueOf } from './rep';

/** The largest storage buffer a kernel may bind, in bytes (WebGPU's default when not reported). */
function bindingLimit(): number {
  return asWebGpu(tf.backend()).device.limits['maxStorageBufferBindingSize'] ?? 2 ** 27;
}

/**
 * Whether the linear CKA sums of these representations, by `form`, run on the kernels of
 * ../webgpuKernels: on webgpu with them registered, and every buffer fitting one storage buffer
 * binding (the features, and for the features form each pair's cross-products); otherwise the
 * column-chunked path of ./linear.ts.
 */
export function deviceGramKernels(reps: readonly Rep[], pairs: readonly Pair[], form: 'gram' | 'features'): boolean {
  if (tf.getBackend() !== 'webgpu' || tf.getKernel(CENTERED_GRAM, 'webgpu') === undefined || tf.getKernel(HSIC, 'webgpu') === undefined) return false;
  const limit = bindingLimit();
  if (!uniqueOf(pairs).every((u) => 4 * reps[u]!.n * reps[u]!.p <= limit)) return false;
  return form === 'gram' ? 8 * reps[0]!.n <= limit : pairs.every(([i, j]) => 8 * reps[i]!.p * reps[j]!.p <= limit);
}

/** The pairs' partial sums ([W, 2] each, W by size) in one flat tensor, for one read. */
function concatPartials(parts: readonly tf.Tensor[]): tf.Tensor {
  return tf.concat(parts.map((t) => tf.reshape(t, [-1])));
}

/** Adds each pair's partial sums (pair k's are `lengths[k]` values of `values`, in order) into `out` in float64. */
function addPartials(values: Float32Array, lengths: readonly number[], out: Float64Array): void {
  let t = 0;
  lengths.forEach((len, k) => {
    let s = 0;
    for (const end = t + len; t < end; t++) s += values[t]!;
    out[k]! += s;
  });
}

/**
 * Σ_{a≠b} Kᵢ_ab Kⱼ_ab per pair: per block of rows, each module's float-float Gram rows of the
 * upper triangle once (`TlCenteredGram`, half the products), then one `TlHsic` reduction per pair; one read per block (one in all unless
 * n² times the number of modules exceeds `ckaInternals.deviceBlockEntries`, 2²⁴ entries of
 * 8 bytes: 128 MiB).
 */
export function* deviceOffDiagonal(reps: readonly Rep[], pairs: readonly Pair[]): Analysis<Float64Array> {
  const n = reps[0]!.n;
  const used = uniqueOf(pairs);
  const bb = Math.max(1, Math.min(n, Math.floor(ckaInternals.deviceBlockEntries / (n * used.length)), Math.floor(bindingLimit() / (8 * n))));
  const out = new Float64Array(pairs.length);
  const uploaded = new Map<number, tf.Tensor2D>();
  try {
    for (const u of used) uploaded.set(u, tf.tensor2d(reps[u]!.x, [n, reps[u]!.p]));
    for (let r0 = 0; r0 < n; r0 += bb) {
      const rows = Math.min(n, r0 + bb) - r0;
      // K[r0:r1, r0:n]: the block's part of the upper triangle. Its square [r0:r1, r0:r1] holds
      // both (a, b) and (b, a); the columns past r1 stand for their mirror images too (× 2).
      const lengths = pairs.map(() => 2 * hsicGroups(rows, n - r0));
      const partials = yield tf.tidy(() => {
        const grams = new Map<number, tf.Tensor3D>();
        for (const u of used) grams.set(u, centeredGram(uploaded.get(u)!, uploaded.get(u)!, r0, rows, r0));
        return concatPartials(pairs.map(([i, j]) => hsicPartials(grams.get(i)!, grams.get(j)!, 0, rows)));
      });
      addPartials(partials, lengths, out);
    }
  } finally {
    tf.dispose([...uploaded.values()]);
  }
  return out;
}

/** ‖X̃ᵢᵀX̃ⱼ‖²_F per pair: float-float cross-products (`TlCenteredGram` over examples), squared and summed by `TlHsic`; one read. */
export function* deviceFeatureCross(reps: readonly Rep[], pairs: readonly Pair[]): Analysis<Float64Array> {
  const transposed = new Map<number, tf.Tensor2D>();
  try {
    for (const u of uniqueOf(pairs)) {
      const r = reps[u]!;
      transposed.set(u, tf.tensor2d(transpose(r.x, r.n, r.p), [r.p, r.n]));
    }
    const lengths = pairs.map(([i, j]) => 2 * hsicGroups(reps[i]!.p, reps[j]!.p));
    const partials = yield tf.tidy(() =>
      concatPartials(
        pairs.map(([i, j]) =>
          tf.tidy(() => {
            const c = centeredGram(transposed.get(i)!, transposed.get(j)!, 0, reps[i]!.p);
            return hsicPartials(c, c, -1);
          }),
        ),
      ),
    );
    const out = new Float64Array(pairs.length);
    addPartials(partials, lengths, out);
    return out;
  } finally {
    tf.dispose([...transposed.values()]);
  }
}
