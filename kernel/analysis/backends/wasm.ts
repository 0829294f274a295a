/** The WebAssembly backend (SIMD where the CPU has it): the CPU default. */
import path from 'node:path';
import { tf } from '../tfjs';
import { BackendUnavailableError } from '../errors';
import { registerWasmKernels } from '../wasmKernels';
import { activate } from './activate';
import type { BackendProvider } from './provider';

export const wasmProvider: BackendProvider = {
  name: 'wasm',
  priority: 2,
  capabilities: { syncRead: true, reduceOnHost: true },
  async start() {
    let wasm: typeof import('@tensorflow/tfjs-backend-wasm');
    try {
      // Loaded on demand: the package registers its kernels when loaded and is not needed otherwise.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
    } catch (e) {
      throw new BackendUnavailableError('wasm', 'the package @tensorflow/tfjs-backend-wasm cannot be loaded (npm install @tensorflow/tfjs-backend-wasm)', { cause: e });
    }
    if (tf.engine().registry['wasm'] === undefined) {
      const dist = `${path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'))}${path.sep}dist${path.sep}`;
      wasm.setWasmPaths(dist);
    }
    registerWasmKernels();
    // The Emscripten runtime installs process handlers that rethrow every uncaught exception and
    // unhandled rejection, which would turn any stray rejection in a notebook into a crash with a
    // page of minified code. Remove the ones it adds.
    const before = {
      uncaughtException: new Set(process.listeners('uncaughtException')),
      unhandledRejection: new Set(process.listeners('unhandledRejection')),
    };
    try {
      await activate('wasm', 'the WebAssembly module failed to initialise');
    } finally {
      for (const l of process.listeners('uncaughtException')) {
        if (!before.uncaughtException.has(l)) process.removeListener('uncaughtException', l);
      }
      for (const l of process.listeners('unhandledRejection')) {
        if (!before.unhandledRejection.has(l)) process.removeListener('unhandledRejection', l);
      }
    }
    const threads = wasm.getThreadsCount();
    const simd = tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    const device = (await simd) ? 'WebAssembly SIMD' : 'WebAssembly';
    return { device, threads, detail: `${threads} thread${threads === 1 ? '' : 's'}` };
  },
};
