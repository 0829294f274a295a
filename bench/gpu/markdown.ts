/**
 * The GPU benchmark's report: rows measured by ./suite.ts turned into the BENCHMARKS.md section
 * (pure functions, unit-tested in test/scripts/benchGpu.test.ts), with the goals of the GPU work
 * and whether each was met.
 */

/** Which section of BENCHMARKS.md a run writes: a hardware adapter's, or the software rasteriser's. */
export function sectionName(software: boolean): 'gpu' | 'gpu-lavapipe' {
  return software ? 'gpu-lavapipe' : 'gpu';
}

/** What a row measures, which decides its unit and its goal. */
export type RowKind = 'matmul' | 'conv' | 'cka' | 'train';

/** One measurement: TransferLab with its own kernels and with the stock ones, and PyTorch. */
export interface Row {
  readonly kind: RowKind;
  readonly label: string;
  /** Milliseconds per operation (matmul, conv, cka) or examples per second (train). */
  readonly ours: number;
  readonly stock: number;
  /** NaN when the PyTorch side failed. */
  readonly torch: number;
  /** FLOPs of one operation (matmul, conv): adds a TFLOP/s or GFLOP/s figure. */
  readonly flops?: number;
  /** The correctness check of this row, in words (errors of ours, stock and PyTorch). */
  readonly check: string;
  /** Whether the check passed for both kernel sets. */
  readonly ok: boolean;
  /** False when TransferLab's side was not measured (a run stopped early, an error): no verdict. */
  readonly measured?: boolean;
}

/** A goal of the GPU work: a ratio of ours to PyTorch that the rows of a kind must reach. */
export interface Goal {
  readonly kind: RowKind;
  readonly text: string;
  /** Whether `ours ÷ torch` (a ratio of the row's unit) meets the goal. */
  readonly met: (ratio: number) => boolean;
}

export const GOALS: readonly Goal[] = [
  { kind: 'matmul', text: 'matmul ≥ 0.5× PyTorch fp32 (throughput)', met: (r) => r >= 0.5 },
  { kind: 'cka', text: "CKA ≤ 1.5× PyTorch fp32's time", met: (r) => r <= 1.5 },
  { kind: 'train', text: "training ≥ 0.25× PyTorch fp32's examples/s", met: (r) => r >= 0.25 },
];

/** Ours ÷ PyTorch in the row's own unit (time for ops, examples/s for training). */
export function ratio(a: number, b: number): number {
  return b > 0 && Number.isFinite(a) && Number.isFinite(b) ? a / b : NaN;
}

/** Throughput ratio ours ÷ PyTorch (above 1: ours faster), whatever the unit. */
export function speedRatio(row: Pick<Row, 'kind' | 'ours' | 'torch'>): number {
  return row.kind === 'train' ? ratio(row.ours, row.torch) : ratio(row.torch, row.ours);
}

/** The ratio a goal of the row's kind is stated in: throughput for matmul and training, time for CKA. */
export function goalRatio(row: Pick<Row, 'kind' | 'ours' | 'torch'>): number {
  return row.kind === 'cka' ? ratio(row.ours, row.torch) : speedRatio(row);
}

/** Formats a time in ms. */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(3)} ms`;
}

/** Formats a rate in FLOP/s with a fitting prefix. */
export function fmtFlops(flopsPerSecond: number): string {
  if (!Number.isFinite(flopsPerSecond)) return 'n/a';
  if (flopsPerSecond >= 1e12) return `${(flopsPerSecond / 1e12).toFixed(2)} TFLOP/s`;
  return `${(flopsPerSecond / 1e9).toFixed(1)} GFLOP/s`;
}

/** A figure in the row's unit, with its FLOP rate where it has one. */
export function fmtValue(row: Pick<Row, 'kind' | 'flops'>, v: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  if (row.kind === 'train') return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ex/s`;
  return row.flops ? `${fmtMs(v)} (${fmtFlops(row.flops / (v / 1000))})` : fmtMs(v);
}

/** A ratio with two significant digits at least (0.0042×, 0.31×, 2.3×, 12×). */
export function fmtRatio(r: number): string {
  if (!Number.isFinite(r)) return 'n/a';
  if (r >= 10) return `${r.toFixed(0)}×`;
  if (r >= 0.1) return `${r.toFixed(2)}×`;
  return `${r.toPrecision(2)}×`;
}

