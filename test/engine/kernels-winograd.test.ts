/**
 * The wasm `Conv2D` (src/engine/kernels/conv2d.ts): Winograd F(2x2, 3x3) for 3x3 stride-1 'same'
 * convolutions with channels in multiples of 4 and 8, direct ones for one channel in or out, the
 * stock kernel for the rest, against the cpu
 * backend; the input gradient (Conv2DBackpropInput, built on Conv2D) and a weight gradient through
 * it against cpu; that the embedded module is the build of winograd.c; leaks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { initNodeBackend } from '../../src/node/backend.ts';
import {
  conv3x3Fits,
  loadWinograd,
  winogradCalls,
  winogradFits,
  winogradInPlace,
  winogradReady,
} from '../../src/engine/kernels/winograd.ts';
import { createRng } from '../../src/engine/rng.ts';
import { ROOT } from '../cli/helpers.ts';
import { relErr } from './bnHelpers.ts';

await initNodeBackend('wasm');
tf.env().set('IS_TEST', true);
const rng = createRng(5);
const rand = (shape: number[]) =>
  Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.next() * 2 - 1);

/** f on fresh tensors of `values` on `backend`, read back. */
async function on(backend: string, values: [Float32Array, number[]][], f: (...t: tf.Tensor[]) => tf.Tensor) {
  await tf.setBackend(backend);
  const ts = values.map(([v, s]) => tf.tensor(v, s));
  const out = f(...ts);
  const r = Float32Array.from(out.dataSync());
  tf.dispose([out, ...ts]);
  await tf.setBackend('wasm');
  return r;
}

test('the Winograd module is loaded with the wasm backend, on its memory', () => {
  assert.ok(winogradReady());
  assert.ok(winogradInPlace(), "the module works on the backend's memory in place");
});

/**
 * Every kind of call of the module at once (a fused convolution with bias, one with a single input
 * channel, the input and filter gradients, a max-pool gradient), read back.
 */
async function everyCall(): Promise<Float32Array[]> {
  const r = createRng(17);
  const vals = (shape: number[]) =>
    Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r.next() * 2 - 1);
  const x = tf.tensor(vals([3, 10, 6, 8]), [3, 10, 6, 8]) as tf.Tensor4D;
  const x1 = tf.tensor(vals([2, 7, 7, 1]), [2, 7, 7, 1]) as tf.Tensor4D;
  const wt = tf.tensor(vals([3, 3, 8, 16]), [3, 3, 8, 16]) as tf.Tensor4D;
  const w1 = tf.tensor(vals([3, 3, 1, 8]), [3, 3, 1, 8]) as tf.Tensor4D;
  const b = tf.tensor(vals([16]), [16]) as tf.Tensor1D;
  const before = winogradCalls();
  const outs = tf.tidy(() => {
    const loss = (v: tf.Tensor4D, f: tf.Tensor4D) =>
      tf.sum(tf.square(tf.maxPool(tf.relu(tf.conv2d(v, f, 1, 'same')), 2, 2, 'valid')));
    return [
      tf.fused.conv2d({ x, filter: wt, strides: 1, pad: 'same', bias: b, activation: 'relu' }),
      tf.conv2d(x1, w1, 1, 'same'),
      tf.grad((v: tf.Tensor) => loss(v as tf.Tensor4D, wt))(x),
      tf.grad((f: tf.Tensor) => loss(x, f as tf.Tensor4D))(wt),
    ];
  });
  // 2 convolutions; then for each gradient the forward convolution and max pool, ReLU's and the
  // max pool's gradients, and the filter flip and flipped-filter convolution or the filter gradient.
  assert.equal(winogradCalls() - before, 13, 'every call went to the module');
  const got = outs.map((t) => Float32Array.from(t.dataSync()));
  tf.dispose([...outs, x, x1, wt, w1, b]);
  return got;
}

test('the module gives the same results on its own memory (copying) as in place, and frees its scratch', async () => {
  const mod = (
    tf.findBackend('wasm') as unknown as { wasm: { _malloc(n: number): number; _free(p: number): void } }
  ).wasm;
  // Emscripten's first call of each replaces it by the module's export: make that happen first.
  mod._free(mod._malloc(4));
  const [malloc, free] = [mod._malloc, mod._free];
  let live = 0;
  mod._malloc = (n: number) => (live++, malloc(n));
  mod._free = (p: number) => (live--, free(p));
  let inPlace: Float32Array[];
  try {
    inPlace = await everyCall();
  } finally {
    mod._malloc = malloc;
    mod._free = free;
  }
  // The backend's own allocations (tensors) are freed with the tensors; the module's scratch too.
  assert.equal(live, 0, 'mallocs without a free');
  try {
    assert.ok(await loadWinograd(undefined, { ownMemory: true }));
    assert.ok(!winogradInPlace());
    const copied = await everyCall();
    copied.forEach((c, i) => assert.deepEqual(c, inPlace[i], `output ${i}`));
  } finally {
    await loadWinograd(tf.findBackend('wasm'));
  }
  assert.ok(winogradInPlace());
});

