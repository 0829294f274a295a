/** The session's input history for history_request (tail, range and search). */
import type { HistoryEntry, HistoryRequest } from '../protocol/messages';

export interface HistoryItem {
  readonly line: number;
  readonly input: string;
  output: string | null;
}

/** Jupyter's session number for this kernel's own session (history is not persisted across runs). */
export const SESSION = 1;

function globToRegExp(pattern: string): RegExp {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[\\s\\S]*').replace(/\?/g, '[\\s\\S]');
  return new RegExp(`^${re}$`);
}

export class History {
  private readonly items: HistoryItem[] = [];

  add(line: number, input: string): HistoryItem {
    const item: HistoryItem = { line, input, output: null };
    this.items.push(item);
    return item;
  }

  query(req: HistoryRequest): HistoryEntry[] {
    let selected: HistoryItem[];
    switch (req.hist_access_type) {
      case 'tail':
        selected = req.n === undefined || req.n === null ? this.items : this.items.slice(-Math.max(0, req.n));
        break;
      case 'range': {
        const session = req.session ?? 0;
        if (session > 0 && session !== SESSION) {
          selected = [];
          break;
        }
        const start = req.start ?? 1;
        const stop = req.stop ?? Number.POSITIVE_INFINITY;
        selected = this.items.filter((i) => i.line >= start && i.line < stop);
        break;
      }
      case 'search': {
        const re = globToRegExp(req.pattern ?? '*');
        let matches = this.items.filter((i) => re.test(i.input));
        if (req.unique) {
          const seen = new Set<string>();
          matches = matches.reverse().filter((i) => (seen.has(i.input) ? false : (seen.add(i.input), true))).reverse();
        }
        selected = req.n ? matches.slice(-req.n) : matches;
        break;
      }
      default:
        selected = [];
    }
    return selected.map((i): HistoryEntry => (req.output ? [SESSION, i.line, [i.input, i.output]] : [SESSION, i.line, i.input]));
  }
}
