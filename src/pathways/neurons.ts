/**
 * Neuron activations and importance (Bluff, ALGORITHMS.md section 6): a neuron's activation on an image
 * is the spatial max of its channel's map; an image set's importance of a neuron is the median of its
 * activations over the images, ranked within its layer as a percentile (rank / channels, ties sharing
 * their mean rank, as scipy's rankdata in Bluff's code; the largest median has percentile 1).
 *
 *   const g = pathwayGraph(model);
 *   const s = channelScores(model, g.layers, x);    // s[layer] [N * C], row-major
 *   const imp = importance(s['conv2'], x.shape[0], 64);   // { median, percentile }, 64 each
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.ts';
import type { PathwayLayer } from './graph.ts';

/** Activations per layer, [N * C] row-major (image n, channel c at n * C + c). */
export type LayerScores = Record<string, Float32Array>;

/**
 * Spatial max of every neuron's map for images x [N, H, W, C] in [0, 1] (the logits unit: the logit),
 * in passes of `batchSize` images. Tensors are freed; plain arrays are returned.
 */
export function channelScores(
  model: Classifier,
  layers: PathwayLayer[],
  x: tf.Tensor4D,
  batchSize = 32,
): LayerScores {
  const n = x.shape[0];
  const out: LayerScores = {};
  for (const l of layers) out[l.name] = new Float32Array(n * l.channels);
  const taps = layers.filter((l) => !l.logits);
  for (let i = 0; i < n; i += batchSize) {
    const m = Math.min(batchSize, n - i);
    const parts = tf.tidy(() => {
      const xs = tf.slice(x, [i, 0, 0, 0], [m, -1, -1, -1]);
      const { activations, logits } = model.taps(
        xs,
        taps.map((l) => l.tap),
      );
      return layers.map((l) => {
        if (l.logits) return logits;
        const a = activations[l.tap];
        return a.rank === 4 ? tf.max(a, [1, 2]) : a; // [m, C]
      });
    });
    layers.forEach((l, k) => out[l.name].set(parts[k].dataSync(), i * l.channels));
    tf.dispose(parts);
  }
  return out;
}

/** The median of `v` (mean of the two middle values for an even count); NaN when empty. */
export function median(v: ArrayLike<number>): number {
  const s = Float64Array.from(v).sort();
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/** Rank of each value among all (1 = smallest, ties share their mean rank) divided by their count. */
export function rankPercentile(v: ArrayLike<number>): Float64Array {
  const n = v.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => v[a] - v[b]);
  const pct = new Float64Array(n);
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && v[order[j + 1]] === v[order[i]]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) pct[order[k]] = rank / n;
    i = j + 1;
  }
  return pct;
}

/** Importance of a layer's neurons for one image set: median over images and its percentile in the layer. */
export interface Importance {
  median: Float64Array;
  percentile: Float64Array;
}

/**
 * Median activation per channel over the `n` images of `scores` [n * channels] and its within-layer
 * percentile; NaN medians and percentiles when `n` is 0 (no image in the set).
 */
export function importance(scores: Float32Array, n: number, channels: number): Importance {
  const med = new Float64Array(channels);
  const col = new Float64Array(n);
  for (let c = 0; c < channels; c++) {
    for (let i = 0; i < n; i++) col[i] = scores[i * channels + c];
    med[c] = median(col);
  }
  return { median: med, percentile: n === 0 ? new Float64Array(channels).fill(NaN) : rankPercentile(med) };
}

/** The rows (images) of `scores` [n * channels] at `rows`. */
export function pickRows(scores: Float32Array, channels: number, rows: number[]): Float32Array {
  const out = new Float32Array(rows.length * channels);
  rows.forEach((r, i) => out.set(scores.subarray(r * channels, (r + 1) * channels), i * channels));
  return out;
}
