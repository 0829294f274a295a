#!/usr/bin/env node
// `npm run test:e2e`: the end-to-end tests in a real VS Code (code-server from npm, driven by
// playwright-core with Debian's Chromium).
//   0. the Debian packages they need (scripts/systemPackages.mjs --e2e: installed as root with
//      apt-get, else a stop naming the one command to run)
//   1. scripts/setup-e2e.sh: Node 24 and code-server into .cache/e2e (once; idempotent)
//   2. scripts/package.mjs: production build and the .vsix, as users get it
//   3. `code-server --install-extension` of that .vsix into a fresh extensions folder
//   4. the extension-host test bundle (test/e2e/exthost → .cache/e2e/exthost)
//   5. node's test runner on test/e2e/*.e2e.ts, one file at a time
// Screenshots and code-server logs go to test-results/e2e/. Exit code: the test runner's.
//
// Usage: node scripts/e2e.mjs [--no-package] [substring …]
//   --no-package  reuse .cache/e2e/transferlab-e2e.vsix (fails if missing); only rebuild dist/
//   substring     run only the e2e files whose name contains one
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as esbuild from 'esbuild';
import { ensureSystemPackages } from './systemPackages.mjs';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const cache = process.env.TRANSFERLAB_E2E_CACHE ?? path.join(root, '.cache', 'e2e');
const results = path.join(root, 'test-results', 'e2e');
const args = process.argv.slice(2);
const filters = args.filter((a) => !a.startsWith('--'));
const timings = [];
const t0 = Date.now();

function step(name, fn) {
  const t = Date.now();
  const r = fn();
  timings.push([name, (Date.now() - t) / 1000]);
  return r;
}
function fail(message) {
  console.error(`e2e: ${message}`);
  process.exit(1);
}
function run(cmd, cmdArgs, options = {}) {
  const r = spawnSync(cmd, cmdArgs, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20, ...options });
  if (r.error) fail(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(`${cmd} ${cmdArgs.join(' ')} exited with ${r.status}\n${r.stdout ?? ''}`);
  return r.stdout ?? '';
}

// 0. Debian packages (Chromium, gssapi headers).
try {
  if (!ensureSystemPackages({ who: 'test:e2e', filters: ['e2e'], e2e: true })) process.exit(1);
} catch (e) {
  fail(e.message);
}

// 1. code-server and Node 24.
const setup = step('setup', () => run('bash', [path.join(root, 'scripts', 'setup-e2e.sh')], { env: { ...process.env, TRANSFERLAB_E2E_CACHE: cache } }));
const found = Object.fromEntries([...setup.matchAll(/^(TRANSFERLAB_E2E_\w+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
if (!found.TRANSFERLAB_E2E_NODE || !found.TRANSFERLAB_E2E_CODE_SERVER) fail(`setup-e2e.sh did not print the paths:\n${setup}`);

// 2. The .vsix.
const vsix = path.join(cache, 'transferlab-e2e.vsix');
if (args.includes('--no-package')) {
  if (!existsSync(vsix)) fail(`--no-package: ${vsix} does not exist`);
  // The extension-host tests load the repository's build.
  step('build', () => run(process.execPath, ['esbuild.mjs']));
} else {
  step('package', () => process.stdout.write(run(process.execPath, [path.join(root, 'scripts', 'package.mjs'), '--out', vsix])));
}

// 3. Install it the way users do, outside the repository: from in here, anything missing from
// the .vsix would still resolve from the repository's node_modules.
const extensionsDir = mkdtempSync(path.join(os.tmpdir(), 'transferlab-e2e-extensions-'));
process.on('exit', () => rmSync(extensionsDir, { recursive: true, force: true }));
step('install', () => {
  const install = spawnSync(
    process.execPath,
    ['--import', 'tsx', '-e', `require(${JSON.stringify(path.join(root, 'test', 'e2e', 'harness.ts'))}).installExtension({ codeServer: ${JSON.stringify(found.TRANSFERLAB_E2E_CODE_SERVER)}, node: ${JSON.stringify(found.TRANSFERLAB_E2E_NODE)} }, ${JSON.stringify(vsix)}, ${JSON.stringify(extensionsDir)})`],
    { cwd: root, stdio: 'inherit' },
  );
  if (install.status !== 0) fail('installing the .vsix into code-server failed');
  const installed = readdirSync(extensionsDir).filter((d) => d.startsWith('transferlab.'));
  if (installed.length !== 1) fail(`expected one transferlab.* folder in ${extensionsDir}, found: ${readdirSync(extensionsDir).join(', ')}`);
});

// 4. Extension-host tests: one CommonJS file per suite plus the mocha runner.
const exthostSrc = path.join(root, 'test', 'e2e', 'exthost');
const exthostOut = path.join(cache, 'exthost');
await (async () => {
  const t = Date.now();
  rmSync(exthostOut, { recursive: true, force: true });
  const entries = readdirSync(exthostSrc).filter((f) => f.endsWith('.ts')).map((f) => path.join(exthostSrc, f));
  await esbuild.build({
    entryPoints: entries,
    outdir: exthostOut,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    sourcemap: 'inline',
    external: ['vscode', 'mocha'],
    logLevel: 'warning',
    absWorkingDir: root,
  });
  timings.push(['exthost bundle', (Date.now() - t) / 1000]);
})();

// 5. The tests.
mkdirSync(results, { recursive: true });
rmSync(path.join(results, '.pgids'), { force: true });
const files = readdirSync(path.join(root, 'test', 'e2e'))
  .filter((f) => f.endsWith('.e2e.ts'))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort()
  .map((f) => path.join('test', 'e2e', f));
if (files.length === 0) fail(`no test/e2e/*.e2e.ts matches ${filters.join(', ')}`);
const tests = step('tests', () =>
  spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files], {
    cwd: root,
    stdio: 'inherit',
    env: {
      ...process.env,
      TRANSFERLAB_E2E_NODE: found.TRANSFERLAB_E2E_NODE,
      TRANSFERLAB_E2E_CODE_SERVER: found.TRANSFERLAB_E2E_CODE_SERVER,
      TRANSFERLAB_E2E_EXTENSIONS_DIR: extensionsDir,
      TRANSFERLAB_E2E_EXTHOST: exthostOut,
      TRANSFERLAB_E2E_RESULTS: results,
    },
  }),
);

// Whatever a crashed test file left running.
const pgidFile = path.join(results, '.pgids');
if (existsSync(pgidFile)) {
  for (const pgid of new Set(readFileSync(pgidFile, 'utf8').split('\n').filter(Boolean).map(Number))) {
    try {
      process.kill(-pgid, 'SIGKILL');
      console.error(`e2e: killed process group ${pgid} left running by a test file`);
    } catch {
      // stopped as it should be
    }
  }
  rmSync(pgidFile, { force: true });
}

const total = (Date.now() - t0) / 1000;
console.log(`\ne2e timings: ${timings.map(([n, s]) => `${n} ${s.toFixed(1)} s`).join(', ')}; total ${total.toFixed(1)} s`);
console.log(`screenshots and logs: ${path.relative(root, results)}/`);
process.exit(tests.status ?? 1);
