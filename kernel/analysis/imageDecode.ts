/**
 * Decoding and transforming one image file for the streamed image folder (./imageStream.ts): PNG
 * (pngjs) or JPEG (jpeg-js) into RGBA bytes, then one bilinear resampling of a region of the
 * image into the output size, which is both the evaluation transform (resize the shorter side,
 * centre crop) and the training one (random resized crop, horizontal flip).
 *
 * Pure functions of the file's bytes and a per-example seed, with no TensorFlow.js: they run in
 * the worker threads (./imageWorker.ts) and, with `workers: 0`, on the main thread, and give the
 * same floats in both places, so batches depend on the seed and never on the number of workers.
 */
import path from 'node:path';
import { rng, type Rng } from './random';

/** What is done to each image after decoding. */
export interface ImageTransform {
  /** Output [H, W]. */
  readonly size: readonly [number, number];
  /** 1 (grey, luminance) or 3 (RGB). */
  readonly channels: 1 | 3;
  /**
   * Evaluation: the fraction of the shorter side the centre crop keeps (1: the largest centred
   * region of the output's aspect ratio; 0.875 is torchvision's 224-of-256).
   */
  readonly cropFraction: number;
  /** Training augmentation (random resized crop + flip), or undefined for the centre crop. */
  readonly augment?: Augmentation;
}

/** Random resized crop (Szegedy et al. 2015, as torchvision's RandomResizedCrop) and flip. */
export interface Augmentation {
  /** Range of the crop's area as a fraction of the image, default [0.08, 1]. */
  readonly scale: readonly [number, number];
  /** Range of the crop's aspect ratio (width / height), default [3/4, 4/3]. */
  readonly ratio: readonly [number, number];
  /** Probability of a horizontal flip, default 0.5. */
  readonly flip: number;
}

/** A region of the source image in pixels (x0, y0 its top-left corner). */
export interface Region {
  readonly x0: number;
  readonly y0: number;
  readonly width: number;
  readonly height: number;
}

export interface Decoded {
  readonly width: number;
  readonly height: number;
  readonly rgba: Uint8Array;
}

/** Why a file could not be decoded (the caller names the function). */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(detail);
  }
}

type PngModule = typeof import('pngjs');
type JpegModule = typeof import('jpeg-js');
let png: PngModule | undefined;
let jpeg: JpegModule | undefined;

/** Decodes PNG or JPEG bytes (chosen by the file's extension) into RGBA. */
export function decodeBytes(file: string, buf: Uint8Array): Decoded {
  const isPng = path.extname(file).toLowerCase() === '.png';
  try {
    if (isPng) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      png ??= require('pngjs') as PngModule;
      const img = png.PNG.sync.read(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength));
      return { width: img.width, height: img.height, rgba: img.data };
    }
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    jpeg ??= require('jpeg-js') as JpegModule;
    const j = (jpeg as JpegModule & { default?: JpegModule }).default ?? jpeg;
    const img = j.decode(buf, { useTArray: true, formatAsRGBA: true });
    return { width: img.width, height: img.height, rgba: img.data };
  } catch (e) {
    throw new DecodeError(file, `cannot be decoded as ${isPng ? 'PNG' : 'JPEG'}: ${(e as Error).message}`);
  }
}

/** The seed of example `position` of `epoch` of a stream seeded `seed` (a 32-bit mix). */
export function exampleSeed(seed: number, epoch: number, position: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(epoch + 1, 0xc2b2ae35) ^ Math.imul(position + 1, 0x27d4eb2f);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return h >>> 0;
}

/** The centred region of the output's aspect ratio covering `fraction` of the shorter side. */
export function centreRegion(width: number, height: number, outH: number, outW: number, fraction: number): Region {
  // The scale that makes the output fit inside the image, then the crop keeps `fraction` of it.
  const s = Math.min(width / outW, height / outH) * fraction;
  const w = outW * s;
  const h = outH * s;
  return { x0: (width - w) / 2, y0: (height - h) / 2, width: w, height: h };
}

