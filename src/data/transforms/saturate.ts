/**
 * Saturation (AT-CNN, Zhang & Zhu 2019, section 4.1): every channel value v in [0, 1] becomes
 *
 *   v' = sign(2v - 1) * |2v - 1|^(2/p) * 0.5 + 0.5, clipped to [0, 1],
 *
 * before the model's normalisation. p = 2 is the identity, p < 2 pulls values towards grey (0.5),
 * p > 2 pushes them towards 0 and 1, and p -> infinity gives a binary image. AT-CNN used p in
 * {1, 2, 4, 8, 16, 64, 1024}.
 *
 *   const y = saturate(x, 8); // x: [N, H, W, C] in [0, 1]; y: the caller's
 */
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../../errors.ts';

/** The saturation levels of AT-CNN's tables. */
export const SATURATION_LEVELS = [1, 2, 4, 8, 16, 64, 1024] as const;

/** Checks a saturation level: a finite number > 0 (a one-line {@link UserError} otherwise). */
export function checkSaturation(p: number): void {
  if (!(Number.isFinite(p) && p > 0))
    throw new UserError(
      `saturation level ${p} must be a number > 0 (AT-CNN used ${SATURATION_LEVELS.join(', ')}; 2 is the identity)`,
    );
}

/** One value saturated at level p (the formula above), for checks and for plain arrays. */
export function saturateValue(v: number, p: number): number {
  const d = 2 * v - 1;
  const out = Math.sign(d) * Math.pow(Math.abs(d), 2 / p) * 0.5 + 0.5;
  return Math.min(1, Math.max(0, out));
}

/**
 * The images `x` [N, H, W, C] (values in [0, 1]) saturated at level `p`; a new tensor the caller owns.
 * Deterministic: it draws nothing.
 */
export function saturate(x: tf.Tensor4D, p: number): tf.Tensor4D {
  checkSaturation(p);
  return tf.tidy(() => {
    if (p === 2) return tf.clipByValue(x, 0, 1);
    const d = tf.sub(tf.mul(x, 2), 1);
    const out = tf.add(tf.mul(tf.mul(tf.sign(d), tf.pow(tf.abs(d), 2 / p)), 0.5), 0.5);
    return tf.clipByValue(out, 0, 1) as tf.Tensor4D;
  });
}
