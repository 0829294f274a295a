/**
 * Reductions over the trailing axes of short rows (Sum and Max of [rows, width] with width ≤
 * {@link MAX_ROW_WIDTH}): one thread per row, one dispatch. Training reduces such rows at every step
 * (softmax cross-entropy's max and sum over the classes, the loss's sum over the classes), and the
 * backend's own ReduceProgram spends a workgroup of 64 threads on each row, most of them idle:
 * on lavapipe, Sum of [50000, 10] over the last axis took 450 ms with it, against 36 ms for the
 * same sum over the first axis (a transpose and a reduction).
 *
 * ./sum.ts and ./max.ts register it; wider rows, other dtypes and other axes go on (Sum over the
 * leading axes to ./columnReduce.ts, the rest to the stock kernel).
 */
import { tf } from '../tfjs';
import { ceilDiv, runProgram, type KernelFunc, type TensorInfo, type WebGpuProgram } from './shared';

/** Rows up to this width are reduced one per thread; wider ones by the stock kernel. */
export const MAX_ROW_WIDTH = 64;

const WORKGROUP = 64;

type RowOp = 'sum' | 'max';

function rowReduceProgram(op: RowOp, rows: number, outputShape: number[]): WebGpuProgram {
  // Max propagates NaN, as the stock kernel does.
  const step =
    op === 'sum'
      ? 'acc = acc + v;'
      : 'if (isnan(v)) { acc = v; } else if (!isnan(acc) && v > acc) { acc = v; }';
  return {
    outputShape,
    shaderKey: `transferlab_row_${op}`,
    dispatchLayout: { x: outputShape.map((_, i) => i) },
    dispatch: [ceilDiv(rows, WORKGROUP), 1, 1],
    variableNames: ['x'],
    uniforms: 'width : i32,',
    workgroupSize: [WORKGROUP, 1, 1],
    size: true,
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let base = index * uniforms.width;
          var acc = ${op === 'sum' ? '0.0' : 'f32(x[base])'};
          for (var k = ${op === 'sum' ? 0 : 1}; k < uniforms.width; k = k + 1) {
            let v = f32(x[base + k]);
            ${step}
          }
          setOutputAtIndex(index, acc);
        }
      }
    `,
  };
}

/**
 * The reduction of `x` over `axis` when it is ours to do (float32, the reduced axes the trailing
 * ones, rows of at most {@link MAX_ROW_WIDTH}, at least two rows); undefined for the stock kernel.
 */
function reduceRows(op: RowOp, x: TensorInfo, axis: number | number[], keepDims: boolean, backend: unknown): TensorInfo | undefined {
  if (x.dtype !== 'float32' || x.shape.length === 0) return undefined;
  const rank = x.shape.length;
  const axes = [...new Set(tf.util.parseAxisParam(axis, x.shape))].sort((a, b) => a - b);
  if (axes.length === 0 || axes.some((a, i) => a !== rank - axes.length + i)) return undefined;
  const width = x.shape.slice(rank - axes.length).reduce((a, b) => a * b, 1);
  const kept = x.shape.slice(0, rank - axes.length);
  const rows = kept.reduce((a, b) => a * b, 1);
  if (width < 1 || width > MAX_ROW_WIDTH || rows < 2) return undefined;
  const outputShape = keepDims ? [...kept, ...axes.map(() => 1)] : kept;
  return runProgram(backend, rowReduceProgram(op, rows, outputShape), [x], 'float32', [{ type: 'int32', data: [width] }]);
}

/** A Sum or Max kernel that reduces short trailing rows itself and calls `stock` otherwise. */
export function rowReduceKernel(op: RowOp, stock: KernelFunc): KernelFunc {
  return (args) => {
    const x = (args.inputs as { x: TensorInfo }).x;
    // Sum names its axes `axis`, Max `reductionIndices`.
    const attrs = args.attrs as { axis?: number | number[]; reductionIndices?: number | number[]; keepDims: boolean };
    return reduceRows(op, x, (op === 'sum' ? attrs.axis : attrs.reductionIndices) ?? [], attrs.keepDims, args.backend) ?? stock(args);
  };
}
