/**
 * Winograd F(4x4, 3x3) in the wasm `Conv2D` (src/engine/kernels/winograd.c, conv4), forced on with
 * forceWinogradTile(4), against the cpu backend's direct convolution: the forward on maps whose sides
 * are not multiples of 4 (5, 6, 7, 9, 13: partial tiles at the bottom and right), batch > 1; the fused
 * convolution with a bias and each activation; the input gradient (Conv2DBackpropInput, whose
 * convolution runs through it); exact zeros where a neighbourhood is zero; non-finite inputs handed
 * to F(2x2); equal outputs on a constant patch and on a flat background beside a stroke (max-pool
 * ties); the rule that picks the variant, and the switches (setWinogradF4, on by default, see there).
 *
 * Tolerance: max |got - cpu| / max |cpu| below 1e-5. F(4x4)'s transforms scale values by up to 5
 * (B^T), 1/24 (G) and 8 (A^T) and cancel them again, so its float32 error is several times F(2x2)'s
 * (whose tests allow 1e-5 and measure ~1e-6); measured over these cases with 4 to 64 channels: at most
 * 6.1e-6 (F(2x2): 1.1e-6), growing with the channel count like a sum's rounding.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import {
  setWinogradF4,
  setWinogradF4InputGradients,
  winogradCalls,
  winogradTile,
} from '../../src/engine/kernels/winograd.ts';
import { createRng } from '../../src/engine/rng.ts';
import { onBackend, relErr } from './bnHelpers.ts';

await initNodeBackend('wasm');
tf.env().set('IS_TEST', true);
const rng = createRng(41);
const rand = (shape: number[]) =>
  Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.next() * 2 - 1);
const TOL = 1e-5;

/** f on fresh tensors of `values` on `backend` (wasm with F(tile x tile) forced), read back. */
const on = (
  backend: 'cpu' | 'wasm',
  values: [Float32Array, number[]][],
  f: (...t: tf.Tensor[]) => tf.Tensor,
  tile: 2 | 4 = 4,
) => onBackend(backend, values, f, tile);

const conv = (x: tf.Tensor, wt: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, wt as tf.Tensor4D, 1, 'same');

// [n, h, w, c, k]
const SHAPES: [number, number, number, number, number][] = [
  [2, 5, 5, 4, 8],
  [3, 6, 6, 8, 16],
  [2, 7, 7, 16, 8],
  [2, 9, 13, 32, 64],
  [3, 13, 9, 64, 32],
  [2, 13, 13, 8, 24],
  [19, 6, 5, 4, 8], // more tiles than a block (16), not a multiple of 4
  [1, 1, 2, 4, 8],
];

for (const [n, h, w, c, k] of SHAPES)
  test(`F(4x4) Conv2D ${n}x${h}x${w}x${c} -> ${k} equals cpu`, async () => {
    const xs: [Float32Array, number[]] = [rand([n, h, w, c]), [n, h, w, c]];
    const ws: [Float32Array, number[]] = [rand([3, 3, c, k]), [3, 3, c, k]];
    const tensors = tf.memory().numTensors;
    const before = winogradCalls();
    const got = await on('wasm', [xs, ws], conv);
    assert.equal(winogradCalls() - before, 1, 'the module ran');
    assert.equal(tf.memory().numTensors, tensors, 'no leaks');
    const want = await on('cpu', [xs, ws], conv);
    const e = relErr(got, want);
    assert.ok(e < TOL, `relative error ${e}`);
    // Not F(2x2)'s result under another name: the two variants round differently.
    const f2 = await on('wasm', [xs, ws], conv, 2);
    assert.notDeepEqual(got, f2);
  });

