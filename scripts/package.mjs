#!/usr/bin/env node
// `npm run package`: builds the extension for production and packs a platform-specific .vsix that
// carries everything the kernel needs at run time (dist/ and the production node_modules, whose
// native parts — zeromq, webgpu's Dawn — differ per platform).
//
// vsce refuses a .vscodeignore next to the npm `files` list of package.json, and `files` serves
// `npm pack` (the CLI and library). So the extension is packed from a staging folder holding a
// copy of the manifest without `files`/dev entries and with the extension's entry as `main`
// (scripts/extensionManifest.mjs), dist/, the docs, .vscodeignore (plus the rules
// that drop other platforms' binaries) and the production dependency tree (hard links where the
// file system allows, so staging costs seconds, not 500 MB of copies).
//
// Usage: node scripts/package.mjs [--target linux-x64] [--out file.vsix] [--ls] [--no-build]
//   --target   a vsce target (default: this machine's platform-arch)
//   --out      where to write the .vsix (default: transferlab-<version>-<target>.vsix at the root)
//   --ls       list the files that would be packed instead of packing
//   --no-build skip `node esbuild.mjs --production` (dist/ is already built)
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, linkSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { EXTENSION_MAIN, extensionManifest } from './extensionManifest.mjs';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const args = process.argv.slice(2);
function option(name) {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const value = args[i + 1];
  if (value === undefined || value.startsWith('--')) fail(`${name} needs a value`);
  return value;
}
function fail(message) {
  console.error(`package: ${message}`);
  process.exit(1);
}

/** vsce targets and the folder names other packages use for the same platform. */
const TARGETS = {
  'linux-x64': { webgpu: 'linux-x64', zeromq: 'linux/x64' },
  'linux-arm64': { webgpu: 'linux-arm64', zeromq: 'linux/arm64' },
  'darwin-x64': { webgpu: 'darwin-universal', zeromq: 'darwin/x64' },
  'darwin-arm64': { webgpu: 'darwin-universal', zeromq: 'darwin/arm64' },
  'win32-x64': { webgpu: 'win32-x64', zeromq: 'win32/x64' },
  'win32-arm64': { webgpu: 'win32-arm64', zeromq: 'win32/arm64' },
};
const target = option('--target') ?? `${process.platform}-${process.arch}`;
if (!(target in TARGETS)) fail(`--target ${target} is not one of ${Object.keys(TARGETS).join(', ')}`);

const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const out = path.resolve(option('--out') ?? path.join(root, `${manifest.name}-${manifest.version}-${target}.vsix`));
const stage = path.join(root, '.cache', 'vsix', target);

function run(cmd, cmdArgs, cwd = root) {
  const r = spawnSync(cmd, cmdArgs, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) fail(`${cmd} ${cmdArgs.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) fail(`${cmd} ${cmdArgs.join(' ')} exited with ${r.status}\n${r.stdout}`);
  return r.stdout;
}

const t0 = Date.now();
if (!args.includes('--no-build')) run(process.execPath, ['esbuild.mjs', '--production']);
for (const entry of [EXTENSION_MAIN, 'dist/kernel.js', 'dist/kernelWorker.js', 'dist/analysis.js', 'dist/gramWorker.js', 'dist/checkerWorker.js', 'dist/imageWorker.js', 'dist/vegaModules.js', 'dist/figures/resvg.wasm', 'dist/figures/DejaVuSans.ttf']) {
  if (!existsSync(path.join(root, entry))) fail(`${entry} is missing after the build`);
}

// 1. A clean staging folder.
rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });

// 2. The manifest as VS Code reads it: `main` the extension's entry (package.json's is the analysis
// API, for npm), minus what only npm and development use.
writeFileSync(path.join(stage, 'package.json'), JSON.stringify(extensionManifest(manifest), null, 2) + '\n');

// 3. The extension's own files.
for (const name of ['dist', 'sample-notebooks', 'README.md', 'CHANGELOG.md', 'LICENSE', 'LICENSE.md', 'images']) {
  const from = path.join(root, name);
  if (existsSync(from)) cpSync(from, path.join(stage, name), { recursive: true });
}
const otherTargets = Object.entries(TARGETS).filter(([t]) => t !== target);
const platformRules = [
  '',
  `# Added by scripts/package.mjs for --target ${target}: other platforms' native binaries.`,
  ...new Set(otherTargets.map(([, f]) => f.webgpu).filter((w) => w !== TARGETS[target].webgpu).map((w) => `node_modules/webgpu/dist/${w}/**`)),
  ...new Set(otherTargets.map(([, f]) => f.zeromq).map((z) => `node_modules/zeromq/build/${z}/**`)),
  // 32-bit Windows builds of zeromq exist too.
  'node_modules/zeromq/build/win32/ia32/**',
];
writeFileSync(path.join(stage, '.vscodeignore'), readFileSync(path.join(root, '.vscodeignore'), 'utf8') + platformRules.join('\n') + '\n');

// 4. The production dependency tree, as npm resolved it.
const depDirs = run('npm', ['ls', '--omit=dev', '--all', '--parseable'])
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && l !== root && l.startsWith(path.join(root, 'node_modules') + path.sep));
if (depDirs.length === 0) fail('npm ls found no production dependencies; run `npm ci` first');
let linked = 0;
function linkTree(from, to) {
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (entry.isDirectory()) {
      // Nested node_modules are dependencies of their own, listed separately by npm ls.
      if (entry.name === 'node_modules') continue;
      linkTree(src, dst);
    } else if (entry.isFile()) {
      try {
        linkSync(src, dst);
      } catch {
        cpSync(src, dst);
      }
      linked++;
    } else if (entry.isSymbolicLink() && statSync(src).isFile()) {
      cpSync(src, dst, { dereference: true });
    }
  }
}
for (const dir of depDirs) linkTree(dir, path.join(stage, path.relative(root, dir)));

// 5. vsce, in the staging folder (it asks npm for the dependency list itself).
const vsce = path.join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
const common = ['--allow-missing-repository', '--no-rewrite-relative-links', ...(existsSync(path.join(stage, 'LICENSE')) || existsSync(path.join(stage, 'LICENSE.md')) ? [] : ['--skip-license'])];
if (args.includes('--ls')) {
  process.stdout.write(run(process.execPath, [vsce, 'ls'], stage));
} else {
  rmSync(out, { force: true });
  const log = run(process.execPath, [vsce, 'package', '--target', target, '--out', out, ...common], stage);
  process.stdout.write(log);
  if (!existsSync(out)) fail(`vsce wrote no ${out}`);
  const mb = (statSync(out).size / 2 ** 20).toFixed(1);
  console.log(`package: ${path.relative(process.cwd(), out) || out} (${mb} MiB, ${target}; ${depDirs.length} packages, ${linked} files staged) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
