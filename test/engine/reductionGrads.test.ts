/**
 * The gradients of `Sum` and `Mean` registered by src/engine/meanGrad.ts (a broadcast of dy in place
 * of tfjs' multiplication by a ones tensor), through tf.grad, against dx computed index by index:
 * dx[i] = w[the output index that x[i] reduces into] (divided by the reduced size for Mean), on
 * several axis sets with and without keepDims; and a second-order case (IG-Norm differentiates a sum
 * of input gradients with respect to the weights) against the same function reduced by matMul.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { ensureFastMeanGrad } from '../../src/engine/meanGrad.ts';
import { createRng } from '../../src/engine/rng.ts';

await initNodeBackend('wasm');
ensureFastMeanGrad();
const rng = createRng(11);

/** Flat index in the reduced output of the flat input index i (reduced axes dropped). */
function outIndex(i: number, shape: number[], axes: number[]): number {
  let out = 0;
  let rest = i;
  const coords = new Array<number>(shape.length);
  for (let a = shape.length - 1; a >= 0; a--) {
    coords[a] = rest % shape[a];
    rest = Math.floor(rest / shape[a]);
  }
  for (let a = 0; a < shape.length; a++) if (!axes.includes(a)) out = out * shape[a] + coords[a];
  return out;
}

const cases: [number[], number[]][] = [
  [
    [4, 3, 5, 2],
    [0, 1, 2],
  ],
  [
    [4, 3, 5, 2],
    [1, 2, 3],
  ],
  [
    [4, 3, 5, 2],
    [1, 3],
  ],
  [[6, 7], [0]],
  [[6, 7], [1]],
  [
    [2, 3, 4],
    [0, 1, 2],
  ],
];

for (const op of ['sum', 'mean'] as const) {
  test(`${op} gradient is dy broadcast back over the reduced axes (${cases.length} axis sets, keepDims on and off)`, () => {
    for (const [shape, axes] of cases) {
      for (const keepDims of [false, true]) {
        const before = tf.memory().numTensors;
        const n = shape.reduce((a, b) => a * b, 1);
        const reduced = axes.reduce((a, ax) => a * shape[ax], 1);
        const outShape = shape
          .map((s, a) => (axes.includes(a) ? 1 : s))
          .filter((_, a) => keepDims || !axes.includes(a));
        const m = n / reduced;
        const wv = Float32Array.from({ length: m }, () => rng.next() * 2 - 1);
        const x = tf.tensor(
          Float32Array.from({ length: n }, () => rng.next()),
          shape,
        );
        const w = tf.tensor(wv, outShape);
        const f = (v: tf.Tensor) =>
          tf.sum(tf.mul(op === 'sum' ? tf.sum(v, axes, keepDims) : tf.mean(v, axes, keepDims), w));
        const g = tf.grad(f)(x);
        const got = g.dataSync();
        assert.deepEqual(g.shape, shape);
        for (let i = 0; i < n; i++) {
          const want =
            op === 'sum' ? wv[outIndex(i, shape, axes)] : Math.fround(wv[outIndex(i, shape, axes)] / reduced);
          assert.equal(got[i], want, `${op} ${shape} over ${axes} keepDims ${keepDims} at ${i}`);
        }
        tf.dispose([x, w, g]);
        assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
      }
    }
  });
}

test('a second-order gradient through sum and mean (d/dw of a sum of |input gradient|) matches the same function written with matMul', () => {
  const xv = Float32Array.from({ length: 3 * 4 * 5 }, () => rng.next() * 2 - 1);
  const wv = Float32Array.from({ length: 5 }, () => rng.next() * 2 - 1);
  // The loss: the input gradient's L1 norm summed over examples, of sum over examples of the mean over
  // axis 1 of tanh(x w); differentiated with respect to w. The reference reduces by matMul with
  // ones, whose gradients do not go through Sum or Mean.
  const run = (reduced: boolean) =>
    tf.tidy(() => {
      const x = tf.tensor(xv, [3, 4, 5]);
      const w = tf.tensor(wv, [5]);
      const total = (t: tf.Tensor) =>
        reduced ? tf.sum(t) : tf.matMul(tf.reshape(t, [1, -1]), tf.ones([t.size, 1]));
      const mean1 = (t: tf.Tensor) =>
        reduced ? tf.mean(t, 1) : tf.matMul(tf.transpose(t, [0, 2, 1]), tf.fill([3, 4, 1], 0.25));
      const outer = (wt: tf.Tensor) => {
        const inner = tf.grad((u: tf.Tensor) => total(mean1(tf.tanh(tf.mul(u, wt)))) as tf.Scalar);
        return total(tf.abs(inner(x))) as tf.Scalar;
      };
      return Array.from(tf.grad(outer)(w).dataSync());
    });
  const got = run(true);
  const want = run(false);
  for (let i = 0; i < 5; i++)
    assert.ok(Math.abs(got[i] - want[i]) < 1e-4 * (1 + Math.abs(want[i])), `w ${i}: ${got[i]} vs ${want[i]}`);
  assert.ok(
    want.some((v) => Math.abs(v) > 1e-3),
    'the reference gradient is not zero',
  );
});
