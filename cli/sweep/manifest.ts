/**
 * DIR/sweep.json: what a sweep has finished, by run key, so that a rerun skips it and the summary
 * can be written again at any time. Written atomically after every run; runs of other grids (an
 * earlier, larger sweep into the same folder) are kept.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../atomicWrite';
import { InputError } from '../errors';
import type { JsonValue } from '../../kernel/protocol/tsnb';
import type { FindingsCounts } from './results';

export const MANIFEST_FILE = 'sweep.json';
export const MANIFEST_FORMAT = 'transferlab-sweep';
export const MANIFEST_VERSION = 1;

/** A finished run (its notebook written). */
export interface SweepRunRecord {
  /** The grid point. */
  readonly point: { readonly [name: string]: JsonValue };
  /** Every parameter of the run (`--param` values and the grid point). */
  readonly parameters: { readonly [name: string]: JsonValue };
  readonly status: 'ok' | 'failed';
  /** Its executed notebook, relative to the sweep's folder (absent when no kernel ever ran it). */
  readonly file?: string;
  /** The values the notebook marked with `tl.result`, by name. */
  readonly results: { readonly [name: string]: JsonValue };
  /** The verdict counts of its findings table, if it shows one. */
  readonly findings?: FindingsCounts;
  /** `local`, or the Jupyter Server's URL (never a token). */
  readonly where?: string;
  /** Seconds of its last attempt, kernel start to last cell. */
  readonly seconds?: number;
  /** Attempts that started a kernel (more than 1: its kernel died and it was requeued). */
  readonly attempts: number;
  /** Why it failed. */
  readonly error?: string;
  /** When it finished (ISO 8601, UTC). */
  readonly finished: string;
}

export interface SweepManifest {
  readonly format: typeof MANIFEST_FORMAT;
  readonly version: typeof MANIFEST_VERSION;
  /** The notebook's file name. */
  notebook: string;
  readonly runs: { [key: string]: SweepRunRecord };
}

/** An empty manifest for `notebook`. */
export function emptyManifest(notebook: string): SweepManifest {
  return { format: MANIFEST_FORMAT, version: MANIFEST_VERSION, notebook, runs: {} };
}

/**
 * Reads DIR/sweep.json; an empty manifest when there is none.
 * @throws InputError when the file is there but is not a sweep manifest.
 */
export async function readManifest(dir: string, notebook: string): Promise<SweepManifest> {
  const file = path.join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return emptyManifest(notebook);
    throw new InputError(file, (e as Error).message, e);
  }
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch (e) {
    throw new InputError(file, `not JSON (${(e as Error).message}); remove it to start the sweep afresh`, e);
  }
  const o = m as Partial<SweepManifest> | null;
  if (typeof o !== 'object' || o === null || o.format !== MANIFEST_FORMAT || typeof o.runs !== 'object' || o.runs === null) {
    throw new InputError(file, `not a ${MANIFEST_FORMAT} manifest; remove it or choose another --out`, undefined);
  }
  if (o.version !== MANIFEST_VERSION) throw new InputError(file, `manifest version ${String(o.version)}; this transferlab reads version ${MANIFEST_VERSION}`, undefined);
  return { ...emptyManifest(notebook), runs: o.runs };
}

/** Writes DIR/sweep.json atomically (keys sorted, so that its bytes do not depend on run order). */
export async function writeManifest(dir: string, manifest: SweepManifest): Promise<void> {
  const runs: { [key: string]: SweepRunRecord } = {};
  for (const k of Object.keys(manifest.runs).sort()) runs[k] = manifest.runs[k]!;
  await writeFileAtomic(path.join(dir, MANIFEST_FILE), `${JSON.stringify({ ...manifest, runs }, null, 2)}\n`);
}

/** Whether a finished run's notebook is still there (a rerun redoes a run whose file was removed). */
export async function runFileExists(dir: string, record: SweepRunRecord): Promise<boolean> {
  if (record.file === undefined) return false;
  try {
    return (await fs.stat(path.join(dir, record.file))).isFile();
  } catch {
    return false;
  }
}
