/**
 * Small-sample statistics (kernel/analysis/stats.ts) and the findings table built on them
 * (kernel/analysis/findings.ts): Student-t quantiles against published values, intervals against
 * hand computation, coverage by simulation, and verdicts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { meanInterval, pairedDifference, pairsInterval, studentTCdf, studentTQuantile, type Interval } from '../../kernel/analysis/stats';
import { Findings, Verdict, verdictOf } from '../../kernel/analysis/findings';
import { InvalidArgumentError } from '../../kernel/analysis/errors';
import { gaussian, rng } from '../../kernel/analysis/random';
import { Mime } from '../../kernel/protocol/mime';
import { DISPLAY } from '../../kernel/analysis/display';

const close = (actual: number, expected: number, tol: number, what: string) => assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected}`);

test("Student's t quantiles match published tables", () => {
  // Two-sided 95% (p = 0.975) and one-sided 95% critical values.
  const table: [number, number, number][] = [
    [0.975, 1, 12.706205],
    [0.975, 2, 4.302653],
    [0.975, 4, 2.776445],
    [0.975, 9, 2.262157],
    [0.975, 10, 2.228139],
    [0.95, 30, 1.697261],
    [0.995, 5, 4.032143],
    [0.975, 1e7, 1.959964],
  ];
  for (const [p, df, t] of table) close(studentTQuantile(p, df), t, 2e-6, `t(${p}, ${df})`);
  close(studentTQuantile(0.025, 4), -2.776445, 2e-6, 'lower tail');
  assert.equal(studentTQuantile(0.5, 3), 0);
  for (const df of [1, 3, 30]) for (const t of [-5, -1, 0, 0.7, 2.5]) close(studentTCdf(t, df) + studentTCdf(-t, df), 1, 1e-12, 'symmetry');
  close(studentTCdf(1, 1), 0.75, 1e-12, 'Cauchy CDF at 1');
  assert.throws(() => studentTQuantile(1, 3), /stats\.studentTQuantile: p must be between 0 and 1 \(exclusive\), got 1/);
});

test('meanInterval and pairedDifference agree with hand computation', () => {
  const i = meanInterval([1, 2, 3]);
  assert.equal(i.estimate, 2);
  close(i.standardError, 1 / Math.sqrt(3), 1e-15, 'se');
  close(i.upper - i.estimate, 4.302653 / Math.sqrt(3), 1e-6, 'half width');
  close(i.estimate - i.lower, 4.302653 / Math.sqrt(3), 1e-6, 'half width');
  // t = 2 / (1/√3) = 3.464 on 2 df: two-sided p = 0.0742 (1 − I(2/(2+12); 1, 0.5)).
  close(i.pValue, 1 - Math.sqrt(12 / 14), 1e-9, 'p-value');
  const d = pairedDifference([0.9, 0.8, 0.95], [0.85, 0.82, 0.9]);
  const diffs = [0.05, -0.02, 0.05];
  close(d.estimate, (0.05 - 0.02 + 0.05) / 3, 1e-15, 'paired mean');
  const m = d.estimate;
  close(d.standardError, Math.sqrt(diffs.reduce((s, x) => s + (x - m) ** 2, 0) / 2 / 3), 1e-12, 'paired se');
  const one = meanInterval([0.4]);
  assert.ok(Number.isNaN(one.lower) && Number.isNaN(one.upper), 'one seed: no interval');
  assert.equal(verdictOf(one, { kind: 'greater', than: 0 }), Verdict.unresolved);
  assert.throws(() => pairedDifference([1, 2], [1]), (e: unknown) => e instanceof InvalidArgumentError && /b has 1 values but a has 2/.test(e.message));
  assert.throws(() => meanInterval([1, NaN]), /has NaN at position 1/);
  assert.throws(() => meanInterval([1, 2], { level: 95 }), /options\.level must be between 0 and 1/);
});

test('t-intervals over 3 and 5 seeds cover the true mean at their nominal rate', () => {
  const r = rng(7);
  for (const n of [3, 5]) {
    const reps = 4000;
    let covered = 0;
    for (let t = 0; t < reps; t++) {
      const xs = Array.from({ length: n }, () => 0.3 + 0.1 * gaussian(r));
      const i = meanInterval(xs);
      if (i.lower <= 0.3 && 0.3 <= i.upper) covered++;
    }
    // 95% ± 4 binomial standard deviations (0.0034 each).
    close(covered / reps, 0.95, 0.014, `coverage with n = ${n}`);
  }
});

test('pairsInterval: the jackknife over seeds, by hand and by simulation', () => {
  // k = 3: leaving out one seed leaves one pair, so the leave-one-out means are the pairs.
  const v = [
    [NaN, 0.8, 0.7],
    [NaN, NaN, 0.6],
  ];
  const i = pairsInterval(v, 3);
  close(i.estimate, 0.7, 1e-15, 'mean over pairs');
  const loo = [0.6, 0.7, 0.8]; // without seed 0: pair 1–2; without 1: 0–2; without 2: 0–1
  const var_ = (2 / 3) * loo.reduce((s, x) => s + (x - 0.7) ** 2, 0);
  close(i.standardError, Math.sqrt(var_), 1e-15, 'jackknife se');
  close(i.upper - i.estimate, 4.302653 * Math.sqrt(var_), 1e-6, 'half width on k − 1 = 2 df');
  assert.equal(i.method, 'jackknife-t');
  assert.ok(Number.isNaN(pairsInterval([[NaN, 1]], 2).lower), 'two seeds, one pair: no interval');
  assert.throws(() => pairsInterval([[NaN, 1, NaN]], 3), /has NaN at \[0\]\[2\]/);

  // Pairs that share seeds: h(i, j) = u_i + u_j + e_ij with a seed effect u. Treating the k(k−1)/2
  // pairs as independent would undercover; the jackknife over seeds keeps close to the nominal rate.
  const r = rng(11);
  const k = 5;
  const reps = 3000;
  let covered = 0;
  let coveredNaive = 0;
  for (let t = 0; t < reps; t++) {
    const u = Array.from({ length: k }, () => gaussian(r));
    const table = u.map((ui, a) => u.map((uj, b) => (b > a ? ui + uj + 0.5 * gaussian(r) : NaN)));
    const ci = pairsInterval(table, k);
    if (ci.lower <= 0 && 0 <= ci.upper) covered++;
    const flat = table.flatMap((row, a) => row.filter((_, b) => b > a));
    const naive = meanInterval(flat);
    if (naive.lower <= 0 && 0 <= naive.upper) coveredNaive++;
  }
  assert.ok(covered / reps > 0.92 && covered / reps < 0.99, `jackknife coverage ${covered / reps}`);
  assert.ok(coveredNaive / reps < 0.85, `pairs as if independent undercover: ${coveredNaive / reps}`);
});

const interval = (lower: number, upper: number): Interval => ({ estimate: (lower + upper) / 2, lower, upper, level: 0.95, n: 3, standardError: 1, pValue: 0.5, method: 'student-t' });

test('verdicts: holds only when the whole interval agrees, fails only when it all disagrees', () => {
  assert.equal(verdictOf(interval(0.1, 0.3), { kind: 'greater', than: 0 }), Verdict.holds);
  assert.equal(verdictOf(interval(-0.1, 0.3), { kind: 'greater', than: 0 }), Verdict.unresolved);
  assert.equal(verdictOf(interval(-0.3, -0.1), { kind: 'greater', than: 0 }), Verdict.fails);
  assert.equal(verdictOf(interval(0.5, 0.9), { kind: 'less', than: 1 }), Verdict.holds);
  assert.equal(verdictOf(interval(0.5, 1.1), { kind: 'less', than: 1 }), Verdict.unresolved);
  assert.equal(verdictOf(interval(1.1, 1.5), { kind: 'less', than: 1 }), Verdict.fails);
  assert.equal(verdictOf(interval(-0.01, 0.015), { kind: 'within', margin: 0.02 }), Verdict.holds);
  assert.equal(verdictOf(interval(-0.01, 0.05), { kind: 'within', margin: 0.02 }), Verdict.unresolved);
  assert.equal(verdictOf(interval(0.03, 0.05), { kind: 'within', margin: 0.02 }), Verdict.fails);
  assert.equal(verdictOf(interval(-0.05, -0.03), { kind: 'within', margin: 0.02 }), Verdict.fails);
  // A claim that holds on the estimate alone, with an interval that straddles: not a ✓.
  assert.equal(verdictOf(interval(-0.047, 0.073), { kind: 'greater', than: 0 }), Verdict.unresolved);
});

test('Findings: rows combine their tests and display claim, interval, per-seed values and verdict', () => {
  const f = new Findings('test findings');
  const a = f.add({
    claim: 'P-T beats RI-T',
    source: '§3',
    statistic: 'accuracy difference',
    format: 'points',
    tests: [{ interval: pairedDifference([0.9, 0.92, 0.91], [0.8, 0.85, 0.83]), claim: { kind: 'greater', than: 0 }, values: [{ label: 'seed 1', value: 0.1 }] }],
  });
  assert.equal(a.verdict, Verdict.holds);
  const b = f.add({
    claim: 'both drop',
    statistic: 'drop',
    tests: [
      { label: 'P-T', interval: interval(0.1, 0.2), claim: { kind: 'greater', than: 0 } },
      { label: 'RI-T', interval: interval(-0.1, 0.2), claim: { kind: 'greater', than: 0 } },
    ],
  });
  assert.equal(b.verdict, Verdict.unresolved);
  assert.deepEqual(b.verdicts, [Verdict.holds, Verdict.unresolved]);
  const c = f.add({ claim: 'contradicted | piped', statistic: 's', tests: [{ interval: interval(-0.3, -0.1), claim: { kind: 'greater', than: 0 } }, { interval: interval(0.1, 0.2), claim: { kind: 'greater', than: 0 } }] });
  assert.equal(c.verdict, Verdict.fails, 'one failing test fails the row');
  assert.deepEqual(f.counts(), { holds: 1, fails: 1, unresolved: 1 });
  const bundle = f[DISPLAY]();
  const md = bundle[Mime.markdown] as string;
  assert.match(md, /\| P-T beats RI-T \(§3\) \| accuracy difference \| 8\.3 \[4\.5, 12\.1\] points, n = 3, claim > 0\.0 \| seed 1 10\.0 \| ✓ \|/);
  assert.match(md, /\| both drop \| drop \| P-T: .* \| not resolved at this scale \(P-T ✓; RI-T not resolved at this scale\) \|/);
  assert.match(md, /contradicted \\\| piped/, 'pipes in a cell are escaped');
  const json = bundle[Mime.json] as { rows: { verdict: string; tests: { lower: number | null }[] }[] };
  assert.deepEqual(json.rows.map((r) => r.verdict), ['holds', 'unresolved', 'fails']);
  assert.match(String(bundle[Mime.plain]), /3 claims, 1 hold, 1 fail, 1 not resolved/);
  assert.throws(() => f.add({ claim: 'x', statistic: 's', tests: [] }), /Findings\.add: init\.tests must be a non-empty array/);
});
