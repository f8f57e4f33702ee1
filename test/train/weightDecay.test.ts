import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { addWeightDecay } from '../../src/train/optimizer.ts';

test('weight decay adds wd * w to the gradients of kernels only, and one SGD step shrinks them by lr * wd * w', () => {
  const kernel = tf.variable(
    tf.tensor2d([
      [1, -2],
      [3, 0.5],
    ]),
    true,
    'dense/kernel',
  );
  const bias = tf.variable(tf.tensor1d([4, -4]), true, 'dense/bias');
  const grads: tf.NamedTensorMap = {
    'dense/kernel': tf.tensor2d([
      [0.1, 0.2],
      [0.3, 0.4],
    ]),
    'dense/bias': tf.tensor1d([1, 1]),
  };
  const before = tf.memory().numTensors;
  addWeightDecay(grads, [kernel, bias], 0.01);
  // By hand: g + 0.01 * w.
  const k = Array.from(grads['dense/kernel'].dataSync());
  [0.11, 0.18, 0.33, 0.405].forEach((v, i) =>
    assert.ok(Math.abs(k[i] - v) < 1e-6, `kernel grad ${i}: ${k[i]} vs ${v}`),
  );
  assert.deepEqual(Array.from(grads['dense/bias'].dataSync()), [1, 1]);
  assert.equal(tf.memory().numTensors, before, 'the replaced gradient is disposed');
  const opt = tf.train.sgd(0.5);
  opt.applyGradients(grads);
  const w = Array.from(kernel.dataSync());
  // w - 0.5 * (g + 0.01 w)
  [1 - 0.5 * 0.11, -2 - 0.5 * 0.18, 3 - 0.5 * 0.33, 0.5 - 0.5 * 0.405].forEach((v, i) =>
    assert.ok(Math.abs(w[i] - v) < 1e-6),
  );
  const after = tf.memory().numTensors;
  addWeightDecay(grads, [kernel], 0); // 0 changes nothing and allocates nothing
  assert.equal(tf.memory().numTensors, after);
  tf.dispose([...Object.values(grads), kernel, bias]);
  opt.dispose();
});
