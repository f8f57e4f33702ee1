/**
 * Fused inference (src/models/fusedInference.ts, src/engine/convBnAct.ts): conv / batch norm (/ add)
 * (/ activation) chains as one kernel give the layer-by-layer run's logits and gradients bit for bit,
 * on ResNet-8, cifar-cnn and a darknet-like model (leaky ReLU, a biased 'valid' convolution, a
 * strided and a 1x1 one, a batch norm whose output goes to two layers); for the input gradient (the
 * one-pass route), the weights' gradients in inference mode and a gradient of the input gradient (the
 * general route), with no tensor left behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBnTests, uniformValues } from './bnHelpers.ts';
import { buildArchitecture } from '../../src/models/architectures/index.ts';
import { makeClassifier, type Classifier } from '../../src/models/classifier.ts';
import { plainPreprocess } from '../../src/models/card.ts';
import { fusedChains, fusedInference, setFusedInference } from '../../src/models/fusedInference.ts';
import { epilogueGradModule, epilogueModule } from '../../src/engine/kernels/winograd.ts';
import { CONV_BN_ACT, CONV_BN_ACT_GRAD } from '../../src/engine/convBnAct.ts';

await initBnTests();

/** Random batch-norm statistics and parameters (the initial ones are 0/1: too easy). */
function randomiseBatchNorms(m: tfl.LayersModel, seed: number): void {
  const u = uniformValues(seed);
  for (const l of m.layers) {
    if (l.getClassName() !== 'BatchNormalization') continue;
    const ws = l.getWeights();
    // gamma, beta, moving mean, moving variance (those present, in that order)
    l.setWeights(
      ws.map((w, i) => {
        const n = w.size;
        const last = i === ws.length - 1;
        return tf.tensor(last ? u(n, 0.2, 2) : u(n, -0.8, 1.2), w.shape);
      }),
    );
  }
}

function classifier(m: tfl.LayersModel, h: number, w: number): Classifier {
  return makeClassifier(m, {
    format: 'advlens-card/1',
    name: 'fused-test',
    architecture: 'custom',
    modelType: 'layers',
    preprocess: plainPreprocess(h, w, 3),
    labels: Array.from({ length: m.outputs[0].shape[1] as number }, (_, i) => String(i)),
    output: 'logits',
    versions: {},
    created: '',
  });
}

/** A darknet-like model: leaky ReLU chains, a biased 'valid' conv, a strided conv, a 1x1 conv, a shared batch norm output. */
function darknetLike(): tfl.LayersModel {
  const init = (s: number) => tfl.initializers.heNormal({ seed: s });
  const input = tfl.input({ shape: [16, 16, 3] });
  const cbl = (
    x: tfl.SymbolicTensor,
    f: number,
    k: number,
    s: number,
    name: string,
    bias = false,
    pad: 'same' | 'valid' = 'same',
  ) => {
    const c = tfl.layers
      .conv2d({
        filters: f,
        kernelSize: k,
        strides: s,
        padding: pad,
        useBias: bias,
        name: `${name}_conv`,
        kernelInitializer: init(f * k + s),
      })
      .apply(x);
    const b = tfl.layers.batchNormalization({ name: `${name}_bn` }).apply(c);
    return tfl.layers.leakyReLU({ alpha: 0.1, name: `${name}_leaky` }).apply(b) as tfl.SymbolicTensor;
  };
  let x = cbl(input, 8, 3, 1, 'a');
  x = tfl.layers.maxPooling2d({ poolSize: 2, strides: 2 }).apply(x) as tfl.SymbolicTensor;
  x = cbl(x, 16, 3, 1, 'b', true);
  x = cbl(x, 16, 1, 1, 'c');
  x = cbl(x, 16, 3, 2, 'd', false, 'valid');
  // A batch norm whose output goes to two layers: its conv cannot take it in.
  const c = tfl.layers
    .conv2d({ filters: 8, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: init(3) })
    .apply(x);
  const b = tfl.layers.batchNormalization({ name: 'shared_bn' }).apply(c) as tfl.SymbolicTensor;
  const r = tfl.layers.reLU().apply(b) as tfl.SymbolicTensor;
  const both = tfl.layers.concatenate().apply([b, r]) as tfl.SymbolicTensor;
  const pooled = tfl.layers.globalAveragePooling2d({}).apply(both) as tfl.SymbolicTensor;
  const out = tfl.layers
    .dense({ units: 5, kernelInitializer: tfl.initializers.glorotUniform({ seed: 4 }) })
    .apply(pooled) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
}

