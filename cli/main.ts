/**
 * The `transferlab` command line:
 *   transferlab kernel install [--user | --prefix DIR | --sys-prefix] [--backend NAME]   the Jupyter kernelspec
 *   transferlab kernel uninstall [--user | --prefix DIR]
 *   transferlab run NOTEBOOK [--out FILE | --in-place] [--html FILE] [--backend NAME] [--param name=value …]
 *   transferlab sweep NOTEBOOK --grid 'seed=[1,2,3]' [--kernels N] [--server URL …] [--out DIR]   runs over a parameter grid
 *   transferlab demo [--out DIR]     runs the flagship notebook on the CPU and writes an HTML report
 *
 * SIGTERM and SIGHUP end any command with status 143 or 129 after cleaning up (cli/signals.ts).
 */
import path from 'node:path';
import { UsageError } from './errors';
import { installKernel, uninstallKernel } from './kernelspec';
import { runImport, runExport, IMPORT_USAGE, EXPORT_USAGE } from './notebookConvert';
import { runRun, stderrTerminal, RUN_USAGE } from './run';
import { runDemo, DEMO_USAGE } from './demo';
import { runSweep, SWEEP_USAGE } from './sweep';
import { exitOnTerminationSignals } from './signals';
import { routeServicesNotesToLogs } from '../client/jupyterServer';

const USAGE = `usage:
  transferlab kernel install [--user | --prefix DIR | --sys-prefix] [--backend NAME]
  transferlab kernel uninstall [--user | --prefix DIR | --sys-prefix]
`;

export const packageRoot = path.resolve(__dirname, '..');

export async function main(argv: string[]): Promise<number> {
  // Remote kernels' library notes go to their logs, not into this command's output.
  routeServicesNotesToLogs();
  const out = (s: string) => void process.stdout.write(s);
  const err = (s: string) => void process.stderr.write(s);
  const [command, ...rest] = argv;
  const restoreSignals = exitOnTerminationSignals(err);
  try {
    switch (command) {
      case 'kernel': {
        const [sub, ...args] = rest;
        if (sub === 'install') return installKernel(args, packageRoot, out);
        if (sub === 'uninstall') return uninstallKernel(args, out);
        throw new UsageError(`unknown kernel command ${JSON.stringify(sub ?? '')}`);
      }
      case 'import':
        return await runImport(rest);
      case 'export':
        return await runExport(rest);
      case 'run':
        return await runRun(rest, undefined, { terminal: stderrTerminal(), handleSigint: true });
      case 'sweep':
        return await runSweep(rest, undefined, { terminal: stderrTerminal(), handleSigint: true });
      case 'demo':
        return await runDemo(rest, { stdout: out, stderr: err }, { terminal: stderrTerminal(), handleSigint: true });
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        out([USAGE, RUN_USAGE, SWEEP_USAGE, DEMO_USAGE, IMPORT_USAGE, EXPORT_USAGE].map((u) => u.trimEnd()).join('\n\n') + '\n');
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      err(`transferlab: ${e.message}\n${USAGE}`);
      return 2;
    }
    throw e;
  } finally {
    restoreSignals();
  }
}
