#!/usr/bin/env node
// `npm test`: build, then run every test/**/*.test.ts (except the end-to-end tests in test/e2e,
// which `npm run test:e2e` runs in a real VS Code) with Node's test runner.
// Usage: node scripts/test.mjs [substring …]   runs only test files whose path contains a substring.
// First it makes sure the Debian packages the selected tests need are there (scripts/systemPackages.mjs):
// as root with apt-get it installs what is missing, one line per package group; otherwise it stops
// before any test, naming the one command to run.
import { readdirSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ensureSystemPackages } from './systemPackages.mjs';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const filters = process.argv.slice(2);

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) {
      if (path.relative(root, p) === path.join('test', 'e2e')) continue;
      out.push(...collect(p));
    } else if (name.endsWith('.test.ts')) {
      out.push(path.relative(root, p));
    }
  }
  return out;
}

try {
  if (!ensureSystemPackages({ who: 'npm test', filters })) process.exit(1);
} catch (e) {
  console.error(e.message);
  process.exit(1);
}

const build = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

const files = collect(path.join(root, 'test')).filter((f) => filters.length === 0 || filters.some((s) => f.includes(s))).sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(', ')}`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=1', ...files], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, TRANSFERLAB_TEST: '1' },
});
process.exit(r.status ?? 1);
