/**
 * The executor worker: where cells run. Owns the global scope that cells share, captures
 * stdout/stderr and displays, and answers the main thread's requests (workerProtocol.ts).
 * The analysis API (`tl`) and TensorFlow.js (`tf`) are preloaded as globals, lazily: the first
 * access loads them, and a background preload starts once the type checker is warm.
 */
// First: load the TypeScript compiler through the V8 code cache (before anything imports it).
import { saveTypeScriptCodeCache } from './codeCache';
import { parentPort, workerData } from 'node:worker_threads';
import { Writable } from 'node:stream';
import { Console } from 'node:console';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Executor } from './executor';
import { createDisplay, plainText, LIVE_SYMBOL, type DisplaySink } from './display';
import { prepareStatics, staticAssets, staticsSettled } from './statics';
import { preludeDeclarations as fullPrelude, LIGHT_PRELUDE_DECLARATIONS } from './prelude';
import { createRuntime } from './runtime';
import type { FromWorker, ToWorker } from './workerProtocol';
import type { KernelBackendInfo } from '../protocol/backends';

export interface WorkerData {
  readonly cwd: string;
  readonly packageRoot: string;
  /**
   * [0] is 1 while the worker does its own synchronous work (not a cell's code); [1] is the
   * sequence number of the last interrupt the worker has handled.
   */
  readonly state: Int32Array;
}

const port = parentPort;
if (!port) throw new Error('kernel/executor/worker.ts must run in a worker thread');
const { cwd, packageRoot, state } = workerData as WorkerData;
/** Marks the kernel's own synchronous work, which an interrupt must not terminate halfway. */
function guard<T>(fn: () => T): T {
  const outer = Atomics.load(state, 0);
  Atomics.store(state, 0, 1);
  try {
    return fn();
  } finally {
    Atomics.store(state, 0, outer);
  }
}
const post = (m: FromWorker) => port.postMessage(m);
const DROP_INTERRUPTED_REPLIES = process.env['TRANSFERLAB_TEST_DROP_INTERRUPTED_REPLIES'] === '1';
const requireFromKernel = createRequire(path.join(packageRoot, 'package.json'));

// ---- output capture ---------------------------------------------------------------------
function streamWriter(name: 'stdout' | 'stderr') {
  return (chunk: unknown, encoding?: unknown, cb?: unknown): boolean => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString(typeof encoding === 'string' && Buffer.isEncoding(encoding) ? encoding : 'utf8');
    if (text.length > 0) post({ type: 'stream', name, text });
    const done = typeof encoding === 'function' ? encoding : cb;
    if (typeof done === 'function') (done as () => void)();
    return true;
  };
}
const writeStdout = streamWriter('stdout');
const writeStderr = streamWriter('stderr');
process.stdout.write = writeStdout as typeof process.stdout.write;
process.stderr.write = writeStderr as typeof process.stderr.write;
const cellConsole = new Console({
  stdout: new Writable({ write: (c, e, cb) => void writeStdout(c, e, cb) }),
  stderr: new Writable({ write: (c, e, cb) => void writeStderr(c, e, cb) }),
  colorMode: false,
});
Object.defineProperty(globalThis, 'console', { value: cellConsole, writable: true, configurable: true });

/** process.exit() from a cell must not take the kernel's state with it. */
class ProcessExitError extends Error {
  override readonly name = 'ProcessExitError';
}
process.exit = ((code?: number) => {
  throw new ProcessExitError(`process.exit(${code ?? ''}) was called from a cell; the kernel keeps running with its state intact (restart the kernel to start afresh).`);
}) as typeof process.exit;

const sink: DisplaySink = {
  display: (content, update) => post({ type: 'display', update, content }),
  clear: (wait) => post({ type: 'clear', wait }),
};
const { display, clearOutput } = createDisplay(() => sink);
Object.assign(globalThis, { display, clearOutput });

