/**
 * Jupyter content as VS Code notebook outputs: MIME bundles as output items (richest first),
 * nbformat-shaped outputs from the output reducer as VS Code outputs, and errors, with the same
 * metadata the .tsnb serializer writes ({@link TsnbOutputMetadata}), so what runs is what saves.
 */
import * as vscode from 'vscode';
import { KernelStartError } from '../client/errors';
import type { DisplayDataContent, ErrorContent, ExecuteResultContent, MimeBundle } from '../kernel/protocol/messages';
import { isBinaryMime, isJsonMime, type TsnbOutput } from '../kernel/protocol/tsnb';
import { Mime, isTransferLabMime } from '../kernel/protocol/mime';
import { VscodeMime, type TsnbOutputMetadata } from './serializer';
import { Messages, errorMessage } from './errors';

/** Order in which a bundle's items are given to VS Code: richest first (it picks the first it can render). */
function mimeRank(mime: string): number {
  if (isTransferLabMime(mime)) return 0;
  if (mime === Mime.vegaLite) return 1;
  if (mime === Mime.html || mime === Mime.svg) return 2;
  if (mime.startsWith('image/')) return 3;
  if (mime === Mime.markdown) return 4;
  if (mime === Mime.plain) return 9;
  return 5;
}

/** The output items of a Jupyter MIME bundle (JSON as JSON text, binary decoded from base64). */
export function bundleItems(bundle: MimeBundle): vscode.NotebookCellOutputItem[] {
  return Object.entries(bundle)
    .sort(([a], [b]) => mimeRank(a) - mimeRank(b))
    .map(([mime, value]) => {
      if (isJsonMime(mime)) return vscode.NotebookCellOutputItem.json(value, mime);
      const text = Array.isArray(value) ? value.join('') : typeof value === 'string' ? value : JSON.stringify(value);
      if (isBinaryMime(mime)) return new vscode.NotebookCellOutputItem(Buffer.from(text, 'base64'), mime);
      return vscode.NotebookCellOutputItem.text(text, mime);
    });
}

export function displayOutput(type: 'display_data' | 'execute_result', content: DisplayDataContent | ExecuteResultContent): vscode.NotebookCellOutput {
  const metadata: TsnbOutputMetadata = { outputType: type, metadata: (content.metadata ?? {}) as TsnbOutputMetadata['metadata'] };
  if (type === 'execute_result') metadata.executionCount = (content as ExecuteResultContent).execution_count;
  return new vscode.NotebookCellOutput(bundleItems(content.data), metadata);
}

function streamItem(name: string, text: string): vscode.NotebookCellOutputItem {
  return vscode.NotebookCellOutputItem.text(text, name === 'stderr' ? VscodeMime.stderr : VscodeMime.stdout);
}

/** The VS Code output of one of the reducer's outputs. */
export function cellOutput(output: TsnbOutput): vscode.NotebookCellOutput {
  switch (output.output_type) {
    case 'stream':
      return new vscode.NotebookCellOutput([streamItem(output.name, output.text)], { outputType: 'stream' } satisfies TsnbOutputMetadata);
    case 'display_data':
      return displayOutput('display_data', { data: output.data, metadata: output.metadata });
    case 'execute_result':
      return displayOutput('execute_result', { data: output.data, metadata: output.metadata, execution_count: output.execution_count as number });
    case 'error':
      return errorOutput({ ename: output.ename, evalue: output.evalue, traceback: output.traceback });
    default: {
      const never: never = output;
      return never;
    }
  }
}

/** The items of one of the reducer's outputs (what replaces an output's items when it changes). */
export function cellOutputItems(output: TsnbOutput): vscode.NotebookCellOutputItem[] {
  if (output.output_type === 'stream') return [streamItem(output.name, output.text)];
  if (output.output_type === 'error') return errorOutput(output).items;
  return bundleItems(output.data);
}

/**
 * The error content of an extension-side failure: its name and message (a {@link KernelStartError}
 * of the editor also names the setting that chooses the Node executable).
 */
export function errorContent(error: unknown): ErrorContent {
  const evalue = error instanceof KernelStartError && error.nodePath !== undefined ? `${errorMessage(error)} ${Messages.checkNodePath}` : errorMessage(error);
  return { ename: error instanceof Error ? error.name : 'Error', evalue, traceback: [] };
}

/** An error output: from the kernel's error content, or from an extension-side failure. */
export function errorOutput(error: ErrorContent | unknown): vscode.NotebookCellOutput {
  const content: ErrorContent = isErrorContent(error) ? error : errorContent(error);
  const stack = content.traceback.length > 0 ? content.traceback.join('\n') : `${content.ename}: ${content.evalue}`;
  const metadata: TsnbOutputMetadata = {
    outputType: 'error',
    originalError: { ename: content.ename, evalue: content.evalue, traceback: [...content.traceback] },
  };
  return new vscode.NotebookCellOutput(
    [vscode.NotebookCellOutputItem.error({ name: content.ename, message: content.evalue, stack })],
    metadata,
  );
}

function isErrorContent(x: unknown): x is ErrorContent {
  return typeof x === 'object' && x !== null && typeof (x as ErrorContent).ename === 'string' && Array.isArray((x as ErrorContent).traceback);
}