/** -sum(labels * log softmax(logits)): cross-entropy (tfjs' softmaxCrossEntropy trips IS_TEST's leak check). */
const ce = (labels: tf.Tensor, logits: tf.Tensor) => tf.neg(tf.sum(tf.mul(labels, tf.logSoftmax(logits))));

const bits = (t: tf.Tensor) => new Uint32Array(new Float32Array(t.dataSync()).buffer);

function assertSameBits(a: tf.Tensor, b: tf.Tensor, what: string): void {
  assert.deepEqual(a.shape, b.shape, `${what}: shapes`);
  const [x, y] = [bits(a), bits(b)];
  let diff = 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) diff++;
  assert.equal(diff, 0, `${what}: ${diff} of ${x.length} values differ from the layer-by-layer run`);
}

/** Runs f, counting the calls of a kernel on wasm. */
function counting<T>(kernelName: string, f: () => T): [T, number] {
  const config = tf.getKernel(kernelName, 'wasm')!;
  const kernelFunc = config.kernelFunc;
  let n = 0;
  (config as { kernelFunc: tf.KernelFunc }).kernelFunc = (args) => (n++, kernelFunc(args));
  try {
    return [f(), n];
  } finally {
    (config as { kernelFunc: tf.KernelFunc }).kernelFunc = kernelFunc;
  }
}

/** Runs f with fused inference on and off; returns both results. */
function both<T>(f: () => T): [T, T] {
  const was = setFusedInference(false);
  try {
    const plain = f();
    setFusedInference(true);
    return [f(), plain];
  } finally {
    setFusedInference(was);
  }
}

/**
 * A Sequential model: a batch norm without offset, a 5x5 convolution with a bias (the stock kernel,
 * then the epilogue as a pass of its own), leaky ReLU of slope 0.2. (Not a batch norm without
 * scale: tfjs 4.22's own FusedBatchNorm gradient saves its absent scale input and fails, so the
 * layer-by-layer run has no input gradient to compare with.)
 */
function sequentialOddities(): tfl.LayersModel {
  const init = (s: number) => tfl.initializers.heNormal({ seed: s });
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        inputShape: [16, 16, 3],
        filters: 8,
        kernelSize: 3,
        padding: 'same',
        useBias: false,
        kernelInitializer: init(1),
      }),
      tfl.layers.batchNormalization({ center: false }),
      tfl.layers.reLU(),
      tfl.layers.conv2d({
        filters: 8,
        kernelSize: 5,
        padding: 'same',
        kernelInitializer: init(2),
      }),
      tfl.layers.batchNormalization({ momentum: 0.9 }),
      tfl.layers.leakyReLU({ alpha: 0.2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 4, kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }) }),
    ],
  });
}

const CASES: { name: string; make: () => tfl.LayersModel; h: number; w: number; chains: number }[] = [
  // stem; stage 1: a, b (+ the identity residual); stages 2 and 3: a, b (+ add), proj
  { name: 'ResNet-8', make: () => buildArchitecture('resnet', [16, 16, 3], 6, 3), h: 16, w: 16, chains: 9 },
  {
    name: 'cifar-cnn',
    make: () => buildArchitecture('cifar-cnn', [32, 32, 3], 10, 2),
    h: 32,
    w: 32,
    chains: -1,
  },
  { name: 'darknet-like', make: darknetLike, h: 16, w: 16, chains: 5 },
  {
    name: 'a Sequential model (5x5 through the stock kernel, no offset)',
    make: sequentialOddities,
    h: 16,
    w: 16,
    chains: 2,
  },
];

