/**
 * The optimisers of `tl.train`: SGD with momentum and Adam, written as plain tensor ops on the
 * model's variables so that the learning-rate schedule (a new rate every step) and decoupled
 * weight decay (w ← w − lr·wd·w) are exact. Slots (velocity, moments) are created on first use
 * and freed by `dispose()`.
 *
 * On WebGPU with TransferLab's kernels, a step of a float32 variable is one `TlOptimizerStep`
 * (./webgpuKernels/optimizerStep.ts): two dispatches instead of 4–14 element-wise ones, the same
 * formulas in the same order, the variable's slots packed as one [k, size] tensor.
 */
import { tf } from './tfjs';
import { hasOptimizerStep, optimizerStep, slotCount, type OptimizerRule } from './webgpuKernels/optimizerStep';

/** The optimisers `options.optimizer` names. */
export const OptimizerName = { sgd: 'sgd', adam: 'adam' } as const;
export type OptimizerName = (typeof OptimizerName)[keyof typeof OptimizerName];
export function isOptimizerName(s: unknown): s is OptimizerName {
  return s === OptimizerName.sgd || s === OptimizerName.adam;
}

/** What an optimiser is built from (validated training options). */
export interface OptimizerSettings {
  readonly optimizer: OptimizerName;
  /** SGD momentum; 0 for plain SGD. Ignored by Adam. */
  readonly momentum: number;
  /** Decoupled weight decay per step, 0 for none. */
  readonly weightDecay: number;
}

/** Updates variables in place from their gradients, one step at a time. */
export interface Optimizer {
  /** One step at learning rate `lr`; `grads` is keyed by variable name (`tf.variableGrads`). */
  step(vars: readonly (readonly [string, tf.Variable])[], grads: tf.NamedTensorMap, lr: number): void;
  /** Frees the slots. */
  dispose(): void;
}

const ADAM_BETA1 = 0.9;
const ADAM_BETA2 = 0.999;
const ADAM_EPSILON = 1e-8;

/**
 * The optimiser `settings` name.
 *
 * @example
 * ```ts
 * const opt = createOptimizer({optimizer: 'sgd', momentum: 0.9, weightDecay: 0});
 * opt.step([...model.variables], grads, 0.05);
 * opt.dispose();
 * ```
 */
export function createOptimizer(settings: OptimizerSettings): Optimizer {
  const slots = new Map<string, tf.Variable[]>();
  const slot = (name: string, v: tf.Variable, k: number): tf.Variable[] => {
    let s = slots.get(name);
    if (!s) {
      s = Array.from({ length: k }, () => tf.variable(tf.zerosLike(v), false));
      slots.set(name, s);
    }
    return s;
  };
  const update = settings.optimizer === OptimizerName.sgd ? sgdUpdate : adamUpdate;
  const rule: OptimizerRule = settings.optimizer === OptimizerName.adam ? 'adam' : settings.momentum > 0 ? 'momentum' : 'sgd';
  // Each variable's slots packed as one [k, size] variable, for the fused step.
  const packed = new Map<string, tf.Variable>();
  // Whether steps are fused: decided at the first step (the backend of the training run) and kept,
  // since the two paths keep their slots differently.
  let fused: boolean | undefined;
  let t = 0;
  const fusedStep = (name: string, v: tf.Variable, g: tf.Tensor, lr: number) => {
    const k = slotCount(rule);
    let state = packed.get(name);
    if (k > 0 && state === undefined) {
      state = tf.variable(tf.zeros([k, v.size]), false);
      packed.set(name, state);
    }
    const [next, slots] = optimizerStep(v, g, state, {
      rule,
      lr,
      lrDecay: lr * settings.weightDecay,
      momentum: settings.momentum,
      beta1: ADAM_BETA1,
      beta2: ADAM_BETA2,
      epsilon: ADAM_EPSILON,
      c1: 1 - ADAM_BETA1 ** t,
      c2: 1 - ADAM_BETA2 ** t,
    });
    if (state !== undefined && slots !== undefined) state.assign(slots);
    v.assign(next);
  };
  return {
    step(vars, grads, lr) {
      t++;
      fused ??= hasOptimizerStep();
      tf.tidy(() => {
        for (const [name, v] of vars) {
          const g = grads[v.name];
          if (!g) continue;
          if (fused && v.dtype === 'float32' && g.dtype === 'float32') {
            fusedStep(name, v, g, lr);
            continue;
          }
          let next = update(settings, (k) => slot(name, v, k), v, g, lr, t);
          if (settings.weightDecay > 0) next = tf.sub(next, tf.mul(v, lr * settings.weightDecay));
          v.assign(next);
        }
      });
    },
    dispose() {
      for (const s of slots.values()) tf.dispose(s);
      slots.clear();
      tf.dispose([...packed.values()]);
      packed.clear();
    },
  };
}

/** The new value of `v` before weight decay; `slots(k)` gives the variable's k slot variables. */
type Update = (settings: OptimizerSettings, slots: (k: number) => tf.Variable[], v: tf.Variable, g: tf.Tensor, lr: number, t: number) => tf.Tensor;

/** SGD with (heavy-ball) momentum: vel ← momentum·vel + g; w ← w − lr·vel. */
const sgdUpdate: Update = (settings, slots, v, g, lr) => {
  let step: tf.Tensor = g;
  if (settings.momentum > 0) {
    const [vel] = slots(1);
    vel!.assign(tf.add(tf.mul(vel!, settings.momentum), g));
    step = vel!;
  }
  return tf.sub(v, tf.mul(step, lr));
};

/** Adam (Kingma & Ba) with bias correction at step `t` (1-based). */
const adamUpdate: Update = (_settings, slots, v, g, lr, t) => {
  const [m, s2] = slots(2);
  m!.assign(tf.add(tf.mul(m!, ADAM_BETA1), tf.mul(g, 1 - ADAM_BETA1)));
  s2!.assign(tf.add(tf.mul(s2!, ADAM_BETA2), tf.mul(tf.square(g), 1 - ADAM_BETA2)));
  const mhat = tf.div(m!, 1 - ADAM_BETA1 ** t);
  const vhat = tf.div(s2!, 1 - ADAM_BETA2 ** t);
  return tf.sub(v, tf.mul(tf.div(mhat, tf.add(tf.sqrt(vhat), ADAM_EPSILON)), lr));
};
