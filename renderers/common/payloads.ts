/**
 * Checks the JSON payloads of TransferLab MIME types (shapes in kernel/protocol/mime.ts) before
 * they are drawn, so that a malformed output shows a message naming the field instead of a blank
 * or broken chart. Pure functions.
 */
import { Mime, SIMILARITY_MEASURES, isSimilarityMeasure, type CkaPayload, type ImagesPayload, type InterpolationPayload, type TrainingPayload } from '../../kernel/protocol/mime';

/**
 * An output's payload does not have the shape its MIME type promises (a producer bug, or a
 * hand-edited notebook). Raised by the `parse*Payload` functions; the renderer shows the message in
 * place of the chart.
 */
export class PayloadError extends Error {
  constructor(
    readonly mime: string,
    /** The offending field, e.g. `values[3]`. */
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${mime}: ${path === '' ? 'the payload' : path} ${problem}`);
    this.name = 'PayloadError';
  }
}

type Obj = Record<string, unknown>;

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}

class Check {
  constructor(readonly mime: string) {}
  fail(path: string, problem: string): never {
    throw new PayloadError(this.mime, path, problem);
  }
  obj(v: unknown, path: string): Obj {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(path, `must be an object, found ${kind(v)}`);
    return v as Obj;
  }
  arr(v: unknown, path: string): unknown[] {
    if (!Array.isArray(v)) this.fail(path, `must be an array, found ${kind(v)}`);
    return v;
  }
  str(v: unknown, path: string): string {
    if (typeof v !== 'string') this.fail(path, `must be a string, found ${kind(v)}`);
    return v;
  }
  optStr(o: Obj, key: string, path: string): void {
    if (o[key] !== undefined) this.str(o[key], join(path, key));
  }
  /** A number, or null standing for NaN (JSON has no NaN). */
  num(v: unknown, path: string): number {
    if (v === null) return Number.NaN;
    if (typeof v !== 'number') this.fail(path, `must be a number, found ${kind(v)}`);
    return v;
  }
  strings(v: unknown, path: string): string[] {
    return this.arr(v, path).map((x, i) => this.str(x, `${path}[${i}]`));
  }
  numbers(v: unknown, path: string): number[] {
    return this.arr(v, path).map((x, i) => this.num(x, `${path}[${i}]`));
  }
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/** Checks an `application/vnd.transferlab.cka+json` payload. */
export function parseCkaPayload(v: unknown): CkaPayload {
  const c = new Check(Mime.cka);
  // Heatmaps side by side: each panel checks as a payload of its own.
  const panels = (v as { panels?: unknown } | null)?.panels;
  if (panels !== undefined) c.arr(panels, 'panels').forEach((panel) => parseCkaPayload(panel));
  const o = c.obj(v, '');
  const rows = c.strings(o['rows'], 'rows');
  const columns = c.strings(o['columns'], 'columns');
  const values = c.arr(o['values'], 'values');
  if (values.length !== rows.length) c.fail('values', `has ${values.length} rows but rows has ${rows.length} names`);
  values.forEach((row, i) => {
    const r = c.numbers(row, `values[${i}]`);
    if (r.length !== columns.length) c.fail(`values[${i}]`, `has ${r.length} entries but columns has ${columns.length} names`);
  });
  c.optStr(o, 'title', '');
  c.optStr(o, 'modelA', '');
  c.optStr(o, 'modelB', '');
  if (o['measures'] !== undefined) {
    c.arr(o['measures'], 'measures').forEach((m, k) => {
      const path = `measures[${k}]`;
      const q = c.obj(m, path);
      const name = c.str(q['measure'], `${path}.measure`);
      if (!isSimilarityMeasure(name)) c.fail(`${path}.measure`, `is '${name}', not one of ${SIMILARITY_MEASURES.join(', ')}`);
      c.str(q['label'], `${path}.label`);
      const mv = c.arr(q['values'], `${path}.values`);
      if (mv.length !== rows.length) c.fail(`${path}.values`, `has ${mv.length} rows but rows has ${rows.length} names`);
      mv.forEach((row, i) => {
        const r = c.numbers(row, `${path}.values[${i}]`);
        if (r.length !== columns.length) c.fail(`${path}.values[${i}]`, `has ${r.length} entries but columns has ${columns.length} names`);
      });
    });
  }
  if (o['uncertainty'] !== undefined) {
    const u = c.obj(o['uncertainty'], 'uncertainty');
    for (const key of ['level', 'alpha', 'bootstrap', 'permutations']) {
      if (typeof u[key] !== 'number') c.fail(`uncertainty.${key}`, `must be a number, found ${kind(u[key])}`);
    }
    for (const key of ['lower', 'upper', 'pValue']) {
      if (u[key] === undefined) continue;
      const m = c.arr(u[key], `uncertainty.${key}`);
      if (m.length !== rows.length) c.fail(`uncertainty.${key}`, `has ${m.length} rows but rows has ${rows.length} names`);
      m.forEach((row, i) => {
        const r = c.numbers(row, `uncertainty.${key}[${i}]`);
        if (r.length !== columns.length) c.fail(`uncertainty.${key}[${i}]`, `has ${r.length} entries but columns has ${columns.length} names`);
      });
    }
  }
  return v as CkaPayload;
}

/** Checks an `application/vnd.transferlab.interpolation+json` payload. */
export function parseInterpolationPayload(v: unknown): InterpolationPayload {
  const c = new Check(Mime.interpolation);
  const o = c.obj(v, '');
  const pairs = c.arr(o['pairs'], 'pairs');
  if (pairs.length === 0) c.fail('pairs', 'is empty');
  pairs.forEach((p, i) => {
    const path = `pairs[${i}]`;
    const q = c.obj(p, path);
    c.str(q['label'], `${path}.label`);
    const lambdas = c.numbers(q['lambdas'], `${path}.lambdas`);
    const loss = c.numbers(q['loss'], `${path}.loss`);
    const accuracy = c.numbers(q['accuracy'], `${path}.accuracy`);
    if (loss.length !== lambdas.length) c.fail(`${path}.loss`, `has ${loss.length} values but lambdas has ${lambdas.length}`);
    if (accuracy.length !== 0 && accuracy.length !== lambdas.length) {
      c.fail(`${path}.accuracy`, `has ${accuracy.length} values but lambdas has ${lambdas.length} (use [] when there is no accuracy)`);
    }
    c.num(q['barrier'], `${path}.barrier`);
    c.num(q['barrierLambda'], `${path}.barrierLambda`);
    if (q['aligned'] !== undefined) {
      const al = c.obj(q['aligned'], `${path}.aligned`);
      const aLoss = c.numbers(al['loss'], `${path}.aligned.loss`);
      const aAcc = c.numbers(al['accuracy'], `${path}.aligned.accuracy`);
      if (aLoss.length !== lambdas.length) c.fail(`${path}.aligned.loss`, `has ${aLoss.length} values but lambdas has ${lambdas.length}`);
      if (aAcc.length !== accuracy.length) c.fail(`${path}.aligned.accuracy`, `has ${aAcc.length} values but the raw accuracy has ${accuracy.length}`);
      c.num(al['barrier'], `${path}.aligned.barrier`);
      c.num(al['barrierLambda'], `${path}.aligned.barrierLambda`);
    }
    const d = q['barrierDefinition'];
    if (d !== undefined && d !== 'linear' && d !== 'mean') c.fail(`${path}.barrierDefinition`, `must be 'linear' or 'mean'`);
    if (q['barrierInterval'] !== undefined) {
      const b = c.obj(q['barrierInterval'], `${path}.barrierInterval`);
      for (const key of ['lower', 'upper', 'level', 'bootstrap']) c.num(b[key], `${path}.barrierInterval.${key}`);
    }
  });
  c.optStr(o, 'title', '');
  if (o['warnings'] !== undefined) c.strings(o['warnings'], 'warnings');
  return v as InterpolationPayload;
}

/** Checks an `application/vnd.transferlab.images+json` payload. */
export function parseImagesPayload(v: unknown): ImagesPayload {
  const c = new Check(Mime.images);
  const o = c.obj(v, '');
  for (const key of ['width', 'height'] as const) {
    const n = c.num(o[key], key);
    if (!(Number.isInteger(n) && n > 0)) c.fail(key, `must be a positive integer, found ${kind(o[key])}`);
  }
  c.arr(o['rows'], 'rows').forEach((r, i) => {
    const row = c.obj(r, `rows[${i}]`);
    c.str(row['label'], `rows[${i}].label`);
    c.strings(row['images'], `rows[${i}].images`).forEach((img, k) => {
      if (!/^[A-Za-z0-9+/=\s]*$/.test(img)) c.fail(`rows[${i}].images[${k}]`, 'is not base64 (PNG data without a data: prefix expected)');
    });
  });
  c.optStr(o, 'title', '');
  return v as ImagesPayload;
}

/** Checks an `application/vnd.transferlab.training+json` payload. */
export function parseTrainingPayload(v: unknown): TrainingPayload {
  const c = new Check(Mime.training);
  const o = c.obj(v, '');
  c.arr(o['runs'], 'runs').forEach((r, i) => {
    const path = `runs[${i}]`;
    const run = c.obj(r, path);
    c.str(run['label'], `${path}.label`);
    c.arr(run['points'], `${path}.points`).forEach((p, k) => {
      const pp = `${path}.points[${k}]`;
      const pt = c.obj(p, pp);
      for (const key of ['epoch', 'step', 'loss']) c.num(pt[key], `${pp}.${key}`);
      for (const key of ['accuracy', 'valLoss', 'valAccuracy', 'examplesPerSecond']) {
        if (pt[key] !== undefined) c.num(pt[key], `${pp}.${key}`);
      }
    });
    if (typeof run['done'] !== 'boolean') c.fail(`${path}.done`, `must be true or false, found ${kind(run['done'])}`);
    c.optStr(run, 'stopped', path);
  });
  c.optStr(o, 'title', '');
  return v as TrainingPayload;
}

/** Checks a vega-lite spec enough to draw it: an object with a mark, layers, concatenation or facet. */
export function parseVegaLiteSpec(v: unknown): Record<string, unknown> {
  const c = new Check(Mime.vegaLite);
  const o = c.obj(v, '');
  const composed = ['mark', 'layer', 'hconcat', 'vconcat', 'concat', 'facet', 'repeat', 'spec'].some((k) => k in o);
  if (!composed) c.fail('', 'is not a vega-lite spec: it has no mark, layer, concat, facet or repeat');
  return o;
}
