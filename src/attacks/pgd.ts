/**
 * PGD: Madry et al., "Towards Deep Learning Models Resistant to Adversarial Attacks", ICLR 2018.
 * Bounds the L-inf or L2 distance. Repeats `steps` times: step along sign(g) (L-inf) or g/||g||_2 (L2)
 * by `stepSize`, project onto the eps-ball around x, clip to [0, 1].
 * Options and defaults: `eps` (required), `norm` 'linf', `steps` 40, `stepSize` 0.01 (L-inf) or
 * eps/5 (L2), `randomStart` false, `restarts` 0 (each restart random-starts; the worst case per
 * example is kept), `target` (untargeted when absent), `loss` 'ce' | 'cw', `earlyStop` false, `seed` 0.
 * Input: images [N, H, W, C] in [0, 1] with int32 labels [N].
 *
 *   const r = pgd(model, batch, { eps: 0.3, steps: 40, stepSize: 0.01 });
 *   tf.dispose([r.xAdv, r.logits]);
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Attack, AttackOptions } from './types.ts';
import type { Classifier } from '../models/classifier.ts';
import { attackLoss, finishAttack, lossGradient, lossLabels, successOf } from './loss.ts';
import { UserError } from '../errors.ts';

/** A budget must be a finite number >= 0. */
export function checkEps(eps: number): void {
  if (!Number.isFinite(eps) || eps < 0) throw new UserError(`eps must be a number >= 0 (got ${eps})`);
}

/** Per-example L2 norm of [N,H,W,C] as [N,1,1,1]. */
export function l2(t: tf.Tensor4D): tf.Tensor4D {
  return tf.sqrt(tf.sum(tf.square(t), [1, 2, 3], true)) as tf.Tensor4D;
}

/** A budget: one for the batch, or one per example as [N,1,1,1]. */
export type Budget = number | tf.Tensor4D;

/** Projects x' onto the eps-ball around x (in `norm`) and into [0, 1]. */
export function project(x: tf.Tensor4D, xAdv: tf.Tensor4D, eps: Budget, norm: 'linf' | 'l2'): tf.Tensor4D {
  return tf.tidy(() => {
    if (norm === 'linf')
      return tf.minimum(
        tf.maximum(xAdv, tf.maximum(tf.sub(x, eps), 0)),
        tf.minimum(tf.add(x, eps), 1),
      ) as tf.Tensor4D;
    const d = tf.sub(xAdv, x) as tf.Tensor4D;
    const scale = tf.minimum(1, tf.div(eps, tf.add(l2(d), 1e-12)));
    return tf.clipByValue(tf.add(x, tf.mul(d, scale)), 0, 1) as tf.Tensor4D;
  });
}

/**
 * A random point of the eps-ball around x, in [0, 1]: x + U(-eps, eps) (L-inf) or x plus a random
 * direction scaled by U(0, eps) (L2), projected (caller owns).
 */
export function randomStart(x: tf.Tensor4D, eps: number, norm: 'linf' | 'l2', seed: number): tf.Tensor4D {
  return tf.tidy(() => {
    if (norm === 'linf')
      return project(
        x,
        tf.add(x, tf.randomUniform(x.shape, -eps, eps, 'float32', seed)) as tf.Tensor4D,
        eps,
        norm,
      );
    const dir = tf.randomNormal(x.shape, 0, 1, 'float32', seed) as tf.Tensor4D;
    const r = tf.mul(eps, tf.randomUniform([x.shape[0], 1, 1, 1], 0, 1, 'float32', seed + 1));
    return project(x, tf.add(x, tf.mul(tf.div(dir, tf.add(l2(dir), 1e-12)), r)) as tf.Tensor4D, eps, norm);
  });
}

function defaults(o: AttackOptions) {
  const norm = o.norm ?? 'linf';
  if (norm !== 'linf' && norm !== 'l2') throw new UserError(`unknown norm '${norm}'; use linf or l2`);
  const steps = o.steps ?? 40;
  if (!Number.isInteger(steps) || steps < 0)
    throw new UserError(`steps must be an integer >= 0 (got ${steps})`);
  const stepSize = o.stepSize ?? (norm === 'linf' ? 0.01 : o.eps / 5);
  if (!(stepSize >= 0)) throw new UserError(`step size must be >= 0 (got ${stepSize})`);
  return {
    norm,
    steps,
    stepSize,
    randomStart: o.randomStart ?? false,
    restarts: o.restarts ?? 0,
    loss: o.loss ?? 'ce',
    earlyStop: o.earlyStop ?? false,
    seed: o.seed ?? 0,
  } as const;
}

