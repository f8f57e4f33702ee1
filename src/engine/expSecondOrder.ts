/**
 * `Exp`'s gradient from its input, dy * exp(x), in place of tfjs 4.22's dy * y from its saved
 * output: the engine tapes the copy of a saved output before the operation that makes it, so a second
 * tape (a gradient differentiated again, as IG-Norm's penalty is) loses the path through y and its
 * second-order term. Recomputing exp(x) gives the same float32 values, so first-order gradients are
 * unchanged bit for bit; it costs one more exp per gradient (of logits-sized tensors where it is used).
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs' gradients first (importing tfjs-layers registers them), so that the one here replaces Exp's.
import '@tensorflow/tfjs-layers';

let done = false;

/** Registers Exp's input-reading gradient (once; after tfjs' own). */
export function ensureExpSecondOrder(): void {
  if (done) return;
  done = true;
  tf.registerGradient({
    kernelName: 'Exp',
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => {
      const [x] = saved;
      return { x: () => tf.mul(dy as tf.Tensor, tf.exp(x)) };
    },
  });
}
