/**
 * Image grids as self-displaying results: `application/vnd.transferlab.images+json` (PNG, base64)
 * with a vega-lite fallback and a text/plain summary. Used by the shuffle previews and datasets.
 */
import { PNG } from 'pngjs';
import { tf } from './tfjs';
import { DISPLAY } from './display';
import { Mime, type ImagesPayload, type MimeBundle } from '../protocol/mime';
import { checkImages, checkInteger, checkKeys, checkObject, formatValue, fail } from './validate';

/** Encodes one image (H×W×C floats in [0, 1], C = 1 or 3; values clamped) as a PNG, base64. */
export function encodePng(pixels: ArrayLike<number>, height: number, width: number, channels: number): string {
  const png = new PNG({ width, height });
  for (let i = 0; i < height * width; i++) {
    for (let c = 0; c < 3; c++) {
      const v = pixels[i * channels + (channels === 1 ? 0 : Math.min(c, channels - 1))]!;
      png.data[i * 4 + c] = Math.round(Math.min(1, Math.max(0, v)) * 255);
    }
    png.data[i * 4 + 3] = 255;
  }
  return PNG.sync.write(png).toString('base64');
}

/** A grid of images, one row per variant. Displays itself in notebooks. */
export class ImagesResult {
  constructor(readonly payload: ImagesPayload) {}

  get rows(): ImagesPayload['rows'] {
    return this.payload.rows;
  }

  toString(): string {
    const p = this.payload;
    return `${p.title ? `${p.title}: ` : ''}${p.rows.length} row${p.rows.length === 1 ? '' : 's'} of ${p.width}×${p.height} images (${p.rows.map((r) => `${r.label}: ${r.images.length}`).join(', ')})`;
  }

  /** vega-lite: an image mark per picture, rows by label. */
  vegaLite(): Record<string, unknown> {
    const p = this.payload;
    const scale = Math.max(1, Math.round(64 / Math.max(p.width, p.height)));
    const values = p.rows.flatMap((r) => r.images.map((b64, i) => ({ row: r.label, i, url: `data:image/png;base64,${b64}` })));
    return {
      $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
      ...(p.title ? { title: p.title } : {}),
      data: { values },
      mark: { type: 'image', width: p.width * scale, height: p.height * scale },
      encoding: {
        x: { field: 'i', type: 'ordinal', axis: null },
        y: { field: 'row', type: 'ordinal', sort: p.rows.map((r) => r.label), title: null },
        url: { field: 'url', type: 'nominal' },
      },
      width: { step: p.width * scale + 4 },
      height: { step: p.height * scale + 4 },
    };
  }

  [DISPLAY](): MimeBundle {
    return { [Mime.images]: this.payload, [Mime.vegaLite]: this.vegaLite(), [Mime.plain]: this.toString() };
  }
}

export interface ShowImagesOptions {
  readonly title?: string;
  /** Images per row, default 8 (the first ones). */
  readonly count?: number;
}

/**
 * Shows image batches side by side, one row per entry (e.g. original and shuffled).
 *
 * @example
 * ```ts
 * await tl.showImages([{label: 'original', images: x}, {label: 'block 4', images: tl.blockShuffle(x, 4)}], {count: 6});
 * ```
 */
export async function showImages(rows: readonly { label: string; images: tf.Tensor4D }[], options: ShowImagesOptions = {}): Promise<ImagesResult> {
  const fn = 'tl.showImages';
  if (!Array.isArray(rows) || rows.length === 0) fail(fn, 'rows', `must be a non-empty array of {label, images}, got ${formatValue(rows)}`);
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, ['title', 'count']);
  const count = checkInteger(fn, 'options.count', o['count'] ?? 8, 1, 256);
  if (o['title'] !== undefined && typeof o['title'] !== 'string') fail(fn, 'options.title', `must be a string, got ${formatValue(o['title'])}`);
  let shape: number[] | undefined;
  rows.forEach((r, i) => {
    if (r === null || typeof r !== 'object' || typeof r.label !== 'string') fail(fn, `rows[${i}]`, `must be {label: string, images: Tensor4D}, got ${formatValue(r)}`);
    const x = checkImages(fn, `rows[${i}].images`, r.images);
    if (x.shape[3] !== 1 && x.shape[3] !== 3) fail(fn, `rows[${i}].images`, `must have 1 or 3 channels, got shape [${x.shape.join(', ')}]`);
    const s = x.shape.slice(1);
    if (shape && (s[0] !== shape[0] || s[1] !== shape[1])) fail(fn, `rows[${i}].images`, `are ${s[0]}×${s[1]} but rows[0] are ${shape[0]}×${shape[1]}`);
    shape ??= s;
  });
  const [h, w] = shape!;
  const out: { label: string; images: string[] }[] = [];
  for (const r of rows) {
    const n = Math.min(count, r.images.shape[0]);
    const c = r.images.shape[3];
    const first = tf.slice(r.images, [0, 0, 0, 0], [n, -1, -1, -1]);
    const data = await first.data();
    first.dispose();
    const images: string[] = [];
    for (let i = 0; i < n; i++) images.push(encodePng(data.subarray(i * h! * w! * c, (i + 1) * h! * w! * c), h!, w!, c));
    out.push({ label: r.label, images });
  }
  return new ImagesResult({ ...(o['title'] ? { title: o['title'] as string } : {}), rows: out, width: w!, height: h! });
}
