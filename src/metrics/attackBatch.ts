/**
 * One unit of a robustness evaluation: one attack at one budget on one batch, reduced to plain typed
 * arrays (predictions, success, perturbation norms, the attack's measurements, kept images), so that
 * the same function runs in process or on a pool worker and the caller merges the batches in order
 * (src/metrics/robustness.ts). No Node imports (browser-ready).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.ts';
import type { Batch } from '../data/dataset.ts';
import { camHead } from '../explain/cam.ts';
import { camBoundCheck } from './interpretation.ts';
import {
  attack as attackByName,
  attackFacts,
  type AttackOptions,
  type AttackResult,
} from '../attacks/index.ts';

/** Per-example norms of x' - x. */
export interface Norms {
  linf: Float32Array;
  l2: Float32Array;
  l1: Float32Array;
  /** Number of changed values (|d| > 1e-7). */
  l0: Float32Array;
}

/** The L-inf, L2, L1 and L0 norms of `xAdv - x` per example. */
export function perturbationNorms(x: tf.Tensor4D, xAdv: tf.Tensor4D): Norms {
  return tf.tidy(() => {
    const d = tf.sub(xAdv, x);
    const a = tf.abs(d);
    const ax = [1, 2, 3];
    return {
      linf: tf.max(a, ax).dataSync() as Float32Array,
      l2: tf.sqrt(tf.sum(tf.square(d), ax)).dataSync() as Float32Array,
      l1: tf.sum(a, ax).dataSync() as Float32Array,
      l0: tf.sum(tf.cast(tf.greater(a, 1e-7), 'float32'), ax).dataSync() as Float32Array,
    };
  });
}

/** One attack at one budget on the examples `start` .. `start + count - 1` of a dataset. */
export interface AttackItem {
  attack: string;
  /** Everything the attack is called with: the common options, the run's extras, eps and the batch's seed. */
  options: AttackOptions;
  start: number;
  count: number;
  /** Keep the adversarial images of the examples whose index is below this (report examples). */
  keepBelow: number;
}

/** An {@link AttackItem}'s outcome, per example of its batch (plain arrays: it crosses threads). */
export interface AttackBatchOut {
  predictions: Int32Array;
  /** 1 where the attack reports success. */
  success: Uint8Array;
  linf: Float32Array;
  l2: Float32Array;
  l1: Float32Array;
  /** The attack's options with its defaults filled in. */
  options: Record<string, unknown>;
  /** Per-example measurements (the attack's own, and min-eps's CAM discrepancy); NaN = not measured. */
  metrics: Record<string, number[]>;
  /** Adversarial images [H, W, C] and perturbations of the kept examples, from the batch's first. */
  kept: { image: Float32Array; delta: Float32Array }[];
  /** Time the item took, in seconds. */
  seconds: number;
}

/** Whether `model` has a GAP + dense head whose CAMs are exact. */
function hasCamHead(model: Classifier): boolean {
  try {
    camHead(model).weights.dispose();
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs `item` on `batch` (its examples, which the caller owns) and reads the outcome back; every
 * tensor it makes is freed. For a minimum-eps search on a model with a CAM head it adds the interpretation
 * discrepancy D and proposition 1's bound (Boopathy et al.; ALGORITHMS.md 3).
 */
export function attackBatch(model: Classifier, batch: Batch, item: AttackItem): AttackBatchOut {
  const t0 = performance.now();
  const r: AttackResult = attackByName(item.attack)(model, batch, item.options);
  try {
    const metrics: Record<string, number[]> = { ...(r.metrics ?? {}) };
    if (attackFacts(item.attack).findsMinimumEps && hasCamHead(model))
      Object.assign(metrics, discrepancyMetrics(model, batch, r));
    const predictions = Int32Array.from(tf.tidy(() => tf.argMax(r.logits, 1).dataSync()));
    const norms = perturbationNorms(batch.x, r.xAdv);
    const kept: AttackBatchOut['kept'] = [];
    const nKeep = Math.max(0, Math.min(item.count, item.keepBelow - item.start));
    if (nKeep > 0) {
      const per = batch.x.size / item.count;
      const xs = batch.x.dataSync() as Float32Array;
      const xa = r.xAdv.dataSync() as Float32Array;
      for (let i = 0; i < nKeep; i++) {
        const image = xa.slice(i * per, (i + 1) * per);
        kept.push({ image, delta: image.map((v, k) => v - xs[i * per + k]) });
      }
    }
    return {
      predictions,
      success: Uint8Array.from(r.success, (s) => (s ? 1 : 0)),
      linf: Float32Array.from(norms.linf),
      l2: Float32Array.from(norms.l2),
      l1: Float32Array.from(norms.l1),
      options: r.options,
      metrics,
      kept,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    tf.dispose([r.xAdv, r.logits]);
  }
}

/** The buffers of an {@link AttackBatchOut}, to move it between threads without copying. */
export function attackBatchBuffers(o: AttackBatchOut): ArrayBuffer[] {
  return [o.predictions, o.success, o.linf, o.l2, o.l1, ...o.kept.flatMap((k) => [k.image, k.delta])].map(
    (a) => a.buffer as ArrayBuffer,
  );
}

/**
 * Interpretation discrepancy of CAM at the minimum-eps adversarial (Boopathy et al.): per found
 * example D(x, x') with t the class x' is classified as, and proposition 1's bound 1/2 (f_y(x) - f_t(x)).
 */
function discrepancyMetrics(model: Classifier, batch: Batch, r: AttackResult): Record<string, number[]> {
  const found = r.epsPerExample ?? r.success.map((s) => (s ? 0 : NaN));
  const b = camBoundCheck(model, batch, r.xAdv);
  return {
    discrepancy: b.map((v, i) => (Number.isNaN(found[i]) || !v.applies ? NaN : v.discrepancy)),
    discrepancyBound: b.map((v, i) => (Number.isNaN(found[i]) || !v.applies ? NaN : v.bound)),
    boundHolds: b.map((v, i) => (Number.isNaN(found[i]) || !v.applies ? NaN : v.holds ? 1 : 0)),
  };
}