// The filter gradient (Conv2DBackpropFilter's fast path, conv_filter_grad4, forced on here; where the
// rule picks it by default, see setWinogradF4FilterGrad): F(3x3, 4x4), whose transforms are F(4x4, 3x3)'s with A and G
// swapped; partial tiles at the bottom and right, more tiles than a block, one pixel.
for (const [n, h, w, c, k] of SHAPES)
  test(`F(4x4) filter gradient ${n}x${h}x${w}x${c} -> ${k} equals cpu`, async () => {
    const xs: [Float32Array, number[]] = [rand([n, h, w, c]), [n, h, w, c]];
    const ws: [Float32Array, number[]] = [rand([3, 3, c, k]), [3, 3, c, k]];
    const ms: [Float32Array, number[]] = [rand([n, h, w, k]), [n, h, w, k]];
    const dw = (x: tf.Tensor, wt: tf.Tensor, m: tf.Tensor) =>
      tf.grad((v: tf.Tensor) => tf.sum(tf.mul(conv(x, v), m)))(wt);
    const tensors = tf.memory().numTensors;
    const got = await on('wasm', [xs, ws, ms], dw);
    assert.equal(tf.memory().numTensors, tensors, 'no leaks');
    const want = await on('cpu', [xs, ws, ms], dw);
    const e = relErr(got, want);
    assert.ok(e < TOL, `relative error ${e}`);
    assert.notDeepEqual(got, await on('wasm', [xs, ws, ms], dw, 2), 'not F(2x2) under another name');
  });

for (const activation of ['linear', 'relu', 'relu6', 'leakyrelu'] as const)
  for (const [n, h, w, c, k, withBias] of [
    [2, 7, 5, 8, 16, true],
    [3, 9, 6, 16, 8, true],
    [2, 13, 13, 4, 8, false],
  ] as const)
    test(`F(4x4) FusedConv2D ${n}x${h}x${w}x${c} -> ${k}, ${withBias ? 'bias' : 'no bias'}, ${activation} equals cpu`, async () => {
      const xs: [Float32Array, number[]] = [rand([n, h, w, c]), [n, h, w, c]];
      const ws: [Float32Array, number[]] = [rand([3, 3, c, k]), [3, 3, c, k]];
      // Biases of the outputs' size, so that ReLU6 clips some and leaky ReLU sees both signs.
      const bs: [Float32Array, number[]] = [rand([k]).map((v) => v * 3), [k]];
      const fused = (x: tf.Tensor, wt: tf.Tensor, b: tf.Tensor) =>
        tf.fused.conv2d({
          x: x as tf.Tensor4D,
          filter: wt as tf.Tensor4D,
          strides: 1,
          pad: 'same',
          bias: withBias ? b : undefined,
          activation,
          leakyreluAlpha: 0.2,
        });
      const before = winogradCalls();
      const got = await on('wasm', [xs, ws, bs], fused);
      assert.equal(winogradCalls() - before, 1, 'the module ran');
      const want = await on('cpu', [xs, ws, bs], fused);
      const e = relErr(got, want);
      assert.ok(e < TOL, `relative error ${e}`);
      if (activation === 'relu6') assert.ok(want.some((v) => v === 6) && want.some((v) => v === 0));
    });

for (const [n, h, w, c, k] of [
  [2, 9, 7, 8, 16],
  [3, 13, 5, 32, 8],
  [2, 6, 6, 16, 32],
])
  test(`F(4x4) input gradient (Conv2DBackpropInput) of a ${n}x${h}x${w}x${c} -> ${k} convolution equals cpu`, async () => {
    const xs: [Float32Array, number[]] = [rand([n, h, w, c]), [n, h, w, c]];
    const ws: [Float32Array, number[]] = [rand([3, 3, c, k]), [3, 3, c, k]];
    const ms: [Float32Array, number[]] = [rand([n, h, w, k]), [n, h, w, k]];
    // d sum(conv(x) * m) / dx: dy = m, dx = the flipped-filter convolution of m (k -> c channels).
    const grad = (x: tf.Tensor, wt: tf.Tensor, m: tf.Tensor) =>
      tf.grad((v: tf.Tensor) => tf.sum(tf.mul(conv(v, wt), m)))(x);
    const before = winogradCalls();
    const got = await on('wasm', [xs, ws, ms], grad);
    // Conv2DBackpropInput's convolution in the module (the forward is not needed for this gradient).
    assert.ok(winogradCalls() - before >= 1, 'the module ran');
    const want = await on('cpu', [xs, ws, ms], grad);
    const e = relErr(got, want);
    assert.ok(e < TOL, `relative error ${e}`);
  });

