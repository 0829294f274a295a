/**
 * `transferlab sweep`, split by concept: the grid (grid.ts), run keys (runKey.ts), the pool of
 * kernel slots (pool.ts, slots.ts), what is read back from each run (results.ts), the manifest
 * (manifest.ts), the summary (summary.ts), the progress line (progress.ts) and the command
 * (command.ts).
 */
export { canonicalJson, describePoint, gridPoints, parseGrid, type GridAxis } from './grid';
export { notebookFingerprint, runFileName, runKey } from './runKey';
export { RunStatus, runPool, type KernelSlot, type PoolEvent, type PoolOptions, type RunOutcome, type SweepTask } from './pool';
export { localSlot, serverSlot, type KernelServer, type LocalSlotOptions } from './slots';
export { findingsCountsOf, resultsOf, type FindingsCounts } from './results';
export { MANIFEST_FILE, readManifest, writeManifest, type SweepManifest, type SweepRunRecord } from './manifest';
export { SUMMARY_HTML, SUMMARY_NOTEBOOK, summaryNotebook, writeSummary, type SummaryRow } from './summary';
export { SweepProgress } from './progress';
export { SWEEP_USAGE, defaultSweepFolder, parseSweepArgs, runSweep, type SweepArgs, type SweepCommandOptions, type SweepServer } from './command';
