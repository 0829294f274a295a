import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, promises as fs, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync, chmodSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileWriteError, writeFileAtomic } from '../../cli/atomicWrite';

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
