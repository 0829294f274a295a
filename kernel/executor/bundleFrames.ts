/**
 * Stack frames inside TransferLab's own bundles (`dist/analysis.js`, `dist/gramWorker.js`, …),
 * shown at the TypeScript file and line they came from, through the source map esbuild writes
 * beside each bundle: `at linear (kernel/analysis/cka/linear.ts:42:11)` instead of a position in
 * a minified file. A map is read the first time a traceback needs it (errors are rare; Node's
 * `--enable-source-maps` would parse every map of every package at load time instead).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SourceMap } from 'node:module';

/** A V8 stack frame: `at fn (file:line:column)` or `at file:line:column`. */
const FRAME = /^(\s*at (?:.*? \()?)(.*?\.js):(\d+):(\d+)(\)?)$/;
/** A file of TransferLab's bundles. */
const BUNDLE = /[/\\]dist[/\\][\w-]+\.js$/;

export class BundleFrames {
  /** Bundle file → its map (null: none or unreadable). */
  private readonly maps = new Map<string, { map: SourceMap; root: string } | null>();

  /**
   * The frame with its bundle position replaced by the source file (relative to the package
   * root) and line; the frame unchanged when it is not in a bundle or the bundle has no map.
   */
  map(frame: string): string {
    const m = FRAME.exec(frame);
    if (!m || !BUNDLE.test(m[2]!)) return frame;
    const [, head, file, line, column, tail] = m as unknown as [string, string, string, string, string, string];
    const entry = this.load(file);
    if (!entry) return frame;
    const found = entry.map.findEntry(Number(line) - 1, Number(column) - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number };
    if (found.originalSource === undefined || found.originalLine === undefined) return frame;
    const source = sourcePath(found.originalSource, path.dirname(file), entry.root);
    return `${head}${source}:${found.originalLine + 1}:${(found.originalColumn ?? 0) + 1}${tail}`;
  }

  private load(file: string): { map: SourceMap; root: string } | null {
    let entry = this.maps.get(file);
    if (entry !== undefined) return entry;
    try {
      const payload = JSON.parse(readFileSync(`${file}.map`, 'utf8')) as ConstructorParameters<typeof SourceMap>[0];
      entry = { map: new SourceMap(payload), root: path.dirname(path.dirname(file)) };
    } catch {
      entry = null;
    }
    this.maps.set(file, entry);
    return entry;
  }
}

/** A map's source (`../kernel/analysis/cka/linear.ts`, or a URL) as a path from the package root. */
function sourcePath(source: string, bundleDir: string, root: string): string {
  const plain = source.replace(/^file:\/\//, '');
  const absolute = path.resolve(bundleDir, plain);
  const relative = path.relative(root, absolute);
  return relative.startsWith('..') ? plain : relative.split(path.sep).join('/');
}
