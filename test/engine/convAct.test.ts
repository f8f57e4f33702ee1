import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initNodeBackend } from '../../src/node/backend.ts';
import { CONV_ACT, setFastConvAct } from '../../src/engine/convAct.ts';

await initNodeBackend('wasm');

/**
 * Convolutions with a ReLU of their own, one of each path: a grey first layer (the module's direct
 * kernel), a 3x3 Winograd layer, a strided 'valid' one without bias (the module's patch product), and
 * a 5x5 one the module does not take (stock convolution, then the bias and ReLU pass); then a pool,
 * a ReLU convolution with 6 outputs (not a multiple of 4: tfjs-layers' own path) and a dense layer.
 */
function model(): tfl.LayersModel {
  const m = tfl.sequential();
  const init = (seed: number) => tfl.initializers.glorotUniform({ seed });
  m.add(
    tfl.layers.conv2d({
      inputShape: [11, 11, 1],
      filters: 8,
      kernelSize: 3,
      padding: 'same',
      activation: 'relu',
      kernelInitializer: init(1),
      biasInitializer: tfl.initializers.randomUniform({ minval: -0.2, maxval: 0.2, seed: 2 }),
    }),
  );
  m.add(
    tfl.layers.conv2d({
      filters: 16,
      kernelSize: 3,
      padding: 'same',
      activation: 'relu',
      kernelInitializer: init(3),
      biasInitializer: tfl.initializers.randomUniform({ minval: -0.2, maxval: 0.2, seed: 4 }),
    }),
  );
  m.add(
    tfl.layers.conv2d({
      filters: 8,
      kernelSize: 3,
      strides: 2,
      padding: 'valid',
      useBias: false,
      activation: 'relu',
      kernelInitializer: init(5),
    }),
  );
  m.add(
    tfl.layers.conv2d({
      filters: 12,
      kernelSize: 5,
      padding: 'same',
      activation: 'relu',
      kernelInitializer: init(6),
      biasInitializer: tfl.initializers.randomUniform({ minval: -0.2, maxval: 0.2, seed: 7 }),
    }),
  );
  m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tfl.layers.conv2d({ filters: 6, kernelSize: 1, activation: 'relu', kernelInitializer: init(8) }));
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: 5, kernelInitializer: init(9) }));
  return m;
}

const net = model();
const x = tf.randomUniform([6, 11, 11, 1], 0, 1, 'float32', 10) as tf.Tensor4D;
const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 0], 'int32'), 5);
const loss = (xi: tf.Tensor) =>
  tf.losses.softmaxCrossEntropy(labels, net.apply(xi, { training: true }) as tf.Tensor) as tf.Scalar;

/** The loss, its gradient to every weight and to the input, and the kernels that ran, as plain arrays. */
async function run(fast: boolean) {
  const was = setFastConvAct(fast);
  try {
    const before = tf.memory().numTensors;
    let out: { loss: number[]; grads: number[][]; dx: number[] } | undefined;
    // One profile per pass (the kernels of the weight gradients, then of the input gradient); the
    // names are copied at once, since tfjs hands every profile the same object.
    const kernels = (
      await tf.profile(() => {
        const { value, grads } = tf.variableGrads(() => loss(x));
        out = {
          loss: [...value.dataSync()],
          grads: net.trainableWeights.map((w) => [...grads[w.originalName].dataSync()]),
          dx: [],
        };
        tf.dispose([value, ...Object.values(grads)]);
      })
    ).kernels.map((k) => k.name);
    const inputGradKernels = (
      await tf.profile(() => {
        const dx = tf.grad(loss)(x);
        out!.dx = [...dx.dataSync()];
        dx.dispose();
      })
    ).kernels.map((k) => k.name);
    assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
    return {
      ...out!,
      kernels,
      inputGradKernels,
    };
  } finally {
    setFastConvAct(was);
  }
}

test('Conv2D + ReLU under a tape as one kernel: loss, weight and input gradients are the layer-by-layer bits', async () => {
  const fast = await run(true);
  const slow = await run(false);
  assert.ok(fast.loss[0] > 0 && Number.isFinite(fast.loss[0]));
  assert.deepEqual(fast.loss, slow.loss);
  assert.deepEqual(fast.dx, slow.dx);
  assert.ok(
    fast.dx.some((v) => v !== 0),
    'a gradient that reaches the input',
  );
  assert.equal(fast.grads.length, slow.grads.length);
  fast.grads.forEach((g, i) => {
    assert.ok(
      g.some((v) => v !== 0),
      `weight ${i} has a gradient`,
    );
    assert.deepEqual(g, slow.grads[i], `weight ${i}`);
  });
  // Four layers fit (the fifth has 6 outputs), in each pass.
  const count = (ks: string[], name: string) => ks.filter((k) => k === name).length;
  assert.equal(count(fast.kernels, CONV_ACT), 4);
  assert.equal(count(fast.inputGradKernels, CONV_ACT), 4);
  assert.equal(count(slow.kernels, CONV_ACT), 0);
  assert.equal(count(slow.kernels, 'Relu'), 5);
  assert.equal(count(fast.kernels, 'Relu'), 1);
  // The weight gradients take every filter's gradient; an input gradient none.
  assert.equal(count(fast.kernels, 'Conv2DBackpropFilter'), 5);
  assert.equal(count(fast.inputGradKernels, 'Conv2DBackpropFilter'), 0);
  assert.equal(
    count(fast.inputGradKernels, 'Conv2DBackpropFilter'),
    count(slow.inputGradKernels, 'Conv2DBackpropFilter'),
  );
});

test('outside a tape and under two tapes the layer is tfjs-layers own', async () => {
  const prof = await tf.profile(() => void tf.dispose(net.predict(x) as tf.Tensor));
  assert.equal(prof.kernels.filter((k) => k.name === CONV_ACT).length, 0);
  // A gradient of a gradient (second-order objectives) goes through the unfused layers.
  const small = tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        inputShape: [6, 6, 1],
        filters: 4,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
      }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 3 }),
    ],
  });
  const f = (xi: tf.Tensor) => tf.sum(tf.square(small.apply(xi, { training: true }) as tf.Tensor));
  const xs = tf.randomUniform([2, 6, 6, 1], 0, 1, 'float32', 11);
  const g2 = await tf.profile(() => {
    const outer = tf.grad((xi: tf.Tensor) => tf.sum(tf.square(tf.grad(f)(xi))));
    tf.dispose(outer(xs));
  });
  assert.ok(g2.kernels.some((k) => k.name === 'Relu'));
  assert.equal(g2.kernels.filter((k) => k.name === CONV_ACT).length, 0);
});
