/**
 * The flagship's findings over several seed sets: runs sample-notebooks/flagship.tsnb headlessly
 * (`transferlab run`, wasm backend) with the plain CNN on three disjoint seed sets, then once with
 * its defaults (the ResNet), and records every row of its summary (the claim, the statistic with
 * its interval over seeds, the per-seed values and the verdict) in docs/findings.md; the ResNet's
 * table also goes to the README. This is a record of what the flagship finds, not a speed
 * benchmark: it has no peer.
 *
 * Run: npm run bench -- findings            (all of it: about 15 minutes on one core)
 *      npm run bench -- findings --cnn-only  (the three CNN seed sets)
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runRun } from '../cli/run';
import { Mime } from '../kernel/protocol/mime';
import { parseTsnb, type TsnbNotebook } from '../kernel/protocol/tsnb';
import { machineLine, table, writeSection } from './report';

const ROOT = path.resolve(__dirname, '..');
const FLAGSHIP = path.join(ROOT, 'sample-notebooks', 'flagship.tsnb');
const FINDINGS_FILE = path.join(ROOT, 'docs', 'findings.md');
const README = path.join(ROOT, 'README.md');

/** Disjoint seed sets of the flagship's default size. */
const SEED_SETS = [
  [1, 2, 3, 4, 5],
  [6, 7, 8, 9, 10],
  [11, 12, 13, 14, 15],
];
const CNN_PARAMS = ['arch=cnn'];

interface Row {
  readonly claim: string;
  readonly verdict: 'holds' | 'fails' | 'unresolved';
}
interface FindingsJson {
  readonly title: string;
  readonly rows: readonly Row[];
}

const SYMBOL = { holds: '✓', fails: '✗', unresolved: 'not resolved' } as const;

/** Runs the flagship with `params`; returns the summary's markdown and JSON and the wall time. */
async function runFlagship(params: readonly string[]): Promise<{ markdown: string; json: FindingsJson; seconds: number }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tl-findings-'));
  const out = path.join(dir, 'flagship.executed.tsnb');
  const started = performance.now();
  const stderr: string[] = [];
  const io = { stdout: (t: string) => void process.stdout.write(t), stderr: (t: string) => void stderr.push(t) };
  const status = await runRun([FLAGSHIP, '--out', out, '--backend', 'wasm', '--quiet', ...params.flatMap((p) => ['--param', p])], io);
  if (status !== 0) throw new Error(`the flagship failed (exit ${status}) with ${params.join(' ')}:\n${stderr.join('')}`);
  const seconds = (performance.now() - started) / 1000;
  const nb: TsnbNotebook = parseTsnb(readFileSync(out, 'utf8'));
  for (const c of [...nb.cells].reverse()) {
    if (c.cell_type !== 'code') continue;
    for (const o of c.outputs) {
      if ((o.output_type === 'execute_result' || o.output_type === 'display_data') && Mime.json in o.data && Mime.markdown in o.data) {
        return { markdown: String(o.data[Mime.markdown]), json: o.data[Mime.json] as unknown as FindingsJson, seconds };
      }
    }
  }
  throw new Error('the flagship wrote no findings table');
}

async function main(): Promise<void> {
  const cnnOnly = process.argv.includes('--cnn-only');
  const date = new Date().toISOString().slice(0, 10);
  const runs: { seeds: number[]; markdown: string; json: FindingsJson; seconds: number }[] = [];
  for (const seeds of SEED_SETS) {
    console.log(`flagship, CNN, seeds ${seeds.join(', ')}…`);
    const r = await runFlagship([...CNN_PARAMS, `seeds=${JSON.stringify(seeds)}`]);
    console.log(`  ${r.seconds.toFixed(0)} s: ${r.json.rows.map((row) => SYMBOL[row.verdict]).join(' ')}`);
    runs.push({ seeds, ...r });
  }
  const claims = runs[0]!.json.rows.map((r) => r.claim);
  const overview = table(
    ['the paper\'s claim', ...runs.map((r) => `seeds ${r.seeds[0]}–${r.seeds[r.seeds.length - 1]}`)],
    claims.map((claim) => [claim.replace(/\|/g, '\\|'), ...runs.map((r) => SYMBOL[r.json.rows.find((row) => row.claim === claim)?.verdict ?? 'unresolved'])]),
  );
  const held = runs.map((r) => r.json.rows.filter((row) => row.verdict === 'holds').length);
  const sections = [
    '## The plain CNN on three seed sets',
    '',
    `Command: \`npm run bench -- findings\` (bench/findings.bench.ts): \`transferlab run sample-notebooks/flagship.tsnb --backend wasm --param arch=cnn --param seeds=[…]\`, every other parameter at its default. Measured ${date} on ${machineLine()}; ${runs.map((r) => `${r.seconds.toFixed(0)} s`).join(', ')} per run.`,
    '',
    `Claims that hold (✓) per seed set: ${held.join(', ')} of ${claims.length}.`,
    '',
    overview,
    '',
    ...runs.flatMap((r) => [`### Seeds ${r.seeds.join(', ')}`, '', r.markdown.replace(/^\*\*.*\*\*\n\n/, ''), '']),
  ];
  writeSection('findings-cnn', sections.join('\n'), FINDINGS_FILE);
  if (cnnOnly) return;
  console.log('flagship, defaults (ResNet)…');
  const resnet = await runFlagship([]);
  console.log(`  ${resnet.seconds.toFixed(0)} s: ${resnet.json.rows.map((row) => SYMBOL[row.verdict]).join(' ')}`);
  const resnetSection = [
    `Measured ${date} with \`npm run bench -- findings\` (the flagship at its defaults: the ResNet, seeds 1–${SEED_SETS[0]!.length}, wasm backend; ${resnet.seconds.toFixed(0)} s on ${machineLine()}).`,
    '',
    resnet.markdown.replace(/^\*\*.*\*\*\n\n/, ''),
  ].join('\n');
  writeSection('findings-resnet', `## The ResNet at the flagship's defaults\n\n${resnetSection}`, FINDINGS_FILE);
  writeSection('findings-resnet', resnetSection, README);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
