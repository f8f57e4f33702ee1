/**
 * Attacking a set of images and keeping what a user looks at: per image the predictions before and
 * after (top k), the adversarial image as 8-bit pixels rounded toward the original (so a saved PNG
 * stays inside the ball, and predictions on exactly those pixels), the perturbation's norms, and
 * the pictures (original, adversarial, amplified perturbation). Batches get seeds seed + index of
 * their first image. `advlens attack` writes it with report/attack.ts.
 *
 *   const set = attackSet({ model, data, attack: 'pgd-linf', eps: 0.1, options: { seed: 0 },
 *     inputs: names, labelled: true });
 */
import * as tf from '@tensorflow/tfjs-core';
import { getBatch, makeDataset, type Dataset } from '../data/dataset.ts';
import { perturbationNorms } from '../metrics/robustness.ts';
import type { Classifier } from '../models/classifier.ts';
import { attack as attackByName, type AttackOptions } from './index.ts';

/** A class and its probability. */
export interface Top {
  index: number;
  label: string;
  probability: number;
}

/** One attacked image. */
export interface AttackSetRow {
  input: string;
  label: { index: number; name: string } | null;
  target: { index: number; name: string } | null;
  /** Top-k before the attack, after it (float pixels), and on the saved 8-bit pixels. */
  before: Top[];
  after: Top[];
  saved: Top[];
  /** The attack's own success (float pixels) and success on the saved pixels. */
  success: boolean;
  savedSuccess: boolean;
  /** A targeted attack on an image the model already gave the target class before the attack. */
  alreadyTarget: boolean;
  norms: { linf: number; l2: number; l1: number; l0: number };
  /** min-eps: the smallest budget found (null where none); undefined for other attacks. */
  epsFound?: number | null;
  /** The perturbation picture is 0.5 + amplify * delta. */
  amplify: number;
}

/** An attacked image's pictures, [H, W, C]: original and perturbation picture in [0, 1], adversarial 8-bit. */
export interface AttackPictures {
  original: Float32Array;
  adversarial: Uint8Array;
  perturbation: Float32Array;
}

/** Options of {@link attackSet}. */
export interface AttackSetOptions {
  model: Classifier;
  data: Dataset;
  /** A name per image. */
  inputs: string[];
  /** The labels are real; otherwise untargeted attacks move away from the clean prediction (see {@link withPredictedLabels}). */
  labelled: boolean;
  attack: string;
  eps: number;
  options: Omit<AttackOptions, 'eps'>;
  /** Images attacked together (default 32). */
  batchSize?: number;
  /** Classes kept before and after (default 3). */
  top?: number;
  /** Fixed amplification of the perturbation picture (default per image: the largest change fills the range). */
  amplify?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Top-k classes per row of logits. */
function topK(model: Classifier, logits: tf.Tensor2D, k: number): Top[][] {
  const { v, i } = tf.tidy(() => {
    const t = tf.topk(tf.softmax(logits), k);
    return { v: t.values.arraySync() as number[][], i: t.indices.arraySync() as number[][] };
  });
  return i.map((row, r) => row.map((c, j) => ({ index: c, label: model.labels[c], probability: v[r][j] })));
}

/**
 * The adversarial image as 8-bit pixels, each rounded toward the original (which is 8-bit when it came
 * from an image file), so the saved PNG stays inside the attack's ball; floats within 1e-3 of a level
 * count as that level.
 */
export function toBytesTowardOriginal(x: Float32Array, xa: Float32Array): Uint8Array {
  const out = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const k = Math.round(x[i] * 255);
    const d = (xa[i] - x[i]) * 255;
    const m = d >= 0 ? Math.floor(d + 1e-3) : Math.ceil(d - 1e-3);
    out[i] = Math.min(255, Math.max(0, k + m));
  }
  return out;
}

