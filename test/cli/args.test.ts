import assert from 'node:assert/strict';
import { test } from 'node:test';
import path from 'node:path';
import { parseCliArgs, type CliArgsSettings, type CliOptions } from '../../cli/args';
import { UsageError } from '../../cli/errors';
import { kernelsDir } from '../../cli/kernelspec';

const OPTIONS = {
  out: { type: 'string', short: 'o' },
  param: { type: 'string', short: 'p', multiple: true },
  quiet: { type: 'boolean', short: 'q' },
} as const satisfies CliOptions;
const ONE = { maxPositionals: 1, tooManyHint: 'one notebook at a time' } as const;

/** Asserts that parsing throws a UsageError with exactly this message. */
function rejects(args: string[], message: string, settings: CliArgsSettings = ONE): void {
  assert.throws(
    () => parseCliArgs(args, OPTIONS, settings),
    (e: unknown) => e instanceof UsageError && e.message === message,
    `${JSON.stringify(args)} should fail with ${message}`,
  );
}

test('long, short and inline forms give the same values; defaults when absent', () => {
  const expected = { help: false, values: { out: 'b.tsnb', param: [], quiet: true }, positionals: ['a.tsnb'] };
  for (const args of [
    ['a.tsnb', '--out', 'b.tsnb', '--quiet'],
    ['--out=b.tsnb', 'a.tsnb', '-q'],
    ['a.tsnb', '-o', 'b.tsnb', '-q'],
    ['a.tsnb', '-o=b.tsnb', '-q'],
    ['a.tsnb', '-qo', 'b.tsnb'],
  ]) {
    assert.deepEqual(parseCliArgs(args, OPTIONS, ONE), expected, JSON.stringify(args));
  }
  assert.deepEqual(parseCliArgs([], OPTIONS), { help: false, values: { out: undefined, param: [], quiet: false }, positionals: [] });
});

test('a repeatable option keeps every value in order; a single one keeps the last', () => {
  const { values } = parseCliArgs(['-p', 'x=1', '--param', 'y=[1,2]', '--param=z=a=b', '--out', 'first', '--out', 'last'], OPTIONS);
  assert.deepEqual(values.param, ['x=1', 'y=[1,2]', 'z=a=b']);
  assert.equal(values.out, 'last');
});

test('- is a positional (stdin or stdout), and a value that starts with a dash is taken', () => {
  assert.deepEqual(parseCliArgs(['-', '--out', '-'], OPTIONS, ONE), { help: false, values: { out: '-', param: [], quiet: false }, positionals: ['-'] });
  assert.equal(parseCliArgs(['a', '--out', '-x.tsnb'], OPTIONS, ONE).values.out, '-x.tsnb');
  assert.equal(parseCliArgs(['a', '--out', '--quiet'], OPTIONS, ONE).values.quiet, false, 'the value of --out, not the flag');
  assert.deepEqual(parseCliArgs(['--', '-a.tsnb'], OPTIONS, ONE).positionals, ['-a.tsnb']);
});

test('unknown options are named as typed', () => {
  rejects(['a.tsnb', '--bogus'], 'unknown option --bogus');
  rejects(['a.tsnb', '--bogus=3'], 'unknown option --bogus=3');
  rejects(['-x'], 'unknown option -x');
  rejects(['-qx'], 'unknown option -qx');
  rejects(['--quiet=yes'], 'unknown option --quiet=yes');
  assert.throws(() => parseCliArgs(['--nope'], OPTIONS, { unknownHint: 'expected --out' }), { message: 'unknown option --nope (expected --out)' });
});

test('a missing or empty value names the option by its long name', () => {
  rejects(['a.tsnb', '--out'], '--out needs a value');
  rejects(['a.tsnb', '-o'], '--out needs a value');
  rejects(['a.tsnb', '--out='], '--out needs a value');
  rejects(['a.tsnb', '--out', ''], '--out needs a value');
  rejects(['a.tsnb', '-p', 'x=1', '--param='], '--param needs a value');
  const custom = { dir: { type: 'string', missing: '--dir needs a directory' } } as const satisfies CliOptions;
  assert.throws(() => parseCliArgs(['--dir'], custom), { message: '--dir needs a directory' });
});

test('too many positionals', () => {
  rejects(['a.tsnb', 'b.tsnb'], 'unexpected argument b.tsnb (one notebook at a time)');
  rejects(['a.tsnb'], 'unexpected argument a.tsnb', { maxPositionals: 0 });
});

test('help stops at the first -h or --help, unless the command has none', () => {
  assert.equal(parseCliArgs(['-h', '--bogus'], OPTIONS, ONE).help, true);
  assert.equal(parseCliArgs(['a', 'b', '--help'], { ...OPTIONS }, { maxPositionals: 3 }).help, true);
  rejects(['--bogus', '--help'], 'unknown option --bogus');
  rejects(['--help=1'], 'unknown option --help=1');
  assert.throws(() => parseCliArgs(['--help'], OPTIONS, { help: false }), { message: 'unknown option --help' });
});

test('kernel install/uninstall: --prefix DIR, --prefix=DIR, --sys-prefix, unknown options', () => {
  const under = (dir: string) => path.join(path.resolve(dir), 'share', 'jupyter', 'kernels');
  assert.equal(kernelsDir(['--prefix', 'opt']), under('opt'));
  assert.equal(kernelsDir(['--sys-prefix', '--prefix=opt']), under('opt'));
  assert.equal(kernelsDir(['--sys-prefix']), path.join('/usr/local', 'share', 'jupyter', 'kernels'));
  assert.throws(() => kernelsDir(['--prefix']), { message: '--prefix needs a directory, e.g. --prefix /usr/local' });
  assert.throws(() => kernelsDir(['--prefix', '--user']), { message: '--prefix needs a directory, e.g. --prefix /usr/local' });
  assert.throws(() => kernelsDir(['--usr']), { message: 'unknown option --usr (expected --user, --prefix DIR, --sys-prefix or --backend NAME)' });
});
