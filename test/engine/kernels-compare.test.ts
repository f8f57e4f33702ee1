/**
 * The project's wasm `Greater` and `Select` (src/engine/kernels/compare.ts) against the cpu backend,
 * value for value: scalar and equal-shaped operands, NaN, infinities and signed zeros, and the cases
 * handed to the stock kernels (int32, other broadcasts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { greater, select } from '../../src/engine/kernels/compare.ts';
import { uniformValues } from './bnHelpers.ts';

await initNodeBackend('wasm');

const SPECIAL = [NaN, Infinity, -Infinity, 0, -0, 1e-30, -1e-30, 0.5];

/** Runs f on wasm and on cpu; returns each result's shape, dtype and values. */
async function both(f: () => tf.Tensor): Promise<[unknown[], unknown[]]> {
  const out: unknown[][] = [];
  for (const b of ['wasm', 'cpu']) {
    await tf.setBackend(b);
    const y = f();
    out.push([y.dtype, ...y.shape, '|', ...Array.from(y.dataSync())]);
    y.dispose();
  }
  await tf.setBackend('wasm');
  return [out[0], out[1]];
}

test('Greater on wasm equals cpu: scalar right or left (rank 0 and [1]), equal shapes, NaN, infinities, signed zeros; other cases to stock', async () => {
  await tf.setBackend('wasm');
  assert.equal(tf.getKernel('Greater', 'wasm')?.kernelFunc, greater, 'ours is registered');
  const u = uniformValues(3);
  const shape = [3, 5, 4, 8];
  const n = 3 * 5 * 4 * 8;
  const xs = Float32Array.from(u(n, -2, 2));
  xs.set(SPECIAL, 0);
  const ys = Float32Array.from(u(n, -2, 2));
  ys.set([0, NaN, Infinity, -0, 0, 0, 0, 0.5], 0);
  const cases: [string, () => tf.Tensor][] = [
    ['scalar right', () => tf.greater(tf.tensor(xs, shape), tf.scalar(0))],
    ['21 values (a SIMD tail)', () => tf.greater(tf.tensor(xs.slice(0, 21), [7, 3]), tf.scalar(0.1))],
    [
      '21 values, equal shapes',
      () => tf.greater(tf.tensor(xs.slice(0, 21), [7, 3]), tf.tensor(ys.slice(0, 21), [7, 3])),
    ],
    ['[1] right', () => tf.greater(tf.tensor(xs, shape), tf.tensor1d([0.5]))],
    ['scalar left', () => tf.greater(tf.scalar(0.25), tf.tensor(xs, shape))],
    ['NaN scalar', () => tf.greater(tf.tensor(xs, shape), tf.scalar(NaN))],
    ['equal shapes', () => tf.greater(tf.tensor(xs, shape), tf.tensor(ys, shape))],
    ['vector (stock)', () => tf.greater(tf.tensor(xs, shape), tf.tensor1d(ys.slice(0, 8)))],
    [
      'int32 (stock)',
      () =>
        tf.greater(
          tf.tensor(
            Int32Array.from(xs, (v) => (Number.isFinite(v) ? Math.round(v * 10) : 0)),
            shape,
            'int32',
          ),
          tf.scalar(0, 'int32'),
        ),
    ],
  ];
  for (const [what, f] of cases) {
    const [w, c] = await both(f);
    assert.deepEqual(w, c, what);
  }
  // The comparison is not trivial: both outcomes occur.
  const [w] = await both(cases[0][1]);
  assert.ok(w.includes(1) && w.includes(0));
});

test('Select on wasm equals cpu: equal shapes with NaN and signed zeros; broadcast conditions to stock', async () => {
  await tf.setBackend('wasm');
  assert.equal(tf.getKernel('Select', 'wasm')?.kernelFunc, select, 'ours is registered');
  const u = uniformValues(4);
  const shape = [2, 6, 4, 4];
  const n = 2 * 6 * 4 * 4;
  const t = Float32Array.from(u(n));
  t.set(SPECIAL, 0);
  const e = Float32Array.from(u(n));
  e.set([-0, NaN, 0, Infinity], 8);
  const c = Int32Array.from(u(n), (v) => (v > 0 ? 1 : 0));
  const cases: [string, () => tf.Tensor][] = [
    ['equal shapes', () => tf.where(tf.tensor(c, shape, 'bool'), tf.tensor(t, shape), tf.tensor(e, shape))],
    [
      '21 values (a SIMD tail)',
      () =>
        tf.where(
          tf.tensor(c.slice(0, 21), [7, 3], 'bool'),
          tf.tensor(t.slice(0, 21), [7, 3]),
          tf.tensor(e.slice(0, 21), [7, 3]),
        ),
    ],
    [
      'condition along the last axis (stock)',
      () => tf.where(tf.tensor(c.slice(0, 4), [4], 'bool'), tf.tensor(t, shape), tf.tensor(e, shape)),
    ],
  ];
  for (const [what, f] of cases) {
    const [w, cp] = await both(f);
    assert.deepEqual(w, cp, what);
  }
});
