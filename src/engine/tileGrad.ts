/**
 * A gradient for `Tile` that sums the tiled blocks with one reshape and one sum per tiled axis.
 * tfjs 4.22's own adds one `slice` of dy per block, and on the wasm backend each slice that is not
 * contiguous first copies the whole of dy out of the heap: batch norm in training mode under a
 * second gradient tape (tfjs-layers' `moments`; the Mean gradient of engine/meanGrad.ts broadcasts
 * a [1, 1, 1, C] value over [N, H, W, C] by Tile) then made N H W copies of dy per layer, and a
 * CIFAR-10 IG-Norm training step never finished (65,536 copies of 8 MB per layer at batch 64). Same
 * sums, other order of additions.
 *
 *   dx = sum over q of dy[q_0 x_0 + i_0, q_1 x_1 + i_1, ...]   (x the input, q the block index)
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs' gradients first (importing tfjs-layers registers them), so that the one here replaces Tile's.
import '@tensorflow/tfjs-layers';

/** dx of Tile(x, reps) for the gradient dy (shape x.shape[i] * reps[i] on every axis; caller owns). */
export function tileGradient(dy: tf.Tensor, xShape: readonly number[], reps: readonly number[]): tf.Tensor {
  return tf.tidy(() => {
    let g = dy;
    const rank = xShape.length;
    for (let i = 0; i < rank;) {
      if (reps[i] === 1) {
        i++;
        continue;
      }
      // Axes i..j, all of x's axes before j of size 1: their copies lie in one run of blocks of
      // x[j] * (the rest) values (batch norm's [1, 1, 1, C] over [N, H, W, C]: one sum of N H W rows).
      let j = i;
      while (xShape[j] === 1 && j + 1 < rank) j++;
      const shape = g.shape;
      const before = shape.slice(0, i).reduce((a, b) => a * b, 1);
      const after = shape.slice(j + 1).reduce((a, b) => a * b, 1);
      const copies = reps.slice(i, j + 1).reduce((a, b) => a * b, 1);
      // With nothing before, the sum runs over the leading axis (the wasm Sum's fast path).
      const summed =
        before === 1
          ? tf.sum(tf.reshape(g, [copies, xShape[j] * after]), 0)
          : tf.sum(tf.reshape(g, [before, copies, xShape[j] * after]), 1);
      g = tf.reshape(summed, [...shape.slice(0, i), ...xShape.slice(i, j + 1), ...shape.slice(j + 1)]);
      i = j + 1;
    }
    return g === dy ? tf.clone(dy) : g;
  });
}

let registered = false;

/** Registers {@link tileGradient} as Tile's gradient (once; replaces tfjs's). */
export function ensureFastTileGradient(): void {
  if (registered) return;
  registered = true;
  tf.registerGradient({
    kernelName: 'Tile',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const { reps } = attrs as unknown as { reps: number[] };
      return { x: () => tileGradient(dy as tf.Tensor, x.shape, reps) };
    },
  });
}
