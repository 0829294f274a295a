/**
 * The result of `tl.similarity.matrix` and `matrixFromFeatures`: one module × module matrix per
 * measure, displayed as ONE heatmap with a switch between the measures (the CKA renderer and the
 * shared Vega builder, kernel/protocol/charts/cka.ts), and a text table per measure.
 */
import { Mime, type CkaPayload, type MeasureMatrix, type MimeBundle, type SimilarityMeasure } from '../../protocol/mime';
import { ckaSpec, lightTheme } from '../../protocol/charts';
import { DISPLAY, type Displayable } from '../display';
import { InvalidArgumentError } from '../errors';
import { fmt, jsonNumber, textTable } from '../results';

/** What a {@link SimilarityResult} holds. */
export interface SimilarityResultInit {
  readonly rows: readonly string[];
  readonly columns: readonly string[];
  /** One matrix per measure, in the order the switch offers them (the first is shown first). */
  readonly measures: readonly MeasureMatrix[];
  readonly n: number;
  readonly title?: string;
  readonly modelA?: string;
  readonly modelB?: string;
}

/**
 * Module × module similarity under several measures, displayed as one heatmap with a measure
 * switch. Every measure is shown as a similarity on the 0..1 colour scale: CKA, SVCCA, PWCCA and
 * the Procrustes similarity 1 − d²/2 lie in [0, 1]; RSA lies in [−1, 1] (negative cells take the
 * colour of 0, the hover shows the value).
 *
 * @example
 * ```ts
 * const heat = await tl.similarity.matrix(netA, netB, probe, {measures: ['cka', 'svcca', 'rsa']});
 * heat.get('fc1', 'fc1', 'rsa');
 * heat.diagonal('svcca');
 * heat.values('cka');
 * heat;   // one heatmap, a switch between the measures
 * ```
 */
export class SimilarityResult implements Displayable, SimilarityResultInit {
  readonly rows: readonly string[];
  readonly columns: readonly string[];
  readonly measures: readonly MeasureMatrix[];
  readonly n: number;
  readonly title?: string;
  readonly modelA?: string;
  readonly modelB?: string;

  constructor(init: SimilarityResultInit) {
    if (init.measures.length === 0) throw new InvalidArgumentError('SimilarityResult', 'measures', 'is empty');
    this.rows = [...init.rows];
    this.columns = [...init.columns];
    this.measures = init.measures.map((m) => ({ measure: m.measure, label: m.label, values: m.values.map((r) => [...r]) }));
    this.n = init.n;
    if (init.title !== undefined) this.title = init.title;
    if (init.modelA !== undefined) this.modelA = init.modelA;
    if (init.modelB !== undefined) this.modelB = init.modelB;
  }

  /** The matrix of one measure (default: the first), values[i][j] for rows[i], columns[j]. */
  values(measure: SimilarityMeasure = this.measures[0]!.measure): readonly (readonly number[])[] {
    const m = this.measures.find((x) => x.measure === measure);
    if (m === undefined) throw new InvalidArgumentError('SimilarityResult.values', 'measure', `'${String(measure)}' was not computed; measures: ${this.measures.map((x) => x.measure).join(', ')}`);
    return m.values;
  }

  /** The similarity of module `row` (model A) and module `column` (model B) under `measure` (default: the first). */
  get(row: string, column: string, measure?: SimilarityMeasure): number {
    const i = this.rows.indexOf(row);
    const j = this.columns.indexOf(column);
    if (i < 0) throw new InvalidArgumentError('SimilarityResult.get', 'row', `'${row}' is not a row; rows: ${this.rows.join(', ')}`);
    if (j < 0) throw new InvalidArgumentError('SimilarityResult.get', 'column', `'${column}' is not a column; columns: ${this.columns.join(', ')}`);
    return this.values(measure)[i]![j]!;
  }

  /** Each module with the module of the same name in the other model, under `measure` (default: the first). */
  diagonal(measure?: SimilarityMeasure): Map<string, number> {
    const out = new Map<string, number>();
    for (const r of this.rows) if (this.columns.includes(r)) out.set(r, this.get(r, r, measure));
    return out;
  }

  get label(): string {
    return this.title ?? `Similarity: ${this.modelA ?? 'A'} vs ${this.modelB ?? 'B'}`;
  }

  /** The CKA payload with every measure (`values` is the first's, for views that show one). */
  toPayload(): CkaPayload {
    const measures = this.measures.map((m) => ({ ...m, values: m.values.map((r) => r.map((v) => jsonNumber(v) as number)) }));
    return {
      title: this.label,
      rows: this.rows,
      columns: this.columns,
      values: measures[0]!.values,
      kind: 'linear',
      debiased: false,
      ...(this.modelA !== undefined ? { modelA: this.modelA } : {}),
      ...(this.modelB !== undefined ? { modelB: this.modelB } : {}),
      n: this.n,
      measures,
    };
  }

  /** The heatmap with its measure switch as a Vega spec (the builder VS Code and the report use), light theme. */
  toVega(): Record<string, unknown> {
    return ckaSpec(this.toPayload(), lightTheme).spec as unknown as Record<string, unknown>;
  }

  toString(): string {
    const header = [`${this.modelA ?? 'A'} \\ ${this.modelB ?? 'B'}`, ...this.columns];
    const tables = this.measures.map((m) => `${m.label}\n${textTable(header, this.rows.map((r, i) => [r, ...m.values[i]!.map((v) => fmt(v))]))}`);
    return `${this.label} (n = ${this.n})\n\n${tables.join('\n\n')}`;
  }

  [DISPLAY](): MimeBundle {
    return {
      [Mime.cka]: this.toPayload(),
      [Mime.vega]: this.toVega(),
      [Mime.plain]: this.toString(),
    };
  }
}
