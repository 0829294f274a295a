/**
 * Display ids: which outputs, in which cells, show a display (the `transient.display_id` of
 * display_data and execute_result), so that update_display_data replaces every one of them, in
 * whichever cell it was shown. Kept apart from the output reducer ({@link ./outputs}), as
 * vscode-jupyter keeps its display-id tracking apart from its output handling.
 *
 * Pure: every function returns a new value and leaves its argument as it was. `C` is the caller's
 * key for a cell (a VS Code cell, a notebook cell's output array); it is compared by identity.
 */

/** An output showing a display: its cell and its position among the cell's outputs. */
export interface DisplayRef<C> {
  readonly cell: C;
  readonly index: number;
}

/** display_id → the outputs showing it, in the order they were shown. */
export type DisplayIds<C> = ReadonlyMap<string, readonly DisplayRef<C>[]>;

/** No display shown yet. */
export function emptyDisplayIds<C>(): DisplayIds<C> {
  return new Map();
}

/**
 * The display id of a display_data, execute_result or update_display_data content (its
 * `transient.display_id`), or undefined when it has none (or an empty one).
 * @example
 * displayIdOf({ data: {}, metadata: {}, transient: { display_id: 'progress' } }); // 'progress'
 */
export function displayIdOf(content: unknown): string | undefined {
  if (content === null || typeof content !== 'object') return undefined;
  const transient = (content as { transient?: unknown }).transient;
  if (transient === null || typeof transient !== 'object') return undefined;
  const id = (transient as { display_id?: unknown }).display_id;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

/** `ids` with one more output showing `displayId`. */
export function addDisplay<C>(ids: DisplayIds<C>, displayId: string, ref: DisplayRef<C>): DisplayIds<C> {
  const next = new Map(ids);
  next.set(displayId, [...(ids.get(displayId) ?? []), ref]);
  return next;
}

/** The outputs showing `displayId` (none for an id never shown, or forgotten). */
export function displaysOf<C>(ids: DisplayIds<C>, displayId: string): readonly DisplayRef<C>[] {
  return ids.get(displayId) ?? [];
}

/**
 * `ids` without the displays of `cell` from output `fromIndex` on (all of them by default): the
 * cell was re-run or its outputs were cleared, so updates no longer reach them.
 */
export function forgetCell<C>(ids: DisplayIds<C>, cell: C, fromIndex = 0): DisplayIds<C> {
  let changed = false;
  const next = new Map<string, readonly DisplayRef<C>[]>();
  for (const [id, refs] of ids) {
    const kept = refs.filter((r) => r.cell !== cell || r.index < fromIndex);
    if (kept.length !== refs.length) changed = true;
    if (kept.length > 0) next.set(id, kept);
  }
  return changed ? next : ids;
}
