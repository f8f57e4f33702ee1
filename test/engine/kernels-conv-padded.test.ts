/**
 * The colour first layer's gradients by Winograd on padded channels (3x3 'same', stride 1, 3 input
 * channels): `Conv2DBackpropFilter` with the input padded to 4 channels, and `Conv2DBackpropInput`
 * (a `Conv2D` with 3 output channels) with the filter padded to 4 (products' last four columns by
 * gemm_cols4), against the cpu backend and a direct loop over the definition; bit for bit the
 * outputs of the filter padded to 8 as before; that they ran in the module; no tensors or buffers left
 * behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { winogradCalls } from '../../src/engine/kernels/winograd.ts';
import { setPaddedOutputsNarrow } from '../../src/engine/kernels/conv2d.ts';
import { createRng } from '../../src/engine/rng.ts';
import { maxRel } from './bnHelpers.ts';

await initNodeBackend('wasm');
tf.env().set('IS_TEST', true);

const rng = createRng(31);
const vals = (n: number) => Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
const [N, H, W, C, K] = [2, 9, 7, 3, 16];
const xv = vals(N * H * W * C);
const dyv = vals(N * H * W * K);
const fv = vals(9 * C * K);
const ATTRS = { strides: 1, pad: 'same', dataFormat: 'NHWC' } as const;

async function grads(backend: string): Promise<[Float32Array, Float32Array]> {
  await tf.setBackend(backend);
  const x = tf.tensor4d(xv, [N, H, W, C]);
  const dy = tf.tensor4d(dyv, [N, H, W, K]);
  const f = tf.tensor4d(fv, [3, 3, C, K]);
  const e = tf.engine();
  const dw = e.runKernel(
    'Conv2DBackpropFilter',
    { x, dy },
    { ...ATTRS, filterShape: [3, 3, C, K] },
  ) as tf.Tensor;
  const dx = e.runKernel(
    'Conv2DBackpropInput',
    { dy, filter: f },
    { ...ATTRS, inputShape: [N, H, W, C] },
  ) as tf.Tensor;
  const out: [Float32Array, Float32Array] = [
    Float32Array.from(dw.dataSync()),
    Float32Array.from(dx.dataSync()),
  ];
  tf.dispose([x, dy, f, dw, dx]);
  await tf.setBackend('wasm');
  return out;
}

/** dw[a, b, c, k] = sum x[n, i + a - 1, j + b - 1, c] dy[n, i, j, k]; dx[n, r, s, c] = sum dy[n, r - a + 1, s - b + 1, k] f[a, b, c, k]. */
function direct(): [Float64Array, Float64Array] {
  const dw = new Float64Array(9 * C * K);
  const dx = new Float64Array(N * H * W * C);
  for (let n = 0; n < N; n++)
    for (let i = 0; i < H; i++)
      for (let j = 0; j < W; j++)
        for (let a = 0; a < 3; a++)
          for (let b = 0; b < 3; b++) {
            const r = i + a - 1;
            const s = j + b - 1;
            if (r < 0 || r >= H || s < 0 || s >= W) continue;
            for (let c = 0; c < C; c++)
              for (let k = 0; k < K; k++) {
                const g = dyv[((n * H + i) * W + j) * K + k];
                dw[((a * 3 + b) * C + c) * K + k] += xv[((n * H + r) * W + s) * C + c] * g;
                dx[((n * H + r) * W + s) * C + c] += g * fv[((a * 3 + b) * C + c) * K + k];
              }
          }
  return [dw, dx];
}

test('3-channel 3x3 filter and input gradients by padded Winograd equal cpu and a direct loop', async () => {
  const calls = winogradCalls();
  const [dw, dx] = await grads('wasm');
  assert.equal(
    winogradCalls() - calls,
    4,
    'both ran in the module (the input gradient as a filter flip, a convolution and the channels taken)',
  );
  const [cdw, cdx] = await grads('cpu');
  const [rdw, rdx] = direct();
  assert.ok(maxRel(dw, rdw) < 1e-5, `filter gradient vs loop: ${maxRel(dw, rdw)}`);
  assert.ok(maxRel(dx, rdx) < 1e-5, `input gradient vs loop: ${maxRel(dx, rdx)}`);
  assert.ok(maxRel(dw, cdw) < 1e-5, `filter gradient vs cpu: ${maxRel(dw, cdw)}`);
  assert.ok(maxRel(dx, cdx) < 1e-5, `input gradient vs cpu: ${maxRel(dx, cdx)}`);
});

test('the padded paths leave no tensors or backend buffers behind', async () => {
  await grads('wasm'); // warm-up
  const backend = tf.backend();
  const tensors = tf.memory().numTensors;
  const buffers = backend.numDataIds();
  await grads('wasm');
  assert.equal(tf.memory().numTensors, tensors);
  assert.equal(backend.numDataIds(), buffers);
});

test('the filter padded to 4 output channels gives the bits of the filter padded to 8', async () => {
  // Tiles of F(2x2) per call: 2 x 5 x 4 = 40 (a block of 32, then 8: gemm_cols4's 8-row loop) and
  // 1 x 6 x 6 = 36 (32, then 4: its 4-row tail), dy of 8 and 12 channels.
  for (const [n, h, w, k] of [
    [2, 9, 7, 16],
    [1, 12, 12, 8],
    [3, 5, 6, 12],
  ]) {
    const dy = tf.tensor4d(vals(n * h * w * k), [n, h, w, k]);
    const f = tf.tensor4d(vals(9 * 3 * k), [3, 3, 3, k]);
    const run = (narrow: boolean) => {
      setPaddedOutputsNarrow(narrow);
      const dx = tf
        .engine()
        .runKernel(
          'Conv2DBackpropInput',
          { dy, filter: f },
          { ...ATTRS, inputShape: [n, h, w, 3] },
        ) as tf.Tensor;
      const bits = new Int32Array(Float32Array.from(dx.dataSync()).buffer);
      dx.dispose();
      return bits;
    };
    try {
      const four = run(true);
      const eight = run(false);
      assert.equal(four.length, n * h * w * 3);
      assert.deepEqual(four, eight, `[${n}, ${h}, ${w}] from ${k} channels`);
    } finally {
      setPaddedOutputsNarrow(true);
      tf.dispose([dy, f]);
    }
  }
});
