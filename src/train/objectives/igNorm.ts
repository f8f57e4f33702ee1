/**
 * IG-Norm and IG-Sum-Norm (Chen et al., "Robust Attribution Regularization", NeurIPS 2019, as
 * trained in the Int/Int2 code; ALGORITHMS.md section 4):
 *
 *   ig-norm:      CE(f(x), y)  + beta * mean_n ||IG(x -> x')||_1
 *   ig-norm-sum:  CE(f(x'), y) + beta * mean_n ||IG(x -> x')||_1
 *
 * IG of the per-example CE of the label with the clean image as baseline and x' as input, right
 * Riemann sum of `igSteps` (5) points: IG = (x' - x) * (1/m) sum_{k=1..m} grad_v CE(f(v), y) at
 * v = x + (k/m)(x' - x). The penalty is differentiated with respect to the weights (a second-order
 * gradient), all in training mode; x' comes from random-start PGD on the CE (inference mode).
 * Options and defaults: `beta` 1 (the penalty's weight, Chen et al.'s beta; ALGORITHMS.md has none),
 * `eps` 0.3, `attackSteps` 40, `attackStepSize` 0.01, `randomStart` true, `epsRamp` [0.02, 0.1],
 * `igSteps` 5. At beta 1 and eps 0.3, 3-epoch runs collapsed to a flat network; the zoo trains
 * with beta 0.1 for 10 epochs (README, "Model zoo").
 *
 *   const objective = makeObjective('ig-norm', { eps: 0.1, beta: 0.1 });
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../../models/classifier.ts';
import type { Objective, ObjectiveContext } from './index.ts';
import { defineObjective } from './record.ts';
import { crossEntropy } from './crossEntropy.ts';
import { cePgd, epsAt, innerSettings, withoutNorm, xAdvOf } from './inner.ts';
import { TRADES_OPTIONS, type TradesOptions } from './trades.ts';
import { ensureMaxPoolSecondOrder } from '../../engine/maxPoolSecondOrder.ts';
import { ensureExpSecondOrder } from '../../engine/expSecondOrder.ts';
import type { OptionSpecs, Resolved } from '../../options.ts';

/** Options of IG-Norm and IG-Sum-Norm. */
export interface IgNormOptions extends TradesOptions {
  /** Riemann points of the integrated gradients in the penalty. */
  igSteps?: number;
}

/** IG-Norm's options: the inner attack, the IG path steps and the weight beta of the IG penalty. */
export const IG_NORM_OPTIONS = {
  ...TRADES_OPTIONS,
  igSteps: {
    type: 'number',
    integer: true,
    min: 1,
    default: 5,
    doc: 'path points of the integrated gradients in the penalty',
    metavar: 'n',
  },
} satisfies OptionSpecs<IgNormOptions>;

/** Each row's maximum [N, 1], with a zero gradient (see {@link ceSum}). */
const rowMaxConstant = tf.customGrad((l: tf.Tensor | tf.GradSaveFunc) => {
  const t = l as tf.Tensor;
  return { value: tf.max(t, 1, true), gradFunc: () => tf.zerosLike(t) };
});

/**
 * The CE of the label summed over examples, written so that a second tape can differentiate its input
 * gradient: log-sum-exp with each row's maximum shifted out as a constant (its derivative is exactly 0
 * in log-sum-exp, so declaring it so changes no value), and exp differentiated from its input
 * (engine/expSecondOrder.ts). tfjs 4.22's own forms lose the second-order path: softmax, logSoftmax
 * and exp read their saved *output* in their gradients, whose copy is taped before the operation that
 * makes it, and logSumExp's max has no second-order gradient (its Equal mask).
 */
function ceSum(logits: tf.Tensor2D, onehot: tf.Tensor2D): tf.Scalar {
  const m = rowMaxConstant(logits);
  const lse = tf.add(tf.log(tf.sum(tf.exp(tf.sub(logits, m)), 1, true)), m);
  return tf.sum(tf.sub(lse, tf.sum(tf.mul(logits, onehot), 1, true)));
}

/**
 * The input gradient of the per-example CE of the label at `v`, training mode, written so that the
 * outer tape can differentiate it again (caller owns): one forward pass and its backward pass, the CE
 * by {@link ceSum}. The gradient is taken at a copy of `v`: nested gradients share the outer tape, so
 * tf.grad at `v` itself would also differentiate through everything already computed from `v`. The
 * network's own gradients read saved inputs only (ReLU, softplus, conv, dense, pooling), so the path
 * through them is kept; an activation that saves its output (tanh, sigmoid) would lose its
 * second-derivative term.
 */
