/** The messages between ./imageStream.ts and its decoding workers (./imageWorker.ts). */
import type { ImageTransform } from './imageDecode';

/** One batch to decode: files in batch order, one seed per example. */
export interface DecodeJob {
  readonly id: number;
  readonly files: readonly string[];
  readonly seeds: readonly number[];
  readonly transform: ImageTransform;
  /** Without resizing: the size every image must have, and the file that set it. */
  readonly expect?: { readonly width: number; readonly height: number; readonly first: string };
}

/** The batch's pixels [B, H, W, C] in [0, 1], or the first failure. */
export type DecodeReply =
  | { readonly id: number; readonly pixels: Float32Array; readonly error?: undefined }
  | { readonly id: number; readonly pixels?: undefined; readonly error: { readonly file: string; readonly message: string } };
