/**
 * Attacks and explainers by registry name on plain arrays in, plain arrays out: what the Web Worker
 * runs, and what a page can call itself. Labels default to the model's predictions on the images.
 *
 *   const r = runAttack(model, 'pgd', pixels, { eps: 0.1, steps: 20 });
 *   r.xAdv; // Float32Array [N, H, W, C]
 */
import * as tf from '@tensorflow/tfjs-core';
import { attack, type AttackOptions } from '../attacks/index.ts';
import { explainer, type ExplainOptions } from '../explain/index.ts';
import { UserError } from '../errors.ts';
import type { Classifier } from '../models/classifier.ts';
import type { Pixels } from './image.ts';

/** An attack's result as arrays (see `AttackResult`). */
export interface AttackOutput {
  /** Adversarial images [N, H, W, C] in [0, 1]. */
  xAdv: Float32Array;
  shape: [number, number, number, number];
  /** Per image: misclassified (untargeted) or classified as the target (targeted). */
  success: boolean[];
  /** Logits on xAdv [N, K]. */
  logits: Float32Array;
  /** The predicted class on xAdv per image. */
  predictions: Int32Array;
  /** The labels attacked (given, or the predictions on the clean images). */
  labels: Int32Array;
  /** The options used, defaults filled in. */
  options: Record<string, unknown>;
  epsPerExample?: number[];
  metrics?: Record<string, number[]>;
}

/** An explainer's result as arrays (see `ExplainResult`). */
export interface ExplainOutput {
  /** Maps [N, h, w, c] at the method's resolution. */
  maps: Float32Array;
  shape: [number, number, number, number];
  /** The class each map explains. */
  targets: number[];
  options: Record<string, unknown>;
  scores?: number[];
  baselineScores?: number[];
  delta?: number[];
  relativeError?: number[];
  bias?: number[];
}

function checkPixels(p: Pixels, model: Classifier): void {
  const [n, h, w, c] = p.shape ?? [];
  const [mh, mw, mc] = model.inputShape;
  if (p.shape?.length !== 4 || h !== mh || w !== mw || c !== mc || p.data?.length !== n * h * w * c)
    throw new UserError(
      `images of shape [${p.shape}] (${p.data?.length} values) do not fit the model, which takes [N, ${mh}, ${mw}, ${mc}]; fit them with imagePixels(source, model.card.preprocess)`,
    );
}

/** The batch {x, y}: y the given labels, else the model's predictions on x (caller owns both). */
function batchOf(model: Classifier, images: Pixels, labels?: ArrayLike<number>) {
  checkPixels(images, model);
  const x = tf.tensor4d(images.data, images.shape);
  if (labels && labels.length !== images.shape[0]) {
    x.dispose();
    throw new UserError(`${labels.length} labels for ${images.shape[0]} images; give one label per image`);
  }
  const y = labels
    ? tf.tensor1d(Array.from(labels), 'int32')
    : tf.tidy(() => tf.argMax(model.logits(x), 1) as tf.Tensor1D);
  return { x, y };
}

/** Runs attack `name` (a key of `ATTACKS`) on `images` and returns its result as arrays. */
export function runAttack(
  model: Classifier,
  name: string,
  images: Pixels,
  options: AttackOptions,
  labels?: ArrayLike<number>,
): AttackOutput {
  const run = attack(name);
  const batch = batchOf(model, images, labels);
  try {
    const r = run(model, batch, options);
    try {
      return {
        xAdv: r.xAdv.dataSync() as Float32Array,
        shape: r.xAdv.shape,
        success: r.success,
        logits: r.logits.dataSync() as Float32Array,
        predictions: tf.tidy(() => tf.argMax(r.logits, 1).dataSync() as Int32Array),
        labels: batch.y.dataSync() as Int32Array,
        options: r.options,
        ...(r.epsPerExample ? { epsPerExample: r.epsPerExample } : {}),
        ...(r.metrics ? { metrics: r.metrics } : {}),
      };
    } finally {
      tf.dispose([r.xAdv, r.logits]);
    }
  } finally {
    tf.dispose([batch.x, batch.y]);
  }
}

/** Runs explainer `method` (a key of `EXPLAINERS`) on `images` and returns its maps as arrays. */
export function runExplain(
  model: Classifier,
  method: string,
  images: Pixels,
  options: ExplainOptions = {},
  labels?: ArrayLike<number>,
): ExplainOutput {
  const run = explainer(method);
  const batch = batchOf(model, images, labels);
  try {
    const r = run(model, batch, options);
    try {
      const { maps, ...rest } = r;
      return { ...rest, maps: maps.dataSync() as Float32Array, shape: maps.shape };
    } finally {
      r.maps.dispose();
    }
  } finally {
    tf.dispose([batch.x, batch.y]);
  }
}
