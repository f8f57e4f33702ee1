/**
 * FGSM adversarial training (FGSM-AT; Goodfellow, Shlens and Szegedy, "Explaining and Harnessing
 * Adversarial Examples", ICLR 2015; ALGORITHMS.md section 4): minimise CE(f(x'), y) with the FGSM
 * example x' = clip(x + eps * sign(grad_x CE(f(x), y)), 0, 1) of the step's budget (L-inf).
 * Options and defaults: `eps` 0.3, `epsRamp` [0.02, 0.1] (fractions of the run, see inner.ts).
 * One step of eps from x, no random start. Accuracy is reported on the clean batch.
 *
 *   const objective = makeObjective('fgsm', { eps: 0.1 });
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Objective, ObjectiveContext } from './index.ts';
import { defineObjective } from './record.ts';
import { crossEntropy } from './crossEntropy.ts';
import { epsAt, INNER_SPECS, innerSettings, xAdvOf, type InnerOptions } from './inner.ts';
import type { OptionSpecs, Resolved } from '../../options.ts';

/** Options of FGSM training: the budget and its ramp (one step of eps from x). */
export type FgsmObjectiveOptions = Pick<InnerOptions, 'eps' | 'epsRamp'>;

/** FGSM training's options: the budget eps, its ramp and whether the step starts from a random point. */
export const FGSM_OBJECTIVE_OPTIONS = {
  eps: INNER_SPECS.eps,
  epsRamp: INNER_SPECS.epsRamp,
} satisfies OptionSpecs<FgsmObjectiveOptions>;
import { pgdSteps } from '../../attacks/pgd.ts';

/** FGSM adversarial training (Goodfellow et al. 2015): cross-entropy on one-step adversarial images. */
export function fgsmObjective(o: Resolved<FgsmObjectiveOptions, typeof FGSM_OBJECTIVE_OPTIONS>): Objective {
  const s = innerSettings(o, { norm: 'linf', attackSteps: 1, attackStepSize: 0, randomStart: false });
  const inner = ({ classifier, x, y, step, totalSteps }: ObjectiveContext): tf.Tensor4D => {
    const eps = epsAt(s, step, totalSteps);
    if (eps === 0) return tf.clone(x);
    // One projected step of size eps from x is exactly FGSM.
    return pgdSteps(classifier, x, tf.clone(x), y, false, {
      eps,
      stepSize: eps,
      steps: 1,
      norm: 'linf',
      loss: 'ce',
      earlyStop: false,
    });
  };
  return {
    name: 'fgsm',
    options: { eps: s.eps, epsRamp: s.epsRamp },
    inner,
    loss: (ctx) =>
      tf.tidy(() => {
        const xa = xAdvOf(ctx, inner);
        return {
          loss: crossEntropy(ctx.classifier.trainLogits(xa), ctx.y),
          logits: ctx.classifier.logits(ctx.x),
        };
      }),
  };
}

/** FGSM training as a registry record. */
export const fgsmRecord = defineObjective<FgsmObjectiveOptions, typeof FGSM_OBJECTIVE_OPTIONS>({
  name: 'fgsm',
  summary: 'FGSM adversarial training (Goodfellow et al., ICLR 2015)',
  options: FGSM_OBJECTIVE_OPTIONS,
  facts: { innerAttack: 'fgsm', needsCam: false, secondOrder: false },
  make: fgsmObjective,
});
