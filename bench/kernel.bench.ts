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
  interrupt: number[];
}

async function measure(peer: Peer, cwd: string): Promise<Figures> {
  const f: Figures = { start: [], first: [], roundTrip: [], interrupt: [] };
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

async function main() {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'transferlab-bench-'));
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
    p.name === 'TransferLab' ? '1' : `${(median(f.start) / median(ours.start)).toFixed(2)} / ${(median(f.first) / median(ours.first)).toFixed(2)} / ${(median(f.roundTrip) / median(ours.roundTrip)).toFixed(2)}`,
  ]);
  const md = [
    '## Kernel: start-up and round trip (`npm run bench -- kernel`)',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machineLine()}. Medians: start and first result over ${REPEATS} cold starts, round trip over ${ROUND_TRIPS} runs of \`1+1\` (execute_request → execute_reply and status idle, the same client for every kernel). Ratio = peer ÷ TransferLab (above 1: TransferLab is faster).`,
    '',
    table(['kernel', 'cold start → kernel_info_reply', 'start → first `1+1` result', '`1+1` round trip', 'ratio start / first / round trip'], rows),
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