test('F(4x4): an output whose 3x3 neighbourhood is all zero is exactly zero, forward and input gradient', async () => {
  // A few nonzero pixels, so most 6x6 patches mix zero and nonzero inputs: without conv4's mask the
  // transforms leave ~1e-7 in outputs whose exact value is 0 (and FGSM moves those pixels).
  const [n, h, w, c, k] = [2, 13, 14, 8, 16];
  const xv = new Float32Array(n * h * w * c);
  for (let i = 0; i < 10; i++) xv.set(rand([c]), rng.int(n * h * w) * c);
  const xs: [Float32Array, number[]] = [xv, [n, h, w, c]];
  const ws: [Float32Array, number[]] = [rand([3, 3, c, k]), [3, 3, c, k]];
  const mv = new Float32Array(n * h * w * k);
  for (let i = 0; i < 10; i++) mv.set(rand([k]), rng.int(n * h * w) * k);
  const ms: [Float32Array, number[]] = [mv, [n, h, w, k]];
  const fwd = (x: tf.Tensor, wt: tf.Tensor) => conv(x, wt);
  const grad = (x: tf.Tensor, wt: tf.Tensor, m: tf.Tensor) =>
    tf.grad((v: tf.Tensor) => tf.sum(tf.mul(conv(v, wt), m)))(x);
  for (const [what, f] of [
    ['forward', fwd],
    ['input gradient', grad],
  ] as const) {
    const got = await on('wasm', [xs, ws, ms], f);
    const want = await on('cpu', [xs, ws, ms], f);
    const zeros = want.reduce((m, v) => m + (v === 0 ? 1 : 0), 0);
    assert.ok(zeros > want.length / 4, `${what}: the case has exact zeros (${zeros})`);
    want.forEach((v, i) =>
      assert.equal(got[i] === 0, v === 0, `${what}: output ${i} is ${got[i]}, cpu ${v}`),
    );
    assert.ok(relErr(got, want) < TOL, `${what}: relative error ${relErr(got, want)}`);
  }
});

test('F(4x4) hands inputs or filters with Inf or NaN to F(2x2): the same bits as F(2x2)', async () => {
  // Each non-finite value alone, at the first, a middle and the last position of the input (the
  // check's SIMD tail: 1 x 3 x 5 x 4 holds 60 values, not a multiple of 8), and in the filter.
  const cases: [string, number[], (x: Float32Array, w: Float32Array) => void][] = [
    ['input Inf', [2, 9, 9, 8, 16], (x) => void (x[(1 * 9 * 9 + 4 * 9 + 6) * 8 + 3] = Infinity)],
    ['input NaN first', [2, 9, 9, 8, 16], (x) => void (x[0] = NaN)],
    ['input -Inf last', [2, 9, 9, 8, 16], (x) => void (x[x.length - 1] = -Infinity)],
    ['input NaN in the tail', [1, 3, 5, 4, 8], (x) => void (x[58] = NaN)],
    ['filter -Inf', [2, 9, 9, 8, 16], (_, w) => void (w[40] = -Infinity)],
  ];
  for (const [where, [n, h, w, c, k], poison] of cases) {
    const xv = rand([n, h, w, c]);
    const wv = rand([3, 3, c, k]);
    poison(xv, wv);
    const vals: [Float32Array, number[]][] = [
      [xv, [n, h, w, c]],
      [wv, [3, 3, c, k]],
    ];
    const f4 = await on('wasm', [...vals], conv, 4);
    const f2 = await on('wasm', [...vals], conv, 2);
    assert.ok(f2.some((v) => Number.isNaN(v)) && f2.some((v) => Number.isFinite(v)), where);
    assert.deepEqual(f4, f2, where);
  }
});

