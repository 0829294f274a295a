/**
 * Conversion between .tsnb and Jupyter's .ipynb (nbformat 4). Pure functions on text; imports
 * only the .tsnb format module. Cells have the same shape in both formats; what differs is the
 * top level (`nbformat`, `kernelspec`, `language_info` against `format_version` and `kernel`) and
 * that nbformat allows no fields beyond its schema.
 */
import {
  NotebookSchemaError,
  NotebookVersionError,
  TRANSFERLAB_KERNEL,
  TSNB_FORMAT_VERSION,
  childPath,
  describeValue,
  hasJsonKey,
  isPlainObject,
  parseJsonText,
  setJsonKey,
  stableStringify,
  tsnbCellFromJson,
  tsnbCellToJson,
  type JsonObject,
  type JsonValue,
  type TsnbMetadata,
  type TsnbNotebook,
} from './tsnb';

/** The nbformat version written by {@link tsnbToIpynb} (4.5: cells have ids). */
export const IPYNB_NBFORMAT = 4;
export const IPYNB_NBFORMAT_MINOR = 5;

/** What the conversion had to change or leave out, for the user to read. */
export interface ConversionResult<T> {
  readonly notebook: T;
  readonly warnings: readonly string[];
}

/**
 * Reads the text of an .ipynb (nbformat 4.x) as a .tsnb notebook on the TransferLab kernel.
 * Outputs are kept. A notebook on another kernel gets the TransferLab kernel, its `kernelspec` and
 * `language_info` staying in the metadata; one on the TransferLab kernel keeps its kernel entry
 * (`display_name`, `language`) as the file says, so that export and import give back the notebook.
 * @throws NotebookSyntaxError when the text is not JSON (line and column).
 * @throws NotebookVersionError for nbformat 3 or older, or newer than 4.
 * @throws NotebookSchemaError when a field is missing or of the wrong type (its path).
 * @example
 * const { notebook, warnings } = ipynbToTsnb(fs.readFileSync('a.ipynb', 'utf8'), 'a.ipynb');
 */
export function ipynbToTsnb(text: string, file?: string): ConversionResult<TsnbNotebook> {
  const root = parseJsonText(text, file);
  if (!isPlainObject(root)) throw new NotebookSchemaError(file, '', `must be an object, found ${describeValue(root)}`);
  if (!('nbformat' in root)) {
    const hint =
      isPlainObject(root['metadata']) && 'format_version' in root['metadata'] ? ' (it looks like a .tsnb notebook already)' : '';
    throw new NotebookSchemaError(file, 'nbformat', `is missing: not a Jupyter notebook${hint}`);
  }
  const major = root['nbformat'];
  if (typeof major !== 'number' || !Number.isInteger(major)) {
    throw new NotebookSchemaError(file, 'nbformat', `must be an integer, found ${describeValue(major)}`);
  }
  if (major < IPYNB_NBFORMAT) {
    throw new NotebookVersionError(
      file,
      major,
      IPYNB_NBFORMAT,
      `is nbformat ${major}; only nbformat 4 can be imported. Upgrade it first: jupyter nbconvert --to notebook --nbformat 4 <file>`,
    );
  }
  if (major > IPYNB_NBFORMAT) {
    throw new NotebookVersionError(file, major, IPYNB_NBFORMAT, `is nbformat ${major}, newer than the nbformat 4 this version reads`);
  }
  const metaRaw = root['metadata'] ?? {};
  if (!isPlainObject(metaRaw)) throw new NotebookSchemaError(file, 'metadata', `must be an object, found ${describeValue(metaRaw)}`);
  const cellsRaw = root['cells'];
  if (cellsRaw === undefined) throw new NotebookSchemaError(file, 'cells', 'is missing');
  if (!Array.isArray(cellsRaw)) throw new NotebookSchemaError(file, 'cells', `must be an array, found ${describeValue(cellsRaw)}`);
  const cells = cellsRaw.map((c, i) => tsnbCellFromJson(c, `cells[${i}]`, file));

  const warnings: string[] = [];
  const language = languageOf(metaRaw);
  if (language !== undefined && language !== 'typescript' && language !== 'javascript') {
    warnings.push(`the notebook's language is ${language}; its code cells are kept as they are but will run as TypeScript`);
  }
  const meta: JsonObject = { ...(metaRaw as JsonObject) };
  // A notebook on the TransferLab kernel keeps its kernel entry as the file says it (and the
  // kernelspec and language_info an export wrote are not kept twice); any other runs on TransferLab.
  const spec = meta['kernelspec'];
  let kernel: NonNullable<TsnbMetadata['kernel']> = { ...TRANSFERLAB_KERNEL };
  if (isPlainObject(spec) && spec['name'] === TRANSFERLAB_KERNEL.name) {
    kernel = { name: TRANSFERLAB_KERNEL.name };
    for (const key of ['display_name', 'language'] as const) {
      const v = spec[key];
      if (typeof v === 'string') kernel[key] = v;
    }
    if (Object.keys(spec).every((k) => hasJsonKey(kernel, k))) delete meta['kernelspec'];
    if (hasJsonKey(meta, 'language_info') && stableStringify(meta['language_info']) === stableStringify(LANGUAGE_INFO)) delete meta['language_info'];
  }
  const metadata: TsnbMetadata = { ...meta, kernel, format_version: TSNB_FORMAT_VERSION };
  const notebook: TsnbNotebook = { metadata, cells };
  const extra: JsonObject = {};
  for (const [k, v] of Object.entries(root)) {
    if (!['nbformat', 'nbformat_minor', 'metadata', 'cells'].includes(k)) setJsonKey(extra, k, v as JsonValue);
  }
  if (Object.keys(extra).length > 0) notebook.preserved = extra;
  return { notebook, warnings };
}

