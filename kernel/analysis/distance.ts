/**
 * Distance in parameter space (PAPER.md §3): ‖θA − θB‖₂ per module and for the whole network,
 * summed in float64. The classifier (`fc` by default), re-initialised for the target task, is
 * flagged, and the totals are given with and without it. `tl.distance` in notebooks.
 *
 * Distances are exact for the two networks given: there are no examples to resample, so they
 * carry no interval (unlike CKA and barriers, option `uncertainty`). Their uncertainty is over
 * training runs: compute them for several seed pairs (docs/uncertainty.md).
 *
 * Weights from other frameworks (a record of name → tensor from `tl.io.readNpz` or
 * `tl.io.readSafetensors`) are grouped into modules by name: by default the text before the first
 * '.' or '/' (`layer1.0.conv1.weight` → `layer1`, `conv1/kernel` → `conv1`), or as `groupBy` says
 * (a depth, or a function). Layouts (PyTorch's OIHW convolutions against TensorFlow's HWIO) do not
 * matter: a distance is a sum of squares over a tensor's elements, whatever their order, as long as
 * both sides use the same layout.
 */
import { tf } from './tfjs';
import type { Model, NamedWeights } from './modelContract';
import type { MimeBundle } from '../protocol/mime';
import { Mime } from '../protocol/mime';
import { DISPLAY, type Displayable } from './display';
import { checkInteger, checkKeys, checkObject, formatValue, fail } from './validate';
import { checkSameParameters } from './evalGrid';
import { VEGA_LITE_SCHEMA, fmt, fmtShort, textTable } from './results';

/**
 * A model, weights by parameter name (a Map, or a record such as `tl.io.readNpz` and
 * `tl.io.readSafetensors` give), or anything holding them as `weights` (a checkpoint).
 */
export type WeightsSource = Model | NamedWeights | Readonly<Record<string, tf.Tensor>> | { readonly weights: ReadonlyMap<string, tf.Tensor> };

/**
 * How parameter names group into modules: a depth (the first `depth` parts of the name split at
 * '.' and '/', never the last part: depth 2 gives `layer1.0` for `layer1.0.conv1.weight`), or a
 * function from name to module (`undefined` leaves the parameter out, e.g. BatchNorm buffers).
 */
export type GroupBy = number | ((name: string) => string | undefined);

export interface DistanceOptions {
  /** Modules flagged as the re-initialised head. Default: the models' `headModule` (`['fc']` for tl.resnet / tl.cnn and weight maps). */
  readonly head?: readonly string[];
  /** Modules left out of the table and the totals. Default none. */
  readonly exclude?: readonly string[];
  /**
   * How parameter names group into modules (see {@link GroupBy}). Default 1: the text before the
   * first '.' or '/' (`layer1.0.conv1.weight` → `layer1`; `conv1/kernel` → `conv1`).
   */
  readonly groupBy?: GroupBy;
}

/** The module of `name` at `depth` (≥ 1): its first `depth` parts split at '.' and '/', never the last part. */
export function moduleAtDepth(name: string, depth: number): string {
  let seen = 0;
  let last = -1;
  for (let i = 0; i < name.length; i++) {
    if (name[i] === '.' || name[i] === '/') {
      last = i;
      if (++seen === depth) break;
    }
  }
  return last < 0 ? name : name.slice(0, last);
}

function groupFunction(fn: string, g: unknown): (name: string) => string | undefined {
  if (g === undefined) return (n) => moduleAtDepth(n, 1);
  if (typeof g === 'number') {
    const depth = checkInteger(fn, 'options.groupBy', g, 1);
    return (n) => moduleAtDepth(n, depth);
  }
  if (typeof g !== 'function') fail(fn, 'options.groupBy', `must be a depth (an integer ≥ 1) or a function from parameter name to module name, got ${formatValue(g)}`);
  return (n) => {
    const m: unknown = (g as (name: string) => unknown)(n);
    if (m === undefined || m === null) return undefined;
    if (typeof m !== 'string' || m === '') fail(fn, 'options.groupBy', `returned ${formatValue(m)} for '${n}'; expected a module name (a non-empty string) or undefined to leave it out`);
    return m;
  };
}

