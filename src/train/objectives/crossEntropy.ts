import * as tf from '@tensorflow/tfjs-core';
import type { Objective } from './index.ts';
import { defineObjective } from './record.ts';

/** Mean softmax cross-entropy of logits [N, K] against int labels [N]. */
export function crossEntropy(logits: tf.Tensor2D, y: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const k = logits.shape[1];
    return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.cast(y, 'int32'), k), logits) as tf.Scalar;
  });
}

/** `normal`: the standard objective, mean cross-entropy on clean images, CE(f(x), y). */
export function crossEntropyObjective(): Objective {
  return {
    name: 'normal',
    options: {},
    loss({ classifier, x, y }) {
      const logits = classifier.trainLogits(x);
      return { loss: crossEntropy(logits, y), logits };
    },
  };
}

/**
 * `underfit`: the normal objective, CE(f(x), y); what makes the model underfit is the recipe, fewer
 * epochs than the normal model (ALGORITHMS.md section 4), which the card records beside it.
 */
export function underfitObjective(): Objective {
  return {
    ...crossEntropyObjective(),
    name: 'underfit',
    options: {
      description:
        'normal training (CE on clean images) stopped early: train it with fewer epochs than the normal model',
    },
  };
}

const NO_INNER = { innerAttack: 'none', needsCam: false, secondOrder: false } as const;

/** `normal` training: cross-entropy on clean images, as a registry record. */
export const crossEntropyRecord = defineObjective<object, object>({
  name: 'normal',
  summary: 'standard training: cross-entropy on clean images',
  options: {},
  facts: NO_INNER,
  make: crossEntropyObjective,
});

/** `underfit`: normal training stopped early (AT-CNN's Underfit baseline), as a registry record. */
export const underfitRecord = defineObjective<object, object>({
  name: 'underfit',
  summary: 'normal training stopped early (fewer epochs than the normal model)',
  options: {},
  facts: NO_INNER,
  make: underfitObjective,
});
