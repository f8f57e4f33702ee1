/**
 * What every gradient explainer shares (ALGORITHMS.md section 2): the class each map explains, the
 * score S differentiated (the target's logit or cross-entropy), and its input gradient computed in
 * internal batches, also summed over many inputs per image (SmoothGrad's noise samples, IG's path
 * points) without holding them all. Images are [N, H, W, C] in [0, 1].
 *
 *   const targets = resolveTargets(model, batch, 'predicted');
 *   const g = batchedGradient(model, batch.x, targets, 'logit', 32); // [N, H, W, C], caller owns
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.ts';
import type { Batch } from '../data/dataset.ts';
import type { ExplainTarget } from './types.ts';
import { concatChunks, inChunks } from '../engine/chunks.ts';
import { UserError } from '../errors.ts';

/**
 * The default internal batch of an explainer for inputs of `inputShape` [H, W, ...]: 32 images (or
 * samples, or path points) up to 64x64 and 8 above, because 32 gradient passes of 224x224 images at
 * once exhaust the wasm heap (4 GiB; measured on darknet tiny: 25 fit, 32 do not).
 */
export function defaultBatchSize(inputShape?: readonly number[]): number {
  return inputShape && inputShape[0] * inputShape[1] > 64 * 64 ? 8 : 32;
}

/** The class each image's map explains (see {@link ExplainTarget}); a {@link UserError} for a bad one. */
export function resolveTargets(model: Classifier, batch: Batch, target: ExplainTarget): number[] {
  const n = batch.x.shape[0];
  const k = model.labels.length;
  let t: number[];
  if (target === 'predicted') t = Array.from(tf.tidy(() => tf.argMax(model.logits(batch.x), 1).dataSync()));
  else if (target === 'label') t = Array.from(batch.y.dataSync());
  else if (typeof target === 'number') t = new Array<number>(n).fill(target);
  else if (Array.isArray(target)) t = target.slice();
  else
    throw new UserError(
      `unknown target '${String(target)}'; use predicted, label, a class or one class per image`,
    );
  if (t.length !== n)
    throw new UserError(`${t.length} targets for ${n} images; give one target or one per image`);
  for (const v of t)
    if (!Number.isInteger(v) || v < 0 || v >= k)
      throw new UserError(`target class ${v} is outside 0..${k - 1}`);
  return t;
}

/** The explained score per image [M]: the target's logit, or the cross-entropy of the target. */
export function scoreOf(logits: tf.Tensor2D, targets: tf.Tensor1D, kind: 'logit' | 'ce'): tf.Tensor1D {
  return tf.tidy(() => {
    const onehot = tf.oneHot(tf.cast(targets, 'int32'), logits.shape[1]);
    if (kind === 'logit') return tf.sum(tf.mul(onehot, logits), 1) as tf.Tensor1D;
    return tf.neg(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)), 1)) as tf.Tensor1D;
  });
}

/** grad_x S(x) [M, H, W, C] for images x [M, H, W, C] and one target each (caller owns). */
export function scoreGradient(
  model: Classifier,
  x: tf.Tensor4D,
  targets: ArrayLike<number>,
  kind: 'logit' | 'ce',
): tf.Tensor4D {
  return tf.tidy(() => {
    const t = tf.tensor1d(Array.from(targets), 'int32');
    // Images do not interact in inference mode, so the gradient of the sum is each image's gradient.
    return tf.grad((v: tf.Tensor) => tf.sum(scoreOf(model.logits(v as tf.Tensor4D), t, kind)))(
      x,
    ) as tf.Tensor4D;
  });
}

/** S(x) per image, in internal batches. */
export function scoresOf(
  model: Classifier,
  x: tf.Tensor4D,
  targets: number[],
  kind: 'logit' | 'ce',
  batchSize: number,
): number[] {
  return inChunks(x.shape[0], batchSize, (i, m) =>
    Array.from(
      tf.tidy(() => {
        const xs = tf.slice(x, [i, 0, 0, 0], [m, -1, -1, -1]) as tf.Tensor4D;
        return scoreOf(model.logits(xs), tf.tensor1d(targets.slice(i, i + m), 'int32'), kind).dataSync();
      }),
    ),
  ).flat();
}

/** grad_x S(x) for the whole batch, in internal batches (caller owns). */
export function batchedGradient(
  model: Classifier,
  x: tf.Tensor4D,
  targets: number[],
  kind: 'logit' | 'ce',
  batchSize: number,
): tf.Tensor4D {
  return concatChunks(x.shape[0], batchSize, (i, m) =>
    tf.tidy(() =>
      scoreGradient(
        model,
        tf.slice(x, [i, 0, 0, 0], [m, -1, -1, -1]) as tf.Tensor4D,
        targets.slice(i, i + m),
        kind,
      ),
    ),
  );
}

/**
 * Sums weighted score gradients over `count` inputs per image without holding them all: pair p =
 * (image p / count, sample p % count) is built by `inputs` in chunks of `batchSize` pairs, and
 * `weight(sample) * grad S` is added into image e's slot. Returns float32 [N * H * W * C].
 */
export function accumulateGradients(
  model: Classifier,
  shape: readonly number[],
  count: number,
  batchSize: number,
  targets: number[],
  kind: 'logit' | 'ce',
  inputs: (images: number[], samples: number[]) => tf.Tensor4D,
  weight: (sample: number) => number,
  range: [number, number] = [0, count],
): Float32Array {
  const [n, h, w, c] = shape;
  const per = h * w * c;
  const out = new Float32Array(n * per);
  const [first, end] = range;
  const inRange = end - first;
  inChunks(n * inRange, batchSize, (p0, m) => {
    const images: number[] = [];
    const samples: number[] = [];
    for (let p = p0; p < p0 + m; p++) {
      images.push(Math.floor(p / inRange));
      samples.push(first + (p % inRange));
    }
    const g = tf.tidy(() =>
      scoreGradient(
        model,
        inputs(images, samples),
        images.map((e) => targets[e]),
        kind,
      ).dataSync(),
    );
    for (let b = 0; b < images.length; b++) {
      const wgt = weight(samples[b]);
      const o = images[b] * per;
      const src = b * per;
      for (let j = 0; j < per; j++) out[o + j] += wgt * g[src + j];
    }
  });
  return out;
}

/** `sampleRange` checked against `count` samples; the whole range when absent. */
export function sampleRangeOf(r: [number, number] | undefined, count: number): [number, number] {
  if (r === undefined) return [0, count];
  if (
    !Array.isArray(r) ||
    r.length !== 2 ||
    !Number.isInteger(r[0]) ||
    !Number.isInteger(r[1]) ||
    r[0] < 0 ||
    r[1] > count ||
    r[0] >= r[1]
  )
    throw new UserError(
      `option 'sampleRange' must be [a, b] with 0 <= a < b <= ${count}; got ${JSON.stringify(r)}`,
    );
  return [r[0], r[1]];
}
