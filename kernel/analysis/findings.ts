/**
 * A table of findings: each row states a claim, tests it with a statistic that has an
 * uncertainty (an interval over seeds, kernel/analysis/stats.ts), shows the per-seed values, and
 * gives an honest verdict: the claim holds (✓), the data contradict it (✗), or the interval is too
 * wide to tell ("not resolved at this scale").
 */
import { Mime, type MimeBundle } from '../protocol/mime';
import { DISPLAY } from './display';
import type { Interval } from './stats';
import { jsonNumber } from './results';
import { checkObject, fail, formatValue } from './validate';

/** What a row's claim says about its statistic. */
export type Claim =
  /** The statistic is above `than` (e.g. a difference above 0). */
  | { readonly kind: 'greater'; readonly than: number }
  /** The statistic is below `than`. */
  | { readonly kind: 'less'; readonly than: number }
  /** The statistic is within ±`margin` of 0 (an equivalence test: "as good as"). */
  | { readonly kind: 'within'; readonly margin: number };

/** The outcome of testing a claim with its interval. */
export const Verdict = { holds: 'holds', fails: 'fails', unresolved: 'unresolved' } as const;
export type Verdict = (typeof Verdict)[keyof typeof Verdict];
export function isVerdict(v: unknown): v is Verdict {
  return typeof v === 'string' && Object.values(Verdict).includes(v as Verdict);
}

/** How a row's numbers are written. `points`: a fraction shown ×100 as percentage points. */
export type FindingFormat = 'points' | 'number';

/** One statistic of a row, with the claim it is tested against. */
export interface FindingTest {
  /** Names the statistic when a row has several (e.g. 'P-T', 'RI-T'). */
  readonly label?: string;
  readonly interval: Interval;
  readonly claim: Claim;
  /** The values behind the interval, one per seed (or per pair of seeds), with their labels. */
  readonly values?: readonly { readonly label: string; readonly value: number }[];
}

export interface FindingInit {
  /** The claim as the paper states it. */
  readonly claim: string;
  /** Where the paper makes it, e.g. 'PAPER §1'. */
  readonly source?: string;
  /** What is measured, in words (the statistic and its unit). */
  readonly statistic: string;
  readonly tests: readonly FindingTest[];
  readonly format?: FindingFormat;
  /** Context a reader needs (e.g. the same quantity at initialisation). */
  readonly note?: string;
}

export interface Finding extends FindingInit {
  readonly format: FindingFormat;
  /** The row's verdict: holds when every test holds, fails when any fails, else unresolved. */
  readonly verdict: Verdict;
  readonly verdicts: readonly Verdict[];
}

/**
 * The verdict of one claim given its interval: it holds when the whole interval satisfies the
 * claim, fails when the whole interval contradicts it, and is unresolved otherwise (including when
 * there is no interval: fewer than two seeds).
 *
 * @example
 * ```ts
 * tl.verdictOf(tl.stats.meanInterval([0.03, 0.05, 0.04]), { kind: 'greater', than: 0 }); // 'holds'
 * ```
 */
export function verdictOf(interval: Interval, claim: Claim): Verdict {
  const { lower, upper } = interval;
  if (!Number.isFinite(lower) || !Number.isFinite(upper)) return Verdict.unresolved;
  switch (claim.kind) {
    case 'greater':
      return lower > claim.than ? Verdict.holds : upper < claim.than ? Verdict.fails : Verdict.unresolved;
    case 'less':
      return upper < claim.than ? Verdict.holds : lower > claim.than ? Verdict.fails : Verdict.unresolved;
    case 'within':
      return lower > -claim.margin && upper < claim.margin ? Verdict.holds : lower > claim.margin || upper < -claim.margin ? Verdict.fails : Verdict.unresolved;
    default: {
      const never: never = claim;
      return never;
    }
  }
}

function combine(verdicts: readonly Verdict[]): Verdict {
  if (verdicts.includes(Verdict.fails)) return Verdict.fails;
  return verdicts.every((v) => v === Verdict.holds) ? Verdict.holds : Verdict.unresolved;
}

const SYMBOL: Record<Verdict, string> = { holds: '✓', fails: '✗', unresolved: 'not resolved at this scale' };

/** Escapes a markdown table cell. */
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/**
 * Findings, each a claim tested with an interval over seeds. Displays as a table with the
 * statistic, its interval, the per-seed values and the verdict (plus the rows as JSON).
 *
 * @example
 * ```ts
 * const f = new tl.Findings('The paper\'s findings at this scale');
 * f.add({
 *   claim: 'P-T beats RI-T with scarce labels',
 *   statistic: 'test accuracy, P-T − RI-T per seed',
 *   format: 'points',
 *   tests: [{ interval: tl.stats.pairedDifference(pt, rit), claim: { kind: 'greater', than: 0 } }],
 * });
 * f; // a table with ✓, ✗ or "not resolved at this scale" per row
 * ```
 */
export class Findings {
  readonly rows: Finding[] = [];

  constructor(readonly title = 'Findings') {}

