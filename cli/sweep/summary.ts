/**
 * The summary of a sweep: DIR/summary.tsnb, a notebook with one table row per grid point
 * (parameters, status, each result as a column, findings, seconds, where it ran, a link to its
 * executed notebook), and DIR/summary.html, the same through the HTML report. Rewritten as runs
 * finish, so that a sweep stopped midway still has one.
 */
import path from 'node:path';
import { createTsnbNotebook, serializeTsnb, type JsonValue, type TsnbNotebook } from '../../kernel/protocol/tsnb';
import { writeFileAtomic } from '../atomicWrite';
import { notebookToHtml } from '../htmlReport';
import { canonicalJson, describePoint, type GridAxis } from './grid';
import type { SweepRunRecord } from './manifest';

export const SUMMARY_NOTEBOOK = 'summary.tsnb';
export const SUMMARY_HTML = 'summary.html';

/** Where a grid point stands while the sweep runs. */
export type RowState = 'queued' | 'running' | 'interrupted';

/** One row of the summary: a grid point, finished (its record) or not. */
export interface SummaryRow {
  readonly point: ReadonlyMap<string, JsonValue>;
  readonly record?: SweepRunRecord;
  /** For a run not finished. */
  readonly state?: RowState;
  /** Finished in an earlier sweep (skipped by this one). */
  readonly earlier?: boolean;
}

export interface SummaryInput {
  /** The notebook's file name. */
  readonly notebook: string;
  readonly axes: readonly GridAxis[];
  /** `--param` values, the same for every run. */
  readonly fixed: ReadonlyMap<string, JsonValue>;
  readonly rows: readonly SummaryRow[];
}

/** Text for a markdown table cell: the characters markdown would take as syntax escaped, one line. */
function cell(text: string): string {
  return text.replace(/\s+/g, ' ').replace(/([\\`*_[\]<>|~$])/g, '\\$1');
}

function valueText(v: JsonValue | undefined): string {
  if (v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
  return canonicalJson(v);
}

function statusText(row: SummaryRow): string {
  if (row.record === undefined) return row.state === 'running' ? 'running' : row.state === 'interrupted' ? 'interrupted' : 'queued';
  const retried = row.record.attempts > 1 ? ` (${row.record.attempts} attempts)` : '';
  return `${row.record.status === 'ok' ? 'ok' : 'FAILED'}${retried}${row.earlier ? ', earlier' : ''}`;
}

/**
 * The summary notebook: a heading with the counts, the table, and the failed runs' errors.
 * @example
 * const nb = summaryNotebook({ notebook: 'study.tsnb', axes, fixed: new Map(), rows });
 */
export function summaryNotebook(input: SummaryInput): TsnbNotebook {
  const { rows } = input;
  const resultNames: string[] = [];
  for (const r of rows) for (const name of Object.keys(r.record?.results ?? {})) if (!resultNames.includes(name)) resultNames.push(name);
  const withFindings = rows.some((r) => r.record?.findings !== undefined);
  const count = (f: (r: SummaryRow) => boolean) => rows.filter(f).length;
  const ok = count((r) => r.record?.status === 'ok');
  const failed = count((r) => r.record?.status === 'failed');
  const running = count((r) => r.record === undefined && r.state === 'running');
  const notRun = rows.length - ok - failed - running;

  const grid = input.axes.map((a) => `\`${a.name}\` = ${a.values.map((v) => cell(valueText(v))).join(', ')}`).join(' × ');
  const fixed = [...input.fixed].map(([k, v]) => `\`${k}\` = ${cell(valueText(v))}`).join(', ');
  const counts = [`${ok} finished`, `${failed} failed`, ...(running > 0 ? [`${running} running`] : []), ...(notRun > 0 ? [`${notRun} not run yet`] : [])].join(', ');
  const intro = [
    `# Sweep of ${cell(input.notebook)}`,
    '',
    `${rows.length} run${rows.length === 1 ? '' : 's'}: ${counts}.`,
    '',
    ...(grid !== '' ? [`Grid: ${grid}.`] : []),
    ...(fixed !== '' ? ['', `Every run also: ${fixed}.`] : []),
    '',
    'Results are the values each run marks with `tl.result`; each row links to its executed notebook.',
  ];

  const names = input.axes.map((a) => a.name);
  const header = ['#', ...names, 'status', ...resultNames, ...(withFindings ? ['findings'] : []), 'seconds', 'where', 'notebook'];
  // Numbers right-aligned: the row number, the results, the seconds.
  const right = ['#', ...names.map(() => ''), '', ...resultNames.map(() => '#'), ...(withFindings ? [''] : []), '#', '', ''];
  const lines = [`| ${header.map(cell).join(' | ')} |`, `|${right.map((a) => (a === '#' ? ' ---: ' : ' --- ')).join('|')}|`];
  rows.forEach((r, i) => {
    const rec = r.record;
    const f = rec?.findings;
    const cells = [
      String(i + 1),
      ...names.map((n) => cell(valueText(r.point.get(n)))),
      cell(statusText(r)),
      ...resultNames.map((n) => cell(valueText(rec?.results[n]))),
      ...(withFindings ? [f === undefined ? '' : `${f.holds} hold · ${f.fails} fail · ${f.unresolved} unresolved`] : []),
      rec?.seconds !== undefined ? rec.seconds.toFixed(1) : '',
      cell(rec?.where ?? ''),
      rec?.file !== undefined ? `[${cell(path.basename(rec.file))}](${rec.file.split(path.sep).join('/')})` : '',
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  });

  const nb = createTsnbNotebook();
  nb.cells.push({ cell_type: 'markdown', metadata: {}, source: intro.join('\n') }, { cell_type: 'markdown', metadata: {}, source: lines.join('\n') });
  const failures = rows.filter((r) => r.record?.status === 'failed');
  if (failures.length > 0) {
    const parts = ['## Failed runs'];
    for (const r of failures) {
      parts.push('', `**${cell(describePoint(r.point) || 'the run')}**${r.record?.where ? ` on ${cell(r.record.where)}` : ''}:`, '', '```text', (r.record?.error ?? 'failed').replace(/```/g, "'''"), '```');
    }
    nb.cells.push({ cell_type: 'markdown', metadata: {}, source: parts.join('\n') });
  }
  return nb;
}

/** Writes DIR/summary.tsnb and DIR/summary.html, each atomically. */
export async function writeSummary(dir: string, input: SummaryInput): Promise<void> {
  const nb = summaryNotebook(input);
  await writeFileAtomic(path.join(dir, SUMMARY_NOTEBOOK), serializeTsnb(nb));
  // No charts in a summary: the report needs no chart script.
  await writeFileAtomic(path.join(dir, SUMMARY_HTML), notebookToHtml(nb, { script: '', source: `transferlab sweep of ${input.notebook}` }));
}
