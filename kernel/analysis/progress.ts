/**
 * Live training progress. Training calls `createProgress(title)` once per run (or group of runs)
 * and `update` as it goes; where the updates go is pluggable: the notebook kernel installs a
 * factory that updates a display in place (with the `bundle` of each update), plain Node scripts
 * get a compact line on stderr.
 */
import { Mime, type MimeBundle, type TrainingPayload } from '../protocol/mime';
import { lightTheme, trainingSpec } from '../protocol/charts';

/** One update: where training stands, plus the curves so far as a displayable bundle. */
export interface TrainingProgress {
  readonly title: string;
  /** The run being trained, e.g. `P-T seed 1`. */
  readonly run: string;
  /** Epochs completed, fractional within an epoch (e.g. 2.5). */
  readonly epoch: number;
  readonly epochs: number;
  /** Optimisation steps taken in this run, and in total for this run. */
  readonly step: number;
  readonly steps: number;
  /** Mean training loss and accuracy since the previous update. */
  readonly loss: number;
  readonly accuracy: number;
  readonly valLoss?: number;
  readonly valAccuracy?: number;
  readonly examplesPerSecond: number;
  readonly elapsedSeconds: number;
  /** Every run of this progress so far, as the training MIME payload. */
  readonly payload: TrainingPayload;
  /** The MIME bundle to show for this update (training+json, vega-lite, text). */
  bundle(): MimeBundle;
}

export interface Progress {
  update(p: TrainingProgress): void;
  done(): void;
}

export type ProgressFactory = (title: string) => Progress;

/** One line for people: `P-T seed 1 · epoch 2.0/5 · loss 0.412 · acc 87.5% · val 85.1% · 812 ex/s`. */
export function progressLine(p: Pick<TrainingProgress, 'run' | 'epoch' | 'epochs' | 'loss' | 'accuracy' | 'valLoss' | 'valAccuracy' | 'examplesPerSecond'>): string {
  const parts = [p.run, `epoch ${p.epoch.toFixed(1)}/${p.epochs}`, `loss ${p.loss.toFixed(4)}`, `acc ${(p.accuracy * 100).toFixed(1)}%`];
  if (p.valAccuracy !== undefined) parts.push(`val ${(p.valAccuracy * 100).toFixed(1)}%${p.valLoss !== undefined ? ` (loss ${p.valLoss.toFixed(4)})` : ''}`);
  parts.push(`${Math.round(p.examplesPerSecond)} ex/s`);
  return parts.join(' · ');
}

/** Writes progress to stderr: rewrites one line on a terminal, one line per update otherwise. */
export class StderrProgress implements Progress {
  private last = '';
  private lastWrite = 0;
  constructor(
    readonly title: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    /** Minimum milliseconds between lines when not on a terminal. */
    private readonly minIntervalMs = 2000,
  ) {}

  update(p: TrainingProgress): void {
    const line = `[${this.title}] ${progressLine(p)}`;
    this.last = line;
    const now = Date.now();
    if (this.stream.isTTY) {
      this.stream.write(`\r\x1b[K${line}`);
    } else if (now - this.lastWrite >= this.minIntervalMs || Number.isInteger(p.epoch)) {
      this.stream.write(`${line}\n`);
      this.lastWrite = now;
    }
  }

  done(): void {
    if (this.stream.isTTY && this.last) this.stream.write('\n');
  }
}

/** Discards updates. */
export const silentProgress: Progress = { update() {}, done() {} };

let factory: ProgressFactory | undefined;

/**
 * Where training progress goes. The notebook kernel passes a factory whose `Progress` updates a
 * display handle in place; `undefined` restores the default (a line on stderr).
 *
 * @example
 * ```ts
 * tl.setProgressFactory((title) => ({ update: (p) => console.log(title, p.epoch, p.loss), done: () => {} }));
 * ```
 */
export function setProgressFactory(f: ProgressFactory | undefined): void {
  if (f !== undefined && typeof f !== 'function') throw new TypeError('tl.setProgressFactory: f must be a function (title) => Progress, or undefined');
  factory = f;
}

/** A Progress from the installed factory, or the stderr default. */
export function createProgress(title: string): Progress {
  return factory ? factory(title) : new StderrProgress(title);
}

/** The MIME bundle of training curves: the TransferLab payload, vega-lite loss/accuracy charts, text. */
export function trainingBundle(payload: TrainingPayload): MimeBundle {
  return { [Mime.training]: payload, [Mime.vegaLite]: trainingVegaLite(payload), [Mime.plain]: trainingText(payload) };
}

export function trainingText(payload: TrainingPayload): string {
  const lines = payload.title ? [payload.title] : [];
  for (const r of payload.runs) {
    const last = r.points[r.points.length - 1];
    if (!last) {
      lines.push(`${r.label}: no steps yet`);
      continue;
    }
    const val = [...r.points].reverse().find((p) => p.valAccuracy !== undefined);
    lines.push(
      `${r.label}: epoch ${last.epoch.toFixed(1)} · loss ${last.loss.toFixed(4)}${last.accuracy !== undefined ? ` · acc ${(last.accuracy * 100).toFixed(1)}%` : ''}` +
        `${val?.valAccuracy !== undefined ? ` · val acc ${(val.valAccuracy * 100).toFixed(1)}%` : ''}${r.done ? '' : ` (${r.stopped ?? 'running'})`}`,
    );
  }
  return lines.join('\n');
}

/**
 * The payload with its unfinished runs marked stopped for `reason` (the kernel uses it when the
 * cell that trains fails or is interrupted, so the live chart stops saying "running").
 *
 * @example
 * ```ts
 * const p = tl.stoppedPayload({ runs: [{ label: 'P-T', points: [], done: false }] }, 'interrupted');
 * p.runs[0].stopped; // 'interrupted'
 * ```
 */
export function stoppedPayload(payload: TrainingPayload, reason: string): TrainingPayload {
  return { ...payload, runs: payload.runs.map((r) => (r.done ? r : { ...r, stopped: reason })) };
}

/** The renderer's training chart (loss and accuracy against step) in the fixed light theme. */
export function trainingVegaLite(payload: TrainingPayload): Record<string, unknown> {
  return trainingSpec(payload, lightTheme) as unknown as Record<string, unknown>;
}
