/**
 * Canonical correlation analysis by whitening (Björck & Golub 1973): with orthonormal bases Q_x,
 * Q_y of the centred representations' column spaces, the canonical correlations are the singular
 * values of Q_xᵀQ_y and the canonical variates of X are Q_x a_i, a_i its left singular vectors.
 * Shared by SVCCA (./svcca.ts, on the top singular directions) and PWCCA (./pwcca.ts, on all).
 */
import { fail } from '../validate';
import { crossRows, gramOfRows, symmetricEigen } from './linalg';

export interface CcaResult {
  /** Canonical correlations, descending, min(kx, ky) of them, each in [0, 1]. */
  readonly rho: Float64Array;
  /** Row i (length kx): the coefficients of X's i-th canonical variate in the basis ux (empty unless asked for). */
  readonly a: Float64Array;
}

/**
 * CCA of the spans of the first `kx` rows of `ux` and the first `ky` rows of `uy` (orthonormal
 * vectors of length n); `labels` name the two in errors.
 */
export function ccaOfBases(fn: string, labels: readonly [string, string], ux: Float64Array, kx: number, uy: Float64Array, ky: number, n: number, wantDirections = false): CcaResult {
  if (kx === 0) fail(fn, labels[0], 'is constant (no direction left after centring)');
  if (ky === 0) fail(fn, labels[1], 'is constant (no direction left after centring)');
  const m = crossRows(ux, kx, uy, ky, n);
  const { values, vectors } = symmetricEigen(gramOfRows(m, kx, ky), kx, wantDirections);
  const k = Math.min(kx, ky);
  const rho = new Float64Array(k);
  for (let i = 0; i < k; i++) rho[i] = Math.sqrt(Math.min(1, Math.max(0, values[i]!)));
  return { rho, a: vectors.slice(0, k * kx) };
}
