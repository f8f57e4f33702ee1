/**
 * The Winograd filter-transform cache (src/engine/kernels/winograd.ts): a convolution whose filter
 * was seen before takes its transform from the cache, and gives the same bits as with the cache off;
 * an entry is found by the filter's content, so a different filter of the same shape, or the same
 * tensor's memory changed in place, is transformed afresh (checked against the cpu backend); input
 * gradients (flipped filters) hit too; a cycle of 40 filters stays cached; entries made in the
 * arrays of dropped ones hold their own values; no tensors are left behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { initNodeBackend } from '../../src/node/backend.ts';
import {
  setWinogradTransformCache,
  setWinogradTransformsKept,
  winogradTransformHits,
} from '../../src/engine/kernels/winograd.ts';
import { createRng } from '../../src/engine/rng.ts';

await initNodeBackend('wasm');
const rng = createRng(11);
const rand = (n: number) => Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
const X = [3, 6, 5, 8] as const; // n, h, w, c
const K = 16;
const xv = rand(X.reduce((a, b) => a * b, 1));
const conv = (x: tf.Tensor4D, f: tf.Tensor4D) => tf.conv2d(x, f, 1, 'same');

/** The convolution on the cpu backend (no Winograd), as a reference. */
async function onCpu(fv: Float32Array): Promise<Float32Array> {
  await tf.setBackend('cpu');
  const y = tf.tidy(() => conv(tf.tensor4d(xv, [...X]), tf.tensor4d(fv, [3, 3, X[3], K])).dataSync());
  await tf.setBackend('wasm');
  return Float32Array.from(y);
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

test('a repeated filter hits the cache and gives the bits of a fresh transform', () => {
  const before = tf.memory().numTensors;
  const x = tf.tensor4d(xv, [...X]);
  const f = tf.tensor4d(rand(9 * X[3] * K), [3, 3, X[3], K]);
  setWinogradTransformCache(false);
  const fresh = tf.tidy(() => conv(x, f).dataSync());
  setWinogradTransformCache(true);
  const first = tf.tidy(() => conv(x, f).dataSync());
  const hits = winogradTransformHits();
  const second = tf.tidy(() => conv(x, f).dataSync());
  assert.equal(winogradTransformHits(), hits + 1, 'the second call takes the cached transform');
  assert.deepEqual(Array.from(first), Array.from(fresh));
  assert.deepEqual(Array.from(second), Array.from(fresh));
  // A copy of the filter (another tensor, same values) hits as well: the key is the content.
  const g = tf.clone(f);
  const third = tf.tidy(() => conv(x, g).dataSync());
  assert.equal(winogradTransformHits(), hits + 2);
  assert.deepEqual(Array.from(third), Array.from(fresh));
  tf.dispose([x, f, g]);
  assert.equal(tf.memory().numTensors, before);
});

test('a different filter, or the same tensor changed in place, is not served a stale transform', async () => {
  const x = tf.tensor4d(xv, [...X]);
  const av = rand(9 * X[3] * K);
  const bv = rand(9 * X[3] * K);
  const f = tf.tensor4d(av, [3, 3, X[3], K]);
  const ya = tf.tidy(() => conv(x, f).dataSync());
  assert.ok(maxDiff(ya, await onCpu(av)) < 1e-5);
  const fb = tf.tensor4d(bv, [3, 3, X[3], K]);
  const yb = tf.tidy(() => conv(x, fb).dataSync());
  assert.ok(maxDiff(yb, await onCpu(bv)) < 1e-5, 'another filter of the same shape');
  // Overwrite f's memory on the wasm heap with b's values: same dataId, new content.
  const backend = tf.backend() as BackendWasm;
  backend.typedArrayFromHeap(f as unknown as tf.TensorInfo).set(bv);
  const yf = tf.tidy(() => conv(x, f).dataSync());
  assert.deepEqual(Array.from(yf), Array.from(yb), "the changed tensor gives the new filter's result");
  assert.ok(maxDiff(ya, yb) > 1e-3, 'the two filters give different results (so a stale entry would show)');
  tf.dispose([x, f, fb]);
});

test('input gradients (flipped filters) hit the cache and equal the uncached ones', () => {
  const x = tf.tensor4d(xv, [...X]);
  const f = tf.tensor4d(rand(9 * X[3] * K), [3, 3, X[3], K]);
  const grad = () =>
    tf.tidy(() =>
      tf
        .grad((v: tf.Tensor) => tf.sum(tf.square(conv(v as tf.Tensor4D, f))))(x)
        .dataSync(),
    );
  setWinogradTransformCache(false);
  const fresh = grad();
  setWinogradTransformCache(true);
  grad();
  const hits = winogradTransformHits();
  const cached = grad();
  assert.equal(winogradTransformHits(), hits + 2, 'the forward and the input-gradient convolutions both hit');
  assert.deepEqual(Array.from(cached), Array.from(fresh));
  tf.dispose([x, f]);
});

test('a cycle of 40 filters (a ResNet-20 input gradient has 33) hits on its second pass', () => {
  const x = tf.tensor4d(xv, [...X]);
  const fs = Array.from({ length: 40 }, () => tf.tensor4d(rand(9 * X[3] * K), [3, 3, X[3], K]));
  const pass = () => fs.map((f) => tf.tidy(() => conv(x, f).dataSync()));
  setWinogradTransformCache(false);
  const fresh = pass();
  setWinogradTransformCache(true);
  pass();
  const hits = winogradTransformHits();
  const cached = pass();
  assert.equal(winogradTransformHits(), hits + fs.length, 'every filter of the cycle is still kept');
  cached.forEach((y, i) => assert.deepEqual(Array.from(y), Array.from(fresh[i])));
  tf.dispose([x, ...fs]);
});

test("entries made in dropped entries' arrays hold their own filter and transform", () => {
  const x = tf.tensor4d(xv, [...X]);
  // Three filters of one shape through a cache of two entries: each new entry takes the arrays of
  // the one dropped. Every result equals the uncached one, and every call hits exactly when its
  // filter is one of the two used last (a least-recently-used model of the cache).
  const fs = Array.from({ length: 3 }, () => tf.tensor4d(rand(9 * X[3] * K), [3, 3, X[3], K]));
  const y = (f: tf.Tensor4D) => Array.from(tf.tidy(() => conv(x, f).dataSync()));
  setWinogradTransformCache(false);
  const fresh = fs.map(y);
  setWinogradTransformCache(true);
  const was = setWinogradTransformsKept(2);
  try {
    const recent: number[] = [];
    for (const i of [0, 1, 2, 2, 1, 0, 0, 2, 0, 1, 2, 0, 1, 1]) {
      const hits = winogradTransformHits();
      assert.deepEqual(y(fs[i]), fresh[i], `filter ${i}`);
      assert.equal(winogradTransformHits() - hits, recent.includes(i) ? 1 : 0, `filter ${i} after ${recent}`);
      recent.splice(0, recent.length, i, ...recent.filter((j) => j !== i).slice(0, 1));
    }
  } finally {
    setWinogradTransformsKept(was);
  }
  tf.dispose([x, ...fs]);
});
