/**
 * TransferLab's WebGPU MatMul / BatchMatMul / _FusedMatMul kernels (kernel/analysis/webgpuKernels/
 * batchMatMul.ts, fusedMatMul.ts, matMulProgram.ts) against the cpu backend: values and gradients,
 * odd shapes, transposes, batch broadcast, every fused activation with and without bias. Each case
 * also counts the programs the webgpu backend dispatched: a forward product is exactly one
 * dispatch, and it is ours (so the test fails if webgpuKernels/index.ts does not register them).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../kernel/analysis/tfjs';
import { initBackend } from '../../kernel/analysis/backends';
import { setWebGpuKernels, webGpuKernelNames } from '../../kernel/analysis/webgpuKernels';
import { MATMUL_SHADER_PREFIX } from '../../kernel/analysis/webgpuKernels/matMulProgram';
import { startWebGpu, maxRelError } from '../helpers/webgpu';
import { assertNoLeak } from './leak';

/** Deterministic values in [-scale, scale) (mulberry32). */
function values(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let r = Math.imul(s ^ (s >>> 15), 1 | s);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    out[i] = (((r ^ (r >>> 14)) >>> 0) / 2 ** 32 - 0.5) * 2 * scale;
  }
  return out;
}

let seed = 1;
/** A float32 tensor of the given shape, the same values on every backend (seeded by call order per case). */
const input = (shape: number[], scale = 1): tf.Tensor => tf.tensor(values(shape.reduce((p, d) => p * d, 1), seed++ * 7919, scale), shape);

interface Case {
  readonly name: string;
  /** Builds its inputs (with {@link input}) and returns the tensors to compare; runs in tf.tidy. */
  readonly f: () => tf.Tensor[];
  /** How many of our matMul programs it dispatches on webgpu. */
  readonly ours: number;
  /** Whether those are all it dispatches (a forward product: one dispatch). */
  readonly only?: boolean;
}

/** Runs a case on the current backend: its outputs, read asynchronously. */
async function run(c: Case): Promise<Float32Array[]> {
  seed = 1;
  const outs = tf.tidy(c.f);
  const data = await Promise.all(outs.map(async (t) => (await t.data()) as Float32Array));
  tf.dispose(outs);
  return data;
}

/** The shaderKeys of the programs the webgpu backend dispatches while `f` runs. */
async function dispatched<T>(f: () => Promise<T>): Promise<{ result: T; keys: string[] }> {
  const backend = tf.backend() as unknown as { runWebGPUProgram: (program: { shaderKey: string }, ...rest: unknown[]) => unknown };
  const original = backend.runWebGPUProgram;
  const keys: string[] = [];
  backend.runWebGPUProgram = function (this: unknown, program, ...rest) {
    keys.push(program.shaderKey);
    return original.call(this, program, ...rest);
  };
  try {
    return { result: await f(), keys };
  } finally {
    backend.runWebGPUProgram = original;
  }
}

/** Runs every case on cpu, then on webgpu with our kernels, and compares values and dispatches. */
async function compareWithCpu(t: TestContext, cases: readonly Case[], tol = 1e-4): Promise<void> {
  await initBackend('cpu');
  const want = new Map<string, Float32Array[]>();
  for (const c of cases) want.set(c.name, await run(c));
  await startWebGpu(t);
  setWebGpuKernels('ours');
  const numDataIds = (): number => tf.backend().numDataIds();
  for (const c of cases) {
    const before = numDataIds();
    const { result: got, keys } = await dispatched(() => assertNoLeak(c.name, () => run(c)));
    assert.equal(numDataIds(), before, `${c.name}: GPU buffers leaked`);
    const ours = keys.filter((k) => k.startsWith(MATMUL_SHADER_PREFIX)).length;
    assert.equal(ours, c.ours, `${c.name}: ${ours} of our matMul programs ran (${keys.join(', ')})`);
    if (c.only) assert.equal(keys.length, c.ours, `${c.name}: other programs ran too (${keys.join(', ')})`);
    const expected = want.get(c.name)!;
    assert.equal(got.length, expected.length);
    got.forEach((g, i) => {
      const e = maxRelError(g, expected[i]!);
      assert.ok(e <= tol, `${c.name}, output ${i}: relative error ${e.toExponential(2)}`);
    });
  }
}

