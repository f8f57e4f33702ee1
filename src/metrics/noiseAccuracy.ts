/** Accuracy under random noise of a given norm: the baseline an attack must beat (sanity check 5). */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.ts';
import { batchIndices, getBatch, type Dataset } from '../data/dataset.ts';
import { createRng } from '../engine/rng.ts';
import type { Norm } from './sanityRuns.ts';

/**
 * Accuracy of `model` on `data` under random noise on the eps-sphere, clipped to [0, 1]: eps times
 * random signs (L-inf) or a random direction of length eps (L2). Leaves no tensors behind.
 */
export function noiseAccuracy(
  model: Classifier,
  data: Dataset,
  eps: number,
  norm: Norm,
  batchSize: number,
  seed: number,
): number {
  const rng = createRng(seed + 17);
  let correct = 0;
  for (const idx of batchIndices(data.size, batchSize)) {
    const { x, y } = getBatch(data, idx);
    const s = rng.int(2 ** 30);
    const p = tf.tidy(() => {
      let d: tf.Tensor4D;
      if (norm === 'linf') d = tf.mul(tf.sign(tf.randomUniform(x.shape, -1, 1, 'float32', s)), eps);
      else {
        const g = tf.randomNormal(x.shape, 0, 1, 'float32', s) as tf.Tensor4D;
        d = tf.mul(g, tf.div(eps, tf.sqrt(tf.sum(tf.square(g), [1, 2, 3], true))));
      }
      return tf.argMax(model.logits(tf.clipByValue(tf.add(x, d), 0, 1) as tf.Tensor4D), 1).dataSync();
    });
    tf.dispose([x, y]);
    idx.forEach((j, i) => p[i] === data.labels[j] && correct++);
  }
  return correct / data.size;
}
