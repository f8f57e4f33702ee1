/**
 * Stylisation (Geirhos et al. 2019, Stylized-ImageNet; AT-CNN's "stylised" test sets): each image is
 * re-rendered with the texture of a painting drawn at random, keeping its shapes. Two networks:
 *
 * - `arbitrary`: Ghiasi et al. 2017 arbitrary style transfer (the Magenta model distilled to a
 *   MobileNet style network and a small transformer, `../shared/models/arbitrary-style`): `style`
 *   maps a painting (0-255 NHWC) to a 100-d vector, `transfer` renders (content 0-255, vector) to
 *   0-255. A random painting per image, seeded by the run's seed and the image's index, as
 *   Stylized-ImageNet drew one painting per image (it used AdaIN; this is the same idea with a
 *   network that runs in TensorFlow.js). `strength` < 1 mixes the painting's vector with the
 *   content's own, taken at the paintings' size (Ghiasi et al.'s interpolation).
 * - `fast:<style>`: one of Johnson et al.'s fixed-style networks ({@link fastStyleNet}).
 *
 * Small images are upsampled (bilinear) by a whole factor to about `size` pixels a side, where the
 * networks paint textures rather than colour washes, stylised, and brought back by averaging each
 * factor x factor block. Browser-safe: models and paintings come in as tensors and graph models.
 *
 *   const s = arbitraryStylizer({ style, transfer }, paintings, { seed: 1 });
 *   const y = s(x, indices); // x: [N, H, W, 3] in [0, 1]; y: the same shape, the caller's
 *   s.dispose();
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import { createRng } from '../../engine/rng.ts';
import { UserError } from '../../errors.ts';
import { imageSeed } from './patchShuffle.ts';

/** The two graph models of the arbitrary style transfer. */
export interface ArbitraryStyleModels {
  style: GraphModel;
  transfer: GraphModel;
}

/** A stylisation of a batch: images [N, H, W, 3] in [0, 1] and their dataset indices -> a new tensor. */
export interface Stylizer {
  (x: tf.Tensor4D, indices: ArrayLike<number>): tf.Tensor4D;
  /** What it does, for provenance: method, paintings, seed, working size. */
  describe: Record<string, unknown>;
  /** Which painting image `index` gets (arbitrary method), for provenance and checks. */
  paintingOf?: (index: number) => number;
  /** Frees the tensors it holds (the style vectors), not the models. */
  dispose(): void;
}

/** Options shared by both methods. */
export interface StylizeOptions {
  /** Side (pixels) to work at: images are upsampled by round(size / side) (default 256). */
  size?: number;
  /** Images stylised at once (default 4). */
  batchSize?: number;
}

/** The whole upsampling factor for a side of `side` pixels to work at about `size` (at least 1). */
export function workFactor(side: number, size: number): number {
  return Math.max(1, Math.round(size / side));
}

/**
 * Runs `net` (0-1 images to 0-1 images) on x [N, H, W, 3] at `factor` times the size: bilinear
 * upsampling, the network, then the mean of each factor x factor block. In chunks of `batchSize`.
 */
export function atScale(
  x: tf.Tensor4D,
  factor: number,
  batchSize: number,
  net: (big: tf.Tensor4D, from: number, count: number) => tf.Tensor4D,
): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  if (c !== 3) throw new UserError(`stylisation needs RGB images; these have ${c} channel(s)`);
  const parts: tf.Tensor4D[] = [];
  for (let i = 0; i < n; i += batchSize) {
    const count = Math.min(batchSize, n - i);
    parts.push(
      tf.tidy(() => {
        const chunk = tf.slice(x, [i, 0, 0, 0], [count, h, w, c]);
        const big =
          factor > 1 ? tf.image.resizeBilinear(chunk, [h * factor, w * factor], false, true) : chunk;
        const out = net(big as tf.Tensor4D, i, count);
        const back = factor > 1 ? tf.avgPool(out, factor, factor, 'valid') : out;
        return tf.clipByValue(back, 0, 1) as tf.Tensor4D;
      }),
    );
  }
  const all = tf.concat(parts, 0) as tf.Tensor4D;
  tf.dispose(parts);
  return all;
}

/**
 * The style vectors [P, 100] of `paintings` (each [1, h, w, 3] in [0, 1]) by the style network;
 * the caller owns the result.
 */