for (const c of CASES) {
  test(`fused inference on ${c.name}: logits and input gradients equal the layer-by-layer run bit for bit, no tensor left`, () => {
    const m = c.make();
    randomiseBatchNorms(m, 7);
    const plan = fusedInference(m);
    assert.ok(plan, 'the model has chains to fuse');
    const convs = m.layers.filter((l) => l.getClassName() === 'Conv2D').length;
    assert.equal(fusedChains(plan), c.chains >= 0 ? c.chains : convs);
    const cl = classifier(m, c.h, c.w);
    const x = tf.tensor4d(uniformValues(11)(4 * c.h * c.w * 3, 0, 1), [4, c.h, c.w, 3]);
    const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), m.outputs[0].shape[1] as number);
    const loss = (v: tf.Tensor) => ce(labels, cl.logits(v as tf.Tensor4D));
    // The fused kernel and its gradient's pass run in the fused run, and only there.
    const runs: number[][] = [];
    const [[y1, g1], [y0, g0]] = both(() => {
      const [[res, grads], forwards] = counting(CONV_BN_ACT, () =>
        counting(CONV_BN_ACT_GRAD, (): [tf.Tensor, tf.Tensor] => [cl.logits(x), tf.grad(loss)(x)]),
      );
      runs.push([forwards, grads]);
      return res;
    });
    assert.deepEqual(runs, [
      [0, 0],
      [2 * fusedChains(plan), fusedChains(plan)],
    ]);
    assertSameBits(y1, y0, 'logits');
    assertSameBits(g1, g0, 'input gradient');
    assert.ok(tf.max(tf.abs(g0)).dataSync()[0] > 0, 'the gradient is not all zeros');
    tf.dispose([y1, g1, y0, g0]);
    // Once warmed up (the first runs leave lazily made constants), the fused run leaves nothing.
    const before = tf.memory().numTensors;
    tf.dispose([cl.logits(x), tf.grad(loss)(x)]);
    assert.equal(tf.memory().numTensors, before, 'tensors left behind');
    tf.dispose([x, labels]);
  });
}

test('fused inference: the weights gradients at inference (the general route) equal the layer-by-layer ones; under two tapes it stands aside', () => {
  const m = buildArchitecture('resnet', [16, 16, 3], 6, 5);
  randomiseBatchNorms(m, 9);
  const cl = classifier(m, 16, 16);
  const x = tf.tensor4d(uniformValues(12)(2 * 16 * 16 * 3, 0, 1), [2, 16, 16, 3]);
  const labels = tf.oneHot(tf.tensor1d([1, 4], 'int32'), 6);
  const vars = cl.trainableVariables();
  const loss = () => ce(labels, cl.logits(x)) as tf.Scalar;
  const grads = () => {
    const { value, grads: g } = tf.variableGrads(loss, vars);
    value.dispose();
    return g;
  };
  const [fused, plain] = both(grads);
  for (const v of vars) assertSameBits(fused[v.name], plain[v.name], `gradient of ${v.name}`);
  // The input gradient's squared norm, differentiated with respect to the input (an outer tape over the gradient).
  const norm = (v: tf.Tensor) =>
    tf.sum(tf.square(tf.grad((u: tf.Tensor) => ce(labels, cl.logits(u as tf.Tensor4D)))(v)));
  // Under two tapes the model runs layer by layer (fusedInferenceOn): no fused kernel runs. (tfjs 4.22
  // gives this nested tf.grad zeros on cpu too; the project's second-order objectives write their
  // input gradients so that an outer tape can follow them, src/train/objectives.)
  const [[h1, n1], [h0]] = both(() => counting(CONV_BN_ACT, () => tf.grad(norm)(x)));
  assert.equal(n1, 0, 'no fused kernel under two tapes');
  assertSameBits(h1, h0, 'gradient of the input gradient');
  tf.dispose([...Object.values(fused), ...Object.values(plain), h1, h0]);
  const before = tf.memory().numTensors;
  tf.dispose([...Object.values(grads()), tf.grad(norm)(x)]);
  assert.equal(tf.memory().numTensors, before, 'tensors left behind');
  tf.dispose([x, labels]);
});