/** Unlabelled images labelled with `model`'s own clean predictions, its labels as the class names. */
export function withPredictedLabels(model: Classifier, images: Dataset): Dataset {
  const pred = tf.tidy(() => {
    const { x, y } = getBatch(
      images,
      Array.from({ length: images.size }, (_, i) => i),
    );
    const p = tf.argMax(model.logits(x), 1).dataSync();
    tf.dispose([x, y]);
    return Int32Array.from(p);
  });
  return makeDataset({ ...images, classNames: model.labels, labels: pred });
}

/** Attacks every image of `o.data` (see the file's comment); returns rows, pictures and the attack's options. */
export function attackSet(o: AttackSetOptions): {
  rows: AttackSetRow[];
  pictures: AttackPictures[];
  options: Record<string, unknown>;
} {
  const { model, data } = o;
  const fn = attackByName(o.attack);
  const [h, w, c] = model.inputShape;
  const per = h * w * c;
  const bs = o.batchSize ?? 32;
  const k = Math.min(o.top ?? 3, model.labels.length);
  const seed = o.options.seed ?? 0;
  const rows: AttackSetRow[] = [];
  const pictures: AttackPictures[] = [];
  let options: Record<string, unknown> = {};
  for (let s = 0; s < data.size; s += bs) {
    const idx = Array.from({ length: Math.min(bs, data.size - s) }, (_, i) => s + i);
    const batch = getBatch(data, idx);
    const before = tf.tidy(() => model.logits(batch.x));
    const r = fn(model, batch, { ...o.options, eps: o.eps, seed: seed + s });
    options = r.options;
    const xs = batch.x.dataSync() as Float32Array;
    const xa = r.xAdv.dataSync() as Float32Array;
    const saved = toBytesTowardOriginal(xs, xa);
    const savedX = tf.tensor4d(
      Float32Array.from(saved, (v) => v / 255),
      batch.x.shape,
    );
    const savedLogits = model.logits(savedX);
    const topBefore = topK(model, before, k);
    const topAfter = topK(model, r.logits, k);
    const topSaved = topK(model, savedLogits, k);
    const norms = perturbationNorms(batch.x, savedX);
    for (let i = 0; i < idx.length; i++) {
      const j = idx[i];
      const delta = new Float32Array(per);
      let maxAbs = 0;
      for (let p = 0; p < per; p++) {
        delta[p] = saved[i * per + p] / 255 - xs[i * per + p];
        maxAbs = Math.max(maxAbs, Math.abs(delta[p]));
      }
      const amp = o.amplify ?? (maxAbs > 0 ? 0.5 / maxAbs : 1);
      const label = data.labels[j];
      const target = o.options.target as number | undefined;
      const savedTop = topSaved[i][0].index;
      rows.push({
        input: o.inputs[j],
        label: o.labelled ? { index: label, name: model.labels[label] } : null,
        target: target === undefined ? null : { index: target, name: model.labels[target] },
        before: topBefore[i],
        after: topAfter[i],
        saved: topSaved[i],
        success: r.success[i],
        savedSuccess: target !== undefined ? savedTop === target : savedTop !== label,
        alreadyTarget: target !== undefined && topBefore[i][0].index === target,
        norms: { linf: norms.linf[i], l2: norms.l2[i], l1: norms.l1[i], l0: norms.l0[i] },
        epsFound: r.epsPerExample
          ? Number.isNaN(r.epsPerExample[i])
            ? null
            : r.epsPerExample[i]
          : undefined,
        amplify: amp,
      });
      pictures.push({
        original: xs.slice(i * per, (i + 1) * per),
        adversarial: saved.slice(i * per, (i + 1) * per),
        perturbation: delta.map((d) => 0.5 + amp * d),
      });
    }
    tf.dispose([batch.x, batch.y, before, r.xAdv, r.logits, savedX, savedLogits]);
    o.onProgress?.(s + idx.length, data.size);
  }
  return { rows, pictures, options };
}