export function ceInputGradient(c: Classifier, v: tf.Tensor4D, y: tf.Tensor1D): tf.Tensor4D {
  return tf.tidy(() => {
    const onehot = tf.oneHot(tf.cast(y, 'int32'), c.labels.length) as tf.Tensor2D;
    const g = tf.grad((u: tf.Tensor) => ceSum(c.trainLogits(u as tf.Tensor4D), onehot));
    return g(tf.clone(v)) as tf.Tensor4D;
  });
}

/**
 * The same input gradient as J(v)^T r with the residual r = softmax(f(v)) - onehot(y) from a forward
 * pass of its own, held fixed in a vector-Jacobian product: two forward passes where
 * {@link ceInputGradient} takes one (the form IG-Norm used before 2026-12-06; kept as the reference
 * its tests compare against).
 */
export function ceInputGradientTwoPass(c: Classifier, v: tf.Tensor4D, y: tf.Tensor1D): tf.Tensor4D {
  return tf.tidy(() => {
    const onehot = tf.oneHot(tf.cast(y, 'int32'), c.labels.length);
    const r = tf.sub(tf.softmax(c.trainLogits(v)), onehot); // [N, K]
    const vjp = tf.grad((u: tf.Tensor) => tf.sum(tf.mul(c.trainLogits(u as tf.Tensor4D), r)));
    return vjp(tf.clone(v)) as tf.Tensor4D;
  });
}

/**
 * Per-example L1 norm [N] of the integrated gradients of the CE from baseline `x` to `xa` in
 * `m` steps, training mode, differentiable with respect to the weights (caller owns).
 */
export function igL1(
  c: Classifier,
  x: tf.Tensor4D,
  xa: tf.Tensor4D,
  y: tf.Tensor1D,
  m: number,
  inputGradient: typeof ceInputGradient = ceInputGradient,
): tf.Tensor1D {
  return tf.tidy(() => {
    const delta = tf.sub(xa, x);
    let sum: tf.Tensor = tf.zerosLike(x);
    for (let k = 1; k <= m; k++)
      sum = tf.add(sum, inputGradient(c, tf.add(x, tf.mul(k / m, delta)) as tf.Tensor4D, y));
    const ig = tf.mul(delta, tf.div(sum, m));
    return tf.sum(tf.abs(ig), [1, 2, 3]) as tf.Tensor1D;
  });
}

/** IG-Norm (as in Boopathy et al., ALGORITHMS.md section 4): CE(x) + beta ||IG from x to x'||_1, IG of the CE loss with the clean image as baseline, 5 steps. */
export function igNormObjective(
  name: 'ig-norm' | 'ig-norm-sum',
  o: Resolved<IgNormOptions, typeof IG_NORM_OPTIONS>,
): Objective {
  const s = innerSettings(o, { norm: 'linf' });
  const { beta, igSteps } = o;
  ensureMaxPoolSecondOrder();
  ensureExpSecondOrder();
  const inner = (ctx: ObjectiveContext) => cePgd(ctx.classifier, ctx, s);
  return {
    name,
    options: { beta, ...withoutNorm(s), igSteps },
    inner,
    loss: (ctx) =>
      tf.tidy(() => {
        const { classifier: c, x, y } = ctx;
        const xa = xAdvOf(ctx, inner);
        // While the ramp holds eps at 0, x' = x and the penalty is exactly 0: skip its passes.
        const idle = epsAt(s, ctx.step, ctx.totalSteps) === 0;
        const penalty = idle ? tf.scalar(0) : tf.mul(beta, tf.mean(igL1(c, x, xa, y, igSteps)));
        if (name === 'ig-norm') {
          const logits = c.trainLogits(x);
          return { loss: tf.add(crossEntropy(logits, y), penalty) as tf.Scalar, logits };
        }
        return {
          loss: tf.add(crossEntropy(c.trainLogits(xa), y), penalty) as tf.Scalar,
          logits: c.logits(x),
        };
      }),
  };
}

const IG_FACTS = { innerAttack: 'pgd-ce', needsCam: false, secondOrder: true } as const;

/** IG-Norm as a registry record. */
export const igNormRecord = defineObjective<IgNormOptions, typeof IG_NORM_OPTIONS>({
  name: 'ig-norm',
  summary: "IG-Norm (Chen et al., NeurIPS 2019): CE(f(x)) + beta * ||IG(x -> x')||_1",
  options: IG_NORM_OPTIONS,
  facts: IG_FACTS,
  make: (o) => igNormObjective('ig-norm', o),
});

/** IG-Norm-Sum (IG-Norm's penalty with CE(x') in place of CE(x)) as a registry record. */
export const igNormSumRecord = defineObjective<IgNormOptions, typeof IG_NORM_OPTIONS>({
  name: 'ig-norm-sum',
  summary: "IG-Sum-Norm (Chen et al., NeurIPS 2019): CE(f(x')) + beta * ||IG(x -> x')||_1",
  options: IG_NORM_OPTIONS,
  facts: IG_FACTS,
  make: (o) => igNormObjective('ig-norm-sum', o),
});
