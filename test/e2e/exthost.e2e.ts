/**
 * Runs the mocha suites of test/e2e/exthost inside code-server's extension host (the extension
 * under development is this repository's build, from the folder developmentExtension() prepares)
 * and reports each of their tests here.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { CodeServer, Workbench, developmentExtension, e2eEnvironment, workspaceCopy } from './harness';
import type { ExtHostReport } from './exthost/index';

describe('extension-host tests (mocha in code-server)', () => {
  let server: CodeServer;
  let wb: Workbench;
  let report: ExtHostReport;
  let exitCode: number;
  const logs: string[] = [];

  before(async () => {
    const env = e2eEnvironment();
    const bundle = process.env['TRANSFERLAB_E2E_EXTHOST'];
    assert.ok(bundle && existsSync(path.join(bundle, 'index.js')), 'TRANSFERLAB_E2E_EXTHOST must name the built extension-host tests (scripts/e2e.mjs builds them)');
    const reportFile = path.join(env.results, 'exthost-report.json');
    rmSync(reportFile, { force: true });
    server = await CodeServer.start({
      name: 'exthost',
      workspace: workspaceCopy('workspace'),
      smokeTestDriver: true,
      // The suites restart kernels through the command: no confirmation dialog to answer.
      settings: { 'transferlab.confirmRestart': false },
      env: { TRANSFERLAB_E2E_EXTHOST_REPORT: reportFile },
    });
    const remote = (p: string) => `vscode-remote://127.0.0.1:${server.port}${p}`;
    const payload = JSON.stringify([
      ['extensionDevelopmentPath', remote(await developmentExtension())],
      ['extensionTestsPath', remote(bundle)],
    ]);
    let exit!: (code: number) => void;
    const exited = new Promise<number>((resolve) => (exit = resolve));
    wb = await Workbench.open(server, `?folder=${encodeURIComponent(server.options.workspace)}&payload=${encodeURIComponent(payload)}`, async (page) => {
      await page.exposeFunction('codeAutomationExit', (code: number) => exit(code));
      await page.exposeFunction('codeAutomationLog', (type: string, args: unknown[]) => logs.push(`${type}: ${args.map(String).join(' ')}`));
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    exitCode = await Promise.race([
      exited,
      new Promise<number>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the extension-host tests did not finish in 5 minutes; log:\n${logs.slice(-40).join('\n')}`)), 300_000);
      }),
    ]).finally(() => clearTimeout(timer));
    await wb.screenshot('exthost-end');
    assert.ok(existsSync(reportFile), `the mocha runner wrote no report (exit code ${exitCode}); log:\n${logs.slice(-40).join('\n')}`);
    report = JSON.parse(readFileSync(reportFile, 'utf8')) as ExtHostReport;
  });

  after(async () => {
    await wb?.close();
    await server?.stop();
  });

  it('ran the suites, all passing', async (t) => {
    assert.ok(report.passed.length + report.failed.length > 0, 'no extension-host test ran');
    // One entry per mocha test, with the duration mocha measured in the extension host.
    for (const p of report.passed) await t.test(`${p.title} [${p.durationMs} ms in the extension host]`, () => undefined);
    for (const f of report.failed) {
      await t.test(`${f.title} [${f.durationMs} ms in the extension host]`, () => {
        assert.fail(f.error);
      });
    }
    assert.equal(exitCode, report.failed.length > 0 ? 1 : 0, 'VS Code exit code and the report disagree');
  });
});
