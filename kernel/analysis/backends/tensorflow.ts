/**
 * Native TensorFlow (libtensorflow) through tfjs-node-gpu or tfjs-node, when the user installed one
 * (optional peers, loaded with a guarded `require`): first in automatic choice.
 */
import { BackendUnavailableError } from '../errors';
import { activate } from './activate';
import type { BackendProvider } from './provider';

export const tensorflowProvider: BackendProvider = {
  name: 'tensorflow',
  priority: 4,
  capabilities: { syncRead: true, reduceOnHost: false },
  async start({ auto }) {
    const tried: string[] = [];
    for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
      let resolved: string;
      try {
        resolved = require.resolve(pkg);
      } catch {
        tried.push(`${pkg} is not installed`);
        continue;
      }
      try {
        // An optional peer the user may have installed: a guarded, synchronous require.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        require(resolved);
      } catch (e) {
        const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
        if (!auto) throw new BackendUnavailableError('tensorflow', `${pkg} is installed but failed to load: ${msg}`, { cause: e });
        tried.push(`${pkg} failed to load: ${msg}`);
        continue;
      }
      await activate('tensorflow', `${pkg} loaded but its backend did not start`);
      const gpu = pkg.endsWith('-gpu');
      return { device: gpu ? 'libtensorflow (CUDA)' : 'libtensorflow (CPU)', threads: 0, detail: pkg };
    }
    throw new BackendUnavailableError('tensorflow', `${tried.join('; ')} (optional peers: npm install @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu)`);
  },
};
