/**
 * Running explainers on a dataset in pieces: an {@link ExplainItem} is one explainer on one model
 * and one pass of images; an {@link ExplainRunner} runs items somewhere and answers their maps as
 * plain arrays. {@link localExplainRunner} runs them in this thread; a pool of worker threads is
 * another runner (`poolExplainRunner`, advlens/node); {@link splitSamplesRunner} splits a sampled
 * method's samples over several runs. `explainSet` (explainSet.ts) schedules the items.
 */
import * as tf from '@tensorflow/tfjs-core';
import { getBatch, type Dataset } from '../data/dataset.ts';
import type { Classifier } from '../models/classifier.ts';
import { upsample } from './cam.ts';
import { explainer, sampleCount, type ExplainOptions } from './index.ts';
import { completeness } from './integratedGradients.ts';

/** One explainer on one model and the examples `start` .. `start + count - 1`. */
export interface ExplainItem {
  /** Index of the model in the runner's list. */
  model: number;
  method: string;
  options: ExplainOptions;
  start: number;
  count: number;
}

/** An {@link ExplainItem}'s maps and numbers, read back as plain arrays. */
export interface ExplainItemOut {
  /** The maps at the method's resolution, [N, h, w, c] = `shape`. */
  raw: Float32Array;
  shape: [number, number, number, number];
  /** The maps upsampled (bilinear) to the input's H x W when smaller (CAM, Grad-CAM); null otherwise. */
  display: Float32Array | null;
  /** Channels of `display` (or of `raw` when there is no display). */
  displayChannels: number;
  targets: number[];
  options: Record<string, unknown>;
  /** The explainer's per-image numbers (scores, IG's delta, CAM's bias, ...), by name. */
  perImage: Record<string, number[]>;
}

/** Runs explainer `method` on `batch` (the caller owns it) and reads the result back; frees what it made. */
export function explainItem(
  model: Classifier,
  batch: { x: tf.Tensor4D; y: tf.Tensor1D },
  method: string,
  options: ExplainOptions,
): ExplainItemOut {
  const r = explainer(method)(model, batch, options);
  try {
    const [h, w] = model.inputShape;
    const shape = r.maps.shape;
    const raw = Float32Array.from(r.maps.dataSync() as Float32Array);
    let display: Float32Array | null = null;
    let displayChannels = shape[3];
    if (shape[1] !== h || shape[2] !== w) {
      const big = upsample(r.maps, h, w);
      display = Float32Array.from(big.dataSync() as Float32Array);
      displayChannels = big.shape[3];
      big.dispose();
    }
    const perImage: Record<string, number[]> = {};
    for (const [k, v] of Object.entries(r))
      if (k !== 'targets' && Array.isArray(v) && v.every((e) => typeof e === 'number')) perImage[k] = v;
    return { raw, shape, display, displayChannels, targets: r.targets, options: r.options, perImage };
  } finally {
    r.maps.dispose();
  }
}

/** Runs one {@link ExplainItem} of a dataset somewhere and answers its outcome. */
export type ExplainRunner = (item: ExplainItem) => Promise<ExplainItemOut>;

/** An {@link ExplainRunner} in this thread, on `models`. */
export function localExplainRunner(models: Classifier[], data: Dataset): ExplainRunner {
  return async (item) => {
    const im = getBatch(
      data,
      Array.from({ length: item.count }, (_, i) => item.start + i),
    );
    try {
      return explainItem(models[item.model], im, item.method, item.options);
    } finally {
      tf.dispose([im.x, im.y]);
    }
  };
}

/**
 * An {@link ExplainRunner} that splits an item of a sampled method (SmoothGrad, Integrated
 * Gradients: {@link sampleCount}) into `parts` ranges of its samples (`sampleRange`), runs them with
 * `run` at once (on a pool: one per worker), and adds the partial maps in range order. The map is
 * the one-thread map up to float rounding (the sums are grouped differently); IG's per-image
 * `delta` and `relativeError` are recomputed from the whole map. Other items go to `run` unchanged.
 */
export function splitSamplesRunner(run: ExplainRunner, parts: number): ExplainRunner {
  return async (item) => {
    const count = sampleCount(item.method, item.options);
    if (parts <= 1 || count === null || count < 2) return run(item);
    const k = Math.min(parts, count);
    const ranges = Array.from({ length: k }, (_, i): [number, number] => [
      Math.floor((i * count) / k),
      Math.floor(((i + 1) * count) / k),
    ]);
    const outs = await Promise.all(
      ranges.map((sampleRange) => run({ ...item, options: { ...item.options, sampleRange } })),
    );
    const sum = (pick: (o: ExplainItemOut) => Float32Array | null): Float32Array | null => {
      const first = pick(outs[0]);
      if (!first) return null;
      const total = first.slice();
      for (const o of outs.slice(1)) {
        const part = pick(o)!;
        for (let j = 0; j < total.length; j++) total[j] += part[j];
      }
      return total;
    };
    const raw = sum((o) => o.raw)!;
    const perImage = { ...outs[0].perImage };
    const { scores, baselineScores } = perImage;
    // IG's completeness, from the whole map.
    if (scores && baselineScores) Object.assign(perImage, completeness(raw, scores, baselineScores));
    const { sampleRange: _range, ...options } = outs[0].options;
    return { ...outs[0], raw, display: sum((o) => o.display), perImage, options };
  };
}