/** The verdict on each goal over the rows of its kind. */
export function goalVerdicts(rows: readonly Row[]): { goal: Goal; met: number; of: number; worst: number; line: string }[] {
  return GOALS.map((goal) => {
    const mine = rows.filter((r) => r.kind === goal.kind);
    const ratios = mine.map(goalRatio);
    const measured = ratios.filter((r) => Number.isFinite(r));
    const met = mine.filter((r, i) => Number.isFinite(ratios[i]!) && r.ok && goal.met(ratios[i]!)).length;
    const worst = measured.length === 0 ? NaN : goal.kind === 'cka' ? Math.max(...measured) : Math.min(...measured);
    const verdict = mine.length === 0 ? 'not measured' : met === mine.length ? 'met' : met === 0 ? 'not met' : `met by ${met} of ${mine.length}`;
    const line = `${goal.text}: **${verdict}**${mine.length ? ` (${mine.length} rows; ${goal.kind === 'cka' ? 'slowest' : 'lowest'} ratio ${fmtRatio(worst)})` : ''}`;
    return { goal, met, of: mine.length, worst, line };
  });
}

/** The context a section states: how, when and where it was measured. */
export interface SectionContext {
  readonly command: string;
  readonly date: string;
  /** The WebGPU adapter's description. */
  readonly adapter: string;
  readonly software: boolean;
  /** PyTorch's version and device, with its precision settings (TF32, BLAS). */
  readonly torch: string;
  readonly machine: string;
  readonly load: string;
  /** Our kernels registered for the webgpu backend (names). */
  readonly kernels: readonly string[];
  /** Lines of the correctness checks against the cpu backend and float64 references. */
  readonly checks: readonly string[];
  readonly notes: readonly string[];
}

const escapeCell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The markdown of the section (without its markers). */
export function sectionMarkdown(ctx: SectionContext, rows: readonly Row[]): string {
  const title = ctx.software ? 'GPU path on a software adapter (lavapipe): WebGPU vs PyTorch on the CPU' : 'GPU path: WebGPU vs PyTorch on the same GPU';
  const header = ['measurement', 'TransferLab, our kernels', 'TransferLab, stock tfjs kernels', 'PyTorch', 'ours ÷ PyTorch (speed)', 'ours ÷ stock (speed)', 'check'];
  const body = rows.map((r) => {
    const stockSpeed = r.kind === 'train' ? ratio(r.ours, r.stock) : ratio(r.stock, r.ours);
    return [r.label, fmtValue(r, r.ours), fmtValue(r, r.stock), fmtValue(r, r.torch), fmtRatio(speedRatio(r)), fmtRatio(stockSpeed), `${r.measured === false ? 'not measured' : r.ok ? 'ok' : '**FAILED**'}: ${r.check}`].map(escapeCell);
  });
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  const verdicts = goalVerdicts(rows);
  return [
    `## ${title}`,
    '',
    `Command: \`${ctx.command}\` · ${ctx.date} · WebGPU adapter: ${ctx.adapter}${ctx.software ? ' (software: Vulkan on the CPU; these are not GPU figures)' : ''} · ${ctx.torch} · ${ctx.machine} · ${ctx.load}`,
    '',
    `Our kernels registered for the webgpu backend: ${ctx.kernels.length ? ctx.kernels.join(', ') : 'none yet (both columns ran the stock kernels)'}. "Speed" ratios are throughput ratios (above 1: ours faster); the CKA goal is stated in time (ours ÷ PyTorch ≤ 1.5, i.e. speed ≥ 0.67).`,
    '',
    line(header),
    line(header.map(() => '---')),
    ...body.map(line),
    '',
    `Goals of the GPU work${ctx.software ? ' (stated for an H100-class GPU; on a software adapter against PyTorch on the CPU they are for the record only)' : ''}:`,
    '',
    ...verdicts.map((v) => `- ${v.line}`),
    '',
    'Correctness of our kernels (and the stock ones) against the cpu backend and float64 references, before the timings:',
    '',
    ...ctx.checks.map((c) => `- ${c}`),
    ...ctx.notes.flatMap((n) => ['', n]),
  ].join('\n');
}

/**
 * Replaces the section NAME between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` in `text`,
 * or appends it; other sections are left as they are.
 */
export function replaceSection(text: string, name: string, markdown: string): string {
  const begin = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const block = `${begin}\n${markdown.trim()}\n${end}`;
  const i = text.indexOf(begin);
  const j = i >= 0 ? text.indexOf(end, i) : -1;
  const out = i >= 0 && j > i ? text.slice(0, i) + block + text.slice(j + end.length) : `${text.trimEnd()}\n\n${block}\n`;
  return out.endsWith('\n') ? out : `${out}\n`;
}
