/**
 * Which tensors move together when the hidden units of a network are reordered: a permutation
 * spec, one per architecture (Ainsworth, Hayase, Srinivasa 2023, "Git Re-Basin", §3 and their
 * `permutation_spec_from_axes_to_perm`). Reordering the units of one group along every axis the
 * spec lists leaves the function the network computes unchanged.
 *
 * - `tl.cnn`: one group per conv layer (its kernel's output axis and bias, the next layer's input
 *   axis: the next conv's kernel or, for the last conv, the rows of the dense layer after the
 *   NHWC flatten, one block of rows per spatial position) and one for the hidden dense layer `fc1`.
 * - `tl.resnet`: a residual stream per stage, `layer1 … layerS`, shared by every block's output in
 *   the stage (a residual sum adds the same channel of both branches), by `conv1` for `layer1`,
 *   and by the projection shortcut that opens a later stage; and a group `layerS/blockB` for the
 *   channels inside each block. BatchNorm's γ, β, running mean and running variance move with
 *   their channel; Fixup's scalar biases and gains are shared by all channels and stay put.
 *
 * The classifier's outputs and the network's input channels are never permuted.
 */
import type { Model } from '../modelContract';
import { isNetModel, type CnnConfig, type ModelConfig, type ResNetConfig } from '../netModel';
import { formatValue, fail } from '../validate';

/** One axis of one tensor that a group reorders. */
export interface PermutedAxis {
  /** A parameter or buffer name, e.g. `conv2/kernel` or `layer1/block0/bn1/mean`. */
  readonly tensor: string;
  readonly axis: number;
  /**
   * The axis holds `repeat` consecutive blocks of the group's units (a flattened NHWC feature map:
   * channel fastest, one block per spatial position). Default 1.
   */
  readonly repeat?: number;
}

/** Units that are reordered together (the channels of one layer or one residual stream). */
export interface PermutationGroup {
  /** E.g. `conv1`, `fc1`, `layer2` (a residual stream), `layer2/block0` (inside a block). */
  readonly name: string;
  /** Number of units. */
  readonly size: number;
  readonly axes: readonly PermutedAxis[];
}

/** The permutation symmetry of an architecture. */
export interface PermutationSpec {
  /** The model's `arch`, e.g. `cnn`. */
  readonly arch: string;
  readonly groups: readonly PermutationGroup[];
  /** Tensors no group reorders (the classifier's bias, Fixup's scalars). */
  readonly fixed: readonly string[];
}

class SpecBuilder {
  private readonly groups = new Map<string, { size: number; axes: PermutedAxis[] }>();
  readonly fixed: string[] = [];

  group(name: string, size: number): void {
    this.groups.set(name, { size, axes: [] });
  }

  axis(group: string, tensor: string, axis: number, repeat = 1): void {
    this.groups.get(group)!.axes.push(repeat === 1 ? { tensor, axis } : { tensor, axis, repeat });
  }

  build(arch: string): PermutationSpec {
    return { arch, groups: [...this.groups].map(([name, g]) => ({ name, size: g.size, axes: g.axes })), fixed: this.fixed };
  }
}

const pooled = (n: number) => Math.ceil(n / 2);

function cnnSpec(c: CnnConfig): PermutationSpec {
  const s = new SpecBuilder();
  let [h, w] = c.inputShape;
  c.channels.forEach((out, i) => {
    const m = `conv${i + 1}`;
    s.group(m, out);
    s.axis(m, `${m}/kernel`, 3);
    s.axis(m, `${m}/bias`, 0);
    h = pooled(h);
    w = pooled(w);
    if (i + 1 < c.channels.length) s.axis(m, `conv${i + 2}/kernel`, 2);
    else s.axis(m, c.hidden > 0 ? 'fc1/kernel' : 'fc/kernel', 0, h * w);
  });
  if (c.hidden > 0) {
    s.group('fc1', c.hidden);
    s.axis('fc1', 'fc1/kernel', 1);
    s.axis('fc1', 'fc1/bias', 0);
    s.axis('fc1', 'fc/kernel', 0);
  }
  s.fixed.push('fc/bias');
  return s.build('cnn');
}

