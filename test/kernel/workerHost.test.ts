/**
 * The executor worker answers every request, even one that throws inside it: the main thread
 * must never wait for a reply that will not come (the kernel's request queue would stall).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { WorkerHost } from '../../kernel/executor/workerHost';

const root = path.resolve(__dirname, '..', '..');
let host: WorkerHost;

before(async () => {
  host = new WorkerHost({ script: path.join(root, 'dist', 'kernelWorker.js'), cwd: root, packageRoot: root });
  await host.ready;
});
after(async () => {
  await host?.close();
});

test('a request that throws in the worker rejects with ExecutorRequestError, and the worker goes on', async () => {
  const within = <T>(p: Promise<T>) => Promise.race([p, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 10_000))]);
  for (const call of [() => host.isComplete(42 as unknown as string), () => host.complete(42 as unknown as string, 1), () => host.inspect(null as unknown as string, 1, 0)]) {
    const r = await within(call().then(() => 'answered', (e: Error) => e));
    assert.notEqual(r, 'hung', 'the request was never answered');
    assert.ok(r instanceof Error && r.name === 'ExecutorRequestError', `${call}: ${String(r)}`);
  }
  assert.deepEqual(await within(host.isComplete('if (a) {')), { status: 'incomplete', indent: '  ' });
});
