/**
 * Shared pieces of the self-displaying analysis results (CKA, distance, interpolation,
 * criticality): number formatting, plain-text tables and the vega-lite boilerplate. Each result
 * class lives with its analysis and builds its own MIME bundle from these.
 */

/** The vega-lite schema every chart declares. */
export const VEGA_LITE_SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';

/** A number for people: fixed `digits` decimals, `–` for NaN, `∞` for infinities. */
export function fmt(x: number, digits = 3): string {
  if (Number.isNaN(x)) return '–';
  if (x === Infinity) return '∞';
  if (x === -Infinity) return '−∞';
  return x.toFixed(digits);
}

/** A number in compact scientific or fixed notation, whichever is shorter and exact enough. */
export function fmtShort(x: number): string {
  if (!Number.isFinite(x)) return fmt(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  return a >= 1e-3 && a < 1e5 ? String(Number(x.toPrecision(4))) : x.toExponential(3);
}

/**
 * A plain-text table with aligned columns: the first column left-aligned, the others
 * right-aligned (numbers).
 */
export function textTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, j) => Math.max(h.length, ...rows.map((r) => (r[j] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join('  ');
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** JSON-safe number: NaN and infinities become null (JSON has no such numbers). */
export function jsonNumber(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}
