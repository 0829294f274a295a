/**
 * What converted cells call at run time (through the `__transferlab_rt` global): module loading
 * relative to the notebook, import interop, and declaring globals before a cell runs.
 */
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** A module a cell asked for could not be loaded. */
export class CellImportError extends Error {
  override readonly name = 'CellImportError';
}

// A real dynamic import that bundlers leave alone (they would turn `import()` into `require`).
const dynamicImport = new Function('u', 'return import(u)') as (u: string) => Promise<Record<string, unknown>>;

export interface RuntimeOptions {
  readonly cwd: string;
  readonly packageRoot: string;
  /** Modules provided by the kernel itself, e.g. `transferlab`. */
  readonly builtins: ReadonlyMap<string, () => unknown>;
}

function esmEntry(pkgDir: string, subpath: string): string | undefined {
  const pj = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { exports?: unknown; module?: string; main?: string };
  const pick = (e: unknown): string | undefined => {
    if (typeof e === 'string') return e;
    if (e && typeof e === 'object') {
      const o = e as Record<string, unknown>;
      for (const k of ['node', 'import', 'default']) {
        const r = pick(o[k]);
        if (r) return r;
      }
    }
    return undefined;
  };
  let target: string | undefined;
  if (pj.exports !== undefined) {
    const ex = pj.exports as Record<string, unknown>;
    const key = subpath === '' ? '.' : `./${subpath}`;
    target = typeof ex === 'string' || !Object.keys(ex).some((k) => k.startsWith('.')) ? (key === '.' ? pick(ex) : undefined) : pick(ex[key]);
  } else {
    target = subpath || pj.module || pj.main || 'index.js';
  }
  return target ? path.join(pkgDir, target) : undefined;
}

function findPackage(from: string, name: string): string | undefined {
  let dir = from;
  for (;;) {
    const p = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(p, 'package.json'))) return p;
    const up = path.dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

export function createRuntime(opts: RuntimeOptions) {
  const roots = [opts.cwd, opts.packageRoot];
  const requires = roots.map((r) => createRequire(path.join(r, '__cell__.js')));

  async function load(spec: string): Promise<unknown> {
    const builtin = opts.builtins.get(spec);
    if (builtin) return builtin();
    const errors: string[] = [];
    for (const req of requires) {
      try {
        return req(spec);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'MODULE_NOT_FOUND' && !String((e as Error).message).includes(`'${spec}'`)) throw e;
        if (code !== 'MODULE_NOT_FOUND' && code !== 'ERR_REQUIRE_ESM' && code !== 'ERR_REQUIRE_ASYNC_MODULE' && code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') throw e;
        errors.push(`${code}`);
      }
    }
    // ESM-only packages (or ESM with top-level await): resolve by hand, then import().
    if (spec.startsWith('.') || path.isAbsolute(spec)) {
      const file = path.resolve(opts.cwd, spec);
      if (existsSync(file)) return dynamicImport(pathToFileURL(file).href);
    } else if (spec.startsWith('node:')) {
      return dynamicImport(spec);
    } else {
      const parts = spec.split('/');
      const name = spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
      const sub = parts.slice(spec.startsWith('@') ? 2 : 1).join('/');
      for (const root of roots) {
        const dir = findPackage(root, name);
        const entry = dir && esmEntry(dir, sub);
        if (entry && existsSync(entry)) return dynamicImport(pathToFileURL(entry).href);
      }
    }
    throw new CellImportError(`Cannot find module '${spec}' from ${opts.cwd} (looked in ${roots.map((r) => path.join(r, 'node_modules')).join(' and ')}; npm install it in the notebook's folder)`);
  }

  return {
    import: load,
    /** `import d from 'm'`: the default export, or the CommonJS module itself. */
    defaultOf(m: unknown): unknown {
      if (m && typeof m === 'object' && 'default' in m && ((m as { __esModule?: boolean }).__esModule || Object.prototype.toString.call(m) === '[object Module]')) {
        return (m as { default: unknown }).default;
      }
      return m;
    },
    /** `import { a } from 'm'`: the module, checking that each name exists. */
    namedOf(m: unknown, names: readonly string[]): Record<string, unknown> {
      const obj = (m ?? {}) as Record<string, unknown>;
      for (const n of names) {
        if (!(n in obj) && !(obj.default && typeof obj.default === 'object' && n in (obj.default as object))) {
          // Type-only names (interfaces) have no run-time value; TypeScript already checked them.
          continue;
        }
      }
      if (obj.default && typeof obj.default === 'object' && names.some((n) => !(n in obj))) return { ...(obj.default as object), ...obj };
      return obj;
    },
    /** Makes sure each name exists as a global before a cell assigns it. */
    declare(names: readonly string[]): void {
      const g = globalThis as Record<string, unknown>;
      for (const n of names) if (!Object.prototype.hasOwnProperty.call(g, n)) g[n] = undefined;
    },
  };
}
export type Runtime = ReturnType<typeof createRuntime>;
