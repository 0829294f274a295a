/**
 * The progress of a sweep on stderr. On a terminal, one line redrawn in place:
 * `[3/6 done · 2 running · 1 queued · 0 failed] seed=2 blockSize=4 on local #2, cell 3/7`.
 * Elsewhere (logs, CI): a line per finished, requeued or failed run, and per retired slot.
 */
import { formatSeconds, type ProgressTerminal } from '../run/progress';
import { describePoint } from './grid';
import { RunStatus, type KernelSlot, type PoolEvent } from './pool';

interface Running {
  readonly what: string;
  readonly slot: KernelSlot;
  cell: string;
  readonly since: number;
}

export class SweepProgress {
  private done: number;
  private failed = 0;
  private queued: number;
  private readonly running = new Map<string, Running>();
  /** The run whose news came last: the one the line shows. */
  private latest: string | undefined;
  private ticker: NodeJS.Timeout | undefined;

  constructor(
    private readonly term: ProgressTerminal,
    /** Runs in the sweep, and how many of them were finished before (skipped). */
    private readonly total: number,
    skipped: number,
  ) {
    this.done = skipped;
    this.queued = total - skipped;
  }

  /** The counts as the line starts: `[3/6 done · 2 running · 1 queued · 0 failed]`. */
  counts(): string {
    return `[${this.done}/${this.total} done · ${this.running.size} running · ${this.queued} queued · ${this.failed} failed]`;
  }

  readonly onEvent = (e: PoolEvent): void => {
    switch (e.type) {
      case 'run-started':
        this.queued--;
        this.running.set(e.task.key, { what: describePoint(e.task.point), slot: e.slot, cell: 'starting', since: performance.now() });
        this.latest = e.task.key;
        break;
      case 'run-event': {
        const r = this.running.get(e.task.key);
        if (r === undefined) return;
        if (e.event.type === 'cell-started') r.cell = `cell ${e.event.position}/${e.event.total}`;
        else if (e.event.type === 'progress') r.cell = `cell ${e.event.position} · ${e.event.text}`;
        else return;
        this.latest = e.task.key;
        break;
      }
      case 'run-requeued':
        if (this.running.delete(e.task.key)) this.queued++;
        this.line(`requeued ${describePoint(e.task.point) || 'the run'}: ${e.reason}`);
        break;
      case 'slot-retired':
        this.line(`retired ${e.slot.label}: ${e.reason}`);
        break;
      case 'run-finished': {
        const r = this.running.get(e.task.key);
        if (!this.running.delete(e.task.key)) this.queued--;
        const { outcome } = e;
        if (outcome.status === RunStatus.interrupted) break;
        this.done++;
        if (outcome.status === RunStatus.failed) this.failed++;
        const what = describePoint(e.task.point) || 'the run';
        const where = outcome.slot ? ` on ${outcome.slot.label}` : '';
        const seconds = r ? ` · ${formatSeconds((performance.now() - r.since) / 1000)}` : '';
        const head = outcome.status === RunStatus.ok ? 'ok' : 'FAILED';
        const why = outcome.status === RunStatus.failed && outcome.error ? `: ${outcome.error.split('\n').slice(0, 2).join(' ')}` : '';
        this.line(`${this.counts()} ${head} ${what}${where}${seconds}${why}`);
        break;
      }
      default: {
        const never: never = e;
        return never;
      }
    }
    if (this.term.isTTY) {
      this.redraw();
      this.ticker ??= setInterval(() => this.redraw(), 1000);
      this.ticker.unref();
    }
  };

  /** Stops redrawing (call when the sweep ends). */
  finish(): void {
    if (this.ticker !== undefined) clearInterval(this.ticker);
    this.ticker = undefined;
    if (this.term.isTTY) this.term.write('\r\x1b[K');
  }

  private line(text: string): void {
    if (this.term.isTTY) this.term.write('\r\x1b[K');
    this.term.write(`${text}\n`);
  }

  private redraw(): void {
    const r = (this.latest !== undefined ? this.running.get(this.latest) : undefined) ?? [...this.running.values()].pop();
    let text = this.counts();
    if (r !== undefined) text += ` ${r.what ? `${r.what} ` : ''}on ${r.slot.label}, ${r.cell}`;
    const width = Math.max(40, this.term.columns ?? 100);
    if (text.length > width - 1) text = `${text.slice(0, width - 2)}…`;
    this.term.write(`\r\x1b[K${text}`);
  }
}
