/**
 * A streamed image folder inside the kernel: a cell's decoding workers (threads of the kernel's
 * cell worker) must never keep the kernel from shutting down, whether a pass stopped early, ran
 * to the end, or a pass is still running.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { KernelClient } from '../../client/kernelClient';
import type { Message } from '../../kernel/protocol/messages';

let dir: string;

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tl-kernel-stream-'));
  const p = new PNG({ width: 8, height: 8 });
  for (const c of ['a', 'b']) {
    mkdirSync(path.join(dir, 'images', c), { recursive: true });
    for (let i = 0; i < 40; i++) {
      p.data.fill(i * 5);
      writeFileSync(path.join(dir, 'images', c, `${i}.png`), PNG.sync.write(p));
    }
  }
});

after(() => rmSync(dir, { recursive: true, force: true }));

async function stdoutOf(k: KernelClient, code: string): Promise<string> {
  const msgs: Message[] = [];
  const reply = await k.execute(code, { onIOPub: (m) => msgs.push(m) });
  assert.equal(reply.status, 'ok', JSON.stringify(reply));
  return msgs.filter((m) => m.header.msg_type === 'stream').map((m) => (m.content as { text: string }).text).join('');
}

/** Shuts `k` down; the kernel must exit by itself (the client kills it after 2 s otherwise). */
async function shutsDownCleanly(k: KernelClient): Promise<void> {
  const child = k.process!;
  const exited = new Promise<[number | null, string | null]>((r) => child.once('exit', (code, signal) => r([code, signal])));
  const t0 = performance.now();
  await k.shutdown();
  const [code, signal] = await exited;
  assert.equal(signal, null, `the kernel had to be killed (${signal}) after ${(performance.now() - t0).toFixed(0)} ms`);
  assert.equal(code, 0);
}

test('a cell streams an image folder with workers; the kernel exits cleanly after passes stopped early, whole, and still decoding', async () => {
  const k = await KernelClient.launch({ cwd: dir, env: { TRANSFERLAB_BACKEND: 'cpu' } });
  try {
    const out = await stdoutOf(
      k,
      `const s = await tl.data.imageFolder('images', {batchSize: 16, workers: 2});
for await (const b of s.batches()) { tf.dispose([b.x, b.y]); break; }
let n = 0;
for await (const b of s.batches({epoch: 1})) { n += b.x.shape[0]; tf.dispose([b.x, b.y]); }
console.log(String(s), n);`,
    );
    assert.match(out, /images: 80 images → 8×8×3, 2 classes, streamed \(batches of 16, in order, centre crop, 2 decoding workers\) 80/);
    // A pass left running, its workers busy decoding ahead, when the kernel is asked to shut down.
    const left = await stdoutOf(
      k,
      `const running = await tl.data.imageFolder('images', {batchSize: 4, workers: 2, prefetch: 8});
const it = running.batches();
const first = await it.next();
if (!first.done) tf.dispose([first.value.x, first.value.y]);
console.log('left running');`,
    );
    assert.match(left, /left running/);
  } finally {
    await shutsDownCleanly(k);
  }
});
