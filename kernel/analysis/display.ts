/**
 * The key under which results expose their MIME bundle (kernel/protocol/mime.ts
 * DISPLAY_SYMBOL_KEY): `[DISPLAY]()` returns e.g. {'text/plain': …, 'application/vnd…': …}. The
 * kernel calls it on a cell's value; nothing here knows about the kernel.
 */
import { DISPLAY_SYMBOL_KEY, type MimeBundle } from '../protocol/mime';

export const DISPLAY: unique symbol = Symbol.for(DISPLAY_SYMBOL_KEY) as never;

/** Anything that displays itself. */
export interface Displayable {
  [DISPLAY](): MimeBundle;
}
