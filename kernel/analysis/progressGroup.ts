/**
 * One live display shared by the runs of a training call (e.g. P-T and RI-T over seeds): each run
 * records its history points here, and every update sends all runs' curves so far to the
 * {@link Progress} the call was given.
 */
import { createProgress, silentProgress, trainingBundle, type Progress } from './progress';
import type { TrainingPayload } from '../protocol/mime';

/** One point of a training history (the training MIME payload's point). */
export interface HistoryPoint {
  readonly epoch: number;
  readonly step: number;
  readonly loss: number;
  readonly accuracy: number;
  readonly valLoss?: number;
  readonly valAccuracy?: number;
  readonly examplesPerSecond?: number;
  readonly lr: number;
}

/** One run's record in a {@link ProgressGroup}: its history so far and whether it finished. */
export interface RunRecord {
  readonly label: string;
  readonly points: HistoryPoint[];
  done: boolean;
}

/** Runs sharing one progress display (e.g. P-T and RI-T over seeds). */
export class ProgressGroup {
  readonly runs: RunRecord[] = [];
  private readonly progress: Progress;
  private readonly start = performance.now();

  constructor(
    readonly title: string,
    option: boolean | Progress,
  ) {
    this.progress = option === true ? createProgress(title) : option === false ? silentProgress : option;
  }

  addRun(label: string): RunRecord {
    const r: RunRecord = { label, points: [], done: false };
    this.runs.push(r);
    return r;
  }

  payload(): TrainingPayload {
    return { title: this.title, runs: this.runs.map((r) => ({ label: r.label, points: r.points.map(payloadPoint), done: r.done })) };
  }

  update(run: string, p: HistoryPoint, epochs: number, steps: number): void {
    const payload = this.payload();
    this.progress.update({
      title: this.title,
      run,
      epoch: p.epoch,
      epochs,
      step: p.step,
      steps,
      loss: p.loss,
      accuracy: p.accuracy,
      ...(p.valLoss !== undefined ? { valLoss: p.valLoss } : {}),
      ...(p.valAccuracy !== undefined ? { valAccuracy: p.valAccuracy } : {}),
      examplesPerSecond: p.examplesPerSecond ?? 0,
      elapsedSeconds: (performance.now() - this.start) / 1000,
      payload,
      bundle: () => trainingBundle(payload),
    });
  }

  done(): void {
    this.progress.done();
  }
}

/** A history point as the training MIME payload has it (without the learning rate). */
export function payloadPoint(p: HistoryPoint): TrainingPayload['runs'][number]['points'][number] {
  const { lr: _lr, ...rest } = p;
  return rest;
}