  /** Tests a claim and adds its row; returns the row. */
  add(init: FindingInit): Finding {
    const fn = 'Findings.add';
    checkObject(fn, 'init', init);
    if (typeof init.claim !== 'string' || init.claim === '') fail(fn, 'init.claim', `must be a non-empty string, got ${formatValue(init.claim)}`);
    if (!Array.isArray(init.tests) || init.tests.length === 0) fail(fn, 'init.tests', `must be a non-empty array of {interval, claim}, got ${formatValue(init.tests)}`);
    const verdicts = init.tests.map((t) => verdictOf(t.interval, t.claim));
    const row: Finding = { ...init, format: init.format ?? 'number', verdicts, verdict: combine(verdicts) };
    this.rows.push(row);
    return row;
  }

  /** How many rows have each verdict. */
  counts(): Record<Verdict, number> {
    const out: Record<Verdict, number> = { holds: 0, fails: 0, unresolved: 0 };
    for (const r of this.rows) out[r.verdict]++;
    return out;
  }

  private static number(x: number, format: FindingFormat): string {
    if (!Number.isFinite(x)) return '–';
    if (format === 'points') return (x * 100).toFixed(1);
    const a = Math.abs(x);
    return a !== 0 && (a < 1e-3 || a >= 1e4) ? x.toExponential(2) : x.toFixed(3);
  }

  private static claimText(c: Claim, format: FindingFormat): string {
    const n = (x: number) => Findings.number(x, format);
    switch (c.kind) {
      case 'greater':
        return `> ${n(c.than)}`;
      case 'less':
        return `< ${n(c.than)}`;
      case 'within':
        return `within ±${n(c.margin)}`;
      default: {
        const never: never = c;
        return never;
      }
    }
  }

  private static testText(t: FindingTest, format: FindingFormat): { stat: string; values: string } {
    const n = (x: number) => Findings.number(x, format);
    const i = t.interval;
    const unit = format === 'points' ? ' points' : '';
    const ci = Number.isFinite(i.lower) ? ` [${n(i.lower)}, ${n(i.upper)}]` : ' (no interval: one seed)';
    const label = t.label ? `${t.label}: ` : '';
    const stat = `${label}${n(i.estimate)}${ci}${unit}, n = ${i.n}, claim ${Findings.claimText(t.claim, format)}`;
    const values = (t.values ?? []).map((v) => `${v.label} ${n(v.value)}`).join(', ');
    return { stat, values: values === '' ? '' : `${label}${values}` };
  }

  /** The rows as a markdown table. */
  toMarkdown(): string {
    const level = this.rows[0]?.tests[0]?.interval.level ?? 0.95;
    const lines = [
      `**${this.title}**`,
      '',
      `| the paper's claim | statistic | estimate [${Math.round(level * 100)}% CI] | per seed | verdict |`,
      '|---|---|---|---|---|',
      ...this.rows.map((r) => {
        const texts = r.tests.map((t) => Findings.testText(t, r.format));
        const verdict = r.tests.length > 1 ? `${SYMBOL[r.verdict]} (${r.verdicts.map((v, k) => `${r.tests[k]!.label ?? k + 1} ${SYMBOL[v]}`).join('; ')})` : SYMBOL[r.verdict];
        const claim = r.source ? `${r.claim} (${r.source})` : r.claim;
        const statistic = r.note ? `${r.statistic}. ${r.note}` : r.statistic;
        return `| ${cell(claim)} | ${cell(statistic)} | ${cell(texts.map((t) => t.stat).join('; '))} | ${cell(texts.map((t) => t.values).filter((v) => v).join('; '))} | ${verdict} |`;
      }),
      '',
      `✓: the whole ${Math.round(level * 100)}% interval satisfies the claim; ✗: the whole interval contradicts it; otherwise not resolved at this scale (more seeds narrow the interval).`,
    ];
    return lines.join('\n');
  }

  toString(): string {
    const c = this.counts();
    return `${this.title}: ${this.rows.length} claims, ${c.holds} hold, ${c.fails} fail, ${c.unresolved} not resolved\n${this.rows.map((r) => `  ${SYMBOL[r.verdict].padEnd(2)} ${r.claim}`).join('\n')}`;
  }

  toJSON(): unknown {
    return {
      title: this.title,
      rows: this.rows.map((r) => ({
        claim: r.claim,
        source: r.source ?? null,
        statistic: r.statistic,
        note: r.note ?? null,
        format: r.format,
        verdict: r.verdict,
        tests: r.tests.map((t, k) => ({
          label: t.label ?? null,
          claim: t.claim,
          verdict: r.verdicts[k],
          estimate: jsonNumber(t.interval.estimate),
          lower: jsonNumber(t.interval.lower),
          upper: jsonNumber(t.interval.upper),
          level: t.interval.level,
          n: t.interval.n,
          pValue: jsonNumber(t.interval.pValue),
          method: t.interval.method,
          values: (t.values ?? []).map((v) => ({ label: v.label, value: jsonNumber(v.value) })),
        })),
      })),
    };
  }

  [DISPLAY](): MimeBundle {
    return { [Mime.markdown]: this.toMarkdown(), [Mime.json]: this.toJSON(), [Mime.plain]: this.toString() };
  }
}
