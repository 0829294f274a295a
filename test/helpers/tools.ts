/** Helpers for tests that need external tools: they fail, naming the package, when one is missing. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const repoRoot = path.resolve(__dirname, '..', '..');

/** A command-line io that collects what a command writes to stdout and stderr. */
export function captureIo(): { out: string; err: string; stdout(t: string): void; stderr(t: string): void } {
  const r = {
    out: '',
    err: '',
    stdout(t: string) {
      r.out += t;
    },
    stderr(t: string) {
      r.err += t;
    },
  };
  return r;
}
export const PYTHON = '/usr/bin/python3';

/** Throws an error naming the Debian package when a Python module is missing. */
export function requirePythonModule(module: string, debianPackage: string): void {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: apt-get install -y python3 ${debianPackage}`);
  const r = spawnSync(PYTHON, ['-c', `import ${module}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`Python module ${module} is missing: apt-get install -y ${debianPackage}\n${r.stderr}`);
}

/** Installs the kernelspec under a fresh prefix; returns the JUPYTER_PATH that finds it. */
export function installKernelspec(): string {
  const prefix = mkdtempSync(path.join(os.tmpdir(), 'transferlab-ks-'));
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'bin', 'transferlab.js'), 'kernel', 'install', '--prefix', prefix], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`kernel install failed: ${r.stderr}`);
  return path.join(prefix, 'share', 'jupyter');
}
