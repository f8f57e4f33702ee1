import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.ts';
import type { AttackResult } from './types.ts';
import { UserError } from '../errors.ts';

/**
 * The per-example loss an attack ascends, [N]: CE of the label (untargeted) or minus the CE of the
 * target (targeted); with `cw`, the logit margin max_{j!=y} f_j - f_y (or f_t - max_{j!=t} f_j).
 */
export function attackLoss(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D,
  targeted: boolean,
  kind: 'ce' | 'cw',
): tf.Tensor1D {
  return tf.tidy(() => {
    const k = logits.shape[1];
    const onehot = tf.oneHot(tf.cast(labels, 'int32'), k);
    if (kind === 'ce') {
      // CE = -log p_y written as softplus(logsumexp_{j != y}(z_j - z_y)): the same value, but its
      // float32 gradient stays accurate when the model is confident. The textbook form's gradient,
      // p - onehot, loses the true-class term once 1 - p_y < 6e-8 (p_y rounds to 1) and is 1e-7 /
      // (1 - p_y) relatively off before that, which flipped FGSM signs against a float64 PyTorch
      // reference on confident digits (bench/torch-crosscheck.py).
      const zy = tf.sum(tf.mul(onehot, logits), 1, true);
      const others = tf.sub(tf.sub(logits, zy), tf.mul(onehot, 1e9));
      const ce = tf.softplus(tf.logSumExp(others, 1)) as tf.Tensor1D;
      return targeted ? tf.neg(ce) : ce;
    }
    const own = tf.sum(tf.mul(onehot, logits), 1);
    const other = tf.max(tf.sub(logits, tf.mul(onehot, 1e9)), 1);
    return (targeted ? tf.sub(own, other) : tf.sub(other, own)) as tf.Tensor1D;
  });
}

/** Gradient of the summed attack loss w.r.t. the input [N,H,W,C] (caller owns). */
export function lossGradient(
  model: Classifier,
  x: tf.Tensor4D,
  labels: tf.Tensor1D,
  targeted: boolean,
  kind: 'ce' | 'cw',
): tf.Tensor4D {
  return tf.tidy(
    () =>
      tf.grad((v: tf.Tensor) => tf.sum(attackLoss(model.logits(v as tf.Tensor4D), labels, targeted, kind)))(
        x,
      ) as tf.Tensor4D,
  );
}

/** The labels the loss refers to: the targets when targeted, else the true labels. */
export function lossLabels(
  y: tf.Tensor1D,
  target: number | number[] | undefined,
  classes: number,
): { labels: tf.Tensor1D; targeted: boolean } {
  if (target === undefined) return { labels: tf.clone(y), targeted: false };
  const n = y.shape[0];
  const t = Array.isArray(target) ? target : new Array<number>(n).fill(target);
  if (t.length !== n)
    throw new UserError(`${t.length} targets for ${n} images; give one target or one per image`);
  for (const v of t)
    if (!Number.isInteger(v) || v < 0 || v >= classes)
      throw new UserError(`target class ${v} is outside 0..${classes - 1}`);
  return { labels: tf.tensor1d(t, 'int32'), targeted: true };
}

/** Per example: reached the goal (misclassified, or classified as the target). */
export function successOf(logits: tf.Tensor2D, labels: tf.Tensor1D, targeted: boolean): boolean[] {
  const pred = tf.tidy(() => tf.argMax(logits, 1).dataSync());
  const lab = labels.dataSync();
  return Array.from(pred, (p, i) => (targeted ? p === lab[i] : p !== lab[i]));
}

/**
 * The common end of every attack: logits and success on the final images, the loss labels freed.
 * Takes ownership of `labels`; the caller owns the returned tensors.
 */
export function finishAttack(
  model: Classifier,
  xAdv: tf.Tensor4D,
  labels: tf.Tensor1D,
  targeted: boolean,
  options: Record<string, unknown>,
): AttackResult {
  const logits = model.logits(xAdv);
  const success = successOf(logits, labels, targeted);
  labels.dispose();
  return { xAdv, logits, success, options };
}

/** Top-k class indices of the logits' values, off the gradient tape (tfjs has no TopK gradient). */
function topIndices(logits: tf.Tensor2D, k: number): tf.Tensor2D {
  const frozen = tf.tensor2d(logits.dataSync() as Float32Array, logits.shape);
  return tf.topk(frozen, k).indices as tf.Tensor2D;
}

/** logits[i, idx[i]] as [N], differentiable in `logits` (a one-hot mask; tfjs has no TopK gradient). */
function pick(logits: tf.Tensor2D, idx: tf.Tensor1D): tf.Tensor1D {
  return tf.sum(tf.mul(logits, tf.oneHot(tf.cast(idx, 'int32'), logits.shape[1])), 1) as tf.Tensor1D;
}

/**
 * The Difference of Logits Ratio loss of Croce and Hein (ICML 2020), per example [N], to ascend:
 *   DLR(z, y) = -(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3 + 1e-12),
 * pi = the classes sorted by logit, descending. Invariant to shifting and (positive) scaling of the
 * logits; positive exactly when the example is misclassified. Needs at least 3 classes.
 */
export function dlrLoss(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  const k = logits.shape[1];
  if (k < 3) throw new UserError(`the DLR loss needs at least 3 classes (the model has ${k})`);
  return tf.tidy(() => {
    const indices = topIndices(logits, 3);
    const col = (j: number) => tf.reshape(tf.slice(indices, [0, j], [-1, 1]), [-1]) as tf.Tensor1D;
    const onehot = tf.oneHot(tf.cast(labels, 'int32'), k);
    const zy = tf.sum(tf.mul(onehot, logits), 1);
    const other = tf.max(tf.sub(logits, tf.mul(onehot, 1e9)), 1);
    const scale = tf.add(tf.sub(pick(logits, col(0)), pick(logits, col(2))), 1e-12);
    return tf.neg(tf.div(tf.sub(zy, other), scale)) as tf.Tensor1D;
  });
}

/**
 * The targeted DLR loss (Croce and Hein, ICML 2020), per example [N], to ascend toward target t:
 *   DLR-T(z, y, t) = -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2 + 1e-12).
 * Needs at least 4 classes.
 */
export function dlrTargetedLoss(logits: tf.Tensor2D, labels: tf.Tensor1D, targets: tf.Tensor1D): tf.Tensor1D {
  const k = logits.shape[1];
  if (k < 4) throw new UserError(`the targeted DLR loss needs at least 4 classes (the model has ${k})`);
  return tf.tidy(() => {
    const indices = topIndices(logits, 4);
    const col = (j: number) => tf.reshape(tf.slice(indices, [0, j], [-1, 1]), [-1]) as tf.Tensor1D;
    const scale = tf.add(
      tf.sub(pick(logits, col(0)), tf.mul(0.5, tf.add(pick(logits, col(2)), pick(logits, col(3))))),
      1e-12,
    );
    return tf.neg(tf.div(tf.sub(pick(logits, labels), pick(logits, targets)), scale)) as tf.Tensor1D;
  });
}
