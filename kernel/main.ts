/**
 * The TransferLab kernel process: `node dist/kernel.js <connection_file>`.
 * Wiring only: the executor worker (cells, with `tl` and `tf` preloaded), the message handler,
 * the ZeroMQ transport, and signals. kernel_info is answered before the compute backend starts.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ConnectionInfo } from './protocol/messages';
import { AUTO_BACKEND, BACKEND_ENV } from './protocol/backends';
import { KernelHandler } from './jupyter/handler';
import { ZmqTransport } from './jupyter/transport';
import { WorkerHost } from './executor/workerHost';

declare const TRANSFERLAB_VERSION: string | undefined;

function log(text: string): void {
  process.stderr.write(`[transferlab kernel] ${text}\n`);
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
  // A kernel whose client process is gone (JPY_PARENT_PID, as Jupyter and the extension set it)
  // shuts down instead of lingering.
  const parent = Number(process.env.JPY_PARENT_PID);
  if (Number.isInteger(parent) && parent > 1) {
    setInterval(() => {
      try {
        process.kill(parent, 0);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ESRCH') {
          log(`parent process ${parent} is gone; shutting down`);
          void shutdown(0);
        }
      }
    }, 1000).unref();
  }
  log(`listening (pid ${process.pid}, cwd ${process.cwd()})`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e: Error) => {
    process.stderr.write(`transferlab kernel failed to start: ${e.stack ?? e.message}\n`);
    process.exit(1);
  });
}
