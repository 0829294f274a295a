import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { gramWorkerScript } from '../../kernel/analysis/gram/pool';

const root = path.resolve(__dirname, '..', '..');

test('under tsx the Gram pool starts the TypeScript worker entry with the tsx require hook', () => {
  const { file, execArgv } = gramWorkerScript();
  assert.equal(path.relative(root, file), path.join('kernel', 'analysis', 'gram', 'worker.ts'));
  assert.ok(existsSync(file), `${file} exists`);
  assert.deepEqual(execArgv, ['--require', 'tsx/cjs']);
});

test('the built Gram worker is its own file beside dist/analysis.js, and plain Node runs CKA on it', () => {
  const worker = path.join(root, 'dist', 'gramWorker.js');
  assert.ok(existsSync(worker), 'dist/gramWorker.js is built');
  // The analysis bundle starts the worker from its file, not from function source text.
  assert.doesNotMatch(readFileSync(path.join(root, 'dist', 'analysis.js'), 'utf8'), /eval:\s*true/);
  const script = `
    const tl = require(${JSON.stringify(path.join(root, 'dist', 'analysis.js'))});
    (async () => {
      await tl.initBackend('wasm');
      const { tf } = tl;
      const X = tf.randomNormal([200, 24], 0, 1, 'float32', 1);
      const Y = tf.tanh(tf.matMul(X, tf.randomNormal([24, 16], 0, 1, 'float32', 2)));
      tl.cka.ckaInternals.hostBlockRows = 32;
      const values = [];
      for (const threads of [1, 2, 3]) {
        tl.cka.ckaInternals.threads = threads; // forced: a worker that cannot run throws
        values.push(await tl.cka.linear(X, Y, { algorithm: 'gram', debiased: true }));
      }
      process.stdout.write(JSON.stringify(values));
    })().catch((e) => { console.error(e); process.exit(1); });`;
  const r = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  assert.equal(r.status, 0, r.stderr);
  const [one, two, three] = JSON.parse(r.stdout) as number[];
  assert.ok(one! > 0.1 && one! < 1, `CKA ${one}`);
  assert.ok(Math.abs(two! - one!) <= 1e-12 * Math.abs(one!), `2 threads: ${two} vs ${one}`);
  assert.ok(Math.abs(three! - one!) <= 1e-12 * Math.abs(one!), `3 threads: ${three} vs ${one}`);
});
