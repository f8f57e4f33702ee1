/**
 * Gradient saliency: Simonyan et al., "Deep Inside Convolutional Networks: Visualising Image
 * Classification Models and Saliency Maps", 2014. The map is grad_x S(x), with S the target's logit
 * (default) or cross-entropy; Gradient x Input (Shrikumar et al., 2016) multiplies it by x.
 * Options: `target` 'predicted', `score` 'logit', `batchSize` 32 (8 above 64x64 inputs). Maps [N, H, W, C] at input size.
 *
 *   const r = gradient(model, batch, { target: 'label' });
 *   r.maps.dispose();
 *
 * The helpers below (targets, scores, batched score gradients) are shared by every gradient method.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.ts';
import type { Batch } from '../data/dataset.ts';
import type { ExplainOptions, ExplainTarget, Explainer } from './types.ts';
import { UserError } from '../errors.ts';

/** An integer option >= `min`, or a {@link UserError} naming it. */
export function intOption(name: string, v: number, min: number): number {
  if (!Number.isInteger(v) || v < min) throw new UserError(`${name} must be an integer >= ${min} (got ${v})`);
  return v;
}

/** A finite number option >= 0, or a {@link UserError} naming it. */
export function nonNegative(name: string, v: number): number {
  if (!Number.isFinite(v) || v < 0) throw new UserError(`${name} must be a number >= 0 (got ${v})`);
  return v;
}

/**
 * The default internal batch of an explainer for inputs of `inputShape` [H, W, ...]: 32 images (or
 * samples, or path points) up to 64x64 and 8 above, because 32 gradient passes of 224x224 images at
 * once exhaust the wasm heap (4 GiB; measured on darknet tiny: 25 fit, 32 do not).
 */
export function defaultBatchSize(inputShape?: readonly number[]): number {
  return inputShape && inputShape[0] * inputShape[1] > 64 * 64 ? 8 : 32;
}

/** The options every explainer shares, checked, with their defaults (see {@link defaultBatchSize}). */
export function commonOptions(o: ExplainOptions = {}, inputShape?: readonly number[]) {
  const score = o.score ?? 'logit';
  if (score !== 'logit' && score !== 'ce') throw new UserError(`unknown score '${score}'; use logit or ce`);
  return {
    target: (o.target ?? 'predicted') as ExplainTarget,
    score,
    batchSize: intOption('batchSize', o.batchSize ?? defaultBatchSize(inputShape), 1),
  } as const;
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
  const out: number[] = [];
  for (let i = 0; i < x.shape[0]; i += batchSize) {
    const m = Math.min(batchSize, x.shape[0] - i);
    const s = tf.tidy(() => {
      const xs = tf.slice(x, [i, 0, 0, 0], [m, -1, -1, -1]) as tf.Tensor4D;
      return scoreOf(model.logits(xs), tf.tensor1d(targets.slice(i, i + m), 'int32'), kind).dataSync();
    });
    out.push(...s);
  }
  return out;
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
  const total = n * inRange;
  for (let p0 = 0; p0 < total; p0 += batchSize) {
    const images: number[] = [];
    const samples: number[] = [];
    for (let p = p0; p < Math.min(total, p0 + batchSize); p++) {
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
  }
  return out;
}

/** Checks `o.sampleRange` against `count` samples; the range (whole when absent). */
export function sampleRangeOf(o: ExplainOptions, count: number): [number, number] {
  const r = o.sampleRange;
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
    throw new UserError(`sampleRange must be [a, b] with 0 <= a < b <= ${count}; got ${JSON.stringify(r)}`);
  return [r[0], r[1]];
}

/** grad_x S(x) for the whole batch, in internal batches (caller owns). */
function batchedGradient(
  model: Classifier,
  x: tf.Tensor4D,
  targets: number[],
  kind: 'logit' | 'ce',
  batchSize: number,
): tf.Tensor4D {
  const parts: tf.Tensor4D[] = [];
  for (let i = 0; i < x.shape[0]; i += batchSize) {
    const m = Math.min(batchSize, x.shape[0] - i);
    parts.push(
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
  if (parts.length === 1) return parts[0];
  const all = tf.concat(parts, 0) as tf.Tensor4D;
  tf.dispose(parts);
  return all;
}

/** Gradient saliency grad_x S(x), [N, H, W, C] (caller owns `maps`). */
export const gradient: Explainer = (model, batch, o = {}) => {
  const d = commonOptions(o, model.inputShape);
  const targets = resolveTargets(model, batch, d.target);
  const maps = batchedGradient(model, batch.x, targets, d.score, d.batchSize);
  return { maps, targets, options: { method: 'gradient', ...d } };
};

/** Gradient x Input: x * grad_x S(x), [N, H, W, C] (caller owns `maps`). */
export const gradientXInput: Explainer = (model, batch, o = {}) => {
  const d = commonOptions(o, model.inputShape);
  const targets = resolveTargets(model, batch, d.target);
  const g = batchedGradient(model, batch.x, targets, d.score, d.batchSize);
  const maps = tf.mul(g, batch.x) as tf.Tensor4D;
  g.dispose();
  return { maps, targets, options: { method: 'gradient-x-input', ...d } };
};