test('the epilogue and its gradient pass equal the separate operations (hand-computed per value)', () => {
  const u = uniformValues(21);
  const k = 8;
  const pixels = 6;
  const y0 = u(pixels * k, -2, 2);
  const bias = u(k);
  const bn = { m: u(k), s: u(k, 0.5, 2), r: u(k, 0.5, 2), o: u(k) };
  const residual = u(pixels * k);
  const f = Math.fround;
  for (const act of ['linear', 'relu', 'leakyrelu'] as const) {
    const y = Float32Array.from(y0);
    epilogueModule(y, k, { bias, bn, residual, activation: act, alpha: 0.1 });
    const a = f(0.1);
    for (let i = 0; i < y.length; i++) {
      const c = i % k;
      let v = f(y0[i] + bias[c]);
      v = f(bn.o[c] + f(f(f(v - bn.m[c]) * bn.s[c]) / bn.r[c]));
      v = f(v + residual[i]);
      if (act === 'relu') v = v < 0 ? 0 : v;
      if (act === 'leakyrelu') v = v > 0 ? v : f(v * a);
      assert.equal(y[i], v, `${act}: value ${i}`);
    }
    const dy = u(pixels * k);
    const ri = u(k, 0.5, 2);
    const dz = new Float32Array(dy.length);
    const dv = new Float32Array(dy.length);
    epilogueGradModule(dy, y, ri, bn.s, act, 0.1, dz, dv);
    for (let i = 0; i < dy.length; i++) {
      const c = i % k;
      const g =
        act === 'relu'
          ? y[i] > 0
            ? dy[i]
            : f(dy[i] * 0)
          : act === 'leakyrelu'
            ? y[i] > 0
              ? dy[i]
              : f(dy[i] * a)
            : dy[i];
      assert.equal(dv[i], g, `${act}: dv ${i}`);
      assert.equal(dz[i], f(f(g * ri[c]) * bn.s[c]), `${act}: dz ${i}`);
    }
  }
});

test('fused taps: activations of named layers (inside and at the ends of chains) and the logits equal the layer-by-layer ones', () => {
  const m = buildArchitecture('resnet', [16, 16, 3], 6, 8);
  randomiseBatchNorms(m, 13);
  const cl = classifier(m, 16, 16);
  const x = tf.tensor4d(uniformValues(14)(3 * 16 * 16 * 3, 0, 1), [3, 16, 16, 3]);
  // A chain's end (a ReLU), a batch norm inside a chain (which then stops there), a convolution, the last block.
  const names = ['s2b1a_relu', 's1b1b_bn', 's3b1a_conv', 'features'];
  const runs: number[] = [];
  const [fused, plain] = both(() => {
    const [t, n] = counting(CONV_BN_ACT, () => cl.taps(x, names));
    runs.push(n);
    return t;
  });
  assert.equal(runs[0], 0);
  assert.ok(runs[1] > 0, 'the fused run ran fused chains');
  for (const n of names) assertSameBits(fused.activations[n], plain.activations[n], `activation ${n}`);
  assertSameBits(fused.logits, plain.logits, 'logits');
  tf.dispose([fused, plain, x] as unknown as tf.Tensor[]);
});

test('a dilated convolution is not fused (tfjs has no gradient for it)', () => {
  const m = tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        inputShape: [12, 12, 3],
        filters: 8,
        kernelSize: 3,
        padding: 'same',
        dilationRate: 2,
      }),
      tfl.layers.batchNormalization(),
      tfl.layers.reLU(),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 2 }),
    ],
  });
  assert.equal(fusedInference(m), null);
});
