/**
 * Batch norm's one-pass gradient (engine/batchNormGrad.ts, `AdvlensBatchNormGrad`) against the cpu
 * backend's gradient (tfjs' formula, float32 kernels) and a direct float64 loop over the definition:
 * each of the five derivatives (the kernel also without a scale); the fallbacks
 * (channels not a multiple of 4, a gradient of the gradient) and leaks; an input gradient computes dx
 * alone (the same bits), a parameter gradient the full pass.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { winogradCalls } from '../../src/engine/kernels/winograd.ts';
import { BATCH_NORM_GRAD, batchNormGradDxOnlyCalls } from '../../src/engine/batchNormGrad.ts';
import { EPS, initBnTests, maxRel, uniformValues } from './bnHelpers.ts';

await initBnTests();

const vals = uniformValues(99);

interface Case {
  shape: number[];
  x: Float32Array;
  dy: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
  scale: Float32Array | null;
}

function makeCase(shape: number[], withScale: boolean): Case {
  const k = shape[shape.length - 1];
  const n = shape.reduce((a, b) => a * b, 1);
  return {
    shape,
    x: vals(n),
    dy: vals(n),
    mean: vals(k, -0.3, 0.3),
    variance: vals(k, 0.05, 2),
    scale: withScale ? vals(k, 0.5, 1.5) : null,
  };
}

/** [dx, dmean, dvariance, dscale, doffset] of sum(dy * batchNorm(x, ...)) on `backend`. */
async function grads(backend: string, c: Case): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const k = c.mean.length;
  const x = tf.tensor(c.x, c.shape);
  const dy = tf.tensor(c.dy, c.shape);
  const mean = tf.tensor1d(c.mean);
  const variance = tf.tensor1d(c.variance);
  const offset = tf.zeros([k]);
  const scale = c.scale ? tf.tensor1d(c.scale) : tf.ones([k]);
  const f = (xx: tf.Tensor, m: tf.Tensor, v: tf.Tensor, s: tf.Tensor, o: tf.Tensor) =>
    tf.sum(
      tf.mul(
        tf.batchNorm(
          xx,
          m as tf.Tensor1D,
          v as tf.Tensor1D,
          o as tf.Tensor1D,
          c.scale ? (s as tf.Tensor1D) : undefined,
          EPS,
        ),
        dy,
      ),
    ) as tf.Scalar;
  const before = tf.memory().numTensors;
  const g = tf.grads(f)([x, mean, variance, scale, offset]);
  assert.equal(tf.memory().numTensors, before + 5, `${backend}: the gradients and nothing else`);
  const out = g.map((t) => Float32Array.from(t.dataSync()));
  tf.dispose([x, dy, mean, variance, offset, scale, ...g]);
  await tf.setBackend('wasm');
  return out;
}

/** The definition in float64: dx = dy s r, dmean = -sum dy s r, dvar = -0.5 r^3 sum dy s (x - m), ... */
function direct(c: Case): Float64Array[] {
  const k = c.mean.length;
  const rows = c.x.length / k;
  const out = [new Float64Array(c.x.length), ...[0, 1, 2, 3].map(() => new Float64Array(k))];
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < k; j++) {
      const s = c.scale ? c.scale[j] : 1;
      const r = 1 / Math.sqrt(c.variance[j] + EPS);
      const d = c.dy[i * k + j];
      const xm = c.x[i * k + j] - c.mean[j];
      out[0][i * k + j] = d * s * r;
      out[1][j] -= d * s * r;
      out[2][j] += -0.5 * r * r * r * d * s * xm;
      out[3][j] += d * xm * r;
      out[4][j] += d;
    }
  return out;
}

const NAMES = ['x', 'mean', 'variance', 'scale', 'offset'];

test("batch norm's gradient equals cpu and the float64 definition", async () => {
  const c = makeCase([3, 7, 5, 16], true);
  const calls = winogradCalls();
  const w = await grads('wasm', c);
  assert.ok(winogradCalls() > calls, 'the module ran');
  const cpu = await grads('cpu', c);
  const ref = direct(c);
  for (let i = 0; i < 5; i++) {
    assert.ok(maxRel(w[i], ref[i]) < 1e-5, `${NAMES[i]} vs float64: ${maxRel(w[i], ref[i])}`);
    assert.ok(maxRel(w[i], cpu[i]) < 1e-4, `${NAMES[i]} vs cpu: ${maxRel(w[i], cpu[i])}`);
  }
});

// (tfjs 4.22 cannot record batchNorm without a scale for a gradient: it clones the absent input.)
test('the kernel without a scale (scale 1) equals the float64 definition', async () => {
  await tf.setBackend('wasm');
  const c = makeCase([2, 5, 3, 8], false);
  const ins = {
    x: tf.tensor(c.x, c.shape),
    dy: tf.tensor(c.dy, c.shape),
    mean: tf.tensor1d(c.mean),
    variance: tf.tensor1d(c.variance),
  };
  const out = tf.engine().runKernel(BATCH_NORM_GRAD, ins, { varianceEpsilon: EPS }) as tf.Tensor[];
  const ref = direct(c);
  assert.deepEqual(out[0].shape, c.shape);
  for (let i = 0; i < 5; i++) {
    const v = out[i].dataSync();
    assert.ok(maxRel(v, ref[i]) < 1e-5, `${NAMES[i]} vs float64: ${maxRel(v, ref[i])}`);
  }
  tf.dispose([...out, ...Object.values(ins)]);
});