/** Distance of one module between the two sides of one pair. */
export interface ModuleDistance {
  readonly module: string;
  readonly parameters: number;
  /** ‖θA − θB‖₂ over the module's parameters. */
  readonly distance: number;
  /** ‖θA‖₂ over the module's parameters (for scale). */
  readonly normA: number;
  /** Whether the module is the re-initialised head. */
  readonly head: boolean;
}

/** All module distances of one pair. */
export interface PairDistance {
  readonly label: string;
  readonly modules: readonly ModuleDistance[];
  /** Over all modules in the table. */
  readonly total: number;
  /** Over the modules that are not the head. */
  readonly totalWithoutHead: number;
}

/** The weights of a {@link WeightsSource}, checked. */
export function weightsOf(fn: string, arg: string, src: unknown): ReadonlyMap<string, tf.Tensor> {
  if (src !== null && typeof src === 'object' && !(src instanceof Map) && (src as { weights?: unknown }).weights instanceof Map && !((src as Partial<Model>).variables instanceof Map)) {
    return weightsOf(fn, `${arg}.weights`, (src as { weights: unknown }).weights);
  }
  if (src instanceof Map) {
    for (const [k, v] of src) {
      if (typeof k !== 'string' || !(v instanceof tf.Tensor)) fail(fn, arg, `must map parameter names to tensors, got an entry ${formatValue(k)} → ${formatValue(v)}`);
      if (v.isDisposed) fail(fn, arg, `holds a disposed tensor for '${k}'`);
    }
    if (src.size === 0) fail(fn, arg, 'has no parameters');
    return src as ReadonlyMap<string, tf.Tensor>;
  }
  const m = src as Partial<Model> | null;
  if (m !== null && typeof m === 'object' && m.variables instanceof Map) {
    if ((m as { isDisposed?: boolean }).isDisposed) fail(fn, arg, 'is a disposed model');
    if (m.variables.size === 0) fail(fn, arg, `has no parameters (${m.arch ?? 'model'}: a graph model keeps its weights inside the graph; load a layers model)`);
    return m.variables;
  }
  // A plain record of name → tensor (tl.io.readNpz, tl.io.readSafetensors).
  if (src !== null && typeof src === 'object' && !Array.isArray(src) && !(src instanceof tf.Tensor)) {
    const entries = Object.entries(src);
    if (entries.length > 0 && entries.every(([, v]) => v instanceof tf.Tensor)) return weightsOf(fn, arg, new Map(entries as [string, tf.Tensor][]));
    const bad = entries.find(([, v]) => !(v instanceof tf.Tensor));
    if (bad && entries.some(([, v]) => v instanceof tf.Tensor)) fail(fn, arg, `must map parameter names to tensors, got an entry '${bad[0]}' → ${formatValue(bad[1])}`);
  }
  return fail(fn, arg, `must be a model, a checkpoint or a Map of weights by parameter name (or a record of name → tensor), got ${formatValue(src)}`);
}

function checkNames(fn: string, arg: string, v: unknown, fallback: readonly string[]): string[] {
  if (v === undefined) return [...fallback];
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) fail(fn, arg, `must be an array of module names, got ${formatValue(v)}`);
  return [...(v as string[])];
}

