/**
 * `npm test` sets itself up: the Debian packages the selected tests need are checked before any
 * test runs (scripts/systemPackages.mjs). Here installing is forbidden, so a missing group must stop
 * the run at once with the one command that installs it, and nothing may be built or run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../helpers/tools';

const script = (name: string) => path.join(repoRoot, 'scripts', name);
// Chromium "missing": the probe honours CHROMIUM_PATH, as the renderer tests do.
const env = { ...process.env, CHROMIUM_PATH: '/nonexistent/chromium', TRANSFERLAB_INSTALL_SYSTEM_PACKAGES: '0' };

test('groups are chosen by the tests they serve', async () => {
  const { groupsFor, GROUPS } = (await import(script('systemPackages.mjs'))) as {
    groupsFor(o: { filters?: string[]; e2e?: boolean; all?: boolean }): { name: string; packages: string[] }[];
    GROUPS: { name: string; packages: string[]; tests: string[] }[];
  };
  const names = (o: Parameters<typeof groupsFor>[0]) => groupsFor(o).map((g) => g.name);
  assert.deepEqual(names({ filters: ['test/renderers'] }), ['Chromium']);
  assert.deepEqual(names({ filters: ['test/protocol/tsnb'] }), []);
  assert.ok(names({ filters: ['test/kernel'] }).includes('Jupyter tooling'));
  assert.deepEqual(names({ filters: ['e2e'], e2e: true }), ['Chromium', 'Jupyter Server', 'gssapi headers']);
  // The unit suite needs every group but the end-to-end tests' own; --all is every group.
  assert.deepEqual(names({}), GROUPS.filter((g) => g.tests.some((t) => t !== 'e2e')).map((g) => g.name));
  assert.equal(groupsFor({ all: true }).length, GROUPS.length);
  // Every package is named once.
  const all = GROUPS.flatMap((g) => g.packages);
  assert.equal(new Set(all).size, all.length);
});

test('a missing package stops `npm test` before any test, naming the one command to run', () => {
  const r = spawnSync(process.execPath, [script('test.mjs'), 'test/renderers'], { cwd: repoRoot, env, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /missing Debian packages the tests need \(TRANSFERLAB_INSTALL_SYSTEM_PACKAGES=0/);
  assert.match(r.stderr, /Chromium \(chromium\)/);
  assert.match(r.stderr, /sudo node scripts\/systemPackages\.mjs --install\n/);
  assert.doesNotMatch(r.stdout + r.stderr, /ℹ tests|# tests/, 'no test may run');
});

test('checking alone reports and fails; with everything present it passes', () => {
  const missing = spawnSync(process.execPath, [script('systemPackages.mjs'), 'test/renderers'], { cwd: repoRoot, env, encoding: 'utf8' });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /checking only/);
  // A selection that needs no Debian package is satisfied whatever the machine has.
  const none = spawnSync(process.execPath, [script('systemPackages.mjs'), 'test/protocol/tsnb'], { cwd: repoRoot, env, encoding: 'utf8' });
  assert.equal(none.status, 0, none.stderr);
  assert.match(none.stdout, /everything the selected tests need is installed/);
});
