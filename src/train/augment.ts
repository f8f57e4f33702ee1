import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../engine/rng.ts';
import { UserError } from '../errors.ts';

/** An augmentation hook: a batch [N,H,W,C] in [0,1] in, a batch of the same shape out (caller owns). */
export type Augment = (x: tf.Tensor4D, rng: Rng) => tf.Tensor4D;

/** Random translation of each image by up to `pixels` in each direction, zero-filled. */
export function shift(pixels: number): Augment {
  return (x, rng) =>
    tf.tidy(() => {
      const [n, h, w] = x.shape;
      const padded = tf.pad(x, [
        [0, 0],
        [pixels, pixels],
        [pixels, pixels],
        [0, 0],
      ]);
      const parts: tf.Tensor4D[] = [];
      for (let i = 0; i < n; i++) {
        const dy = rng.int(2 * pixels + 1);
        const dx = rng.int(2 * pixels + 1);
        parts.push(tf.slice(padded, [i, dy, dx, 0], [1, h, w, -1]));
      }
      return tf.concat(parts, 0);
    });
}

/** Horizontal flip of each image with probability 1/2 (for natural images, not digits). */
export function flip(): Augment {
  return (x, rng) =>
    tf.tidy(() => {
      const n = x.shape[0];
      const mask = tf.tensor4d(
        Array.from({ length: n }, () => (rng.next() < 0.5 ? 1 : 0)),
        [n, 1, 1, 1],
        'float32',
      );
      const flipped = tf.image.flipLeftRight(x);
      return tf.add(tf.mul(mask, flipped), tf.mul(tf.sub(1, mask), x)) as tf.Tensor4D;
    });
}

/** Parses a comma list like `shift:2,flip` into hooks applied in order. */
export function parseAugment(spec: string | undefined): { hooks: Augment[]; names: string[] } {
  if (!spec || spec === 'none') return { hooks: [], names: [] };
  const hooks: Augment[] = [];
  const names: string[] = [];
  for (const part of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [name, arg] = part.split(':');
    if (name === 'shift') {
      const p = arg === undefined ? 2 : Number(arg);
      if (!Number.isInteger(p) || p < 1 || p > 16)
        throw new UserError(`bad augmentation '${part}': shift takes 1..16 pixels, e.g. shift:2`);
      hooks.push(shift(p));
    } else if (name === 'flip') {
      hooks.push(flip());
    } else {
      throw new UserError(`unknown augmentation '${part}'; use shift:N, flip or none`);
    }
    names.push(part);
  }
  return { hooks, names };
}
