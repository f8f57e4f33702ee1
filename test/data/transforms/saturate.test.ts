import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../../src/node/backend.ts';
import { saturate, saturateValue } from '../../../src/data/transforms/saturate.ts';
import { UserError } from '../../../src/errors.ts';

await initNodeBackend('wasm');

// A 1x1x5 "image" of the values 0, 0.25, 0.5, 0.75, 1 (one channel).
const values = [0, 0.25, 0.5, 0.75, 1];
const image = () => tf.tensor4d(values, [1, 1, 5, 1]);

// By hand: d = 2v - 1 is -1, -0.5, 0, 0.5, 1; v' = sign(d) |d|^(2/p) / 2 + 1/2.
const HAND: Record<number, number[]> = {
  // p = 1: |d|^2 = 0.25 at d = +-0.5 -> 0.5 -+ 0.125.
  1: [0, 0.375, 0.5, 0.625, 1],
  2: values,
  // p = 4: 0.5^(1/2) = 0.70710678 -> 0.5 -+ 0.35355339.
  4: [0, 0.14644661, 0.5, 0.85355339, 1],
  // p = 8: 0.5^(1/4) = 0.84089642 -> 0.5 -+ 0.42044821.
  8: [0, 0.07955179, 0.5, 0.92044821, 1],
  // p = 1024: 0.5^(1/512) = 0.99864711 -> 0.5 -+ 0.49932356: nearly binary.
  1024: [0, 0.00067644, 0.5, 0.99932356, 1],
};

test('saturate equals the formula computed by hand on a five-value image', () => {
  for (const [p, want] of Object.entries(HAND)) {
    const x = image();
    const y = saturate(x, Number(p));
    const got = Array.from(y.dataSync());
    tf.dispose([x, y]);
    got.forEach((v, i) =>
      assert.ok(Math.abs(v - want[i]) < 1e-6, `p=${p} v=${values[i]}: ${v} vs ${want[i]}`),
    );
    want.forEach((v, i) => assert.ok(Math.abs(saturateValue(values[i], Number(p)) - v) < 1e-6));
  }
});

test('saturate at p = 2 is the identity and keeps values in [0, 1] at every level, channel by channel', () => {
  const data = Array.from({ length: 2 * 3 * 4 * 3 }, (_, i) => ((i * 37) % 101) / 100);
  const x = tf.tensor4d(data, [2, 3, 4, 3]);
  const id = saturate(x, 2);
  assert.deepEqual(Array.from(id.dataSync()), Array.from(x.dataSync()));
  for (const p of [1, 4, 16, 64]) {
    const y = saturate(x, p);
    const got = y.dataSync();
    for (let i = 0; i < data.length; i++) {
      assert.ok(got[i] >= 0 && got[i] <= 1);
      assert.ok(Math.abs(got[i] - saturateValue(data[i], p)) < 1e-5);
    }
    y.dispose();
  }
  tf.dispose([x, id]);
});

test('saturate leaks no tensors and refuses a level that is not > 0', () => {
  const x = image();
  const before = tf.memory().numTensors;
  saturate(x, 8).dispose();
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => saturate(x, 0), UserError);
  assert.throws(() => saturate(x, Number.NaN), UserError);
  x.dispose();
});
