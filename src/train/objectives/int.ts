/**
 * Interpretability-aware robust training (Boopathy et al., "Proper Network Interpretability
 * Requires Adversarial Robustness", ICML 2020; ALGORITHMS.md section 4). With the CAMs of a
 * GAP + dense head, CAM_c = sum_k w_kc A_k (src/explain/cam.ts), and per example
 *
 *   D(x, x') = ||CAM_y(x') - CAM_y(x)||_1 + sum_{c != y} p~_c(x') ||CAM_c(x') - CAM_c(x)||_1
 *
 * (L1 summed over the map's positions; p~ = softmax(f(x')) renormalised over the classes c != y),
 * the loss is CE + gamma * mean_n D:
 * - `int`:           CE(f(x), y), x' maximises D (misinterpretation attack);
 * - `int-one-class`: CE(f(x), y), D and its attack keep only the true-class term;
 * - `int-adv`:       CE(f(x'), y), x' maximises D;
 * - `int2`:          CE(f(x), y), x' from ordinary PGD on the CE (misclassification attack);
 * - `int2-adv`:      CE(f(x'), y), x' from ordinary PGD on the CE.
 * Attacks are random-start sign PGD in inference mode; the loss runs in training mode.
 * Options and defaults: `gamma` 0.01, `eps` 0.3, `attackSteps` 40, `attackStepSize` 0.01,
 * `randomStart` true, `epsRamp` [0.02, 0.1]. Needs a GAP + dense head named in the model card
 * (gap-cnn, resnet); a {@link UserError} otherwise.
 *
 *   const objective = makeObjective('int2', { gamma: 0.01 });
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Classifier } from '../../models/classifier.ts';
import { preprocessTensor } from '../../models/classifier.ts';
import { camHead } from '../../explain/cam.ts';
import type { Objective, ObjectiveContext } from './index.ts';
import { defineObjective } from './record.ts';
import { crossEntropy } from './crossEntropy.ts';
import {
  ascend,
  cePgd,
  epsAt,
  INNER_SPECS,
  innerSettings,
  startPoint,
  withoutNorm,
  xAdvOf,
  type InnerOptions,
} from './inner.ts';
import { UserError } from '../../errors.ts';
import type { OptionSpecs, Resolved } from '../../options.ts';

/** Options of the Int and Int2 objectives. */
export interface IntOptions extends InnerOptions {
  /** Weight of the CAM discrepancy. */
  gamma?: number;
}

/** Int and Int2's options: the inner attack and the weight gamma of the CAM discrepancy. */
export const INT_OPTIONS = {
  gamma: { type: 'number', min: 0, default: 0.01, doc: 'weight of the CAM discrepancy', metavar: 'x' },
  ...INNER_SPECS,
} satisfies OptionSpecs<IntOptions>;

/** The interpretability-aware objectives of Boopathy et al. (ICML 2020): Int, its one-class and adversarial variants, and Int2. */
export type IntMethod = 'int' | 'int-one-class' | 'int-adv' | 'int2' | 'int2-adv';

/** The CAM layer's name; a one-line {@link UserError} when the model has no GAP + dense head. */
export function camFeaturesOf(c: Classifier, method: string): string {
  const names = c.card.layers ?? {};
  if (!names.camFeatures || !names.camDense || !(c.model instanceof tfl.LayersModel))
    throw new UserError(
      `method ${method} needs class activation maps: a layers model ending in global average pooling and one dense layer, named in its card (layers.camFeatures, layers.camDense); ${c.card.architecture} has none: train a gap-cnn (or resnet) architecture`,
    );
  return names.camFeatures;
}

const tapModels = new WeakMap<tfl.LayersModel, Map<string, tfl.LayersModel>>();

/**
 * The CAM features A [N, h, w, k] and the logits [N, K] of `x` in training mode, in one pass,
 * differentiable with respect to the input and the weights (caller owns).
 */
export function trainingTaps(
  c: Classifier,
  features: string,
  x: tf.Tensor4D,
): { a: tf.Tensor4D; logits: tf.Tensor2D } {
  const lm = c.model as tfl.LayersModel;
  let byName = tapModels.get(lm);
  if (!byName) tapModels.set(lm, (byName = new Map()));
  let tm = byName.get(features);
  if (!tm) {
    const out = lm.getLayer(features).output as tfl.SymbolicTensor;
    tm = tfl.model({ inputs: lm.inputs, outputs: [out, ...(lm.outputs as tfl.SymbolicTensor[])] });
    byName.set(features, tm);
  }
  const model = tm;
  return tf.tidy(() => {
    const [a, y] = model.apply(preprocessTensor(c.card, x), { training: true }) as tf.Tensor[];
    const logits = c.card.output === 'probabilities' ? tf.log(tf.add(y, 1e-12)) : y;
    return { a: a as tf.Tensor4D, logits: logits as tf.Tensor2D };
  });
}

/** The CAMs of every class, [N, positions, K], from features [N, h, w, k] and weights [k, K]. */
export function allCams(a: tf.Tensor4D, weights: tf.Tensor2D): tf.Tensor3D {
  return tf.tidy(() => {
    const [n, h, w, k] = a.shape;
    if (k !== weights.shape[0])
      throw new UserError(`CAM features [${a.shape}] do not match the head's ${weights.shape[0]} inputs`);
    return tf.reshape(tf.matMul(tf.reshape(a, [n * h * w, k]), weights), [n, h * w, -1]) as tf.Tensor3D;
  });
}

