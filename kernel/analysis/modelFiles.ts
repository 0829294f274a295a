/**
 * TensorFlow.js model files (`model.json` + weight shards) from a folder or an http(s) URL, under
 * Node without tfjs-node (which is where `tf.io.fileSystem` lives): {@link modelFiles} is a small
 * IOHandler that reads model.json, reads every shard its `weightsManifest` names and concatenates
 * them; `tl.loadModel` (./checkpointFiles.ts) uses it for folders that are not TransferLab
 * checkpoints and wraps what it loads (./layersModel.ts, ./graphModel.ts).
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import * as tfjs from '@tensorflow/tfjs';
import { CheckpointError } from './errors';
import { fail, formatValue } from './validate';

/** Whether `source` is an http(s) URL. */
export function isUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

/** Where model.json is and how to read the files next to it. */
interface Location {
  /** model.json's path or URL, for messages. */
  readonly file: string;
  read(relative: string): Promise<Uint8Array>;
}

async function locate(fn: string, source: string): Promise<Location> {
  if (isUrl(source)) {
    const file = /\.json(\?.*)?$/i.test(source) ? source : `${source.replace(/\/+$/, '')}/model.json`;
    return {
      file,
      async read(relative) {
        const url = relative === '' ? file : new URL(relative, file).toString();
        let res: Response;
        try {
          res = await fetch(url);
        } catch (e) {
          throw new CheckpointError(fn, url, `cannot be fetched: ${(e as Error).message}`, { cause: e });
        }
        if (!res.ok) throw new CheckpointError(fn, url, `cannot be fetched: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
        return new Uint8Array(await res.arrayBuffer());
      },
    };
  }
  let file = source;
  try {
    if ((await stat(source)).isDirectory()) file = path.join(source, 'model.json');
  } catch (e) {
    throw new CheckpointError(fn, source, 'does not exist', { cause: e });
  }
  const dir = path.dirname(file);
  return {
    file,
    async read(relative) {
      const p = relative === '' ? file : path.join(dir, relative);
      try {
        return await readFile(p);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new CheckpointError(fn, p, code === 'ENOENT' ? (relative === '' ? 'is missing (no model.json here)' : `is missing (a weight shard that ${path.basename(file)} names)`) : `is unreadable: ${(e as Error).message}`, { cause: e });
      }
    },
  };
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, float16: 2, uint8: 1, int16: 2, uint16: 2, int8: 1 };

/** Reads model.json and its shards into tfjs model artifacts; errors name the file at fault. */
export async function readModelArtifacts(source: string, fn = 'tl.loadModel'): Promise<tfjs.io.ModelArtifacts> {
  if (typeof source !== 'string' || source === '') fail(fn, 'source', `must be a folder, a model.json path or an http(s) URL, got ${formatValue(source)}`);
  const loc = await locate(fn, source);
  const text = new TextDecoder().decode(await loc.read(''));
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new CheckpointError(fn, loc.file, `is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new CheckpointError(fn, loc.file, 'is not a TensorFlow.js model.json (not a JSON object)');
  const topology = json['modelTopology'];
  if (topology === null || typeof topology !== 'object') throw new CheckpointError(fn, loc.file, 'is not a TensorFlow.js model.json: it has no modelTopology');
  const manifest = json['weightsManifest'];
  if (!Array.isArray(manifest)) throw new CheckpointError(fn, loc.file, 'is not a TensorFlow.js model.json: it has no weightsManifest (a list of {paths, weights})');
  const specs: tfjs.io.WeightsManifestEntry[] = [];
  const parts: Uint8Array[] = [];
  let expected = 0;
  let exact = true;
  for (const [g, group] of manifest.entries()) {
    const gr = group as { paths?: unknown; weights?: unknown };
    if (!Array.isArray(gr.paths) || !Array.isArray(gr.weights) || gr.paths.some((p) => typeof p !== 'string')) {
      throw new CheckpointError(fn, loc.file, `weightsManifest[${g}] must have paths (file names) and weights (name, shape, dtype)`);
    }
    for (const w of gr.weights as tfjs.io.WeightsManifestEntry[]) {
      if (typeof w?.name !== 'string' || !Array.isArray(w.shape) || typeof w.dtype !== 'string') throw new CheckpointError(fn, loc.file, `weightsManifest[${g}] has a malformed weight entry ${JSON.stringify(w)}`);
      specs.push(w);
      const per = BYTES[w.dtype];
      if (w.quantization !== undefined || per === undefined) exact = false;
      else expected += per * w.shape.reduce((a, b) => a * b, 1);
    }
    for (const p of gr.paths as string[]) parts.push(await loc.read(p));
  }
  const total = parts.reduce((s, p) => s + p.length, 0);
  if (exact && total < expected) throw new CheckpointError(fn, loc.file, `names weights of ${expected} bytes but its shards hold ${total}: a shard is truncated`);
  const data = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    data.set(p, offset);
    offset += p.length;
  }
  const format = typeof json['format'] === 'string' ? json['format'] : isGraphTopology(topology) ? 'graph-model' : 'layers-model';
  return {
    modelTopology: topology as object,
    weightSpecs: specs,
    weightData: data.buffer,
    format,
    ...(typeof json['generatedBy'] === 'string' ? { generatedBy: json['generatedBy'] } : {}),
    ...(typeof json['convertedBy'] === 'string' ? { convertedBy: json['convertedBy'] } : {}),
    ...(json['userDefinedMetadata'] ? { userDefinedMetadata: json['userDefinedMetadata'] as Record<string, object> } : {}),
    ...(json['signature'] ? { signature: json['signature'] as object } : {}),
    ...(json['modelInitializer'] ? { modelInitializer: json['modelInitializer'] as object } : {}),
  };
}

/** A GraphDef (`node: [...]`) rather than a Keras topology (`class_name`, `config`). */
export function isGraphTopology(topology: unknown): boolean {
  return topology !== null && typeof topology === 'object' && Array.isArray((topology as { node?: unknown }).node);
}

/** Whether artifacts hold a graph model (TensorFlow SavedModel converted by tfjs-converter). */
export function isGraphModelArtifacts(a: tfjs.io.ModelArtifacts): boolean {
  return a.format === 'graph-model' || isGraphTopology(a.modelTopology);
}

/**
 * An IOHandler that loads TensorFlow.js model files (model.json + its weight shards) from a
 * folder, a model.json path or an http(s) URL, for `tf.loadLayersModel` / `tf.loadGraphModel`
 * under Node (where tfjs has no file system handler without tfjs-node).
 *
 * @example
 * ```ts
 * const lm = await tf.loadLayersModel(tl.modelFiles('models/keras-export'));
 * ```
 */
export function modelFiles(source: string): tfjs.io.IOHandler {
  if (typeof source !== 'string' || source === '') fail('tl.modelFiles', 'source', `must be a folder, a model.json path or an http(s) URL, got ${formatValue(source)}`);
  return { load: () => readModelArtifacts(source, 'tl.modelFiles') };
}
