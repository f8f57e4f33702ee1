/**
 * Tile's gradient (src/engine/tileGrad.ts) against the sum over blocks computed index by index, on
 * ranks 1 to 4, through tf.grad after ensureFastTileGradient; and a batch-norm-sized case (tfjs's
 * own gradient would take 16,384 slices there, each copying dy out of the wasm heap).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { ensureFastTileGradient, tileGradient } from '../../src/engine/tileGrad.ts';
import { createRng } from '../../src/engine/rng.ts';

await initNodeBackend('wasm');
ensureFastTileGradient();
const rng = createRng(3);

/** dx[i] = sum of w over every block position q: w at (q * xShape + i), by index arithmetic. */
function reference(w: Float32Array, xShape: number[], reps: number[]): Float32Array {
  const yShape = xShape.map((s, i) => s * reps[i]);
  const out = new Float32Array(xShape.reduce((a, b) => a * b, 1));
  const yIdx = new Array<number>(yShape.length).fill(0);
  for (let flat = 0; flat < w.length; flat++) {
    let rem = flat;
    for (let a = yShape.length - 1; a >= 0; a--) {
      yIdx[a] = rem % yShape[a];
      rem = Math.floor(rem / yShape[a]);
    }
    let xi = 0;
    for (let a = 0; a < xShape.length; a++) xi = xi * xShape[a] + (yIdx[a] % xShape[a]);
    out[xi] += w[flat];
  }
  return out;
}

test('Tile gradient sums the tiled blocks (ranks 1-4, tf.grad through the registered gradient)', () => {
  const cases: [number[], number[]][] = [
    [[3], [4]],
    [
      [2, 3],
      [3, 2],
    ],
    [
      [2, 1, 3],
      [1, 4, 2],
    ],
    [
      [1, 1, 1, 4],
      [2, 3, 5, 1],
    ],
    [
      [2, 3, 2, 2],
      [2, 1, 3, 2],
    ],
    // Runs of size-1 axes merged into one sum, after a leading axis and with a 1-rep inside.
    [
      [2, 1, 1, 3],
      [2, 3, 2, 2],
    ],
    [
      [1, 1, 2],
      [3, 1, 2],
    ],
    [
      [3, 1],
      [1, 4],
    ],
    [
      [1, 2, 1, 3],
      [2, 2, 3, 1],
    ],
  ];
  for (const [xShape, reps] of cases) {
    const n = xShape.reduce((a, b) => a * b, 1) * reps.reduce((a, b) => a * b, 1);
    const wv = Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
    const before = tf.memory().numTensors;
    const x = tf.ones(xShape);
    const w = tf.tensor(
      wv,
      xShape.map((s, i) => s * reps[i]),
    );
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.tile(v, reps), w)))(x);
    const want = reference(wv, xShape, reps);
    const got = g.dataSync();
    for (let i = 0; i < want.length; i++)
      assert.ok(Math.abs(got[i] - want[i]) < 1e-5, `${xShape} x ${reps} at ${i}`);
    tf.dispose([x, w, g]);
    assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
  }
});

test('Tile gradient of a batch-norm-sized tiling (reps N H W over a [1, 1, 1, C] value) is the sum over N, H, W', () => {
  const dy = tf.randomUniform([16, 32, 32, 32], -1, 1, 'float32', 1);
  const g = tileGradient(dy, [1, 1, 1, 32], [16, 32, 32, 1]);
  const got = g.dataSync();
  const sum = tf.sum(dy, [0, 1, 2]);
  const want = sum.dataSync();
  for (let i = 0; i < 32; i++) assert.ok(Math.abs(got[i] - want[i]) < 1e-3, `channel ${i}`);
  assert.deepEqual(g.shape, [1, 1, 1, 32]);
  tf.dispose([dy, g, sum]);
});
