/**
 * Kernel benchmark, side by side in one process on the same machine: TransferLab, ipykernel
 * (Debian python3-ipykernel) and tslab 1.0.22 (devDependency).
 *   cold start: spawn → kernel_info_reply
 *   first result: spawn → the execute_reply of `1+1` sent right after kernel_info
 *   round trip: median over 50 runs of `1+1` (execute_request → reply and status idle)
 * For TransferLab also the time an interrupt takes to stop `while (true) {}`.
 * Run: npm run bench -- kernel
 */
import { existsSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KernelClient } from '../client/kernelClient';
import { machineLine, median, table, writeSection } from './report';

const root = path.resolve(__dirname, '..');
const REPEATS = 3;
const ROUND_TRIPS = 50;

interface Peer {
  name: string;
  argv?: string[];
  code: string;
  available: () => string | undefined;
}

const peers: Peer[] = [
  { name: 'TransferLab', code: '1+1', available: () => (existsSync(path.join(root, 'dist', 'kernel.js')) ? undefined : 'dist/kernel.js missing: npm run build') },
  {
    name: 'ipykernel',
    argv: ['/usr/bin/python3', '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
    code: '1+1',
    available: () => (existsSync('/usr/lib/python3/dist-packages/ipykernel') ? undefined : 'apt-get install -y python3-ipykernel'),
  },
  {
    name: 'tslab 1.0.22',
    argv: [process.execPath, path.join(root, 'node_modules', 'tslab', 'bin', 'tslab'), 'kernel', '--config-path', '{connection_file}'],
    code: '1+1',
    available: () => (existsSync(path.join(root, 'node_modules', 'tslab')) ? undefined : 'npm ci (tslab is a devDependency)'),
  },
];

interface Figures {
  start: number[];
  first: number[];
  roundTrip: number[];
  /** `1+i` with a different i each time: no cached type check. */
  newCell: number[];
  interrupt: number[];
}

async function measure(peer: Peer, cwd: string): Promise<Figures> {
  const f: Figures = { start: [], first: [], roundTrip: [], newCell: [], interrupt: [] };
  for (let i = 0; i < REPEATS; i++) {
    const t0 = performance.now();
    const k = await KernelClient.launch({ cwd, argv: peer.argv, env: { TRANSFERLAB_BACKEND: 'wasm' }, startTimeoutMs: 60_000 });
    f.start.push(performance.now() - t0);
    const r = await k.execute(peer.code);
    f.first.push(performance.now() - t0);
    if (r.status !== 'ok') throw new Error(`${peer.name}: 1+1 failed: ${JSON.stringify(r)}`);
    if (i === 0) {
      await new Promise((res) => setTimeout(res, 3000)); // let background warm-up finish
      for (let j = 0; j < ROUND_TRIPS; j++) {
        const t = performance.now();
        await k.execute(peer.code);
        f.roundTrip.push(performance.now() - t);
      }
      for (let j = 0; j < ROUND_TRIPS; j++) {
        const t = performance.now();
        await k.execute(`1+${j + 2}`);
        f.newCell.push(performance.now() - t);
      }
      if (peer.name === 'TransferLab') {
        for (let j = 0; j < 5; j++) {
          const p = k.execute('while (true) {}');
          await new Promise((res) => setTimeout(res, 200));
          const t = performance.now();
          await k.interrupt();
          await p;
          f.interrupt.push(performance.now() - t);
        }
      }
    }
    await k.shutdown();
  }
  return f;
}

let loadAtStart = 0;

async function main() {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'transferlab-bench-'));
  loadAtStart = os.loadavg()[0]!;
  const results: [Peer, Figures][] = [];
  for (const peer of peers) {
    const missing = peer.available();
    if (missing) throw new Error(`${peer.name} is not available: ${missing}`);
    process.stdout.write(`measuring ${peer.name}…\n`);
    results.push([peer, await measure(peer, cwd)]);
  }
  const ours = results[0]![1];
  const fmt = (ms: number) => (ms >= 100 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(2)} ms`);
  const rows = results.map(([p, f]) => [
    p.name,
    fmt(median(f.start)),
    fmt(median(f.first)),
    fmt(median(f.roundTrip)),
    fmt(median(f.newCell)),
    p.name === 'TransferLab'
      ? '1'
      : [f.start, f.first, f.roundTrip, f.newCell].map((xs, i) => (median(xs) / median([ours.start, ours.first, ours.roundTrip, ours.newCell][i]!)).toFixed(2)).join(' / '),
  ]);
  const md = [
    '## Kernel: start-up and round trip (`npm run bench -- kernel`)',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machineLine()}, load average ${loadAtStart.toFixed(1)} when the run started (other work shared the 2 cores; the kernels ran one after the other in the same conditions). Medians: start and first result over ${REPEATS} cold starts; round trips over ${ROUND_TRIPS} runs (execute_request → execute_reply and status idle, the same client for every kernel). "Same cell" repeats \`1+1\` (TransferLab reuses the type check of an unchanged cell in an unchanged session); "new cell" sends \`1+2\`, \`1+3\`, … so every run is type-checked. Ratio = peer ÷ TransferLab (above 1: TransferLab is faster).`,
    '',
    table(['kernel', 'cold start → kernel_info_reply', 'start → first `1+1` result', 'round trip, same cell', 'round trip, new cell', 'ratio (same order)'], rows),
    '',
    `Interrupt of \`while (true) {}\` (SIGINT → execute_reply), TransferLab: median ${fmt(median(ours.interrupt))} over ${ours.interrupt.length} runs (max ${fmt(Math.max(...ours.interrupt))}).`,
  ].join('\n');
  process.stdout.write(`\n${md}\n`);
  writeSection('kernel', md);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
