/**
 * Internal batching: work on n items in consecutive chunks of at most `size`, so that memory stays
 * bounded (explainers run 32 images, noise samples or path points per pass, 8 above 64x64).
 *
 *   const maps = concatChunks(x.shape[0], 32, (start, m) => gradientOf(tf.slice(x, [start], [m])));
 */
import * as tf from '@tensorflow/tfjs-core';

/** Calls `f(start, count)` for the chunks [0, size), [size, 2 size), ... of n items; the results in order. */
export function inChunks<T>(n: number, size: number, f: (start: number, count: number) => T): T[] {
  const out: T[] = [];
  for (let start = 0; start < n; start += size) out.push(f(start, Math.min(size, n - start)));
  return out;
}

/**
 * The tensors `f(start, count)` makes for each chunk, concatenated along axis 0 (the one tensor
 * itself when there is one chunk); the parts are disposed. Caller owns the result.
 */
export function concatChunks<T extends tf.Tensor>(
  n: number,
  size: number,
  f: (start: number, count: number) => T,
): T {
  const parts = inChunks(n, size, f);
  if (parts.length === 1) return parts[0];
  const all = tf.concat(parts, 0) as T;
  tf.dispose(parts);
  return all;
}
