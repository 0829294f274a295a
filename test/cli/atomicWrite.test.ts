import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, promises as fs, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync, chmodSync, readlinkSync, lstatSync, linkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileKind, FileWriteError, NotRegularFileError, checkOutputTarget, isSameFile, writeFileAtomic } from '../../cli/atomicWrite';

const fresh = (): string => mkdtempSync(path.join(tmpdir(), 'tl-atomic-'));

test('writes a new file and leaves no temporary file behind', async () => {
  const dir = fresh();
  const file = path.join(dir, 'a.tsnb');
  await writeFileAtomic(file, 'one\n');
  assert.equal(readFileSync(file, 'utf8'), 'one\n');
  await writeFileAtomic(file, new TextEncoder().encode('two\n'));
  assert.equal(readFileSync(file, 'utf8'), 'two\n');
  assert.deepEqual(readdirSync(dir), ['a.tsnb']);
});

test('keeps the permissions of the file it replaces', async () => {
  const dir = fresh();
  const file = path.join(dir, 'a.tsnb');
  writeFileSync(file, 'old');
  chmodSync(file, 0o640);
  await writeFileAtomic(file, 'new');
  assert.equal(statSync(file).mode & 0o777, 0o640);
});

test('a symbolic link keeps pointing at its target, whose content is replaced', async () => {
  const dir = fresh();
  mkdirSync(path.join(dir, 'real'));
  const target = path.join(dir, 'real', 'nb.tsnb');
  writeFileSync(target, 'old');
  const link = path.join(dir, 'link.tsnb');
  symlinkSync(target, link);
  await writeFileAtomic(link, 'new');
  assert.equal(readlinkSync(link), target);
  assert.equal(readFileSync(target, 'utf8'), 'new');
});

test('a failed write leaves the target untouched and removes the temporary file', async () => {
  const dir = fresh();
  // The target is a non-empty folder: the rename fails after the temporary file was written.
  const target = path.join(dir, 'busy');
  mkdirSync(target);
  writeFileSync(path.join(target, 'keep'), 'x');
  await assert.rejects(writeFileAtomic(target, 'data'), (e: unknown) => {
    assert.ok(e instanceof FileWriteError);
    assert.equal(e.file, target);
    assert.match(e.message, /^cannot write .*busy: .*\(the previous content, if any, is unchanged\)$/);
    return true;
  });
  assert.deepEqual(readdirSync(dir), ['busy']);
  assert.deepEqual(readdirSync(target), ['keep']);
  // A folder that does not exist: nothing is created.
  await assert.rejects(writeFileAtomic(path.join(dir, 'missing', 'a.tsnb'), 'data'), FileWriteError);
  assert.deepEqual(readdirSync(dir), ['busy']);
});

test('a concurrent reader sees the old or the new content, never a partial file', async () => {
  const dir = fresh();
  const file = path.join(dir, 'big.tsnb');
  const size = 2 * 1024 * 1024;
  const versions = ['a', 'b'].map((c) => c.repeat(size));
  await writeFileAtomic(file, versions[0]!);
  let stop = false;
  let reads = 0;
  const bad: string[] = [];
  const reader = (async () => {
    while (!stop) {
      const text = await fs.readFile(file, 'utf8');
      reads++;
      if (text.length !== size || (text !== versions[0] && text !== versions[1])) bad.push(`length ${text.length}, starts ${text.slice(0, 3)}`);
    }
  })();
  for (let k = 0; k < 30; k++) await writeFileAtomic(file, versions[(k + 1) % 2]!);
  stop = true;
  await reader;
  assert.ok(reads > 0);
  assert.deepEqual(bad, []);
});

test('a FIFO, a socket, a folder or a link to one is refused, unchanged, before anything is written', async () => {
  const dir = fresh();
  const fifo = path.join(dir, 'pipe');
  const made = spawnSync('mkfifo', [fifo]);
  assert.equal(made.status, 0, `mkfifo: ${made.stderr}`);
  const link = path.join(dir, 'link-to-pipe.tsnb');
  symlinkSync(fifo, link);
  const sock = path.join(dir, 'sock');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(sock, resolve));
  try {
    const cases: [string, RegExp][] = [
      [fifo, /it is a FIFO \(named pipe\), not a regular file/],
      [link, /it is a link to .*pipe, a FIFO \(named pipe\), not a regular file/],
      [sock, /it is a socket, not a regular file/],
      [dir, /it is a folder, not a regular file/],
    ];
    for (const [target, why] of cases) {
      const check = (e: unknown) => {
        assert.ok(e instanceof NotRegularFileError, String(e));
        assert.ok(e instanceof FileWriteError);
        assert.equal(e.file, target);
        assert.match(e.message, why);
        return true;
      };
      await assert.rejects(checkOutputTarget(target), check);
      await assert.rejects(writeFileAtomic(target, 'data'), check);
    }
    assert.ok(lstatSync(fifo).isFIFO(), 'the FIFO is still a FIFO');
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.ok(lstatSync(sock).isSocket());
    assert.deepEqual(readdirSync(dir).sort(), ['link-to-pipe.tsnb', 'pipe', 'sock']);
  } finally {
    server.close();
  }
});

test('a character device (/dev/null) is refused and stays as it was', async () => {
  const before = statSync('/dev/null');
  assert.ok(before.isCharacterDevice());
  await assert.rejects(checkOutputTarget('/dev/null'), /cannot write \/dev\/null: it is a character device, not a regular file/);
  await assert.rejects(writeFileAtomic('/dev/null', 'data'), (e: unknown) => e instanceof NotRegularFileError && e.kind === FileKind.characterDevice);
  const after = statSync('/dev/null');
  assert.ok(after.isCharacterDevice(), '/dev/null is still a character device');
  assert.equal(after.mode, before.mode);
  assert.equal(after.rdev, before.rdev);
  assert.equal(after.ino, before.ino);
  assert.deepEqual(readdirSync('/dev').filter((n) => n.startsWith('.null.')), [], 'no temporary file left in /dev');
});

test('checkOutputTarget accepts a regular file or a new one, and names a missing folder', async () => {
  const dir = fresh();
  const file = path.join(dir, 'a.tsnb');
  await checkOutputTarget(file);
  writeFileSync(file, 'x');
  await checkOutputTarget(file);
  await assert.rejects(checkOutputTarget(path.join(dir, 'missing', 'a.tsnb')), /cannot write .*a\.tsnb: no such folder .*missing/);
  assert.deepEqual(readdirSync(dir), ['a.tsnb']);
});

test('isSameFile sees through spellings, symbolic links and hard links', async () => {
  const dir = fresh();
  const file = path.join(dir, 'a.tsnb');
  writeFileSync(file, 'x');
  const sym = path.join(dir, 'sym.tsnb');
  symlinkSync(file, sym);
  const hard = path.join(dir, 'hard.tsnb');
  linkSync(file, hard);
  writeFileSync(path.join(dir, 'other.tsnb'), 'x');
  mkdirSync(path.join(dir, 'sub'));
  assert.equal(await isSameFile(file, path.join(dir, 'sub', '..', 'a.tsnb')), true);
  assert.equal(await isSameFile(file, sym), true);
  assert.equal(await isSameFile(hard, file), true);
  assert.equal(await isSameFile(file, path.join(dir, 'other.tsnb')), false);
  assert.equal(await isSameFile(file, path.join(dir, 'new.tsnb')), false);
});
