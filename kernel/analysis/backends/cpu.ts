/** The plain JavaScript backend: always there, slow; the last resort of automatic choice. */
import { activate } from './activate';
import type { BackendProvider } from './provider';

export const cpuProvider: BackendProvider = {
  name: 'cpu',
  priority: 1,
  capabilities: { syncRead: true, reduceOnHost: true },
  async start() {
    await activate('cpu', 'tf.setBackend("cpu") failed');
    return { device: 'JavaScript', threads: 1, detail: 'JavaScript (slow: last resort)' };
  },
};
