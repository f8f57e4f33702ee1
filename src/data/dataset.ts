import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../engine/rng.ts';
import { UserError } from '../errors.ts';
import { filledTensor } from '../engine/readInto.ts';

/** A batch of images and labels. `x`: float32 [N, H, W, C] in [0, 1]; `y`: int32 [N]. The caller owns both. */
export interface Batch {
  x: tf.Tensor4D;
  y: tf.Tensor1D;
}

/**
 * An in-memory labelled image set. Pixels are kept compactly (uint8 0-255, or float32 0-1 when the
 * source is already float) and turned into float32 [0, 1] tensors one batch at a time.
 */
export interface Dataset {
  /** What the user asked for, e.g. `mnist:test`, `folder:/data/pets`. */
  name: string;
  /** Where the data was read from (a path or a package), recorded in every result. */
  source: string;
  /** Class names, indexed by label. */
  classNames: string[];
  /** Image shape [H, W, C]. */
  shape: [number, number, number];
  /** Number of examples. */
  size: number;
  /** Pixels [N, H, W, C], row-major: uint8 in 0-255 or float32 in [0, 1]. */
  pixels: Uint8Array | Float32Array;
  /** Labels [N], each in [0, classNames.length). */
  labels: Int32Array;
}

/** Builds a {@link Dataset}, checking that pixels and labels agree with the shape. */
export function makeDataset(d: Omit<Dataset, 'size'>): Dataset {
  const [h, w, c] = d.shape;
  const size = d.labels.length;
  if (d.pixels.length !== size * h * w * c) {
    throw new UserError(
      `${d.name}: ${d.pixels.length} pixel values do not match ${size} labels of ${h}x${w}x${c} images; the files are inconsistent`,
    );
  }
  for (let i = 0; i < size; i++) {
    const l = d.labels[i];
    if (l < 0 || l >= d.classNames.length) {
      throw new UserError(`${d.name}: label ${l} at example ${i} is outside 0..${d.classNames.length - 1}`);
    }
  }
  return { ...d, size };
}

/** The first `limit` examples (or all when `limit` is undefined or larger than the set). */
export function take(ds: Dataset, limit?: number): Dataset {
  if (limit === undefined || limit >= ds.size) return ds;
  return subset(
    ds,
    Array.from({ length: limit }, (_, i) => i),
    `${ds.name} (first ${limit})`,
  );
}

/** The examples at `indices`, in that order. */
export function subset(ds: Dataset, indices: ArrayLike<number>, name = ds.name): Dataset {
  const [h, w, c] = ds.shape;
  const per = h * w * c;
  const pixels =
    ds.pixels instanceof Uint8Array
      ? new Uint8Array(indices.length * per)
      : new Float32Array(indices.length * per);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i];
    pixels.set(ds.pixels.subarray(j * per, (j + 1) * per), i * per);
    labels[i] = ds.labels[j];
  }
  return { ...ds, name, pixels, labels, size: indices.length };
}

/** Float32 pixels in [0, 1] of the examples at `indices` (a fresh array). */
export function floatPixels(ds: Dataset, indices: ArrayLike<number>): Float32Array {
  const [h, w, c] = ds.shape;
  const out = new Float32Array(indices.length * h * w * c);
  floatPixelsInto(ds, indices, out);
  return out;
}

/**
 * {@link floatPixels} written into `out` (at least `indices.length * H * W * C` values). One loop per
 * pixel type, so that each stays monomorphic: a uint8 value v becomes v / 255 rounded to float32.
 */
export function floatPixelsInto(ds: Dataset, indices: ArrayLike<number>, out: Float32Array): void {
  const [h, w, c] = ds.shape;
  const per = h * w * c;
  if (out.length < indices.length * per)
    throw new Error(`floatPixelsInto: ${out.length} values for ${indices.length} images of ${per}`);
  const src = ds.pixels;
  if (src instanceof Uint8Array) {
    for (let i = 0; i < indices.length; i++) {
      const from = indices[i] * per;
      const to = i * per;
      for (let k = 0; k < per; k++) out[to + k] = src[from + k] / 255;
    }
  } else {
    for (let i = 0; i < indices.length; i++)
      out.set(src.subarray(indices[i] * per, (indices[i] + 1) * per), i * per);
  }
}

/**
 * The examples at `indices` as a {@link Batch} of tensors the caller owns. On wasm the pixels are
 * written straight into the new tensor's memory: a fresh array of a batch (1.5 MB for CIFAR's 128)
 * cost 1-6 ms a batch in allocation, page faults and garbage collection on this VM, in the serial
 * part of a data-parallel step (2026-12-07).
 */
export function getBatch(ds: Dataset, indices: ArrayLike<number>): Batch {
  const [h, w, c] = ds.shape;
  const shape: [number, number, number, number] = [indices.length, h, w, c];
  const x = filledTensor(shape, (out) => floatPixelsInto(ds, indices, out)) as tf.Tensor4D;
  const y = tf.tensor1d(
    Array.from(indices, (i) => ds.labels[i]),
    'int32',
  );
  return { x, y };
}

/** Batch index lists over the whole set, shuffled with `rng` when given. The last batch may be short. */
export function batchIndices(size: number, batchSize: number, rng?: Rng): number[][] {
  const order = Array.from({ length: size }, (_, i) => i);
  if (rng) rng.shuffle(order);
  const out: number[][] = [];
  for (let i = 0; i < size; i += batchSize) out.push(order.slice(i, i + batchSize));
  return out;
}

/** Iterates the set in batches of tensors; dispose each batch after use. */
export function* batches(
  ds: Dataset,
  batchSize: number,
  rng?: Rng,
): Generator<Batch & { indices: number[] }> {
  for (const indices of batchIndices(ds.size, batchSize, rng)) yield { ...getBatch(ds, indices), indices };
}

/**
 * Checks that `ds` holds at least two classes with examples, as training a classifier needs; a
 * one-line {@link UserError} naming the data otherwise (for example a folder tree with one class
 * folder).
 */
export function requireClasses(ds: Dataset, what = 'training'): void {
  const seen = new Set<number>();
  for (let i = 0; i < ds.labels.length && seen.size < 2; i++) seen.add(ds.labels[i]);
  if (ds.classNames.length < 2 || seen.size < 2)
    throw new UserError(
      `${ds.name} holds examples of ${seen.size === 1 ? `one class only ('${ds.classNames[[...seen][0]] ?? [...seen][0]}')` : 'no class'}; ${what} a classifier needs at least two classes (for a folder: two or more class sub-folders)`,
    );
}
