/**
 * The attack sweep of Bluff: the original class's images attacked toward the target class at growing
 * strengths, with any registered attack (src/attacks), targeted. Bluff's recipe: targeted L2 PGD, 50
 * steps of eps / 5, strengths 0.05 .. 0.50 on inputs in [-1, 1], which is 0.025 .. 0.25 in advlens's
 * [0, 1] pixel units (the defaults here). Bluff keeps only the images that reached the target, so each
 * strength rests on its own subset (`keep: 'successful'`); `keep: 'all'` compares every strength on the
 * same images. Success counts are always reported.
 *
 *   const sweep = attackSweep(model, x, 1, { strengths: [0.5, 1, 2] });
 *   // sweep[s].x: kept images at strength s (caller owns), sweep[s].succeeded: how many reached class 1
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.ts';
import { attack, type AttackOptions } from '../attacks/index.ts';
import { UserError } from '../errors.ts';

/** Options of the attack sweep over strengths: attack and its options, strengths, steps, step fraction, which images to keep, batch size, seed. */
export interface SweepOptions {
  /** Registered attack name (Bluff: 'pgd-l2'). */
  attack?: string;
  /** Budgets in the attack's units on [0, 1] pixels (Bluff's 0.05 .. 0.50 on [-1, 1], halved). */
  strengths?: number[];
  /** Iterations of an iterative attack (Bluff: 50). */
  steps?: number;
  /** Step size as a fraction of the strength (Bluff: 1/5). */
  stepFraction?: number;
  /** Keep only the images that reached the target (Bluff), or all of them. */
  keep?: 'successful' | 'all';
  /** Images per attack call. */
  batchSize?: number;
  seed?: number;
  /** More options for the attack (loss, restarts, ...). */
  attackOptions?: Partial<AttackOptions>;
  /** Called after each strength. */
  onProgress?: (done: number, total: number) => void;
}

/** The defaults of {@link SweepOptions}, in one place. */
export const SWEEP_DEFAULTS = {
  attack: 'pgd-l2',
  strengths: Array.from({ length: 10 }, (_, i) => Math.round((i + 1) * 25) / 1000),
  steps: 50,
  stepFraction: 1 / 5,
  keep: 'successful' as 'successful' | 'all',
  batchSize: 32,
  seed: 0,
};

/** One strength of the sweep: its attacked images, which reached the target, and which are kept. */
export interface SweepStrength {
  strength: number;
  attempted: number;
  succeeded: number;
  /** Per image: classified as the target after the attack. */
  success: boolean[];
  /** Indices (into the input images) of the kept images. */
  kept: number[];
  /** The kept attacked images [kept, H, W, C]; the caller owns them. */
  x: tf.Tensor4D;
}

/** Checks the strengths: positive, finite, increasing. */
export function checkStrengths(strengths: number[]): void {
  if (strengths.length === 0)
    throw new UserError('give at least one attack strength, e.g. --strengths 0.5,1,2');
  strengths.forEach((s, i) => {
    if (!Number.isFinite(s) || s <= 0) throw new UserError(`attack strength ${s} must be a positive number`);
    if (i > 0 && s <= strengths[i - 1])
      throw new UserError(`attack strengths must increase: ${strengths[i - 1]} is followed by ${s}`);
  });
}

/** Attacks images x [N, H, W, C] in [0, 1] (of one class) toward class `target` at each strength. */
export function attackSweep(
  model: Classifier,
  x: tf.Tensor4D,
  target: number,
  o: SweepOptions = {},
): SweepStrength[] {
  const d = { ...SWEEP_DEFAULTS, ...o };
  checkStrengths(d.strengths);
  const run = attack(d.attack);
  const n = x.shape[0];
  const out: SweepStrength[] = [];
  d.strengths.forEach((eps, s) => {
    const parts: tf.Tensor4D[] = [];
    const success: boolean[] = [];
    for (let i = 0; i < n; i += d.batchSize) {
      const m = Math.min(d.batchSize, n - i);
      const xs = tf.slice(x, [i, 0, 0, 0], [m, -1, -1, -1]);
      const y = tf.fill([m], target, 'int32') as tf.Tensor1D;
      try {
        const r = run(
          model,
          { x: xs, y },
          {
            steps: d.steps,
            stepSize: eps * d.stepFraction,
            seed: d.seed + 7 * s,
            ...d.attackOptions,
            eps,
            target,
          },
        );
        r.logits.dispose();
        parts.push(r.xAdv);
        success.push(...r.success);
      } finally {
        tf.dispose([xs, y]);
      }
    }
    const kept = success.flatMap((ok, i) => (ok || d.keep === 'all' ? [i] : []));
    const all = parts.length === 1 ? parts[0] : tf.concat(parts, 0);
    if (parts.length > 1) tf.dispose(parts);
    const xk =
      kept.length === n ? all : tf.tidy(() => tf.gather(all, tf.tensor1d(kept, 'int32'), 0) as tf.Tensor4D);
    if (xk !== all) all.dispose();
    out.push({
      strength: eps,
      attempted: n,
      succeeded: success.filter(Boolean).length,
      success,
      kept,
      x: xk,
    });
    d.onProgress?.(s + 1, d.strengths.length);
  });
  return out;
}
