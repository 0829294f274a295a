/**
 * Loads the TypeScript compiler (9 MB of JavaScript) with a V8 code cache, so a kernel starts
 * without compiling it again: the first cell's type check is what a user waits for. The cache
 * lives in the user's cache folder, keyed by TypeScript's and Node's versions; a rejected or
 * unreadable cache only costs the time it would have saved. Import this module before anything
 * that imports `typescript`: it puts the module into require's cache.
 */
import vm from 'node:vm';
import Module, { createRequire } from 'node:module';
import { mkdirSync, readFileSync, writeFile, existsSync, rename } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

let script: vm.Script | undefined;
let cacheFile: string | undefined;
let produced = false;

function cacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || (process.platform === 'win32' ? process.env.LOCALAPPDATA || os.tmpdir() : path.join(os.homedir(), '.cache'));
  return path.join(base, 'transferlab', 'v8');
}

function preload(): void {
  if (process.env.TRANSFERLAB_NO_CODE_CACHE) return;
  const req = createRequire(__filename);
  let file: string;
  try {
    file = req.resolve('typescript');
  } catch {
    return; // the normal require reports it
  }
  if (req.cache[file]) return;
  const version = (JSON.parse(readFileSync(path.join(path.dirname(file), '..', 'package.json'), 'utf8')) as { version: string }).version;
  cacheFile = path.join(cacheDir(), `typescript-${version}-node-${process.version}-${process.arch}.bin`);
  let cachedData: Buffer | undefined;
  try {
    if (existsSync(cacheFile)) cachedData = readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const source = readFileSync(file, 'utf8');
  script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
  if (cachedData && !script.cachedDataRejected) produced = true;
  const mod = new Module(file, module);
  mod.filename = file;
  mod.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(path.dirname(file));
  const wrapper = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: Module, filename: string, dirname: string) => void;
  wrapper.call(mod.exports, mod.exports, createRequire(file), mod, file, path.dirname(file));
  mod.loaded = true;
  req.cache[file] = mod;
}

/**
 * Writes the code cache once the compiler has done real work (functions compiled lazily while
 * checking are included then). Asynchronous; errors are ignored.
 */
export function saveTypeScriptCodeCache(): void {
  if (!script || !cacheFile || produced) return;
  produced = true;
  try {
    const data = script.createCachedData();
    mkdirSync(path.dirname(cacheFile), { recursive: true });
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    writeFile(tmp, data, (e) => {
      if (!e) rename(tmp, cacheFile!, () => undefined);
    });
  } catch {
    // a cache we cannot write costs only start-up time
  }
}

try {
  preload();
} catch {
  script = undefined; // fall back to the plain require
}
