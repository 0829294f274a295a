/**
 * `TlOptimizerStep`: one optimiser step of one variable in two dispatches, for `tl.train` on WebGPU
 * (../optimizers.ts). Written as tensor ops, SGD with momentum takes 4 element-wise dispatches per
 * variable and step (6 with weight decay) and Adam 14: on a GPU these small dispatches, not the
 * arithmetic, are what an optimiser step costs, and in a small CNN they were the largest group of a
 * training step's dispatches.
 *
 * Inputs `v` (the variable), `g` (its gradient) and, for momentum and Adam, `slots`: the
 * optimiser's state for the variable packed as [k, size] (k = 1: the velocity; k = 2: Adam's first
 * and second moments). Outputs [new v, new slots] (new v alone for plain SGD):
 * - pass 1 (momentum, Adam): the new slots, vel ← momentum·vel + g, or m ← β₁m + (1 − β₁)g and
 *   s ← β₂s + (1 − β₂)g²;
 * - pass 2: w ← w − lr·step − (lr·wd)·w, with step = g (plain SGD), vel (momentum) or
 *   (m / c₁) / (√(s / c₂) + ε) (Adam, bias corrections c = 1 − βᵗ given by the caller).
 * The same formulas, in the same order, as the tensor ops of ../optimizers.ts; a compiler may fuse
 * a multiply and an add, so results can differ from them in the last bit.
 *
 * A kernel of TransferLab's own name: the stock kernels (`setWebGpuKernels('stock')`) leave it
 * unregistered, and ../optimizers.ts then uses tensor ops.
 */
import { tf } from '../tfjs';
import { type KernelFunc, type TensorInfo, type WebGpuKernelConfig, type WebGpuProgram, ceilDiv, runProgram } from './shared';

export const OPTIMIZER_STEP = 'TlOptimizerStep';

const WORKGROUP = 64;

/** The update rule. */
export type OptimizerRule = 'sgd' | 'momentum' | 'adam';

export interface OptimizerStepAttrs {
  readonly rule: OptimizerRule;
  readonly lr: number;
  /** lr × weight decay (0: none). */
  readonly lrDecay: number;
  /** SGD momentum (rule 'momentum'). */
  readonly momentum: number;
  /** Adam's β₁, β₂, ε and bias corrections c₁ = 1 − β₁ᵗ, c₂ = 1 − β₂ᵗ (rule 'adam'). */
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly c1: number;
  readonly c2: number;
}

/** How many slots (rows of the packed state) a rule keeps per variable. */
export const slotCount = (rule: OptimizerRule): number => (rule === 'adam' ? 2 : rule === 'momentum' ? 1 : 0);

// 1 − β as computed on the host, as the tensor ops use it (1.0 − β in float32 differs in the last bit).
const UNIFORMS = 'count : i32, lr : f32, lrDecay : f32, momentum : f32, beta1 : f32, beta2 : f32, oneMinusBeta1 : f32, oneMinusBeta2 : f32, epsilon : f32, c1 : f32, c2 : f32,';

/** Workgroups per dispatch dimension (WebGPU's guaranteed minimum), so any size fits in x × y. */
const MAX_GROUPS = 65535;

/** x × y workgroups for `count` threads: tfjs's flat index then runs over both. */
function dispatchFor(count: number): [number, number, number] {
  const groups = Math.max(1, ceilDiv(count, WORKGROUP));
  const x = Math.min(groups, MAX_GROUPS);
  return [x, ceilDiv(groups, x), 1];
}

function flatProgram(key: string, outputShape: number[], variableNames: string[], count: number, body: string): WebGpuProgram {
  return {
    outputShape,
    shaderKey: `tlOptimizer_${key}`,
    dispatchLayout: { x: outputShape.map((_, i) => i) },
    dispatch: dispatchFor(count),
    variableNames,
    uniforms: UNIFORMS,
    workgroupSize: [WORKGROUP, 1, 1],
    getUserCode: () => /* wgsl */ `
      fn main(index : i32) {
        if (index >= uniforms.count) { return; }
        let i = index;
        let n = uniforms.count;
        ${body}
      }
    `,
  };
}

