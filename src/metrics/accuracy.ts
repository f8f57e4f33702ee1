import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.ts';
import type { Dataset } from '../data/dataset.ts';
import { batchIndices, getBatch } from '../data/dataset.ts';
import { UserError } from '../errors.ts';

/**
 * A classifier's accuracy on a labelled set: overall (correct / examples), per true class, and the
 * confusion matrix.
 */
export interface Evaluation {
  examples: number;
  correct: number;
  accuracy: number;
  /** Per true class: examples, correct and accuracy (NaN where a class has no examples). */
  perClass: { label: string; examples: number; correct: number; accuracy: number }[];
  /** confusion[true][predicted] counts. */
  confusion: number[][];
  /** Predicted class per example, in dataset order. */
  predictions: Int32Array;
}

/** Accuracy, per-class accuracy and the confusion matrix of a classifier on a labelled set. */
export function confusionStats(
  labels: ArrayLike<number>,
  predictions: ArrayLike<number>,
  classNames: string[],
): Omit<Evaluation, 'predictions'> {
  const k = classNames.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    confusion[labels[i]][predictions[i]]++;
    if (labels[i] === predictions[i]) correct++;
  }
  const perClass = classNames.map((label, c) => {
    const examples = confusion[c].reduce((a, b) => a + b, 0);
    return {
      label,
      examples,
      correct: confusion[c][c],
      accuracy: examples ? confusion[c][c] / examples : NaN,
    };
  });
  return {
    examples: labels.length,
    correct,
    accuracy: labels.length ? correct / labels.length : NaN,
    perClass,
    confusion,
  };
}

/**
 * Evaluates `c` on `data` in batches (inference mode). The dataset's classes must be the model's
 * (same count); images must already be at the model's input size.
 */
export function evaluate(
  c: Classifier,
  data: Dataset,
  opts: { batchSize?: number; onProgress?: (done: number, total: number) => void } = {},
): Evaluation {
  if (data.classNames.length !== c.labels.length) {
    throw new UserError(
      `the data has ${data.classNames.length} classes but the model predicts ${c.labels.length}; evaluate on the data the model was made for`,
    );
  }
  const bs = opts.batchSize ?? 256;
  const predictions = new Int32Array(data.size);
  let done = 0;
  for (const idx of batchIndices(data.size, bs)) {
    const { x, y } = getBatch(data, idx);
    const p = tf.tidy(() => tf.argMax(c.logits(x), 1).dataSync());
    tf.dispose([x, y]);
    idx.forEach((j, i) => (predictions[j] = p[i]));
    done += idx.length;
    opts.onProgress?.(done, data.size);
  }
  return { ...confusionStats(data.labels, predictions, c.labels), predictions };
}
