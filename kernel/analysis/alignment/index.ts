/**
 * Aligning the hidden units of two networks before comparing them (Git Re-Basin's weight
 * matching): the linear-assignment solver (`assignment.ts`), the permutation spec of each
 * architecture (`specs.ts`), reordering units (`apply.ts`), coordinate descent over groups
 * (`weightMatching.ts`), `tl.align` (`align.ts`) and the `align` option of interpolation
 * (`interpolation.ts`).
 */
export { linearAssignment, type ScoreMatrix } from './assignment';
export { permutationSpec, alignableArchitectures, type PermutationSpec, type PermutationGroup, type PermutedAxis } from './specs';
export { permuteUnits, type Permutations } from './apply';
export { align, AlignmentResult, type AlignOptions, type AlignedGroup } from './align';
export { withAlignment, alignedTable, type AlignedCurve, type AlignOption } from './interpolation';
