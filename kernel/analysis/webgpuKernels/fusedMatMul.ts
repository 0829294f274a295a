/**
 * _FusedMatMul on WebGPU (`tf.fused.matMul`: bias and activation in the same dispatch as the
 * product): TransferLab's tiled program (./matMulProgram.ts), stock kernel as fallback.
 */
import { runMatMul } from './matMulProgram';
import type { KernelFunc, WebGpuKernelConfig } from './shared';

interface FusedMatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
  activation?: string;
  leakyreluAlpha?: number;
}

function fusedMatMul(stock: KernelFunc): KernelFunc {
  return (args) => {
    const { inputs, backend } = args;
    const { transposeA, transposeB, activation, leakyreluAlpha } = args.attrs as unknown as FusedMatMulAttrs;
    const out = runMatMul(backend, {
      a: inputs['a']!,
      b: inputs['b']!,
      transposeA,
      transposeB,
      bias: inputs['bias'] ?? undefined,
      preluWeights: inputs['preluActivationWeights'] ?? undefined,
      activation,
      leakyreluAlpha,
    });
    return out ?? stock(args);
  };
}

export const fusedMatMulConfig: WebGpuKernelConfig = { kernelName: '_FusedMatMul', wraps: fusedMatMul };
