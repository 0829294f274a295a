/**
 * Centered kernel alignment (Kornblith et al. 2019; PAPER.md §2): linear and RBF CKA, debiased
 * (unbiased HSIC), minibatch CKA (Nguyen, Raghu, Kornblith 2021), and module×module heatmaps
 * between two models, `tl.cka` in notebooks.
 *
 * Precision and speed. Representations are centred in float64 and rounded once to float32. The
 * products that cost O(n²p) or O(np²) run as float32 matrix products on the backend, blocked so
 * that each float32 sum is short; everything after them runs in float64: Gram diagonals (exact,
 * from the rounded features), traces, inner products of Gram blocks, sums of partial products.
 * Results match a float64 reference to ~1e-7 relative. The RBF kernel's squared distances take
 * the float32 Gram form only where it cannot cancel, and are recomputed by differences in float64
 * elsewhere (tight clusters far apart, duplicates); its kernel matrices stay in float64 (./rbf.ts).
 *
 * Two exact forms for the linear kernel, chosen by cost (`algorithm: 'auto'`; ./linear.ts):
 * cross-products of features, or each module's centred Gram matrix once. With centred features,
 * ⟨HKH, HLH⟩ = ⟨K, L⟩, and the unbiased HSIC needs only the off-diagonal sum Σ_{a≠b} K_ab L_ab,
 * the diagonals d = diag K and the traces, which is what both forms return.
 *
 * The rooms: ../representations.ts (features and module outputs, shared with other measures),
 * ./rep.ts (a centred representation), ./linear.ts and ./rbf.ts (the kernels, over
 * ./gramBlocks.ts), ./hsic.ts (from HSIC to CKA), and one module per public entry: ./pair.ts
 * (two representations), ./matrix.ts (module × module from features), ./minibatch.ts,
 * ./modelMatrix.ts (two models), ./result.ts (the heatmap); ./uncertainty.ts (bootstrap intervals
 * and permutation nulls, option `uncertainty`) with ./estimate.ts. This file only re-exports.
 */
export type { Features, NamedFeatures } from '../representations';
export { CkaKind, isCkaKind, CkaAlgorithm } from './options';
export type { LinearOptions, RbfOptions, MatrixOptions } from './options';
/** @internal Test and tuning knobs (not in the declaration files, so cells neither see nor complete them). */
export { ckaInternals } from './internals';
export { linear, rbf } from './pair';
export { matrixFromFeatures } from './matrix';
export { MinibatchCka } from './minibatch';
export type { MinibatchOptions } from './minibatch';
export { matrix, minibatch } from './modelMatrix';
export type { ModelMatrixOptions } from './modelMatrix';
export { CkaResult } from './result';
export type { CkaResultInit, CkaCell } from './result';
export { CkaEstimate } from './estimate';
export { CkaPanels, sideBySide } from './panels';
export type { CkaUncertainty } from './uncertainty';
