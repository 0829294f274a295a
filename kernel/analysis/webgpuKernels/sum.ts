/** Sum over short trailing rows in one dispatch (./rowReduce.ts); the stock Sum otherwise. */
import type { WebGpuKernelConfig } from './shared';
import { rowReduceKernel } from './rowReduce';

export const sumKernel: WebGpuKernelConfig = { kernelName: 'Sum', wraps: (stock) => rowReduceKernel('sum', stock) };
