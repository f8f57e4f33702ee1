import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../../src/node/backend.ts';
import {
  imageSeed,
  patchPermutation,
  patchShuffle,
  shuffleSourceMap,
} from '../../../src/data/transforms/patchShuffle.ts';
import { UserError } from '../../../src/errors.ts';

await initNodeBackend('wasm');

test('a known permutation moves the 2x2 patches of a hand-made 4x4 image where it says', () => {
  // Patch values: top-left 1x, top-right 2x, bottom-left 3x, bottom-right 4x (x = position inside).
  // prettier-ignore
  const img = [
    10, 11, 20, 21,
    12, 13, 22, 23,
    30, 31, 40, 41,
    32, 33, 42, 43,
  ];
  // perm[j] = the patch landing at grid position j: [3, 0, 2, 1] puts bottom-right at top-left, ...
  const map = shuffleSourceMap(4, 4, 2, [3, 0, 2, 1]);
  // prettier-ignore
  const want = [
    40, 41, 10, 11,
    42, 43, 12, 13,
    30, 31, 20, 21,
    32, 33, 22, 23,
  ];
  assert.deepEqual(
    Array.from(map, (s) => img[s]),
    want,
  );
});

test('patchShuffle puts each patch where its seeded permutation says, per image and channel', () => {
  const [n, h, w, c, k] = [3, 8, 8, 2, 4];
  const data = Array.from({ length: n * h * w * c }, (_, i) => i);
  const x = tf.tensor4d(data, [n, h, w, c]);
  const indices = [5, 0, 17];
  const y = patchShuffle(x, k, { seed: 3, indices });
  const got = y.dataSync();
  tf.dispose([x, y]);
  for (let i = 0; i < n; i++) {
    const perm = patchPermutation(k, imageSeed(3, indices[i]));
    assert.deepEqual(
      [...perm].sort((a, b) => a - b),
      Array.from({ length: k * k }, (_, j) => j),
    );
    // Direct: output patch at grid (gr, gc) is input patch perm[gr*k+gc], pixel by pixel (2x2 patches).
    for (let gr = 0; gr < k; gr++)
      for (let gc = 0; gc < k; gc++) {
        const from = perm[gr * k + gc];
        const [fr, fc] = [Math.floor(from / k), from % k];
        for (let r = 0; r < 2; r++)
          for (let cc = 0; cc < 2; cc++)
            for (let ch = 0; ch < c; ch++) {
              const out = ((i * h + gr * 2 + r) * w + gc * 2 + cc) * c + ch;
              const src = ((i * h + fr * 2 + r) * w + fc * 2 + cc) * c + ch;
              assert.equal(got[out], data[src]);
            }
      }
  }
});

test('patchShuffle does not depend on the batching, and another seed gives another order', () => {
  const x = tf.tensor4d(
    Array.from({ length: 4 * 8 * 8 }, (_, i) => i),
    [4, 8, 8, 1],
  );
  const whole = patchShuffle(x, 2, { seed: 9 });
  const tail = tf.slice(x, [2, 0, 0, 0], [2, 8, 8, 1]);
  const part = patchShuffle(tail, 2, { seed: 9, indices: [2, 3] });
  assert.deepEqual(Array.from(part.dataSync()), Array.from(whole.dataSync()).slice(2 * 64));
  const other = patchShuffle(x, 8, { seed: 10 });
  const again = patchShuffle(x, 8, { seed: 10 });
  const third = patchShuffle(x, 8, { seed: 11 });
  assert.deepEqual(Array.from(other.dataSync()), Array.from(again.dataSync()));
  assert.notDeepEqual(Array.from(other.dataSync()), Array.from(third.dataSync()));
  tf.dispose([x, whole, tail, part, other, again, third]);
});

test('permutations are uniform: each of the 24 orders of a 2x2 grid about 1/24 of the time', () => {
  const counts = new Map<string, number>();
  const draws = 4800;
  for (let i = 0; i < draws; i++) {
    const key = patchPermutation(2, imageSeed(1, i)).join('');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  assert.equal(counts.size, 24);
  // Chi-square with 23 degrees of freedom: 49.7 is its 99.9th percentile.
  const e = draws / 24;
  const chi = [...counts.values()].reduce((s, o) => s + (o - e) ** 2 / e, 0);
  assert.ok(chi < 49.7, `chi-square ${chi}`);
});

test('when k does not divide the side, the remainder rows and columns stay in place', () => {
  const map = shuffleSourceMap(28, 28, 8, patchPermutation(8, 4));
  for (let r = 0; r < 28; r++)
    for (let c = 0; c < 28; c++) {
      const s = map[r * 28 + c];
      if (r >= 24 || c >= 24) assert.equal(s, r * 28 + c);
      else assert.ok(Math.floor(s / 28) < 24 && s % 28 < 24);
    }
  assert.equal(new Set(map).size, 28 * 28);
});

test('patchShuffle leaks no tensors and refuses a grid larger than the image', () => {
  const x = tf.zeros([2, 4, 4, 3]) as tf.Tensor4D;
  const before = tf.memory().numTensors;
  patchShuffle(x, 2).dispose();
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => patchShuffle(x, 5), UserError);
  assert.throws(() => patchShuffle(x, 1.5), UserError);
  x.dispose();
});
