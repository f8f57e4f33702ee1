/**
 * The eps-ball every L-inf / L2 attack moves in: its budget check, projection, random start and the
 * projected gradient-ascent loop (Madry et al. 2018, section 2; ALGORITHMS.md section 1). PGD, the
 * minimum-eps search, AAI and the robust training objectives all step with these. Images are
 * [N, H, W, C] in [0, 1]; a budget is one number or one per example as [N, 1, 1, 1].
 *
 *   const xa = projectedAscent(x, randomStart(x, 0.3, 'linf', 0), gradientAt, { eps: 0.3, stepSize: 0.01, steps: 40, norm: 'linf' });
 *   const inBall = project(x, xa, 0.3, 'linf');
 */
import * as tf from '@tensorflow/tfjs-core';
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