// [n, h, w, c, k, padding, strides, filter size, Winograd expected]
const CASES: [
  number,
  number,
  number,
  number,
  number,
  tf.backend_util.PadInfo | 'same' | 'valid',
  number,
  number,
  boolean,
][] = [
  [2, 14, 14, 32, 64, 'same', 1, 3, true],
  [3, 7, 7, 64, 128, 'same', 1, 3, true],
  [1, 5, 9, 4, 8, 'same', 1, 3, true], // odd and unequal sides, one tile per row at the edge
  [37, 3, 3, 8, 16, 'same', 1, 3, true], // more tiles than a block, not a multiple of 4
  [1, 1, 1, 4, 8, 'same', 1, 3, true],
  [2, 9, 7, 1, 32, 'same', 1, 3, true], // one input channel: direct
  [3, 6, 5, 16, 1, 'same', 1, 3, true], // one output channel: direct
  [2, 5, 11, 8, 1, 'same', 1, 3, true], // one output channel, four interior pixels at a time and the edges
  [2, 6, 5, 1, 12, 'same', 1, 3, true], // one input channel, outputs in fours, pixel pairs and an odd one
  [2, 8, 8, 1, 6, 'same', 1, 3, false], // one input channel, 6 outputs: stock
  [2, 8, 8, 3, 8, 'same', 1, 3, false], // 3 input channels: stock
  [2, 8, 8, 4, 10, 'same', 1, 3, false], // 10 output channels: stock
  [2, 8, 8, 4, 8, 'valid', 1, 3, false],
  [2, 9, 9, 4, 8, 'same', 2, 3, true], // stride 2: the module's product of unrolled patches
  [2, 8, 8, 4, 8, 'same', 1, 5, false],
];

for (const [n, h, w, c, k, pad, stride, f, wino] of CASES) {
  test(`Conv2D ${n}x${h}x${w}x${c} -> ${k}, ${f}x${f}, ${pad}, stride ${stride}: cpu's result${wino ? ' (ours)' : ' (stock)'}`, async () => {
    const xs: [Float32Array, number[]] = [rand([n, h, w, c]), [n, h, w, c]];
    const ws: [Float32Array, number[]] = [rand([f, f, c, k]), [f, f, c, k]];
    const conv = (x: tf.Tensor, wt: tf.Tensor) =>
      tf.conv2d(x as tf.Tensor4D, wt as tf.Tensor4D, stride, pad as 'same' | 'valid');
    const before = winogradCalls();
    const tensors = tf.memory().numTensors;
    const got = await on('wasm', [xs, ws], conv);
    assert.equal(winogradCalls() - before, wino ? 1 : 0, 'which path ran');
    assert.equal(tf.memory().numTensors, tensors, 'no leaks');
    const want = await on('cpu', [xs, ws], conv);
    assert.ok(relErr(got, want) < 1e-5, `relative error ${relErr(got, want)}`);
  });
}

test('an output whose 3x3 neighbourhood is all zero is exactly zero, forward and input gradient (sign-based attacks see it)', async () => {
  // Sparse maps: a few nonzero pixels, so most tiles mix zero and nonzero inputs. In F(2x2, 3x3)
  // every output's transforms touch only its own neighbourhood, so zeros stay exact (F(4x4, 3x3)'s
  // do not: its rounding made FGSM move pixels whose gradient is exactly zero).
  const [n, h, w, c, k] = [2, 14, 14, 8, 16];
  const xv = new Float32Array(n * h * w * c);
  for (let i = 0; i < 12; i++) xv.set(rand([c]), rng.int(n * h * w) * c);
  const xs: [Float32Array, number[]] = [xv, [n, h, w, c]];
  const ws: [Float32Array, number[]] = [rand([3, 3, c, k]), [3, 3, c, k]];
  const conv = (x: tf.Tensor, wt: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, wt as tf.Tensor4D, 1, 'same');
  // d sum(conv(v) * m) / dv with a sparse m: dy = m, dx = the flipped-filter convolution of m.
  const mv = new Float32Array(n * h * w * k);
  for (let i = 0; i < 12; i++) mv.set(rand([k]), rng.int(n * h * w) * k);
  const grad = (x: tf.Tensor, wt: tf.Tensor) =>
    tf.tidy(() => {
      const m = tf.tensor4d(mv, [n, h, w, k]);
      return tf.grad((v: tf.Tensor) => tf.sum(tf.mul(conv(v, wt), m)))(x);
    });
  for (const [what, f] of [
    ['forward', conv],
    ['input gradient', grad],
  ] as const) {
    const before = winogradCalls();
    const got = await on('wasm', [xs, ws], f);
    assert.ok(winogradCalls() > before, `${what}: the module ran`);
    const want = await on('cpu', [xs, ws], f);
    const zeros = want.reduce((m, v) => m + (v === 0 ? 1 : 0), 0);
    assert.ok(zeros > want.length / 4, `${what}: the case has exact zeros (${zeros})`);
    want.forEach((v, i) =>
      assert.equal(got[i] === 0, v === 0, `${what}: output ${i} is ${got[i]}, cpu ${v}`),
    );
  }
});

