/**
 * Unit tests of the controller's logic under plain Node, with a stand-in for the vscode module:
 * Jupyter content → VS Code outputs, the per-cell output state machine (streams, clear_output,
 * display updates), cursor conversion, the status description, settings. The same code runs in a
 * real VS Code in test/e2e.
 */
import { fakeSettings, NotebookCellOutput, NotebookCellOutputItem } from './vscodeFake';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type * as vscode from 'vscode';
import { CellRun, NotebookOutputs, isTypeScriptIpynb, type NotebookSession } from '../../extension/controller';
import { bundleItems, displayOutput, errorOutput } from '../../extension/cellOutputs';
import { fromCodePoints, toCodePoints } from '../../extension/languageFeatures';
import { describeKernel } from '../../extension/kernelProcess';
import { startingBackend, type KernelBackendInfo } from '../../kernel/protocol/backends';
import type { KernelInfoReply } from '../../kernel/protocol/messages';
import { KernelHandler, type ExecutorPort } from '../../kernel/jupyter/handler';
import { kernelEnvironment, readSettings } from '../../extension/settings';
import { InvalidSettingError, Messages } from '../../extension/errors';
import { applyCarriageReturns } from '../../kernel/protocol/outputs';

const text = (item: { data: Uint8Array } | undefined) => Buffer.from(item!.data).toString();
const PNG_1x1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

