/** The model's predictions on the unattacked set, batch by batch. */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.ts';
import { batchIndices, getBatch, type Dataset } from '../data/dataset.ts';

/**
 * argmax of `model`'s logits for every example of `data`, in `batchSize` batches; `tick(n)` after
 * each batch of n. Leaves no tensors behind.
 */
export function cleanPredictions(
  model: Classifier,
  data: Dataset,
  batchSize: number,
  tick: (n: number) => void = () => {},
): Int32Array {
  const clean = new Int32Array(data.size);
  for (const idx of batchIndices(data.size, batchSize)) {
    const { x, y } = getBatch(data, idx);
    const p = tf.tidy(() => tf.argMax(model.logits(x), 1).dataSync());
    tf.dispose([x, y]);
    idx.forEach((j, i) => (clean[j] = p[i]));
    tick(idx.length);
  }
  return clean;
}
