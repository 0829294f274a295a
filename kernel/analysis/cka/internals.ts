/**
 * Tuning knobs of the CKA computations, read at each call (tests set them to exercise every path
 * on small inputs; benches to compare settings). Exported as `tl.cka.ckaInternals`.
 */

/**
 * Test and tuning knobs, not part of the public API.
 * @internal
 */
export const ckaInternals = {
  /** Where Gram blocks are reduced: `host` (JavaScript, float64) or `device` (backend). */
  reducer: undefined as 'host' | 'device' | undefined,
  /** Rows per Gram block on the host path. */
  hostBlockRows: 256,
  /** Columns per product on the backend (the length of each float32 sum). */
  kChunk: 1024,
  /** On WebGPU with TransferLab's kernels: float-float Gram entries kept at once (sets the rows per block, ./deviceGram.ts). */
  deviceBlockEntries: 2 ** 24,
  /** Examples per cross-product in the features form (the length of each float32 sum). */
  rowChunk: 1024,
  /**
   * Worker threads for the Gram form on the wasm backend: a number forces it (1 = none);
   * undefined = one per core when the products exceed `parallelMinWork` multiply-adds.
   */
  threads: undefined as number | undefined,
  parallelMinWork: 2e10,
  /**
   * The RBF kernel takes a squared distance from the float32 Gram matrix, ‖a‖² + ‖b‖² − 2a·b, only
   * where ‖a‖² + ‖b‖² is less than this many times it; elsewhere (the form would cancel) it
   * recomputes it by differences in float64. 0: always by differences.
   */
  rbfCancellation: 4,
};
