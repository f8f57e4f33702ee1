import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initNodeBackend } from '../../src/node/backend.ts';
import { setEarlyGradFree, setEarlySavedFree } from '../../src/engine/earlyGradFree.ts';

await initNodeBackend();

/** Runs `f` with the early freeing on or off, then restores the setting. */
function withEarlyFree<T>(on: boolean, f: () => T): T {
  const was = setEarlyGradFree(on);
  try {
    return f();
  } finally {
    setEarlyGradFree(was);
  }
}

/** A small functional CNN: conv, batch norm, leaky ReLU, max pool, a skip connection (a tensor used twice), dense. */
function model(): tfl.LayersModel {
  const input = tfl.input({ shape: [12, 12, 3] });
  const c1 = tfl.layers.conv2d({
    filters: 8,
    kernelSize: 3,
    padding: 'same',
    useBias: false,
    seed: 1,
  } as never);
  const a = tfl.layers
    .leakyReLU({ alpha: 0.1 })
    .apply(tfl.layers.batchNormalization().apply(c1.apply(input))) as tfl.SymbolicTensor;
  const b = tfl.layers
    .conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', seed: 2 } as never)
    .apply(a) as tfl.SymbolicTensor;
  const sum = tfl.layers.add().apply([a, b]) as tfl.SymbolicTensor;
  const pooled = tfl.layers.maxPooling2d({ poolSize: 2 }).apply(sum);
  const out = tfl.layers.dense({ units: 5, seed: 3 } as never).apply(tfl.layers.flatten().apply(pooled));
  const m = tfl.model({ inputs: input, outputs: out as tfl.SymbolicTensor });
  // Batch-norm statistics away from the defaults, so inference mode does something.
  const bn = m.layers.find((l) => l.getClassName() === 'BatchNormalization')!;
  bn.setWeights(
    bn.getWeights().map((w, i) => tf.add(w, tf.mul(tf.randomUniform(w.shape, 0, 1, 'float32', 7 + i), 0.5))),
  );
  return m;
}

const x = tf.randomUniform([4, 12, 12, 3], 0, 1, 'float32', 11) as tf.Tensor4D;
const y = tf.tensor1d([0, 1, 2, 3], 'int32');
const m = model();
const loss = (v: tf.Tensor, training = false) =>
  tf.losses.softmaxCrossEntropy(tf.oneHot(y, 5), m.apply(v, { training }) as tf.Tensor) as tf.Scalar;

test('input gradients and weight gradients equal the engine’s own, bit for bit, with no tensor left', () => {
  const before = tf.memory().numTensors;
  // The input gradients first: a training-mode pass moves the batch-norm statistics that inference reads.
  const inputGrad = (on: boolean) =>
    withEarlyFree(on, () =>
      tf.tidy(() =>
        tf
          .grad((v: tf.Tensor) => loss(v))(x)
          .dataSync(),
      ),
    );
  const gx = [inputGrad(true), inputGrad(false)];
  // Training mode: batch statistics of the batch, gradients of every trainable weight.
  const run = (on: boolean) =>
    withEarlyFree(on, () =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => loss(x, true));
        const names = Object.keys(grads).sort();
        return {
          gx: gx[on ? 0 : 1],
          value: value.dataSync()[0],
          names,
          gw: names.map((n) => grads[n].dataSync()),
        };
      }),
    );
  const early = run(true);
  const own = run(false);
  assert.deepEqual(Array.from(early.gx), Array.from(own.gx));
  assert.ok(
    early.gx.some((v) => v !== 0),
    'the input gradient is not all zeros',
  );
  assert.equal(early.value, own.value);
  assert.deepEqual(early.names, own.names);
  assert.ok(early.names.length >= 6, `weights with gradients: ${early.names}`);
  early.gw.forEach((g, i) => assert.deepEqual(Array.from(g), Array.from(own.gw[i]), early.names[i]));
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
});

test('the gradient pass keeps fewer bytes alive at its peak: each layer’s gradient goes once used', async () => {
  // A deeper chain, where the engine's own pass holds every layer's gradient to the end.
  const input = tfl.input({ shape: [16, 16, 4] });
  let h: tfl.SymbolicTensor = input;
  for (let i = 0; i < 6; i++)
    h = tfl.layers
      .conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', seed: 20 + i } as never)
      .apply(h) as tfl.SymbolicTensor;
  const chain = tfl.model({ inputs: input, outputs: h });
  const v = tf.randomUniform([8, 16, 16, 4], 0, 1, 'float32', 5);
  const peak = async (on: boolean) =>
    withEarlyFree(
      on,
      async () =>
        (
          await tf.profile(() =>
            tf.tidy(
              () =>
                void tf
                  .grad((u: tf.Tensor) => tf.sum(chain.apply(u) as tf.Tensor))(v)
                  .dataSync(),
            ),
          )
        ).peakBytes,
    );
  const own = await peak(false);
  const early = await peak(true);
  // Six layers of 8 x 16 x 16 x 8 floats (64 KiB each): the engine's own pass keeps all six layers'
  // gradients (and their ReLU gradients) to the end; this one at most the two in hand.
  const layer = 8 * 16 * 16 * 8 * 4;
  assert.ok(own - early >= 6 * layer, `peak bytes: engine's own ${own}, early freeing ${early}`);
  tf.dispose(v);
  chain.dispose();
});

