/**
 * The scenario of test/engine/native.test.ts: one run that reaches every kernel of the project's C
 * sources (ResNet-20 and the small CNN: logits, input gradient, a PGD-7 training step through train();
 * flat backgrounds, an infinity; single ops for the rest), its outputs by name. Run as a script
 * (`node --import tsx test/engine/nativeScenario.ts`) it prints the SHA-1 of every output, both builds
 * (fused multiply-add and plain), with whichever kernels load (ADVLENS_NATIVE, ADVLENS_NATIVE_DIR).
 */
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { initNodeBackend } from '../../src/node/backend.ts';
import { setWinogradFma, winogradNative } from '../../src/engine/kernels/winograd.ts';
import { gaussNoise } from '../../src/engine/noise.ts';
import { lossGradient } from '../../src/attacks/loss.ts';
import { train } from '../../src/train/loop.ts';
import { makeObjective } from '../../src/train/objectives/index.ts';
import { makeDataset } from '../../src/data/dataset.ts';
import { cifarClassifier } from '../../bench/suite/models.ts';
import { buildArchitecture } from '../../src/models/architectures/index.ts';
import { makeClassifier } from '../../src/models/classifier.ts';
import { createRng } from '../../src/engine/rng.ts';

const rand = (seed: number, shape: number[], lo = -1, hi = 1) => {
  const rng = createRng(seed);
  return tf.tensor(
    Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => lo + (hi - lo) * rng.next()),
    shape,
  );
};

/** A classifier of the registry's `arch` for [h, w, c] inputs, seeded. */
function classifier(arch: 'resnet20' | 'small-cnn', shape: [number, number, number]) {
  if (arch === 'resnet20') return cifarClassifier('resnet20', 5);
  const model = buildArchitecture(arch, shape, 10, 5);
  return makeClassifier(model, {
    format: 'advlens-card/1',
    name: 'native-test',
    architecture: arch,
    modelType: 'layers',
    preprocess: {
      height: shape[0],
      width: shape[1],
      channels: shape[2] as 1 | 3,
      resize: 'fill',
      scale: [0, 1],
    },
    labels: Array.from({ length: 10 }, (_, i) => String(i)),
    output: 'logits',
    versions: {},
    created: new Date(0).toISOString(),
  });
}