for (const [n, h, w, c, k] of [
  [3, 7, 9, 8, 16],
  [37, 3, 3, 4, 8],
  [2, 14, 14, 32, 64],
])
  test(`input and weight gradients (Winograd) of a ${n}x${h}x${w}x${c} -> ${k} convolution equal cpu's`, async () => {
    const xs: [Float32Array, number[]] = [rand([n, h, w, c]), [n, h, w, c]];
    const ws: [Float32Array, number[]] = [rand([3, 3, c, k]), [3, 3, c, k]];
    const loss = (x: tf.Tensor, wt: tf.Tensor) =>
      tf.sum(tf.square(tf.conv2d(x as tf.Tensor4D, wt as tf.Tensor4D, 1, 'same')));
    for (const which of [0, 1]) {
      // One gradient at a time, so that the engine computes only it.
      const grad = (x: tf.Tensor, wt: tf.Tensor) =>
        which === 0 ? tf.grad((v: tf.Tensor) => loss(v, wt))(x) : tf.grad((v: tf.Tensor) => loss(x, v))(wt);
      const before = winogradCalls();
      const got = await on('wasm', [xs, ws], grad);
      // Forward, then the filter flip and flipped-filter convolution of Conv2DBackpropInput or the
      // filter gradient, each where the module takes it.
      const expected =
        Number(conv3x3Fits(c, k)) +
        (which === 0 ? 1 + Number(conv3x3Fits(k, c)) : Number(winogradFits(c, k)));
      assert.equal(winogradCalls() - before, expected, `which ${which}`);
      const want = await on('cpu', [xs, ws], grad);
      assert.ok(
        relErr(got, want) < 1e-5,
        `${which === 0 ? 'input' : 'weight'} gradient: ${relErr(got, want)}`,
      );
    }
  });

for (const [n, h, w, k] of [
  [3, 7, 9, 32],
  [2, 28, 28, 20], // 16 outputs at a time, then 4
  [5, 1, 1, 4],
])
  test(`the weight gradient of a one-channel ${n}x${h}x${w}x1 -> ${k} convolution (direct) equals cpu's`, async () => {
    const xs: [Float32Array, number[]] = [rand([n, h, w, 1]), [n, h, w, 1]];
    const ws: [Float32Array, number[]] = [rand([3, 3, 1, k]), [3, 3, 1, k]];
    const loss = (x: tf.Tensor, wt: tf.Tensor) =>
      tf.sum(tf.square(tf.conv2d(x as tf.Tensor4D, wt as tf.Tensor4D, 1, 'same')));
    const grad = (x: tf.Tensor, wt: tf.Tensor) => tf.grad((v: tf.Tensor) => loss(x, v))(wt);
    const before = winogradCalls();
    const got = await on('wasm', [xs, ws], grad);
    assert.equal(winogradCalls() - before, 2, 'the forward and the filter gradient in the module');
    const want = await on('cpu', [xs, ws], grad);
    assert.ok(relErr(got, want) < 1e-5, `weight gradient: ${relErr(got, want)}`);
  });

for (const activation of ['linear', 'relu', 'relu6', 'leakyrelu', 'elu'] as const)
  for (const [n, h, w, c, k, withBias] of [
    [2, 7, 5, 8, 16, true],
    [3, 9, 9, 1, 32, true],
    [2, 6, 6, 4, 8, false],
  ] as const)
    test(`FusedConv2D ${n}x${h}x${w}x${c} -> ${k}, ${withBias ? 'bias' : 'no bias'}, ${activation}: cpu's result (${activation === 'elu' ? 'stock' : 'ours'})`, async () => {
      const xs: [Float32Array, number[]] = [rand([n, h, w, c]), [n, h, w, c]];
      const ws: [Float32Array, number[]] = [rand([3, 3, c, k]), [3, 3, c, k]];
      const bs: [Float32Array, number[]] = [rand([k]), [k]];
      const conv = (x: tf.Tensor, wt: tf.Tensor, b: tf.Tensor) =>
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
      const got = await on('wasm', [xs, ws, bs], conv);
      assert.equal(winogradCalls() - before, activation === 'elu' ? 0 : 1, 'which path ran');
      const want = await on('cpu', [xs, ws, bs], conv);
      assert.ok(relErr(got, want) < 1e-5, `relative error ${relErr(got, want)}`);
    });

test('the embedded modules are the build of winograd.c (when clang 16 or later is here)', (t) => {
  const r = spawnSync(process.execPath, ['scripts/build-wasm.mjs', '--check'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  // Exit 2: no clang 16 or later (Debian package clang-16, with lld-16 for wasm-ld).
  if (r.status === 2) return t.skip('clang-16 not installed (Debian: apt-get install clang-16 lld-16)');
  assert.equal(r.status, 0, r.stderr);
});
