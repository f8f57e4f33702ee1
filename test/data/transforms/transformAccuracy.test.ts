import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initNodeBackend } from '../../../src/node/backend.ts';
import { makeClassifier } from '../../../src/models/classifier.ts';
import { plainPreprocess } from '../../../src/models/card.ts';
import { makeDataset } from '../../../src/data/dataset.ts';
import { transformAccuracy } from '../../../src/metrics/transformAccuracy.ts';
import {
  applyTransform,
  parseTransformList,
  saturateValue,
  transformLabel,
} from '../../../src/data/transforms/index.ts';
import { UserError } from '../../../src/errors.ts';

await initNodeBackend('wasm');

/** Class 1 when the mean of the 2x2 image is above 0.5 (logit1 - logit0 = 2 sum - 4), else class 0. */
function brightness() {
  const m = tfl.sequential();
  m.add(tfl.layers.flatten({ inputShape: [2, 2, 1] }));
  m.add(
    tfl.layers.dense({
      units: 2,
      weights: [
        tf.tensor2d([
          [-1, 1],
          [-1, 1],
          [-1, 1],
          [-1, 1],
        ]),
        tf.tensor1d([2, -2]),
      ],
    }),
  );
  return makeClassifier(m, {
    format: 'advlens-card/1',
    name: 'brightness',
    architecture: 'linear',
    modelType: 'layers',
    preprocess: plainPreprocess(2, 2, 1),
    labels: ['dark', 'bright'],
    output: 'logits',
    versions: {},
    created: '',
  });
}

// 2x2 images whose class flips under saturation: [0.55, 0.55, 0.55, 0] has mean < 0.5, but at p = 16
// each 0.55 becomes 0.875 (mean > 0.5); [0.9, 0.45, 0.45, 0.45] the other way round. Labels are the
// clean prediction except for images 5 and 9, which the model gets wrong clean.
const IMAGES = [
  [0.55, 0.55, 0.55, 0],
  [0.9, 0.45, 0.45, 0.45],
  [0.2, 0.3, 0.1, 0.4],
  [0.9, 0.8, 0.7, 1],
  [0.6, 0.6, 0.6, 0.1],
  [0.55, 0.55, 0.55, 0],
  [0.95, 0.4, 0.4, 0.4],
  [0.52, 0.52, 0.52, 0.3],
  [0, 0.6, 0.6, 0.6],
  [0.9, 0.45, 0.45, 0.45],
  [0.3, 0.6, 0.7, 0.2],
  [0.05, 0.05, 0.9, 0.9],
].map((im) => im.map((v) => Math.round(v * 255) / 255));
const LABELS = IMAGES.map(
  (im, i) => ((im.reduce((a, b) => a + b, 0) > 2 ? 1 : 0) + (i === 5 || i === 9 ? 1 : 0)) % 2,
);

test('transformAccuracy counts both accuracies as a direct loop over the saturated images does', () => {
  const c = brightness();
  const data = makeDataset({
    name: 'toy',
    source: 'test',
    classNames: ['dark', 'bright'],
    shape: [2, 2, 1],
    pixels: new Float32Array(IMAGES.flat()),
    labels: new Int32Array(LABELS),
  });
  const specs = parseTransformList('saturate:1,saturate:16');
  const before = tf.memory().numTensors;
  const r = transformAccuracy(
    c,
    data,
    specs.map((s) => ({
      label: transformLabel(s),
      apply: (x, idx) => applyTransform(s, x, { seed: 0, indices: idx }),
    })),
    { batchSize: 5 },
  );
  assert.equal(tf.memory().numTensors, before);
  const predict = (im: number[]) => (im.reduce((a, b) => a + b, 0) > 2 ? 1 : 0);
  const clean = IMAGES.map((im, i) => predict(im) === LABELS[i]);
  const nClean = clean.filter(Boolean).length;
  assert.equal(r.clean.correct, nClean);
  assert.ok(nClean > 0 && nClean < 12);
  for (const [k, p] of [1, 16].entries()) {
    const right = IMAGES.map((im, i) => predict(im.map((v) => saturateValue(v, p))) === LABELS[i]);
    const both = right.filter((ok, i) => ok && clean[i]).length;
    assert.equal(r.rows[k].transform, `saturate:${p}`);
    assert.equal(r.rows[k].correct, right.filter(Boolean).length);
    assert.equal(r.rows[k].bothCorrect, both);
    assert.equal(r.rows[k].relative, both / nClean);
    assert.equal(r.rows[k].accuracy, right.filter(Boolean).length / 12);
    // The case is not trivial: saturation changes some predictions either way.
    if (p === 16) assert.ok(both < nClean && right.some((ok, i) => ok && !clean[i]));
  }
});

test('transform lists parse back to their labels, and bad entries are one-line user errors', () => {
  assert.deepEqual(
    parseTransformList('saturate:8, shuffle:4,stylize,stylize:fast:wave').map(transformLabel),
    ['saturate:8', 'shuffle:4', 'stylize:arbitrary', 'stylize:fast:wave'],
  );
  for (const bad of [
    'saturate',
    'saturate:0',
    'shuffle:2.5',
    'blur:3',
    'stylize:monet',
    'saturate:8,,shuffle:2',
    'shuffle:2,shuffle:2',
  ])
    assert.throws(
      () => parseTransformList(bad),
      (e: unknown) => e instanceof UserError && !e.message.includes('\n'),
      bad,
    );
});
