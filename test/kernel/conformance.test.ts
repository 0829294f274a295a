/**
 * Runs the Jupyter conformance suite (Debian python3-jupyter-kernel-test) against the installed
 * kernelspec, and nbconvert (Debian jupyter-nbconvert) executing a notebook on the kernel.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PYTHON, installKernelspec, repoRoot, requirePythonModule } from '../helpers/tools';

test('jupyter_kernel_test conformance suite passes', { timeout: 300_000 }, () => {
  requirePythonModule('jupyter_kernel_test', 'python3-jupyter-kernel-test');
  const jupyterPath = installKernelspec();
  const r = spawnSync(PYTHON, ['-m', 'unittest', '-v', 'conformance'], {
    cwd: os.tmpdir(),
    env: { ...process.env, JUPYTER_PATH: jupyterPath, PYTHONPATH: path.join(repoRoot, 'test', 'kernel') },
    encoding: 'utf8',
    timeout: 280_000,
  });
  const output = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.status, 0, `conformance suite failed:\n${output}`);
  const ran = /Ran (\d+) tests?/.exec(output);
  assert.ok(ran, `no test count in the output:\n${output}`);
  // jupyter_kernel_test 0.4.5 has 12 tests; samples are given for every one but the pager.
  assert.ok(Number(ran[1]) >= 12, `expected at least 12 tests, ran ${ran[1]}`);
  const skippedTests = output.split('\n').filter((l) => /\.\.\. skipped/.test(l));
  assert.deepEqual(skippedTests.map((l) => /^(test_\w+)/.exec(l)?.[1]), ['test_pager'], `only the pager test may be skipped:\n${output}`);
  assert.match(output, /^OK \(skipped=1\)$/m, 'the suite did not end OK with only the pager skipped');
  for (const name of ['test_execute_stdout', 'test_execute_stderr', 'test_completion', 'test_is_complete', 'test_error', 'test_execute_result', 'test_display_data', 'test_history', 'test_inspect', 'test_clear_output', 'test_kernel_info']) {
    assert.match(output, new RegExp(`^${name} \\(`, 'm'), `${name} did not run`);
    assert.doesNotMatch(output, new RegExp(`^(FAIL|ERROR): ${name} `, 'm'), `${name} failed`);
  }
});

test('nbconvert executes a notebook on the kernel, filling execution counts', { timeout: 120_000 }, () => {
  requirePythonModule('nbconvert', 'jupyter-nbconvert');
  const jupyterPath = installKernelspec();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'transferlab-nbconvert-'));
  const cell = (source: string) => ({ cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source });
  const nb = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'transferlab', display_name: 'TypeScript (TransferLab)', language: 'typescript' }, language_info: { name: 'typescript' } },
    cells: [cell('const xs: number[] = [1, 2, 3];\nconsole.log("sum", xs.reduce((a, b) => a + b, 0));'), { cell_type: 'markdown', metadata: {}, source: '# A heading' }, cell('xs.map((x) => x * 10)'), cell('display.html("<i>ok</i>")')],
  };
  const input = path.join(dir, 'small.ipynb');
  writeFileSync(input, JSON.stringify(nb));
  const r = spawnSync('jupyter', ['nbconvert', '--to', 'notebook', '--execute', '--ExecutePreprocessor.timeout=60', '--output', 'executed.ipynb', input], {
    cwd: dir,
    env: { ...process.env, JUPYTER_PATH: jupyterPath },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `nbconvert failed:\n${r.stdout}\n${r.stderr}`);
  const out = JSON.parse(readFileSync(path.join(dir, 'executed.ipynb'), 'utf8')) as { cells: { cell_type: string; execution_count?: number; outputs?: { output_type: string; text?: string | string[]; data?: Record<string, unknown> }[] }[] };
  const code = out.cells.filter((c) => c.cell_type === 'code');
  assert.deepEqual(code.map((c) => c.execution_count), [1, 2, 3]);
  const text = (t: string | string[] | undefined) => (Array.isArray(t) ? t.join('') : (t ?? ''));
  assert.equal(text(code[0]!.outputs![0]!.text), 'sum 6\n');
  const result = code[1]!.outputs!.find((o) => o.output_type === 'execute_result');
  assert.equal(text(result?.data?.['text/plain'] as string | string[]), '[ 10, 20, 30 ]');
  assert.ok(code[2]!.outputs!.some((o) => o.output_type === 'display_data' && o.data?.['text/html']));
});