function languageOf(meta: Record<string, unknown>): string | undefined {
  const info = meta['language_info'];
  if (isPlainObject(info) && typeof info['name'] === 'string') return info['name'].toLowerCase();
  const spec = meta['kernelspec'];
  if (isPlainObject(spec) && typeof spec['language'] === 'string') return spec['language'].toLowerCase();
  return undefined;
}

/** The `language_info` an export writes. */
const LANGUAGE_INFO = { name: 'typescript', file_extension: '.ts', mimetype: 'text/typescript' } as const;

const CELL_ID = /^[a-zA-Z0-9-_]{1,64}$/;
const IPYNB_CELL_FIELDS: Record<string, readonly string[]> = {
  code: ['cell_type', 'id', 'metadata', 'source', 'execution_count', 'outputs'],
  markdown: ['cell_type', 'id', 'metadata', 'source', 'attachments'],
  raw: ['cell_type', 'id', 'metadata', 'source', 'attachments'],
};

/**
 * Writes a .tsnb notebook as .ipynb text (nbformat 4.5, kernelspec `transferlab`, language
 * TypeScript), formatted as Jupyter writes it (keys sorted, 1-space indent). Cells without a valid
 * nbformat id get one (`cell-<n>`); fields nbformat has no place for are left out and listed in
 * the warnings.
 * @example
 * fs.writeFileSync('a.ipynb', tsnbToIpynb(parseTsnb(text)).notebook);
 */
export function tsnbToIpynb(nb: TsnbNotebook, options: { outputs?: boolean } = {}): ConversionResult<string> {
  const warnings: string[] = [];
  const { kernel, format_version: _version, ...rest } = nb.metadata;
  const metadata: JsonObject = {
    ...rest,
    kernelspec: {
      ...(isPlainObject(rest['kernelspec']) && rest['kernelspec']['name'] === (kernel?.name ?? TRANSFERLAB_KERNEL.name) ? rest['kernelspec'] : {}),
      name: kernel?.name ?? TRANSFERLAB_KERNEL.name,
      display_name: kernel?.display_name ?? TRANSFERLAB_KERNEL.display_name,
      language: kernel?.language ?? TRANSFERLAB_KERNEL.language,
    },
    language_info: { ...LANGUAGE_INFO },
  };
  for (const key of Object.keys(nb.preserved ?? {})) warnings.push(`top-level field ${childPath('', key)} left out (nbformat has no place for it)`);

  const used = new Set(nb.cells.map((c) => c.id).filter((id): id is string => id !== undefined && CELL_ID.test(id)));
  const seen = new Set<string>();
  let counter = 0;
  const freshId = (): string => {
    let id: string;
    do id = `cell-${++counter}`;
    while (used.has(id) || seen.has(id));
    return id;
  };
  const cells = nb.cells.map((cell, i) => {
    const json = tsnbCellToJson(cell, options.outputs ?? true);
    const allowed = IPYNB_CELL_FIELDS[cell.cell_type]!;
    for (const key of Object.keys(json)) {
      if (!allowed.includes(key)) {
        warnings.push(`${childPath(`cells[${i}]`, key)} left out (nbformat has no place for it)`);
        delete json[key];
      }
    }
    if (cell.cell_type === 'code') {
      for (const [k, o] of cell.outputs.entries()) {
        for (const key of Object.keys(o.preserved ?? {})) {
          warnings.push(`${childPath(`cells[${i}].outputs[${k}]`, key)} left out (nbformat has no place for it)`);
          delete (json['outputs'] as JsonObject[])[k]![key];
        }
      }
    }
    let id = typeof json['id'] === 'string' ? json['id'] : undefined;
    if (id === undefined || !CELL_ID.test(id) || seen.has(id)) id = freshId();
    seen.add(id);
    json['id'] = id;
    return json;
  });
  const doc = { cells, metadata, nbformat: IPYNB_NBFORMAT, nbformat_minor: IPYNB_NBFORMAT_MINOR };
  return { notebook: `${stableStringify(doc, 1)}\n`, warnings };
}
