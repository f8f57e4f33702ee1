/**
 * Whether F(4x4, 3x3) keeps max-pool ties (src/engine/kernels/winograd.ts, setWinogradF4): the input
 * gradient of the PyTorch cross-check's model and images (test/fixtures/torch-attacks.json: the MNIST
 * small CNN, eight test images) by F(2x2) only and with F(4x4) forced, each against the cpu backend:
 * max |difference| / max |gradient| and how many signs differ (FGSM moves exactly those pixels).
 * Before conv4 computed flat neighbourhoods directly: F(4x4) 9.4e-2 and 264 of 6,272 signs; since,
 * 9.3e-7 and none (F(2x2): 1.2e-6, none).
 *
 *   node --import tsx bench/wino-f4-ties.ts
 */
import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../src/node/backend.ts';
import { loadClassifier } from '../src/node/models.ts';
import { loadDataset } from '../src/node/loadData.ts';
import { getBatch } from '../src/data/dataset.ts';
import { lossGradient } from '../src/attacks/loss.ts';
import { forceWinogradTile } from '../src/engine/kernels/winograd.ts';

const fx = JSON.parse(fs.readFileSync('test/fixtures/torch-attacks.json', 'utf8')) as {
  model: string;
  data: string;
  images: { indices: number[] };
};
await initNodeBackend('wasm');
const model = await loadClassifier(fx.model);
const data = await loadDataset(fx.data);
const batch = getBatch(data, fx.images.indices);
const grad = (x: tf.Tensor4D, y: tf.Tensor1D) =>
  tf.tidy(() => Float32Array.from(lossGradient(model, x, y, false, 'ce').dataSync()));
const got: Record<2 | 4, Float32Array> = { 2: new Float32Array(), 4: new Float32Array() };
for (const t of [2, 4] as const) {
  forceWinogradTile(t);
  got[t] = grad(batch.x, batch.y);
}
forceWinogradTile(null);
await tf.setBackend('cpu');
const xc = tf.tensor4d(batch.x.dataSync(), batch.x.shape);
const yc = tf.tensor1d(batch.y.dataSync(), batch.y.dtype as 'float32' | 'int32');
const want = grad(xc, yc);
const top = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
for (const t of [2, 4] as const) {
  let d = 0;
  let flips = 0;
  for (let i = 0; i < want.length; i++) {
    d = Math.max(d, Math.abs(got[t][i] - want[i]));
    if (Math.sign(got[t][i]) !== Math.sign(want[i])) flips++;
  }
  console.log(
    `F(${t}x${t}) vs cpu: max |diff| / max |g| ${(d / top).toExponential(2)}, signs differing ${flips} of ${want.length}`,
  );
}
tf.dispose([xc, yc, batch.x, batch.y]);
