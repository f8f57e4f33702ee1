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
    for (let i = 0; i < xShape.length; i++) {
      if (reps[i] === 1) continue;
      const shape = g.shape;
      const before = shape.slice(0, i).reduce((a, b) => a * b, 1);
      const after = shape.slice(i + 1).reduce((a, b) => a * b, 1);
      const summed = tf.sum(tf.reshape(g, [before, reps[i], xShape[i], after]), 1);
      g = tf.reshape(summed, [...shape.slice(0, i), xShape[i], ...shape.slice(i + 1)]);
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
