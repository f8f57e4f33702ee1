/**
 * The project's wasm `Maximum`, `Minimum` (src/engine/kernels/compare.ts) and float32 `Sign`
 * (sign.ts) in the module: bit for bit the stock wasm kernels' Maximum and Minimum (NaN on either side,
 * signed zeros, infinities; equal shapes and a single value on either side, rank 0 and [1, 1]), which
 * also differ from the cpu backend's on NaN (stock returns a where b is NaN); Sign exactly as the
 * JavaScript loop it replaces; the cases left to the stock kernels (int32, other broadcasts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { maximum, minimum } from '../../src/engine/kernels/compare.ts';
import { runStock, type BackendWasm } from '../../src/engine/kernels/wasmCalls.ts';
import { winogradCalls } from '../../src/engine/kernels/winograd.ts';
import { uniformValues } from './bnHelpers.ts';

await initNodeBackend('wasm');

const SPECIAL = [NaN, 1, -0, 0, Infinity, -Infinity, NaN, 0.5, -0, 2];
const OTHER = [1, NaN, 0, -0, -Infinity, 5, NaN, 0.5, -0, -2];

const bits = (t: tf.Tensor) => Array.from(new Int32Array(Float32Array.from(t.dataSync()).buffer));

/** The stock wasm kernel's result for `name` on a and b (ours is registered; runStock reaches the stock one). */
function stock(name: string, a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const backend = tf.backend() as BackendWasm;
  const info = runStock(backend, name, () => [] as never, { a, b });
  return tf.engine().makeTensorFromTensorInfo(info);
}

test('Maximum and Minimum: ours registered; the stock bits for equal shapes and a single value either side', () => {
  assert.equal(tf.getKernel('Maximum', 'wasm')?.kernelFunc, maximum);
  assert.equal(tf.getKernel('Minimum', 'wasm')?.kernelFunc, minimum);
  const u = uniformValues(11);
  const n = 2 * 3 * 5 * 7; // not a multiple of 4: the loop's tail
  const av = Float32Array.from(u(n, -2, 2));
  const bv = Float32Array.from(u(n, -2, 2));
  av.set(SPECIAL, 0);
  bv.set(OTHER, 0);
  av.set(OTHER, n - 10);
  bv.set(SPECIAL, n - 10);
  const a = tf.tensor4d(av, [2, 3, 5, 7]);
  const b = tf.tensor4d(bv, [2, 3, 5, 7]);
  const singles = [tf.scalar(0), tf.scalar(NaN), tf.scalar(-0), tf.tensor2d([[0.25]])];
  try {
    for (const [name, f] of [
      ['Maximum', tf.maximum],
      ['Minimum', tf.minimum],
    ] as const) {
      const pairs: [tf.Tensor, tf.Tensor][] = [
        [a, b],
        [b, a],
      ];
      for (const s of singles) pairs.push([a, s], [s, a]);
      for (const [x, y] of pairs) {
        const calls = winogradCalls();
        const mine = f(x, y);
        assert.equal(winogradCalls() - calls, 1, `${name} [${x.shape}] [${y.shape}] ran in the module`);
        const ref = stock(name, x, y);
        assert.deepEqual(mine.shape, ref.shape);
        assert.deepEqual(bits(mine), bits(ref), `${name} [${x.shape}] with [${y.shape}]`);
        tf.dispose([mine, ref]);
      }
    }
    // Stock's NaN rule, not cpu's: max(1, NaN) = 1 here.
    const m = tf.maximum(tf.tensor1d([1, NaN]), tf.tensor1d([NaN, 1]));
    const v = m.dataSync();
    assert.equal(v[0], 1);
    assert.ok(Number.isNaN(v[1]));
  } finally {
    tf.dispose([a, b, ...singles]);
  }
});

test('Maximum and Minimum leave int32 and other broadcasts to the stock kernels, nothing left behind', () => {
  const before = tf.memory().numTensors;
  const calls = winogradCalls();
  tf.tidy(() => {
    const i = tf.maximum(tf.tensor1d([1, 5, -3], 'int32'), tf.tensor1d([2, 2, 2], 'int32'));
    assert.deepEqual(Array.from(i.dataSync()), [2, 5, 2]);
    const r = tf.minimum(tf.tensor2d([[1, 5, -3]]), tf.tensor2d([[0], [4]]));
    assert.deepEqual(Array.from(r.dataSync()), [0, 0, -3, 1, 4, -3]);
  });
  assert.equal(winogradCalls() - calls, 0);
  tf.tidy(() => void tf.maximum(tf.ones([4, 4]), 0.5));
  assert.equal(tf.memory().numTensors, before);
});

test('float32 Sign in the module: 1, -1 and 0 (zeros of either sign, NaN) as the JavaScript loop; int32 unchanged', () => {
  const u = uniformValues(5);
  const xs = Float32Array.from(u(1001, -1, 1));
  xs.set([NaN, 0, -0, 1e-30, -1e-30, Infinity, -Infinity, 3e-45, -3e-45], 0);
  const x = tf.tensor1d(xs);
  const calls = winogradCalls();
  const s = tf.sign(x);
  assert.equal(winogradCalls() - calls, 1);
  const want = Array.from(xs, (v) => (v > 0 ? 1 : v < 0 ? -1 : 0));
  assert.deepEqual(Array.from(s.dataSync()), want);
  assert.ok(Array.from(s.dataSync()).every((v) => !Object.is(v, -0)));
  const i = tf.sign(tf.tensor1d([-4, 0, 9], 'int32'));
  assert.deepEqual(Array.from(i.dataSync()), [-1, 0, 1]);
  tf.dispose([x, s, i]);
});