test('the rule: F(4x4) on the maps and channel counts where it measured faster, F(2x2) elsewhere', () => {
  assert.equal(winogradTile(8, 56, 56, 16, 128), 4); // darknet tiny
  assert.equal(winogradTile(128, 16, 16, 32, 32), 4); // ResNet-20
  assert.equal(winogradTile(64, 8, 8, 128, 128), 4); // cifar-cnn
  assert.equal(winogradTile(8, 14, 14, 64, 512), 4); // 14x14: edge tiles half padding, still faster since 2026-12-07
  assert.equal(winogradTile(64, 14, 14, 32, 64), 4); // the MNIST CNN's second layer
  assert.equal(winogradTile(64, 10, 10, 32, 64), 4); // 10x10: 0.81 of F(2x2)'s products
  assert.equal(winogradTile(64, 6, 6, 32, 64), 2); // 6x6: below 7
  assert.equal(winogradTile(8, 4, 4, 64, 64), 2); // too few tiles for the filter transform
  assert.equal(winogradTile(64, 7, 7, 128, 128), 4); // the gap CNN's 7x7 layers at batch 64
  assert.equal(winogradTile(8, 7, 7, 64, 64), 2); // 7x7 at batch 8: 32 tiles, too few
  assert.equal(winogradTile(64, 5, 5, 64, 64), 2); // 5x5: F(4x4) computes 8x8 per image
  assert.equal(winogradTile(64, 32, 32, 32, 8), 2); // 8 outputs
});

test('F(4x4): a constant 6x6 patch gives 16 bit-for-bit equal outputs (max-pool ties stay ties)', async () => {
  // x constant per channel over the map: every interior tile's patch is constant.
  const [n, h, w, c, k] = [2, 12, 12, 8, 16];
  const perChannel = rand([c]);
  const xv = Float32Array.from({ length: n * h * w * c }, (_, i) => perChannel[i % c]);
  const ws: [Float32Array, number[]] = [rand([3, 3, c, k]), [3, 3, c, k]];
  const got = await on('wasm', [[xv, [n, h, w, c]], ws], conv);
  // The tile at rows and columns 4..7 of image 1: its patch (rows 3..8) lies inside the map.
  for (let i = 4; i < 8; i++)
    for (let j = 4; j < 8; j++)
      for (let o = 0; o < k; o++)
        assert.equal(
          got[((1 * h + i) * w + j) * k + o],
          got[((1 * h + 4) * w + 4) * k + o],
          `(${i}, ${j}, ${o})`,
        );
});

test('F(4x4): outputs with equal neighbourhoods are bit for bit equal beside a stroke too, and a max pool after it routes its gradient as on cpu', async () => {
  // A flat nonzero background (one value per channel) with a small random stroke: outputs whose 3x3
  // neighbourhood lies in the background (inside the map, or along one edge with its padding) must
  // be equal bit for bit to every other such output of the same kind, as in a direct convolution,
  // though their 6x6 patches are not constant. The gradient through a 2x2 max pool then picks the same
  // tied maxima as the cpu backend.
  const [n, h, w, c, k] = [2, 16, 16, 8, 16];
  const back = rand([c]);
  const xv = Float32Array.from({ length: n * h * w * c }, (_, i) => back[i % c]);
  for (let i = 5; i < 9; i++) for (let j = 6; j < 8; j++) xv.set(rand([c]), ((1 * h + i) * w + j) * c);
  const xs: [Float32Array, number[]] = [xv, [n, h, w, c]];
  const ws: [Float32Array, number[]] = [rand([3, 3, c, k]), [3, 3, c, k]];
  const got = await on('wasm', [xs, ws], conv, 4);
  const near = (i: number, j: number) => i >= 4 && i <= 9 && j >= 5 && j <= 8; // touches the stroke
  const kind = (i: number, j: number) => `${i === 0}${i === h - 1}${j === 0}${j === w - 1}`;
  const first = new Map<string, number>();
  let compared = 0;
  for (let b = 0; b < n; b++)
    for (let i = 0; i < h; i++)
      for (let j = 0; j < w; j++) {
        if (b === 1 && near(i, j)) continue;
        const at = ((b * h + i) * w + j) * k;
        const ref = first.get(kind(i, j));
        if (ref === undefined) first.set(kind(i, j), at);
        else {
          for (let o = 0; o < k; o++)
            assert.equal(got[at + o], got[ref + o], `image ${b} (${i}, ${j}) channel ${o}`);
          compared++;
        }
      }
  assert.ok(compared > 400, `${compared} outputs compared`);
  assert.ok(relErr(got, await on('cpu', [xs, ws], conv)) < TOL);
  // d/dx sum(maxPool(relu(conv(x))) * m): the pool's tied background maxima decide where it goes.
  const mv = rand([n, h / 2, w / 2, k]);
  const pooled = (x: tf.Tensor, wt: tf.Tensor) =>
    tf.tidy(() => {
      const m = tf.tensor4d(mv, [n, h / 2, w / 2, k]);
      const f = (v: tf.Tensor) =>
        tf.sum(tf.mul(tf.maxPool(tf.relu(conv(v, wt)) as tf.Tensor4D, 2, 2, 'valid'), m));
      return tf.grad(f)(x);
    });
  const g4 = await on('wasm', [xs, ws], pooled, 4);
  const gc = await on('cpu', [xs, ws], pooled);
  assert.ok(relErr(g4, gc) < TOL, `max-pool gradient: relative error ${relErr(g4, gc)}`);
});

