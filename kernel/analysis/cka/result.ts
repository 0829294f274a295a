/**
 * The heatmap result of the matrix functions: `CkaResult`, which displays itself (the TransferLab
 * CKA renderer, a vega-lite chart, a text table).
 */
import type { CkaPayload, MimeBundle } from '../../protocol/mime';
import { Mime } from '../../protocol/mime';
import { ckaSpec, lightTheme } from '../../protocol/charts';
import { DISPLAY, type Displayable } from '../display';
import { InvalidArgumentError } from '../errors';
import { fmt, textTable } from '../results';
import type { CkaKind } from './options';
import type { CkaUncertainty } from './uncertainty';

/** One cell of a heatmap with its uncertainty (NaN where not computed). */
export interface CkaCell {
  readonly estimate: number;
  readonly lower: number;
  readonly upper: number;
  readonly pValue: number;
  /** p > alpha: not distinguishable from CKA of unrelated examples (false without permutations). */
  readonly indistinguishable: boolean;
}

/** What a {@link CkaResult} holds. */
export interface CkaResultInit {
  readonly rows: readonly string[];
  readonly columns: readonly string[];
  readonly values: readonly (readonly number[])[];
  readonly kind: CkaKind;
  readonly debiased: boolean;
  readonly estimator: 'full' | 'minibatch';
  readonly n: number;
  readonly batches?: number;
  /** Minibatch estimator: the examples in each batch, in order. */
  readonly batchSizes?: readonly number[];
  /** Minibatch estimator: how batches are weighted (`examples`: each batch's HSIC₁ by its size, see MinibatchCka). */
  readonly batchWeighting?: 'examples';
  readonly title?: string;
  readonly modelA?: string;
  readonly modelB?: string;
  /** Bootstrap intervals and permutation p-values per cell, when asked for (./uncertainty.ts). */
  readonly uncertainty?: CkaUncertainty | undefined;
}

/** ` of 256 examples` for equal batches, ` of 256 examples, the last of 40` or ` of 31–33 examples` otherwise; empty when unknown. */
function batchSizesText(sizes: readonly number[] | undefined): string {
  if (sizes === undefined || sizes.length === 0) return '';
  const first = sizes[0]!;
  if (sizes.every((m) => m === first)) return ` of ${first} examples`;
  const last = sizes[sizes.length - 1]!;
  if (sizes.slice(0, -1).every((m) => m === first)) return ` of ${first} examples, the last of ${last}`;
  const lo = sizes.reduce((a, b) => Math.min(a, b));
  const hi = sizes.reduce((a, b) => Math.max(a, b));
  return ` of ${lo}–${hi} examples`;
}

/**
 * A module×module CKA matrix that displays itself as a heatmap (the TransferLab CKA renderer,
 * with a Vega chart from the shared builder and a text table as fallbacks).
 */
export class CkaResult implements Displayable, CkaResultInit {
  readonly rows: readonly string[];
  readonly columns: readonly string[];
  readonly values: readonly (readonly number[])[];
  readonly kind: CkaKind;
  readonly debiased: boolean;
  readonly estimator: 'full' | 'minibatch';
  readonly n: number;
  readonly batches?: number;
  readonly batchSizes?: readonly number[];
  readonly batchWeighting?: 'examples';
  readonly title?: string;
  readonly modelA?: string;
  readonly modelB?: string;
  /** Intervals over examples and permutation p-values per cell, when asked for (option `uncertainty`). */
  readonly uncertainty?: CkaUncertainty;

  constructor(init: CkaResultInit) {
    this.rows = [...init.rows];
    this.columns = [...init.columns];
    this.values = init.values.map((r) => [...r]);
    this.kind = init.kind;
    this.debiased = init.debiased;
    this.estimator = init.estimator;
    this.n = init.n;
    if (init.batches !== undefined) this.batches = init.batches;
    if (init.batchSizes !== undefined) this.batchSizes = [...init.batchSizes];
    if (init.batchWeighting !== undefined) this.batchWeighting = init.batchWeighting;
    if (init.title !== undefined) this.title = init.title;
    if (init.modelA !== undefined) this.modelA = init.modelA;
    if (init.modelB !== undefined) this.modelB = init.modelB;
    if (init.uncertainty !== undefined) this.uncertainty = init.uncertainty;
  }

  /**
   * A cell with its uncertainty: the estimate, the bootstrap interval, the permutation p-value and
   * whether it is distinguishable from the null (NaN and false where not computed).
   */
  cell(row: string, column: string): CkaCell {
    const estimate = this.get(row, column);
    const i = this.rows.indexOf(row);
    const j = this.columns.indexOf(column);
    const u = this.uncertainty;
    return {
      estimate,
      lower: u?.lower?.[i]?.[j] ?? Number.NaN,
      upper: u?.upper?.[i]?.[j] ?? Number.NaN,
      pValue: u?.pValue?.[i]?.[j] ?? Number.NaN,
      indistinguishable: u?.indistinguishable?.[i]?.[j] ?? false,
    };
  }

