#!/usr/bin/env node
// The Debian packages the tests need, in one place: `npm test`, `npm run test:e2e` and `.ci/run`
// all go through here, and the README points here.
//
//   node scripts/systemPackages.mjs [--install] [--e2e] [--all] [test-path-substring …]
//
// Without --install it only checks, lists what is missing with the one command that installs it,
// and exits 1 when something is missing. With --install, a missing group is installed with
// apt-get when this process may (root, apt-get present, TRANSFERLAB_INSTALL_SYSTEM_PACKAGES not 0),
// one line per group on stdout and apt's own output in .cache/system-packages.log; otherwise it
// stops with that same one command. Groups are chosen by the tests they serve: the test files
// named by substrings (as `npm test` takes them), all unit tests by default, plus the end-to-end
// tests' with --e2e, or every group with --all.
//
// Imports nothing outside Node: it runs before `npm ci` in CI.
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const PYTHON = '/usr/bin/python3';
const BACKPORTS = 'bookworm-backports';

/** Whether /usr/bin/python3 imports every module. */
function pythonImports(...modules) {
  if (!existsSync(PYTHON)) return false;
  return spawnSync(PYTHON, ['-c', `import ${modules.join(', ')}`], { stdio: 'ignore' }).status === 0;
}

/** The installed version of a Debian package, or undefined (also where dpkg is absent). */
function debianVersion(pkg) {
  const r = spawnSync('dpkg-query', ['-W', '-f', '${Status}\t${Version}', pkg], { encoding: 'utf8' });
  if (r.status !== 0 || r.error) return undefined;
  const [status, version] = r.stdout.split('\t');
  return status?.endsWith(' installed') ? version : undefined;
}