/** Pass 1: the new slots [k, count]. */
function slotsProgram(rule: 'momentum' | 'adam', count: number): WebGpuProgram {
  const body =
    rule === 'momentum'
      ? 'result[i] = slots[i] * uniforms.momentum + g[i];'
      : `let gi = g[i];
        result[i] = slots[i] * uniforms.beta1 + gi * uniforms.oneMinusBeta1;
        result[n + i] = slots[n + i] * uniforms.beta2 + (gi * gi) * uniforms.oneMinusBeta2;`;
  return flatProgram(`slots_${rule}`, [slotCount(rule), count], ['g', 'slots'], count, body);
}

/** Pass 2: the new value of the variable. */
function applyProgram(rule: OptimizerRule, shape: number[], count: number, decay: boolean): WebGpuProgram {
  const step =
    rule === 'sgd'
      ? 'let step = g[i];'
      : rule === 'momentum'
        ? 'let step = slots[i];'
        : 'let step = (slots[i] / uniforms.c1) / (sqrt(slots[n + i] / uniforms.c2) + uniforms.epsilon);';
  const body = `
        ${step}
        let w = v[i];
        let next = w - step * uniforms.lr;
        ${decay ? 'result[i] = next - w * uniforms.lrDecay;' : 'result[i] = next;'}`;
  // Only what the shader reads is bound (the pipeline layout leaves unused bindings out).
  const variableNames = rule === 'sgd' ? ['v', 'g'] : ['v', 'slots'];
  return flatProgram(`apply_${rule}${decay ? '_decay' : ''}`, shape, variableNames, count, body);
}

const kernelFunc: KernelFunc = ({ inputs, backend, attrs }) => {
  const { v, g, slots } = inputs as { v: TensorInfo; g: TensorInfo; slots?: TensorInfo };
  const a = attrs as unknown as OptimizerStepAttrs;
  const count = v.shape.reduce((p, d) => p * d, 1);
  const k = slotCount(a.rule);
  if (v.dtype !== 'float32' || g.dtype !== 'float32' || !tf.util.arraysEqual(v.shape, g.shape)) {
    throw new Error(`${OPTIMIZER_STEP}: v and g must be float32 of one shape; got ${v.dtype} [${v.shape.join(', ')}] and ${g.dtype} [${g.shape.join(', ')}]`);
  }
  if (k > 0 && (slots === undefined || slots.dtype !== 'float32' || !tf.util.arraysEqual(slots.shape, [k, count]))) {
    throw new Error(`${OPTIMIZER_STEP}: '${a.rule}' needs slots of shape [${k}, ${count}]; got ${slots ? `[${slots.shape.join(', ')}]` : 'none'}`);
  }
  const uniforms = [
    { type: 'int32' as const, data: [count] },
    ...[a.lr, a.lrDecay, a.momentum, a.beta1, a.beta2, 1 - a.beta1, 1 - a.beta2, a.epsilon, a.c1, a.c2].map((x) => ({ type: 'float32' as const, data: [x] })),
  ];
  const decay = a.lrDecay !== 0;
  if (a.rule === 'sgd') return [runProgram(backend, applyProgram('sgd', [...v.shape], count, decay), [v, g], 'float32', uniforms)];
  const newSlots = runProgram(backend, slotsProgram(a.rule, count), [g, slots!], 'float32', uniforms);
  const newV = runProgram(backend, applyProgram(a.rule, [...v.shape], count, decay), [v, newSlots], 'float32', uniforms);
  return [newV, newSlots];
};

export const optimizerStepConfig: WebGpuKernelConfig = { kernelName: OPTIMIZER_STEP, kernelFunc };

/**
 * Runs {@link OPTIMIZER_STEP} (webgpu only): the variable's new value and, for momentum and Adam,
 * its new packed slots.
 */
export function optimizerStep(v: tf.Tensor, g: tf.Tensor, slots: tf.Tensor | undefined, attrs: OptimizerStepAttrs): [tf.Tensor, tf.Tensor | undefined] {
  const out = tf.engine().runKernel(OPTIMIZER_STEP, slots ? { v, g, slots } : { v, g }, attrs as unknown as tf.NamedAttrMap) as unknown as tf.Tensor[];
  return [out[0]!, out[1]];
}

/** Whether {@link OPTIMIZER_STEP} is there to run (webgpu with TransferLab's kernels). */
export function hasOptimizerStep(): boolean {
  return tf.getBackend() === 'webgpu' && tf.getKernel(OPTIMIZER_STEP, 'webgpu') !== undefined;
}
