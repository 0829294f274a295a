/**
 * TransferLab's WebGPU convolution kernels (kernel/analysis/webgpuKernels/conv2D.ts,
 * fusedConv2D.ts, conv2DBackpropInput.ts, conv2DBackpropFilter.ts) against the cpu backend:
 * values and gradients on odd shapes (1×1 images and filters, prime sizes and channel counts,
 * channels that are no multiple of 4 or of a tile, batch 1 and more, strides 1 and 2, 'same',
 * 'valid' and explicit padding, dilation), on lavapipe here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../kernel/analysis/tfjs';
import { initBackend } from '../../kernel/analysis/backends';
import { convKernelRuns } from '../../kernel/analysis/webgpuKernels/convGemm';
import { webGpuKernels } from '../../kernel/analysis/webgpuKernels';
import { startWebGpu, maxRelError } from '../helpers/webgpu';
import { assertNoLeak } from './leak';

type Shape = number[];
/** Builds outputs from input tensors (on the current backend, inside a tidy). */
type Build = (inputs: tf.Tensor[]) => tf.Tensor[];

/** Deterministic values in [-1, 1) (a small LCG), so both backends see the same data. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed * 7919 + 17;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out[i] = s / 1073741824 - 1;
  }
  return out;
}

async function runOn(shapes: Shape[], build: Build): Promise<Float32Array[]> {
  const outs = tf.tidy(() => build(shapes.map((s, i) => tf.tensor(values(tf.util.sizeFromShape(s), i + 1), s))));
  const data = await Promise.all(outs.map(async (o) => (await o.data()) as Float32Array));
  tf.dispose(outs);
  return data;
}

/** Gradients of sum(out²)/2 … with respect to every input, plus the outputs. */
const withGrads =
  (f: (inputs: tf.Tensor[]) => tf.Tensor): Build =>
  (inputs) => {
    const { value, grads } = tf.valueAndGrads((...xs: tf.Tensor[]) => tf.sum(tf.square(f(xs))).div(2) as tf.Scalar)(inputs);
    return [f(inputs), value, ...grads];
  };

interface Case {
  readonly name: string;
  readonly shapes: Shape[];
  readonly build: Build;
}

const conv = (strides: number | [number, number], pad: 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]]) =>
  withGrads(([x, w]) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, strides, pad));

const CASES: Case[] = [
  { name: '1×1 image, 1×1 filter, batch 2', shapes: [[2, 1, 1, 3], [1, 1, 3, 5]], build: conv(1, 'valid') },
  { name: '1×1 image, 3×3 filter, same', shapes: [[1, 1, 1, 2], [3, 3, 2, 3]], build: conv(1, 'same') },
  { name: '7×11, 3×3, 3→5, stride 1, same, batch 1', shapes: [[1, 7, 11, 3], [3, 3, 3, 5]], build: conv(1, 'same') },
  { name: '7×11, 5×5, 5→13, stride 2, same, batch 2', shapes: [[2, 7, 11, 5], [5, 5, 5, 13]], build: conv(2, 'same') },
  { name: '7×11, 3×5, 13→3, stride 2, valid, batch 3', shapes: [[3, 7, 11, 13], [3, 5, 13, 3]], build: conv(2, 'valid') },
  { name: '5×7, 1×1 filter, stride 2 (phases with no tap)', shapes: [[2, 5, 7, 3], [1, 1, 3, 4]], build: conv(2, 'valid') },
  { name: '6×5, explicit padding, strides [1, 2]', shapes: [[1, 6, 5, 2], [3, 3, 2, 4]], build: conv([1, 2], [[0, 0], [1, 2], [2, 0], [0, 0]]) },
  // tfjs has no gradient for dilated convolutions: values only.
  { name: '9×8, dilation 2, same', shapes: [[1, 9, 8, 3], [3, 3, 3, 4]], build: ([x, w]) => [tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same', 'NHWC', 2)] },
  { name: '5×5, 7→70 channels (two tiles of N), batch 2', shapes: [[2, 5, 5, 7], [3, 3, 7, 70]], build: conv(1, 'same') },
  {
    name: 'a small conv net: conv 3×3/2 same → relu → conv 1×1 → fused conv 3×3 + bias + relu',
    shapes: [[2, 7, 11, 3], [3, 3, 3, 5], [1, 1, 5, 13], [3, 3, 13, 4], [4]],
    build: withGrads(([x, w1, w2, w3, b3]) => {
      const h = tf.relu(tf.conv2d(x as tf.Tensor4D, w1 as tf.Tensor4D, 2, 'same'));
      const g = tf.conv2d(h, w2 as tf.Tensor4D, 1, 'valid');
      return tf.fused.conv2d({ x: g, filter: w3 as tf.Tensor4D, strides: 1, pad: 'same', bias: b3, activation: 'relu' });
    }),
  },
  ...(['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu'] as const).map(
    (activation): Case => ({
      name: `fused conv 3×3 + bias + ${activation}, 7×11, stride 2, valid`,
      shapes: [[2, 7, 11, 3], [3, 3, 3, 5], [5]],
      build: ([x, w, b]) => [
        tf.fused.conv2d({ x: x as tf.Tensor4D, filter: w as tf.Tensor4D, strides: 2, pad: 'valid', bias: b, activation, leakyreluAlpha: 0.3 }),
      ],
    }),
  ),
];

test('our WebGPU conv kernels match the cpu backend in values and gradients, and leak nothing', async (t) => {
  await initBackend('cpu');
  const want: Float32Array[][] = [];
  for (const c of CASES) want.push(await runOn(c.shapes, c.build));

  await startWebGpu(t);
  assert.equal(webGpuKernels(), 'ours');
  const before = { ...convKernelRuns };
  for (const [i, c] of CASES.entries()) {
    const got = await assertNoLeak(c.name, () => runOn(c.shapes, c.build));
    assert.equal(got.length, want[i]!.length);
    for (const [j, g] of got.entries()) {
      const err = maxRelError(g, want[i]![j]!);
      assert.ok(err < 1e-4, `${c.name}: output ${j} differs from the cpu backend by ${err.toExponential(2)} (relative)`);
    }
  }
  // Every kernel of ours ran (the stock kernels would give the same numbers).
  for (const k of Object.keys(before) as (keyof typeof convKernelRuns)[]) {
    assert.ok(convKernelRuns[k] > before[k], `${k}: our kernel never ran (${convKernelRuns[k]} runs)`);
  }
  await initBackend('cpu');
});
