/**
 * FGSM: Goodfellow, Shlens and Szegedy, "Explaining and Harnessing Adversarial Examples", ICLR 2015.
 * Bounds the L-inf distance. `x' = clip(x + eps * sign(grad_x CE(f(x), y)), 0, 1)`; targeted, it steps
 * down the CE of the target. Options: `eps` (required), `target`, `loss` ('ce' | 'cw', default 'ce').
 * Input: a batch of images [N, H, W, C] in [0, 1] with int32 labels [N].
 *
 *   const { xAdv, success } = fgsm(model, batch, { eps: 0.1 });
 *   tf.dispose([xAdv, r.logits]);
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Attack } from './types.ts';
import { finishAttack, lossGradient, lossLabels } from './loss.ts';
import { checkEps } from './pgd.ts';

export const fgsm: Attack = (model, batch, o) => {
  checkEps(o.eps);
  const kind = o.loss ?? 'ce';
  const { labels, targeted } = lossLabels(batch.y, o.target, model.labels.length);
  const xAdv = tf.tidy(() => {
    const g = lossGradient(model, batch.x, labels, targeted, kind);
    return tf.clipByValue(tf.add(batch.x, tf.mul(o.eps, tf.sign(g))), 0, 1) as tf.Tensor4D;
  });
  return finishAttack(model, xAdv, labels, targeted, {
    attack: 'fgsm',
    eps: o.eps,
    norm: 'linf',
    target: o.target ?? null,
    loss: kind,
  });
};
