/**
 * `transferlab kernel install [--user | --prefix DIR | --sys-prefix] [--backend NAME]` and `kernel
 * uninstall`: the Jupyter kernelspec `transferlab`, so JupyterLab, nbclient, nbconvert, VS Code and
 * Jupyter Servers (for remote kernels: docs/remote.md) find the kernel.
 */
import { mkdirSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseCliArgs, type CliOptions } from './args';
import { UsageError } from './errors';
import { AUTO_BACKEND, BACKEND_CHOICES, BACKEND_ENV } from '../kernel/protocol/backends';

export const KERNEL_NAME = 'transferlab';

export { UsageError };

export function userKernelsDir(): string {
  if (process.platform === 'darwin') return path.join(os.homedir(), 'Library', 'Jupyter', 'kernels');
  if (process.platform === 'win32') return path.join(process.env.APPDATA ?? path.join(os.homedir(), 'AppData', 'Roaming'), 'jupyter', 'kernels');
  return path.join(process.env.XDG_DATA_HOME ?? path.join(os.homedir(), '.local', 'share'), 'jupyter', 'kernels');
}

const KERNEL_OPTIONS = {
  user: { type: 'boolean' },
  prefix: { type: 'string', missing: '--prefix needs a directory, e.g. --prefix /usr/local' },
  'sys-prefix': { type: 'boolean' },
  backend: { type: 'string', missing: `--backend needs a name: ${BACKEND_CHOICES.join(', ')}` },
} as const satisfies CliOptions;

/**
 * The kernels folder that `kernel install` and `kernel uninstall` use: under `--prefix DIR`, under
 * /usr/local with `--sys-prefix`, else the user's (also with `--user`). Other arguments than these
 * options are ignored; an unknown option is a {@link UsageError}.
 * @example
 * kernelsDir(['--prefix', '/opt/jupyter']); // '/opt/jupyter/share/jupyter/kernels'
 */
export function kernelsDir(args: readonly string[]): string {
  const { values } = parseCliArgs(args, KERNEL_OPTIONS, { help: false, unknownHint: 'expected --user, --prefix DIR, --sys-prefix or --backend NAME' });
  if (values.prefix !== undefined) {
    if (values.prefix.startsWith('--')) throw new UsageError(KERNEL_OPTIONS.prefix.missing);
    return path.join(path.resolve(values.prefix), 'share', 'jupyter', 'kernels');
  }
  if (values['sys-prefix']) return path.join('/usr/local', 'share', 'jupyter', 'kernels');
  return userKernelsDir();
}

/**
 * The backend `--backend NAME` of `kernel install` fixes for the kernels of this kernelspec (its
 * `env`), e.g. on a Jupyter Server whose notebooks run through `transferlab run --server`;
 * undefined: the kernel chooses (`auto`).
 */
export function kernelspecBackend(args: readonly string[]): string | undefined {
  const { values } = parseCliArgs(args, KERNEL_OPTIONS, { help: false, unknownHint: 'expected --user, --prefix DIR, --sys-prefix or --backend NAME' });
  const b = values.backend;
  if (b === undefined || b === AUTO_BACKEND) return undefined;
  if (!(BACKEND_CHOICES as readonly string[]).includes(b)) throw new UsageError(`--backend ${b}: expected one of ${BACKEND_CHOICES.join(', ')}`);
  return b;
}

export function kernelSpec(packageRoot: string, nodePath = process.execPath, backend?: string) {
  return {
    argv: [nodePath, path.join(packageRoot, 'dist', 'kernel.js'), '{connection_file}'],
    display_name: 'TypeScript (TransferLab)',
    language: 'typescript',
    interrupt_mode: 'signal',
    env: backend !== undefined ? { [BACKEND_ENV]: backend } : {},
    metadata: { debugger: false },
  };
}

export function installKernel(args: readonly string[], packageRoot: string, out: (s: string) => void): number {
  const kernels = kernelsDir(args);
  const backend = kernelspecBackend(args);
  if (!existsSync(path.join(packageRoot, 'dist', 'kernel.js'))) throw new UsageError(`${path.join(packageRoot, 'dist', 'kernel.js')} is missing: run \`npm run build\` first`);
  const dir = path.join(kernels, KERNEL_NAME);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'kernel.json'), `${JSON.stringify(kernelSpec(packageRoot, process.execPath, backend), null, 2)}\n`);
  out(`Installed kernelspec ${KERNEL_NAME} in ${dir}${backend !== undefined ? ` (backend ${backend})` : ''}\n`);
  return 0;
}

export function uninstallKernel(args: readonly string[], out: (s: string) => void): number {
  const dir = path.join(kernelsDir(args), KERNEL_NAME);
  if (!existsSync(dir)) {
    out(`No kernelspec ${KERNEL_NAME} in ${path.dirname(dir)}\n`);
    return 1;
  }
  rmSync(dir, { recursive: true, force: true });
  out(`Removed ${dir}\n`);
  return 0;
}