/** torchvision's RandomResizedCrop.get_params: ten tries at a random area and aspect ratio, then a centre crop. */
export function randomRegion(width: number, height: number, a: Augmentation, r: Rng): Region {
  const area = width * height;
  const [lr0, lr1] = [Math.log(a.ratio[0]), Math.log(a.ratio[1])];
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * (a.scale[0] + (a.scale[1] - a.scale[0]) * r());
    const aspect = Math.exp(lr0 + (lr1 - lr0) * r());
    const w = Math.round(Math.sqrt(target * aspect));
    const h = Math.round(Math.sqrt(target / aspect));
    if (w > 0 && h > 0 && w <= width && h <= height) {
      const y0 = Math.floor(r() * (height - h + 1));
      const x0 = Math.floor(r() * (width - w + 1));
      return { x0, y0, width: w, height: h };
    }
  }
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < a.ratio[0]) h = Math.round(w / a.ratio[0]);
  else if (inRatio > a.ratio[1]) w = Math.round(h * a.ratio[1]);
  return { x0: Math.floor((width - w) / 2), y0: Math.floor((height - h) / 2), width: w, height: h };
}

/**
 * Bilinear resampling (half-pixel centres, edges clamped) of `region` of an RGBA image into
 * `out` at `offset`: [outH, outW, channels] floats in [0, 1], mirrored left-right if `flip`.
 * With the whole image as the region this is the plain bilinear resize of image libraries.
 */
export function sampleRegion(img: Decoded, region: Region, outH: number, outW: number, channels: 1 | 3, flip: boolean, out: Float32Array, offset: number): void {
  const { width: sw, height: sh, rgba } = img;
  const sy = region.height / outH;
  const sx = region.width / outW;
  const xs0 = new Int32Array(outW);
  const xs1 = new Int32Array(outW);
  const wxs = new Float64Array(outW);
  for (let x = 0; x < outW; x++) {
    const fx = Math.min(Math.max(region.x0 + (x + 0.5) * sx - 0.5, 0), sw - 1);
    const x0 = Math.floor(fx);
    xs0[x] = x0;
    xs1[x] = Math.min(x0 + 1, sw - 1);
    wxs[x] = fx - x0;
  }
  const k = 1 / 255;
  for (let y = 0; y < outH; y++) {
    const fy = Math.min(Math.max(region.y0 + (y + 0.5) * sy - 0.5, 0), sh - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, sh - 1);
    const wy = fy - y0;
    for (let x = 0; x < outW; x++) {
      const wx = wxs[x]!;
      const a = (y0 * sw + xs0[x]!) * 4;
      const b = (y0 * sw + xs1[x]!) * 4;
      const c = (y1 * sw + xs0[x]!) * 4;
      const d = (y1 * sw + xs1[x]!) * 4;
      const o = offset + (y * outW + (flip ? outW - 1 - x : x)) * channels;
      if (channels === 3) {
        for (let ch = 0; ch < 3; ch++) {
          const top = rgba[a + ch]! * (1 - wx) + rgba[b + ch]! * wx;
          const bottom = rgba[c + ch]! * (1 - wx) + rgba[d + ch]! * wx;
          out[o + ch] = (top * (1 - wy) + bottom * wy) * k;
        }
      } else {
        let v = 0;
        for (let ch = 0; ch < 3; ch++) {
          const top = rgba[a + ch]! * (1 - wx) + rgba[b + ch]! * wx;
          const bottom = rgba[c + ch]! * (1 - wx) + rgba[d + ch]! * wx;
          v += (ch === 0 ? 0.299 : ch === 1 ? 0.587 : 0.114) * (top * (1 - wy) + bottom * wy);
        }
        out[o] = v * k;
      }
    }
  }
}

/**
 * Decodes and transforms one example into `out` at `offset`. `expect` (no resizing asked for):
 * the size every image must have. Throws {@link DecodeError}.
 */
export function transformExample(file: string, bytes: Uint8Array, t: ImageTransform, seed: number, out: Float32Array, offset: number, expect?: { readonly width: number; readonly height: number; readonly first: string }): void {
  const img = decodeBytes(file, bytes);
  if (expect && (img.width !== expect.width || img.height !== expect.height)) {
    throw new DecodeError(file, `is ${img.width}×${img.height} but ${expect.first} is ${expect.width}×${expect.height}; pass options.size to resize`);
  }
  const [outH, outW] = t.size;
  if (t.augment) {
    const r = rng(seed);
    const region = randomRegion(img.width, img.height, t.augment, r);
    sampleRegion(img, region, outH, outW, t.channels, r() < t.augment.flip, out, offset);
  } else {
    sampleRegion(img, centreRegion(img.width, img.height, outH, outW, t.cropFraction), outH, outW, t.channels, false, out, offset);
  }
}
