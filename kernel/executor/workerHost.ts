/**
 * The main thread's side of the executor worker: requests and replies, output forwarding, and
 * interrupts. An interrupt first asks the worker (which stops a cell waiting on a promise); if
 * the worker does not answer within a few milliseconds it is busy in synchronous code, and
 * V8's TerminateExecution (through the inspector's NodeWorker domain) stops that code without
 * ending the worker, so earlier cells' state survives; so too a loop in a timer or callback when
 * no cell runs. A request that throws inside the worker is answered (ExecutorRequestError).
 */
import { Worker } from 'node:worker_threads';
import inspector from 'node:inspector';
import { EventEmitter } from 'node:events';
import type { FromWorker, ToWorker, ExecuteOutcome, DisplayMessage } from './workerProtocol';
import type { IsCompleteReply, MimeBundle } from '../protocol/messages';
import type { KernelBackendInfo } from '../protocol/backends';

/** The executor worker died (a native crash, out of memory); its state is gone. */
export class ExecutorDiedError extends Error {
  override readonly name = 'ExecutorDiedError';
}

/**
 * A request to the executor (complete, inspect, is_complete, execute) threw inside the worker.
 * The worker and its state are fine; the handler answers the request with this error.
 */
export class ExecutorRequestError extends Error {
  override readonly name = 'ExecutorRequestError';
}

export interface OutputListener {
  stream(name: 'stdout' | 'stderr', text: string): void;
  display(content: DisplayMessage, update: boolean): void;
  clear(wait: boolean): void;
}

type Pending = { resolve: (m: FromWorker) => void; reject: (e: Error) => void };

export interface WorkerHostOptions {
  /** The worker script (dist/kernelWorker.js, or the .ts source under tsx in tests). */
  readonly script: string;
  readonly cwd: string;
  readonly packageRoot: string;
  readonly execArgv?: string[];
}

export class WorkerHost extends EventEmitter {
  private worker!: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private interruptSeq = 0;
  private readonly acks = new Map<number, () => void>();
  private readonly session = new inspector.Session();
  private inspectorWorkerSession: string | undefined;
  private output: OutputListener | undefined;
  private lastOutput: OutputListener | undefined;
  private backend: KernelBackendInfo | undefined;
  private readyPromise!: Promise<void>;
  /**
   * Shared with the worker: [0] is 1 while it does its own (not a cell's) synchronous work; [1]
   * is the last interrupt it has handled.
   */
  private readonly state = new Int32Array(new SharedArrayBuffer(8));
  private executing = 0;
  /** The request id of the running execute, if any. */
  private executeId: number | undefined;

  constructor(private readonly opts: WorkerHostOptions) {
    super();
    this.session.connect();
    this.session.on('NodeWorker.attachedToWorker', (m: { params: { sessionId: string } }) => {
      this.inspectorWorkerSession = m.params.sessionId;
    });
    this.session.post('NodeWorker.enable', { waitForDebuggerOnStart: false });
    this.start();
  }

  /** The compute backend once the worker has started it. */
  get computeBackend(): KernelBackendInfo | undefined {
    return this.backend;
  }

  /** The compute backend's description (`wasm · 1 thread`) once the worker has started it. */
  get backendDescription(): string | undefined {
    return this.backend?.description;
  }

  get ready(): Promise<void> {
    return this.readyPromise;
  }

  private start(): void {
    this.inspectorWorkerSession = undefined;
    this.worker = new Worker(this.opts.script, {
      workerData: { cwd: this.opts.cwd, packageRoot: this.opts.packageRoot, state: this.state },
      execArgv: [...(this.opts.execArgv ?? []), '--no-force-async-hooks-checks'],
      stdout: false,
      stderr: false,
    });
    this.worker.unref();
    let onReady: () => void;
    this.readyPromise = new Promise((r) => (onReady = r));
    this.worker.on('message', (m: FromWorker) => {
      if (m.type === 'ready') onReady();
      this.onMessage(m);
    });
    this.worker.on('error', (e) => this.emit('log', `executor error: ${e.stack ?? e.message}`));
    this.worker.on('exit', (code) => {
      const err = new ExecutorDiedError(`The executor stopped (exit code ${code}); the kernel restarted it and earlier cells' state is lost.`);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      if (!this.closing) {
        this.emit('died', err);
        this.start();
      }
    });
  }

