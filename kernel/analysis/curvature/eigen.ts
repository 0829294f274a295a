/**
 * The linear algebra of curvature on a Hessian-vector product: power iteration for the eigenvalue
 * of largest magnitude and Hutchinson's trace estimator with Rademacher probes. Vectors are
 * Float64Array (normalisation and sums in float64); the product is any async function, so these
 * are tested on quadratics with known answers and used on models by ./index.ts.
 */
import { gaussian, rng } from '../random';

/** H·v for a vector of the dimension the product was made for. */
export type HessianVectorProduct = (v: Float64Array) => Promise<Float64Array>;

export interface PowerIterationResult {
  /** The Rayleigh quotient vᵀHv of the last unit vector: the eigenvalue of largest magnitude, with its sign. */
  readonly eigenvalue: number;
  /** The last unit vector v (its product is `eigenvalue`·v once converged). */
  readonly vector: Float64Array;
  /** Hessian-vector products used. */
  readonly iterations: number;
  /** |λₖ − λₖ₋₁| / |λₖ| at the last step (NaN after one step). */
  readonly relativeChange: number;
  /** Whether `relativeChange` fell below the tolerance (or H·v = 0) within the iterations. */
  readonly converged: boolean;
}

export interface HutchinsonResult {
  /** Mean of zᵀHz over the probes. */
  readonly trace: number;
  /** Standard error of that mean (sample standard deviation / √probes; NaN for one probe). */
  readonly standardError: number;
  /** zᵀHz per probe. */
  readonly samples: readonly number[];
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** A unit vector of `dim` Gaussian entries, from `seed`. */
export function randomUnitVector(dim: number, seed: number): Float64Array {
  const r = rng(seed);
  const v = new Float64Array(dim);
  for (let i = 0; i < dim; i++) v[i] = gaussian(r);
  const norm = Math.sqrt(dot(v, v));
  for (let i = 0; i < dim; i++) v[i]! /= norm;
  return v;
}

/** Probe `k` (0-based) of Hutchinson's estimator: `dim` entries ±1, from `seed`. */
export function rademacherProbe(dim: number, seed: number, k: number): Float64Array {
  const r = rng((Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) + Math.imul(k + 1, 0x85ebca6b)) >>> 0);
  const z = new Float64Array(dim);
  for (let i = 0; i < dim; i++) z[i] = r() < 0.5 ? -1 : 1;
  return z;
}

/**
 * Power iteration: v ← Hv/‖Hv‖ from a seeded random unit vector until the Rayleigh quotient
 * changes by less than `tolerance` (relative) or `iterations` products were used.
 */
export async function powerIteration(hvp: HessianVectorProduct, dim: number, options: { iterations: number; tolerance: number; seed: number }): Promise<PowerIterationResult> {
  let v = randomUnitVector(dim, options.seed);
  let eigenvalue = NaN;
  let relativeChange = NaN;
  let iterations = 0;
  let converged = false;
  while (iterations < options.iterations) {
    const w = await hvp(v);
    iterations++;
    const lambda = dot(v, w);
    relativeChange = Number.isNaN(eigenvalue) ? NaN : Math.abs(lambda - eigenvalue) / Math.max(Math.abs(lambda), Number.MIN_VALUE);
    eigenvalue = lambda;
    const norm = Math.sqrt(dot(w, w));
    if (norm === 0) {
      relativeChange = 0;
      converged = true;
      break;
    }
    if (relativeChange < options.tolerance) {
      converged = true;
      break;
    }
    const next = new Float64Array(dim);
    for (let i = 0; i < dim; i++) next[i] = w[i]! / norm;
    v = next;
  }
  return { eigenvalue, vector: v, iterations, relativeChange, converged };
}

/** Hutchinson's estimator: tr H ≈ mean of zᵀHz over `probes` seeded Rademacher vectors z. */
export async function hutchinson(hvp: HessianVectorProduct, dim: number, options: { probes: number; seed: number }): Promise<HutchinsonResult> {
  const samples: number[] = [];
  for (let k = 0; k < options.probes; k++) {
    const z = rademacherProbe(dim, options.seed, k);
    samples.push(dot(z, await hvp(z)));
  }
  const m = samples.length;
  const trace = samples.reduce((a, b) => a + b, 0) / m;
  const variance = m > 1 ? samples.reduce((a, b) => a + (b - trace) ** 2, 0) / (m - 1) : NaN;
  return { trace, standardError: Math.sqrt(variance / m), samples };
}