/** Everything the scenario computes, as named float arrays. */
export async function scenario(): Promise<Map<string, Float32Array | Int32Array | Uint8Array>> {
  const out = new Map<string, Float32Array | Int32Array | Uint8Array>();
  const keep = (name: string, t: tf.Tensor) => {
    out.set(name, t.dataSync() as Float32Array);
    t.dispose();
  };
  for (const [arch, shape] of [
    ['resnet20', [32, 32, 3]],
    ['small-cnn', [28, 28, 1]],
  ] as const) {
    const c = classifier(arch, [...shape]);
    const B = 4;
    const x = rand(11, [B, ...shape], 0, 1) as tf.Tensor4D;
    const y = tf.tensor1d([1, 3, 5, 7], 'int32');
    keep(
      `${arch} logits`,
      tf.tidy(() => c.logits(x)),
    );
    keep(`${arch} input gradient`, lossGradient(c, x, y, false, 'ce'));
    const data = makeDataset({
      name: 'native-test',
      source: 'test',
      classNames: c.labels,
      shape: [...shape],
      pixels: x.dataSync() as Float32Array,
      labels: Int32Array.from([1, 3, 5, 7]),
    });
    const objective = makeObjective('pgd', {
      eps: 8 / 255,
      attackSteps: 7,
      attackStepSize: 2 / 255,
      epsRamp: [0, 0],
    });
    await train(c, data, {
      epochs: 1,
      seed: 3,
      optimizer: 'sgd',
      lr: 0.1,
      momentum: 0.9,
      schedule: { kind: 'constant' },
      augment: [],
      objective,
      batchSize: B,
    });
    const trained = (c.model as tfl.LayersModel).getWeights();
    trained.forEach((w: tf.Tensor, i: number) =>
      out.set(`${arch} trained weight ${i}`, w.dataSync() as Float32Array),
    );
    tf.dispose([x, y]);
    c.model.dispose();
  }
  // Single ops, with their gradients.
  const x = rand(21, [2, 9, 9, 8]);
  const r = rand(22, [2, 9, 9, 8]);
  for (const [name, wShape, stride] of [
    ['strided 3x3', [3, 3, 8, 16], 2],
    ['1x1', [1, 1, 8, 12], 1],
    ['one output channel', [3, 3, 8, 1], 1],
    ['5x5', [5, 5, 8, 8], 1],
  ] as const) {
    const w = rand(23, [...wShape]);
    const f = (xx: tf.Tensor4D, ww: tf.Tensor4D) => tf.conv2d(xx, ww, stride, 'same');
    keep(`${name} conv`, f(x as tf.Tensor4D, w as tf.Tensor4D));
    const g = tf.grads((xx: tf.Tensor, ww: tf.Tensor) =>
      tf.sum(tf.square(f(xx as tf.Tensor4D, ww as tf.Tensor4D))),
    );
    const [dx, dw] = g([x, w]);
    keep(`${name} dx`, dx);
    keep(`${name} dw`, dw);
    w.dispose();
  }
  // Flat backgrounds with a stroke (F(4x4)'s direct path for flat neighbourhoods, its tile tests),
  // 16 and 8 channels (the native build's 16-wide and 4-wide loops), and an image with an infinity
  // (refused by F(4x4), computed by F(2x2)).
  for (const [name, shape, k] of [
    ['flat 16', [4, 20, 20, 16], 16],
    ['flat 8', [4, 20, 20, 8], 24],
    ['flat 32', [2, 28, 28, 32], 32],
  ] as const) {
    const bg = tf.tidy(() => {
      const base = tf.fill([...shape], 0.25).bufferSync();
      const rng = createRng(41);
      for (let q = 0; q < 60; q++) base.set(rng.next(), 1, 5 + (q % 7), 3 + Math.floor(q / 7), q % shape[3]);
      return base.toTensor();
    });
    const wf = rand(42, [3, 3, shape[3], k]);
    keep(`${name} conv`, tf.conv2d(bg as tf.Tensor4D, wf as tf.Tensor4D, 1, 'same'));
    const [fdx, fdw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.square(tf.relu(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same')))),
    )([bg, wf]);
    keep(`${name} dx`, fdx);
    keep(`${name} dw`, fdw);
    tf.dispose([bg, wf]);
  }
  const withInf = tf.tidy(() => {
    const b = rand(43, [4, 16, 16, 16]).bufferSync();
    b.set(Infinity, 2, 3, 4, 5);
    return b.toTensor();
  });
  const wInf = rand(44, [3, 3, 16, 16]);
  keep('conv with an infinity', tf.conv2d(withInf as tf.Tensor4D, wInf as tf.Tensor4D, 1, 'same'));
  tf.dispose([withInf, wInf]);
  const grey = rand(24, [2, 10, 10, 1]);
  const wg = rand(25, [3, 3, 1, 8]);
  const [gdx, gdw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
    tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same'))),
  )([grey, wg]);
  keep('grey dx', gdx);
  keep('grey dw', gdw);
  const pool = (a: tf.Tensor) => tf.maxPool(a as tf.Tensor4D, 2, 2, 'same');
  keep('max pool', pool(x));
  keep('max pool grad', tf.grad((a: tf.Tensor) => tf.sum(tf.mul(pool(a), pool(r))))(x));
  keep('leaky relu', tf.leakyRelu(x, 0.1));
  keep('leaky relu grad', tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.leakyRelu(a, 0.1), r)))(x));
  keep('relu grad', tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.relu(a), r)))(x));
  const m = rand(26, [8]),
    v = rand(27, [8], 0.5, 2),
    off = rand(28, [8]),
    sc = rand(29, [8]);
  const bn = (a: tf.Tensor) => tf.batchNorm(a, m, v, off, sc, 1e-3);
  keep('batch norm', bn(x));
  keep('batch norm grad', tf.grad((a: tf.Tensor) => tf.sum(tf.mul(bn(a), r)))(x));
  keep('bias add', tf.add(x, off));
  keep('last-axis multiply', tf.mul(x, sc));
  keep('last-axis subtract, vector first', tf.sub(m, x));
  keep('last-axis divide', tf.div(x, v));
  keep('sum rows', tf.sum(x, [0, 1, 2]));
  keep('greater', tf.cast(tf.greater(x, r), 'float32'));
  keep('greater scalar', tf.cast(tf.greater(x, 0.25), 'float32'));
  keep('where', tf.where(tf.greater(x, r), x, r));
  keep('maximum', tf.maximum(x, r));
  keep('minimum', tf.minimum(x, 0.5));
  keep('sign', tf.sign(x));
  keep('mean middle', tf.mean(x, [1, 2]));
  const noise = new Float32Array(1000);
  gaussNoise(noise, 31, 0.15);
  out.set('gauss noise', noise);
  tf.dispose([x, r, grey, wg, m, v, off, sc]);
  return out;
}

/** SHA-1 of every output of the scenario, in both builds (keys 'fma NAME' and 'plain NAME'). */
export async function scenarioHashes(): Promise<Record<string, string>> {
  const res: Record<string, string> = {};
  for (const fma of [true, false]) {
    setWinogradFma(fma);
    for (const [k, v] of await scenario())
      res[`${fma ? 'fma' : 'plain'} ${k}`] = crypto
        .createHash('sha1')
        .update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength))
        .digest('hex');
  }
  setWinogradFma(true);
  return res;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await initNodeBackend('wasm');
  process.stdout.write(JSON.stringify({ native: winogradNative(), hashes: await scenarioHashes() }) + '\n');
}
