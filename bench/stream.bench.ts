/**
 * Streamed image folders (`tl.data.imageFolder`), on generated folders of 32×32 PNGs:
 *
 * 1. Throughput on 20,000 images: decoding alone (one thread, the same transform as the workers),
 *    the stream's pass with nothing consuming it (decoding on the workers), the stream feeding
 *    `tl.train` and `tl.evaluate` on the wasm backend, side by side with the same training and
 *    evaluation on the same images in memory (the backend alone). When the streamed figure
 *    matches the in-memory one, decoding keeps up and the backend is the bottleneck.
 * 2. Minibatch CKA (`tl.cka.minibatch`) between two CNNs over a stream of 50,000 images: time
 *    and peak RSS, against the memory the full estimator would need for the same modules.
 *
 * Every measurement runs in its own process on the built bundle (dist/analysis.js, as a user's
 * script loads it), so RSS figures are not mixed up; each figure is a median over rounds.
 *
 * Run: npm run bench -- stream
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { transformExample } from '../kernel/analysis/imageDecode';
import { machineLine, median, table, writeSection } from './report';

const SIDE = 32;
const N_THROUGHPUT = 20_000;
const N_CKA = 50_000;
const ROUNDS = 3;
const BATCH = 128;
const WORKERS = Math.max(1, Math.min(4, os.availableParallelism() - 1));
const BUNDLE = path.resolve(__dirname, '..', 'dist', 'analysis.js');

function generate(dir: string, n: number): void {
  for (let k = 0; k < 10; k++) mkdirSync(path.join(dir, `class${k}`), { recursive: true });
  const p = new PNG({ width: SIDE, height: SIDE });
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < p.data.length; j++) p.data[j] = (j & 3) === 3 ? 255 : (i * 7 + j * 13 + ((i * j) >> 5)) & 255;
    writeFileSync(path.join(dir, `class${i % 10}`, `${String(i).padStart(5, '0')}.png`), PNG.sync.write(p, { deflateLevel: 1, filterType: 0 }));
  }
}

/** Runs `body` (JavaScript with `tl`, `dir` and `report(obj)` in scope) in a fresh process on the bundle. */
function child(dir: string, body: string): Record<string, number> {
  const script = `const tl = require(${JSON.stringify(BUNDLE)});
const dir = ${JSON.stringify(dir)};
let peak = process.memoryUsage().rss;
setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10).unref();
const report = (o) => console.log(JSON.stringify({ ...o, peakRssMB: Math.max(peak, process.memoryUsage().rss) / 2 ** 20 }));
const timed = async (n, f) => { const c0 = process.cpuUsage(); const t0 = performance.now(); await f(); const c = process.cpuUsage(c0); return { exs: n / ((performance.now() - t0) / 1000), cpuMs: (c.user + c.system) / 1000 / n }; };
(async () => { ${body} })().catch((e) => { console.error(e); process.exit(1); });`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 1_800_000, maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
}

interface Rate {
  /** Examples per second of wall-clock time. */
  readonly exs: number;
  /** CPU time (all threads of the process) per example, ms. */
  readonly cpuMs: number;
}

/** Decoding alone, on this thread: read + decode + centre crop of every file, no tensors. */
function decodeAlone(dir: string): Rate {
  const files = readdirSync(dir).flatMap((c) => readdirSync(path.join(dir, c)).map((f) => path.join(dir, c, f)));
  const out = new Float32Array(SIDE * SIDE * 3);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (const f of files) transformExample(f, readFileSync(f), { size: [SIDE, SIDE], channels: 3, cropFraction: 1 }, 0, out, 0);
  const c = process.cpuUsage(c0);
  return { exs: files.length / ((performance.now() - t0) / 1000), cpuMs: (c.user + c.system) / 1000 / files.length };
}

const MODEL = `tl.cnn({inputShape: [${SIDE}, ${SIDE}, 3], numClasses: 10, channels: [8, 16], hidden: 32, seed: 1})`;

