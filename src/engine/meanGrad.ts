/**
 * The gradient of `Mean` without a ones tensor. tfjs writes it as div(mul(reshape(dy), ones(x.shape)),
 * n): the ones are made by a JavaScript loop over x's whole size (2 million values per batch-norm
 * moment of ResNet-20 at batch 128; two moments per batch-norm layer in training mode, so about 40% of a
 * training step's time) and uploaded, then multiplied by. {@link ensureFastMeanGrad} re-registers it
 * as broadcastTo(div(reshape(dy), n), x.shape): dy * 1 is dy exactly, and dividing before or after
 * the broadcast gives each element the same float32 quotient, so the gradient is bit for bit the same,
 * with the division on the small tensor and the broadcast by `Tile`. `Sum`'s gradient (tfjs:
 * mul(reshape(dy), ones(x.shape)), the same loop and upload: 8% of a CIFAR-10 IG-Norm training step,
 * whose IG sums each example's |IG| and whose second-order batch norm sums its moments' gradients) is
 * broadcastTo(reshape(dy), x.shape) the same way, bit for bit.
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs' gradients first (importing tfjs-layers registers them), so that the one here replaces Mean's.
import '@tensorflow/tfjs-layers';

let done = false;

/** dy reshaped to x's shape with the reduced axes kept as 1s, then broadcast to x's shape. */
function broadcastBack(dy: tf.Tensor, xShape: number[], axes: number[], divisor: number): tf.Tensor {
  const expanded = xShape.slice();
  for (const a of axes) expanded[a] = 1;
  const r = tf.reshape(dy, expanded);
  return tf.broadcastTo(divisor === 1 ? r : tf.div(r, divisor), xShape);
}

/** Registers the gradients of `Mean` and `Sum` (once; after tfjs' own). */
export function ensureFastMeanGrad(): void {
  if (done) return;
  done = true;
  tf.registerGradient({
    kernelName: 'Mean',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const { axis } = attrs as unknown as { axis: number | number[] };
      const axes = tf.util.parseAxisParam(axis, x.shape);
      const reduceSize = tf.util.sizeFromShape(tf.backend_util.computeOutAndReduceShapes(x.shape, axes)[1]);
      return { x: () => broadcastBack(dy as tf.Tensor, x.shape, axes, reduceSize) };
    },
  });
  tf.registerGradient({
    kernelName: 'Sum',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const { axis } = attrs as unknown as { axis: number | number[] };
      const axes = tf.util.parseAxisParam(axis, x.shape);
      return { x: () => broadcastBack(dy as tf.Tensor, x.shape, axes, 1) };
    },
  });
}
