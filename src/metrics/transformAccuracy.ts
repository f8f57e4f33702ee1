/**
 * Accuracy on transformed images, both ways AT-CNN (Zhang & Zhu 2019) reports it:
 *
 * - `accuracy`: correct on the transformed image / examples;
 * - `relative`: images right both clean and transformed / images right clean (= the accuracy
 *   counted only on images the model classifies right when clean, divided by clean accuracy).
 *   AT-CNN's code (`torch_genera_accuracy`) took this ratio per batch of 32 and averaged the
 *   batches; here it is taken over the whole set.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.ts';
import type { Dataset } from '../data/dataset.ts';
import { batchIndices, getBatch } from '../data/dataset.ts';
import { UserError } from '../errors.ts';

/** One transform's row. */
export interface TransformRow {
  transform: string;
  /** Right on the transformed image. */
  correct: number;
  accuracy: number;
  /** Right both clean and transformed. */
  bothCorrect: number;
  /** bothCorrect / clean correct (NaN when no image is right clean). */
  relative: number;
}

/** Clean accuracy and a {@link TransformRow} per transform. */
export interface TransformAccuracy {
  examples: number;
  clean: { correct: number; accuracy: number };
  rows: TransformRow[];
}

/** A named batch transform: images [N, H, W, C] and their dataset indices -> a new tensor. */
export interface NamedTransform {
  label: string;
  apply(x: tf.Tensor4D, indices: number[]): tf.Tensor4D;
}

/**
 * Evaluates `c` on `data` clean and under each transform (inference mode), batch by batch; every
 * transform sees the same images with their dataset indices. Leaves no tensors behind.
 */
export function transformAccuracy(
  c: Classifier,
  data: Dataset,
  transforms: NamedTransform[],
  opts: { batchSize?: number; onProgress?: (done: number, total: number, info: string) => void } = {},
): TransformAccuracy {
  if (data.classNames.length !== c.labels.length)
    throw new UserError(
      `the data has ${data.classNames.length} classes but the model predicts ${c.labels.length}; evaluate on the data the model was made for`,
    );
  const n = data.size;
  const cleanRight = new Uint8Array(n);
  const right = transforms.map(() => new Uint8Array(n));
  const predict = (x: tf.Tensor4D) => tf.tidy(() => tf.argMax(c.logits(x), 1).dataSync());
  const total = n * (transforms.length + 1);
  let done = 0;
  for (const idx of batchIndices(n, opts.batchSize ?? 100)) {
    const { x, y } = getBatch(data, idx);
    try {
      const p = predict(x);
      idx.forEach((j, i) => (cleanRight[j] = p[i] === data.labels[j] ? 1 : 0));
      opts.onProgress?.((done += idx.length), total, 'clean');
      transforms.forEach((t, k) => {
        const xt = t.apply(x, idx);
        const q = predict(xt);
        xt.dispose();
        idx.forEach((j, i) => (right[k][j] = q[i] === data.labels[j] ? 1 : 0));
        opts.onProgress?.((done += idx.length), total, t.label);
      });
    } finally {
      tf.dispose([x, y]);
    }
  }
  const cleanCorrect = cleanRight.reduce((a, b) => a + b, 0);
  return {
    examples: n,
    clean: { correct: cleanCorrect, accuracy: n ? cleanCorrect / n : NaN },
    rows: transforms.map((t, k) => {
      let correct = 0;
      let both = 0;
      for (let j = 0; j < n; j++) {
        correct += right[k][j];
        both += right[k][j] & cleanRight[j];
      }
      return {
        transform: t.label,
        correct,
        accuracy: n ? correct / n : NaN,
        bothCorrect: both,
        relative: cleanCorrect ? both / cleanCorrect : NaN,
      };
    }),
  };
}
