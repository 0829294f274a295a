/** BatchMatMul with transposed operands through the backend's GEMM path. */
import { tf } from '../tfjs';
import { type KernelFunc, type TensorInfo, type WasmKernelConfig, asBackend, wrap } from './shared';

/** BatchMatMul that sends transposed operands through the GEMM path instead of the scalar loop. */
function gemmBatchMatMul(original: KernelFunc): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const a = inputs['a']!;
    const b = inputs['b']!;
    const batchA = a.shape.slice(0, -2).reduce((p, d) => p * d, 1);
    const batchB = b.shape.slice(0, -2).reduce((p, d) => p * d, 1);
    if ((!transposeA && !transposeB) || batchA !== 1 || batchB !== 1) return original(args);
    const [m, k] = transposeA ? [a.shape[a.shape.length - 1]!, a.shape[a.shape.length - 2]!] : [a.shape[a.shape.length - 2]!, a.shape[a.shape.length - 1]!];
    const n = transposeB ? b.shape[b.shape.length - 2]! : b.shape[b.shape.length - 1]!;
    if (!transposeA && transposeB && m * (k + n) < k * n) {
      // A·Bᵀ with B large (dx = dy·Wᵀ of a dense layer): XNNPACK repacks the right operand on
      // every call, so compute (B·Aᵀ)ᵀ: B [n, k] is used as it is and only the small Aᵀ is packed.
      return tf.tidy(() => {
        const a2 = tf.reshape(wrap(asBackend(backend), a), [m, k]);
        const b2 = tf.reshape(wrap(asBackend(backend), b), [n, k]);
        const batchShape = (a.shape.length >= b.shape.length ? a.shape : b.shape).slice(0, -2);
        return tf.reshape(tf.transpose(tf.matMul(b2, tf.transpose(a2))), [...batchShape, m, n]);
      }) as unknown as TensorInfo;
    }
    const a2 = transposeA ? tf.tidy(() => tf.transpose(tf.reshape(wrap(asBackend(backend), a), a.shape.slice(-2)))) : undefined;
    const b2 = transposeB ? tf.tidy(() => tf.transpose(tf.reshape(wrap(asBackend(backend), b), b.shape.slice(-2)))) : undefined;
    try {
      return original({ inputs: { a: a2 ?? a, b: b2 ?? b }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } });
    } finally {
      a2?.dispose();
      b2?.dispose();
    }
  };
}

/** Required: its absence means the wasm backend package is not loaded yet. */
export const batchMatMulConfig: WasmKernelConfig = { kernelName: 'BatchMatMul', wraps: gemmBatchMatMul, required: true };