test('F(4x4) is on by default where the rule picks it; setWinogradF4(false) gives F(2x2) bit for bit', async () => {
  const [n, h, w, c, k] = [4, 16, 16, 16, 32]; // a shape the rule gives F(4x4)
  assert.equal(winogradTile(n, h, w, c, k), 4);
  const vals: [Float32Array, number[]][] = [
    [rand([n, h, w, c]), [n, h, w, c]],
    [rand([3, 3, c, k]), [3, 3, c, k]],
  ];
  const run = async () => {
    const ts = vals.map(([v, sh]) => tf.tensor(v, sh));
    const out = conv(ts[0], ts[1]);
    const r = Float32Array.from(out.dataSync());
    tf.dispose([out, ...ts]);
    return r;
  };
  const byDefault = await run();
  setWinogradF4(false);
  let switchedOff: Float32Array;
  try {
    switchedOff = await run();
  } finally {
    setWinogradF4(true);
  }
  assert.deepEqual(byDefault, await on('wasm', vals, conv, 4));
  assert.deepEqual(switchedOff, await on('wasm', vals, conv, 2));
  assert.notDeepEqual(byDefault, switchedOff);
});

test('input gradients have their own switch: F(4x4) with forwards switched off, F(2x2) after setWinogradF4InputGradients(false)', async () => {
  // The gradient's convolution is 32 -> 16 channels on 16x16 maps: the rule gives F(4x4).
  const [n, h, w, c, k] = [4, 16, 16, 16, 32];
  assert.equal(winogradTile(n, h, w, k, c), 4);
  const vals: [Float32Array, number[]][] = [
    [rand([n, h, w, c]), [n, h, w, c]],
    [rand([3, 3, c, k]), [3, 3, c, k]],
    [rand([n, h, w, k]), [n, h, w, k]],
  ];
  const grad = (x: tf.Tensor, wt: tf.Tensor, m: tf.Tensor) =>
    tf.grad((v: tf.Tensor) => tf.sum(tf.mul(conv(v, wt), m)))(x);
  const forward = (x: tf.Tensor, wt: tf.Tensor) => conv(x, wt);
  const run = async (f: (...t: tf.Tensor[]) => tf.Tensor) => {
    const ts = vals.map(([v, sh]) => tf.tensor(v, sh));
    const out = f(...ts);
    const r = Float32Array.from(out.dataSync());
    tf.dispose([out, ...ts]);
    return r;
  };
  setWinogradF4(false);
  try {
    assert.deepEqual(await run(grad), await on('wasm', vals, grad, 4), 'input gradient: F(4x4)');
    assert.notDeepEqual(await run(grad), await on('wasm', vals, grad, 2));
    assert.deepEqual(await run(forward), await on('wasm', vals.slice(0, 2), forward, 2), 'forward: F(2x2)');
    setWinogradF4InputGradients(false);
    assert.deepEqual(await run(grad), await on('wasm', vals, grad, 2), 'switched off: F(2x2)');
  } finally {
    setWinogradF4(true);
    setWinogradF4InputGradients(true);
  }
});