describe('bundleItems', () => {
  it('puts TransferLab JSON first, then Vega-Lite, HTML, images, text/plain last', () => {
    const items = bundleItems({
      'text/plain': 'x',
      'image/png': PNG_1x1,
      'text/html': '<b>x</b>',
      'application/vnd.vegalite.v5+json': { mark: 'bar' },
      'application/vnd.transferlab.cka+json': { values: [[1]] },
    });
    assert.deepEqual(
      items.map((i) => i.mime),
      ['application/vnd.transferlab.cka+json', 'application/vnd.vegalite.v5+json', 'text/html', 'image/png', 'text/plain'],
    );
  });

  it('encodes JSON as JSON text, decodes base64 images to bytes, joins text given as lines', () => {
    const items = bundleItems({ 'application/json': { a: [1, 2] }, 'image/png': PNG_1x1, 'text/plain': ['a\n', 'b'] as unknown as string });
    const [json, png, txt] = ['application/json', 'image/png', 'text/plain'].map((m) => items.find((i) => i.mime === m));
    assert.deepEqual(JSON.parse(text(json)), { a: [1, 2] });
    assert.equal(Buffer.from(png!.data).toString('base64'), PNG_1x1);
    assert.deepEqual([...png!.data.slice(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
    assert.equal(text(txt), 'a\nb');
  });
});

describe('outputs carry the serializer metadata', () => {
  it('display_data and execute_result', () => {
    const d = displayOutput('display_data', { data: { 'text/plain': 'x' }, metadata: { k: 1 } });
    assert.deepEqual(d.metadata, { outputType: 'display_data', metadata: { k: 1 } });
    const r = displayOutput('execute_result', { data: { 'text/plain': '3' }, metadata: {}, execution_count: 7 });
    assert.deepEqual(r.metadata, { outputType: 'execute_result', metadata: {}, executionCount: 7 });
  });

  it('errors keep ename/evalue/traceback, and show the traceback as the stack', () => {
    const o = errorOutput({ ename: 'TypeScriptError', evalue: "1:7 TS2322: Type 'number'…", traceback: ['TypeScript error TS2322 at line 1, column 7', '> 1 | const s: string = 1;'] });
    const shown = JSON.parse(text(o.items[0])) as { name: string; message: string; stack: string };
    assert.equal(o.items[0]!.mime, 'application/vnd.code.notebook.error');
    assert.equal(shown.name, 'TypeScriptError');
    assert.equal(shown.stack, 'TypeScript error TS2322 at line 1, column 7\n> 1 | const s: string = 1;');
    assert.deepEqual((o.metadata as { originalError: unknown }).originalError, { ename: 'TypeScriptError', evalue: "1:7 TS2322: Type 'number'…", traceback: ['TypeScript error TS2322 at line 1, column 7', '> 1 | const s: string = 1;'] });
  });

  it('an extension-side failure becomes an error output naming it', () => {
    const o = errorOutput(new InvalidSettingError('transferlab.backend', 'gpu', 'one of auto, wasm'));
    const shown = JSON.parse(text(o.items[0])) as { name: string; message: string; stack: string };
    assert.equal(shown.name, 'InvalidSettingError');
    assert.match(shown.message, /transferlab\.backend is "gpu"; expected one of auto, wasm/);
  });
});

/** Records what a cell execution is asked to do, like VS Code's model would apply it. */
class FakeExecution {
  outputs: NotebookCellOutput[] = [];
  executionOrder: number | undefined;
  readonly cell = { index: 0 } as vscode.NotebookCell;
  appendOutput(o: NotebookCellOutput): Promise<void> {
    this.outputs.push(o);
    return Promise.resolve();
  }
  replaceOutputItems(items: NotebookCellOutputItem | NotebookCellOutputItem[], output: NotebookCellOutput): Promise<void> {
    const target = this.outputs.find((o) => o.id === output.id);
    if (!target) return Promise.reject(new Error(`no output ${output.id}`));
    target.items = Array.isArray(items) ? items : [items];
    return Promise.resolve();
  }
  clearOutput(): Promise<void> {
    this.outputs = [];
    return Promise.resolve();
  }
  texts(): string[] {
    return this.outputs.map((o) => o.items.map(text).join(''));
  }
}

function cellRun() {
  const execution = new FakeExecution();
  const session = { outputs: new NotebookOutputs() } as unknown as NotebookSession;
  const log = { warn: () => undefined, debug: () => undefined } as unknown as vscode.LogOutputChannel;
  const run = new CellRun(execution as unknown as vscode.NotebookCellExecution, session, log);
  const send = (msg_type: string, content: object) => run.handle({ header: { msg_type }, parent_header: { msg_id: 'req-1' }, content });
  return { execution, run, send, session };
}

describe('CellRun', () => {
  it('grows one output per stream while the same stream continues', async () => {
    const { execution, run, send } = cellRun();
    send('stream', { name: 'stdout', text: 'a\n' });
    send('stream', { name: 'stdout', text: 'b\n' });
    send('stream', { name: 'stderr', text: 'oops\n' });
    send('stream', { name: 'stdout', text: 'c\n' });
    await run.settled();
    assert.deepEqual(execution.texts(), ['a\nb\n', 'oops\n', 'c\n']);
    assert.deepEqual(execution.outputs.map((o) => o.items[0]!.mime), [
      'application/vnd.code.notebook.stdout',
      'application/vnd.code.notebook.stderr',
      'application/vnd.code.notebook.stdout',
    ]);
    assert.equal(run.parentMsgId, 'req-1');
  });

  it('rewrites a progress line on carriage returns', async () => {
    const { execution, run, send } = cellRun();
    send('stream', { name: 'stdout', text: 'epoch 1/3' });
    send('stream', { name: 'stdout', text: '\repoch 2/3' });
    send('stream', { name: 'stdout', text: '\repoch 3/3\ndone\n' });
    await run.settled();
    assert.deepEqual(execution.texts(), ['epoch 3/3\ndone\n']);
  });

  it('clear_output clears at once; with wait, only when the next output comes', async () => {
    const { execution, run, send } = cellRun();
    send('stream', { name: 'stdout', text: 'gone\n' });
    send('clear_output', { wait: false });
    send('display_data', { data: { 'text/plain': 'old' }, metadata: {} });
    send('clear_output', { wait: true });
    await run.settled();
    assert.deepEqual(execution.texts(), ['old']);
    send('display_data', { data: { 'text/plain': 'new' }, metadata: {} });
    await run.settled();
    assert.deepEqual(execution.texts(), ['new']);
  });

  it('update_display_data replaces every output showing that display_id, in place', async () => {
    const { execution, run, send, session } = cellRun();
    send('display_data', { data: { 'text/plain': 'step 0' }, metadata: {}, transient: { display_id: 'bar' } });
    send('stream', { name: 'stdout', text: 'between\n' });
    send('display_data', { data: { 'text/plain': 'step 0' }, metadata: {}, transient: { display_id: 'bar' } });
    send('update_display_data', { data: { 'text/plain': 'step 9' }, metadata: {}, transient: { display_id: 'bar' } });
    send('update_display_data', { data: { 'text/plain': 'ignored' }, metadata: {}, transient: { display_id: 'unknown' } });
    await run.settled();
    assert.deepEqual(execution.texts(), ['step 9', 'between\n', 'step 9']);
    assert.equal(session.outputs.displays.get('bar')?.length, 2);
  });

  it('execute_input sets the execution order; execute_result and error are outputs', async () => {
    const { execution, run, send } = cellRun();
    send('execute_input', { code: '1', execution_count: 4 });
    send('execute_result', { data: { 'text/plain': '1' }, metadata: {}, execution_count: 4 });
    send('error', { ename: 'InterruptError', evalue: 'The cell was interrupted.', traceback: [] });
    await run.settled();
    assert.equal(execution.executionOrder, 4);
    assert.equal(run.sawError, true);
    assert.deepEqual(execution.outputs.map((o) => o.metadata?.['outputType']), ['execute_result', 'error']);
  });
});

describe('applyCarriageReturns', () => {
  it('overwrites from the start of the line, keeps \\r\\n as a newline', () => {
    assert.equal(applyCarriageReturns('abc\rX'), 'Xbc');
    assert.equal(applyCarriageReturns('10%\r20%\r30%'), '30%');
    assert.equal(applyCarriageReturns('a\r\nb'), 'a\nb');
    assert.equal(applyCarriageReturns('no returns'), 'no returns');
  });
});

describe('cursor positions', () => {
  it('converts between UTF-16 offsets and Jupyter code points', () => {
    const code = 'const 𝛉 = 1; 𝛉.';
    const offset = code.length; // after the dot
    assert.equal(toCodePoints(code, offset), [...code].length);
    assert.equal(fromCodePoints(code, [...code].length), offset);
    assert.equal(fromCodePoints(code, 7), 'const 𝛉'.length);
    assert.equal(toCodePoints('abc', 2), 2);
  });
});

describe('describeKernel', () => {
  const banner = (d: string) => `TransferLab 0.1.0: TypeScript 5.9 on Node v20; compute backend: ${d}. \`tl\` and \`tf\` are preloaded.`;
  const reply = (transferlab: KernelBackendInfo | undefined, description = transferlab?.description ?? '') =>
    ({ banner: banner(description), ...(transferlab ? { transferlab } : {}) }) as unknown as KernelInfoReply;
  const started = (backend: string, device: string, threads: number, detail: string): KernelBackendInfo => ({
    starting: false,
    backend,
    device,
    threads,
    detail,
    description: `${backend} · ${detail}`,
  });
  it('reads backend and device from kernel_info', () => {
    assert.deepEqual(describeKernel(reply(started('wasm', 'WebAssembly SIMD', 1, '1 thread'))), { backend: 'wasm', device: '1 thread', banner: banner('wasm · 1 thread'), known: true });
    const gpu = describeKernel(reply(started('webgpu', 'llvmpipe (Mesa 25.0.7)', 0, 'llvmpipe (Mesa 25.0.7)')));
    assert.equal(gpu.backend, 'webgpu');
    assert.equal(gpu.device, 'llvmpipe (Mesa 25.0.7)');
  });
  it('knows a backend still starting', () => {
    const d = describeKernel(reply(startingBackend('auto')));
    assert.equal(d.known, false);
    assert.equal(d.backend, 'auto');
    assert.equal(d.device, 'starting…');
  });
  it('falls back for a kernel without the field, whatever its banner says', () => {
    assert.equal(describeKernel(reply(undefined, 'Some other kernel')).known, true);
    const prose = describeKernel(reply(undefined, 'wasm · 1 thread'));
    assert.deepEqual([prose.backend, prose.device, prose.known], ['TypeScript', 'unknown backend', true]);
    assert.equal(describeKernel(reply({ starting: false, backend: 'wasm' } as unknown as KernelBackendInfo, 'wasm · 1 thread')).backend, 'TypeScript', 'a malformed field is ignored');
  });
  it("reads what the kernel's handler sends, starting and started", () => {
    const executor = { computeBackend: undefined as KernelBackendInfo | undefined };
    const io = { reply: () => undefined, publish: () => undefined, log: () => undefined };
    const handler = new KernelHandler(executor as unknown as ExecutorPort, io, { version: '0.1.0', backendChoice: 'auto', onShutdown: () => undefined });
    const viaWire = () => describeKernel(JSON.parse(JSON.stringify(handler.kernelInfo())) as KernelInfoReply);
    assert.deepEqual([viaWire().backend, viaWire().device, viaWire().known], ['auto', 'starting…', false]);
    executor.computeBackend = started('wasm', 'WebAssembly SIMD', 1, '1 thread');
    const d = viaWire();
    assert.deepEqual([d.backend, d.device, d.known], ['wasm', '1 thread', true]);
    assert.equal(Messages.statusIdle(d.backend, d.device), '$(circuit-board) TransferLab: wasm · 1 thread');
  });
});

describe('isTypeScriptIpynb', () => {
  const nb = (metadata: object) => ({ metadata }) as unknown as vscode.NotebookDocument;
  it('reads kernelspec or language_info, nested as VS Code keeps it or not', () => {
    assert.equal(isTypeScriptIpynb(nb({ metadata: { kernelspec: { language: 'typescript' } } })), true);
    assert.equal(isTypeScriptIpynb(nb({ language_info: { name: 'TypeScript' } })), true);
    assert.equal(isTypeScriptIpynb(nb({ metadata: { kernelspec: { language: 'python' } } })), false);
    assert.equal(isTypeScriptIpynb(nb({})), false);
  });
});

describe('settings', () => {
  it('defaults: the extension host runtime, auto backend, outputs saved', () => {
    for (const k of Object.keys(fakeSettings)) delete fakeSettings[k];
    assert.deepEqual(readSettings(), { nodePath: undefined, backend: 'auto', saveOutputs: true, staticFigures: true });
    assert.deepEqual(kernelEnvironment(readSettings()), {});
  });
  it('passes the backend to the kernel and trims the Node path', () => {
    fakeSettings['transferlab.backend'] = 'webgpu';
    fakeSettings['transferlab.nodePath'] = '  /opt/node/bin/node ';
    const s = readSettings();
    assert.equal(s.nodePath, '/opt/node/bin/node');
    assert.deepEqual(kernelEnvironment(s), { TRANSFERLAB_BACKEND: 'webgpu' });
  });
  it('rejects an unknown backend, naming the setting and the allowed values', () => {
    fakeSettings['transferlab.backend'] = 'cuda';
    assert.throws(() => readSettings(), (e: unknown) => e instanceof InvalidSettingError && /transferlab\.backend is "cuda"; expected one of auto, wasm, cpu, webgpu, tensorflow/.test(e.message));
    fakeSettings['transferlab.backend'] = 'auto';
    fakeSettings['transferlab.saveOutputs'] = 'yes';
    assert.throws(() => readSettings(), /transferlab\.saveOutputs is "yes"; expected true or false/);
  });
  it('static figures off in the setting: the kernel gets TRANSFERLAB_STATIC_FIGURES=0', () => {
    for (const k of Object.keys(fakeSettings)) delete fakeSettings[k];
    fakeSettings['transferlab.staticFigures'] = false;
    assert.deepEqual(kernelEnvironment(readSettings()), { TRANSFERLAB_STATIC_FIGURES: '0' });
    fakeSettings['transferlab.staticFigures'] = 'no';
    assert.throws(() => readSettings(), /transferlab\.staticFigures is "no"; expected true or false/);
    delete fakeSettings['transferlab.staticFigures'];
  });
});

describe('messages', () => {
  it('say how the kernel ended', () => {
    assert.match(Messages.kernelDied(null, 'SIGKILL'), /killed by SIGKILL/);
    assert.match(Messages.kernelDied(134, null), /exited with code 134/);
  });
});
