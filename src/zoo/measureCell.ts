/**
 * Measures one cell of a zoo table that is not PGD-200 (zoo/measure.ts does those): a model's accuracy
 * on transformed test images (with AT-CNN's second accuracy, on the images it classifies right when
 * clean), on another image set (a stylised copy), or under an unforeseen attack at one budget. No Node
 * imports; leaves no tensors behind.
 *
 *   const r = await measureTransformCell(model, data, tableTransform('saturate', 8)!, { seed: 1 });
 *   r.accuracy; r.conditional; // 0.41, 0.52
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.ts';
import { batchIndices, getBatch, type Dataset } from '../data/dataset.ts';
import { evaluate } from '../metrics/accuracy.ts';
import { robustnessAsync, type AttackRunner } from '../metrics/robustness.ts';
import { UserError } from '../errors.ts';
import type { BatchTransform } from './tableTransforms.ts';

/** A measured cell: plain accuracy, clean accuracy on the same images, AT-CNN's conditional accuracy. */
export interface CellMeasurement {
  accuracy: number;
  clean: number | null;
  conditional: number | null;
  examples: number;
  seconds: number;
  /** Options the measurement ran with (attack options with defaults filled in). */
  options?: Record<string, unknown>;
}

/** The default images per pass of a cell measurement. */
export const CELL_BATCH = 100;

/**
 * Plain and conditional accuracy: `predictions` against the labels over all images, and over the
 * images whose clean prediction `clean` is right (null when the model gets none right).
 */
export function pairedAccuracy(
  labels: ArrayLike<number>,
  clean: ArrayLike<number>,
  predictions: ArrayLike<number>,
): { accuracy: number; clean: number; conditional: number | null } {
  let right = 0;
  let cleanRight = 0;
  let both = 0;
  for (let i = 0; i < labels.length; i++) {
    const c = clean[i] === labels[i];
    const p = predictions[i] === labels[i];
    if (p) right++;
    if (c) cleanRight++;
    if (c && p) both++;
  }
  const n = labels.length;
  return { accuracy: right / n, clean: cleanRight / n, conditional: cleanRight ? both / cleanRight : null };
}

/**
 * Accuracy of `model` on `data` with `transform` applied to each batch (given the run's seed and the
 * images' indices in `data`, so the batching does not matter), beside its clean accuracy on the same
 * images; `transform` null measures the clean images. `o.clean` supplies the model's clean
 * predictions on `data` when the caller has them (a table measures several transforms of one set),
 * or receives them (an empty array of `data.size` is filled).
 */
export function measureTransformCell(
  model: Classifier,
  data: Dataset,
  transform: BatchTransform | null,
  o: {
    seed: number;
    batchSize?: number;
    onProgress?: (done: number, total: number) => void;
    clean?: { predictions: Int32Array | null };
  },
): CellMeasurement {
  const t0 = performance.now();
  const bs = o.batchSize ?? CELL_BATCH;
  const known = o.clean?.predictions;
  if (known && known.length !== data.size)
    throw new Error(`measureTransformCell: ${known.length} clean predictions for ${data.size} images`);
  const clean = known ?? evaluate(model, data, { batchSize: bs }).predictions;
  if (o.clean) o.clean.predictions = clean;
  const predictions = transform ? new Int32Array(data.size) : clean;
  if (transform) {
    let done = 0;
    for (const idx of batchIndices(data.size, bs)) {
      const { x, y } = getBatch(data, idx);
      const p = tf.tidy(() => {
        const xt = transform(x, { seed: o.seed, indices: idx });
        if (xt.shape.join() !== x.shape.join())
          throw new UserError(`a transform returned ${xt.shape.join('x')} for ${x.shape.join('x')} images`);
        return tf.argMax(model.logits(xt), 1).dataSync();
      });
      tf.dispose([x, y]);
      idx.forEach((j, i) => (predictions[j] = p[i]));
      o.onProgress?.((done += idx.length), data.size);
    }
  }
  const a = pairedAccuracy(data.labels, clean, predictions);
  return { ...a, examples: data.size, seconds: (performance.now() - t0) / 1000 };
}

/**
 * Accuracy of `model` on `other`, whose image i is a changed copy of image i of `clean` (a stylised
 * copy), beside its clean accuracy on `clean` and the second accuracy over the pairs.
 */
export function measurePairedCell(
  model: Classifier,
  clean: Dataset,
  other: Dataset,
  o: { batchSize?: number } = {},
): CellMeasurement {
  if (clean.size !== other.size || clean.labels.some((l, i) => other.labels[i] !== l))
    throw new Error('measurePairedCell: the two sets are not paired image by image');
  const t0 = performance.now();
  const bs = o.batchSize ?? CELL_BATCH;
  const a = pairedAccuracy(
    clean.labels,
    evaluate(model, clean, { batchSize: bs }).predictions,
    evaluate(model, other, { batchSize: bs }).predictions,
  );
  return { ...a, examples: other.size, seconds: (performance.now() - t0) / 1000 };
}

/** Plain accuracy of `model` on another image set (not paired with the clean images). */
export function measureDataCell(
  model: Classifier,
  data: Dataset,
  o: { batchSize?: number } = {},
): CellMeasurement {
  const t0 = performance.now();
  const e = evaluate(model, data, { batchSize: o.batchSize ?? CELL_BATCH });
  return {
    accuracy: e.accuracy,
    clean: null,
    conditional: null,
    examples: data.size,
    seconds: (performance.now() - t0) / 1000,
  };
}

/**
 * Accuracy of `model` on `data` under attack `attack` at budget `eps` (its own units) for `steps`
 * iterations, with the attack's other defaults, no sanity checks; batch b of the run has the seed `seed + 1000003 b`.
 */
export async function measureAttackCell(
  model: Classifier,
  data: Dataset,
  o: {
    attack: string;
    eps: number;
    /** Iterations (default 200, the paper's). */
    steps?: number;
    seed: number;
    batchSize?: number;
    runner?: AttackRunner;
    onProgress?: (done: number, total: number, what: string) => void;
  },
): Promise<CellMeasurement> {
  const t0 = performance.now();
  const r = await robustnessAsync(model, data, {
    attacks: [o.attack],
    eps: [o.eps],
    attack: { seed: o.seed, steps: o.steps ?? 200 },
    batchSize: o.batchSize ?? CELL_BATCH,
    sanity: false,
    onProgress: o.onProgress,
    runner: o.runner,
  });
  const row = r.rows[0];
  return {
    accuracy: row.accuracy,
    clean: r.clean.accuracy,
    conditional: null,
    examples: data.size,
    seconds: (performance.now() - t0) / 1000,
    options: row.options,
  };
}
