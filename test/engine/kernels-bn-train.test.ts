/**
 * Training-mode batch norm as one kernel (engine/batchNormTrain.ts, `AdvlensBatchNormTrain` and its
 * gradient): the patched tfjs-layers layer against the unpatched one on wasm (output, batch moments
 * and moving averages bit for bit; gradients to float rounding), against the cpu backend (tfjs'
 * own kernels), and against a float64 loop over the definition; the kernel's gradient with
 * gradients reaching its mean and variance outputs against tfjs' moments + batchNorm; a
 * second-order gradient; the fallbacks; and leaks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initNodeBackend } from '../../src/node/backend.ts';
import { BATCH_NORM_TRAIN, setFastBatchNormTraining } from '../../src/engine/batchNormTrain.ts';
import { createRng } from '../../src/engine/rng.ts';

await initNodeBackend('wasm');
tf.env().set('IS_TEST', true);

const rng = createRng(7);
const vals = (n: number, lo = -1, hi = 1) =>
  Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.next());
const EPS = 1e-3;

interface Case {
  shape: number[];
  x: Float32Array;
  dy: Float32Array;
  gamma: Float32Array;
  beta: Float32Array;
  movingMean: Float32Array;
  movingVar: Float32Array;
}

function makeCase(shape: number[]): Case {
  const k = shape[shape.length - 1];
  const n = shape.reduce((a, b) => a * b, 1);
  // An offset mean per channel, so that x - mean matters.
  const x = vals(n, -1, 1).map((v, i) => v * 1.7 + 0.4 * (i % k));
  return {
    shape,
    x,
    dy: vals(n),
    gamma: vals(k, 0.5, 1.5),
    beta: vals(k, -0.5, 0.5),
    movingMean: vals(k, -0.2, 0.2),
    movingVar: vals(k, 0.5, 1.5),
  };
}

interface Run {
  y: Float32Array;
  movingMean: Float32Array;
  movingVar: Float32Array;
  /** d sum(dy * y) / d [x, gamma, beta]. */
  grads: Float32Array[];
  leaked: number;
}

/** A BatchNormalization layer in training mode on `backend`, patched (`fast`) or not. */
async function run(backend: string, c: Case, fast: boolean): Promise<Run> {
  await tf.setBackend(backend);
  setFastBatchNormTraining(fast);
  try {
    const k = c.shape[c.shape.length - 1];
    const layer = tfl.layers.batchNormalization({ axis: -1, epsilon: EPS, momentum: 0.9 });
    layer.build(c.shape);
    layer.setWeights([c.gamma, c.beta, c.movingMean, c.movingVar].map((v) => tf.tensor1d(v)));
    const x = tf.tensor(c.x, c.shape);
    const dy = tf.tensor(c.dy, c.shape);
    const [gammaVar, betaVar] = layer.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
    const before = tf.memory().numTensors;
    const f = (xx: tf.Tensor) =>
      tf.sum(tf.mul(layer.apply(xx, { training: true }) as tf.Tensor, dy)) as tf.Scalar;
    // The forward alone (moving averages updated once), then the gradients (updated again).
    const y = tf.tidy(() => Float32Array.from((layer.apply(x, { training: true }) as tf.Tensor).dataSync()));
    // (getWeights returns the variables themselves: read, not disposed.)
    const [movingMean, movingVar] = layer
      .getWeights()
      .slice(2)
      .map((t) => Float32Array.from(t.dataSync()));
    const prof = await tf.profile(() => tf.dispose(tf.grad(f)(x)));
    const names = prof.kernels.map((kk) => kk.name);
    const ours = fast && backend === 'wasm' && k % 4 === 0;
    assert.equal(names.includes(BATCH_NORM_TRAIN), ours, `${BATCH_NORM_TRAIN} ran: ${ours}`);
    assert.equal(names.includes('AdvlensBatchNormTrainGrad'), ours);
    assert.equal(names.includes('Square'), !ours, "tfjs' moments ran instead");
    const gx = tf.grad(f)(x);
    const { value, grads } = tf.variableGrads(() => f(x), [gammaVar, betaVar]);
    const out = [gx, grads[gammaVar.name], grads[betaVar.name]].map((t) => Float32Array.from(t.dataSync()));
    tf.dispose([value, gx, ...Object.values(grads)]);
    const leaked = tf.memory().numTensors - before;
    tf.dispose([x, dy]);
    disposeLayer(layer);
    assert.equal(out[0].length, c.x.length);
    assert.equal(out[1].length, k);
    return { y, movingMean, movingVar, grads: out, leaked };
  } finally {
    setFastBatchNormTraining(true);
    await tf.setBackend('wasm');
  }
}