  private closing = false;

  private onMessage(m: FromWorker): void {
    switch (m.type) {
      case 'ready':
        break;
      case 'backendReady':
        this.backend = m.backend;
        this.emit('backend', m.backend.description);
        break;
      case 'stream':
        (this.output ?? this.lastOutput)?.stream(m.name, m.text);
        break;
      case 'display':
        (this.output ?? this.lastOutput)?.display(m.content, m.update);
        break;
      case 'clear':
        (this.output ?? this.lastOutput)?.clear(m.wait);
        break;
      case 'interruptAck':
        this.acks.get(m.seq)?.();
        break;
      case 'log':
        this.emit('log', m.text);
        break;
      case 'failed': {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        p?.reject(new ExecutorRequestError(`${m.name}: ${m.message}`));
        break;
      }
      case 'executed':
      case 'completed':
      case 'inspected':
      case 'isCompleteResult':
      case 'backendInfo': {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        p?.resolve(m);
        break;
      }
      default: {
        const never: never = m;
        this.emit('log', `unknown message from the executor: ${JSON.stringify(never)}`);
      }
    }
  }

  private request<T extends FromWorker>(m: DistributiveOmit<Extract<ToWorker, { id: number }>, 'id'>): Promise<T> {
    const id = this.nextId++;
    if (m.type === 'execute') this.executeId = id;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (m: FromWorker) => void, reject });
      this.worker.postMessage({ ...m, id } as ToWorker);
    });
  }

  async execute(code: string, executionCount: number, silent: boolean, storeHistory: boolean, output: OutputListener): Promise<ExecuteOutcome> {
    this.output = output;
    this.lastOutput = output;
    this.executing++;
    try {
      const r = await this.request<Extract<FromWorker, { type: 'executed' }>>({ type: 'execute', code, executionCount, silent, storeHistory });
      return r.outcome;
    } catch (e) {
      return { status: 'error', ename: (e as Error).name, evalue: (e as Error).message, traceback: [`${(e as Error).name}: ${(e as Error).message}`] };
    } finally {
      this.executing--;
      this.executeId = undefined;
      this.output = undefined;
    }
  }

  async complete(code: string, cursorPos: number) {
    return this.request<Extract<FromWorker, { type: 'completed' }>>({ type: 'complete', code, cursorPos });
  }

  async inspect(code: string, cursorPos: number, detailLevel: number): Promise<{ found: boolean; data: MimeBundle }> {
    return this.request<Extract<FromWorker, { type: 'inspected' }>>({ type: 'inspect', code, cursorPos, detailLevel });
  }

  async isComplete(code: string): Promise<IsCompleteReply> {
    return (await this.request<Extract<FromWorker, { type: 'isCompleteResult' }>>({ type: 'isComplete', code })).reply;
  }

  /** Waits for the compute backend and returns its description. */
  async backendInfo(): Promise<string> {
    return (await this.request<Extract<FromWorker, { type: 'backendInfo' }>>({ type: 'backend' })).description;
  }

  /**
   * Stops the running cell. Resolves once the worker has acknowledged (its JavaScript is free
   * again), normally within a few milliseconds, at most ~100 ms for a synchronous loop.
   */
  async interrupt(): Promise<void> {
    const seq = ++this.interruptSeq;
    const acked = new Promise<void>((r) => this.acks.set(seq, r));
    this.worker.postMessage({ type: 'interrupt', seq } satisfies ToWorker);
    const quick = await Promise.race([acked.then(() => true), sleep(40).then(() => false)]);
    if (!quick) {
      // Busy in synchronous code, a cell's or a timer's / callback's that a cell left behind:
      // terminate the running JavaScript (not the worker).
      const cellRunning = this.executing > 0;
      let terminated = this.terminateWorkerJs(seq);
      // Keep asking; terminate the running JavaScript only while the worker runs code that is not
      // the kernel's own (its flag is 0), never while it type-checks or loads modules (that can
      // take seconds on a fresh kernel), and give up (restart the worker) only after a second of
      // such code that termination did not stop (code blocked in a native call, which
      // TerminateExecution cannot reach).
      let ok = false;
      let cellRounds = 0;
      for (let i = 0; i < 1500 && !ok; i++) {
        ok = await Promise.race([acked.then(() => true), sleep(20).then(() => false)]);
        if (ok) break;
        this.worker.postMessage({ type: 'interrupt', seq } satisfies ToWorker);
        if (Atomics.load(this.state, 0) === 0) {
          if (cellRounds++ % 3 === 0) terminated = this.terminateWorkerJs(seq) || terminated;
          if (cellRounds > 50) break;
        } else {
          cellRounds = 0;
        }
      }
      if (!ok) {
        // The worker could not be stopped in place: end it; the exit handler starts a fresh one
        // and reports the lost state.
        this.emit('log', 'the running code did not stop; restarting the executor');
        await this.worker.terminate();
      } else if (terminated && !cellRunning) {
        const text = 'Interrupted code that was running outside a cell (in a timer or callback); the kernel keeps its state.\n';
        this.emit('log', text.trimEnd());
        this.lastOutput?.stream('stderr', text);
      }
    }
    this.acks.delete(seq);
    await this.settleInterruptedCell();
  }

  /**
   * Once the worker has handled an interrupt, the interrupted cell's reply follows within
   * microseconds. A TerminateExecution already on its way when the worker handled the interrupt
   * can still land in that last step and drop the reply, which would leave the cell running
   * forever. If the reply has not come after a second while the worker answers other requests,
   * the cell is answered here as interrupted.
   */
  private async settleInterruptedCell(): Promise<void> {
    const id = this.executeId;
    if (id === undefined) return;
    for (let i = 0; i < 50 && this.pending.has(id); i++) await sleep(20);
    if (!this.pending.has(id)) return;
    const alive = await Promise.race([this.isComplete('').then(() => true, () => false), sleep(2000).then(() => false)]);
    const p = this.pending.get(id);
    if (!alive || !p) return;
    this.pending.delete(id);
    this.emit('log', 'the interrupted cell sent no reply; answering it as interrupted');
    const evalue = 'The cell was interrupted.';
    p.resolve({ type: 'executed', id, outcome: { status: 'error', ename: 'InterruptError', evalue, traceback: [`\u001b[31m\u001b[1mInterruptError\u001b[0m: ${evalue}`] } });
  }

  /**
   * Terminates the worker's running JavaScript, if it is neither the kernel's own work nor past
   * this interrupt; returns whether it asked V8 to. Termination also stops a loop in a timer or
   * callback when no cell runs: the worker's event loop then goes on with its state intact.
   */
  private terminateWorkerJs(seq: number): boolean {
    // Only code that is not the kernel's is terminated; the kernel's work (type checking, module
    // loading) finishes first, and the interrupt message is answered right after it. Once the
    // worker has handled this interrupt, what runs is the kernel finishing the cell: leave it alone.
    if (!this.inspectorWorkerSession || Atomics.load(this.state, 0) !== 0 || Atomics.load(this.state, 1) >= seq) return false;
    this.session.post('NodeWorker.sendMessageToWorker', {
      sessionId: this.inspectorWorkerSession,
      message: JSON.stringify({ id: 1, method: 'Runtime.terminateExecution' }),
    });
    return true;
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.worker.terminate();
    this.session.disconnect();
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
