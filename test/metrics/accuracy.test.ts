import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { confusionStats, evaluate } from '../../src/metrics/accuracy.ts';
import { makeDataset } from '../../src/data/dataset.ts';
import { makeClassifier } from '../../src/models/classifier.ts';
import { plainPreprocess } from '../../src/models/card.ts';
import { UserError } from '../../src/errors.ts';

await tf.setBackend('cpu');

test('confusion matrix, accuracy and per-class accuracy of a hand-made case', () => {
  const s = confusionStats([0, 0, 1, 1, 1, 2], [0, 1, 1, 1, 0, 2], ['a', 'b', 'c']);
  assert.deepEqual(s.confusion, [
    [1, 1, 0],
    [1, 2, 0],
    [0, 0, 1],
  ]);
  assert.equal(s.correct, 4);
  assert.equal(s.accuracy, 4 / 6);
  assert.deepEqual(
    s.perClass.map((p) => p.accuracy),
    [0.5, 2 / 3, 1],
  );
});

test('evaluate predicts with the model, in batches, in dataset order', () => {
  // A fixed linear model on 1x2 "images": logits = [x0, x1], so the brighter pixel wins.
  const m = tfl.sequential();
  m.add(tfl.layers.flatten({ inputShape: [1, 2, 1] }));
  m.add(tfl.layers.dense({ units: 2, useBias: false, weights: [tf.tensor2d([1, 0, 0, 1], [2, 2])] }));
  const card = {
    format: 'advlens-card/1' as const,
    name: 'lin',
    architecture: 'linear',
    modelType: 'layers' as const,
    preprocess: plainPreprocess(1, 2, 1),
    labels: ['left', 'right'],
    output: 'logits' as const,
    versions: {},
    created: '',
  };
  const c = makeClassifier(m, card);
  const pixels = new Uint8Array([255, 0, 0, 255, 10, 200, 200, 10, 0, 9]);
  const data = makeDataset({
    name: 't',
    source: 't',
    classNames: ['left', 'right'],
    shape: [1, 2, 1],
    pixels,
    labels: new Int32Array([0, 1, 0, 0, 1]),
  });
  const before = tf.memory().numTensors;
  const ev = evaluate(c, data, { batchSize: 2 });
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(Array.from(ev.predictions), [0, 1, 1, 0, 1]);
  assert.equal(ev.accuracy, 4 / 5);
  const wrongClasses = makeDataset({ ...data, classNames: ['a', 'b', 'c'] });
  assert.throws(() => evaluate(c, wrongClasses), UserError);
});
