/**
 * The signatures of the last messages received, so that a captured signed message sent again
 * (a replay) is recognised and dropped instead of run twice. Bounded, as ipykernel's digest
 * history is: the oldest signatures are forgotten first.
 */

/** How many signatures are remembered by default (ipykernel keeps 2¹⁴; 10,000 is plenty at kernel rates). */
export const DIGEST_HISTORY_SIZE = 10_000;

export class DigestHistory {
  private readonly seen = new Set<string>();
  private readonly order: string[] = [];
  private oldest = 0;

  constructor(readonly capacity = DIGEST_HISTORY_SIZE) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`DigestHistory: capacity must be a positive integer, got ${capacity}`);
  }

  /**
   * Records a signature; false when it was already among the remembered ones (a replay).
   * Empty signatures (signing disabled) are never recorded: every message then looks new.
   */
  add(signature: string): boolean {
    if (signature === '') return true;
    if (this.seen.has(signature)) return false;
    this.seen.add(signature);
    if (this.order.length < this.capacity) {
      this.order.push(signature);
    } else {
      this.seen.delete(this.order[this.oldest]!);
      this.order[this.oldest] = signature;
      this.oldest = (this.oldest + 1) % this.capacity;
    }
    return true;
  }

  get size(): number {
    return this.seen.size;
  }
}