async function main(): Promise<void> {
  const load0 = os.loadavg()[0]!;
  const root = mkdtempSync(path.join(os.tmpdir(), 'tl-bench-stream-'));
  try {
    const small = path.join(root, 'small');
    let t0 = performance.now();
    generate(small, N_THROUGHPUT);
    console.log(`generated ${N_THROUGHPUT} PNGs in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const rows: Record<string, Rate[]> = { decode: [], pass: [], trainStream: [], trainMemory: [], evalStream: [], evalMemory: [] };
    let passRss = 0;
    for (let r = 0; r < ROUNDS; r++) {
      rows.decode!.push(decodeAlone(small));
      const pass = child(small, `await tl.initBackend('wasm');
        const s = await tl.data.imageFolder(dir, {batchSize: ${BATCH}, workers: ${WORKERS}});
        const r = await timed(s.length, async () => { for await (const b of s.batches()) tl.tf.dispose([b.x, b.y]); });
        report(r);`);
      rows.pass!.push({ exs: pass['exs']!, cpuMs: pass['cpuMs']! });
      passRss = Math.max(passRss, pass['peakRssMB']!);
      const fed = child(small, `await tl.initBackend('wasm');
        const s = await tl.data.imageFolder(dir, {batchSize: ${BATCH}, workers: ${WORKERS}, shuffle: true, augment: true});
        const m = ${MODEL};
        const train = await timed(s.length, () => tl.train(m, s, {epochs: 1, progress: false, recalibrateNorm: false}));
        const v = await tl.data.imageFolder(dir, {batchSize: 512, workers: ${WORKERS}});
        const evaluate = await timed(v.length, () => tl.evaluate(m, v));
        report({ train, evaluate });`);
      rows.trainStream!.push(fed['train'] as unknown as Rate);
      rows.evalStream!.push(fed['evaluate'] as unknown as Rate);
      const memory = child(small, `await tl.initBackend('wasm');
        const d = await (await tl.data.imageFolder(dir, {workers: ${WORKERS}})).load();
        const m = ${MODEL};
        const train = await timed(d.size, () => tl.train(m, d, {epochs: 1, batchSize: ${BATCH}, progress: false, recalibrateNorm: false}));
        const evaluate = await timed(d.size, () => tl.evaluate(m, d, {batchSize: 512}));
        report({ train, evaluate });`);
      rows.trainMemory!.push(memory['train'] as unknown as Rate);
      rows.evalMemory!.push(memory['evaluate'] as unknown as Rate);
      console.log(`round ${r + 1}: ${Object.entries(rows).map(([k, v]) => `${k} ${v[r]!.exs.toFixed(0)} ex/s (${v[r]!.cpuMs.toFixed(3)} ms CPU)`).join(' · ')}`);
    }
    rmSync(small, { recursive: true, force: true });

    const big = path.join(root, 'big');
    t0 = performance.now();
    generate(big, N_CKA);
    console.log(`generated ${N_CKA} PNGs in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const ckaRun = child(big, `await tl.initBackend('wasm');
      const s = await tl.data.imageFolder(dir, {batchSize: 256, workers: ${WORKERS}});
      const a = ${MODEL};
      const b = tl.cnn({inputShape: [${SIDE}, ${SIDE}, 3], numClasses: 10, channels: [8, 16], hidden: 32, seed: 2});
      const base = process.memoryUsage().rss / 2 ** 20;
      const t0 = performance.now();
      const r = await tl.cka.minibatch(a, b, s);
      const widths = [...a.forward(tl.tf.zeros([1, ${SIDE}, ${SIDE}, 3]), {collect: r.rows}).activations.values()].map((t) => t.size);
      report({ seconds: (performance.now() - t0) / 1000, n: r.n, batches: r.batches, baseRssMB: base, fullMB: widths.reduce((x, y) => x + y, 0) * 2 * ${N_CKA} * 4 / 2 ** 20, diagonal: r.values[0][0] });`);
    console.log(`minibatch CKA over ${N_CKA}: ${JSON.stringify(ckaRun)}`);
    const load1 = os.loadavg()[0]!;

    const exs = (k: string) => median(rows[k]!.map((x) => x.exs));
    const cpu = (k: string) => median(rows[k]!.map((x) => x.cpuMs)).toFixed(3);
    const row = (label: string, k: string) => [label, exs(k).toFixed(0), cpu(k), (exs(k) / exs('decode')).toFixed(2)];
    const md = [
      '## Streamed image folders (`tl.data.imageFolder`)',
      '',
      `Command: \`npm run bench -- stream\` · ${new Date().toISOString().slice(0, 10)} · ${machineLine()} · load average ${load0.toFixed(1)} → ${load1.toFixed(1)}`,
      '',
      `${N_THROUGHPUT} generated ${SIDE}×${SIDE} RGB PNGs in 10 class folders; batches of ${BATCH}; ${WORKERS} decoding worker(s); wasm backend; a CNN (conv 3×3 3→8, conv 3×3 8→16, dense 32, 10 classes). Medians of ${ROUNDS} rounds, each measurement in a fresh process on the built bundle (worker start-up included). "In memory" is the same training or evaluation on the same images loaded first (\`load()\`), i.e. the backend alone: when the streamed figure matches it, decoding keeps the backend busy. CPU time counts every thread of the process; on a machine shared with other jobs the wall-clock rates follow the share of the CPU each process got, the CPU time per example does not.`,
      '',
      table(['', 'examples/s (median)', 'CPU ms per example (median)', 'examples/s vs decoding alone'], [
        row('decoding alone: read + PNG decode + centre crop, one thread, no tensors', 'decode'),
        row(`stream pass, nothing consuming (decoding on ${WORKERS} worker(s), batches to tensors)`, 'pass'),
        row('`tl.train`, streamed with augmentation (random resized crop + flip)', 'trainStream'),
        row('`tl.train`, the same images in memory (backend alone)', 'trainMemory'),
        row('`tl.evaluate`, streamed (centre crop, batches of 512)', 'evalStream'),
        row('`tl.evaluate`, the same images in memory (backend alone)', 'evalMemory'),
      ]),
      '',
      `Streamed training reaches ${((100 * exs('trainStream')) / exs('trainMemory')).toFixed(0)}% of the in-memory rate, streamed evaluation ${((100 * exs('evalStream')) / exs('evalMemory')).toFixed(0)}%. Rounds (examples/s): ${Object.entries(rows).map(([k, v]) => `${k} ${v.map((x) => x.exs.toFixed(0)).join(', ')}`).join('; ')}. Per example, streaming adds ${(+cpu('trainStream') - +cpu('trainMemory')).toFixed(3)} ms of CPU to training (decoding and augmentation; the training itself costs ${cpu('trainMemory')} ms) and ${(+cpu('evalStream') - +cpu('evalMemory')).toFixed(3)} ms to evaluation (${cpu('evalMemory')} ms): training is bound by the backend, evaluation of so small a network by decoding, which more workers (cores) spread out. Peak RSS of a bare stream pass over the ${N_THROUGHPUT} images: ${passRss.toFixed(0)} MiB for the whole process (the test \`test/analysis/imageStreamMemory.test.ts\` bounds its growth).`,
      '',
      `Minibatch CKA (\`tl.cka.minibatch\`, every module of two such CNNs, seeds 1 and 2) over a stream of ${N_CKA} generated ${SIDE}×${SIDE} PNGs in batches of 256: ${ckaRun['seconds']!.toFixed(1)} s (${(ckaRun['n']! / ckaRun['seconds']!).toFixed(0)} examples/s, ${ckaRun['batches']} minibatches), peak RSS ${ckaRun['peakRssMB']!.toFixed(0)} MiB for the whole process (${ckaRun['baseRssMB']!.toFixed(0)} MiB before the pass). The full estimator would hold every module's features of all ${N_CKA} examples for both models: ${(ckaRun['fullMB']! / 1024).toFixed(1)} GiB as float32. That the streamed estimator equals the in-memory one (and, in one batch, full debiased CKA) is checked on a subset in \`test/analysis/imageStreamMemory.test.ts\`.`,
    ].join('\n');
    console.log(`\n${md}`);
    writeSection('stream', md);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
