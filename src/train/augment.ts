import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../engine/rng.ts';
import { UserError } from '../errors.ts';

/** An augmentation hook: a batch [N,H,W,C] in [0,1] in, a batch of the same shape out (caller owns). */
export type Augment = (x: tf.Tensor4D, rng: Rng) => tf.Tensor4D;

/**
 * Random translation of each image by up to `pixels` in each direction, zero-filled. Runs on the
 * batch's values in plain JavaScript: one tensor op per image (slice, then concat) cost more than
 * the training step of a small CNN.
 */
export function shift(pixels: number): Augment {
  return (x, rng) => {
    const [n, h, w, c] = x.shape;
    const src = x.dataSync() as Float32Array;
    const out = new Float32Array(src.length);
    const per = h * w * c;
    for (let i = 0; i < n; i++) {
      // The image moves by (pixels - dy, pixels - dx): output (r, q) reads input (r + dy - pixels, q + dx - pixels).
      const dy = rng.int(2 * pixels + 1) - pixels;
      const dx = rng.int(2 * pixels + 1) - pixels;
      const base = i * per;
      for (let r = 0; r < h; r++) {
        const sr = r + dy;
        if (sr < 0 || sr >= h) continue;
        const q0 = Math.max(0, -dx);
        const q1 = Math.min(w, w - dx);
        if (q1 <= q0) continue;
        out.set(
          src.subarray(base + (sr * w + q0 + dx) * c, base + (sr * w + q1 + dx) * c),
          base + (r * w + q0) * c,
        );
      }
    }
    return tf.tensor4d(out, [n, h, w, c]);
  };
}

/** Horizontal flip of each image with probability 1/2 (for natural images, not digits). */
export function flip(): Augment {
  return (x, rng) => {
    const [n, h, w, c] = x.shape;
    const src = x.dataSync() as Float32Array;
    const out = src.slice();
    const per = h * w * c;
    for (let i = 0; i < n; i++) {
      if (!(rng.next() < 0.5)) continue;
      for (let r = 0; r < h; r++)
        for (let q = 0; q < w; q++) {
          const to = i * per + (r * w + q) * c;
          const from = i * per + (r * w + (w - 1 - q)) * c;
          for (let k = 0; k < c; k++) out[to + k] = src[from + k];
        }
    }
    return tf.tensor4d(out, [n, h, w, c]);
  };
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