async function pairDistance(fn: string, label: string, a: ReadonlyMap<string, tf.Tensor>, argA: string, b: ReadonlyMap<string, tf.Tensor>, argB: string, o: Options): Promise<PairDistance> {
  const { head, exclude, groupOf } = o;
  const grouped = checkSameParameters(fn, argA, a, argB, b).flatMap((name) => {
    const mod = groupOf(name);
    return mod === undefined ? [] : [[name, mod] as const];
  });
  if (grouped.length === 0) fail(fn, 'options.groupBy', 'left out every parameter');
  const modules = [...new Set(grouped.map(([, mod]) => mod))];
  for (const e of exclude) if (!modules.includes(e)) fail(fn, 'options.exclude', `names unknown module '${e}'; modules: ${modules.join(', ')}`);
  const sq = new Map<string, { d: number; a: number; count: number }>();
  for (const [name, mod] of grouped) {
    if (exclude.includes(mod)) continue;
    const [va, vb] = await Promise.all([a.get(name)!.data(), b.get(name)!.data()]);
    let d = 0;
    let na = 0;
    for (let i = 0; i < va.length; i++) {
      const x = va[i] as number;
      const diff = x - (vb[i] as number);
      d += diff * diff;
      na += x * x;
    }
    const s = sq.get(mod) ?? { d: 0, a: 0, count: 0 };
    sq.set(mod, { d: s.d + d, a: s.a + na, count: s.count + va.length });
  }
  const rows: ModuleDistance[] = modules
    .filter((m) => sq.has(m))
    .map((m) => ({ module: m, parameters: sq.get(m)!.count, distance: Math.sqrt(sq.get(m)!.d), normA: Math.sqrt(sq.get(m)!.a), head: head.includes(m) }));
  const total = Math.sqrt(rows.reduce((s, r) => s + r.distance ** 2, 0));
  const totalWithoutHead = Math.sqrt(rows.filter((r) => !r.head).reduce((s, r) => s + r.distance ** 2, 0));
  return { label, modules: rows, total, totalWithoutHead };
}

interface Options {
  readonly head: string[];
  readonly exclude: string[];
  readonly groupOf: (name: string) => string | undefined;
}

function parseOptions(fn: string, options: unknown, sources: readonly unknown[] = []): Options {
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, ['head', 'exclude', 'groupBy']);
  // The default head: the models' own classifier module (`fc` for tl.resnet / tl.cnn, the head layer's module for tl.fromLayersModel).
  const heads = [...new Set(sources.map((s) => (s !== null && typeof s === 'object' && typeof (s as Partial<Model>).headModule === 'string' ? (s as Model).headModule! : undefined)).filter((h): h is string => h !== undefined))];
  return { head: checkNames(fn, 'options.head', o['head'], heads.length > 0 ? heads : ['fc']), exclude: checkNames(fn, 'options.exclude', o['exclude'], []), groupOf: groupFunction(fn, o['groupBy']) };
}

/**
 * ‖θA − θB‖₂ per module and in total between two models (or weight maps, e.g. checkpoints) of
 * the same architecture. The head (`fc`) is flagged; `exclude: ['fc']` leaves it out entirely.
 *
 * @example
 * ```ts
 * const d = await tl.distance(pt1, pt2);
 * d.pairs[0].totalWithoutHead;   // small for two P-T runs
 * await tl.distance(ri1, ri2, {exclude: ['fc']});
 * // Checkpoints from PyTorch: records of name → tensor, grouped by name ('layer1.0.conv1.weight' → layer1).
 * const ft1 = await tl.io.readSafetensors('ft1.safetensors');
 * const ft2 = await tl.io.readNpz('ft2.npz');
 * await tl.distance(ft1, ft2, {groupBy: 2});   // by block: layer1.0, layer1.1, …
 * ```
 */
export async function distance(a: WeightsSource, b: WeightsSource, options: DistanceOptions & { readonly label?: string } = {}): Promise<DistanceResult> {
  const fn = 'tl.distance';
  const o = checkObject(fn, 'options', options);
  const { label, ...rest } = o;
  if (label !== undefined && typeof label !== 'string') fail(fn, 'options.label', `must be a string, got ${formatValue(label)}`);
  const p = await pairDistance(fn, (label as string | undefined) ?? 'A vs B', weightsOf(fn, 'a', a), 'a', weightsOf(fn, 'b', b), 'b', parseOptions(fn, rest, [a, b]));
  return new DistanceResult([p]);
}

/**
 * {@link distance} for several labelled pairs, in one table and chart (e.g. P-T/P-T, P-T/P,
 * RI-T/RI-T).
 *
 * @example
 * ```ts
 * const d = await tl.distances([
 *   {label: 'P-T/P-T', a: pt1, b: pt2},
 *   {label: 'RI-T/RI-T', a: ri1, b: ri2},
 * ]);
 * d;  // a grouped bar chart per module
 * ```
 */