// ---- preload: tf and tl as lazy globals -----------------------------------------------------
const analysisPath = path.join(packageRoot, 'dist', 'analysis.js');
let tfModule: Record<string, unknown> | undefined;
let tlModule: Record<string, unknown> | undefined;
function loadTf(): Record<string, unknown> {
  if (!tfModule) {
    tfModule = guard(() => requireFromKernel('@tensorflow/tfjs') as Record<string, unknown>);
    const Tensor = tfModule.Tensor as { prototype: Record<symbol, unknown> } | undefined;
    if (Tensor && !(Symbol.for('Jupyter.display') in Tensor.prototype)) {
      Tensor.prototype[Symbol.for('Jupyter.display')] = function (this: { dtype: string; shape: number[]; toString(verbose?: boolean): string }) {
        return { 'text/plain': `Tensor ${this.dtype} [${this.shape.join(', ')}]\n${this.toString().replace(/^Tensor\n/, '')}` };
      };
    }
  }
  return tfModule;
}
function loadTl(): Record<string, unknown> {
  if (!tlModule) {
    loadTf();
    tlModule = existsSync(analysisPath) ? guard(() => requireFromKernel(analysisPath) as Record<string, unknown>) : {};
    const setProgressFactory = tlModule.setProgressFactory as ((f: (title: string) => unknown) => void) | undefined;
    if (typeof setProgressFactory === 'function') setProgressFactory(progressFactory);
    // tl.result(name, value) shows under the cell that calls it, wherever in the cell.
    const setResultDisplay = tlModule.setResultDisplay as ((f: (result: unknown) => void) => void) | undefined;
    if (typeof setResultDisplay === 'function') setResultDisplay((result) => void display(result));
  }
  return tlModule;
}
/** Live training displays not done yet: a cell that fails or is interrupted stops them. */
const liveProgress = new Set<{ readonly cell: number; stop(reason: string): void }>();
/** The execution count of the cell running (or last run). */
let currentCell = 0;
/**
 * Training progress as one output, updated in place (update_display_data) as training goes.
 * When the cell fails or is interrupted while training runs, the chart is updated once more with
 * its unfinished runs marked `stopped` (it no longer says "running"), and the training's next
 * update throws, which ends a training the interrupted cell left running in the background.
 */
function progressFactory(title: string) {
  const displayKey = Symbol.for('Jupyter.display');
  const handle = display.text(`${title}: starting…`);
  let last: Record<string, unknown> | undefined;
  let lastPayload: unknown;
  let stopped: string | undefined;
  const live = {
    cell: currentCell,
    stop(reason: string) {
      liveProgress.delete(live);
      stopped = reason;
      const tl = tlModule as { stoppedPayload?: (p: unknown, r: string) => unknown; trainingBundle?: (p: unknown) => Record<string, unknown> } | undefined;
      if (lastPayload === undefined || typeof tl?.stoppedPayload !== 'function' || typeof tl.trainingBundle !== 'function') return;
      const bundle = tl.trainingBundle(tl.stoppedPayload(lastPayload, reason));
      handle.update({ [displayKey]: () => bundle });
    },
  };
  liveProgress.add(live);
  return {
    update(p: unknown) {
      if (stopped !== undefined) throw new Error(`${title}: training stopped (${stopped})`);
      if (p && typeof p === 'object' && 'payload' in p) lastPayload = (p as { payload: unknown }).payload;
      const bundle = p && typeof p === 'object' && typeof (p as { bundle?: unknown }).bundle === 'function' ? (p as { bundle(): Record<string, unknown> }).bundle() : { 'text/plain': `${title}: ${plainText(p)}` };
      last = bundle;
      // Live updates carry no static images (drawing them at every step would slow training).
      handle.update({ [displayKey]: () => bundle, [LIVE_SYMBOL]: true });
    },
    done() {
      liveProgress.delete(live);
      // The last update stays as the output, now with its static images.
      if (last !== undefined) {
        const bundle = last;
        handle.update({ [displayKey]: () => bundle });
      }
    },
  };
}
/** A cell failed or was interrupted: the training displays it started and left live say so. */
function stopLiveProgress(cell: number, outcome: { status: string; ename?: string }): void {
  if (outcome.status !== 'error' || liveProgress.size === 0) return;
  const reason = outcome.ename === 'InterruptError' ? 'interrupted' : 'stopped by an error';
  for (const p of [...liveProgress]) if (p.cell === cell) p.stop(reason);
}
/** `tf.memory()` once TensorFlow.js is loaded (never loads it). */
function tfMemory(): { numTensors: number; numBytes: number } | undefined {
  const memory = tfModule?.memory;
  if (typeof memory !== 'function') return undefined;
  try {
    return (memory as () => { numTensors: number; numBytes: number })();
  } catch {
    return undefined;
  }
}
for (const [name, load] of [['tf', loadTf], ['tl', loadTl]] as const) {
  Object.defineProperty(globalThis, name, { get: load, set: (v) => Object.defineProperty(globalThis, name, { value: v, writable: true, configurable: true }), configurable: true });
}

