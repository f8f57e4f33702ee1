/**
 * The per-image view (beyond Bluff, whose graph aggregates image sets): which neurons one attacked
 * image exploits. Per layer, the image's own top k channels by activation (spatial max) that are in
 * neither the original class's nor the target class's top k by median: the exploited group of one
 * image.
 *
 *   const v = imageExploits(model, result, xAdv);   // v[i].conv3: channels image i exploits in conv3
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.ts';
import type { PathwaysResult } from './pathways.ts';
import { pathwayGraph } from './graph.ts';
import { channelScores } from './neurons.ts';
import { topChannels } from './groups.ts';

const nums = (v: (number | null)[]) => v.map((x) => (x === null ? NaN : x));

/** Per image of x [N, H, W, C] (attacked images), per layer: the channels it exploits. No tensor is left. */
export function imageExploits(
  model: Classifier,
  r: PathwaysResult,
  x: tf.Tensor4D,
  batchSize = 32,
): Record<string, number[]>[] {
  const k = r.groupOptions.k;
  const layers = pathwayGraph(model).layers.filter((l) => !l.logits);
  const scores = channelScores(model, layers, x, batchSize);
  return Array.from({ length: x.shape[0] }, (_, i) => {
    const out: Record<string, number[]> = {};
    for (const l of layers) {
      const n = r.neurons[l.name];
      const benign = new Set([
        ...topChannels(nums(n.original.median), k),
        ...topChannels(nums(n.target.median), k),
      ]);
      const own = topChannels(scores[l.name].subarray(i * l.channels, (i + 1) * l.channels), k);
      out[l.name] = own.filter((c) => !benign.has(c));
    }
    return out;
  });
}
