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

export { tf };
