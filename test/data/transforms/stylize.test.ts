import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../../src/node/backend.ts';
import { atScale, workFactor } from '../../../src/data/transforms/stylize.ts';
import { loadArbitraryStyle, loadPaintings, loadStylizer } from '../../../src/node/styleModels.ts';
import { UserError } from '../../../src/errors.ts';

await initNodeBackend('wasm');

const SHARED = path.resolve(import.meta.dirname, '../../../../shared');
const have = fs.existsSync(path.join(SHARED, 'models/arbitrary-style/transfer/model.json'));

/** Four 16x16 RGB test images: a bright square on a coloured ground, different per image. */
function images(): tf.Tensor4D {
  const data = new Float32Array(4 * 16 * 16 * 3);
  for (let i = 0; i < 4; i++)
    for (let r = 0; r < 16; r++)
      for (let c = 0; c < 16; c++)
        for (let ch = 0; ch < 3; ch++) {
          const inside = r >= 4 + i && r < 12 && c >= 4 && c < 12 - i;
          data[((i * 16 + r) * 16 + c) * 3 + ch] = inside ? 0.9 : 0.2 + 0.2 * ((i + ch) % 3);
        }
  return tf.tensor4d(data, [4, 16, 16, 3]);
}

test('atScale with an identity network gives a constant image back and the block means of the upsampling', () => {
  assert.equal(workFactor(32, 256), 8);
  assert.equal(workFactor(28, 256), 9);
  assert.equal(workFactor(300, 256), 1);
  const x = tf.fill([2, 4, 4, 3], 0.3) as tf.Tensor4D;
  const y = atScale(x, 3, 1, (big) => {
    assert.deepEqual(big.shape, [1, 12, 12, 3]);
    return tf.clone(big);
  });
  assert.deepEqual(y.shape, [2, 4, 4, 3]);
  assert.ok(Array.from(y.dataSync()).every((v) => Math.abs(v - 0.3) < 1e-6));
  tf.dispose([x, y]);
});

test('arbitrary stylisation is seeded per image: the same seed gives the same pixels, in any batching', async (t) => {
  if (!have) return t.skip('../shared/models/arbitrary-style absent');
  const s = await loadStylizer('arbitrary', {
    modelsDir: path.join(SHARED, 'models'),
    paintingsDir: path.join(SHARED, 'data/style-images'),
    seed: 7,
    size: 64,
  });
  const x = images();
  const before = tf.memory().numTensors;
  const a = s(x, [10, 11, 12, 13]);
  assert.equal(tf.memory().numTensors, before + 1);
  const tail = tf.slice(x, [2, 0, 0, 0], [2, 16, 16, 3]) as tf.Tensor4D;
  const b = s(tail, [12, 13]);
  const av = a.dataSync();
  const bv = b.dataSync();
  assert.deepEqual(a.shape, [4, 16, 16, 3]);
  for (let i = 0; i < bv.length; i++) assert.ok(Math.abs(av[2 * 768 + i] - bv[i]) < 1e-5);
  assert.ok(Array.from(av).every((v) => v >= 0 && v <= 1));
  // It is a stylisation, not the identity.
  const xv = x.dataSync();
  const change = Array.from(av).reduce((sum, v, i) => sum + Math.abs(v - xv[i]), 0) / av.length;
  assert.ok(change > 0.03, `mean change ${change}`);
  // Paintings: one of the five per image, drawn from (seed, index); all five turn up over 200 images.
  const seen = new Set(Array.from({ length: 200 }, (_, i) => s.paintingOf!(i)));
  assert.deepEqual([...seen].sort(), [0, 1, 2, 3, 4]);
  tf.dispose([a, b, tail, x]);
  s.dispose();
});

test('a fast style network stylises at scale, and an unknown style is a user error listing the styles', async (t) => {
  if (!have) return t.skip('../shared/models/style-transfer absent');
  const modelsDir = path.join(SHARED, 'models');
  await assert.rejects(
    loadStylizer('fast:monet', { modelsDir }),
    (e: unknown) => e instanceof UserError && /udnie/.test(e.message),
  );
  const s = await loadStylizer('fast:udnie', { modelsDir, size: 32 });
  const x = images();
  const before = tf.memory().numTensors;
  const y = s(x, [0, 1, 2, 3]);
  assert.deepEqual(y.shape, [4, 16, 16, 3]);
  y.dispose();
  assert.equal(tf.memory().numTensors, before);
  x.dispose();
  s.dispose();
});

test('a stylizer that fails to build (strength 2) frees its models and paintings', async (t) => {
  if (!have) return t.skip('../shared/models/arbitrary-style absent');
  const before = tf.memory().numTensors;
  await assert.rejects(
    loadStylizer('arbitrary', {
      modelsDir: path.join(SHARED, 'models'),
      paintingsDir: path.join(SHARED, 'data/style-images'),
      strength: 2,
    }),
    (e: unknown) => e instanceof UserError && /strength 2 must be in \[0, 1\]/.test(e.message),
  );
  assert.equal(tf.memory().numTensors, before);
});

test('strength 0.5 renders with the mean of the painting style vector and the image own, as a direct call of the two networks does', async (t) => {
  if (!have) return t.skip('../shared/models/arbitrary-style absent');
  const modelsDir = path.join(SHARED, 'models');
  const paintingsDir = path.join(SHARED, 'data/style-images');
  // size 16 on 16x16 images: work factor 1, so the stylizer is the two networks and a clip.
  const s = await loadStylizer('arbitrary', { modelsDir, paintingsDir, seed: 3, size: 16, strength: 0.5 });
  const full = await loadStylizer('arbitrary', { modelsDir, paintingsDir, seed: 3, size: 16 });
  const nets = await loadArbitraryStyle(path.join(modelsDir, 'arbitrary-style'));
  const { images: paintings } = await loadPaintings(paintingsDir);
  const x = images();
  const idx = [5, 6, 7, 8];
  const before = tf.memory().numTensors;
  const got = s(x, idx);
  const whole = full(x, idx);
  assert.equal(tf.memory().numTensors, before + 2);
  const want = tf.tidy(() => {
    const rows = idx.map((index, i) => {
      const content = tf.mul(tf.slice(x, [i, 0, 0, 0], [1, 16, 16, 3]), 255) as tf.Tensor4D;
      const painted = tf.reshape(
        nets.style.predict(tf.mul(paintings[s.paintingOf!(index)], 255)) as tf.Tensor,
        [1, -1],
      );
      const seen = tf.image.resizeBilinear(content, [256, 256], false, true);
      const own = tf.reshape(nets.style.predict(seen) as tf.Tensor, [1, -1]);
      const v = tf.div(tf.add(painted, own), 2);
      return tf.clipByValue(tf.div(nets.transfer.predict([content, v]) as tf.Tensor, 255), 0, 1);
    });
    return tf.concat(rows, 0);
  });
  const g = got.dataSync();
  const w = want.dataSync();
  let worst = 0;
  for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(g[i] - w[i]));
  assert.ok(worst < 1e-4, `largest difference from the direct computation ${worst}`);
  // Half strength is a different rendering from full strength, and keeps nearer the image.
  const xv = x.dataSync();
  const wv = whole.dataSync();
  const dist = (a: ArrayLike<number>) =>
    Array.from(a).reduce((sum, v, i) => sum + Math.abs(v - xv[i]), 0) / a.length;
  assert.ok(dist(g) < dist(wv), `half ${dist(g)} against full ${dist(wv)}`);
  tf.dispose([got, whole, want, x, ...paintings]);
  nets.style.dispose();
  nets.transfer.dispose();
  s.dispose();
  full.dispose();
});
