/**
 * A representation as the similarity measures use it: the values read once (float64), with the
 * decompositions each measure needs computed on first use and kept, so that a module × module
 * matrix decomposes each module once, not once per pair.
 */
import type { Analysis } from '../engine';
import { ShapeMismatchError } from '../errors';
import { type Features, featureShape, readFeatures } from '../representations';
import { fail } from '../validate';
import { type Centred, type ThinSvd, centre, thinSvd } from './linalg';
import { type RdmKind, rdmOf } from './rdm';

export class Representation {
  private centredValue: Centred | undefined;
  private readonly svds = new Map<number, ThinSvd>();
  private readonly rdms = new Map<RdmKind, Float64Array>();

  /** `raw`: row-major n × p values as read (not centred). `label` names it in errors. */
  constructor(
    readonly label: string,
    readonly raw: ArrayLike<number>,
    readonly n: number,
    readonly p: number,
  ) {}

  /** Columns centred, in float64. */
  get centred(): Centred {
    return (this.centredValue ??= centre(this.raw, this.n, this.p));
  }

  /** The thin SVD of the centred values, directions below `tolerance` × the largest dropped. */
  svd(tolerance: number): ThinSvd {
    let s = this.svds.get(tolerance);
    if (s === undefined) this.svds.set(tolerance, (s = thinSvd(this.centred, tolerance)));
    return s;
  }

  /** The upper triangle (a < b, row by row) of the representational dissimilarity matrix. */
  rdm(fn: string, kind: RdmKind): Float64Array {
    let r = this.rdms.get(kind);
    if (r === undefined) this.rdms.set(kind, (r = rdmOf(fn, this.label, this.raw, this.n, this.p, kind)));
    return r;
  }
}

/** Reads one features argument into a {@link Representation}. */
export function* readRepresentation(fn: string, arg: string, X: Features, label = arg): Analysis<Representation> {
  const { data, n, p } = yield* readFeatures(fn, arg, X);
  return new Representation(label, data, n, p);
}

/** Checks that X and Y are features of the same n ≥ `minN` examples. */
export function checkPair(fn: string, X: unknown, Y: unknown, minN: number, what: string): void {
  const [nx] = featureShape(fn, 'X', X);
  const [ny] = featureShape(fn, 'Y', Y);
  if (nx !== ny) throw new ShapeMismatchError(fn, 'X', `has ${nx} rows but Y has ${ny} (one row per example, the same examples in the same order)`);
  if (nx < minN) fail(fn, 'X', `has ${nx} rows; ${what} needs at least ${minN} examples`);
}

/** Reads X and Y (once when they are the same object) and applies `measure`. */
export function* pairOf<R>(fn: string, X: Features, Y: Features, measure: (a: Representation, b: Representation) => R): Analysis<R> {
  const a = yield* readRepresentation(fn, 'X', X);
  const b = X === Y ? a : yield* readRepresentation(fn, 'Y', Y);
  return measure(a, b);
}