/** The definition in float64: batch moments, y, and the gradients of sum(dy * y). */
function direct(c: Case): { y: Float64Array; grads: Float64Array[] } {
  const k = c.gamma.length;
  const rows = c.x.length / k;
  const mean = new Float64Array(k);
  const v = new Float64Array(k);
  for (let i = 0; i < c.x.length; i++) mean[i % k] += c.x[i] / rows;
  for (let i = 0; i < c.x.length; i++) v[i % k] += (c.x[i] - mean[i % k]) ** 2 / rows;
  const y = new Float64Array(c.x.length);
  const s1 = new Float64Array(k);
  const s2 = new Float64Array(k);
  for (let i = 0; i < c.x.length; i++) {
    const j = i % k;
    const xh = (c.x[i] - mean[j]) / Math.sqrt(v[j] + EPS);
    y[i] = c.gamma[j] * xh + c.beta[j];
    s1[j] += c.dy[i];
    s2[j] += c.dy[i] * xh;
  }
  const dx = new Float64Array(c.x.length);
  for (let i = 0; i < c.x.length; i++) {
    const j = i % k;
    const xh = (c.x[i] - mean[j]) / Math.sqrt(v[j] + EPS);
    dx[i] = ((c.gamma[j] / Math.sqrt(v[j] + EPS)) * (rows * c.dy[i] - s1[j] - xh * s2[j])) / rows;
  }
  return { y, grads: [dx, s2, s1] };
}

/** Frees a layer used only eagerly (tfjs-layers' dispose wants a layer called on symbolic inputs). */
function disposeLayer(layer: tfl.layers.Layer): void {
  for (const w of layer.weights) w.dispose();
}

function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  assert.ok(m > 0);
  return d / m;
}

const NAMES = ['x', 'gamma', 'beta'];

test('training-mode batch norm: the same bits forward, gradients to float rounding of tfjs, cpu and float64', async () => {
  const c = makeCase([4, 6, 5, 16]);
  const kernelsBefore = tf.engine().backendName === 'wasm';
  assert.ok(kernelsBefore);
  const fast = await run('wasm', c, true);
  const stock = await run('wasm', c, false);
  const cpu = await run('cpu', c, false);
  const ref = direct(c);
  assert.deepEqual(fast.y, stock.y, 'y: the same bits as moments + batchNorm on wasm');
  assert.deepEqual(fast.movingMean, stock.movingMean, 'moving mean: the same bits');
  assert.deepEqual(fast.movingVar, stock.movingVar, 'moving variance: the same bits');
  assert.ok(maxRel(fast.y, ref.y) < 1e-6, `y vs float64: ${maxRel(fast.y, ref.y)}`);
  assert.ok(maxRel(fast.y, cpu.y) < 1e-5, `y vs cpu: ${maxRel(fast.y, cpu.y)}`);
  for (let i = 0; i < 3; i++) {
    assert.ok(
      maxRel(fast.grads[i], ref.grads[i]) < 1e-5,
      `${NAMES[i]} vs float64: ${maxRel(fast.grads[i], ref.grads[i])}`,
    );
    assert.ok(
      maxRel(fast.grads[i], stock.grads[i]) < 1e-5,
      `${NAMES[i]} vs unpatched: ${maxRel(fast.grads[i], stock.grads[i])}`,
    );
    assert.ok(
      maxRel(fast.grads[i], cpu.grads[i]) < 1e-5,
      `${NAMES[i]} vs cpu: ${maxRel(fast.grads[i], cpu.grads[i])}`,
    );
    // The float64 reference separates the two: the fused gradient is no further from it than tfjs'.
    assert.ok(
      maxRel(fast.grads[i], ref.grads[i]) <= 2 * maxRel(stock.grads[i], ref.grads[i]) + 1e-7,
      NAMES[i],
    );
  }
  assert.equal(fast.leaked, 0, 'no tensors left behind (patched)');
  assert.equal(stock.leaked, 0, 'no tensors left behind (unpatched)');
});