/**
 * Int's discrepancy D(x, x') per example [N] from the CAMs [N, P, K] of x and x', the logits of x'
 * and the labels; `oneClass` keeps the true-class term only. p~ is the softmax of the logits with
 * the true class masked out, the same as renormalising over c != y but finite when p_y rounds to 1.
 */
export function discrepancy(
  camsNat: tf.Tensor3D,
  camsAdv: tf.Tensor3D,
  logitsAdv: tf.Tensor2D,
  y: tf.Tensor1D,
  oneClass: boolean,
): tf.Tensor1D {
  return tf.tidy(() => {
    const k = logitsAdv.shape[1];
    const onehot = tf.oneHot(tf.cast(y, 'int32'), k); // [N, K]
    const l1 = tf.sum(tf.abs(tf.sub(camsAdv, camsNat)), 1); // [N, K]
    const own = tf.sum(tf.mul(onehot, l1), 1);
    if (oneClass) return own as tf.Tensor1D;
    const pOther = tf.softmax(tf.sub(logitsAdv, tf.mul(onehot, 1e9)));
    return tf.add(own, tf.sum(tf.mul(pOther, l1), 1)) as tf.Tensor1D;
  });
}

/** Interpretability-aware training (Boopathy et al., ICML 2020, ALGORITHMS.md section 4): CE plus gamma times the CAM discrepancy between x and x'; Int's x' maximises the discrepancy, Int2's x' is PGD on CE. */
export function intObjective(name: IntMethod, o: Resolved<IntOptions, typeof INT_OPTIONS>): Objective {
  const s = innerSettings(o, { norm: 'linf' });
  const { gamma } = o;
  const oneClass = name === 'int-one-class';
  const adversarialCe = name === 'int-adv' || name === 'int2-adv';
  const misinterpretation = !name.startsWith('int2');

  /** x' maximising D over the L-inf ball, in inference mode (CAM(x) held fixed). */
  const interpretationAttack = (ctx: ObjectiveContext): tf.Tensor4D => {
    const { classifier: c, x, y } = ctx;
    const features = camFeaturesOf(c, name);
    const eps = epsAt(s, ctx.step, ctx.totalSteps);
    const start = startPoint(x, eps, s, ctx.rng.seed(), ctx.shard);
    if (eps === 0 || s.attackSteps === 0) return start;
    const head = camHead(c);
    const camsNat = tf.tidy(() => {
      const { activations, logits } = c.taps(x, [features]);
      logits.dispose();
      return allCams(activations[features] as tf.Tensor4D, head.weights);
    });
    const xa = ascend(
      x,
      start,
      (v) => {
        const { activations, logits } = c.taps(v, [features]);
        const cams = allCams(activations[features] as tf.Tensor4D, head.weights);
        return tf.sum(discrepancy(camsNat, cams, logits, y, oneClass));
      },
      { eps, stepSize: s.attackStepSize, steps: s.attackSteps, norm: 'linf' },
    );
    tf.dispose([camsNat, head.weights]);
    return xa;
  };

  const inner = (ctx: ObjectiveContext): tf.Tensor4D => {
    camFeaturesOf(ctx.classifier, name);
    return misinterpretation ? interpretationAttack(ctx) : cePgd(ctx.classifier, ctx, s);
  };

  return {
    name,
    options: { gamma, ...withoutNorm(s) },
    inner,
    loss: (ctx) =>
      tf.tidy(() => {
        const { classifier: c, x, y } = ctx;
        const features = camFeaturesOf(c, name);
        const xa = xAdvOf(ctx, inner);
        const head = camHead(c);
        const nat = trainingTaps(c, features, x);
        const adv = trainingTaps(c, features, xa);
        const d = discrepancy(
          allCams(nat.a, head.weights),
          allCams(adv.a, head.weights),
          adv.logits,
          y,
          oneClass,
        );
        const ce = crossEntropy(adversarialCe ? adv.logits : nat.logits, y);
        return { loss: tf.add(ce, tf.mul(gamma, tf.mean(d))) as tf.Scalar, logits: nat.logits };
      }),
  };
}

function intRecordOf(name: IntMethod, summary: string) {
  return defineObjective<IntOptions, typeof INT_OPTIONS>({
    name,
    summary,
    options: INT_OPTIONS,
    facts: {
      innerAttack: name.startsWith('int2') ? 'pgd-ce' : 'pgd-cam-discrepancy',
      needsCam: true,
      secondOrder: false,
    },
    make: (o) => intObjective(name, o),
  });
}

const BOOPATHY = 'Boopathy et al., ICML 2020';
/** Int-one-class (the discrepancy of the true class's CAM only) as a registry record. */
export const intOneClassRecord = intRecordOf('int-one-class', `Int, true class only (${BOOPATHY})`);
/** Int as a registry record. */
export const intRecord = intRecordOf('int', `Int (${BOOPATHY}): CE + gamma * CAM discrepancy`);
/** Int-Adv (Int with CE(x') in place of CE(x)) as a registry record. */
export const intAdvRecord = intRecordOf('int-adv', `Int-Adv (${BOOPATHY}): CE(f(x')) + gamma * D`);
/** Int2 (Int's loss with x' from ordinary PGD on CE) as a registry record. */
export const int2Record = intRecordOf('int2', `Int2 (${BOOPATHY}): D at PGD examples`);
/** Int2-Adv (Int2 with CE(x') in place of CE(x)) as a registry record. */
export const int2AdvRecord = intRecordOf(
  'int2-adv',
  `Int2-Adv (${BOOPATHY}): CE(f(x')) + gamma * D at PGD examples`,
);
