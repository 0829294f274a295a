/**
 * Curvature of the loss per module (`tl.curvature`): the top eigenvalue of each module's Hessian
 * block (power iteration on Hessian-vector products) and a Hutchinson estimate of its trace, to
 * read next to module criticality (PAPER.md §5): a module whose loss is sharp in its own weights
 * is one that cannot be moved far. Hessian-vector products are exact (gradients of gradients,
 * ./secondOrder.ts says what TensorFlow.js needed for that) or, where a model's ops have no exact
 * second derivative, central finite differences of gradients (./hvp.ts); each module's result says
 * which.
 */
import { moduleOf, type Model } from '../modelContract';
import { checkData, type DataLike } from '../dataset';
import { checkDataFitsModel, checkModel } from '../evaluation';
import { ensureBackend } from '../backends';
import { hashSeed } from '../netModel';
import { checkInteger, checkKeys, checkNumber, checkObject, checkOneOf, checkSeed, fail, formatValue } from '../validate';
import { hutchinson, powerIteration } from './eigen';
import { FD_RELATIVE_STEP, ModuleHessian } from './hvp';
import { CurvatureResult, type CurvatureMethod, type ModuleCurvature } from './result';

export { CurvatureResult, CurvatureTable, curvatureTable } from './result';
export type { CriticalityLike, CurvatureInit, CurvatureMethod, ModuleCurvature } from './result';

export interface CurvatureOptions {
  /** Modules to analyse, one Hessian block each. Default: every module of the model. */
  readonly modules?: readonly string[];
  /** Most Hessian-vector products of the power iteration per module. Default 100. */
  readonly iterations?: number;
  /** Stop when the eigenvalue estimate changes by less than this (relative). Default 1e-4. */
  readonly tolerance?: number;
  /** Rademacher probes of Hutchinson's trace estimate per module. Default 10. */
  readonly hutchinsonSamples?: number;
  /** Seed of the power iteration's start and of the probes (per module). Default 0. */
  readonly seed?: number;
  /** Examples per pass (the products are summed over the batches). Default 256. */
  readonly batchSize?: number;
  /**
   * `auto` (default): exact products where the model's ops allow, finite differences elsewhere;
   * `exact`: fail where exact products are not available; `finite-difference`: always differences.
   */
  readonly method?: 'auto' | CurvatureMethod;
  /** The model's name in tables and charts. Default: the model's architecture. */
  readonly label?: string;
}

/**
 * The curvature of the mean cross-entropy of `model` on `data` in each module's own parameters
 * (the other modules fixed): the eigenvalue of largest magnitude of the module's Hessian block,
 * by power iteration (with its convergence), and its trace, by Hutchinson's estimator with
 * Rademacher probes (with a standard error). Pass the training data for the curvature of the
 * training loss (the usual "sharpness"), or evaluation data. The loss averages over all of `data`
 * in batches of `batchSize`; BatchNorm runs in inference mode with its running statistics (the
 * result says so). The same seed gives the same numbers; each module's numbers do not depend on
 * which other modules are analysed.
 *
 * Cost: each power-iteration step and each probe is one Hessian-vector product, about four passes
 * of forward and backward work over `data`; a module needs `iterations` (fewer once converged)
 * plus `hutchinsonSamples` of them. The top eigenvalue is the one of largest magnitude, with its
 * sign (at a minimum, the largest); the trace is of the whole block, so a larger module has a
 * larger trace at the same curvature per direction.
 *
 * @example
 * ```ts
 * const c = await tl.curvature(model, train.take(500), {modules: ['conv1', 'fc'], hutchinsonSamples: 10});
 * c.module('fc').topEigenvalue;
 * c;   // table and bar charts
 * ```
 */
