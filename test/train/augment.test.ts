import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { flip, shift, parseAugment } from '../../src/train/augment.ts';
import { createRng } from '../../src/engine/rng.ts';
import { UserError } from '../../src/errors.ts';

/** A batch whose every value tells where it sits: image i, row r, column q, channel k. */
function labelled(n: number, h: number, w: number, c: number): tf.Tensor4D {
  const v = new Float32Array(n * h * w * c);
  for (let i = 0; i < v.length; i++) v[i] = i + 1;
  return tf.tensor4d(v, [n, h, w, c]);
}

test('shift: each image is the zero-padded batch cropped at the offsets the rng drew (pad and slice with tensor ops)', () => {
  const x = labelled(5, 6, 7, 3);
  const p = 2;
  const got = shift(p)(x, createRng(7));
  // Independent computation: pad by p, then crop at (dy, dx) drawn in the same order.
  const rng = createRng(7);
  const want = tf.tidy(() => {
    const padded = tf.pad(x, [
      [0, 0],
      [p, p],
      [p, p],
      [0, 0],
    ]);
    const parts: tf.Tensor4D[] = [];
    for (let i = 0; i < 5; i++) {
      const dy = rng.int(2 * p + 1);
      const dx = rng.int(2 * p + 1);
      parts.push(tf.slice(padded, [i, dy, dx, 0], [1, 6, 7, 3]));
    }
    return tf.concat(parts, 0);
  });
  assert.deepEqual(Array.from(got.dataSync()), Array.from(want.dataSync()));
  tf.dispose([x, got, want]);
});

test('shift by a hand-checked offset moves a single bright pixel', () => {
  // With one image, the first draws are dy then dx; find a seed whose draw is (3, 0): a move of (-1, +2).
  let seed = 1;
  for (; seed < 1000; seed++) {
    const r = createRng(seed);
    if (r.int(5) === 3 && r.int(5) === 0) break;
  }
  const v = new Float32Array(25);
  v[2 * 5 + 2] = 1; // pixel (2, 2)
  const x = tf.tensor4d(v, [1, 5, 5, 1]);
  const y = shift(2)(x, createRng(seed));
  const out = Array.from(y.dataSync());
  // Output (r, q) reads input (r + 1, q - 2): the pixel lands on (1, 4).
  assert.equal(out.indexOf(1), 1 * 5 + 4);
  assert.equal(
    out.reduce((a, b) => a + b, 0),
    1,
  );
  tf.dispose([x, y]);
});

test('flip mirrors exactly the images whose draw is under 1/2 and keeps the others', () => {
  const x = labelled(6, 3, 4, 2);
  const got = flip()(x, createRng(3));
  const rng = createRng(3);
  const want = tf.tidy(() => {
    const mask = tf.tensor4d(
      Array.from({ length: 6 }, () => (rng.next() < 0.5 ? 1 : 0)),
      [6, 1, 1, 1],
    );
    return tf.add(tf.mul(mask, tf.image.flipLeftRight(x)), tf.mul(tf.sub(1, mask), x));
  });
  assert.deepEqual(Array.from(got.dataSync()), Array.from(want.dataSync()));
  tf.dispose([x, got, want]);
});

test('augmentations leave no tensors behind and bad specs are user errors', () => {
  const x = labelled(2, 4, 4, 1);
  const before = tf.memory().numTensors;
  const { hooks } = parseAugment('shift:1,flip');
  let y = x;
  for (const h of hooks) {
    const next = h(y, createRng(1));
    if (y !== x) y.dispose();
    y = next;
  }
  y.dispose();
  assert.equal(tf.memory().numTensors, before);
  x.dispose();
  assert.throws(() => parseAugment('shift:0'), UserError);
  assert.throws(() => parseAugment('rotate'), UserError);
});
