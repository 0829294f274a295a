/**
 * A CKA value of two representations with its uncertainty over examples: what `tl.cka.linear` and
 * `tl.cka.rbf` return when asked for `uncertainty`. Acts as its number in arithmetic (`valueOf`).
 */
import type { MimeBundle } from '../../protocol/mime';
import { Mime } from '../../protocol/mime';
import { DISPLAY, type Displayable } from '../display';
import { fmt } from '../results';
import type { CkaKind } from './options';
import type { CkaUncertainty } from './uncertainty';

/** A CKA value, its bootstrap interval and its permutation p-value. */
export class CkaEstimate implements Displayable {
  /** The CKA value on all examples (the same number the call returns without `uncertainty`). */
  readonly estimate: number;
  /** Percentile bootstrap interval over examples (NaN when no bootstrap was asked for). */
  readonly lower: number;
  readonly upper: number;
  /** Permutation p-value, (1 + #{null ≥ observed}) / (1 + permutations) (NaN when no permutations). */
  readonly pValue: number;
  /** p > alpha: not distinguishable from CKA of unrelated (shuffled) examples. False without permutations. */
  readonly indistinguishable: boolean;
  readonly level: number;
  readonly alpha: number;
  readonly bootstrap: number;
  readonly permutations: number;
  readonly kind: CkaKind;
  readonly debiased: boolean;
  readonly n: number;

  constructor(estimate: number, u: CkaUncertainty, meta: { kind: CkaKind; debiased: boolean; n: number }) {
    this.estimate = estimate;
    this.lower = u.lower?.[0]?.[0] ?? Number.NaN;
    this.upper = u.upper?.[0]?.[0] ?? Number.NaN;
    this.pValue = u.pValue?.[0]?.[0] ?? Number.NaN;
    this.indistinguishable = u.indistinguishable?.[0]?.[0] ?? false;
    this.level = u.level;
    this.alpha = u.alpha;
    this.bootstrap = u.bootstrap;
    this.permutations = u.permutations;
    this.kind = meta.kind;
    this.debiased = meta.debiased;
    this.n = meta.n;
  }

  /** The estimate, so that `+v` (or `v.estimate`) is the number the call returns without `uncertainty`. */
  valueOf(): number {
    return this.estimate;
  }

  toString(): string {
    const parts = [`${this.debiased ? 'debiased ' : ''}${this.kind} CKA ${fmt(this.estimate, 4)}`];
    if (this.bootstrap > 0) parts.push(`${Math.round(this.level * 100)}% interval [${fmt(this.lower, 4)}, ${fmt(this.upper, 4)}] (percentile bootstrap over examples, ${this.bootstrap} resamples)`);
    if (this.permutations > 0) {
      parts.push(`permutation p = ${fmt(this.pValue, 4)} (${this.permutations} permutations)${this.indistinguishable ? `: not distinguishable from the null at α = ${this.alpha}` : ''}`);
    }
    return `${parts.join(', ')}; n = ${this.n}`;
  }

  [DISPLAY](): MimeBundle {
    return { [Mime.plain]: this.toString() };
  }
}
