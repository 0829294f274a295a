/**
 * The parts of VS Code's notebook renderer API (`vscode-notebook-renderer`) the renderers use,
 * declared here so that no types package is needed. Field meanings follow VS Code's
 * documentation of `contributes.notebookRenderer`.
 */

/** One MIME item of a cell output, as VS Code hands it to a renderer. */
export interface OutputItem {
  /** Identifies the output; the same id comes back when the output is updated or disposed. */
  readonly id: string;
  readonly mime: string;
  /** The output's metadata, if any. */
  readonly metadata?: unknown;
  text(): string;
  json(): unknown;
  data(): Uint8Array;
  blob(): Blob;
}

/** What VS Code passes to `activate`. */
export interface RendererContext<TState = unknown> {
  getState(): TState | undefined;
  setState(value: TState): void;
  readonly workspace: { readonly isTrusted: boolean };
  readonly settings?: { readonly lineLimit?: number; readonly outputScrolling?: boolean; readonly outputWordWrap?: boolean };
  postMessage?(message: unknown): void;
}

/** What a renderer's `activate` returns. */
export interface RendererApi {
  /** Renders (or re-renders, after an update) `outputItem` into `element`. */
  renderOutputItem(outputItem: OutputItem, element: HTMLElement, signal: AbortSignal): void | Promise<void>;
  /** Releases the view of one output, or of every output when `id` is undefined. */
  disposeOutputItem?(id?: string): void;
}

/** The `activate` export of a renderer module. */
export type ActivationFunction<TState = unknown> = (context: RendererContext<TState>) => RendererApi | undefined | Promise<RendererApi | undefined>;
