/**
 * What an architecture is to {@link NetModel} (../netModel.ts): a name, how its options are checked
 * into a config (defaults filled in), the parameters and buffers a config lays out, and the
 * forward pass over them. Each architecture lives in its own file of this folder and is listed
 * once in ./registry.ts.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { checkInteger, formatValue, fail } from '../validate';

/** How a parameter or buffer is initialised (seeded per name, see `hashSeed`). */
export type Init =
  | { readonly kind: 'he'; readonly fanIn: number; readonly scale?: number }
  | { readonly kind: 'uniform'; readonly bound: number }
  | { readonly kind: 'const'; readonly value: number };

/** One named tensor of a layout. */
export interface ParamSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly init: Init;
}

/** The modules (forward order), trainable parameters and buffers of a config. */
export interface Layout {
  readonly modules: string[];
  readonly params: ParamSpec[];
  readonly buffers: ParamSpec[];
}

/** What a forward pass gives an architecture: parameters, module outputs, BatchNorm. */
export interface ForwardPass {
  /** The parameter `name` of the model. */
  p(name: string): tf.Tensor;
  /** Reports the output of `module` (kept when the caller asked to collect it). */
  out(module: string, t: tf.Tensor): void;
  /** BatchNorm over N, H, W with the parameters and buffers under `prefix` (mode-dependent). */
  bn(prefix: string, x: tf.Tensor4D): tf.Tensor4D;
}

/** The part of every config NetModel reads. */
export interface BaseConfig {
  /** The architecture's name, as stored in checkpoint manifests. */
  readonly arch: string;
  readonly inputShape: readonly [number, number, number];
  readonly numClasses: number;
  readonly seed: number;
}

/** One architecture; `C` is its config. */
export interface Architecture<C extends BaseConfig = BaseConfig> {
  /** `config.arch` (and a saved checkpoint's `config.arch`) of this architecture. */
  readonly name: C['arch'];
  /** Checks options (possibly a stored config) into a config with defaults; `fn` names the caller. */
  config(options: unknown, fn: string): C;
  /** `model.arch` of a model with this config (e.g. `resnet-mini-nonorm`). */
  modelArch(config: C): string;
  /** A short description of the config for summaries. */
  summarize(config: C): string;
  layout(config: C): Layout;
  /** Logits for the image batch `x`, reporting module outputs through `pass.out`. */
  forward(config: C, pass: ForwardPass, x: tf.Tensor4D): tf.Tensor2D;
}

/** The config type of an architecture. */
export type ConfigOf<A> = A extends Architecture<infer C> ? C : never;

/** `[H, W, C]` with positive integers. */
export function checkInputShape(fn: string, v: unknown): [number, number, number] {
  if (!Array.isArray(v) || v.length !== 3 || !v.every((d) => Number.isInteger(d) && d >= 1)) {
    fail(fn, 'options.inputShape', `must be [H, W, C] with positive integers, got ${formatValue(v)}${Array.isArray(v) ? ` ${JSON.stringify(v)}` : ''}`);
  }
  return [v[0], v[1], v[2]] as [number, number, number];
}

/** A non-empty array of integers ≥ `min`. */
export function checkIntList(fn: string, arg: string, v: unknown, min: number): number[] {
  if (!Array.isArray(v) || v.length === 0) fail(fn, arg, `must be a non-empty array of integers, got ${formatValue(v)}`);
  v.forEach((d, i) => checkInteger(fn, `${arg}[${i}]`, d, min));
  return [...(v as number[])];
}
