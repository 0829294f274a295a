/**
 * Lists that two places must agree on, checked so that none is kept in step by hand: package.json's
 * contributions against the code and folders that implement them, the sample notebooks against
 * their documentation, and the files docs/architecture.md names against the tree. (The backend
 * names are checked against the registry in test/protocol/backends.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Mime, TRANSFERLAB_MIME_TYPES } from '../../kernel/protocol/mime';
import { repoRoot } from '../helpers/tools';

interface Manifest {
  contributes: {
    notebookRenderer: { id: string; entrypoint: string; mimeTypes: string[] }[];
    commands: { command: string }[];
    configuration: { properties: Record<string, unknown> };
  };
}
const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as Manifest;
const read = (rel: string) => readFileSync(path.join(repoRoot, rel), 'utf8');
const sources = (dir: string) =>
  readdirSync(path.join(repoRoot, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => read(path.join(dir, f)))
    .join('\n');

/** The renderer folders that are VS Code renderers; `report` is the HTML report's bundle (cli/). */
const NOT_VSCODE_RENDERERS = ['common', 'report'];

test('every renderer folder is contributed once, and every chart MIME type has a renderer', () => {
  const folders = readdirSync(path.join(repoRoot, 'renderers'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(path.join(repoRoot, 'renderers', d.name, 'index.ts')))
    .map((d) => d.name)
    .filter((n) => !NOT_VSCODE_RENDERERS.includes(n))
    .sort();
  const contributed = pkg.contributes.notebookRenderer.map((r) => {
    const m = /^\.\/dist\/renderers\/(\w+)\.js$/.exec(r.entrypoint);
    assert.ok(m, `${r.id}: entrypoint ${r.entrypoint} is not a built renderer (./dist/renderers/<folder>.js)`);
    return m[1]!;
  });
  assert.deepEqual([...contributed].sort(), folders, 'package.json contributes.notebookRenderer ↔ renderers/*/index.ts');
  const mimes = pkg.contributes.notebookRenderer.flatMap((r) => r.mimeTypes);
  assert.equal(new Set(mimes).size, mimes.length, 'a MIME type claimed by two renderers');
  const known = new Set<string>(Object.values(Mime));
  for (const m of mimes) assert.ok(known.has(m), `package.json names ${m}, which kernel/protocol/mime.ts does not declare`);
  for (const m of [...TRANSFERLAB_MIME_TYPES, Mime.vegaLite]) assert.ok(mimes.includes(m), `no renderer in package.json draws ${m}`);
  // The HTML report draws what VS Code draws: its bundle lists a renderer for every MIME type.
  const report = read('renderers/report/index.ts');
  for (const m of mimes) {
    const key = Object.entries(Mime).find(([, v]) => v === m)![0];
    assert.match(report, new RegExp(`mime: Mime\\.${key}\\b`), `renderers/report/index.ts draws no ${m}`);
  }
  // The HTML report's bundle is built and found where the CLI looks for it.
  assert.match(read('cli/notebookConvert.ts'), /'renderers', 'report\.js'/);
});

test('every contributed command and setting is implemented by the extension', () => {
  const extension = sources('extension');
  for (const { command } of pkg.contributes.commands) {
    assert.ok(extension.includes(`'${command}'`), `package.json contributes ${command}, which no file in extension/ names`);
  }
  const settings = read('extension/settings.ts');
  for (const key of Object.keys(pkg.contributes.configuration.properties)) {
    const name = key.replace(/^transferlab\./, '');
    assert.ok(new RegExp(`['\`.]${name}['\`]`).test(settings), `setting ${key} is not read in extension/settings.ts`);
  }
});

test('the sample notebooks and docs/samples.md list the same notebooks', () => {
  const notebooks = readdirSync(path.join(repoRoot, 'sample-notebooks')).filter((f) => f.endsWith('.tsnb')).sort();
  const documented = [...read('docs/samples.md').matchAll(/^\| `([\w-]+\.tsnb)` \|/gm)].map((m) => m[1]!).sort();
  assert.deepEqual(documented, notebooks);
});

test('every file and folder docs/architecture.md names exists', () => {
  const doc = read('docs/architecture.md');
  const named = new Set([...doc.matchAll(/`((?:kernel|extension|client|cli|renderers|scripts|test|docs|bench|sample-notebooks)\/[\w./*-]*)`/g)].map((m) => m[1]!));
  assert.ok(named.size >= 30, `docs/architecture.md names only ${named.size} paths`);
  for (const p of named) {
    const plain = p.replace(/\/\*.*$/, '').replace(/\/$/, '');
    assert.ok(existsSync(path.join(repoRoot, plain)), `docs/architecture.md names ${p}, which does not exist`);
  }
});

test("package.json's main is the analysis API; the .vsix's manifest names the extension's entry", async () => {
  const manifest = JSON.parse(read('package.json')) as { main: string; exports: { '.': { default: string } } };
  assert.equal(`./${manifest.main}`, manifest.exports['.'].default, 'main and exports["."] name the same bundle');
  // A checkout (or an install) loads the analysis API with a plain require, outside VS Code.
  const r = spawnSync(process.execPath, ['-e', `const tl = require(${JSON.stringify(repoRoot)}); console.log(JSON.stringify({ linear: typeof tl.cka.linear, initBackend: typeof tl.initBackend }))`], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `require(<repository>) failed:\n${r.stderr}`);
  assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').pop()!), { linear: 'function', initBackend: 'function' });
  // VS Code reads the extension's entry from the manifest scripts/package.mjs stages (and the e2e harness).
  const { EXTENSION_MAIN, extensionManifest } = await import('../../scripts/extensionManifest.mjs');
  const staged = extensionManifest(manifest);
  assert.equal(staged.main, 'dist/extension.js');
  assert.equal(EXTENSION_MAIN, 'dist/extension.js');
  assert.ok(!('exports' in staged) && !('files' in staged), 'npm-only keys stay out of the .vsix manifest');
  assert.match(read('esbuild.mjs'), /nodeTarget\('extension\/extension\.ts', 'dist\/extension\.js'\)/, 'esbuild.mjs builds the entry the manifest names');
  assert.match(read('scripts/package.mjs'), /writeFileSync\(path\.join\(stage, 'package\.json'\), JSON\.stringify\(extensionManifest\(manifest\)/, 'package.mjs stages extensionManifest(package.json)');
  assert.match(read('test/e2e/exthost.e2e.ts'), /extensionDevelopmentPath', remote\(await developmentExtension\(\)\)/, 'the extension under development is loaded with the extension manifest');
});
