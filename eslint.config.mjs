// ESLint (flat config): typescript-eslint's recommended rules, and the import directions of
// STYLE.md enforced with import/no-restricted-paths, as vscode-jupyter does:
//   extension → client → kernel/protocol      renderers → kernel/protocol (types)
//   kernel/jupyter → kernel/executor → (preload) kernel/analysis
//   kernel/protocol imports nothing of the project; kernel/analysis knows nothing of Jupyter or VS Code.
// `npm run lint`.
import tseslint from 'typescript-eslint';
import importPlugin from 'eslint-plugin-import';

/** A zone: files under `target` may not import from `from` (except the `except` sub-paths of `from`). */
const zone = (target, from, message, except) => ({ target, from, message, ...(except ? { except } : {}) });

const notKernelInternals = (target, who) =>
  zone(target, './kernel', `${who} may import only kernel/protocol of the kernel (STYLE.md)`, ['./protocol']);

const zones = [
  // The VS Code side and the client talk to the kernel through messages only.
  notKernelInternals('./extension', 'the extension'),
  notKernelInternals('./client', 'the kernel client'),
  zone('./client', './extension', 'the kernel client is used by the extension, the CLI and tests: it must not depend on VS Code code'),
  zone('./client', './cli', 'the kernel client must not depend on the command line'),
  // Renderers run in the notebook webview: protocol types only.
  notKernelInternals('./renderers', 'a renderer'),
  zone('./renderers', './extension', 'renderers run in the webview, apart from the extension host'),
  zone('./renderers', './client', 'renderers run in the webview and cannot talk to the kernel'),
  // The protocol is the one place extension and kernel share: it imports nothing of the project.
  ...['./kernel/analysis', './kernel/executor', './kernel/jupyter', './kernel/main.ts', './extension', './client', './renderers', './cli'].map((from) =>
    zone('./kernel/protocol', from, 'kernel/protocol is types and pure functions and imports nothing else of the project'),
  ),
  // Analysis is usable from a plain Node script.
  ...['./kernel/jupyter', './kernel/executor', './kernel/main.ts', './extension', './client', './renderers', './cli'].map((from) =>
    zone('./kernel/analysis', from, 'kernel/analysis knows nothing of Jupyter, the executor or VS Code'),
  ),
  // One-way: the handler drives the executor, never the reverse.
  ...['./kernel/jupyter', './kernel/main.ts', './extension', './client', './renderers', './cli'].map((from) =>
    zone('./kernel/executor', from, 'kernel/executor must not import the Jupyter transport or the VS Code side'),
  ),
  ...['./extension', './client', './renderers', './cli'].map((from) => zone('./kernel/jupyter', from, 'the kernel must not import its clients')),
];

/** The `vscode` module exists only in the extension host. */
const noVscode = {
  'no-restricted-imports': [
    'error',
    { paths: [{ name: 'vscode', message: 'Only extension/ (and its tests) may import vscode: the kernel, client, CLI and renderers run outside VS Code.' }] },
  ],
};

export default tseslint.config(
  {
    ignores: ['dist/**', 'node_modules/**', '.cache/**', 'test-results/**', 'bench/out/**', '**/*.vsix', '.gl/**', '.whl/**'],
  },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.mts', '**/*.cts', '**/*.js', '**/*.mjs', '**/*.cjs'],
    plugins: { import: importPlugin },
    settings: {
      'import/resolver': { node: { extensions: ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs', '.json'] } },
    },
    rules: {
      'import/no-restricted-paths': ['error', { basePath: import.meta.dirname, zones }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Guarded require() is how optional peers (tfjs-node) and lazily loaded heavy modules are
      // reached (RECIPES.md): a warning, to be acknowledged with a disable comment where meant.
      '@typescript-eslint/no-require-imports': 'warn',
    },
  },
  {
    // Tests build malformed values on purpose.
    files: ['test/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['kernel/**', 'client/**', 'cli/**', 'renderers/**'],
    rules: noVscode,
  },
  {
    // Plain Node scripts and the CommonJS launcher.
    files: ['**/*.mjs', '**/*.cjs', 'bin/**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', require: 'readonly', __dirname: 'readonly', module: 'readonly', URL: 'readonly', fetch: 'readonly', setTimeout: 'readonly' } },
  },
  {
    // The launcher is CommonJS (it runs before anything is bundled): require() is its import.
    files: ['bin/**/*.js'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
