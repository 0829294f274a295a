/** BatchMatMul on WebGPU: TransferLab's tiled program (./matMulProgram.ts), stock kernel as fallback. */
import { runMatMul } from './matMulProgram';
import type { KernelFunc, WebGpuKernelConfig } from './shared';

function batchMatMul(stock: KernelFunc): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    return runMatMul(backend, { a: inputs['a']!, b: inputs['b']!, transposeA, transposeB }) ?? stock(args);
  };
}

export const batchMatMulConfig: WebGpuKernelConfig = { kernelName: 'BatchMatMul', wraps: batchMatMul };
