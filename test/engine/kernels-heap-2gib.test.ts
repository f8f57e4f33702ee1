/**
 * The project's wasm kernels once the backend's heap is past 2 GiB (it grows to 4 GiB). Emscripten's
 * `_malloc` returns an i32, so a block above 2 GiB came back as a negative number, and the first
 * kernel whose scratch landed there failed ("Start offset -2145162056 is outside the bounds of the
 * buffer": a CIFAR-10 IG-Norm training at batch 64, 2026-12-06). Here the heap grows by a 2.4 GB
 * block (its pages are never touched: address space, not memory), every allocation of a few
 * convolutions is served from its part above 2 GiB as Emscripten's _malloc returns it there, and
 * the results must be the bits they were below.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { winogradCalls, winogradInPlace } from '../../src/engine/kernels/winograd.ts';
import { createRng } from '../../src/engine/rng.ts';

await initNodeBackend('wasm');
const rng = createRng(11);
const rand = (shape: number[]) =>
  tf.tensor(
    Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.next() * 2 - 1),
    shape,
  );

interface Emscripten {
  _malloc(n: number): number;
  _free(p: number): void;
}

test('the kernels give the same bits with their scratch above 2 GiB of the wasm heap', () => {
  assert.ok(winogradInPlace(), 'the module works on the backend heap (the path under test)');
  const x = rand([8, 16, 16, 16]); // 128 F(4x4) tiles: conv4
  const w = rand([3, 3, 16, 16]);
  const x7 = rand([4, 7, 7, 32]); // F(2x2) on 7x7 below 64 tiles
  const w7 = rand([3, 3, 32, 32]);
  const passes = () => {
    const before = winogradCalls();
    const out = [
      tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'),
      tf.conv2d(x7 as tf.Tensor4D, w7 as tf.Tensor4D, 1, 'same'),
      tf.grad((v: tf.Tensor) => tf.sum(tf.square(tf.conv2d(v as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'))))(
        x,
      ),
    ].map((t) => {
      const d = Float32Array.from(t.dataSync() as Float32Array);
      t.dispose();
      return d;
    });
    assert.ok(winogradCalls() - before >= 3, 'the module computed them');
    return out;
  };
  const below = passes();
  // Where the allocator puts a block depends on the holes below; to be sure every block of the
  // passes is above 2 GiB, a 2.4 GB block is taken and, for the passes, _malloc hands out its part
  // above 2 GiB, returning what Emscripten's i32 result is there: a negative number.
  const mod = (tf.backend() as unknown as { wasm: Emscripten }).wasm;
  const big = mod._malloc(2.4e9) >>> 0;
  assert.ok(big > 0, 'the heap grew by 2.4 GB');
  const end = big + 2.4e9;
  const start = Math.max(big, 2 ** 31);
  assert.ok(end - start > 64e6, 'at least 64 MB of it above 2 GiB');
  const real = { malloc: mod._malloc, free: mod._free };
  let top = start;
  mod._malloc = (n: number) => {
    const p = Math.ceil(top / 16) * 16;
    if (p + n > end) return 0;
    top = p + n;
    return p | 0;
  };
  mod._free = (p: number) => {
    const u = p >>> 0;
    if (u < start || u >= end) real.free(p);
  };
  try {
    const got = passes();
    assert.ok(top > start, 'the passes allocated above 2 GiB');
    for (let i = 0; i < below.length; i++) assert.deepEqual(got[i], below[i], `pass ${i}`);
  } finally {
    mod._malloc = real.malloc;
    mod._free = real.free;
    mod._free(big);
    tf.dispose([x, w, x7, w7]);
  }
});