  /** CKA of module `row` (model A) with module `column` (model B). */
  get(row: string, column: string): number {
    const i = this.rows.indexOf(row);
    const j = this.columns.indexOf(column);
    if (i < 0) throw new InvalidArgumentError('CkaResult.get', 'row', `'${row}' is not a row; rows: ${this.rows.join(', ')}`);
    if (j < 0) throw new InvalidArgumentError('CkaResult.get', 'column', `'${column}' is not a column; columns: ${this.columns.join(', ')}`);
    return this.values[i]![j]!;
  }

  /** CKA of each module with the module of the same name in the other model (modules in both). */
  diagonal(): Map<string, number> {
    const out = new Map<string, number>();
    for (const r of this.rows) if (this.columns.includes(r)) out.set(r, this.get(r, r));
    return out;
  }

  /** A one-line description of the estimator. */
  get description(): string {
    const est = this.estimator === 'minibatch' ? `minibatch (${this.batches ?? '?'} batches${batchSizesText(this.batchSizes)}; unbiased HSIC${this.batchWeighting === 'examples' ? ' weighted by batch size' : ''})` : this.debiased ? 'debiased' : 'biased';
    const u = this.uncertainty;
    const unc = u === undefined ? '' : `; ${[u.bootstrap > 0 ? `${Math.round(u.level * 100)}% percentile bootstrap intervals over examples (${u.bootstrap} resamples)` : '', u.permutations > 0 ? `permutation p-values (${u.permutations} permutations), * = not distinguishable from the null at α = ${u.alpha}` : ''].filter((x) => x !== '').join(', ')}`;
    return `${this.kind} CKA, ${est}, n = ${this.n}${unc}`;
  }

  get label(): string {
    return this.title ?? `CKA: ${this.modelA ?? 'A'} vs ${this.modelB ?? 'B'}`;
  }

  toPayload(): CkaPayload {
    return {
      title: this.label,
      rows: this.rows,
      columns: this.columns,
      values: this.values,
      kind: this.kind,
      debiased: this.debiased,
      ...(this.modelA !== undefined ? { modelA: this.modelA } : {}),
      ...(this.modelB !== undefined ? { modelB: this.modelB } : {}),
      n: this.n,
      ...(this.uncertainty !== undefined ? { uncertainty: uncertaintyPayload(this.uncertainty) } : {}),
    };
  }

  /**
   * The heatmap as a Vega spec, from the same builder VS Code's renderer and the HTML report use
   * (kernel/protocol/charts), in the fixed light theme: what Jupyter front ends draw.
   */
  toVega(): Record<string, unknown> {
    return ckaSpec(this.toPayload(), lightTheme).spec as unknown as Record<string, unknown>;
  }

  toString(): string {
    const header = [`${this.modelA ?? 'A'} \\ ${this.modelB ?? 'B'}`, ...this.columns];
    const u = this.uncertainty;
    const cellText = (v: number, i: number, j: number): string => {
      let t = fmt(v);
      if (u?.lower !== undefined) t += ` [${fmt(u.lower[i]![j]!)}, ${fmt(u.upper![i]![j]!)}]`;
      if (u?.indistinguishable !== undefined) t += u.indistinguishable[i]![j] ? '*' : ' ';
      return t;
    };
    const body = this.rows.map((r, i) => [r, ...this.values[i]!.map((v, j) => cellText(v, i, j))]);
    return `${this.label} (${this.description})\n${textTable(header, body)}`;
  }

  [DISPLAY](): MimeBundle {
    return {
      [Mime.cka]: this.toPayload(),
      [Mime.vega]: this.toVega(),
      [Mime.plain]: this.toString(),
    };
  }
}

/** The payload's form of the uncertainty: numbers as JSON allows (NaN as null). */
function uncertaintyPayload(u: CkaUncertainty): NonNullable<CkaPayload['uncertainty']> {
  const m = (a: readonly (readonly number[])[]) => a.map((r) => r.map((v) => (Number.isFinite(v) ? v : null)));
  return {
    level: u.level,
    alpha: u.alpha,
    bootstrap: u.bootstrap,
    permutations: u.permutations,
    ...(u.lower !== undefined && u.upper !== undefined ? { lower: m(u.lower), upper: m(u.upper) } : {}),
    ...(u.pValue !== undefined ? { pValue: m(u.pValue) } : {}),
  };
}