export async function distances(pairs: readonly { readonly label: string; readonly a: WeightsSource; readonly b: WeightsSource }[], options: DistanceOptions = {}): Promise<DistanceResult> {
  const fn = 'tl.distances';
  if (!Array.isArray(pairs) || pairs.length === 0) fail(fn, 'pairs', `must be a non-empty array of {label, a, b}, got ${formatValue(pairs)}`);
  const o = parseOptions(fn, options, pairs.flatMap((p) => (p !== null && typeof p === 'object' ? [p.a, p.b] : [])));
  const out: PairDistance[] = [];
  for (let i = 0; i < pairs.length; i++) {
    const p = pairs[i]!;
    if (p === null || typeof p !== 'object' || typeof p.label !== 'string') fail(fn, `pairs[${i}]`, `must be {label: string, a, b}, got ${formatValue(p)}`);
    out.push(await pairDistance(fn, p.label, weightsOf(fn, `pairs[${i}].a`, p.a), `pairs[${i}].a`, weightsOf(fn, `pairs[${i}].b`, p.b), `pairs[${i}].b`, o));
  }
  return new DistanceResult(out);
}

/** Parameter distances of one or more pairs; displays a table and a bar chart per module. */
export class DistanceResult implements Displayable {
  constructor(readonly pairs: readonly PairDistance[]) {}

  /** The distance of `module` in pair `label` (the first pair by default). */
  get(module: string, label = this.pairs[0]!.label): number {
    const p = this.pairs.find((q) => q.label === label);
    if (!p) fail('DistanceResult.get', 'label', `'${label}' is not a pair; pairs: ${this.pairs.map((q) => q.label).join(', ')}`);
    const m = p.modules.find((r) => r.module === module);
    if (!m) fail('DistanceResult.get', 'module', `'${module}' is not in the table; modules: ${p.modules.map((r) => r.module).join(', ')}`);
    return m.distance;
  }

  toVegaLite(): Record<string, unknown> {
    const values = this.pairs.flatMap((p) => p.modules.map((m) => ({ pair: p.label, module: m.head ? `${m.module} (head)` : m.module, distance: m.distance })));
    return {
      $schema: VEGA_LITE_SCHEMA,
      title: 'Distance in parameter space ‖θA − θB‖₂ per module',
      data: { values },
      width: { step: 14 },
      height: 220,
      mark: 'bar',
      encoding: {
        x: { field: 'module', type: 'nominal', title: 'module', sort: null },
        xOffset: { field: 'pair', sort: this.pairs.map((p) => p.label) },
        y: { field: 'distance', type: 'quantitative', title: '‖θA − θB‖₂' },
        color: { field: 'pair', type: 'nominal', sort: this.pairs.map((p) => p.label) },
        tooltip: [{ field: 'pair' }, { field: 'module' }, { field: 'distance', format: '.4f' }],
      },
    };
  }

  toString(): string {
    const modules = [...new Set(this.pairs.flatMap((p) => p.modules.map((m) => m.module)))];
    const header = ['module', ...this.pairs.map((p) => p.label)];
    const isHead = (m: string) => this.pairs.some((p) => p.modules.some((r) => r.module === m && r.head));
    const rows = modules.map((m) => [isHead(m) ? `${m} (head)` : m, ...this.pairs.map((p) => fmt(p.modules.find((r) => r.module === m)?.distance ?? NaN, 4))]);
    rows.push(['total', ...this.pairs.map((p) => fmt(p.total, 4))]);
    rows.push(['total without head', ...this.pairs.map((p) => fmt(p.totalWithoutHead, 4))]);
    const params = this.pairs[0]!.modules.reduce((s, m) => s + m.parameters, 0);
    return `Distance in parameter space ‖θA − θB‖₂ (${fmtShort(params)} parameters)\n${textTable(header, rows)}`;
  }

  [DISPLAY](): MimeBundle {
    return { [Mime.vegaLite]: this.toVegaLite(), [Mime.plain]: this.toString() };
  }
}
