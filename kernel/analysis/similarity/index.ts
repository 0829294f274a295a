/**
 * Similarity measures beyond CKA on the same inputs as `tl.cka` (features as tensors or
 * number[][], or modules of two models), `tl.similarity` in notebooks: SVCCA (./svcca.ts), PWCCA
 * (./pwcca.ts), the orthogonal Procrustes distance (./procrustes.ts) and RSA (./rsa.ts), all in
 * float64 on the CPU over shared linear algebra (./linalg.ts: a symmetric eigensolver, thin SVDs
 * from Gram matrices; ./cca.ts; ./rdm.ts), and a module × module matrix of several measures at
 * once (./matrix.ts) whose heatmap switches between them (./result.ts). This file only re-exports.
 */
export { svcca } from './svcca';
export type { SvccaOptions } from './svcca';
export { pwcca } from './pwcca';
export type { PwccaOptions } from './pwcca';
export { procrustes, ProcrustesOutput } from './procrustes';
export type { ProcrustesOptions } from './procrustes';
export { rsa, RsaComparison } from './rsa';
export type { RsaOptions } from './rsa';
export { RdmKind } from './rdm';
export { matrix, matrixFromFeatures } from './matrix';
export type { SimilarityMatrixOptions, ModelSimilarityMatrixOptions } from './matrix';
export { SimilarityResult } from './result';
export type { SimilarityResultInit } from './result';
export { SimilarityMeasure, SIMILARITY_MEASURES, isSimilarityMeasure } from '../../protocol/mime';
