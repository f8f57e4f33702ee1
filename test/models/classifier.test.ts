import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { buildArchitecture, ARCHITECTURES } from '../../src/models/architectures/index.ts';
import { classIndex, makeClassifier, preprocessTensor } from '../../src/models/classifier.ts';
import { plainPreprocess, type ModelCard } from '../../src/models/card.ts';
import { loadClassifier, saveClassifier } from '../../src/node/models.ts';
import { UserError } from '../../src/errors.ts';

await tf.setBackend('cpu');

function card(h: number, w: number, c: 1 | 3, labels: string[], arch = 'gap-cnn'): ModelCard {
  return { format: 'advlens-card/1', name: 't', architecture: arch, modelType: 'layers', preprocess: plainPreprocess(h, w, c), labels, output: 'logits', versions: {}, created: '' };
}
const digits = Array.from({ length: 10 }, (_, i) => String(i));

test('gap-cnn CAM is exact: the positional mean of sum_k w_kc A_k plus b_c equals logit c', () => {
  const m = buildArchitecture('gap-cnn', [28, 28, 1], 10, 3);
  const c = makeClassifier(m, card(28, 28, 1, digits));
  const x = tf.randomUniform([2, 28, 28, 1], 0, 1, 'float32', 1) as tf.Tensor4D;
  const { activations, logits } = c.taps(x, ['features']);
  const [w, b] = m.getLayer('logits').getWeights(); // [128, 10], [10]
  const cam = tf.einsum('nhwk,kc->nhwc', activations.features, w); // [N, 7, 7, 10]
  const fromCam = tf.add(tf.mean(cam, [1, 2]), b);
  const diff = tf.max(tf.abs(tf.sub(fromCam, logits))).dataSync()[0];
  assert.ok(diff < 1e-4, `max |CAM mean + b - logit| = ${diff}`);
  assert.deepEqual(activations.features.shape, [2, 7, 7, 128]);
  tf.dispose([x, activations.features, logits, cam, fromCam]);
});

test('every architecture builds for its default input, gives one logit per class and is reproducible by seed', () => {
  for (const [name, a] of Object.entries(ARCHITECTURES)) {
    if (name === 'resnet20') continue; // same code as resnet with more blocks; slow on cpu
    const m1 = buildArchitecture(name, a.defaultInput, 10, 7);
    const m2 = buildArchitecture(name, a.defaultInput, 10, 7);
    const m3 = buildArchitecture(name, a.defaultInput, 10, 8);
    const x = tf.randomUniform([2, ...a.defaultInput], 0, 1, 'float32', 2);
    const y1 = m1.predict(x) as tf.Tensor;
    const y2 = m2.predict(x) as tf.Tensor;
    const y3 = m3.predict(x) as tf.Tensor;
    assert.deepEqual(y1.shape, [2, 10], name);
    assert.deepEqual(Array.from(y1.dataSync()), Array.from(y2.dataSync()), `${name} same seed`);
    assert.notDeepEqual(Array.from(y1.dataSync()), Array.from(y3.dataSync()), `${name} other seed`);
    tf.dispose([x, y1, y2, y3]);
    [m1, m2, m3].forEach((m) => m.dispose());
  }
});

test('preprocessing maps [0,1] to the card scale, then mean/std', () => {
  const c = card(1, 2, 1, ['a']);
  c.preprocess.scale = [-1, 1];
  c.preprocess.mean = [0.5];
  c.preprocess.std = [2];
  const x = tf.tensor4d([0, 1], [1, 1, 2, 1]);
  const y = preprocessTensor(c, x);
  assert.deepEqual(Array.from(y.dataSync()), [(-1 - 0.5) / 2, (1 - 0.5) / 2]);
  tf.dispose([x, y]);
});

test('wrong input size, unknown layer and unknown class are user errors', () => {
  const m = buildArchitecture('small-cnn', [28, 28, 1], 10, 1);
  const c = makeClassifier(m, card(28, 28, 1, digits, 'small-cnn'));
  const x = tf.zeros([1, 32, 32, 1]) as tf.Tensor4D;
  assert.throws(() => c.logits(x), (e: Error) => e instanceof UserError && /28x28/.test(e.message));
  const ok = tf.zeros([1, 28, 28, 1]) as tf.Tensor4D;
  assert.throws(() => c.taps(ok, ['nope']), UserError);
  assert.equal(classIndex(c, '7'), 7);
  assert.equal(classIndex(c, 3), 3);
  assert.throws(() => classIndex(c, 'cat'), UserError);
  assert.throws(() => classIndex(c, 11), UserError);
  tf.dispose([x, ok]);
});

test('inference leaks no tensors', () => {
  const m = buildArchitecture('small-cnn', [28, 28, 1], 10, 1);
  const c = makeClassifier(m, card(28, 28, 1, digits, 'small-cnn'));
  const x = tf.zeros([3, 28, 28, 1]) as tf.Tensor4D;
  c.logits(x).dispose();
  const before = tf.memory().numTensors;
  c.logits(x).dispose();
  const t = c.taps(x, ['conv1']);
  tf.dispose([t.logits, ...Object.values(t.activations)]);
  assert.equal(tf.memory().numTensors, before);
  x.dispose();
});

test('a saved model loads back with the same card and the same outputs', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-model-'));
  try {
    const m = buildArchitecture('gap-cnn', [28, 28, 1], 10, 4);
    const c = makeClassifier(m, card(28, 28, 1, digits));
    await saveClassifier(c, dir);
    assert.ok(fs.existsSync(path.join(dir, 'model.json')) && fs.existsSync(path.join(dir, 'weights.bin')));
    const back = await loadClassifier(dir);
    assert.deepEqual(back.labels, digits);
    assert.equal(back.card.architecture, 'gap-cnn');
    const x = tf.randomUniform([2, 28, 28, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
    const a = c.logits(x).dataSync();
    const b = back.logits(x).dataSync();
    assert.deepEqual(Array.from(a), Array.from(b));
    x.dispose();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('loading a missing or broken model folder is a user error', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'advlens-model-'));
  try {
    await assert.rejects(loadClassifier(path.join(dir, 'nope')), UserError);
    await assert.rejects(loadClassifier(dir), /no model.json/);
    fs.writeFileSync(path.join(dir, 'model.json'), '{"modelTopology": ');
    await assert.rejects(loadClassifier(dir), /not valid JSON/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
