/**
 * CNN training throughput, side by side in one run on the same machine and the same data sizes:
 * TransferLab (`tl.train`, wasm backend; the cpu backend for reference) against PyTorch on the CPU
 * (Debian python3-torch, `/usr/bin/python3`).
 *
 * The network is the same on both sides: conv 3×3 (1→32) + ReLU + max-pool 2, conv 3×3 (32→64) +
 * ReLU + max-pool 2, dense 3136→128 + ReLU, dense 128→10; softmax cross-entropy; SGD with momentum
 * 0.9, lr 0.01; batch 64; 28×28×1 inputs, N examples in memory, a shuffled pass per epoch.
 * Rounds alternate between the contestants so that load from other processes hits both alike;
 * figures are medians over rounds (examples per second of wall-clock time).
 *
 * Run: npm run bench -- train
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tl from '../kernel/analysis/index';
import { machineLine, median, table, writeSection } from './report';

const N = 2048;
const BATCH = 64;
const EPOCHS = 2; // per round; the first round of each contestant also warms up
const ROUNDS = 5;
const CPU_STEPS = 1; // the cpu backend takes ~1 minute per step of 64
const PYTHON = '/usr/bin/python3';

const PY = String.raw`
import json, sys, time
import torch, torch.nn as nn, torch.nn.functional as F
threads = int(sys.argv[1]); n = int(sys.argv[2]); batch = int(sys.argv[3]); epochs = int(sys.argv[4])
torch.set_num_threads(threads)
torch.manual_seed(0)
class CNN(nn.Module):
    def __init__(s):
        super().__init__()
        s.conv1 = nn.Conv2d(1, 32, 3, padding=1); s.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        s.fc1 = nn.Linear(7 * 7 * 64, 128); s.fc = nn.Linear(128, 10)
    def forward(s, x):
        x = F.max_pool2d(F.relu(s.conv1(x)), 2); x = F.max_pool2d(F.relu(s.conv2(x)), 2)
        return s.fc(F.relu(s.fc1(x.flatten(1))))
m = CNN().to(memory_format=torch.channels_last)
opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
x = torch.rand(n, 1, 28, 28).contiguous(memory_format=torch.channels_last); y = torch.randint(0, 10, (n,))
def epoch():
    perm = torch.randperm(n)
    for i in range(0, n, batch):
        idx = perm[i:i + batch]
        opt.zero_grad(); loss = F.cross_entropy(m(x[idx]), y[idx]); loss.backward(); opt.step()
    return float(loss)
epoch()  # warm-up
t = time.perf_counter(); c = time.process_time()
for _ in range(epochs): epoch()
dt = time.perf_counter() - t; cpu = time.process_time() - c
print(json.dumps({"exs": n * epochs / dt, "cores": cpu / dt, "threads": torch.get_num_threads(), "version": torch.__version__}))
`;

interface PyResult {
  exs: number;
  /** CPU time over wall time of the timed epochs: how many cores it kept busy. */
  cores: number;
  threads: number;
  version: string;
}

