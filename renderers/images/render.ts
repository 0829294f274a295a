/**
 * Draws image grids (`application/vnd.transferlab.images+json`), e.g. originals against
 * block-shuffled versions at several block sizes: one labelled row per variant. Plain DOM: the
 * PNGs are shown as they are, scaled up without smoothing so that blocks stay visible.
 */
import type { ImagesPayload } from '../../kernel/protocol/mime';
import type { Theme } from '../common/theme';
import type { RenderedView } from '../common/vega';

/** Display size: small images are scaled up by an integer factor (at most 8) towards 64 px; MNIST's 28 px become 56. */
export function displayScale(width: number, height: number): number {
  return Math.max(1, Math.min(8, Math.floor(64 / Math.max(width, height))));
}

export function renderImages(host: HTMLElement, payload: ImagesPayload, _theme: Theme): Promise<RenderedView> {
  const doc = host.ownerDocument;
  const scale = displayScale(payload.width, payload.height);
  if (payload.title !== undefined) {
    const title = doc.createElement('div');
    title.className = 'tl-title';
    title.textContent = payload.title;
    host.append(title);
  }
  const grid = doc.createElement('div');
  grid.className = 'tl-images';
  grid.style.gridTemplateColumns = 'max-content 1fr';
  grid.setAttribute('role', 'table');
  for (const row of payload.rows) {
    const label = doc.createElement('div');
    label.className = 'tl-label';
    label.textContent = row.label;
    label.setAttribute('role', 'rowheader');
    const images = doc.createElement('div');
    images.className = 'tl-row';
    row.images.forEach((b64, k) => {
      const img = doc.createElement('img');
      img.alt = `${row.label}, image ${k + 1}`;
      img.width = payload.width * scale;
      img.height = payload.height * scale;
      img.src = `data:image/png;base64,${b64.replace(/\s+/g, '')}`;
      images.append(img);
    });
    grid.append(label, images);
  }
  host.append(grid);
  return Promise.resolve({ dispose: () => host.replaceChildren() });
}