/** What `tl.backend()` returns, as far as the worker relies on it (tl is loaded at run time). */
interface TlBackendInfo {
  name?: string;
  device?: string;
  threads?: number;
  detail?: string;
  description?: string;
}

let backendReady: Promise<KernelBackendInfo> | undefined;
function ensureBackend(): Promise<KernelBackendInfo> {
  if (!backendReady) {
    backendReady = (async (): Promise<KernelBackendInfo> => {
      const tl = loadTl();
      const tf = loadTf() as { getBackend(): string; ready(): Promise<void> };
      if (typeof tl.initBackend === 'function') await (tl.initBackend as () => Promise<unknown>)();
      else await tf.ready();
      const info = typeof tl.backend === 'function' ? (tl.backend as () => TlBackendInfo).call(tl) : undefined;
      const backend = info?.name !== undefined && info.name !== 'none' ? info.name : tf.getBackend();
      return {
        starting: false,
        backend,
        device: info?.device ?? backend,
        threads: info?.threads ?? 0,
        detail: info?.detail ?? backend,
        description: info?.description ?? backend,
      };
    })();
    backendReady.then(
      (backend) => post({ type: 'backendReady', backend }),
      (e: Error) => post({ type: 'log', text: `compute backend failed to start: ${e.message}` }),
    );
  }
  return backendReady;
}

const preludeDeclarations = fullPrelude(packageRoot);

const runtime = createRuntime({
  cwd,
  packageRoot,
  builtins: new Map<string, () => unknown>([
    ['transferlab', loadTl],
    ['@tensorflow/tfjs', loadTf],
  ]),
});
const lightPreludeDeclarations = LIGHT_PRELUDE_DECLARATIONS;
const executor = new Executor({ cwd, packageRoot, runtime, sink, preludeDeclarations, lightPreludeDeclarations, guard });

// Errors thrown from timers and unhandled rejections are shown, and the kernel goes on.
process.on('uncaughtException', (e) => {
  const o = executor.errorOutcome(e);
  if (o.status === 'error') post({ type: 'stream', name: 'stderr', text: `Uncaught exception (from a timer or callback):\n${o.traceback.join('\n')}\n` });
});
process.on('unhandledRejection', (e) => {
  const o = executor.errorOutcome(e);
  if (o.status === 'error') post({ type: 'stream', name: 'stderr', text: `Unhandled promise rejection:\n${o.traceback.join('\n')}\n` });
});