export async function curvature(model: Model, data: DataLike, options: CurvatureOptions = {}): Promise<CurvatureResult> {
  const fn = 'tl.curvature';
  checkModel(fn, 'model', model);
  const { n, numClasses } = checkData(fn, 'data', data);
  checkDataFitsModel(fn, model, data, numClasses);
  const o = checkObject(fn, 'options', options);
  checkKeys(fn, 'options', o, ['modules', 'iterations', 'tolerance', 'hutchinsonSamples', 'seed', 'batchSize', 'method', 'label']);
  const names = [...model.variables.keys()];
  const modules = o['modules'] === undefined ? model.moduleNames.filter((m) => names.some((p) => moduleOf(p) === m)) : (o['modules'] as unknown[]);
  if (!Array.isArray(modules) || modules.length === 0) fail(fn, 'options.modules', `must be a non-empty array of module names, got ${formatValue(o['modules'])}`);
  for (const m of modules) {
    if (typeof m !== 'string' || !names.some((p) => moduleOf(p) === m)) fail(fn, 'options.modules', `names ${formatValue(m)}, which has no parameters; modules: ${model.moduleNames.join(', ')}`);
  }
  if (new Set(modules).size !== modules.length) fail(fn, 'options.modules', `names a module twice: ${modules.join(', ')}`);
  const iterations = checkInteger(fn, 'options.iterations', o['iterations'] ?? 100, 1, 100000);
  const tolerance = checkNumber(fn, 'options.tolerance', o['tolerance'] ?? 1e-4, 0, 1);
  const probes = checkInteger(fn, 'options.hutchinsonSamples', o['hutchinsonSamples'] ?? 10, 1, 100000);
  const seed = checkSeed(fn, 'options.seed', o['seed'] ?? 0);
  const batchSize = checkInteger(fn, 'options.batchSize', o['batchSize'] ?? 256, 1);
  const method = checkOneOf(fn, 'options.method', o['method'] ?? 'auto', ['auto', 'exact', 'finite-difference'] as const);
  const label = o['label'] ?? model.arch;
  if (typeof label !== 'string' || label === '') fail(fn, 'options.label', `must be a non-empty string, got ${formatValue(label)}`);
  await ensureBackend();

  const results: ModuleCurvature[] = [];
  for (const mod of modules as string[]) {
    const started = performance.now();
    const hessian = new ModuleHessian(model, names.filter((p) => moduleOf(p) === mod), data, batchSize);
    let used: CurvatureMethod = method === 'finite-difference' ? 'finite-difference' : 'exact';
    let methodNote: string | undefined;
    if (method !== 'finite-difference') {
      const problem = await hessian.exactProblem();
      if (problem !== undefined) {
        if (method === 'exact') fail(fn, 'options.method', `is 'exact' but module ${mod} has ${problem}; use 'auto' or 'finite-difference'`);
        used = 'finite-difference';
        methodNote = problem;
      }
    }
    const step = used === 'exact' ? NaN : FD_RELATIVE_STEP * Math.max(1, await hessian.parameterNorm());
    const hvp = used === 'exact' ? (v: Float64Array) => hessian.exact(v) : (v: Float64Array) => hessian.finiteDifference(v, step);
    const moduleSeed = hashSeed(seed, mod);
    const power = await powerIteration(hvp, hessian.dim, { iterations, tolerance, seed: moduleSeed });
    // Hutchinson's probes are not unit vectors: scale the step with ‖z‖ = √dim (the products are linear in v).
    const traceHvp = used === 'exact' ? hvp : async (z: Float64Array) => {
      const s = Math.sqrt(hessian.dim);
      const u = z.map((a) => a / s);
      return (await hessian.finiteDifference(u, step)).map((a) => a * s);
    };
    const trace = await hutchinson(traceHvp, hessian.dim, { probes, seed: moduleSeed });
    results.push({
      module: mod,
      parameters: hessian.dim,
      topEigenvalue: power.eigenvalue,
      iterations: power.iterations,
      relativeChange: power.relativeChange,
      converged: power.converged,
      trace: trace.trace,
      traceStandardError: trace.standardError,
      traceSamples: trace.samples,
      method: used,
      ...(methodNote !== undefined ? { methodNote } : {}),
      step,
      seconds: (performance.now() - started) / 1000,
    });
  }
  const dataName = (data as { name?: unknown }).name;
  const buffers = (model as { buffers?: ReadonlyMap<string, unknown> }).buffers;
  return new CurvatureResult({
    label,
    n,
    ...(typeof dataName === 'string' ? { dataName } : {}),
    batchNorm: buffers instanceof Map && buffers.size > 0,
    seed,
    batchSize,
    maxIterations: iterations,
    tolerance,
    probes,
    modules: results,
  });
}
