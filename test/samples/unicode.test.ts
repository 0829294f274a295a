/**
 * Sample notebooks' code has no character VS Code highlights as ambiguous or invisible (an en dash
 * for a hyphen, a minus sign, ×, Greek α): code a user copies should be what it looks like.
 * Markdown cells may use them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseTsnb } from '../../kernel/protocol/tsnb';
import { AMBIGUOUS_CODE_POINTS } from './ambiguousCharacters';

const samples = path.resolve(import.meta.dirname, '..', '..', 'sample-notebooks');

/** `file cell N line M: 'x' (U+XXXX) in …` for each ambiguous character in a code cell. */
function ambiguousInCode(file: string, text: string): string[] {
  const found: string[] = [];
  parseTsnb(text, { file }).cells.forEach((cell, c) => {
    if (cell.cell_type !== 'code') return;
    cell.source.split('\n').forEach((line, l) => {
      for (const ch of line) {
        const cp = ch.codePointAt(0)!;
        if (AMBIGUOUS_CODE_POINTS.has(cp)) found.push(`${file} cell ${c + 1} line ${l + 1}: '${ch}' (U+${cp.toString(16).toUpperCase().padStart(4, '0')}) in ${line.trim().slice(0, 80)}`);
      }
    });
  });
  return found;
}

test('no ambiguous or invisible Unicode in the code cells of sample notebooks', () => {
  const files = readdirSync(samples).filter((f) => f.endsWith('.tsnb'));
  assert.ok(files.length >= 10, `${files.length} sample notebooks`);
  const found = files.flatMap((f) => ambiguousInCode(f, readFileSync(path.join(samples, f), 'utf8')));
  assert.deepEqual(found, []);
});

test('the check finds what VS Code flags, in code only', () => {
  const nb = JSON.stringify({
    cells: [
      { cell_type: 'markdown', metadata: {}, source: 'digits 0–4, P-T − RI-T, 28×28, α and σ' },
      { cell_type: 'code', metadata: {}, execution_count: null, outputs: [], source: "const a = 'digits 0–4'; // P-T − RI-T\nconst b = 2 × 3;\nconst c = 'α\u00a0σ';\nconst ok = 'λ θ₁ μ ‖x‖ → ≈ … · ✓';" },
    ],
    metadata: { format_version: 1 },
  });
  const found = ambiguousInCode('x.tsnb', nb).map((f) => f.replace(/ in .*$/, ''));
  assert.deepEqual(found, [
    "x.tsnb cell 2 line 1: '–' (U+2013)",
    "x.tsnb cell 2 line 1: '−' (U+2212)",
    "x.tsnb cell 2 line 2: '×' (U+00D7)",
    "x.tsnb cell 2 line 3: 'α' (U+03B1)",
    "x.tsnb cell 2 line 3: '\u00a0' (U+00A0)",
    "x.tsnb cell 2 line 3: 'σ' (U+03C3)",
  ]);
});
