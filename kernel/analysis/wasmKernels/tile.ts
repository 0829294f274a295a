/** Tile with block copies on the wasm heap. */
import { tf } from '../tfjs';
import { type KernelFunc, type WasmKernelConfig, heap, strides } from './shared';

/**
 * Tile in JavaScript with block copies (the backend's runs an index computation per element and
 * is ~50× slower; tfjs's BatchNorm and mean gradients tile full activation tensors).
 */
const tile: KernelFunc = ({ inputs, backend, attrs }) => {
  const x = inputs['x']!;
  const { reps } = attrs as unknown as { reps: number[] };
  const shape = x.shape;
  const outShape = shape.map((d, i) => d * reps[i]!);
  const b = heap(backend);
  const out = b.makeOutput(outShape, x.dtype);
  if (tf.util.sizeFromShape(outShape) === 0) return out;
  const dst = b.typedArrayFromHeap(out);
  const src = b.typedArrayFromHeap(x);
  const ss = strides(shape);
  const ds = strides(outShape);
  const r = shape.length;
  const write = (dim: number, so: number, dO: number): void => {
    const n = shape[dim]!;
    if (dim === r - 1) {
      dst.set(src.subarray(so, so + n), dO);
    } else {
      for (let i = 0; i < n; i++) write(dim + 1, so + i * ss[dim]!, dO + i * ds[dim]!);
    }
    const block = n * ds[dim]!;
    for (let k = 1; k < reps[dim]!; k++) dst.copyWithin(dO + k * block, dO, dO + block);
  };
  write(0, 0, 0);
  return out;
};

export const tileConfig: WasmKernelConfig = { kernelName: 'Tile', kernelFunc: tile };
