/**
 * Charts fit their container: a chart is laid out for the width its output element has (the
 * builders in kernel/protocol/charts take it as `width`), and drawn again when that width changes
 * by more than {@link REFIT_THRESHOLD} px (a narrower editor, a resized report window), so that
 * axes and legends shrink or move instead of being cut off. Redraws are debounced and swapped in
 * when ready, as updates are (common/activation.ts).
 */
import type { RenderedView } from './vega';

/** Width change (px) that makes a chart be drawn again. */
export const REFIT_THRESHOLD = 24;

/** Debounce (ms) of redraws while a container is being resized. */
export const REFIT_DELAY_MS = 150;

/** The width (px) available to a chart in `host`, or undefined where layout gives none (detached, hidden). */
export function availableWidth(host: HTMLElement): number | undefined {
  for (let el: HTMLElement | null = host; el !== null; el = el.parentElement) {
    const w = el.clientWidth;
    if (w > 0) return w;
  }
  return undefined;
}

/**
 * Draws with `draw(target, width)` into a child of `host` laid out for `host`'s width, and again
 * when that width changes; the returned view disposes whichever drawing is current and stops
 * watching.
 *
 * @example
 * return drawToFit(host, (target, width) => embedVegaLite(target, trainingSpec(payload, theme, { width }), theme));
 */
export async function drawToFit(host: HTMLElement, draw: (target: HTMLElement, width: number | undefined) => Promise<RenderedView>): Promise<RenderedView> {
  const doc = host.ownerDocument;
  let width = availableWidth(host);
  let target = doc.createElement('div');
  host.append(target);
  let current = await draw(target, width);
  let disposed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let generation = 0;
  const refit = async (): Promise<void> => {
    const w = availableWidth(host);
    if (disposed || w === undefined || (width !== undefined && Math.abs(w - width) < REFIT_THRESHOLD)) return;
    const g = ++generation;
    width = w;
    const next = doc.createElement('div');
    host.append(next);
    let view: RenderedView;
    try {
      view = await draw(next, w);
    } catch {
      next.remove();
      return;
    }
    if (disposed || g !== generation) {
      view.dispose();
      next.remove();
      return;
    }
    current.dispose();
    target.remove();
    current = view;
    target = next;
  };
  const Observer = doc.defaultView?.ResizeObserver;
  const observer =
    Observer === undefined
      ? undefined
      : new Observer(() => {
          if (timer !== undefined) clearTimeout(timer);
          timer = setTimeout(() => void refit(), REFIT_DELAY_MS);
        });
  observer?.observe(host);
  return {
    dispose(): void {
      if (disposed) return;
      disposed = true;
      if (timer !== undefined) clearTimeout(timer);
      observer?.disconnect();
      current.dispose();
    },
  };
}