test('the activations a layer saved go once its gradient has run: a pass reaching the first layer holds none of the later ones', async () => {
  // Layers that shrink (as a CNN's do): the pass peaks at the first layer, whose gradients are the
  // largest, where the engine's own pass still holds every later layer's saved activations.
  const input = tfl.input({ shape: [32, 32, 4] });
  let h: tfl.SymbolicTensor = input;
  for (let i = 0; i < 4; i++) {
    h = tfl.layers
      .conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', seed: 30 + i } as never)
      .apply(h) as tfl.SymbolicTensor;
    if (i < 3) h = tfl.layers.maxPooling2d({ poolSize: 2 }).apply(h) as tfl.SymbolicTensor;
  }
  const chain = tfl.model({ inputs: input, outputs: h });
  const v = tf.randomUniform([8, 32, 32, 4], 0, 1, 'float32', 6);
  const run = async (savedFree: boolean) => {
    const was = setEarlySavedFree(savedFree);
    try {
      let g: number[] = [];
      const { peakBytes } = await tf.profile(() =>
        tf.tidy(() => {
          g = Array.from(
            tf
              .grad((u: tf.Tensor) => tf.sum(chain.apply(u) as tf.Tensor))(v)
              .dataSync(),
          );
        }),
      );
      return { peakBytes, g };
    } finally {
      setEarlySavedFree(was);
    }
  };
  const kept = await run(false);
  const freed = await run(true);
  assert.deepEqual(freed.g, kept.g, 'the same gradient, bit for bit');
  assert.ok(
    freed.g.some((x) => x !== 0),
    'the gradient is not all zeros',
  );
  // The second layer's convolution output alone (8 x 16 x 16 x 8 floats, saved by its ReLU and its
  // max pool) is held at the first layer by the engine's way, not by this one.
  const secondLayer = 8 * 16 * 16 * 8 * 4;
  assert.ok(
    kept.peakBytes - freed.peakBytes >= secondLayer,
    `peak bytes: saved activations kept ${kept.peakBytes}, freed ${freed.peakBytes}`,
  );
  tf.dispose(v);
  chain.dispose();
});

test('the caller’s dy survives; a gradient function that returns its dy unchanged is not freed under another tensor', () => {
  const before = tf.memory().numTensors;
  // pass(a) = a^2 forward, but its gradient passes dy through unchanged (the same tensor object).
  const pass = tf.customGrad(((a: tf.Tensor, save: tf.GradSaveFunc) => {
    save([]);
    return { value: tf.square(a), gradFunc: (dy: tf.Tensor) => dy };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as (a: tf.Tensor) => tf.Tensor;
  const f = (v: tf.Tensor) => {
    const a = tf.mul(v, 2);
    const b = pass(a);
    return tf.add(tf.mul(b, 3), tf.mul(a, a)); // d/dv = 2 * (3 * 1 + 2a) = 6 + 8v
  };
  const v = tf.tensor1d([0.5, -1, 2]);
  const dy = tf.tensor1d([1, 2, 3]);
  const g = tf.grad(f)(v, dy);
  assert.deepEqual(Array.from(g.dataSync()), [1 * (6 + 4), 2 * (6 - 8), 3 * (6 + 16)]);
  assert.equal(dy.isDisposed, false, "the caller's dy is not freed");
  assert.deepEqual(Array.from(dy.dataSync()), [1, 2, 3]);
  const own = withEarlyFree(false, () => tf.grad(f)(v, dy));
  assert.deepEqual(Array.from(own.dataSync()), Array.from(g.dataSync()));
  tf.dispose([v, dy, g, own]);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
});

test('a gradient of a gradient (the Int objectives) is unchanged: the inner pass keeps its tape', () => {
  const before = tf.memory().numTensors;
  const v = tf.tensor1d([0.5, -1, 2]);
  // d/dv sum(d/dv sum(v^3)) = d/dv sum(3 v^2) = 6 v
  const second = (on: boolean) =>
    withEarlyFree(on, () =>
      tf.grad((u: tf.Tensor) => tf.sum(tf.grad((w: tf.Tensor) => tf.sum(tf.pow(w, 3)))(u)))(v),
    );
  const early = second(true);
  const own = second(false);
  assert.deepEqual(Array.from(early.dataSync()), [3, -6, 12]);
  assert.deepEqual(Array.from(own.dataSync()), Array.from(early.dataSync()));
  tf.dispose([v, early, own]);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
});