function hasDpkg() {
  return spawnSync('dpkg-query', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * A group of Debian packages that some tests need. `tests`: path prefixes of the test files that
 * need it (`e2e` for the end-to-end tests); `present()`: whether what the tests use is there, probed
 * the way the tests use it, so that a tool installed some other way counts too.
 */
export const GROUPS = [
  {
    name: 'Jupyter tooling',
    why: 'the Jupyter conformance suite, nbclient and nbconvert as clients, nbformat validation',
    packages: ['python3', 'python3-jupyter-client', 'python3-jupyter-kernel-test', 'python3-nbclient', 'python3-nbformat', 'jupyter-nbconvert', 'python3-ipykernel'],
    tests: ['test/kernel/conformance', 'test/protocol/ipynb', 'test/kernel/figures'],
    present: () => pythonImports('jupyter_client', 'jupyter_kernel_test', 'nbclient', 'nbformat', 'nbconvert', 'ipykernel'),
  },
  {
    name: 'NumPy',
    why: 'the .npy/.npz/safetensors readers tested against files NumPy writes, and the bring-your-own sample notebook',
    packages: ['python3-numpy'],
    tests: ['test/analysis/io', 'test/samples/notebooks'],
    present: () => pythonImports('numpy'),
  },
  {
    name: 'Chromium',
    why: 'the renderers and the HTML report drawn in a real browser, and VS Code in the end-to-end tests',
    packages: ['chromium'],
    tests: ['test/renderers', 'e2e', 'test/kernel/figures'],
    present: () => existsSync(process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium'),
  },
  {
    name: 'Jupyter Notebook 6',
    why: 'the static chart images shown in Notebook 6 (test/kernel/figures)',
    packages: ['python3-notebook'],
    tests: ['test/kernel/figures'],
    present: () => pythonImports('notebook'),
  },
  {
    name: 'Jupyter Server',
    why: 'remote kernels and sweeps tested against a real Jupyter Server (REST and websocket) on loopback',
    packages: ['python3-jupyter-server'],
    tests: ['test/client/remote', 'test/cli/sweep', 'test/cli/runRemote', 'e2e'],
    present: () => pythonImports('jupyter_server'),
  },
  {
    name: 'Fashion-MNIST',
    why: 'the data-set loaders and the transfer sample notebook',
    packages: ['dataset-fashion-mnist'],
    tests: ['test/analysis/data', 'test/samples/notebooks'],
    present: () => existsSync('/usr/share/datasets/fashion-mnist'),
  },
  {
    name: 'Mesa 25 lavapipe (Vulkan on the CPU)',
    why: 'the WebGPU backend tested without a GPU',
    packages: ['mesa-vulkan-drivers', 'libvulkan1'],
    release: BACKPORTS,
    tests: ['test/analysis/backends', 'test/analysis/cka', 'test/analysis/webgpu'],
    present: () => {
      if (!hasDpkg()) return existsSync('/usr/share/vulkan/icd.d/lvp_icd.json');
      const mesa = debianVersion('mesa-vulkan-drivers');
      return mesa !== undefined && Number.parseInt(mesa, 10) >= 25 && debianVersion('libvulkan1') !== undefined;
    },
  },
  {
    name: 'gssapi headers',
    why: "the native build of code-server's kerberos module for the end-to-end tests",
    packages: ['libkrb5-dev'],
    tests: ['e2e'],
    present: () => existsSync('/usr/include/gssapi/gssapi.h') || existsSync('/usr/include/gssapi.h'),
  },
];

/** The groups the selected tests need. `filters`: substrings of test paths, as `npm test` takes them. */
export function groupsFor({ filters = [], e2e = false, all = false } = {}) {
  if (all) return GROUPS;
  return GROUPS.filter((g) =>
    g.tests.some((t) => {
      if (t === 'e2e') return e2e;
      if (filters.length === 0) return true;
      return filters.some((f) => t.includes(f) || f.includes(t));
    }),
  );
}

function osRelease() {
  try {
    return Object.fromEntries(
      readFileSync('/etc/os-release', 'utf8')
        .split('\n')
        .map((l) => /^([A-Z_]+)=("?)(.*)\2$/.exec(l))
        .filter(Boolean)
        .map((m) => [m[1], m[3]]),
    );
  } catch {
    return {};
  }
}

/** On bookworm, Mesa 25 comes from backports; later releases have it in main. */
function needsBackports() {
  return osRelease()['VERSION_CODENAME'] === 'bookworm';
}

function backportsConfigured() {
  const files = ['/etc/apt/sources.list'];
  try {
    const dir = '/etc/apt/sources.list.d';
    for (const f of readdirSync(dir)) files.push(path.join(dir, f));
  } catch {
    /* no such folder */
  }
  return files.some((f) => {
    try {
      return readFileSync(f, 'utf8').includes(BACKPORTS);
    } catch {
      return false;
    }
  });
}

/** The apt-get commands that install `groups`, as a person would type them. */
export function installCommands(groups) {
  const plain = groups.filter((g) => !g.release || !needsBackports()).flatMap((g) => g.packages);
  const bpo = needsBackports() ? groups.filter((g) => g.release).flatMap((g) => g.packages) : [];
  const lines = [];
  if (bpo.length > 0 && !backportsConfigured()) lines.push(`echo 'deb http://deb.debian.org/debian ${BACKPORTS} main' > /etc/apt/sources.list.d/${BACKPORTS}.list`);
  lines.push('apt-get update');
  if (plain.length > 0) lines.push(`apt-get install -y --no-install-recommends ${plain.join(' ')}`);
  if (bpo.length > 0) lines.push(`apt-get install -y --no-install-recommends -t ${BACKPORTS} ${bpo.join(' ')}`);
  return lines;
}

function mayInstall() {
  if (process.env['TRANSFERLAB_INSTALL_SYSTEM_PACKAGES'] === '0') return { ok: false, why: 'TRANSFERLAB_INSTALL_SYSTEM_PACKAGES=0' };
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return { ok: false, why: 'not running as root' };
  if (spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status !== 0) return { ok: false, why: 'apt-get is not available (the names are Debian packages)' };
  return { ok: true };
}

const LOG = path.join(root, '.cache', 'system-packages.log');

function apt(args, who) {
  mkdirSync(path.dirname(LOG), { recursive: true });
  appendFileSync(LOG, `\n$ apt-get ${args.join(' ')}\n`);
  const r = spawnSync('apt-get', args, { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, maxBuffer: 256 << 20 });
  appendFileSync(LOG, `${r.stdout ?? ''}${r.stderr ?? ''}`);
  if (r.status !== 0) {
    const tail = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
    throw new Error(`${who}: apt-get ${args.join(' ')} failed (exit ${r.status ?? r.signal}); the last lines of ${path.relative(root, LOG)}:\n${tail}`);
  }
}

/**
 * Makes sure the groups the selected tests need are present. Returns true when they are (after
 * installing them where allowed); prints what is missing and returns false otherwise.
 */
export function ensureSystemPackages({ who = 'npm test', install = true, ...selection } = {}) {
  const groups = groupsFor(selection);
  const missing = groups.filter((g) => !g.present());
  if (missing.length === 0) return true;
  const allowed = install ? mayInstall() : { ok: false, why: 'checking only' };
  if (!allowed.ok) {
    console.error(`${who}: missing Debian packages the tests need (${allowed.why}, so nothing was installed):`);
    for (const g of missing) console.error(`  ${g.name} (${g.packages.join(' ')}): for ${g.why}`);
    const flags = selection.all ? ' --all' : selection.e2e ? ' --e2e' : '';
    console.error(`Install them with this one command, then run the tests again:\n  sudo node scripts/systemPackages.mjs --install${flags}`);
    console.error(`(it runs: ${installCommands(missing).join(' && ')})`);
    return false;
  }
  const bpo = needsBackports() && missing.some((g) => g.release);
  if (bpo && !backportsConfigured()) {
    writeFileSync(`/etc/apt/sources.list.d/${BACKPORTS}.list`, `deb http://deb.debian.org/debian ${BACKPORTS} main\n`);
    console.log(`${who}: added ${BACKPORTS} to apt's sources (for Mesa 25)`);
  }
  console.log(`${who}: apt-get update (output in ${path.relative(root, LOG)})`);
  apt(['update', '-q'], who);
  for (const g of missing) {
    const release = g.release && needsBackports() ? ['-t', g.release] : [];
    console.log(`${who}: installing ${g.name} for ${g.why}: ${g.packages.join(' ')}${release.length ? ` (from ${g.release})` : ''}`);
    apt(['install', '-y', '-q', '--no-install-recommends', ...release, ...g.packages], who);
    if (!g.present()) throw new Error(`${who}: ${g.name} is still missing after installing ${g.packages.join(' ')}`);
  }
  return true;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const install = args.includes('--install');
  const e2e = args.includes('--e2e');
  const all = args.includes('--all');
  const filters = args.filter((a) => !a.startsWith('--'));
  try {
    const ok = ensureSystemPackages({ who: 'system packages', install, e2e, all, filters });
    if (ok) console.log('system packages: everything the selected tests need is installed');
    process.exit(ok ? 0 : 1);
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
