/**
 * Atomic file replacement for notebooks and reports written by the command line: the new content
 * goes to a temporary file in the same folder, is flushed to disk, and then renamed over the
 * target. A reader (or a crash) sees the old file or the new one, never a mix or a truncated file.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * A file could not be written. The previous content, if any, is unchanged and no temporary file
 * is left behind. Raised by {@link writeFileAtomic}; the command line prints it and exits with 1.
 */
export class FileWriteError extends Error {
  constructor(
    /** The file that was to be written. */
    readonly file: string,
    cause: unknown,
  ) {
    super(`cannot write ${file}: ${cause instanceof Error ? cause.message : String(cause)} (the previous content, if any, is unchanged)`, { cause });
    this.name = 'FileWriteError';
  }
}

/**
 * Replaces `file` with `data` atomically: write a temporary file in the same folder, fsync it,
 * rename it over the target, fsync the folder. An existing file keeps its permissions; a symbolic
 * link keeps pointing where it did (its target is replaced).
 * @throws FileWriteError when any step fails (the target is then untouched).
 * @example
 * await writeFileAtomic('analysis.tsnb', serializeTsnb(notebook));
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  let target = path.resolve(file);
  try {
    target = await fs.realpath(target);
  } catch {
    // A new file: write it where it was named.
  }
  const dir = path.dirname(target);
  const tmp = path.join(dir, `.${path.basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let mode: number | undefined;
  try {
    const st = await fs.stat(target);
    mode = st.mode & 0o7777;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new FileWriteError(file, e);
  }
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(tmp, 'wx', mode ?? 0o666);
    if (mode !== undefined) await handle.chmod(mode);
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fs.rename(tmp, target);
  } catch (e) {
    await handle?.close().catch(() => undefined);
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw new FileWriteError(file, e);
  }
  // Make the rename itself durable. Not every platform can fsync a folder (Windows cannot): the
  // file is already complete and in place, so a failure here is not an error.
  try {
    const d = await fs.open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // best effort, see above
  }
}
