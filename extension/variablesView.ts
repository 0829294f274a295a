/**
 * The "TransferLab Variables" view (Explorer): the active notebook kernel's top-level names with
 * their TypeScript types and values, tensors with shape, dtype and bytes, models with their modules
 * and parameter count, and `tf.memory()` with what each cell added.
 *
 * VS Code's own notebook Variables panel is fed through `NotebookVariableProvider`, a proposed API
 * that a published extension cannot use (@types/vscode has no such type), hence a view of our own.
 * It never asks the kernel: the kernel sends the summary with each execute_reply
 * (kernel/protocol/variables.ts), the session keeps the latest, and while a cell runs the view
 * shows the values as of the last cell that ended and says so.
 */
import * as vscode from 'vscode';
import { formatBytes, type VariablesSummary } from '../kernel/protocol/variables';
import { KernelState } from './kernelProcess';
import type { TransferLabController } from './controller';

/** View id (package.json `contributes.views.explorer`). */
export const VARIABLES_VIEW_ID = 'transferlab.variables';

/** One row of the view, as plain data (tested without VS Code). */
export interface VariableNode {
  readonly label: string;
  readonly description?: string;
  readonly tooltip?: string;
  /** Codicon name. */
  readonly icon?: string;
  readonly children?: readonly VariableNode[];
}

const plural = (n: number, word: string) => `${n} ${word}${Math.abs(n) === 1 ? '' : 's'}`;
const signed = (n: number, text: string) => (n > 0 ? `+${text}` : text);

/** The rows of a summary: `tf.memory()` first (when TensorFlow.js is loaded), then each name. */
export function variableNodes(summary: VariablesSummary): VariableNode[] {
  const nodes: VariableNode[] = [];
  const m = summary.memory;
  if (m) {
    nodes.push({
      label: 'tf.memory()',
      description: `${plural(m.numTensors, 'tensor')} · ${formatBytes(m.numBytes)} (last cell ${signed(m.addedTensors, String(m.addedTensors))}, ${signed(m.addedBytes, formatBytes(m.addedBytes))})`,
      tooltip: 'TensorFlow.js memory: tensors alive and their bytes; below, what each cell added (a cell that keeps adding tensors it does not need leaks).',
      icon: 'pulse',
      children: [...summary.cells].reverse().map((c) => ({
        label: `cell [${c.executionCount}]`,
        description: `${signed(c.addedTensors, plural(c.addedTensors, 'tensor'))}, ${signed(c.addedBytes, formatBytes(c.addedBytes))}`,
      })),
    });
  }
  for (const v of summary.variables) {
    let description = `${v.type}  ${v.value}`;
    let children: VariableNode[] | undefined;
    let icon = v.kind === 'function' ? 'symbol-method' : v.kind === 'class' ? 'symbol-class' : 'symbol-variable';
    if (v.tensor) {
      const t = v.tensor;
      description = `${t.dtype} [${t.shape.join(', ')}] · ${formatBytes(t.bytes)}${t.disposed ? ' · disposed' : ''}`;
      icon = 'symbol-array';
    } else if (v.model) {
      description = `${v.model.arch} · ${v.model.modules.length} modules · ${v.model.parameters.toLocaleString('en-US')} parameters`;
      icon = 'symbol-structure';
      children = v.model.modules.map((name) => ({ label: name, icon: 'symbol-field' }));
    }
    nodes.push({
      label: v.name,
      description,
      tooltip: `${v.kind} ${v.name}: ${v.type}\n${v.value}`,
      icon,
      ...(children ? { children } : {}),
    });
  }
  if (summary.omitted > 0) nodes.push({ label: `… ${plural(summary.omitted, 'older name')} not shown`, icon: 'ellipsis' });
  return nodes;
}

/** The view's message above the rows: why it is empty, or that a cell is running. */
export function variablesMessage(summary: VariablesSummary | undefined, state: KernelState | undefined): string | undefined {
  if (state === KernelState.busy) return summary ? `A cell is running: values as of cell [${summary.executionCount}].` : 'A cell is running.';
  if (state === KernelState.dead) return 'The kernel died: values as of its last cell.';
  if (!summary) return 'Run a cell to see the kernel’s variables.';
  if (summary.variables.length === 0 && !summary.memory) return 'No variables yet.';
  return undefined;
}

export class VariablesView implements vscode.TreeDataProvider<VariableNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly view: vscode.TreeView<VariableNode>;
  private readonly disposables: vscode.Disposable[] = [];
  private nodes: VariableNode[] = [];

  constructor(private readonly controller: TransferLabController) {
    this.view = vscode.window.createTreeView(VARIABLES_VIEW_ID, { treeDataProvider: this, showCollapseAll: true });
    this.disposables.push(
      this.view,
      this.changed,
      vscode.window.onDidChangeActiveNotebookEditor(() => this.refresh()),
      controller.onDidChangeSession(() => this.refresh()),
    );
    // The view shows once a notebook activated the extension (package.json `when`).
    void vscode.commands.executeCommand('setContext', 'transferlab.notebookOpen', true);
    this.refresh();
  }

  /** Re-reads the active notebook's session. */
  refresh(): void {
    const notebook = vscode.window.activeNotebookEditor?.notebook;
    const session = notebook ? this.controller.session(notebook) : undefined;
    const summary = session?.variables;
    this.nodes = summary ? variableNodes(summary) : [];
    this.view.message = notebook && this.controller.isOurs(notebook) ? variablesMessage(summary, session?.kernel.state) : 'Open a TransferLab notebook.';
    this.changed.fire();
  }

  getTreeItem(node: VariableNode): vscode.TreeItem {
    const item = new vscode.TreeItem(node.label, node.children && node.children.length > 0 ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
    item.description = node.description;
    item.tooltip = node.tooltip;
    if (node.icon) item.iconPath = new vscode.ThemeIcon(node.icon);
    return item;
  }

  getChildren(node?: VariableNode): VariableNode[] {
    return node ? [...(node.children ?? [])] : this.nodes;
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