const matMulCase = (aShape: number[], bShape: number[], transposeA: boolean, transposeB: boolean): Case => ({
  name: `matMul ${aShape.join('×')} · ${bShape.join('×')}${transposeA ? ' Aᵀ' : ''}${transposeB ? ' Bᵀ' : ''}`,
  f: () => [tf.matMul(input(aShape), input(bShape), transposeA, transposeB)],
  ours: 1,
  only: true,
});

/** A [M, K] (or [K, M] when transposed) times B [K, N] (or [N, K]). */
const shaped = (m: number, k: number, n: number, tA: boolean, tB: boolean): [number[], number[], boolean, boolean] => [tA ? [k, m] : [m, k], tB ? [n, k] : [k, n], tA, tB];
const TRANSPOSES = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
] as const;

test('our MatMul and _FusedMatMul are registered for webgpu', () => {
  const names = webGpuKernelNames();
  assert.ok(names.includes('BatchMatMul') && names.includes('_FusedMatMul'), names.join(', '));
});

test('webgpu matMul equals cpu: odd shapes, primes, non-multiples of the tile, K = 1, all four transposes', async (t) => {
  const cases: Case[] = [];
  for (const [tA, tB] of TRANSPOSES) {
    // 1×1×1, primes (scalar loads), multiples of 4 (vec4 loads and stores), a mix, and 65 / 129
    // (one past the 64×64 tile).
    for (const [m, k, n] of [
      [1, 1, 1],
      [7, 13, 29],
      [64, 64, 64],
      [12, 7, 36],
      [65, 129, 65],
    ] as const) {
      cases.push(matMulCase(...shaped(m, k, n, tA, tB)));
    }
  }
  cases.push(matMulCase(...shaped(97, 61, 53, false, false)), matMulCase(...shaped(33, 1, 70, false, false)), matMulCase(...shaped(33, 1, 68, true, true)));
  await compareWithCpu(t, cases);
});

test('webgpu batched matMul equals cpu: batch 1, equal batches, either operand broadcast', async (t) => {
  await compareWithCpu(t, [
    matMulCase([1, 9, 8], [1, 8, 20], false, false),
    matMulCase([3, 7, 13], [13, 29], false, false),
    matMulCase([6, 5], [4, 6, 7], true, false),
    matMulCase([1, 9, 8], [4, 8, 20], false, false),
    matMulCase([4, 13, 7], [1, 29, 13], true, true),
    matMulCase([2, 3, 5, 6], [2, 3, 6, 7], false, false),
    matMulCase([2, 3, 6, 5], [7, 6], true, true),
  ]);
});

const ACTIVATIONS = ['linear', 'relu', 'relu6', 'elu', 'leakyrelu', 'prelu', 'sigmoid'] as const;

interface FusedOptions {
  bias?: number[];
  prelu?: number[];
  activation: (typeof ACTIVATIONS)[number];
  transposeA?: boolean;
  transposeB?: boolean;
}

/** tf.fused.matMul with inputs scaled so that results cross 0 and 6 (relu6). */
const fusedCase = (aShape: number[], bShape: number[], o: FusedOptions): Case => ({
  name: `fused ${o.activation} ${aShape.join('×')} · ${bShape.join('×')}${o.transposeA ? ' Aᵀ' : ''}${o.transposeB ? ' Bᵀ' : ''}${o.bias ? ` + bias ${o.bias.join('×')}` : ''}${o.prelu ? ` (weights ${o.prelu.join('×')})` : ''}`,
  f: () => [
    tf.fused.matMul({
      a: input(aShape, 3),
      b: input(bShape),
      transposeA: o.transposeA ?? false,
      transposeB: o.transposeB ?? false,
      ...(o.bias ? { bias: input(o.bias, 3) } : {}),
      activation: o.activation,
      ...(o.activation === 'prelu' ? { preluActivationWeights: input(o.prelu ?? [bShape[bShape.length - 1]!], 0.5) } : {}),
      leakyreluAlpha: 0.3,
    }),
  ],
  ours: 1,
  only: true,
});

