/**
 * PGD adversarial training (PGD-AT, "Adv"; Madry et al., "Towards Deep Learning Models Resistant to
 * Adversarial Attacks", ICLR 2018; ALGORITHMS.md section 4): minimise CE(f(x'), y) with x' from
 * random-start PGD on the CE within the step's L-inf or L2 budget.
 * Options and defaults: `eps` 0.3, `norm` 'linf' | 'l2', `attackSteps` 40, `attackStepSize` 0.01
 * (L-inf) or eps/5 (L2), `randomStart` true, `epsRamp` [0.02, 0.1] (fractions of the run), and
 * `alternate` false: as in AT-CNN, even global steps train on the clean batch, CE(f(x), y), and odd
 * steps on its adversarial examples. Accuracy is reported on the clean batch.
 *
 *   const objective = makeObjective('pgd', { norm: 'l2', eps: 2, attackSteps: 10 });
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Objective, ObjectiveContext } from './index.ts';
import { crossEntropy } from './crossEntropy.ts';
import { boolOption, cePgd, innerSettings, xAdvOf } from './inner.ts';

export function pgdObjective(o: Record<string, unknown>): Objective {
  const s = innerSettings('pgd', o);
  const alternate = boolOption('pgd', o, 'alternate', false);
  const clean = (step: number) => alternate && step % 2 === 0;
  const inner = (ctx: ObjectiveContext): tf.Tensor4D | null =>
    clean(ctx.step) ? null : cePgd(ctx.classifier, ctx, s);
  return {
    name: 'pgd',
    options: { ...s, alternate },
    inner,
    loss: (ctx) =>
      tf.tidy(() => {
        const { classifier: c, x, y } = ctx;
        if (clean(ctx.step)) {
          const logits = c.trainLogits(x);
          return { loss: crossEntropy(logits, y), logits };
        }
        return { loss: crossEntropy(c.trainLogits(xAdvOf(ctx, inner)), y), logits: c.logits(x) };
      }),
  };
}
