/**
 * The client's heartbeat monitoring against the real kernel: a kernel process that is stopped
 * (SIGSTOP, so it is alive but answers nothing) is reported 'unresponsive'; once it continues,
 * 'responsive' again, and it still runs cells with its state.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { KernelClient } from '../../client/kernelClient';

const FAST = { intervalMs: 100, timeoutMs: 200, misses: 2 };

describe('client heartbeat', () => {
  const clients: KernelClient[] = [];
  after(async () => {
    for (const c of clients) {
      if (c.process?.pid) {
        try {
          process.kill(c.process.pid, 'SIGCONT');
        } catch {
          // already gone
        }
      }
      await c.shutdown().catch(() => c.process?.kill('SIGKILL'));
    }
  });

  test('a stopped kernel is reported unresponsive, then responsive again when it continues', { timeout: 30_000 }, async () => {
    const kernel = await KernelClient.launch({ cwd: process.cwd(), heartbeat: FAST });
    clients.push(kernel);
    assert.equal((await kernel.execute('const kept = 41')).status, 'ok');
    // A few echoes arrive while the kernel runs normally.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(kernel.responsive, true, 'a running kernel answers its heartbeat');

    const pid = kernel.process!.pid!;
    const unresponsive = once(kernel, 'unresponsive');
    const stoppedAt = Date.now();
    process.kill(pid, 'SIGSTOP');
    const [silentMs] = (await unresponsive) as [number];
    const detectedAfter = Date.now() - stoppedAt;
    assert.equal(kernel.responsive, false);
    assert.ok(silentMs >= FAST.timeoutMs, `silent for ${silentMs} ms`);
    // Two misses of 200 ms with 100 ms between: well under 5 s even on a loaded machine.
    assert.ok(detectedAfter < 5000, `detected after ${detectedAfter} ms`);

    const responsive = once(kernel, 'responsive');
    process.kill(pid, 'SIGCONT');
    await responsive;
    assert.equal(kernel.responsive, true);
    const r = await kernel.execute('kept + 1', { onIOPub: () => undefined });
    assert.equal(r.status, 'ok');
  });

  test('heartbeat: false sends no pings, so a stopped kernel goes unnoticed', { timeout: 30_000 }, async () => {
    const kernel = await KernelClient.launch({ cwd: process.cwd(), heartbeat: false });
    clients.push(kernel);
    let events = 0;
    kernel.on('unresponsive', () => events++);
    const pid = kernel.process!.pid!;
    process.kill(pid, 'SIGSTOP');
    await new Promise((r) => setTimeout(r, 800));
    process.kill(pid, 'SIGCONT');
    assert.equal(events, 0);
    assert.equal(kernel.responsive, true);
  });

  test('no unresponsive event after the kernel exits (the exit is reported instead)', { timeout: 30_000 }, async () => {
    const kernel = await KernelClient.launch({ cwd: process.cwd(), heartbeat: FAST });
    clients.push(kernel);
    let unresponsive = 0;
    kernel.on('unresponsive', () => unresponsive++);
    const exited = once(kernel, 'exit');
    kernel.process!.kill('SIGKILL');
    await exited;
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(unresponsive, 0);
  });
});
