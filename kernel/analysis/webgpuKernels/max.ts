/** Max over short trailing rows in one dispatch (./rowReduce.ts); the stock Max otherwise. */
import type { WebGpuKernelConfig } from './shared';
import { rowReduceKernel } from './rowReduce';

export const maxKernel: WebGpuKernelConfig = { kernelName: 'Max', wraps: (stock) => rowReduceKernel('max', stock) };