const USES_COMPUTE = /\b(tf|tl)\b|@tensorflow|['"]transferlab['"]/;

// The handler is the kernel's own code: an interrupt must never terminate it halfway (the
// cells it starts run later, from microtasks, outside this guard).
port.on('message', receive);
function receive(m: ToWorker): void {
  // A message callback starts on an empty stack: no kernel work can be in progress. Clearing the
  // flag here also heals it if a TerminateExecution ever cut a guarded section short (its
  // finally block never ran), which would otherwise leave every later loop unstoppable.
  Atomics.store(state, 0, 0);
  try {
    guard(() => handle(m));
  } catch (e) {
    // A request that throws is answered as failed: the main thread must never wait for a reply
    // that will not come (its request queue would stall behind it).
    const id = m !== null && typeof m === 'object' && typeof (m as { id?: unknown }).id === 'number' ? (m as { id: number }).id : undefined;
    const error = e instanceof Error ? e : new Error(String(e));
    if (id !== undefined) post({ type: 'failed', id, name: error.name || 'Error', message: error.message });
    else post({ type: 'log', text: `the executor failed to handle ${String((m as { type?: unknown } | null)?.type)}: ${error.stack ?? error.message}` });
  }
}

function handle(m: ToWorker): void {
  scheduleWarmUp();
  switch (m.type) {
    case 'interrupt':
      // Seen by the main thread at once (before the ack message arrives): from now on it must not
      // terminate anything, since what runs next is the kernel finishing the interrupted cell.
      Atomics.store(state, 1, m.seq);
      executor.interrupt();
      post({ type: 'interruptAck', seq: m.seq });
      break;
    case 'execute':
      // The first cell waits for the PNG rasteriser (started with the worker, a few tens of ms).
      if (!staticsSettled()) {
        void staticsStarted.then(() => receive(m));
        break;
      }
      currentCell = m.executionCount;
      executor.variables.cellStarts(tfMemory());
      void executor.execute(m.code, m.executionCount, USES_COMPUTE.test(m.code) ? ensureBackend : undefined).then((outcome) => {
        // Fault injection for the kernel's tests: lose an interrupted cell's reply, as a late
        // TerminateExecution can (workerHost.ts answers such a cell itself).
        if (DROP_INTERRUPTED_REPLIES && outcome.status === 'error' && outcome.ename === 'InterruptError') return;
        guard(() => stopLiveProgress(m.executionCount, outcome));
        executor.variables.cellEnded(m.executionCount, tfMemory());
        try {
          // The kernel's own work: an interrupt arriving now must not cut it (and the reply) short.
          outcome.variables = guard(() => executor.variablesSummary(m.executionCount));
        } catch (e) {
          post({ type: 'log', text: `variables summary failed: ${(e as Error)?.message ?? String(e)}` });
        }
        post({ type: 'executed', id: m.id, outcome });
      }).catch((e: unknown) => post({ type: 'failed', id: m.id, name: (e as Error)?.name ?? 'Error', message: (e as Error)?.message ?? String(e) }));
      break;
    case 'complete': {
      const r = guard(() => executor.complete(m.code, m.cursorPos));
      post({ type: 'completed', id: m.id, matches: r.matches, cursorStart: r.cursorStart, cursorEnd: r.cursorEnd, metadata: r.metadata });
      break;
    }
    case 'inspect': {
      const r = guard(() => executor.inspect(m.code, m.cursorPos));
      post({ type: 'inspected', id: m.id, found: r.found, data: r.data });
      break;
    }
    case 'isComplete':
      post({ type: 'isCompleteResult', id: m.id, reply: guard(() => executor.isComplete(m.code)) });
      break;
    case 'backend':
      ensureBackend().then(
        (backend) => post({ type: 'backendInfo', id: m.id, description: backend.description }),
        (e: Error) => post({ type: 'backendInfo', id: m.id, description: `unavailable (${e.message})` }),
      );
      break;
    default: {
      const never: never = m;
      post({ type: 'log', text: `unknown message to the executor: ${JSON.stringify(never)}` });
    }
  }
}

// Static chart images need resvg's WebAssembly, whose instantiation is asynchronous: start it now.
const staticsStarted = prepareStatics(staticAssets(packageRoot));
post({ type: 'ready' });
// Warm up in the background, in idle moments so that early requests do not wait behind it:
// the light checker at once, then (after 300 ms without requests) the full checker, then the
// compute backend.
let warmTimer: NodeJS.Timeout | undefined;
let warmStage = 0;
function scheduleWarmUp(): void {
  if (warmTimer) clearTimeout(warmTimer);
  if (warmStage >= 2) return;
  warmTimer = setTimeout(() => {
    warmTimer = undefined;
    if (warmStage === 0) {
      if (!executor.fullCheckerWarm) guard(() => executor.warmUpFull());
      saveTypeScriptCodeCache();
      warmStage = 1;
      scheduleWarmUp();
    } else {
      warmStage = 2;
      void ensureBackend().catch(() => undefined);
    }
  }, 300);
  warmTimer.unref();
}
setImmediate(() => {
  guard(() => executor.warmUpLight());
  scheduleWarmUp();
});
