/**
 * SmoothGrad: Smilkov et al., "SmoothGrad: removing noise by adding noise", 2017.
 * map = (1/n) sum_i grad_x S(x + g_i), g_i ~ N(0, sigma^2), sigma = spread * (max(x) - min(x)) per
 * image (ALGORITHMS.md section 2). Options and defaults: `samples` n 25 (PAIR's library; AT-CNN used
 * 100), `spread` 0.15 (AT-CNN's figures 0.10), `aggregate` 'mean' ('sum' is AT-CNN's code), `seed` 0,
 * `sampleRange` (only the samples a .. b - 1, a partial sum; how a pool splits an image's samples),
 * plus `target`, `score`, `batchSize` (noise samples per pass, so memory stays bounded). The noise of
 * each (image, sample) has its own seed, so the result does not depend on `batchSize`.
 * Input: images [N, H, W, C] in [0, 1]; maps [N, H, W, C].
 *
 *   const r = smoothgrad(model, batch, { samples: 50, spread: 0.15, seed: 1 });
 *   r.maps.dispose();
 */
import * as tf from '@tensorflow/tfjs-core';
import type { SmoothGradOptions } from './types.ts';
import { accumulateGradients, resolveTargets, sampleRangeOf } from './scores.ts';
import { commonSettings } from './gradient.ts';
import { COMMON_EXPLAIN_SPECS, SAMPLE_RANGE_SPEC, SEED_SPEC, defineExplainer } from './record.ts';
import { createRng } from '../engine/rng.ts';
import { gaussNoise } from '../engine/noise.ts';
import type { OptionSpecs } from '../options.ts';

/** Noise samples per image when `samples` is not given. */
export const DEFAULT_SAMPLES = 25;

/** SmoothGrad's options (Smilkov et al. 2017): noise samples per image, noise spread and how the samples are combined. */
export const SMOOTHGRAD_OPTIONS = {
  ...COMMON_EXPLAIN_SPECS,
  samples: {
    type: 'number',
    integer: true,
    min: 1,
    default: DEFAULT_SAMPLES,
    doc: 'noise samples per image',
    metavar: 'n',
  },
  spread: {
    type: 'number',
    min: 0,
    default: 0.15,
    doc: 'noise std as a fraction of the image range',
    metavar: 's',
  },
  aggregate: {
    type: 'choice',
    choices: ['mean', 'sum'],
    default: 'mean',
    doc: "average the sample gradients, or sum them as AT-CNN's code did",
  },
  seed: SEED_SPEC,
  sampleRange: SAMPLE_RANGE_SPEC,
} satisfies OptionSpecs<SmoothGradOptions>;

/** SmoothGrad as a registry record: the gradient averaged over noisy copies of each image. */
export const smoothgradExplainer = defineExplainer<SmoothGradOptions, typeof SMOOTHGRAD_OPTIONS>({
  name: 'smoothgrad',
  summary: 'SmoothGrad (Smilkov et al. 2017): gradients averaged over noisy copies of the image',
  options: SMOOTHGRAD_OPTIONS,
  facts: {
    samplesPerImage: (o) => o.samples ?? DEFAULT_SAMPLES,
    needsCam: false,
    needsLayersModel: false,
    signed: true,
    resolution: 'input',
  },
  explain: (model, batch, o) => {
    const c = commonSettings(model, o);
    const { samples, spread, aggregate, seed } = o;
    const range = sampleRangeOf(o.sampleRange, samples);
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
        // batching, times its image's sigma (src/engine/noise.ts: the same bits on every backend).
        const per = h * w * ch;
        const values = new Float32Array(images.length * per);
        images.forEach((e, b) => {
          gaussNoise(values.subarray(b * per, (b + 1) * per), seeds[e * samples + s[b]], sig[e]);
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
  },
});

/** SmoothGrad (see the file's header); validates its options. */
export const smoothgrad = smoothgradExplainer.run;
