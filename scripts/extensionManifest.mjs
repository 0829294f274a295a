// The manifest VS Code loads, made from package.json. package.json serves npm: its `main` is the
// analysis API (`require('transferlab')`, also for a checkout), while VS Code needs the extension's
// entry in `main`. scripts/package.mjs writes this manifest into the folder it packs as the .vsix;
// the end-to-end harness (test/e2e/harness.ts) runs the extension under development from a folder
// holding it.

/** The extension's entry, as built by esbuild.mjs. */
export const EXTENSION_MAIN = 'dist/extension.js';

/** Keys only npm and development use. */
export const NPM_ONLY_KEYS = ['files', 'devDependencies', 'scripts', 'bin', 'exports', 'types', 'allowScripts'];

/** package.json's object as VS Code should read it: `main` the extension's entry, npm-only keys dropped. */
export function extensionManifest(manifest) {
  const staged = { ...manifest, main: EXTENSION_MAIN };
  for (const key of NPM_ONLY_KEYS) delete staged[key];
  return staged;
}