test('webgpu fused matMul equals cpu: every activation with and without bias, bias and weights shapes', async (t) => {
  const cases: Case[] = [];
  for (const activation of ACTIVATIONS) {
    cases.push(fusedCase([37, 23], [23, 45], { activation }), fusedCase([37, 23], [23, 45], { activation, bias: [45] }));
  }
  cases.push(
    fusedCase([37, 23], [23, 45], { activation: 'relu', bias: [37, 45] }),
    fusedCase([37, 23], [23, 45], { activation: 'elu', bias: [37, 1] }),
    fusedCase([37, 23], [23, 45], { activation: 'prelu', prelu: [37, 45] }),
    fusedCase([64, 32], [32, 48], { activation: 'relu6', bias: [48] }),
    fusedCase([32, 64], [48, 32], { activation: 'sigmoid', bias: [1, 48], transposeA: true, transposeB: true }),
    fusedCase([3, 17, 11], [11, 19], { activation: 'leakyrelu', bias: [19] }),
    fusedCase([3, 17, 11], [3, 11, 19], { activation: 'relu', bias: [3, 1, 19] }),
    fusedCase([3, 11, 17], [19, 11], { activation: 'prelu', prelu: [3, 17, 19], transposeA: true, transposeB: true }),
  );
  await compareWithCpu(t, cases);
});

/** Gradients of Σ f(a, b)² with respect to both operands. */
const gradCase = (aShape: number[], bShape: number[], tA: boolean, tB: boolean): Case => ({
  name: `grads of matMul ${aShape.join('×')} · ${bShape.join('×')}${tA ? ' Aᵀ' : ''}${tB ? ' Bᵀ' : ''}`,
  f: () => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.matMul(a, b, tA, tB))))([input(aShape), input(bShape)]),
  // Forward, then dA and dB: each a matMul with transposes, through our kernel.
  ours: 3,
});

/** A dense layer `act(x·W + b)` trained one step: tf.variableGrads of a squared error. */
const denseCase = (activation: 'linear' | 'relu', batch: number, inputs: number, units: number): Case => ({
  name: `variableGrads of a fused dense layer (${activation}) ${batch}×${inputs} → ${units}`,
  f: () => {
    const x = input([batch, inputs]);
    const y = input([batch, units]);
    const w = tf.variable(input([inputs, units]), true, undefined, 'float32');
    const b = tf.variable(input([units]), true, undefined, 'float32');
    const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(tf.sub(tf.fused.matMul({ a: x, b: w, bias: b, activation }), y))) as tf.Scalar, [w, b]);
    const out = [value, grads[w.name]!, grads[b.name]!];
    w.dispose();
    b.dispose();
    return out;
  },
  // Forward (fused for linear; matMul + add + relu while recording gradients), then dW; dx too
  // for linear (its custom gradient computes both), not for relu (x is no variable).
  ours: activation === 'linear' ? 3 : 2,
});

test('webgpu matMul gradients equal cpu: all four transposes, batched, a fused dense layer', async (t) => {
  const cases: Case[] = TRANSPOSES.map(([tA, tB]) => gradCase(...shaped(7, 13, 29, tA, tB)));
  // tfjs differentiates batched products only with equal batches (its gradient does not sum over
  // broadcast batch dimensions, on any backend).
  cases.push(gradCase([3, 9, 8], [3, 8, 12], false, false), gradCase([2, 8, 9], [2, 12, 8], true, true), denseCase('linear', 16, 12, 10), denseCase('relu', 16, 12, 10));
  await compareWithCpu(t, cases);
});

test('webgpu matMul: the stock kernel runs what ours does not cover, and setWebGpuKernels switches', async (t) => {
  // int32 operands: the stock kernel's (ours is float32 only).
  const int32: Case = {
    name: 'matMul int32 5×6 · 6×7',
    f: () => [tf.cast(tf.matMul(tf.cast(tf.round(input([5, 6], 9)), 'int32'), tf.cast(tf.round(input([6, 7], 9)), 'int32')), 'float32')],
    ours: 0,
  };
  await compareWithCpu(t, [int32]);
  const fused = fusedCase([37, 23], [23, 45], { activation: 'relu', bias: [45] });
  setWebGpuKernels('stock');
  try {
    const { result: stock, keys } = await dispatched(() => run(fused));
    assert.equal(keys.filter((k) => k.startsWith(MATMUL_SHADER_PREFIX)).length, 0, 'stock kernels dispatched ours');
    setWebGpuKernels('ours');
    const { result: ours, keys: oursKeys } = await dispatched(() => run(fused));
    assert.deepEqual(
      oursKeys.map((k) => k.startsWith(MATMUL_SHADER_PREFIX)),
      [true],
    );
    assert.ok(maxRelError(ours[0]!, stock[0]!) <= 1e-5, `ours and stock differ by ${maxRelError(ours[0]!, stock[0]!)}`);
  } finally {
    setWebGpuKernels('ours');
  }
});
