/**
 * What every cell sees without declaring it, as declarations for the type checker: the analysis
 * API (`tl`), TensorFlow.js (`tf`) and the display API. One text for the kernel's checker and the
 * editor's (kernel/executor/checkerWorker.ts), so both report the same errors.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { DISPLAY_DECLARATIONS } from './display';

/** The prelude of the full checker: `tl` from the package's declaration files (dist/types), `tf`, display. */
export function preludeDeclarations(packageRoot: string): string {
  return [
    existsSync(path.join(packageRoot, 'dist', 'types', 'kernel', 'analysis', 'index.d.ts')) ? "import * as __tl from 'transferlab';" : 'const __tl: any = {};',
    "import * as __tf from '@tensorflow/tfjs';",
    'declare global {',
    '  /** The TransferLab analysis API (preloaded; also `import * as tl from "transferlab"`). */',
    '  export import tl = __tl;',
    '  /** TensorFlow.js (preloaded). */',
    '  export import tf = __tf;',
    DISPLAY_DECLARATIONS,
    '}',
    'export {};',
  ].join('\n');
}

/** The light checker's prelude: console (a subset of Node's typing of it) and the display API. */
export const LIGHT_PRELUDE_DECLARATIONS = [
  'declare global {',
  '  var console: { log(...data: any[]): void; info(...data: any[]): void; warn(...data: any[]): void; error(...data: any[]): void; debug(...data: any[]): void };',
  DISPLAY_DECLARATIONS,
  '}',
  'export {};',
].join('\n');
