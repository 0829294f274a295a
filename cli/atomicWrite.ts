/**
 * Atomic file replacement for notebooks and reports written by the command line: the new content
 * goes to a temporary file in the same folder, is flushed to disk, and then renamed over the
 * target. A reader (or a crash) sees the old file or the new one, never a mix or a truncated file.
 *
 * Only regular files are written: a target that exists as anything else (a device such as
 * /dev/null, a FIFO, a socket, a folder) is refused, since the rename would replace the node
 * itself with a file. {@link checkOutputTarget} refuses it up front (before a run starts), and
 * {@link writeFileAtomic} checks again. A symbolic link is followed: its target is what must be a
 * regular file, and what is replaced.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs, rmSync, type Stats } from 'node:fs';
import path from 'node:path';

/** What a path that is not a regular file is, as the refusal names it. */
export const FileKind = {
  folder: 'folder',
  characterDevice: 'character device',
  blockDevice: 'block device',
  fifo: 'FIFO (named pipe)',
  socket: 'socket',
  other: 'special file',
} as const;
export type FileKind = (typeof FileKind)[keyof typeof FileKind];

/** The kind of a node that is not a regular file (undefined for a regular file). */
export function specialFileKind(st: Stats): FileKind | undefined {
  if (st.isFile()) return undefined;
  if (st.isDirectory()) return FileKind.folder;
  if (st.isCharacterDevice()) return FileKind.characterDevice;
  if (st.isBlockDevice()) return FileKind.blockDevice;
  if (st.isFIFO()) return FileKind.fifo;
  if (st.isSocket()) return FileKind.socket;
  return FileKind.other;
}

/** Temporary files being written, removed by the 'exit' handler if the process ends mid-write. */
const pendingTemporaries = new Set<string>();
let exitHookInstalled = false;

function trackTemporary(tmp: string): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const t of pendingTemporaries) rmSync(t, { force: true });
    });
  }
  pendingTemporaries.add(tmp);
}

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
 * The output path exists and is not a regular file: a device (/dev/null), a FIFO, a socket or a
 * folder, directly or through a symbolic link. Nothing was written and the node is unchanged.
 * Raised by {@link checkOutputTarget} (before `transferlab run` starts its kernel) and by
 * {@link writeFileAtomic} (import, export, run, demo); the command line prints it and exits with 1.
 */
export class NotRegularFileError extends FileWriteError {
  constructor(
    file: string,
    /** What the path is. */
    readonly kind: FileKind,
    /** Where a symbolic link led (the path itself when it is no link). */
    readonly resolved: string,
  ) {
    const via = path.resolve(file) === resolved ? '' : `a link to ${resolved}, `;
    super(file, new Error(`it is ${via}a ${kind}, not a regular file; only regular files are written`));
    this.name = 'NotRegularFileError';
  }
}

/** The path a write of `file` replaces: symbolic links followed; the path itself for a new file. */
async function resolveTarget(file: string): Promise<string> {
  const target = path.resolve(file);
  try {
    return await fs.realpath(target);
  } catch {
    // A new file (or a dangling link): written where it was named.
    return target;
  }
}

/** The target's status (undefined when it does not exist); throws when it is not a regular file. */
async function statTarget(file: string, target: string): Promise<Stats | undefined> {
  let st: Stats;
  try {
    st = await fs.stat(target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new FileWriteError(file, e);
  }
  const kind = specialFileKind(st);
  if (kind !== undefined) throw new NotRegularFileError(file, kind, target);
  return st;
}

/**
 * Checks, without writing anything, that `file` can be an output: it is a regular file or does not
 * exist yet, and its folder exists. Run before long work (a notebook's cells) whose result would
 * otherwise be lost at the end.
 * @throws NotRegularFileError when it exists and is not a regular file.
 * @throws FileWriteError when its folder does not exist or cannot be looked at.
 * @example
 * await checkOutputTarget('executed.tsnb'); // fine
 * await checkOutputTarget('/dev/null'); // NotRegularFileError: … it is a character device …
 */
export async function checkOutputTarget(file: string): Promise<void> {
  const target = await resolveTarget(file);
  if ((await statTarget(file, target)) !== undefined) return;
  const dir = path.dirname(target);
  let st: Stats;
  try {
    st = await fs.stat(dir);
  } catch (e) {
    throw new FileWriteError(file, (e as NodeJS.ErrnoException).code === 'ENOENT' ? new Error(`no such folder ${dir}`) : e);
  }
  if (!st.isDirectory()) throw new FileWriteError(file, new Error(`${dir} is not a folder`));
}

/**
 * Whether two paths name the same file: the same path once resolved, or (both existing) the same
 * device and inode, which also catches another spelling, a symbolic link and a hard link.
 * @example
 * await isSameFile('a.tsnb', './sub/../a.tsnb'); // true
 */
export async function isSameFile(a: string, b: string): Promise<boolean> {
  if (path.resolve(a) === path.resolve(b)) return true;
  const [sa, sb] = await Promise.all([a, b].map((f) => fs.stat(f, { bigint: true }).catch(() => undefined)));
  return sa !== undefined && sb !== undefined && sa.dev === sb.dev && sa.ino === sb.ino;
}

/**
 * Replaces `file` with `data` atomically: write a temporary file in the same folder, fsync it,
 * rename it over the target, fsync the folder. An existing file keeps its permissions; a symbolic
 * link keeps pointing where it did (its target is replaced). A temporary file left when the
 * process exits mid-write (a signal handler calling `process.exit`) is removed.
 * @throws NotRegularFileError when the target exists and is not a regular file (nothing written).
 * @throws FileWriteError when any step fails (the target is then untouched).
 * @example
 * await writeFileAtomic('analysis.tsnb', serializeTsnb(notebook));
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const target = await resolveTarget(file);
  const dir = path.dirname(target);
  const tmp = path.join(dir, `.${path.basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const existing = await statTarget(file, target);
  const mode = existing === undefined ? undefined : existing.mode & 0o7777;
  let handle: fs.FileHandle | undefined;
  trackTemporary(tmp);
  try {
    handle = await fs.open(tmp, 'wx', mode ?? 0o666);
    if (mode !== undefined) await handle.chmod(mode);
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    // Checked again just before the rename: the target may have been replaced meanwhile.
    await statTarget(file, target);
    await fs.rename(tmp, target);
  } catch (e) {
    await handle?.close().catch(() => undefined);
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw e instanceof FileWriteError ? e : new FileWriteError(file, e);
  } finally {
    pendingTemporaries.delete(tmp);
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
