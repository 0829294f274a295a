/**
 * One sweep at a time per output folder: DIR/sweep.lock, created exclusively when a sweep starts
 * and removed when it ends. Two sweeps writing one manifest at once would each write back their own
 * copy and lose the other's runs; the second one is refused instead, naming the first.
 *
 * The lock holds the holder's pid, host name and start time. A lock left by a sweep that is gone
 * (killed, or a second Ctrl-C) is taken over when its pid is on this host and no longer running;
 * a lock from another host (a shared folder) is never guessed stale: the message says which file to
 * remove once that sweep is known to be gone.
 */
import { promises as fs, readFileSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { FileWriteError } from '../atomicWrite';
import { FolderInUseError, type LockHolder } from '../errors';

export const LOCK_FILE = 'sweep.lock';

/** A held lock; `release` removes it (only if it is still this sweep's). */
export interface SweepLock {
  readonly file: string;
  release(): Promise<void>;
  /** For a process about to exit at once (a second Ctrl-C). */
  releaseSync(): void;
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockHolder>;
    if (typeof v.pid === 'number' && Number.isInteger(v.pid) && v.pid > 0 && typeof v.host === 'string' && typeof v.started === 'string') return v as LockHolder;
  } catch {
    // not JSON: reported below
  }
  return undefined;
}

/** Whether a process with this pid runs on this host (EPERM: it does, as another user). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes DIR/sweep.lock (DIR must exist), taking over a stale one of this host.
 * @throws FolderInUseError when another sweep holds it, or its lock cannot be read.
 * @throws FileWriteError when the lock cannot be created (a read-only folder).
 */
export async function lockSweepFolder(dir: string): Promise<SweepLock> {
  const file = path.join(dir, LOCK_FILE);
  const me: LockHolder = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
  const text = `${JSON.stringify(me)}\n`;
  for (let attempt = 0; ; attempt++) {
    try {
      await fs.writeFile(file, text, { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new FileWriteError(file, e);
    }
    let held: string;
    try {
      held = await fs.readFile(file, 'utf8');
    } catch (e) {
      // Released between our attempt and this read: try again.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && attempt < 3) continue;
      throw new FolderInUseError(dir, file, undefined, `cannot be read (${(e as Error).message})`);
    }
    const holder = parseHolder(held);
    if (holder === undefined) throw new FolderInUseError(dir, file, undefined, 'does not name a sweep (pid, host, start time)');
    if (holder.host !== me.host || running(holder.pid) || attempt >= 3) throw new FolderInUseError(dir, file, holder);
    // A sweep of this host that is gone: its lock is stale.
    await fs.rm(file, { force: true });
  }
  const ours = (): boolean => {
    try {
      return readFileSync(file, 'utf8') === text;
    } catch {
      return false;
    }
  };
  return {
    file,
    release: async () => {
      if (ours()) await fs.rm(file, { force: true });
    },
    releaseSync: () => {
      if (ours()) rmSync(file, { force: true });
    },
  };
}
