/**
 * A real Jupyter Server (Debian's python3-jupyter-server) for the tests of remote kernels and
 * sweeps: on loopback, with a token and a base path (as JupyterHub serves `/user/NAME/`), its own
 * config, data and runtime folders, and the TransferLab kernelspec installed where it looks.
 * It can be killed and started again on the same port (a server restart mid-session).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PYTHON, installKernelspec, requirePythonModule } from './tools';

export interface TestJupyterServer {
  /** `http://127.0.0.1:PORT/BASE/` (no token). */
  readonly url: string;
  readonly token: string;
  readonly port: number;
  /** The folder the server serves (notebook paths are relative to it). */
  readonly rootDir: string;
  /** Everything the server wrote to its log so far. */
  log(): string;
  /** Kills the server (SIGKILL) and waits for it to exit. Its kernels are left orphaned, then killed. */
  kill(): Promise<void>;
  /** Starts it again on the same port, token and base path. */
  start(): Promise<void>;
  /** Stops it for good and removes its folders. */
  dispose(): Promise<void>;
}

export interface TestJupyterServerOptions {
  /** The base path, default `/user/tester/`. */
  readonly basePath?: string;
  /** Install the TransferLab kernelspec (default true); false: a server without it. */
  readonly withKernelspec?: boolean;
  /** The token; default a fresh random one. */
  readonly token?: string;
  /** Extra environment of the server (and so of its kernels). */
  readonly env?: NodeJS.ProcessEnv;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts a Jupyter Server. Fails naming the Debian package when jupyter_server is missing.
 * @example
 * const server = await startJupyterServer();
 * after(() => server.dispose());
 */
export async function startJupyterServer(options: TestJupyterServerOptions = {}): Promise<TestJupyterServer> {
  requirePythonModule('jupyter_server', 'python3-jupyter-server');
  const base = options.basePath ?? '/user/tester/';
  const token = options.token ?? randomBytes(24).toString('hex');
  const home = mkdtempSync(path.join(os.tmpdir(), 'transferlab-jupyter-'));
  const rootDir = path.join(home, 'root');
  mkdirSync(rootDir);
  const jupyterPath = options.withKernelspec === false ? path.join(home, 'empty') : installKernelspec();
  const port = await freePort();
  let child: ChildProcess | undefined;
  let text = '';
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    JUPYTER_PATH: jupyterPath,
    JUPYTER_CONFIG_DIR: path.join(home, 'config'),
    JUPYTER_DATA_DIR: path.join(home, 'data'),
    JUPYTER_RUNTIME_DIR: path.join(home, 'runtime'),
    JUPYTER_PLATFORM_DIRS: '1',
    TRANSFERLAB_BACKEND: 'wasm',
    ...options.env,
  };
  // The server's kernels must not think this test process is their parent.
  delete env['JPY_PARENT_PID'];

  const start = async (): Promise<void> => {
    const args = [
      '-m', 'jupyter_server', '--allow-root', '--no-browser', '--ip=127.0.0.1', `--port=${port}`, '--ServerApp.port_retries=0',
      `--ServerApp.token=${token}`, `--ServerApp.base_url=${base}`, `--ServerApp.root_dir=${rootDir}`,
      // Only the token: no password, and kernels shut down quickly when the server stops.
      '--ServerApp.password=', '--ServerApp.shutdown_no_activity_timeout=0',
    ];
    const c = spawn(PYTHON, args, { cwd: rootDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    const exited = new Promise<never>((_, reject) => c.once('exit', (code, signal) => reject(new Error(`jupyter_server exited (${signal ?? code}) before it served; its log:\n${text.slice(-3000)}`))));
    exited.catch(() => undefined);
    c.stdout?.on('data', (d: Buffer) => (text += d.toString()));
    c.stderr?.on('data', (d: Buffer) => (text += d.toString()));
    const deadline = Date.now() + 60_000;
    const url = `http://127.0.0.1:${port}${base}api/status`;
    for (;;) {
      if (Date.now() > deadline) throw new Error(`jupyter_server did not answer ${base}api/status within 60 s; its log:\n${text.slice(-3000)}`);
      const ok = await Promise.race([
        fetch(url, { headers: { Authorization: `token ${token}` } }).then((r) => r.ok, () => false),
        exited,
      ]);
      if (ok) return;
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  const kill = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGKILL');
    await gone;
  };

  await start();
  return {
    url: `http://127.0.0.1:${port}${base}`,
    token,
    port,
    rootDir,
    log: () => text,
    kill,
    start,
    async dispose() {
      const c = child;
      if (c && c.exitCode === null && c.signalCode === null) {
        const gone = new Promise<void>((r) => c.once('exit', () => r()));
        c.kill('SIGTERM');
        const t = setTimeout(() => c.kill('SIGKILL'), 5000);
        await gone;
        clearTimeout(t);
      }
      child = undefined;
      rmSync(home, { recursive: true, force: true });
      if (options.withKernelspec !== false) rmSync(path.dirname(path.dirname(jupyterPath)), { recursive: true, force: true });
    },
  };
}
