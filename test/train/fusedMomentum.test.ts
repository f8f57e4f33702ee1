import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { fusedMomentumStep } from '../../src/train/fusedMomentum.ts';
import { addWeightDecay, setLearningRate } from '../../src/train/optimizer.ts';
import { createRng } from '../../src/engine/rng.ts';

await initNodeBackend('wasm');

const SHAPES: [string, number[]][] = [
  ['fm/conv/kernel', [3, 3, 4, 8]],
  ['fm/conv/bias', [8]],
  ['fm/bn/gamma', [8]],
  ['fm/dense/kernel', [32, 10]],
];

/** Values of every kind the update meets: ordinary, tiny (subnormal products), huge, signed zeros. */
function values(n: number, rng: ReturnType<typeof createRng>): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = rng.next();
    const kind = i % 11;
    out[i] =
      kind === 0
        ? 0
        : kind === 1
          ? -0
          : kind === 2
            ? (u - 0.5) * 1e-38
            : kind === 3
              ? (u - 0.5) * 1e30
              : (u - 0.5) * 2 * 10 ** Math.floor(rng.next() * 8 - 6);
  }
  return out;
}

/** The same variables twice (names suffixed), with the same starting values. */
function twoCopies(seed: number) {
  const rng = createRng(seed);
  const inits = SHAPES.map(([, shape]) => values(tf.util.sizeFromShape(shape), rng));
  const make = (suffix: string) =>
    SHAPES.map(([name, shape], k) =>
      tf.tidy(() => tf.variable(tf.tensor(inits[k], shape), true, `${name}${suffix}`)),
    );
  return { a: make('-a'), b: make('-b') };
}

const bits = (t: tf.Tensor) => Array.from(new Uint32Array((t.dataSync() as Float32Array).slice().buffer));

function accumulations(opt: tf.Optimizer): tf.Variable[] {
  return (opt as unknown as { accumulations: { variable: tf.Variable }[] }).accumulations.map(
    (a) => a.variable,
  );
}

test('fusedMomentumStep: the weights and accumulations of tfjs momentum, bit for bit, over steps with changing rates and weight decay', () => {
  const before = tf.memory().numTensors;
  const { a, b } = twoCopies(7);
  const optA: tf.Optimizer = tf.train.momentum(0.1, 0.9);
  const optB: tf.Optimizer = tf.train.momentum(0.1, 0.9);
  const rng = createRng(11);
  const wd = 5e-4;
  let fused = 0;
  for (let step = 0; step < 6; step++) {
    const lr = [0.1, 0.1, 0.05, 0.0123, 0.3, 1e-3][step];
    setLearningRate(optA, lr);
    setLearningRate(optB, lr);
    const gs = SHAPES.map(([, shape]) => values(tf.util.sizeFromShape(shape), rng));
    // tfjs: gradient tensors, weight decay, applyGradients.
    const grads: tf.NamedTensorMap = {};
    a.forEach((v, k) => (grads[v.name] = tf.tensor(gs[k], v.shape)));
    addWeightDecay(grads, a, wd);
    optA.applyGradients(grads);
    tf.dispose(Object.values(grads));
    // Fused from the first step on (it makes the zero accumulations tfjs makes at its first).
    if (fusedMomentumStep(optB, b, (k) => gs[k], wd)) fused++;
    else {
      const gb: tf.NamedTensorMap = {};
      b.forEach((v, k) => (gb[v.name] = tf.tensor(gs[k], v.shape)));
      addWeightDecay(gb, b, wd);
      optB.applyGradients(gb);
      tf.dispose(Object.values(gb));
    }
    a.forEach((v, k) => assert.deepEqual(bits(b[k]), bits(v), `step ${step}: ${SHAPES[k][0]}`));
    accumulations(optA).forEach((acc, k) =>
      assert.deepEqual(
        bits(accumulations(optB)[k]),
        bits(acc),
        `step ${step}: accumulation of ${SHAPES[k][0]}`,
      ),
    );
    assert.equal(optB.iterations, optA.iterations);
  }
  assert.equal(fused, 6, 'every step took the fused path');
  for (const o of [optA, optB]) {
    o.dispose();
    (o as unknown as { c: tf.Tensor }).c.dispose();
  }
  tf.dispose([...a, ...b]);
  assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
});

test('fusedMomentumStep changes nothing and returns false where it does not apply', async () => {
  const { a } = twoCopies(3);
  const g = (k: number) => new Float32Array(a[k].size).fill(0.5);
  const snapshot = () => a.map(bits);
  const start = snapshot();
  // Nesterov, Adam, plain SGD.
  const nesterov: tf.Optimizer = tf.train.momentum(0.1, 0.9, true);
  const adam: tf.Optimizer = tf.train.adam(0.01);
  const sgd: tf.Optimizer = tf.train.sgd(0.1);
  for (const o of [nesterov, adam, sgd]) {
    const grads: tf.NamedTensorMap = {};
    a.forEach((v, k) => (grads[v.name] = tf.zeros(v.shape)));
    o.applyGradients(grads); // zero gradients: the weights stay as they were
    tf.dispose(Object.values(grads));
    assert.equal(fusedMomentumStep(o, a, g, 0), false);
  }
  // Accumulations that do not match the variables (another model's optimiser).
  const other: tf.Optimizer = tf.train.momentum(0.1, 0.9);
  const one = [tf.variable(tf.zeros([5]), true, 'fm/other/kernel')];
  other.applyGradients({ [one[0].name]: tf.ones([5]) });
  assert.equal(fusedMomentumStep(other, a, g, 0), false);
  assert.deepEqual(snapshot(), start);
  for (const o of [nesterov, adam, sgd, other]) o.dispose();
  tf.dispose([...a, ...one]);
});
