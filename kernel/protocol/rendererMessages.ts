/**
 * Messages between the chart renderers (renderers/) and the extension (extension/figureExport.ts),
 * through VS Code's renderer messaging (`context.postMessage` ↔ `createRendererMessaging`): a
 * webview cannot download or write files, so "Save as PNG/SVG" hands the image to the extension,
 * which asks where to save it; "Copy" falls back to the extension's clipboard (SVG text) where the
 * webview may not write images to the clipboard. Types and pure functions only.
 */

export const RendererMessageType = {
  saveImage: 'transferlab.saveImage',
  copyImage: 'transferlab.copyImage',
} as const;
export type RendererMessageType = (typeof RendererMessageType)[keyof typeof RendererMessageType];

/** Save a chart: PNG as base64 (no data: prefix), SVG as text. */
export interface SaveImageMessage {
  readonly type: typeof RendererMessageType.saveImage;
  readonly format: 'png' | 'svg';
  readonly data: string;
  /** A file name to suggest, without folder (e.g. `CKA heatmap.png`). */
  readonly name: string;
}

/** Copy a chart as SVG text to the clipboard (when the webview could not copy a PNG itself). */
export interface CopyImageMessage {
  readonly type: typeof RendererMessageType.copyImage;
  readonly svg: string;
}

export type RendererMessage = SaveImageMessage | CopyImageMessage;

/** The renderers that draw charts and so offer Save/Copy (package.json's `requiresMessaging: optional`). */
export const CHART_RENDERER_IDS: readonly string[] = ['transferlab-cka', 'transferlab-interpolation', 'transferlab-training', 'transferlab-vegalite'];

/**
 * Whether `m` is a well-formed {@link RendererMessage} (messages come from a webview: checked, not trusted).
 * @example
 * isRendererMessage({ type: 'transferlab.copyImage', svg: '<svg/>' }) // true
 */
export function isRendererMessage(m: unknown): m is RendererMessage {
  if (m === null || typeof m !== 'object') return false;
  const r = m as Record<string, unknown>;
  if (r['type'] === RendererMessageType.saveImage) {
    return (r['format'] === 'png' || r['format'] === 'svg') && typeof r['data'] === 'string' && typeof r['name'] === 'string';
  }
  if (r['type'] === RendererMessageType.copyImage) return typeof r['svg'] === 'string';
  return false;
}

/**
 * A safe file name for a chart: its title with characters that no file system likes replaced,
 * at most 80 characters, and the extension.
 * @example
 * imageFileName('CKA: P-T vs RI-T', 'png') // 'CKA - P-T vs RI-T.png'
 */
export function imageFileName(title: string | undefined, format: 'png' | 'svg'): string {
  const base = (title ?? '')
    .replace(/[:]/g, ' -')
    .replace(/[\\/*?"<>|\u0000-\u001f]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 80)
    .replace(/^\.+/, '');
  return `${base === '' ? 'chart' : base}.${format}`;
}
