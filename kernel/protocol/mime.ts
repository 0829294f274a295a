/**
 * MIME types of TransferLab outputs and the shape of their payloads. Producers: kernel/analysis
 * result objects (through `[Symbol.for('Jupyter.display')]`). Consumers: renderers/ and the HTML
 * export. Types and constants only; imports nothing.
 */

export const Mime = {
  cka: 'application/vnd.transferlab.cka+json',
  interpolation: 'application/vnd.transferlab.interpolation+json',
  images: 'application/vnd.transferlab.images+json',
  training: 'application/vnd.transferlab.training+json',
  /** Named values a notebook marks as its results (`tl.result`); read by `transferlab sweep`. No renderer: shown as its text. */
  result: 'application/vnd.transferlab.result+json',
  vega: 'application/vnd.vega.v5+json',
  vegaLite: 'application/vnd.vegalite.v5+json',
  html: 'text/html',
  markdown: 'text/markdown',
  plain: 'text/plain',
  png: 'image/png',
  svg: 'image/svg+xml',
  json: 'application/json',
} as const;
export type Mime = (typeof Mime)[keyof typeof Mime];

export const TRANSFERLAB_MIME_TYPES: readonly string[] = [Mime.cka, Mime.interpolation, Mime.images, Mime.training];
export function isTransferLabMime(m: string): boolean {
  return TRANSFERLAB_MIME_TYPES.includes(m);
}

/**
 * The kernel's environment variable that turns the static `image/svg+xml` and `image/png`
 * renderings of charts off (`0`, `false`, `off`, `no`); VS Code's `transferlab.staticFigures` sets it.
 */
export const STATIC_FIGURES_ENV = 'TRANSFERLAB_STATIC_FIGURES';

/** The key under which a value exposes its MIME bundle (deno's and the kernel's convention). */
export const DISPLAY_SYMBOL_KEY = 'Jupyter.display';

/** A MIME bundle: MIME type to payload (strings for text types, base64 for binary, objects for JSON). */
export type MimeBundle = Record<string, unknown>;

/** A value a notebook marks as a result: JSON only (finite numbers, strings, booleans, null, lists, objects). */
export type ResultValue = null | boolean | number | string | readonly ResultValue[] | { readonly [key: string]: ResultValue };

/** `application/vnd.transferlab.result+json`: named results of a notebook (`tl.result`, `tl.results`), in order. */
export interface ResultPayload {
  readonly results: readonly { readonly name: string; readonly value: ResultValue }[];
}

/** `application/vnd.transferlab.cka+json`: a module×module similarity matrix. */
export interface CkaPayload {
  readonly title?: string;
  /** Names along rows (model A's modules) and columns (model B's modules). */
  readonly rows: readonly string[];
  readonly columns: readonly string[];
  /** values[i][j] = CKA(rows[i], columns[j]), normally in [0, 1]. */
  readonly values: readonly (readonly number[])[];
  readonly kind: 'linear' | 'rbf';
  readonly debiased: boolean;
  readonly modelA?: string;
  readonly modelB?: string;
  readonly n?: number;
  /**
   * Optional: uncertainty over examples per cell (same shape as `values`; null where undefined):
   * percentile bootstrap intervals at `level` and permutation p-values; a cell with p > `alpha`
   * is drawn as not distinguishable from the null.
   */
  readonly uncertainty?: {
    readonly level: number;
    readonly alpha: number;
    /** Bootstrap resamples and permutations behind the numbers. */
    readonly bootstrap: number;
    readonly permutations: number;
    readonly lower?: readonly (readonly (number | null)[])[];
    readonly upper?: readonly (readonly (number | null)[])[];
    readonly pValue?: readonly (readonly (number | null)[])[];
  };
  /**
   * Several similarity measures on the same rows and columns (`tl.similarity.matrix`): the heatmap
   * gets a switch between them, and `values` is the first one's. Absent: one measure, the CKA that
   * `kind` and `debiased` describe.
   */
  readonly measures?: readonly MeasureMatrix[];
  /**
   * Several heatmaps side by side on one colour scale, with one legend (`tl.cka.sideBySide`): each
   * panel a payload of its own (without panels); the outer payload's rows, columns and values are
   * the first panel's, so that a reader of one heatmap still finds one.
   */
  readonly panels?: readonly CkaPayload[];
}

