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
import { BATCH_NORM_TRAIN, setFastBatchNormTraining } from '../../src/engine/batchNormTrain.ts';
import { EPS, initBnTests, maxRel, uniformValues } from './bnHelpers.ts';
import { sqDevSumRowsModule, sumRowsModule } from '../../src/engine/kernels/winograd.ts';
import { makeDataset } from '../../src/data/dataset.ts';
import { buildArchitecture } from '../../src/models/architectures/index.ts';
import { makeClassifier } from '../../src/models/classifier.ts';
import { plainPreprocess } from '../../src/models/card.ts';
import { train } from '../../src/train/loop.ts';
import { crossEntropyObjective } from '../../src/train/objectives/crossEntropy.ts';

await initBnTests();

const vals = uniformValues(7);

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

const NAMES = ['x', 'gamma', 'beta'];

/** The wasm backend's heap size in bytes. */
function heapBytes(): number {
  const mod = (
    tf.backend() as unknown as {
      wasm: { wasmMemory?: WebAssembly.Memory; asm?: { memory?: WebAssembly.Memory } };
    }
  ).wasm;
  const memory = mod.asm?.memory ?? mod.wasmMemory;
  assert.ok(memory instanceof WebAssembly.Memory, "the wasm backend's memory is visible");
  return memory.buffer.byteLength;
}

// A training run went NaN at its first backward pass with the fast path: the gradient kernel read
// scale and the gradients reaching mean and variance through views of the wasm heap taken before it
// allocated dx, and when that allocation grew the heap the views were detached (length 0), so every
// dx of the layer was NaN. An x larger than the whole heap makes the kernel's dx grow it for certain
// (first in the file, while the heap is small). Checked against the formula in float64 on the first
// and last rows (reading all of dx would take seconds).
test('the gradient kernel is right when its allocations grow the wasm heap', async () => {
  await tf.setBackend('wasm');
  const k = 8;
  const rows = Math.ceil(heapBytes() / (4 * k)) + 1;
  const wave = (f: number, a: number, b: number) => {
    const v = new Float32Array(rows * k);
    for (let i = 0; i < v.length; i++) v[i] = a * (((i * f) % 1009) / 504.5 - 1) + b;
    return v;
  };
  const xs = wave(7919, 2, 0.5);
  const dys = wave(6007, 1, 0);
  const [m, v, s, gm, gv] = [vals(k, -0.5, 0.5), vals(k, 0.5, 2), vals(k, 0.5, 1.5), vals(k), vals(k)];
  const inputs = {
    x: tf.tensor(xs, [rows, k]),
    dy: tf.tensor(dys, [rows, k]),
    ...Object.fromEntries(
      ['mean', 'variance', 'scale', 'gMean', 'gVariance'].map((n, i) => [
        n,
        tf.tensor1d([m, v, s, gm, gv][i]),
      ]),
    ),
  };
  const h = heapBytes();
  const out = tf
    .engine()
    .runKernel('AdvlensBatchNormTrainGrad', inputs, { varianceEpsilon: EPS }) as tf.Tensor[];
  assert.ok(heapBytes() > h, 'the kernel grew the heap (else this test tests nothing)');
  const edge = 16;
  const [head, tail] = [0, rows - edge].map((r0) =>
    tf.tidy(() => tf.slice(out[0], [r0, 0], [edge, k]).dataSync()),
  );
  const [dScale, dOffset] = out.slice(1).map((t) => t.dataSync());
  tf.dispose([...out, ...Object.values(inputs)]);
  // The formula in float64 (the module header's); each result may differ by float32 roundings of
  // its terms (the kernel's differences and products are float32), so the tolerance is a few units
  // in the last place of the same formula over the terms' magnitudes.
  const sums = Array.from({ length: 6 }, () => new Float64Array(k)); // S1, S2, S0 and their |terms|
  for (let i = 0; i < xs.length; i++) {
    const c = i % k;
    const [d, u] = [dys[i], xs[i] - m[c]];
    sums[0][c] += d;
    sums[1][c] += d * u;
    sums[2][c] += u;
    sums[3][c] += Math.abs(d);
    sums[4][c] += Math.abs(d * u);
    sums[5][c] += Math.abs(u);
  }
  const M = rows;
  const near = (got: number, want: number, size: number, what: string) =>
    assert.ok(Math.abs(got - want) <= 1e-6 * size, `${what}: ${got} vs ${want} (size ${size})`);
  for (let c = 0; c < k; c++) {
    const r = 1 / Math.sqrt(v[c] + EPS);
    const [s1, s2, s0, a1, a2, a0] = sums.map((t) => t[c]);
    const dVar = -0.5 * r ** 3 * s[c] * s2 + gv[c];
    const dMean = -r * s[c] * s1 + gm[c];
    const dVarSize = 0.5 * r ** 3 * Math.abs(s[c]) * a2 + Math.abs(gv[c]);
    const dMeanSize = r * Math.abs(s[c]) * a1 + Math.abs(gm[c]);
    for (const [got, r0] of [
      [head, 0],
      [tail, rows - edge],
    ] as const) {
      for (let j = 0; j < edge; j++) {
        const i = (r0 + j) * k + c;
        const u = xs[i] - m[c];
        const want = dys[i] * r * s[c] + (u * 2 * dVar) / M + (dMean - (2 * dVar * s0) / M) / M;
        const size =
          Math.abs(dys[i] * r * s[c]) +
          (Math.abs(u) * 2 * dVarSize) / M +
          (dMeanSize + (2 * dVarSize * a0) / M) / M;
        near(got[j * k + c], want, size, `dx[${r0 + j}, ${c}]`);
      }
    }
    near(dScale[c], r * s2, r * a2, `dscale[${c}]`);
    near(dOffset[c], s1, a1, `doffset[${c}]`);
  }
});

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