function pytorch(script: string, threads: number): PyResult {
  const r = spawnSync(PYTHON, [script, String(threads), String(N), String(BATCH), String(EPOCHS)], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) throw new Error(`PyTorch run failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as PyResult;
}

/** Cores TransferLab kept busy in its last timed training (CPU time ÷ wall time). */
let lastCores = 0;

async function transferlab(data: tl.Dataset, epochs: number, steps?: number): Promise<number> {
  const model = tl.cnn({ inputShape: [28, 28, 1], numClasses: 10, channels: [32, 64], hidden: 128, seed: 0 });
  const d = steps === undefined ? data : data.take(steps * BATCH);
  try {
    // Warm-up epoch (kernel set-up, JIT); skipped for the cpu backend, where one step is a minute.
    if (steps === undefined) (await tl.train(model, d, { epochs: 1, batchSize: BATCH, lr: 0.01, progress: false })).dispose();
    const t = performance.now();
    const c = process.cpuUsage();
    const run = await tl.train(model, d, { epochs, batchSize: BATCH, lr: 0.01, progress: false });
    const seconds = (performance.now() - t) / 1000;
    const used = process.cpuUsage(c);
    lastCores = (used.user + used.system) / 1e6 / seconds;
    run.dispose();
    return (d.size * epochs) / seconds;
  } finally {
    model.dispose();
    if (d !== data) d.dispose();
  }
}

async function main(): Promise<void> {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: apt-get install -y python3-torch`);
  const check = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error('PyTorch is missing for /usr/bin/python3: apt-get install -y python3-torch');
  const script = path.join(mkdtempSync(path.join(os.tmpdir(), 'tl-bench-')), 'cnn.py');
  writeFileSync(script, PY);
  const load0 = os.loadavg()[0]!;

  const wasmInfo = await tl.initBackend('wasm');
  const labels = Int32Array.from({ length: N }, (_, i) => (i * 7919) % 10);
  const x = tl.tf.randomUniform([N, 28, 28, 1], 0, 1, 'float32', 1) as tl.tf.Tensor4D;
  const data = new tl.Dataset('random', x, tl.tf.tensor1d(labels, 'int32'), tl.data.DIGIT_CLASSES, labels);

  const wasm: number[] = [];
  const py1: number[] = [];
  const py2: number[] = [];
  const cores = { wasm: [] as number[], py1: [] as number[], py2: [] as number[] };
  let version = '';
  for (let r = 0; r < ROUNDS; r++) {
    await tl.initBackend('wasm');
    wasm.push(await transferlab(data, EPOCHS));
    cores.wasm.push(lastCores);
    const a = pytorch(script, 1);
    const b = pytorch(script, 2);
    py1.push(a.exs);
    py2.push(b.exs);
    cores.py1.push(a.cores);
    cores.py2.push(b.cores);
    version = a.version;
    console.log(`round ${r + 1}: TransferLab wasm ${wasm[r]!.toFixed(0)} ex/s · PyTorch set_num_threads(1) ${a.exs.toFixed(0)} (${a.cores.toFixed(2)} cores busy) · set_num_threads(2) ${b.exs.toFixed(0)}`);
  }
  await tl.initBackend('cpu');
  const cpu = await transferlab(data, 1, CPU_STEPS);
  console.log(`TransferLab cpu backend: ${cpu.toFixed(1)} ex/s (${CPU_STEPS} step)`);
  data.dispose();
  const load1 = os.loadavg()[0]!;

  const [w, p1, p2] = [median(wasm), median(py1), median(py2)];
  const busy = (c: number[]) => median(c).toFixed(2);
  const rows: (string | number)[][] = [
    [`TransferLab, ${wasmInfo.description}`, w.toFixed(0), busy(cores.wasm), (w / p1).toFixed(2), (w / p2).toFixed(2)],
    [`TransferLab, cpu backend (reference, ${CPU_STEPS} step)`, cpu.toFixed(1), '–', (cpu / p1).toFixed(4), (cpu / p2).toFixed(4)],
    [`PyTorch ${version} CPU, set_num_threads(1)`, p1.toFixed(0), busy(cores.py1), '1.00', (p1 / p2).toFixed(2)],
    [`PyTorch ${version} CPU, set_num_threads(2)`, p2.toFixed(0), busy(cores.py2), (p2 / p1).toFixed(2), '1.00'],
  ];
  const md = [
    '## CNN training throughput (CPU)',
    '',
    `Command: \`npm run bench -- train\` · ${new Date().toISOString().slice(0, 10)} · ${machineLine()} · load average ${load0.toFixed(1)} → ${load1.toFixed(1)}`,
    '',
    `Same network both sides (conv 3×3 1→32, ReLU, max-pool 2; conv 3×3 32→64, ReLU, max-pool 2; dense 3136→128, ReLU; dense 128→10), SGD momentum 0.9, batch ${BATCH}, ${N} examples of 28×28×1 in memory, ${EPOCHS} shuffled epochs per round after a warm-up epoch; median of ${ROUNDS} alternating rounds (wall clock). TransferLab uses \`tl.train\` (history logging included); PyTorch a plain loop with channels-last tensors. \`torch.set_num_threads\` bounds PyTorch's own thread pool only: the cores-busy column (CPU time ÷ wall time of the timed epochs) is what each process really used of the 2 cores.`,
    '',
    table(['', 'examples/s (median)', 'cores busy (cpu ÷ wall, median)', 'ratio to PyTorch set_num_threads(1)', 'ratio to PyTorch set_num_threads(2)'], rows),
    '',
    `Best rounds: TransferLab wasm ${Math.max(...wasm).toFixed(0)}, PyTorch set_num_threads(1) ${Math.max(...py1).toFixed(0)}, set_num_threads(2) ${Math.max(...py2).toFixed(0)} ex/s (ratio of bests ${(Math.max(...wasm) / Math.max(...py1)).toFixed(2)} to set_num_threads(1)).`,
    '',
    `Rounds (ex/s): TransferLab wasm ${wasm.map((v) => v.toFixed(0)).join(', ')}; PyTorch set_num_threads(1) ${py1.map((v) => v.toFixed(0)).join(', ')}; set_num_threads(2) ${py2.map((v) => v.toFixed(0)).join(', ')}.`,
  ].join('\n');
  console.log(`\n${md}`);
  writeSection('train', md);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
