/**
 * TRADES (Zhang et al., "Theoretically Principled Trade-off between Robustness and Accuracy",
 * ICML 2019; ALGORITHMS.md section 4): minimise CE(f(x), y) + beta * KL(p(x) || p(x')), the KL
 * averaged over the batch, where x' maximises that KL over the L-inf ball by random-start sign PGD
 * (p(x) held fixed during the attack, which runs in inference mode).
 * Options and defaults: `beta` 1 (the Int/Int2 code; TRADES' paper uses 6), `eps` 0.3,
 * `attackSteps` 40, `attackStepSize` 0.01, `randomStart` true, `epsRamp` [0.02, 0.1].
 *
 *   const objective = makeObjective('trades', { beta: 6 });
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Objective, ObjectiveContext } from './index.ts';
import { defineObjective } from './record.ts';
import { crossEntropy } from './crossEntropy.ts';
import {
  ascend,
  epsAt,
  INNER_SPECS,
  innerSettings,
  startPoint,
  withoutNorm,
  xAdvOf,
  type InnerOptions,
} from './inner.ts';
import type { OptionSpecs, Resolved } from '../../options.ts';

/** Options of TRADES. */
export interface TradesOptions extends InnerOptions {
  /** Weight of the KL term. */
  beta?: number;
}

/** TRADES' options: the inner attack and the weight beta of the KL term. */
export const TRADES_OPTIONS = {
  beta: {
    type: 'number',
    min: 0,
    default: 1,
    doc: 'weight of the KL term (trades) or of the IG penalty (ig-norm)',
    metavar: 'x',
  },
  ...INNER_SPECS,
} satisfies OptionSpecs<TradesOptions>;

/** Per-example KL(p || q) [N] of the softmaxes of two logit batches [N, K]. */
export function klDivergence(logitsP: tf.Tensor2D, logitsQ: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const logP = tf.logSoftmax(logitsP);
    return tf.sum(tf.mul(tf.exp(logP), tf.sub(logP, tf.logSoftmax(logitsQ))), 1) as tf.Tensor1D;
  });
}

/** TRADES (Zhang et al. 2019): CE(x) + beta KL(p(x) || p(x')), x' maximising the KL. */
export function tradesObjective(o: Resolved<TradesOptions, typeof TRADES_OPTIONS>): Objective {
  const s = innerSettings(o, { norm: 'linf' });
  const { beta } = o;
  const inner = ({ classifier: c, x, step, totalSteps, rng, shard }: ObjectiveContext): tf.Tensor4D => {
    const eps = epsAt(s, step, totalSteps);
    const start = startPoint(x, eps, s, rng.seed(), shard);
    if (eps === 0 || s.attackSteps === 0) return start;
    const clean = c.logits(x);
    const xa = ascend(x, start, (v) => tf.sum(klDivergence(clean, c.logits(v))), {
      eps,
      stepSize: s.attackStepSize,
      steps: s.attackSteps,
      norm: 'linf',
    });
    clean.dispose();
    return xa;
  };
  return {
    name: 'trades',
    options: { beta, ...withoutNorm(s) },
    inner,
    loss: (ctx) =>
      tf.tidy(() => {
        const logits = ctx.classifier.trainLogits(ctx.x);
        const adv = ctx.classifier.trainLogits(xAdvOf(ctx, inner));
        const kl = tf.mean(klDivergence(logits, adv));
        return { loss: tf.add(crossEntropy(logits, ctx.y), tf.mul(beta, kl)) as tf.Scalar, logits };
      }),
  };
}

/** TRADES as a registry record. */
export const tradesRecord = defineObjective<TradesOptions, typeof TRADES_OPTIONS>({
  name: 'trades',
  summary: "TRADES (Zhang et al., ICML 2019): CE + beta * KL(p(x) || p(x'))",
  options: TRADES_OPTIONS,
  facts: { innerAttack: 'pgd-kl', needsCam: false, secondOrder: false },
  make: tradesObjective,
});
