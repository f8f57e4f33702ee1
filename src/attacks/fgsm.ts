/**
 * FGSM: Goodfellow, Shlens and Szegedy, "Explaining and Harnessing Adversarial Examples", ICLR 2015.
 * Bounds the L-inf distance ||x' - x||_inf <= eps: `x' = clip(x + eps * sign(grad_x L(f(x), y)), 0, 1)`;
 * targeted, it steps down the loss of the target.
 * Options and defaults (FgsmOptions): `eps` (required), `target` (untargeted when absent), `loss`
 * 'ce' | 'cw' (default 'ce'). Input: images [N, H, W, C] in [0, 1] with int32 labels [N].
 *
 *   const r = fgsm(model, batch, { eps: 0.1 });
 *   tf.dispose([r.xAdv, r.logits]);
 */
import * as tf from '@tensorflow/tfjs-core';
import { finishAttack, lossGradient, lossLabels } from './loss.ts';
import { COMMON_SPECS, defineAttack } from './record.ts';
import type { OptionSpecs } from '../options.ts';

/** Options of FGSM. */
export interface FgsmOptions {
  eps: number;
  target?: number | number[];
  loss?: 'ce' | 'cw';
}

/** FGSM's option specs: type, default, range and a one-line doc per option (the CLI flags and help are generated from them). */
export const FGSM_OPTIONS = {
  eps: COMMON_SPECS.eps,
  target: COMMON_SPECS.target,
  loss: COMMON_SPECS.loss,
} satisfies OptionSpecs<FgsmOptions>;

/** FGSM as a registry record: its function, option specs and facts. */
export const fgsmAttack = defineAttack<FgsmOptions, typeof FGSM_OPTIONS>({
  name: 'fgsm',
  summary: 'FGSM (Goodfellow et al., ICLR 2015): one signed gradient step of eps',
  options: FGSM_OPTIONS,
  facts: { norm: 'linf', iterative: false, exampleEps: '0.1' },
  attack: (model, batch, o) => {
    const { labels, targeted } = lossLabels(batch.y, o.target, model.labels.length);
    const xAdv = tf.tidy(() => {
      const g = lossGradient(model, batch.x, labels, targeted, o.loss);
      return tf.clipByValue(tf.add(batch.x, tf.mul(o.eps, tf.sign(g))), 0, 1) as tf.Tensor4D;
    });
    return finishAttack(model, xAdv, labels, targeted, {
      attack: 'fgsm',
      eps: o.eps,
      norm: 'linf',
      target: o.target ?? null,
      loss: o.loss,
    });
  },
});

/** FGSM (see the file's header); validates its options (a UserError naming a bad one). */
export const fgsm = fgsmAttack.run;