test('train() on a small ResNet: the same per-step losses and moving statistics with the kernel as with tfjs-layers', async () => {
  await tf.setBackend('wasm');
  const shape: [number, number, number] = [16, 16, 3];
  const n = 32;
  const px = vals(n * 16 * 16 * 3, 0, 1);
  const data = makeDataset({
    name: 'bn-train-random',
    source: 'test',
    classNames: ['0', '1', '2', '3'],
    shape,
    pixels: px,
    labels: Int32Array.from({ length: n }, (_, i) => (i * 7) % 4),
  });
  const run = async (fast: boolean) => {
    setFastBatchNormTraining(fast);
    const c = makeClassifier(buildArchitecture('resnet', shape, 4, 3), {
      format: 'advlens-card/1',
      name: 'tiny-resnet',
      architecture: 'resnet',
      modelType: 'layers',
      preprocess: plainPreprocess(16, 16, 3),
      labels: data.classNames,
      output: 'logits',
      versions: {},
      created: '',
    });
    const losses: number[] = [];
    // Counts the kernel's runs (tf.profile does not follow train()'s awaits).
    const config = tf.getKernel(BATCH_NORM_TRAIN, 'wasm')!;
    const kernelFunc = config.kernelFunc;
    let kernels = 0;
    (config as { kernelFunc: tf.KernelFunc }).kernelFunc = (args) => (kernels++, kernelFunc(args));
    // (IS_TEST's per-kernel leak check trips on tfjs' own softmaxCrossEntropy custom gradient, which
    // keeps a saved tensor: off for train(), as in the training tests.)
    tf.env().set('IS_TEST', false);
    try {
      await train(c, data, {
        epochs: 1,
        seed: 1,
        optimizer: 'sgd',
        lr: 0.1,
        momentum: 0.9,
        schedule: { kind: 'constant' },
        augment: [],
        objective: crossEntropyObjective(),
        batchSize: 8,
        onProgress: (p) => losses.push(p.loss),
      });
    } finally {
      (config as { kernelFunc: tf.KernelFunc }).kernelFunc = kernelFunc;
      tf.env().set('IS_TEST', true);
    }
    const moving = (c.model as tfl.LayersModel).layers
      .filter((l) => l.getClassName() === 'BatchNormalization')
      .flatMap((l) =>
        l
          .getWeights()
          .slice(2)
          .map((t) => Array.from(t.dataSync())),
      )
      .flat();
    c.model.dispose();
    setFastBatchNormTraining(true);
    return { losses, kernels, moving };
  };
  const fast = await run(true);
  const stock = await run(false);
  assert.ok(
    fast.kernels > 0 && stock.kernels === 0,
    `kernel runs: ${fast.kernels} fast, ${stock.kernels} stock`,
  );
  assert.equal(fast.losses.length, 4);
  assert.ok(fast.losses.every(Number.isFinite));
  // The first step's loss is the same bits (the forward is); later ones differ by the gradients'
  // float rounding carried through the updates.
  assert.equal(fast.losses[0], stock.losses[0]);
  assert.ok(maxRel(fast.losses, stock.losses) < 1e-5, `losses ${fast.losses} vs ${stock.losses}`);
  assert.ok(
    maxRel(fast.moving, stock.moving) < 1e-4,
    `moving statistics: ${maxRel(fast.moving, stock.moving)}`,
  );
});

test('the row sums hand out their float64 accumulators: rounded once they are the float32 sums, and two halves add up to the whole', () => {
  const [rows, k] = [37, 8]; // not a multiple of the module's four rows
  const x = vals(rows * k, -3, 3);
  const m = vals(k, -1, 1);
  // Exact float64 references, each difference and square rounded to float32 as the module does.
  const exact = new Float64Array(k);
  const exactDev = new Float64Array(k);
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < k; j++) {
      exact[j] += x[r * k + j];
      const d = Math.fround(x[r * k + j] - m[j]);
      exactDev[j] += Math.fround(d * d);
    }
  const out = new Float32Array(k);
  const out64 = new Float64Array(k);
  sumRowsModule(x, k, out, out64);
  const dev = new Float32Array(k);
  const dev64 = new Float64Array(k);
  sqDevSumRowsModule(x, m, dev, dev64);
  for (let j = 0; j < k; j++) {
    // 37 float32 values of magnitude <= 3 sum in float64 to within 1e-13 of the exact sum.
    assert.ok(Math.abs(out64[j] - exact[j]) < 1e-13, `sum ${j}: ${out64[j]} vs ${exact[j]}`);
    assert.ok(Math.abs(dev64[j] - exactDev[j]) < 1e-12, `squared deviations ${j}`);
    assert.equal(Math.fround(out64[j]), out[j]);
    assert.equal(Math.fround(dev64[j]), dev[j]);
  }
  // What sharded batch norm does: the halves' float64 sums added, then rounded once, give the
  // whole's float32 sums (here bit for bit); rounding each half first need not.
  const half = 20 * k;
  const [a, b] = [new Float64Array(k), new Float64Array(k)];
  sumRowsModule(x.subarray(0, half), k, new Float32Array(k), a);
  sumRowsModule(x.subarray(half), k, new Float32Array(k), b);
  assert.deepEqual(
    Float32Array.from(a, (v, j) => v + b[j]),
    out,
  );
  assert.throws(() => sumRowsModule(x, k, out, new Float64Array(k + 1)), /whole number of rows/);
});
