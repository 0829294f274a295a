/**
 * The one place that loads TensorFlow.js for the analysis API. `@tensorflow/tfjs-core` alone has
 * neither gradients nor chained tensor methods (`t.sum()`); the union package registers both (and
 * the cpu backend) on the shared engine, so tensors that `tl` returns behave like the ones users
 * create with `import * as tf from '@tensorflow/tfjs'` in a cell. Its WebGL backend cannot run
 * under Node and is removed so that tfjs never tries it.
 */
import '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs-core';

if (tf.findBackendFactory('webgl') !== null) tf.removeBackend('webgl');

// Until tl.initBackend() picks one, tensors live on the cpu backend (what tfjs would choose here
// anyway). It greets its first tensor under Node with a banner recommending tfjs-node, which users
// cannot act on (tl.backend() says what runs, and why): start it now, synchronously (its
// initialisation has no asynchronous step), and mark it greeted.
if (tf.engine().backendName == null) {
  void tf.setBackend('cpu');
  const cpu = tf.engine().findBackend('cpu') as unknown as { firstUse?: boolean } | null;
  if (cpu && 'firstUse' in cpu) cpu.firstUse = false;
}

export { tf };
