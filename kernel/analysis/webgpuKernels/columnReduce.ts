/**
 * Sums over the leading axes (the columns of [rows, width]): the bias gradients of training, dy
 * summed over the batch (and the pixels, for a convolution) at every step for every layer. The
 * backend's own Sum transposes the tensor to [width, rows] first (a full copy) and then reduces
 * rows; this reads the tensor where it lies.
 *
 * Pass 1 splits the rows into up to {@link MAX_SLICES} slices, one row of workgroups each: a
 * workgroup of 64 × 4 threads covers 64 adjacent columns (adjacent threads read adjacent floats)
 * and 4 interleaved rows of its slice, and adds its 4 lanes in workgroup memory. When there is more
 * than one slice, pass 2 (the same program, one slice) adds the [slices, width] partial sums.
 * Splitting the rows is what keeps a GPU busy on a few wide sums (a conv layer's 32 channels over
 * 25,088 pixels), where one workgroup per column tile would use one core of it.
 *
 * ./sum.ts registers it; other dtypes, axes that are not the leading ones and tensors with no axis
 * left go to the stock kernel.
 */
import { tf } from '../tfjs';
import { asWebGpu, ceilDiv, runProgram, type TensorInfo, type WebGpuProgram } from './shared';

/** Columns per workgroup (threads along x). */
const COLUMNS = 64;
/** Rows a workgroup reads at once (threads along y). */
const LANES = 4;
/** The most row slices of pass 1 (so pass 2 adds at most this many partial sums per column). */
export const MAX_SLICES = 64;
/** Rows per slice at least, so that small sums take one pass. */
const MIN_SLICE_ROWS = 256;

function columnSumProgram(slices: number, width: number, outputShape: number[]): WebGpuProgram {
  return {
    outputShape,
    shaderKey: 'transferlab_col_sum',
    dispatchLayout: { x: outputShape.map((_, i) => i) },
    dispatch: [ceilDiv(width, COLUMNS), slices, 1],
    variableNames: ['x'],
    uniforms: 'rows : i32, width : i32, sliceRows : i32,',
    workgroupSize: [COLUMNS, LANES, 1],
    getUserCode: () => /* wgsl */ `
      var<workgroup> lanes : array<array<f32, ${COLUMNS}>, ${LANES}>;
      // A flat dispatch layout, so tfjs passes the flat index; the kernel indexes by workgroup.
      fn main(index : i32) {
        let col = i32(workgroupId.x) * ${COLUMNS} + i32(localId.x);
        let first = i32(workgroupId.y) * uniforms.sliceRows;
        let end = min(first + uniforms.sliceRows, uniforms.rows);
        var acc = 0.0;
        if (col < uniforms.width) {
          for (var r = first + i32(localId.y); r < end; r = r + ${LANES}) {
            acc = acc + f32(x[r * uniforms.width + col]);
          }
        }
        lanes[localId.y][localId.x] = acc;
        workgroupBarrier();
        if (localId.y == 0u && col < uniforms.width) {
          var total = lanes[0][localId.x];
          for (var l = 1; l < ${LANES}; l = l + 1) { total = total + lanes[l][localId.x]; }
          result[i32(workgroupId.y) * uniforms.width + col] = total;
        }
      }
    `,
  };
}

/**
 * The sum of `x` over `axis` when it is ours to do (float32, the reduced axes the leading ones, at
 * least one axis kept); undefined for the stock kernel.
 */
export function sumColumns(x: TensorInfo, axis: number | number[], keepDims: boolean, backend: unknown): TensorInfo | undefined {
  if (x.dtype !== 'float32' || x.shape.length < 2) return undefined;
  const rank = x.shape.length;
  const axes = [...new Set(tf.util.parseAxisParam(axis, x.shape))].sort((a, b) => a - b);
  if (axes.length === 0 || axes.length === rank || axes.some((a, i) => a !== i)) return undefined;
  const kept = x.shape.slice(axes.length);
  const rows = x.shape.slice(0, axes.length).reduce((a, b) => a * b, 1);
  const width = kept.reduce((a, b) => a * b, 1);
  if (rows < 1 || width < 1) return undefined;
  const maxGroups = asWebGpu(backend).device.limits['maxComputeWorkgroupsPerDimension'] ?? 65535;
  if (ceilDiv(width, COLUMNS) > maxGroups) return undefined;
  const outputShape = keepDims ? [...axes.map(() => 1), ...kept] : kept;
  const slices = Math.max(1, Math.min(MAX_SLICES, Math.floor(rows / MIN_SLICE_ROWS)));
  const sliceRows = ceilDiv(rows, slices);
  const uniforms = (r: number, perSlice: number) => [
    { type: 'int32' as const, data: [r] },
    { type: 'int32' as const, data: [width] },
    { type: 'int32' as const, data: [perSlice] },
  ];
  if (slices === 1) return runProgram(backend, columnSumProgram(1, width, outputShape), [x], 'float32', uniforms(rows, rows));
  const partials = runProgram(backend, columnSumProgram(slices, width, [slices, width]), [x], 'float32', uniforms(rows, sliceRows));
  const out = runProgram(backend, columnSumProgram(1, width, outputShape), [partials], 'float32', uniforms(slices, slices));
  (backend as tf.KernelBackend).disposeData(partials.dataId);
  return out;
}
