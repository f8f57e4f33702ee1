/**
 * `Mean` over every axis but the first and the last (global average pooling) in the module
 * (src/engine/kernels/mean.ts, middleMean; simd.c, mean_middle): bit for bit the stock wasm kernel's
 * (float32 sums in pixel order, then a float32 division), keepDims either way, channels not a multiple
 * of 4, rank 3, NaN and infinities; the axes listed in another order (stock sums in that order) and
 * other axes keep their paths; nothing left behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { mean } from '../../src/engine/kernels/mean.ts';
import { runStock, type BackendWasm } from '../../src/engine/kernels/wasmCalls.ts';
import { winogradCalls } from '../../src/engine/kernels/winograd.ts';
import { uniformValues } from './bnHelpers.ts';

await initNodeBackend('wasm');

const bits = (t: tf.Tensor) => Array.from(new Int32Array(Float32Array.from(t.dataSync()).buffer));

test('Mean over the middle axes: ours registered, the stock bits, in the module', () => {
  assert.equal(tf.getKernel('Mean', 'wasm')?.kernelFunc, mean);
  const u = uniformValues(17);
  const backend = tf.backend() as BackendWasm;
  const cases: [number[], number[]][] = [
    [
      [3, 14, 14, 40],
      [1, 2],
    ],
    [
      [2, 5, 7, 6],
      [1, 2],
    ],
    [
      [2, 3, 3, 1000],
      [2, 1],
    ],
    [[4, 9, 12], [1]],
  ];
  for (const [shape, axis] of cases) {
    const v = Float32Array.from(u(tf.util.sizeFromShape(shape), -3, 3));
    if (shape[3] === 6) v.set([NaN, Infinity, -Infinity, 1e38, 1e38], 0);
    const x = tf.tensor(v, shape);
    for (const keepDims of [false, true]) {
      const calls = winogradCalls();
      const mine = tf.mean(x, axis, keepDims);
      const inModule = axis.every((a, i) => a === i + 1);
      assert.equal(winogradCalls() - calls, inModule ? 1 : 0, `[${shape}] over ${axis}: module ${inModule}`);
      const ref = tf
        .engine()
        .makeTensorFromTensorInfo(runStock(backend, 'Mean', () => [] as never, { x }, { axis, keepDims }));
      assert.deepEqual(mine.shape, ref.shape, `[${shape}] keepDims ${keepDims}`);
      assert.deepEqual(bits(mine), bits(ref), `[${shape}] over ${axis}, keepDims ${keepDims}`);
      tf.dispose([mine, ref]);
    }
    x.dispose();
  }
});

test('Mean over other axes keeps its paths; nothing is left behind', () => {
  const before = tf.memory().numTensors;
  const ids = tf.backend().numDataIds();
  tf.tidy(() => {
    const x = tf.tensor4d(
      Float32Array.from({ length: 2 * 3 * 4 * 5 }, (_, i) => i),
      [2, 3, 4, 5],
    );
    const calls = winogradCalls();
    const last = tf.mean(x, [3]);
    assert.equal(winogradCalls() - calls, 0, 'the last axis: stock');
    assert.deepEqual(Array.from(last.dataSync().slice(0, 2)), [2, 7]);
    const hw = tf.mean(x, [1, 2]).dataSync();
    // Channel 0 of image 0: pixels 0, 5, ..., 55 -> mean 27.5.
    assert.equal(hw[0], 27.5);
  });
  assert.equal(tf.memory().numTensors, before);
  assert.equal(tf.backend().numDataIds(), ids);
});