/** The similarity measures a module × module heatmap can show (`tl.similarity`). */
export const SimilarityMeasure = { cka: 'cka', svcca: 'svcca', pwcca: 'pwcca', procrustes: 'procrustes', rsa: 'rsa' } as const;
export type SimilarityMeasure = (typeof SimilarityMeasure)[keyof typeof SimilarityMeasure];
export const SIMILARITY_MEASURES: readonly SimilarityMeasure[] = Object.values(SimilarityMeasure);
export function isSimilarityMeasure(s: unknown): s is SimilarityMeasure {
  return typeof s === 'string' && (SIMILARITY_MEASURES as readonly string[]).includes(s);
}

/** One measure's matrix in a {@link CkaPayload} that carries several. */
export interface MeasureMatrix {
  readonly measure: SimilarityMeasure;
  /** What the legend and the switch call it, with its range, e.g. `SVCCA, 99% variance (0–1)`. */
  readonly label: string;
  /** values[i][j] for rows[i], columns[j]; shown on the 0..1 colour scale (clamped), exact on hover. */
  readonly values: readonly (readonly number[])[];
}

/** `application/vnd.transferlab.interpolation+json`: loss/accuracy along θ(λ) for one or more pairs. */
export interface InterpolationPayload {
  readonly title?: string;
  readonly pairs: readonly {
    readonly label: string;
    readonly lambdas: readonly number[];
    readonly loss: readonly number[];
    readonly accuracy: readonly number[];
    /** The barrier by `barrierDefinition` and the λ where it is reached. */
    readonly barrier: number;
    readonly barrierLambda: number;
    /**
     * `linear` (default when absent): max_λ [L(θλ) − ((1−λ)L(θ₁) + λL(θ₂))], height above the chord;
     * `mean`: max_λ L(θλ) − ½(L(θ₁) + L(θ₂)), height above the mean end loss.
     */
    readonly barrierDefinition?: 'linear' | 'mean';
    /**
     * The curve from A to B with B's hidden units permuted to match A (weight matching), on the
     * same λ grid; absent when the pair was not aligned.
     */
    readonly aligned?: {
      readonly loss: readonly number[];
      readonly accuracy: readonly number[];
      readonly barrier: number;
      readonly barrierLambda: number;
    };
    /** Optional: a percentile bootstrap interval of the barrier over evaluation examples. */
    readonly barrierInterval?: { readonly lower: number; readonly upper: number; readonly level: number; readonly bootstrap: number };
  }[];
  /** Cautions shown with the chart (e.g. BatchNorm statistics recomputed on the evaluation data). */
  readonly warnings?: readonly string[];
}

/** `application/vnd.transferlab.images+json`: grids of images, e.g. original vs block-shuffled. */
export interface ImagesPayload {
  readonly title?: string;
  /** One row per variant (e.g. `original`, `block 7`, `block 1`). */
  readonly rows: readonly {
    readonly label: string;
    /** PNG images, base64 without a data: prefix. */
    readonly images: readonly string[];
  }[];
  readonly width: number;
  readonly height: number;
}

/** `application/vnd.transferlab.training+json`: training curves, sent again as they grow. */
export interface TrainingPayload {
  readonly title?: string;
  readonly runs: readonly {
    readonly label: string;
    readonly points: readonly {
      readonly epoch: number;
      readonly step: number;
      readonly loss: number;
      readonly accuracy?: number;
      readonly valLoss?: number;
      readonly valAccuracy?: number;
      readonly examplesPerSecond?: number;
    }[];
    readonly done: boolean;
    /** Why an unfinished run stopped (`interrupted`, `stopped by an error`); absent while it runs. */
    readonly stopped?: string;
  }[];
}
