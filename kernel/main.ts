/**
 * The TransferLab kernel process: `node dist/kernel.js <connection_file>`.
 * Wiring only: the executor worker (cells, with `tl` and `tf` preloaded), the message handler,
 * the ZeroMQ transport, and signals. kernel_info is answered before the compute backend starts.
 */
import { readFileSync, rmSync, rmdirSync } from 'node:fs';
import path from 'node:path';
import type { ConnectionInfo } from './protocol/messages';
import { AUTO_BACKEND, BACKEND_ENV } from './protocol/backends';
import { KernelHandler } from './jupyter/handler';
import { ZmqTransport } from './jupyter/transport';
import { WorkerHost } from './executor/workerHost';
import { OWNS_CONNECTION_FILE_ENV, PARENT_PID_ENV } from './protocol/environment';

declare const TRANSFERLAB_VERSION: string | undefined;

function log(text: string): void {
  process.stderr.write(`[transferlab kernel] ${text}\n`);
}

/** How often the kernel looks whether its client process is still there. */
const PARENT_POLL_MS = 500;

/**
 * A kernel whose client process is gone (`JPY_PARENT_PID`, as Jupyter, the extension and
 * KernelClient set it) calls `onOrphaned` instead of lingering. A kernel started by that very
 * process sees its parent pid change when the parent dies (even by SIGKILL, even before anyone
 * reaps it, and whatever process later reuses the pid); otherwise the pid is probed with signal 0.
 * With {@link OWNS_CONNECTION_FILE_ENV} set, the connection file (it holds the signing key) and its
 * folder are removed first, since the dead client cannot do it.
 */
function watchParent(connectionFile: string, onOrphaned: () => void): void {
  const parent = Number(process.env[PARENT_PID_ENV]);
  if (!Number.isInteger(parent) || parent <= 1) return;
  const direct = process.ppid === parent;
  const gone = (): boolean => {
    if (direct) return process.ppid !== parent;
    try {
      process.kill(parent, 0);
      return false;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ESRCH';
    }
  };
  const timer = setInterval(() => {
    if (!gone()) return;
    clearInterval(timer);
    if (process.env[OWNS_CONNECTION_FILE_ENV] === '1') {
      try {
        rmSync(connectionFile, { force: true });
        rmdirSync(path.dirname(connectionFile));
      } catch {
        // The folder holds something else, or is gone already: leave it.
      }
    }
    // stdout and stderr may be pipes to the dead parent: a failed write (EPIPE) must not crash
    // the shutdown.
    for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
    log(`parent process ${parent} is gone; shutting down`);
    onOrphaned();
    // A shutdown that hangs (a socket that will not close) must not keep an orphan alive.
    setTimeout(() => process.exit(0), 3000).unref();
  }, PARENT_POLL_MS);
  timer.unref();
}

export async function main(argv: string[]): Promise<void> {
  const file = argv.find((a) => !a.startsWith('-'));
  if (!file) {
    process.stderr.write('usage: node kernel.js <connection_file>\n');
    process.exit(2);
  }
  let info: ConnectionInfo;
  try {
    info = JSON.parse(readFileSync(file, 'utf8')) as ConnectionInfo;
  } catch (e) {
    process.stderr.write(`transferlab kernel: cannot read connection file ${file}: ${(e as Error).message}\n`);
    process.exit(2);
  }
  const packageRoot = path.resolve(__dirname, '..');
  const version = typeof TRANSFERLAB_VERSION === 'string' ? TRANSFERLAB_VERSION : '0.0.0';
  const executor = new WorkerHost({ script: path.join(__dirname, 'kernelWorker.js'), cwd: process.cwd(), packageRoot });
  const transport = new ZmqTransport(info, log);
  let shuttingDown = false;
  const shutdown = async (code: number) => {
    if (shuttingDown) return;
    shuttingDown = true;
    await transport.close();
    await executor.close().catch(() => undefined);
    process.exit(code);
  };
  const handler = new KernelHandler(executor, transport, {
    version,
    backendChoice: process.env[BACKEND_ENV] || AUTO_BACKEND,
    onShutdown: () => void shutdown(0),
  });
  executor.on('log', log);
  executor.on('died', (e: Error) => transport.publish('stream', { name: 'stderr', text: `${e.message}\n` }, undefined));
  await transport.bind();
  transport.listen((channel, msg) => void handler.handle(channel, msg));
  // interrupt_mode "signal": SIGINT stops the running cell; the kernel stays up.
  process.on('SIGINT', () => void executor.interrupt());
  process.on('SIGTERM', () => void shutdown(0));
  // The handler and transport catch what goes wrong with one message; should anything still
  // escape as a rejected promise, it is logged and the kernel goes on (Node would exit).
  process.on('unhandledRejection', (e) => log(`unhandled rejection: ${(e as Error)?.stack ?? String(e)}`));
  process.on('disconnect', () => void shutdown(0));
  watchParent(file, () => void shutdown(0));
  log(`listening (pid ${process.pid}, cwd ${process.cwd()})`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e: Error) => {
    process.stderr.write(`transferlab kernel failed to start: ${e.stack ?? e.message}\n`);
    process.exit(1);
  });
}
