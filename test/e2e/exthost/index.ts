/**
 * Mocha runner loaded by code-server's extension host (`extensionTestsPath`): runs every
 * *.suite.js beside it, writes a JSON report to TRANSFERLAB_E2E_EXTHOST_REPORT for the e2e test
 * that started code-server, and rejects when a test failed (VS Code then exits with code 1).
 */
import Mocha from 'mocha';
import { readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

/** What the report file holds. */
export interface ExtHostReport {
  readonly passed: { title: string; durationMs: number }[];
  readonly failed: { title: string; error: string; durationMs: number }[];
  readonly durationMs: number;
}

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', timeout: 60_000, color: false, reporter: 'spec' });
  const grep = process.env['TRANSFERLAB_E2E_EXTHOST_GREP'];
  if (grep) mocha.grep(grep);
  for (const file of readdirSync(__dirname).filter((f) => f.endsWith('.suite.js')).sort()) mocha.addFile(path.join(__dirname, file));
  const report: ExtHostReport = { passed: [], failed: [], durationMs: 0 };
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const runner = mocha.run((failures) => {
      const out = process.env['TRANSFERLAB_E2E_EXTHOST_REPORT'];
      if (out) writeFileSync(out, JSON.stringify({ ...report, durationMs: Date.now() - t0 }, null, 2));
      if (failures > 0) reject(new Error(`${failures} extension-host test(s) failed`));
      else resolve();
    });
    runner.on('pass', (test) => report.passed.push({ title: test.fullTitle(), durationMs: test.duration ?? 0 }));
    runner.on('fail', (test, err: Error) => report.failed.push({ title: test.fullTitle(), error: err.stack ?? String(err), durationMs: test.duration ?? 0 }));
  });
}
