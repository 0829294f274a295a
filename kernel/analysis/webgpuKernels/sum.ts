/**
 * Sum over short trailing rows in one dispatch (./rowReduce.ts), over the leading axes without a
 * transpose (./columnReduce.ts); the stock Sum otherwise.
 */
import type { TensorInfo, WebGpuKernelConfig } from './shared';
import { rowReduceKernel } from './rowReduce';
import { sumColumns } from './columnReduce';

export const sumKernel: WebGpuKernelConfig = {
  kernelName: 'Sum',
  wraps: (stock) =>
    rowReduceKernel('sum', (args) => {
      const x = (args.inputs as { x: TensorInfo }).x;
      const attrs = args.attrs as { axis?: number | number[]; keepDims: boolean };
      return sumColumns(x, attrs.axis ?? [], attrs.keepDims, args.backend) ?? stock(args);
    }),
};
