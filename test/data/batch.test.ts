import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { initNodeBackend } from '../../src/node/backend.ts';
import { floatPixels, floatPixelsInto, getBatch, type Dataset } from '../../src/data/dataset.ts';

await initNodeBackend('wasm');

/** A set of `n` 2x3x2 images: uint8 pixel j of image i is (7 i + 13 j) mod 256, or that over 255 as float32. */
function set(n: number, float: boolean): Dataset {
  const per = 12;
  const u8 = Uint8Array.from({ length: n * per }, (_, k) => (7 * Math.floor(k / per) + 13 * (k % per)) % 256);
  return {
    name: 't',
    shape: [2, 3, 2],
    pixels: float ? Float32Array.from(u8, (v) => v / 255) : u8,
    labels: Int32Array.from({ length: n }, (_, i) => i % 10),
    size: n,
  } as Dataset;
}

/** The expected float32 pixels of the examples `idx`, computed value by value. */
function expected(idx: number[]): number[] {
  return idx.flatMap((i) =>
    Array.from({ length: 12 }, (_, j) => Math.fround(((7 * i + 13 * j) % 256) / 255)),
  );
}

for (const backend of ['wasm', 'cpu']) {
  test(`getBatch on ${backend}: the examples' pixels over 255 and labels, in the indices' order; no tensor left`, async () => {
    await tf.setBackend(backend);
    try {
      for (const float of [false, true]) {
        const ds = set(40, float);
        const idx = [37, 0, 5, 5, 12];
        const before = tf.memory().numTensors;
        const b = getBatch(ds, idx);
        assert.deepEqual(b.x.shape, [5, 2, 3, 2]);
        assert.deepEqual(Array.from(b.x.dataSync()), expected(idx));
        assert.deepEqual(Array.from(b.y.dataSync()), [7, 0, 5, 5, 2]);
        tf.dispose([b.x, b.y]);
        assert.equal(tf.memory().numTensors, before);
        // An empty batch is an empty tensor.
        const e = getBatch(ds, []);
        assert.deepEqual(e.x.shape, [0, 2, 3, 2]);
        tf.dispose([e.x, e.y]);
      }
    } finally {
      await tf.setBackend('wasm');
    }
  });
}

test('floatPixelsInto writes what floatPixels returns, and refuses an array too short', () => {
  const ds = set(9, false);
  const out = new Float32Array(3 * 12 + 5).fill(-1);
  floatPixelsInto(ds, [8, 1, 3], out);
  assert.deepEqual(Array.from(out.subarray(0, 36)), Array.from(floatPixels(ds, [8, 1, 3])));
  assert.deepEqual(Array.from(out.subarray(36)), [-1, -1, -1, -1, -1]);
  assert.throws(() => floatPixelsInto(ds, [8, 1, 3], new Float32Array(35)), /35 values for 3 images of 12/);
});
