/**
 * Lucid's redirected ReLU gradient for feature visualisation (lucid.optvis.overrides,
 * `redirected_relu_grad`): a channel that no pixel of the random starting image activates gets no
 * gradient through its ReLUs, and its visualisation never starts. For the first 16 steps, each ReLU's
 * gradient is replaced, per batch element whose plain ReLU gradient is zero everywhere, by the
 * incoming gradient where it pushes a negative input up (and everywhere the input is not negative);
 * a gradient pushing a negative input further down is still blocked. After those steps, or where the
 * plain gradient lets something through, it is the plain ReLU gradient. The forward pass is ReLU.
 *
 * The sign: optimisers descend, so the incoming gradient `dy` is that of the loss (minus the
 * objective), and "pushes the input up" means `dy < 0`.
 *
 *   const restore = redirectRelus(model, () => step <= REDIRECT_STEPS);  ...;  restore();
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Classifier } from '../models/classifier.ts';

/** Steps (0-based, inclusive) during which the redirected gradient is used (Lucid: global step <= 16). */
export const REDIRECT_STEPS = 16;

/**
 * The redirected ReLU gradient of the loss with respect to x [B, ...], given the incoming gradient
 * dy [B, ...]: per batch element, the plain gradient dy * (x > 0) where it is non-zero somewhere, else
 * dy with the entries where x < 0 and dy > 0 zeroed. Returns a tensor the caller owns.
 */
export function redirectedReluGrad(x: tf.Tensor, dy: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const plain = tf.mul(dy, tf.step(x));
    const pushLower = tf.logicalAnd(tf.less(x, 0), tf.greater(dy, 0));
    const redirected = tf.where(pushLower, tf.zerosLike(dy), dy);
    const b = x.shape[0] ?? 1;
    const passes = tf.greater(tf.max(tf.abs(tf.reshape(plain, [b, -1])), 1), 0); // [B]
    const mask = tf.reshape(passes, [b, ...x.shape.slice(1).map(() => 1)]);
    return tf.where(tf.broadcastTo(mask, x.shape), plain, redirected);
  });
}

/** ReLU whose gradient is {@link redirectedReluGrad} while `active()` is true, else the plain one. */
export function redirectedRelu(active: () => boolean): (x: tf.Tensor) => tf.Tensor {
  return tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
    save([x]);
    return {
      value: tf.relu(x),
      gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) =>
        active() ? redirectedReluGrad(saved, dy) : tf.mul(dy, tf.step(saved)),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;
}

type ActivationHolder = { activation?: { getClassName(): string; apply(x: tf.Tensor): tf.Tensor } };

/**
 * Makes every ReLU of a layers model (a layer's `relu` activation, fused into its convolution or
 * dense product or not, and `ReLU` layers without a cap) a {@link redirectedRelu} until the returned
 * function is called, which restores them. Graph models are left as they are (returns a no-op).
 */
export function redirectRelus(model: Classifier, active: () => boolean): () => void {
  if (!(model.model instanceof tfl.LayersModel)) return () => {};
  const relu = redirectedRelu(active);
  const undo: (() => void)[] = [];
  for (const layer of model.model.layers) {
    const h = layer as unknown as ActivationHolder;
    if (h.activation?.getClassName() === 'relu') {
      const before = h.activation;
      // a class name tfjs-layers does not fuse, so the convolution runs linear and this applies after it
      h.activation = { getClassName: () => 'RedirectedRelu', apply: relu };
      undo.push(() => (h.activation = before));
    } else if (layer.getClassName() === 'ReLU' && (layer.getConfig().maxValue ?? null) === null) {
      const call = layer.call;
      layer.call = (inputs) => relu(Array.isArray(inputs) ? inputs[0] : inputs);
      undo.push(() => (layer.call = call));
    }
  }
  return () => undo.splice(0).forEach((f) => f());
}
