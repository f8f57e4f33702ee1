/**
 * engine/tidyResult.ts: a tidy whose callback returns a typed array ends like one that returns
 * nothing (its tensors disposed, the values intact), quickly; tensors and containers of tensors are
 * still kept, as tfjs does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';

await initNodeBackend('wasm');

test('tidy returning a typed array: intermediates disposed, values intact, no walk over the values', () => {
  const before = tf.memory().numTensors;
  const x = tf.range(0, 3_000_000, 1, 'float32');
  const t0 = performance.now();
  const v = tf.tidy(() => tf.mul(tf.add(x, 1), 2).dataSync() as Float32Array);
  const ms = performance.now() - t0;
  assert.equal(tf.memory().numTensors, before + 1, 'only x is left');
  assert.equal(v.length, 3_000_000);
  assert.equal(v[0], 2);
  assert.equal(v[2_999_999], 6_000_000);
  // Walking 3 million values into a Set takes seconds; the kernels themselves take milliseconds.
  assert.ok(ms < 1500, `${ms.toFixed(0)} ms`);
  const i = tf.tidy(() => Int32Array.from(tf.cast(x, 'int32').dataSync()));
  assert.equal(i[7], 7);
  assert.equal(tf.memory().numTensors, before + 1);
  x.dispose();
});

test('tidy still keeps a returned tensor and the tensors in a returned container', () => {
  const before = tf.memory().numTensors;
  const a = tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(2)));
  assert.equal(tf.memory().numTensors, before + 1);
  const o = tf.tidy(() => ({ p: tf.add(tf.scalar(1), 1), q: [tf.scalar(3)], v: new Float32Array(4) }));
  assert.equal(tf.memory().numTensors, before + 3);
  assert.equal(o.p.dataSync()[0], 2);
  assert.equal(o.q[0].dataSync()[0], 3);
  tf.dispose([a, o.p, o.q[0]]);
  assert.equal(tf.memory().numTensors, before);
});
