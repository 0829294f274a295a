/**
 * The extension's kernel process against the real kernel (under plain Node, with the vscode
 * stand-in): a kernel that stops answering its heartbeat is shown as unresponsive, with a warning
 * event, and goes back to idle when it answers again; a killed kernel is reported dead.
 */
import './vscodeFake';
import { Uri } from './vscodeFake';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type * as vscode from 'vscode';
import { KernelProcess, KernelState } from '../../extension/kernelProcess';

const root = path.resolve(__dirname, '..', '..');
const lines: string[] = [];
const log = Object.fromEntries(['trace', 'debug', 'info', 'warn', 'error'].map((level) => [level, (m: string) => lines.push(`${level}: ${m}`)])) as unknown as vscode.LogOutputChannel;

function notebook(): vscode.NotebookDocument {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'transferlab-kp-'));
  return { uri: Uri.file(path.join(dir, 'a.tsnb')), metadata: {} } as unknown as vscode.NotebookDocument;
}

/** Resolves when the process reaches `state` (or rejects after `ms`). */
function reaches(kernel: KernelProcess, state: KernelState, ms = 15_000): Promise<void> {
  if (kernel.state === state) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`state ${kernel.state}, not ${state}, after ${ms} ms`)), ms);
    const sub = kernel.onDidChangeState((s) => {
      if (s !== state) return;
      clearTimeout(timer);
      sub.dispose();
      resolve();
    });
  });
}

describe('KernelProcess', () => {
  const kernels: KernelProcess[] = [];
  after(() => {
    for (const k of kernels) {
      if (k.pid) {
        try {
          process.kill(k.pid, 'SIGCONT');
        } catch {
          // gone
        }
      }
      k.dispose();
    }
  });

  test('unresponsive while the kernel is stopped, idle again when it continues, with its state', { timeout: 60_000 }, async () => {
    const kernel = new KernelProcess(notebook(), root, log, { intervalMs: 100, timeoutMs: 200, misses: 2 });
    kernels.push(kernel);
    const client = await kernel.start();
    assert.equal(kernel.state, KernelState.idle);
    assert.equal((await client.execute('const kept = 1')).status, 'ok');
    const warned: number[] = [];
    kernel.onDidStopResponding((s) => warned.push(s));
    process.kill(kernel.pid!, 'SIGSTOP');
    await reaches(kernel, KernelState.unresponsive);
    assert.equal(warned.length, 1);
    assert.ok(warned[0]! > 0);
    assert.ok(kernel.client, 'an unresponsive kernel can still be interrupted or restarted');
    assert.ok(lines.some((l) => l.startsWith('warn: ') && /heartbeat/.test(l)), lines.join('\n'));
    process.kill(kernel.pid!, 'SIGCONT');
    await reaches(kernel, KernelState.idle);
    assert.equal((await client.execute('kept')).status, 'ok');
  });

  test('a busy kernel that stops and continues goes back to busy', { timeout: 60_000 }, async () => {
    const kernel = new KernelProcess(notebook(), root, log, { intervalMs: 100, timeoutMs: 200, misses: 2 });
    kernels.push(kernel);
    await kernel.start();
    kernel.markBusy(true);
    assert.equal(kernel.state, KernelState.busy);
    process.kill(kernel.pid!, 'SIGSTOP');
    await reaches(kernel, KernelState.unresponsive);
    kernel.markBusy(false);
    kernel.markBusy(true);
    assert.equal(kernel.state, KernelState.unresponsive, 'marking busy does not hide that the kernel is silent');
    process.kill(kernel.pid!, 'SIGCONT');
    await reaches(kernel, KernelState.busy);
  });

  test('a killed kernel is reported dead once, and stays dead', { timeout: 60_000 }, async () => {
    const kernel = new KernelProcess(notebook(), root, log, { intervalMs: 100, timeoutMs: 200, misses: 2 });
    kernels.push(kernel);
    await kernel.start();
    const died: unknown[] = [];
    kernel.onDidDie((e) => died.push(e));
    process.kill(kernel.pid!, 'SIGKILL');
    await reaches(kernel, KernelState.dead);
    assert.equal(died.length, 1);
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(kernel.state, KernelState.dead);
  });
});
