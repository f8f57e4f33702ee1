/**
 * The small interface through which a zoo table applies an image transform by name (AT-CNN's
 * saturation and patch shuffling, ALGORITHMS.md section 5): a transform maps a batch of images
 * [N, H, W, C] in [0, 1] to a batch of the same shape, deterministically for a given seed and the
 * images' indices in their dataset (so the result does not depend on the batching). The
 * transforms themselves live in src/data/transforms/ and are registered here under the names the
 * table's columns use (`saturate`, `shuffle`); a column whose transform is not registered shows
 * "not available" instead of failing. Users can register their own (or replace these).
 *
 *   registerTableTransform('saturate', (p) => (x) => saturate(x, p));
 *   tableTransform('saturate', 8)?.(batch.x, { seed: 1, indices: [0, 1, 2] });
 */
import type * as tf from '@tensorflow/tfjs-core';
import { patchShuffle, saturate } from '../data/transforms/index.ts';

/** What a transform draws its randomness from: the run's seed and each image's index in its dataset. */
export interface TransformDraw {
  seed: number;
  indices: ArrayLike<number>;
}

/** Transforms a batch (caller owns the result; the input is not disposed). */
export type BatchTransform = (x: tf.Tensor4D, draw: TransformDraw) => tf.Tensor4D;

const PROVIDERS = new Map<string, (param: number) => BatchTransform>();

/** Registers (or replaces) the transform `name`, built for a parameter (saturation level, grid size). */
export function registerTableTransform(name: string, make: (param: number) => BatchTransform): void {
  PROVIDERS.set(name, make);
}

/** Removes a registered transform (tests). */
export function unregisterTableTransform(name: string): void {
  PROVIDERS.delete(name);
}

/** The transform `name` at `param`, or null when none of that name is registered. */
export function tableTransform(name: string, param: number): BatchTransform | null {
  const make = PROVIDERS.get(name);
  return make ? make(param) : null;
}

/** Registers the project's transforms: `saturate` (level p) and `shuffle` (grid k), src/data/transforms/. */
export function registerBuiltinTableTransforms(): void {
  registerTableTransform('saturate', (p) => (x) => saturate(x, p));
  registerTableTransform(
    'shuffle',
    (k) => (x, d) => patchShuffle(x, k, { seed: d.seed, indices: d.indices }),
  );
}

registerBuiltinTableTransforms();
