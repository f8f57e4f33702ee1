/**
 * Patch shuffling (AT-CNN, Zhang & Zhu 2019, section 4.1): cut each image into a k x k grid of
 * (H/k) x (W/k) patches, put the patches back in a uniformly random order, so local texture stays
 * and the global shape is destroyed. AT-CNN used k in {2, 4, 8}.
 *
 * Each image's permutation is drawn from its own generator, seeded by the run's seed and the image's
 * index in the dataset ({@link imageSeed}), so the result does not depend on how the set is batched.
 * When H or W is not a multiple of k, the patches are floor(H/k) x floor(W/k) and the last H mod k
 * rows and W mod k columns stay where they are (28x28 MNIST at k = 8: 3x3 patches over the top-left
 * 24x24, a 4-pixel border unchanged).
 *
 *   const y = patchShuffle(x, 4, { seed: 1, indices: [0, 1, 2] }); // x: [3, 32, 32, 3]
 */
import * as tf from '@tensorflow/tfjs-core';
import { createRng } from '../../engine/rng.ts';
import { UserError } from '../../errors.ts';

/** The grid sizes of AT-CNN's tables. */
export const SHUFFLE_SIZES = [2, 4, 8] as const;

/** Options for {@link patchShuffle}. */
export interface PatchShuffleOptions {
  /** The run's seed (default 0). */
  seed?: number;
  /** Each image's index in its dataset, which seeds its permutation (default 0..N-1). */
  indices?: ArrayLike<number>;
}

/** The seed of image `index` of a run seeded `seed`: the same on every batching of the set. */
export function imageSeed(seed: number, index: number): number {
  return (Math.imul((Math.floor(seed) | 0) ^ 0x5bd1e995, 0x01000193) ^ Math.imul(index + 1, 0x9e3779b1)) | 0;
}

/**
 * The permutation of the k*k patches of one image: `perm[j]` is the patch (row-major in the grid)
 * that lands at grid position j. Uniform over all (k*k)! orders (Fisher-Yates).
 */
export function patchPermutation(k: number, seed: number): number[] {
  return createRng(seed).shuffle(Array.from({ length: k * k }, (_, j) => j));
}

/** Checks a grid size k for images of h x w (a one-line {@link UserError} otherwise). */
export function checkShuffle(k: number, h: number, w: number): void {
  if (!Number.isInteger(k) || k < 1 || k > Math.min(h, w))
    throw new UserError(
      `patch shuffle grid ${k} must be a whole number from 1 to ${Math.min(h, w)} for ${h}x${w} images (AT-CNN used ${SHUFFLE_SIZES.join(', ')})`,
    );
}

/**
 * For every output pixel of an h x w image, the source pixel (row-major index) when the patches
 * are arranged by `perm` (see {@link patchPermutation}).
 */
export function shuffleSourceMap(h: number, w: number, k: number, perm: readonly number[]): Int32Array {
  const ph = Math.floor(h / k);
  const pw = Math.floor(w / k);
  const src = new Int32Array(h * w);
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      let sr = r;
      let sc = c;
      if (r < ph * k && c < pw * k) {
        const from = perm[Math.floor(r / ph) * k + Math.floor(c / pw)];
        sr = Math.floor(from / k) * ph + (r % ph);
        sc = (from % k) * pw + (c % pw);
      }
      src[r * w + c] = sr * w + sc;
    }
  }
  return src;
}

/**
 * The images `x` [N, H, W, C] with their k x k patches shuffled, one seeded permutation per image;
 * a new tensor the caller owns.
 */
export function patchShuffle(x: tf.Tensor4D, k: number, opts: PatchShuffleOptions = {}): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  checkShuffle(k, h, w);
  const seed = opts.seed ?? 0;
  const indices = opts.indices ?? Array.from({ length: n }, (_, i) => i);
  if (indices.length !== n)
    throw new Error(`patchShuffle: ${indices.length} indices for a batch of ${n} images`);
  const all = new Int32Array(n * h * w);
  for (let i = 0; i < n; i++) {
    const map = shuffleSourceMap(h, w, k, patchPermutation(k, imageSeed(seed, indices[i])));
    for (let p = 0; p < h * w; p++) all[i * h * w + p] = i * h * w + map[p];
  }
  return tf.tidy(() => {
    const gather = tf.tensor1d(all, 'int32');
    return tf.reshape(tf.gather(tf.reshape(x, [n * h * w, c]), gather), [n, h, w, c]) as tf.Tensor4D;
  });
}
