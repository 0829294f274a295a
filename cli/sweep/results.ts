/**
 * What a sweep reads back from each executed notebook: the values it marked as results
 * (`tl.result`, MIME `application/vnd.transferlab.result+json`) and the verdict counts of its
 * findings table (`tl.Findings`), if it shows one.
 */
import { Mime, type ResultPayload } from '../../kernel/protocol/mime';
import type { JsonValue, TsnbNotebook, TsnbOutput } from '../../kernel/protocol/tsnb';
import { findingsOf } from '../htmlReport';

/** Verdict counts of a notebook's findings table. */
export interface FindingsCounts {
  readonly holds: number;
  readonly fails: number;
  readonly unresolved: number;
}

function* outputsOf(nb: TsnbNotebook): Generator<TsnbOutput> {
  for (const cell of nb.cells) if (cell.cell_type === 'code') yield* cell.outputs;
}

/**
 * The results in a notebook's outputs, by name in the order first shown; a later value of the
 * same name replaces the earlier one.
 * @example
 * resultsOf(executed); // { accuracy: 0.8125, barrier: 0.04 }
 */
export function resultsOf(nb: TsnbNotebook): { [name: string]: JsonValue } {
  const out = new Map<string, JsonValue>();
  for (const o of outputsOf(nb)) {
    if (o.output_type !== 'display_data' && o.output_type !== 'execute_result') continue;
    const payload = o.data[Mime.result] as Partial<ResultPayload> | undefined;
    if (typeof payload !== 'object' || payload === null || !Array.isArray(payload.results)) continue;
    for (const r of payload.results as unknown[]) {
      if (typeof r !== 'object' || r === null) continue;
      const { name, value } = r as { name?: unknown; value?: JsonValue };
      if (typeof name === 'string' && value !== undefined) out.set(name, value);
    }
  }
  const record: { [name: string]: JsonValue } = {};
  for (const [k, v] of out) Object.defineProperty(record, k, { value: v, enumerable: true, writable: true, configurable: true });
  return record;
}

/** The verdict counts of the first findings table the notebook shows, if any. */
export function findingsCountsOf(nb: TsnbNotebook): FindingsCounts | undefined {
  for (const o of outputsOf(nb)) {
    if (o.output_type !== 'display_data' && o.output_type !== 'execute_result') continue;
    const f = findingsOf(o.data);
    if (f !== undefined) return { holds: f.holds, fails: f.fails, unresolved: f.unresolved };
  }
  return undefined;
}