function resnetSpec(c: ResNetConfig): PermutationSpec {
  const s = new SpecBuilder();
  const bn = c.norm === 'batch';
  const norm = (group: string, prefix: string) => {
    for (const t of ['gamma', 'beta', 'mean', 'variance']) s.axis(group, `${prefix}/${t}`, 0);
  };
  let stream = 'layer1';
  s.group(stream, c.width);
  s.axis(stream, 'conv1/kernel', 3);
  if (bn) norm(stream, 'conv1/bn');
  else s.fixed.push('conv1/bias');
  let ch = c.width;
  c.blocks.forEach((nBlocks, st) => {
    const out = c.width * 2 ** st;
    for (let b = 0; b < nBlocks; b++) {
      const p = `layer${st + 1}/block${b}`;
      const stride = st > 0 && b === 0 ? 2 : 1;
      const project = stride !== 1 || ch !== out;
      const input = stream;
      if (project) {
        stream = `layer${st + 1}`;
        s.group(stream, out);
        s.axis(input, `${p}/shortcut/kernel`, 2);
        s.axis(stream, `${p}/shortcut/kernel`, 3);
        if (bn) norm(stream, `${p}/shortcut/bn`);
      }
      s.group(p, out);
      s.axis(input, `${p}/conv1/kernel`, 2);
      s.axis(p, `${p}/conv1/kernel`, 3);
      if (bn) norm(p, `${p}/bn1`);
      s.axis(p, `${p}/conv2/kernel`, 2);
      s.axis(stream, `${p}/conv2/kernel`, 3);
      if (bn) norm(stream, `${p}/bn2`);
      else s.fixed.push(...['bias1a', 'bias1b', 'bias2a', 'scale', 'bias2b'].map((t) => `${p}/${t}`));
      ch = out;
    }
  });
  s.axis(stream, 'fc/kernel', 0);
  s.fixed.push('fc/bias');
  return s.build(c.norm === 'batch' ? 'resnet-mini' : 'resnet-mini-nonorm');
}

/** Spec builders by `config.arch`. An architecture missing here cannot be aligned. */
const SPECS: { readonly [A in ModelConfig['arch']]: (config: Extract<ModelConfig, { arch: A }>) => PermutationSpec } = {
  cnn: cnnSpec,
  'resnet-mini': resnetSpec,
};

/** The `config.arch` names that have a permutation spec. */
export function alignableArchitectures(): string[] {
  return Object.keys(SPECS);
}

/**
 * The permutation spec of `model`, checked against its tensors: every parameter and buffer is
 * either reordered by a group or listed as fixed, with matching sizes. Throws an
 * InvalidArgumentError naming `fn`, `arg`, the model and what is not supported.
 *
 * @example
 * ```ts
 * const spec = tl.permutationSpec(tl.cnn({inputShape: [28, 28, 1], numClasses: 10, channels: [8, 16], hidden: 32}));
 * spec.groups.map((g) => `${g.name}: ${g.size}`); // ['conv1: 8', 'conv2: 16', 'fc1: 32']
 * ```
 */
export function permutationSpec(model: Model, fn = 'tl.permutationSpec', arg = 'model'): PermutationSpec {
  const m = model as Partial<Model> | null;
  if (m === null || typeof m !== 'object' || !(m.variables instanceof Map)) fail(fn, arg, `must be a model (tl.cnn, tl.resnet), got ${formatValue(model)}`);
  const supported = alignableArchitectures().join(', ');
  if (!isNetModel(model)) {
    fail(fn, arg, `(arch '${String(m.arch)}') is not a model built by tl.cnn or tl.resnet, so there is no permutation spec saying which of its tensors share a hidden unit; alignment supports the architectures ${supported}`);
  }
  if (model.isDisposed) fail(fn, arg, 'is a disposed model');
  const build = (SPECS as Record<string, ((c: ModelConfig) => PermutationSpec) | undefined>)[model.config.arch];
  if (!build) fail(fn, arg, `(arch '${model.arch}') has no permutation spec; alignment supports the architectures ${supported}`);
  const spec = build(model.config);
  const tensors = new Map<string, readonly number[]>();
  for (const [k, v] of model.variables) tensors.set(k, v.shape);
  for (const [k, v] of model.buffers) tensors.set(k, v.shape);
  const covered = new Set(spec.fixed);
  for (const g of spec.groups) {
    for (const a of g.axes) {
      const shape = tensors.get(a.tensor);
      if (!shape) fail(fn, arg, `(${model.arch}) has no tensor '${a.tensor}', which the permutation spec of group '${g.name}' names; the spec does not fit this model`);
      if (shape[a.axis] !== g.size * (a.repeat ?? 1)) {
        fail(fn, arg, `(${model.arch}) has '${a.tensor}' of shape [${shape.join(', ')}], but group '${g.name}' expects ${g.size * (a.repeat ?? 1)} along axis ${a.axis}; the spec does not fit this model`);
      }
      covered.add(a.tensor);
    }
  }
  for (const k of tensors.keys()) {
    if (!covered.has(k)) fail(fn, arg, `(${model.arch}) has the tensor '${k}', which its permutation spec does not cover: alignment does not know how its units move`);
  }
  return spec;
}

/** Each tensor's permuted axes: tensor → [{group, axis, repeat}]. */
export function axesByTensor(spec: PermutationSpec): Map<string, { group: string; axis: number; repeat: number }[]> {
  const out = new Map<string, { group: string; axis: number; repeat: number }[]>();
  for (const g of spec.groups) {
    for (const a of g.axes) {
      const list = out.get(a.tensor) ?? [];
      list.push({ group: g.name, axis: a.axis, repeat: a.repeat ?? 1 });
      out.set(a.tensor, list);
    }
  }
  return out;
}
