/**
 * Kernel start-up through the client: a kernel that loses one of its ports to another process
 * (between the client finding it free and the kernel binding it) is started again on fresh ports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
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
