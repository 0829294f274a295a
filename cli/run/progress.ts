/**
 * The progress of a headless run on stderr: a bar redrawn in place on a terminal, a line per event
 * elsewhere, and the one-line summary of a display update (training progress) it shows.
 */
import { stripVTControlCharacters } from 'node:util';
import { Mime, type TrainingPayload } from '../../kernel/protocol/mime';
import type { TsnbMimeBundle } from '../../kernel/protocol/tsnb';
import type { RunEvent } from './execution';

/**
 * One line saying where a long cell stands, from a display update: the running run of a training
 * payload (`P-T seed 1 · epoch 2.0/5 · loss 0.4123 · acc 87.5%`), else the last line of its text.
 */
export function progressText(bundle: TsnbMimeBundle): string | undefined {
  const training = bundle[Mime.training] as unknown as TrainingPayload | undefined;
  if (training !== undefined && training !== null && Array.isArray(training.runs) && training.runs.length > 0) {
    const runs = training.runs;
    const run = [...runs].reverse().find((r) => !r.done) ?? runs[runs.length - 1]!;
    const p = run.points[run.points.length - 1];
    const finished = runs.filter((r) => r.done).length;
    const head = `${run.label}${runs.length > 1 ? ` (${finished}/${runs.length} runs done)` : ''}`;
    if (p === undefined) return `${head} · starting`;
    const parts = [head, `epoch ${p.epoch.toFixed(2)}`, `loss ${p.loss.toFixed(4)}`];
    if (p.accuracy !== undefined) parts.push(`acc ${(p.accuracy * 100).toFixed(1)}%`);
    if (p.valAccuracy !== undefined) parts.push(`val ${(p.valAccuracy * 100).toFixed(1)}%`);
    if (p.examplesPerSecond !== undefined) parts.push(`${Math.round(p.examplesPerSecond)} ex/s`);
    return parts.join(' · ');
  }
  const text = bundle[Mime.plain];
  if (typeof text !== 'string') return undefined;
  const lines = stripVTControlCharacters(text)
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return lines.find((l) => l.endsWith('(running)')) ?? lines[lines.length - 1];
}


/** The terminal the progress goes to: a TTY gets a redrawn bar, anything else a line per event. */
export interface ProgressTerminal {
  write(text: string): void;
  readonly isTTY: boolean;
  /** Width in characters (TTY only). */
  readonly columns?: number;
}

function firstLine(source: string): string {
  const line = source.split('\n').find((l) => l.trim() !== '' && !l.trim().startsWith('//')) ?? source.split('\n')[0] ?? '';
  return line.trim();
}

/** Seconds as a person reads them: `14.2 s`, `3 min 05 s`. */
export function formatSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${String(Math.round(s - m * 60)).padStart(2, '0')} s`;
}

/**
 * The progress of a run on stderr. On a terminal: a bar redrawn in place, `▕████░░░░▏ cell 3/12 ·
 * 14.2 s · P-T seed 1 · epoch 2.00 · loss 0.41`, and a line kept per finished cell. Elsewhere (logs,
 * CI): a line per cell, and the latest training progress at most every `intervalMs`.
 */
export class ProgressReporter {
  private position = 0;
  private total = 0;
  private cellStart = 0;
  private latest = '';
  private source = '';
  private lastLineAt = 0;
  private ticker: NodeJS.Timeout | undefined;

  constructor(
    private readonly term: ProgressTerminal,
    private readonly intervalMs = 5000,
  ) {}

  readonly onEvent = (e: RunEvent): void => {
    switch (e.type) {
      case 'kernel-started':
        this.total = e.total;
        this.line(`kernel started; ${e.total} code cell${e.total === 1 ? '' : 's'} to run`);
        break;
      case 'cell-started':
        this.position = e.position;
        this.total = e.total;
        this.cellStart = performance.now();
        this.latest = '';
        this.source = firstLine(e.source);
        if (this.term.isTTY) {
          this.redraw();
          this.ticker ??= setInterval(() => this.redraw(), 1000);
          this.ticker.unref();
        } else {
          this.lastLineAt = Date.now();
        }
        break;
      case 'progress':
        this.latest = e.text;
        if (this.term.isTTY) this.redraw();
        else if (Date.now() - this.lastLineAt >= this.intervalMs) {
          this.lastLineAt = Date.now();
          this.line(`cell ${this.position}/${this.total} · ${formatSeconds((performance.now() - this.cellStart) / 1000)} · ${this.latest}`);
        }
        break;
      case 'cell-finished': {
        const mark = e.status === 'ok' ? 'ok' : e.status === 'expected-error' ? 'raised (expected)' : 'FAILED';
        this.clearBar();
        this.line(`cell ${e.position}/${e.total} ${mark} · ${formatSeconds(e.seconds)}${this.latest ? ` · ${this.latest}` : ''}`);
        break;
      }
      case 'output':
        break;
      default: {
        const never: never = e;
        return never;
      }
    }
  };

  /** Stops redrawing (call when the run ends). */
  finish(): void {
    if (this.ticker !== undefined) clearInterval(this.ticker);
    this.ticker = undefined;
    this.clearBar();
  }

  private line(text: string): void {
    this.term.write(`${text}\n`);
  }

  private clearBar(): void {
    if (this.term.isTTY) this.term.write('\r\x1b[K');
  }

  private redraw(): void {
    const width = Math.max(40, this.term.columns ?? 100);
    const barWidth = 20;
    const done = (this.position - 1) / Math.max(1, this.total);
    const filled = Math.round(done * barWidth);
    const bar = `▕${'█'.repeat(filled)}${'░'.repeat(barWidth - filled)}▏`;
    const elapsed = formatSeconds((performance.now() - this.cellStart) / 1000);
    const detail = this.latest || this.source;
    let text = `${bar} cell ${this.position}/${this.total} · ${elapsed}${detail ? ` · ${detail}` : ''}`;
    if (text.length > width - 1) text = `${text.slice(0, width - 2)}…`;
    this.term.write(`\r\x1b[K${text}`);
  }
}


/** The process's stderr as a progress terminal (a redrawn bar when it is a TTY). */
export function stderrTerminal(): ProgressTerminal {
  return {
    write: (t) => void process.stderr.write(t),
    get isTTY() {
      return process.stderr.isTTY === true;
    },
    get columns() {
      return process.stderr.columns;
    },
  };
}