/** Options of the projected step loop: budget and step may be per example ([N,1,1,1]). */
export interface StepOptions {
  eps: Budget;
  stepSize: Budget;
  steps: number;
  norm: 'linf' | 'l2';
}

/**
 * Projected gradient ascent from `start` (taken over and disposed): `steps` steps of `stepSize` along
 * sign(g) (L-inf) or g/||g||_2 (L2), with g = `gradient(x')`, each projected onto the eps-ball around
 * `x` and into [0, 1]. Where `hold(x')` is true an example keeps its current image (early stop).
 * Every PGD-like inner loop (attacks, robust training objectives) runs on this. Caller owns the result.
 */
export function projectedAscent(
  x: tf.Tensor4D,
  start: tf.Tensor4D,
  gradient: (xa: tf.Tensor4D) => tf.Tensor4D,
  d: StepOptions,
  hold?: (xa: tf.Tensor4D) => tf.Tensor,
): tf.Tensor4D {
  let xa = start;
  for (let s = 0; s < d.steps; s++) {
    const next = tf.tidy(() => {
      const g = gradient(xa);
      const dir = d.norm === 'linf' ? tf.sign(g) : tf.div(g, tf.add(l2(g), 1e-12));
      const stepped = project(x, tf.add(xa, tf.mul(d.stepSize, dir)) as tf.Tensor4D, d.eps, d.norm);
      if (!hold) return stepped;
      return tf.where(
        tf.broadcastTo(tf.reshape(hold(xa), [-1, 1, 1, 1]), xa.shape),
        xa,
        stepped,
      ) as tf.Tensor4D;
    });
    xa.dispose();
    xa = next;
  }
  return xa;
}

/**
 * The PGD iteration on the attack loss (CE or CW, see loss.ts) from `start` (taken over and
 * disposed), with early stop once an example is misclassified (or reaches its target). Budget and
 * step may be per example ([N,1,1,1]), as the minimum-eps search needs. The caller owns the result.
 */
export function pgdSteps(
  model: Classifier,
  x: tf.Tensor4D,
  start: tf.Tensor4D,
  labels: tf.Tensor1D,
  targeted: boolean,
  d: StepOptions & { loss: 'ce' | 'cw'; earlyStop: boolean },
): tf.Tensor4D {
  const done = (xa: tf.Tensor4D) => {
    const pred = tf.argMax(model.logits(xa), 1);
    return targeted ? tf.equal(pred, labels) : tf.notEqual(pred, tf.cast(labels, 'int32'));
  };
  return projectedAscent(
    x,
    start,
    (xa) => lossGradient(model, xa, labels, targeted, d.loss),
    d,
    d.earlyStop ? done : undefined,
  );
}

export const pgd: Attack = (model, batch, o) => {
  checkEps(o.eps);
  const d = defaults(o);
  const { labels, targeted } = lossLabels(batch.y, o.target, model.labels.length);
  const x = batch.x;
  let best: tf.Tensor4D | null = null;
  let bestScore: Float32Array | null = null;
  for (let r = 0; r <= d.restarts; r++) {
    let xa = d.randomStart || r > 0 ? randomStart(x, o.eps, d.norm, d.seed + 7919 * r) : tf.clone(x);
    xa = pgdSteps(model, x, xa, labels, targeted, { ...d, eps: o.eps });
    // Worst case per example: a success beats a failure; between equals, the higher loss wins.
    const score = tf.tidy(() => {
      const logits = model.logits(xa);
      const loss = attackLoss(logits, labels, targeted, d.loss).dataSync() as Float32Array;
      const ok = successOf(logits, labels, targeted);
      return Float32Array.from(loss, (v, i) => (ok[i] ? 1e30 : v));
    });
    if (!best || !bestScore) {
      best = xa;
      bestScore = score;
    } else {
      const take = Array.from(score, (v, i) => (v > bestScore![i] ? 1 : 0));
      const merged = tf.tidy(
        () =>
          tf.where(
            tf.broadcastTo(tf.reshape(tf.tensor1d(take, 'bool'), [-1, 1, 1, 1]), xa.shape),
            xa,
            best!,
          ) as tf.Tensor4D,
      );
      take.forEach((t, i) => t && (bestScore![i] = score[i]));
      tf.dispose([best, xa]);
      best = merged;
    }
  }
  return finishAttack(model, best as tf.Tensor4D, labels, targeted, {
    attack: `pgd-${d.norm}`,
    eps: o.eps,
    ...d,
    target: o.target ?? null,
  });
};
