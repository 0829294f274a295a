/**
 * `transferlab run`, split by concept: parameters (parameters.ts), running cells on a kernel and
 * how they fail (execution.ts), the progress on stderr (progress.ts), reading and writing
 * notebooks and reports (writing.ts), and the command itself (command.ts). This index re-exports
 * their public names, so that `import … from './run'` keeps working.
 */
export { CellExecutionError, FailureKind, ParameterError } from '../errors';
export { applyCarriageReturns, toTsnbBundle } from '../../kernel/protocol/outputs';
export {
  INJECTED_PARAMETERS_TAG,
  PARAMETERS_TAG,
  RAISES_EXCEPTION_TAG,
  SKIP_EXECUTION_TAG,
  injectParameters,
  injectedSource,
  parameterDeclarations,
  parseParameterValue,
  parseParameters,
  type ParameterDeclaration,
} from './parameters';
export {
  OutputCollector,
  RUN_BACKENDS,
  runNotebook,
  type RunEvent,
  type RunNotebookOptions,
  type RunNotebookResult,
} from './execution';
export { ProgressReporter, progressText, stderrTerminal, type ProgressTerminal } from './progress';
export { defaultOutput, readNotebook, writeHtmlReport, writeNotebook } from './writing';
export { RUN_USAGE, parseRunArgs, runNotebookFile, runRun, type RunArgs, type RunCommandOptions } from './command';
