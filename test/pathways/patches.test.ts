import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { makeClassifier, type Classifier } from '../../src/models/classifier.ts';
import { buildArchitecture } from '../../src/models/architectures/index.ts';
import { plainPreprocess } from '../../src/models/card.ts';
import { datasetPatches, fieldBox, receptiveField } from '../../src/pathways/patches.ts';
import { channelScores } from '../../src/pathways/neurons.ts';
import { pathwayGraph } from '../../src/pathways/graph.ts';
import { topChannels } from '../../src/pathways/groups.ts';

await initNodeBackend('wasm');
const gap = await loadClassifier('models/mnist-gap-cnn');
const resnet = makeClassifier(buildArchitecture('resnet', [32, 32, 3], 10, 5), {
  format: 'advlens-card/1',
  name: 'resnet8',
  architecture: 'resnet',
  modelType: 'layers',
  preprocess: plainPreprocess(32, 32, 3),
  labels: Array.from({ length: 10 }, (_, i) => String(i)),
  output: 'logits',
  versions: {},
  created: '',
});

test('receptive fields of gap-cnn equal the hand computation', () => {
  // conv 3x3 same: +2; pool 2/2: +1 x jump, jump x2, centre +0.5 x jump
  assert.deepEqual(receptiveField(gap, 'conv1'), { size: [3, 3], stride: [1, 1], start: [0, 0] });
  assert.deepEqual(receptiveField(gap, 'conv2'), { size: [8, 8], stride: [2, 2], start: [0.5, 0.5] });
  assert.deepEqual(receptiveField(gap, 'features'), { size: [26, 26], stride: [4, 4], start: [1.5, 1.5] });
  // position (0, 6): centre (1.5, 25.5), half-width 12.5: rows -11..14, columns 13..38, clipped
  assert.deepEqual(fieldBox(receptiveField(gap, 'features'), 0, 6, 28, 28), [0, 13, 15, 28]);
});

/** The input pixels a neuron's value at (p, q) depends on (non-zero gradient) all lie in its box. */
function gradientInsideBox(m: Classifier, tap: string, p: number, q: number, seed: number) {
  const [H, W, C] = m.inputShape;
  const x = tf.randomUniform([1, H, W, C], 0, 1, 'float32', seed) as tf.Tensor4D;
  const g = tf.grad((v: tf.Tensor) => {
    const a = m.taps(v as tf.Tensor4D, [tap]).activations[tap];
    return tf.sum(tf.slice(a, [0, p, q, 0], [1, 1, 1, -1]));
  })(x);
  const v = g.dataSync();
  const [y0, x0, y1, x1] = fieldBox(receptiveField(m, tap), p, q, H, W);
  let inside = 0;
  for (let y = 0; y < H; y++)
    for (let xx = 0; xx < W; xx++)
      for (let c = 0; c < C; c++) {
        const nz = v[(y * W + xx) * C + c] !== 0;
        if (!nz) continue;
        assert.ok(
          y >= y0 && y < y1 && xx >= x0 && xx < x1,
          `${tap} (${p},${q}): gradient at (${y},${xx}) outside [${y0},${x0},${y1},${x1})`,
        );
        inside++;
      }
  assert.ok(inside > 0);
  tf.dispose([x, g]);
}

test('a neuron depends on no pixel outside its receptive field (gap-cnn, ResNet-8 with strided convs and shortcuts)', () => {
  gradientInsideBox(gap, 'features', 3, 2, 1);
  gradientInsideBox(gap, 'conv2', 0, 13, 2);
  gradientInsideBox(resnet, 's2b1_relu', 5, 9, 3);
  gradientInsideBox(resnet, 's3b1a_relu', 0, 7, 4);
});

test('dataset patches are the most activating images, boxed around the peak of the map', () => {
  const x = tf.randomUniform([12, 28, 28, 1], 0, 1, 'float32', 9) as tf.Tensor4D;
  const layer = pathwayGraph(gap).layers.find((l) => l.name === 'conv3')!;
  const before = tf.memory().numTensors;
  const [a, b] = datasetPatches(gap, 'conv3', [4, 90], x, { count: 3, batchSize: 5 });
  assert.equal(tf.memory().numTensors, before);
  const s = channelScores(gap, [layer], x).conv3;
  const col = (c: number) => Array.from({ length: 12 }, (_, i) => s[i * 128 + c]);
  assert.deepEqual(
    a.map((p) => p.image),
    topChannels(col(4), 3),
  );
  assert.deepEqual(
    b.map((p) => p.image),
    topChannels(col(90), 3),
  );
  const map = tf.tidy(() => {
    const act = gap.taps(tf.slice(x, [a[0].image, 0, 0, 0], [1, -1, -1, -1]), ['conv3']).activations.conv3;
    return tf.slice(act, [0, a[0].at[0], a[0].at[1], 4], [1, 1, 1, 1]).dataSync()[0];
  });
  assert.equal(map, a[0].activation);
  x.dispose();
});
