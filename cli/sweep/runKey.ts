/**
 * What identifies a run of a sweep, so that a rerun finds the runs it already has: the sha256 of
 * the notebook's code (what runs: each code cell's source and tags, in order; not outputs,
 * execution counts or markdown) with the run's parameters and backend as canonical JSON.
 * Editing a code cell or changing a parameter makes a new run; fixing a typo in a markdown cell
 * does not.
 */
import { createHash } from 'node:crypto';
import type { JsonValue, TsnbNotebook } from '../../kernel/protocol/tsnb';
import { INJECTED_PARAMETERS_TAG, hasTag } from '../run/parameters';
import { canonicalJson } from './grid';

function tags(metadata: Record<string, JsonValue>): string[] {
  const t = metadata['tags'];
  return Array.isArray(t) ? t.filter((x): x is string => typeof x === 'string') : [];
}

/**
 * The sha256 (hex) of what a run of the notebook executes: code cells' sources and tags, in order
 * (a cell injected by an earlier run left out).
 * @example
 * notebookFingerprint(parseTsnb(text)); // '5c0f…' (64 hex digits)
 */
export function notebookFingerprint(nb: TsnbNotebook): string {
  const code = nb.cells.filter((c) => c.cell_type === 'code' && !hasTag(c, INJECTED_PARAMETERS_TAG)).map((c) => ({ source: c.source, tags: tags(c.metadata) }));
  return createHash('sha256').update(JSON.stringify(code)).digest('hex');
}

/**
 * The key of one run: sha256 (hex) of the notebook's fingerprint, the parameters (canonical JSON,
 * names sorted) and the backend asked for (`auto` when none).
 * @example
 * runKey(notebookFingerprint(nb), new Map([['seed', 1]]), 'wasm'); // 'a41e…'
 */
export function runKey(fingerprint: string, parameters: ReadonlyMap<string, JsonValue>, backend: string | undefined): string {
  const params: { [name: string]: JsonValue } = {};
  for (const [k, v] of parameters) params[k] = v;
  return createHash('sha256')
    .update(canonicalJson({ notebook: fingerprint, parameters: params, backend: backend ?? 'auto' }))
    .digest('hex');
}

/** Characters of a run's file name other than these become `_`. */
const UNSAFE = /[^A-Za-z0-9._=,+-]+/g;

/**
 * The file name of a run's executed notebook: the key's first 12 hex digits, then the grid
 * point readable (`3f9c0a1b2c3d-seed=1,blockSize=4.tsnb`), shortened to stay a portable name.
 * The key prefix alone makes it unique within a sweep.
 */
export function runFileName(key: string, point: ReadonlyMap<string, JsonValue>): string {
  const readable = [...point]
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : canonicalJson(v)}`)
    .join(',')
    .replace(UNSAFE, '_')
    .slice(0, 80);
  return `${key.slice(0, 12)}${readable === '' ? '' : `-${readable}`}.tsnb`;
}