test('channels not a multiple of 4 take tfjs gradient, with the same values', async () => {
  const c = makeCase([2, 4, 3, 6], true);
  const w = await grads('wasm', c);
  const ref = direct(c);
  for (let i = 0; i < 5; i++) assert.ok(maxRel(w[i], ref[i]) < 1e-5, NAMES[i]);
});

test("a gradient of batch norm's gradient (outer tape recording) takes tfjs' formula and equals cpu", async () => {
  const c = makeCase([2, 3, 3, 8], true);
  const second = async (backend: string) => {
    await tf.setBackend(backend);
    const x = tf.tensor(c.x, c.shape);
    const mean = tf.tensor1d(c.mean);
    const variance = tf.tensor1d(c.variance);
    const scale = tf.tensor1d(c.scale!);
    const offset = tf.tensor1d(c.mean);
    // d/dx of sum((d/dx sum(batchNorm(x)^2))^2): differentiates the gradient of FusedBatchNorm.
    const inner = tf.grad((xx: tf.Tensor) =>
      tf.sum(
        tf.square(
          tf.batchNorm(
            xx,
            mean as tf.Tensor1D,
            variance as tf.Tensor1D,
            offset as tf.Tensor1D,
            scale as tf.Tensor1D,
            EPS,
          ),
        ),
      ),
    );
    const g = tf.grad((xx: tf.Tensor) => tf.sum(tf.square(inner(xx))))(x);
    const out = Float32Array.from(g.dataSync());
    tf.dispose([x, mean, variance, scale, offset, g]);
    await tf.setBackend('wasm');
    return out;
  };
  const w = await second('wasm');
  const cpu = await second('cpu');
  assert.ok(maxRel(w, cpu) < 1e-4, `relative difference ${maxRel(w, cpu)}`);
});

test('a training-mode gradient through moments and batch norm leaves no tensors or buffers behind', async () => {
  await tf.setBackend('wasm');
  const backend = tf.backend();
  const x = tf.randomUniform([4, 6, 6, 8], -1, 1, 'float32', 3);
  const gamma = tf.ones([8]);
  const beta = tf.zeros([8]);
  const f = (xx: tf.Tensor, g: tf.Tensor) => {
    const { mean, variance } = tf.moments(xx, [0, 1, 2]);
    return tf.sum(
      tf.relu(tf.batchNorm(xx, mean, variance, beta as tf.Tensor1D, g as tf.Tensor1D, EPS)),
    ) as tf.Scalar;
  };
  tf.dispose(tf.grads(f)([x, gamma])); // warm-up
  const tensors = tf.memory().numTensors;
  const buffers = backend.numDataIds();
  // Only x's derivative asked for: the others the kernel made are disposed with the gradient.
  tf.dispose(tf.grad((xx: tf.Tensor) => f(xx, gamma))(x));
  tf.dispose(tf.grads(f)([x, gamma]));
  assert.equal(tf.memory().numTensors, tensors);
  assert.equal(backend.numDataIds(), buffers);
  tf.dispose([x, gamma, beta]);
});

test('an input gradient computes dx alone, bit for bit the full pass; parameter gradients keep the full pass', async () => {
  await tf.setBackend('wasm');
  const c = makeCase([3, 6, 5, 16], true);
  const k = c.mean.length;
  const x = tf.tensor(c.x, c.shape);
  const dy = tf.tensor(c.dy, c.shape);
  const mean = tf.tensor1d(c.mean);
  const variance = tf.tensor1d(c.variance);
  const scale = tf.tensor1d(c.scale!);
  const offset = tf.zeros([k]) as tf.Tensor1D;
  const loss = (xx: tf.Tensor, s: tf.Tensor = scale) =>
    tf.sum(tf.mul(tf.batchNorm(xx, mean, variance, offset, s as tf.Tensor1D, EPS), dy)) as tf.Scalar;
  // The gradient with respect to x alone: the dx-only pass runs, once.
  const before = batchNormGradDxOnlyCalls();
  const tensors = tf.memory().numTensors;
  const gx = tf.grad((xx: tf.Tensor) => loss(xx))(x);
  assert.equal(batchNormGradDxOnlyCalls(), before + 1, 'the dx-only pass ran');
  assert.equal(tf.memory().numTensors, tensors + 1, 'the gradient and nothing else');
  // With the scale on the path too, the full pass runs, and its dx has the same bits.
  const [gx2, gs] = tf.grads((xx: tf.Tensor, s: tf.Tensor) => loss(xx, s))([x, scale]);
  assert.equal(batchNormGradDxOnlyCalls(), before + 1, 'the full pass for a parameter gradient');
  assert.deepEqual(Array.from(gx.dataSync()), Array.from(gx2.dataSync()));
  const ref = direct(c);
  assert.ok(maxRel(gx.dataSync(), ref[0]) < 1e-5, `dx vs float64: ${maxRel(gx.dataSync(), ref[0])}`);
  assert.ok(maxRel(gs.dataSync(), ref[3]) < 1e-5, `dscale vs float64: ${maxRel(gs.dataSync(), ref[3])}`);
  // The kernel's dx-only output equals its full output's dx bit for bit.
  const ins = { x, dy, mean, variance, scale };
  const full = tf.engine().runKernel(BATCH_NORM_GRAD, ins, { varianceEpsilon: EPS }) as tf.Tensor[];
  const only = tf
    .engine()
    .runKernel(BATCH_NORM_GRAD, ins, { varianceEpsilon: EPS, dxOnly: true }) as tf.Tensor[];
  assert.equal(only.length, 1);
  assert.deepEqual(Array.from(only[0].dataSync()), Array.from(full[0].dataSync()));
  tf.dispose([x, dy, mean, variance, scale, offset, gx, gx2, gs, ...full, ...only]);
});
