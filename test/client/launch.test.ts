/**
 * Kernel start-up through the client: a kernel that loses one of its ports to another process
 * (between the client finding it free and the kernel binding it) is started again on fresh ports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KernelClient, KernelStartError } from '../../client/kernelClient';
import { repoRoot } from '../helpers/tools';

/** A kernel command line whose first `failures` starts fail as a taken port does, then the real kernel. */
function flakyKernel(failures: number, message = 'transferlab kernel failed to start: Error: Address already in use'): { argv: string[]; starts: () => number } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tl-flaky-kernel-'));
  const counter = path.join(dir, 'starts');
  const script = path.join(dir, 'kernel.js');
  writeFileSync(
    script,
    `const fs = require('fs');
const n = fs.existsSync(${JSON.stringify(counter)}) ? Number(fs.readFileSync(${JSON.stringify(counter)}, 'utf8')) : 0;
fs.writeFileSync(${JSON.stringify(counter)}, String(n + 1));
if (n < ${failures}) { console.error(${JSON.stringify(message)}); process.exit(1); }
const r = require('child_process').spawnSync(process.execPath, [${JSON.stringify(path.join(repoRoot, 'dist', 'kernel.js'))}, process.argv[2]], { stdio: 'inherit' });
process.exit(r.status ?? 1);
`,
  );
  return { argv: [process.execPath, script, '{connection_file}'], starts: () => Number(readFileSync(counter, 'utf8')) };
}

test('a kernel whose port was taken is started again on fresh ports', { timeout: 60_000 }, async () => {
  const { argv, starts } = flakyKernel(2);
  const log: string[] = [];
  const k = await KernelClient.launch({ cwd: process.cwd(), argv, onLog: (t) => log.push(t) });
  try {
    assert.equal(starts(), 3);
    assert.equal(log.filter((l) => /a port was taken .*starting again on fresh ports/.test(l)).length, 2, log.join(''));
    assert.equal((await k.execute('1 + 1')).status, 'ok');
  } finally {
    await k.shutdown();
  }
});

test('after three starts that lose a port, or on any other start failure, launch gives up with the error', { timeout: 60_000 }, async () => {
  const taken = flakyKernel(3);
  await assert.rejects(KernelClient.launch({ cwd: process.cwd(), argv: taken.argv }), (e: unknown) => e instanceof KernelStartError && /Address already in use/.test(e.message));
  assert.equal(taken.starts(), 3);
  const other = flakyKernel(1, 'transferlab kernel failed to start: Error: cannot read the connection file');
  await assert.rejects(KernelClient.launch({ cwd: process.cwd(), argv: other.argv }), (e: unknown) => e instanceof KernelStartError && /cannot read the connection file/.test(e.message));
  assert.equal(other.starts(), 1);
});

test('the kernel is told its parent (JPY_PARENT_PID, this process, not an inherited one) and abandon() stops it and removes its connection folder', { timeout: 60_000, skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
  const inherited = process.env.JPY_PARENT_PID;
  process.env.JPY_PARENT_PID = '1234567';
  let k: KernelClient;
  try {
    k = await KernelClient.launch({ cwd: process.cwd() });
  } finally {
    if (inherited === undefined) delete process.env.JPY_PARENT_PID;
    else process.env.JPY_PARENT_PID = inherited;
  }
  const child = k.process!;
  try {
    await checkParentAndAbandon(k, child.pid!);
  } finally {
    // A failing check must not leave the kernel running (and the test runner waiting on it).
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await k.shutdown();
  }
});

async function checkParentAndAbandon(k: KernelClient, pid: number): Promise<void> {
  const environ = Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .filter((e) => e.includes('='))
      .map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
  );
  assert.equal(environ['JPY_PARENT_PID'], String(process.pid));
  assert.equal(environ['TRANSFERLAB_OWNS_CONNECTION_FILE'], '1');
  const file = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').find((a) => a.endsWith('connection.json'))!;
  assert.ok(existsSync(file));
  // What the process's 'exit' handler does for every kernel still running: SIGTERM, folder removed.
  const exited = new Promise<number | null>((r) => k.process!.once('exit', (code) => r(code)));
  k.abandon();
  assert.equal(existsSync(path.dirname(file)), false, 'the connection folder is removed at once');
  assert.equal(await exited, 0, 'the kernel shuts down on SIGTERM');
}
