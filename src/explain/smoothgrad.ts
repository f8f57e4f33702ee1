/**
 * SmoothGrad: Smilkov et al., "SmoothGrad: removing noise by adding noise", 2017.
 * map = (1/n) sum_i grad_x S(x + g_i), g_i ~ N(0, sigma^2), sigma = spread * (max(x) - min(x)) per
 * image (ALGORITHMS.md section 2). Options and defaults: `samples` n 25 (PAIR's library; AT-CNN used
 * 100), `spread` 0.15 (AT-CNN's figures 0.10), `aggregate` 'mean' ('sum' is AT-CNN's code), `seed` 0,
 * plus `target`, `score`, `batchSize` (noise samples per pass, so memory stays bounded). The noise of
 * each (image, sample) has its own seed, so the result does not depend on `batchSize`.
 * Input: images [N, H, W, C] in [0, 1]; maps [N, H, W, C].
 *
 *   const r = smoothgrad(model, batch, { samples: 50, spread: 0.15, seed: 1 });
 *   r.maps.dispose();
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Explainer } from './types.ts';
import {
  accumulateGradients,
  commonOptions,
  intOption,
  nonNegative,
  resolveTargets,
  sampleRangeOf,
} from './gradient.ts';
import { createRng, fillNormal } from '../engine/rng.ts';
import { UserError } from '../errors.ts';

/** Noise samples per image when `samples` is not given. */
export const DEFAULT_SAMPLES = 25;

export const smoothgrad: Explainer = (model, batch, o = {}) => {
  const c = commonOptions(o, model.inputShape);
  const samples = intOption('samples', o.samples ?? DEFAULT_SAMPLES, 1);
  const spread = nonNegative('spread', o.spread ?? 0.15);
  const aggregate = o.aggregate ?? 'mean';
  if (aggregate !== 'mean' && aggregate !== 'sum')
    throw new UserError(`unknown aggregate '${aggregate}'; use mean or sum`);
  const seed = o.seed ?? 0;
  const range = sampleRangeOf(o, samples);
  const targets = resolveTargets(model, batch, c.target);
  const x = batch.x;
  const [n, h, w, ch] = x.shape;
  const rng = createRng(seed);
  const seeds = Array.from({ length: n * samples }, () => rng.seed());
  // sigma per image [N]
  const sig = tf.tidy(() =>
    tf.mul(spread, tf.sub(tf.max(x, [1, 2, 3]), tf.min(x, [1, 2, 3]))).dataSync(),
  ) as Float32Array;
  const sum = accumulateGradients(
    model,
    x.shape,
    samples,
    c.batchSize,
    targets,
    c.score,
    (images, s) => {
      const idx = tf.tensor1d(images, 'int32');
      const xs = tf.gather(x, idx) as tf.Tensor4D;
      if (spread === 0) return xs;
      // Each (image, sample) pair's noise from its own seed, so that it does not depend on the
      // batching, times its image's sigma (a float32 product, as tf.mul's: exact in a double, then
      // rounded once).
      const per = h * w * ch;
      const values = new Float32Array(images.length * per);
      images.forEach((e, b) => {
        fillNormal(values, seeds[e * samples + s[b]], b * per, per);
        for (let j = b * per; j < (b + 1) * per; j++) values[j] *= sig[e];
      });
      return tf.add(xs, tf.tensor4d(values, [images.length, h, w, ch])) as tf.Tensor4D;
    },
    () => (aggregate === 'mean' ? 1 / samples : 1),
    range,
  );
  return {
    maps: tf.tensor4d(sum, [n, h, w, ch]),
    targets,
    options: {
      method: 'smoothgrad',
      ...c,
      samples,
      spread,
      aggregate,
      seed,
      ...(o.sampleRange ? { sampleRange: range } : {}),
    },
  };
};