export function styleVectors(models: ArbitraryStyleModels, paintings: tf.Tensor4D[]): tf.Tensor2D {
  if (paintings.length === 0) throw new UserError('stylisation needs at least one painting');
  return tf.tidy(() => {
    const v = paintings.map((p) => tf.reshape(models.style.predict(tf.mul(p, 255)) as tf.Tensor, [1, -1]));
    return tf.concat(v, 0) as tf.Tensor2D;
  });
}

/** Side (pixels) the paintings are read at for their style vectors, and an image's own is taken at. */
export const PAINTING_SIZE = 256;

/** Options of {@link arbitraryStylizer}. */
export interface ArbitraryOptions extends StylizeOptions {
  /** The run's seed: with the image's index it picks the painting (default 0). */
  seed?: number;
  /** 1 renders with the painting's style, 0 with the content's own; in between mixes (default 1). */
  strength?: number;
  /** Names of the paintings, for provenance. */
  paintingNames?: string[];
}

/**
 * A {@link Stylizer} with the arbitrary network: image `index` gets painting
 * `createRng(imageSeed(seed, index)).int(P)`. It computes the paintings' style vectors once and
 * holds them until `dispose()`.
 */
export function arbitraryStylizer(
  models: ArbitraryStyleModels,
  paintings: tf.Tensor4D[],
  opts: ArbitraryOptions = {},
): Stylizer {
  const seed = opts.seed ?? 0;
  const size = opts.size ?? 256;
  const batchSize = opts.batchSize ?? 4;
  const strength = opts.strength ?? 1;
  if (!(strength >= 0 && strength <= 1))
    throw new UserError(`stylisation strength ${strength} must be in [0, 1]`);
  const vectors = styleVectors(models, paintings);
  const count = paintings.length;
  const paintingOf = (index: number) => createRng(imageSeed(seed ^ 0x2545f491, index)).int(count);
  const run = (x: tf.Tensor4D, indices: ArrayLike<number>): tf.Tensor4D => {
    if (indices.length !== x.shape[0])
      throw new Error(`stylize: ${indices.length} indices for ${x.shape[0]} images`);
    const factor = workFactor(Math.min(x.shape[1], x.shape[2]), size);
    return atScale(x, factor, batchSize, (big, from, n) => {
      const chosen = Array.from({ length: n }, (_, j) => paintingOf(indices[from + j]));
      const content = tf.mul(big, 255);
      let v = tf.gather(vectors, tf.tensor1d(chosen, 'int32'));
      if (strength < 1) {
        // The image's own style vector, from the image at the paintings' size (the style
        // network needs at least 32x32, and the vectors are then comparable).
        const seen = tf.image.resizeBilinear(
          content as tf.Tensor4D,
          [PAINTING_SIZE, PAINTING_SIZE],
          false,
          true,
        );
        const own = tf.reshape(models.style.predict(seen) as tf.Tensor, [n, -1]);
        v = tf.add(tf.mul(v, strength), tf.mul(own, 1 - strength));
      }
      const out = models.transfer.predict([content, v]) as tf.Tensor4D;
      return tf.div(out, 255);
    });
  };
  return Object.assign(run, {
    describe: {
      method: 'arbitrary',
      network: 'Ghiasi et al. 2017 arbitrary style transfer (MobileNet style network + transformer)',
      paintings: opts.paintingNames ?? count,
      seed,
      strength,
      workSize: size,
      painting: 'createRng(imageSeed(seed ^ 0x2545f491, index)).int(paintings)',
    },
    paintingOf,
    dispose: () => vectors.dispose(),
  });
}

/** A {@link Stylizer} with a fixed-style network (see {@link fastStyleNet}); it draws nothing. */
export function fastStylizer(
  net: (x: tf.Tensor4D) => tf.Tensor4D,
  style: string,
  opts: StylizeOptions = {},
): Stylizer {
  const size = opts.size ?? 256;
  const batchSize = opts.batchSize ?? 4;
  const run = (x: tf.Tensor4D, indices: ArrayLike<number>): tf.Tensor4D => {
    if (indices.length !== x.shape[0])
      throw new Error(`stylize: ${indices.length} indices for ${x.shape[0]} images`);
    let factor = workFactor(Math.min(x.shape[1], x.shape[2]), size);
    // The network needs sides divisible by 4.
    while ((x.shape[1] * factor) % 4 !== 0 || (x.shape[2] * factor) % 4 !== 0) factor++;
    return atScale(x, factor, batchSize, (big) => net(big));
  };
  return Object.assign(run, {
    describe: { method: `fast:${style}`, network: 'Johnson et al. 2016 fast style transfer', workSize: size },
    dispose: () => {},
  });
}
