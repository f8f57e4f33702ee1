import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initNodeBackend } from '../../src/node/backend.ts';
import { makeClassifier } from '../../src/models/classifier.ts';
import { plainPreprocess } from '../../src/models/card.ts';
import { redirectedRelu, redirectRelus } from '../../src/pathways/redirectedRelu.ts';
import { featureVis } from '../../src/pathways/featureVis.ts';

await initNodeBackend('wasm');

/** d/dx sum(relu(x) * c): the incoming gradient of the ReLU is c. */
function gradWith(active: boolean, x: number[][], c: number[][]): number[][] {
  const relu = redirectedRelu(() => active);
  return tf.tidy(() => {
    const ct = tf.tensor2d(c);
    return tf
      .grad((v: tf.Tensor) => tf.sum(tf.mul(relu(v), ct)))(tf.tensor2d(x))
      .arraySync() as number[][];
  });
}

/** Equal to float32 precision (and -0 as 0). */
function near(got: number[][], want: number[][]) {
  assert.deepEqual(
    got.map((r) => r.map((v) => Math.round(v * 1e6) / 1e6 + 0)),
    want,
  );
}

test('redirected ReLU: where nothing passes the ReLU, a gradient pushing a negative input up passes, one pushing it down does not; otherwise the plain gradient', () => {
  const before = tf.memory().numTensors;
  // row 0: every input is blocked (negative, or dy = 0 at x = 3), so the redirected gradient is used.
  //   x = -1, dy = -0.5: descent raises x -> passes; x = -2, dy = 0.7: descent lowers x -> 0.
  // row 1: x = 2 lets 0.4 through, so the row keeps the plain gradient (x = -1, dy = -0.5 stays 0).
  const x = [
    [-1, -2, 3],
    [-1, 2, -3],
  ];
  const dy = [
    [-0.5, 0.7, 0],
    [-0.5, 0.4, -1],
  ];
  near(gradWith(true, x, dy), [
    [-0.5, 0, 0],
    [0, 0.4, 0],
  ]);
  // inactive (after Lucid's 16 steps): the plain ReLU gradient dy * (x > 0) everywhere
  near(gradWith(false, x, dy), [
    [0, 0, 0],
    [0, 0.4, 0],
  ]);
  // the forward pass is ReLU
  const relu = redirectedRelu(() => true);
  assert.deepEqual(
    tf.tidy(() => relu(tf.tensor2d(x)).arraySync()),
    [
      [0, 0, 3],
      [0, 2, 0],
    ],
  );
  assert.equal(tf.memory().numTensors, before);
});

/** A 1x1 convolution with a fused ReLU whose channel 0 is dead on grey images: relu(x - 0.6). */
function deadChannelModel() {
  const m = tfl.sequential();
  m.add(
    tfl.layers.conv2d({
      inputShape: [4, 4, 1],
      filters: 2,
      kernelSize: 1,
      activation: 'relu',
      name: 'conv',
      weights: [tf.tensor4d([1, -1], [1, 1, 1, 2]), tf.tensor1d([-0.6, 0.2])],
    }),
  );
  m.add(tfl.layers.globalAveragePooling2d({ name: 'gap' }));
  m.add(tfl.layers.dense({ units: 2, name: 'logits' }));
  return makeClassifier(m, {
    format: 'advlens-card/1',
    name: 'dead',
    architecture: 'dead',
    modelType: 'layers',
    preprocess: plainPreprocess(4, 4, 1),
    labels: ['a', 'b'],
    output: 'logits',
    versions: {},
    created: '',
  });
}

test("redirectRelus reroutes a model's fused ReLU gradient while active and restores it", () => {
  const model = deadChannelModel();
  const x = tf.fill([1, 4, 4, 1], 0.5) as tf.Tensor4D;
  // minus channel 0's mean: its incoming ReLU gradient is -1/16 per position (pushes up), its input
  // x - 0.6 = -0.1 < 0; redirected, the input gradient is -1/16 * w = -0.0625 per pixel
  const g = () =>
    tf.tidy(() =>
      tf
        .grad((v: tf.Tensor) => {
          const { activations, logits } = model.taps(v as tf.Tensor4D, ['conv']);
          logits.dispose();
          return tf.neg(tf.mean(tf.slice(activations.conv, [0, 0, 0, 0], [-1, -1, -1, 1])));
        })(x)
        .dataSync(),
    );
  assert.ok(
    g().every((v) => v === 0),
    'the plain gradient of a dead channel is zero',
  );
  let active = true;
  const restore = redirectRelus(model, () => active);
  assert.ok(
    g().every((v) => Math.abs(v + 1 / 16) < 1e-7),
    `redirected: ${g()[0]}`,
  );
  active = false;
  assert.ok(
    g().every((v) => v === 0),
    'inactive: plain again',
  );
  restore();
  active = true;
  assert.ok(
    g().every((v) => v === 0),
    'restored',
  );
  assert.equal(
    (model.model as tfl.LayersModel).getLayer('conv').getConfig().activation,
    'relu',
    'the layer has its own activation back',
  );
  x.dispose();
});

test('feature visualisation of a dead channel starts only with the redirected ReLU', () => {
  const model = deadChannelModel();
  const before = tf.memory().numTensors;
  const o = { steps: 40, size: 16, transforms: false, learningRate: 0.5 };
  const plain = featureVis(model, 'conv', 0, { ...o, redirectedRelu: false });
  const redirected = featureVis(model, 'conv', 0, { ...o, redirectedRelu: true });
  assert.equal(plain.activation, 0, 'without the redirect nothing moves the dead channel');
  assert.ok(redirected.activation > 0, `redirected: the channel reaches ${redirected.activation}`);
  assert.ok(redirected.objective.at(-1)! > redirected.objective[0]);
  tf.dispose([plain.image, redirected.image]);
  assert.equal(tf.memory().numTensors, before);
});
