/** The cell converter: declarations become globals, lines are kept, the last expression is returned. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import vm from 'node:vm';
import { convertCell, RUNTIME_GLOBAL } from '../../kernel/executor/converter';

const g = globalThis as Record<string, unknown>;
g[RUNTIME_GLOBAL] = {
  declare(names: string[]) {
    for (const n of names) if (!(n in g)) g[n] = undefined;
  },
  import: async (s: string) => import(s),
  defaultOf: (m: unknown) => m,
  namedOf: (m: unknown) => m,
};
const run = (src: string) => vm.runInThisContext(convertCell(src).js) as Promise<unknown>;

test('declarations become globals that later cells see, and re-declaring works', async () => {
  assert.equal(await run('const convA: number = 1; let convB = convA + 1; convB'), 2);
  assert.equal(await run('const convA = 10; convA + (convB as number)'), 12);
  assert.equal(g.convA, 10);
});

test('destructuring, functions (hoisted), classes and enums', async () => {
  assert.equal(await run('const { p: convP, q: [convQ] } = { p: 1, q: [2] };\nfunction convHoisted() { return 10 }\nconvHoisted() + convP + convQ;'), 13);
  assert.equal(await run('const early = convHoisted2();\nfunction convHoisted2() { return 7 }\nearly'), 7);
  assert.equal(await run('class ConvBox { constructor(public v: number) {} }\nenum ConvE { A = 3, B }\nnew ConvBox(ConvE.B).v'), 4);
  assert.equal((await run('new ConvBox(5)')) instanceof (g.ConvBox as new (v: number) => unknown), true);
});

test('declarations are reported with their kinds; types are not values', () => {
  const c = convertCell('import type { X } from "m";\ninterface I {}\ntype T = number;\nconst a = 1;\nfunction f() {}\nclass C {}');
  assert.deepEqual(
    c.declarations.map((d) => `${d.kind}:${d.name}:${d.value}`),
    ['import:X:false', 'interface:I:false', 'type:T:false', 'const:a:true', 'function:f:true', 'class:C:true'],
  );
});

test('only a final expression statement is returned', async () => {
  assert.equal(convertCell('const z = 1;').hasLastExpression, false);
  assert.equal(convertCell('1 + 1').hasLastExpression, true);
  assert.equal(convertCell('if (true) { 5 }').hasLastExpression, false);
  assert.equal(await run('if (true) { 5 }'), undefined);
});

test('runtime errors map to the cell line through multi-line statements', async () => {
  const { Executor } = await import('../../kernel/executor/executor');
  const { createRuntime } = await import('../../kernel/executor/runtime');
  const path = await import('node:path');
  const root = path.resolve(__dirname, '..', '..');
  const ex = new Executor({
    cwd: root,
    packageRoot: root,
    runtime: createRuntime({ cwd: root, packageRoot: root, builtins: new Map() }),
    sink: { display: () => undefined, clear: () => undefined },
    preludeDeclarations: 'export {};',
  });
  const src = 'import {\n  join,\n  basename\n} from "node:path";\nconst parts: string[] = [\n  "a",\n  "b",\n];\nconst nothing: any = null;\nnothing.field;';
  const out = await ex.execute(src, 1);
  assert.equal(out.status, 'error');
  const tb = out.status === 'error' ? out.traceback.join('\n').replace(/\u001b\[[0-9;]*m/g, '') : '';
  assert.match(tb, /line 10, column/);
  assert.match(tb, /> 10 \| nothing\.field;/);
});
