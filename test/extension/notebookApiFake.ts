/**
 * Stand-ins for the notebook data constructors of the `vscode` module (which exists only in the
 * extension host), with the same fields as the real classes: what the serializer's `NotebookApi`
 * builds notebooks with. No side effects (unlike vscodeFake.ts, importing this routes nothing).
 */
import type * as vscode from 'vscode';

/** `vscode.NotebookCellKind`. */
export const Kind = { Markup: 1 as vscode.NotebookCellKind, Code: 2 as vscode.NotebookCellKind };

/** `vscode.NotebookCellData`. */
export class CellData {
  outputs?: vscode.NotebookCellOutput[];
  metadata?: { [key: string]: unknown };
  executionSummary?: vscode.NotebookCellExecutionSummary;
  constructor(
    public kind: vscode.NotebookCellKind,
    public value: string,
    public languageId: string,
  ) {}
}

/** `vscode.NotebookData`. */
export class Data {
  metadata?: { [key: string]: unknown };
  constructor(public cells: vscode.NotebookCellData[]) {}
}
