/** Test helper: asserts that a function leaves tf.memory().numTensors unchanged. */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';

export async function assertNoLeak<T>(what: string, f: () => T | Promise<T>): Promise<T> {
  const before = tf.memory().numTensors;
  const r = await f();
  const after = tf.memory().numTensors;
  assert.equal(after, before, `${what} leaked ${after - before} tensors`);
  return r;
}
