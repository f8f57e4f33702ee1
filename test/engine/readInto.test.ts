/**
 * readInto: a float32 tensor's values copied into an array at an offset, as dataSync gives them, on
 * the wasm backend (from its heap) and on cpu; other dtypes are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { heapValues, readInto } from '../../src/engine/readInto.ts';

await initNodeBackend('wasm');

for (const backend of ['wasm', 'cpu']) {
  test(`readInto on ${backend}: the values of dataSync at the offset, the rest untouched`, async () => {
    const was = tf.getBackend();
    await tf.setBackend(backend);
    try {
      const t = tf.tensor2d([1.5, -2, 3e-8, NaN, Infinity, -0], [2, 3]);
      const before = tf.memory().numTensors;
      const out = new Float32Array(10).fill(7);
      readInto(t, out, 3);
      assert.deepEqual(Array.from(out.subarray(0, 3)), [7, 7, 7]);
      assert.deepEqual(Array.from(out.subarray(3, 9)), Array.from(t.dataSync()));
      assert.equal(Object.is(out[8], -0), true, 'the sign of a zero is kept');
      assert.equal(out[9], 7);
      assert.equal(tf.memory().numTensors, before);
      tf.tidy(() => assert.throws(() => readInto(tf.tensor1d([1, 2], 'int32'), out), /float32/));
      t.dispose();
    } finally {
      await tf.setBackend(was);
    }
  });
}

test('heapValues: the values of dataSync (a view of the wasm heap there); other dtypes refused', () => {
  const t = tf.tensor1d([0.5, -1, 3]);
  assert.deepEqual(Array.from(heapValues(t)), Array.from(t.dataSync()));
  tf.tidy(() => assert.throws(() => heapValues(tf.tensor1d([1], 'int32')), /float32/));
  t.dispose();
});