test("the kernel's gradient with gradients reaching its mean and variance equals tfjs' moments + batchNorm", async () => {
  const shape = [3, 5, 4, 8];
  const c = makeCase(shape);
  const a = vals(8);
  const b = vals(8);
  const grads = async (backend: string) => {
    await tf.setBackend(backend);
    const x = tf.tensor(c.x, shape);
    const dy = tf.tensor(c.dy, shape);
    const [gamma, beta, ta, tb] = [c.gamma, c.beta, a, b].map((v) => tf.tensor1d(v));
    const f = (xx: tf.Tensor, g: tf.Tensor, o: tf.Tensor) => {
      let y: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor;
      if (backend === 'wasm') {
        [y, mean, variance] = tf
          .engine()
          .runKernel(
            BATCH_NORM_TRAIN,
            { x: xx, scale: g, offset: o },
            { varianceEpsilon: EPS },
          ) as tf.Tensor[];
      } else {
        ({ mean, variance } = tf.moments(xx, [0, 1, 2]));
        y = tf.batchNorm(xx, mean, variance, o as tf.Tensor1D, g as tf.Tensor1D, EPS);
      }
      return tf.addN([
        tf.sum(tf.mul(y, dy)),
        tf.sum(tf.mul(mean, ta)),
        tf.sum(tf.mul(variance, tb)),
      ]) as tf.Scalar;
    };
    const g = tf.grads(f)([x, gamma, beta]);
    const out = g.map((t) => Float32Array.from(t.dataSync()));
    tf.dispose([x, dy, gamma, beta, ta, tb, ...g]);
    await tf.setBackend('wasm');
    return out;
  };
  const w = await grads('wasm');
  const cpu = await grads('cpu');
  for (let i = 0; i < 3; i++) assert.ok(maxRel(w[i], cpu[i]) < 1e-5, `${NAMES[i]}: ${maxRel(w[i], cpu[i])}`);
});

test('a second-order gradient through a training-mode layer (outer tape) equals cpu', async () => {
  const c = makeCase([2, 4, 4, 8]);
  const second = async (backend: string, fast = true) => {
    await tf.setBackend(backend);
    setFastBatchNormTraining(fast);
    const layer = tfl.layers.batchNormalization({ axis: -1, epsilon: EPS });
    layer.build(c.shape);
    layer.setWeights([c.gamma, c.beta, c.movingMean, c.movingVar].map((v) => tf.tensor1d(v)));
    const x = tf.tensor(c.x, c.shape);
    const w = tf.tensor(c.dy, c.shape);
    // d/dx of sum((d/dx sum(w * bn(x)^2))^2), as an input-gradient-norm objective differentiates.
    const inner = tf.grad((xx: tf.Tensor) =>
      tf.sum(tf.mul(tf.square(layer.apply(xx, { training: true }) as tf.Tensor), w)),
    );
    const g = tf.grad((xx: tf.Tensor) => tf.sum(tf.square(inner(xx))))(x);
    const out = Float32Array.from(g.dataSync());
    tf.dispose([x, w, g]);
    disposeLayer(layer);
    setFastBatchNormTraining(true);
    await tf.setBackend('wasm');
    return out;
  };
  const w = await second('wasm');
  const stock = await second('wasm', false);
  const cpu = await second('cpu');
  assert.ok(maxRel(stock, cpu) < 1e-4, `unpatched vs cpu: relative difference ${maxRel(stock, cpu)}`);
  assert.ok(maxRel(w, cpu) < 1e-4, `relative difference ${maxRel(w, cpu)}`);
});

test('channels not a multiple of 4 take the unpatched layer', async () => {
  const c = makeCase([2, 3, 3, 6]);
  const fast = await run('wasm', c, true);
  const stock = await run('wasm', c, false);
  assert.deepEqual(fast.y, stock.y);
  for (let i = 0; i < 3; i++) assert.deepEqual(fast.grads[i], stock.grads[i], NAMES[i]);
});

test('1,000 patched training-mode gradients leave no tensors behind', async () => {
  await tf.setBackend('wasm');
  const layer = tfl.layers.batchNormalization({ axis: -1 });
  const x = tf.randomUniform([2, 4, 4, 8], -1, 1, 'float32', 5);
  layer.build(x.shape);
  const vars = layer.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  const step = () => {
    const { value, grads } = tf.variableGrads(
      () => tf.sum(tf.relu(layer.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar,
      vars,
    );
    tf.dispose([value, ...Object.values(grads)]);
  };
  step();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 1000; i++) step();
  assert.equal(tf.memory().numTensors, before);
  tf.dispose(x);
  disposeLayer(layer);
});
