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
import { defineObjective } from './record.ts';
import { crossEntropy } from './crossEntropy.ts';
import { cePgd, INNER_SPECS, innerSettings, xAdvOf, type InnerOptions } from './inner.ts';
import type { OptionSpecs, Resolved } from '../../options.ts';

/** Options of PGD adversarial training. */
export interface PgdObjectiveOptions extends InnerOptions {
  norm?: 'linf' | 'l2';
  /** Even steps on the clean batch, odd steps on its adversarial examples (AT-CNN). */
  alternate?: boolean;
}

/** PGD training's options: the inner attack's budget, steps, step size, norm and ramp, and AT-CNN's alternation. */
export const PGD_OBJECTIVE_OPTIONS = {
  eps: INNER_SPECS.eps,
  norm: {
    type: 'choice',
    choices: ['linf', 'l2'],
    default: 'linf',
    doc: 'norm of the ball',
    metavar: 'name',
  },
  attackSteps: INNER_SPECS.attackSteps,
  attackStepSize: INNER_SPECS.attackStepSize,
  randomStart: INNER_SPECS.randomStart,
  epsRamp: INNER_SPECS.epsRamp,
  alternate: {
    type: 'boolean',
    default: false,
    doc: 'alternate clean and adversarial batches (AT-CNN)',
  },
} satisfies OptionSpecs<PgdObjectiveOptions>;

/** PGD adversarial training (Madry et al. 2018): cross-entropy on the inner attack's worst case. */
export function pgdObjective(o: Resolved<PgdObjectiveOptions, typeof PGD_OBJECTIVE_OPTIONS>): Objective {
  const s = innerSettings(o);
  const { alternate } = o;
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

/** PGD training as a registry record. */
export const pgdRecord = defineObjective<PgdObjectiveOptions, typeof PGD_OBJECTIVE_OPTIONS>({
  name: 'pgd',
  summary: 'PGD adversarial training (Madry et al., ICLR 2018)',
  options: PGD_OBJECTIVE_OPTIONS,
  facts: { innerAttack: 'pgd-ce', needsCam: false, secondOrder: false },
  make: pgdObjective,
});
