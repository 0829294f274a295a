/** Slice with contiguous runs copied at once on the wasm heap. */
import { tf } from '../tfjs';
import { type KernelFunc, type WasmKernelConfig, heap, strides } from './shared';

/** Slice in JavaScript: contiguous runs of the innermost sliced dimensions copied at once. */
function jsSlice(original: KernelFunc): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const x = inputs['x']!;
    const { begin, size } = attrs as unknown as { begin: number | number[]; size: number | number[] };
    if (x.dtype === 'string' || x.shape.length === 0) return original(args);
    const [b0, s0] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, begin, size);
    const shape = x.shape;
    const r = shape.length;
    const hb = heap(backend);
    const out = hb.makeOutput(s0, x.dtype);
    if (tf.util.sizeFromShape(s0) === 0) return out;
    const dst = hb.typedArrayFromHeap(out);
    const src = hb.typedArrayFromHeap(x);
    // Merge trailing dimensions that are taken whole into one contiguous run.
    let k = r - 1;
    while (k > 0 && s0[k] === shape[k] && b0[k] === 0) k--;
    const run = s0.slice(k).reduce((p, d) => p * d, 1) * 1;
    const ss = strides(shape);
    let di = 0;
    const walk = (dim: number, so: number): void => {
      if (dim === k) {
        const start = so + b0[k]! * ss[k]!;
        dst.set(src.subarray(start, start + run), di);
        di += run;
        return;
      }
      for (let i = 0; i < s0[dim]!; i++) walk(dim + 1, so + (b0[dim]! + i) * ss[dim]!);
    };
    walk(0, 0);
    return out;
  };
}

export const sliceConfig: WasmKernelConfig = { kernelName: 'Slice', wraps: jsSlice };
