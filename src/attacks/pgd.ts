/**
 * PGD: Madry et al., "Towards Deep Learning Models Resistant to Adversarial Attacks", ICLR 2018.
 * Bounds the L-inf or L2 distance ||x' - x|| <= eps. From x (or a random point of the ball), repeat
 * `steps` times: x' <- Proj_{B(x, eps) ∩ [0,1]}(x' + alpha * sign(g)) (L-inf) or
 * x' + alpha * g / ||g||_2 (L2), with g = grad_x' L(f(x'), y) the gradient of the attack loss.
 *
 * Options and defaults (PgdOptions): `eps` (required), `norm` 'linf', `steps` 40, `stepSize` 0.01
 * (L-inf) or eps/5 (L2), `randomStart` false, `restarts` 0 (each restart random-starts; the worst
 * case per example is kept), `target` (untargeted when absent), `loss` 'ce' | 'cw', `earlyStop`
 * false, `seed` 0. `pgd-linf` and `pgd-l2` are PGD with the norm fixed.
 * Input: images [N, H, W, C] in [0, 1] with int32 labels [N].
 *
 *   const r = pgd(model, batch, { eps: 0.3, steps: 40, stepSize: 0.01 });
 *   tf.dispose([r.xAdv, r.logits]);
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.ts';
import type { Batch } from '../data/dataset.ts';
import { attackLoss, finishAttack, lossGradient, lossLabels, successOf } from './loss.ts';
import { projectedAscent, randomStart, type StepOptions } from './ball.ts';
import { COMMON_SPECS, defineAttack } from './record.ts';
import { omitSpecs, type OptionSpecs, type Resolved } from '../options.ts';

// The ball primitives lived here; these re-exports keep imports from './pgd.ts' working.
export {
  checkEps,
  l2,
  project,
  projectedAscent,
  randomStart,
  type Budget,
  type StepOptions,
} from './ball.ts';

/** Options of PGD. */
export interface PgdOptions {
  eps: number;
  norm?: 'linf' | 'l2';
  steps?: number;
  /** Default 0.01 (L-inf) or eps/5 (L2). */
  stepSize?: number;
  randomStart?: boolean;
  restarts?: number;
  target?: number | number[];
  loss?: 'ce' | 'cw';
  earlyStop?: boolean;
  seed?: number;
}

/** PGD's option specs: type, default, range and a one-line doc per option (the CLI flags and help are generated from them). */
export const PGD_OPTIONS = {
  eps: COMMON_SPECS.eps,
  norm: COMMON_SPECS.norm,
  steps: { ...COMMON_SPECS.steps, default: 40 },
  stepSize: { ...COMMON_SPECS.stepSize, defaultText: '0.01 (linf), eps/5 (l2)' },
  randomStart: COMMON_SPECS.randomStart,
  restarts: COMMON_SPECS.restarts,
  target: COMMON_SPECS.target,
  loss: COMMON_SPECS.loss,
  earlyStop: COMMON_SPECS.earlyStop,
  seed: COMMON_SPECS.seed,
} satisfies OptionSpecs<PgdOptions>;

/**
 * The PGD iteration on the attack loss (CE or CW, see loss.ts) from `start` (taken over and
 * disposed), with early stop once an example is misclassified (or reaches its target). Budget and
 * step may be per example ([N,1,1,1]), as the minimum-eps search needs. The caller owns the result.
 */
export function pgdSteps(
  model: Classifier,
  x: tf.Tensor4D,
  start: tf.Tensor4D,
  labels: tf.Tensor1D,
  targeted: boolean,
  d: StepOptions & { loss: 'ce' | 'cw'; earlyStop: boolean },
): tf.Tensor4D {
  const done = (xa: tf.Tensor4D) => {
    const pred = tf.argMax(model.logits(xa), 1);
    return targeted ? tf.equal(pred, labels) : tf.notEqual(pred, tf.cast(labels, 'int32'));
  };
  return projectedAscent(
    x,
    start,
    (xa) => lossGradient(model, xa, labels, targeted, d.loss),
    d,
    d.earlyStop ? done : undefined,
  );
}

/** PGD with its options checked and their defaults filled in. */
function runPgd(model: Classifier, batch: Batch, o: Resolved<PgdOptions, typeof PGD_OPTIONS>) {
  const d = {
    norm: o.norm,
    steps: o.steps,
    stepSize: o.stepSize ?? (o.norm === 'linf' ? 0.01 : o.eps / 5),
    randomStart: o.randomStart,
    restarts: o.restarts,
    loss: o.loss,
    earlyStop: o.earlyStop,
    seed: o.seed,
  } as const;
  const { labels, targeted } = lossLabels(batch.y, o.target, model.labels.length);
  const x = batch.x;
  let best: tf.Tensor4D | null = null;
  let bestScore: Float32Array | null = null;
  for (let r = 0; r <= d.restarts; r++) {
    let xa = d.randomStart || r > 0 ? randomStart(x, o.eps, d.norm, d.seed + 7919 * r) : tf.clone(x);
    xa = pgdSteps(model, x, xa, labels, targeted, { ...d, eps: o.eps });
    // Worst case per example: a success beats a failure; between equals, the higher loss wins.
    const score = tf.tidy(() => {
      const logits = model.logits(xa);
      const loss = attackLoss(logits, labels, targeted, d.loss).dataSync() as Float32Array;
      const ok = successOf(logits, labels, targeted);
      return Float32Array.from(loss, (v, i) => (ok[i] ? 1e30 : v));
    });
    if (!best || !bestScore) {
      best = xa;
      bestScore = score;
    } else {
      const take = Array.from(score, (v, i) => (v > bestScore![i] ? 1 : 0));
      const merged = tf.tidy(
        () =>
          tf.where(
            tf.broadcastTo(tf.reshape(tf.tensor1d(take, 'bool'), [-1, 1, 1, 1]), xa.shape),
            xa,
            best!,
          ) as tf.Tensor4D,
      );
      take.forEach((t, i) => t && (bestScore![i] = score[i]));
      tf.dispose([best, xa]);
      best = merged;
    }
  }
  return finishAttack(model, best as tf.Tensor4D, labels, targeted, {
    attack: `pgd-${d.norm}`,
    eps: o.eps,
    ...d,
    target: o.target ?? null,
  });
}

const PGD_FACTS = { norm: 'linf', iterative: true, exampleEps: '0.1' } as const;
const SUMMARY = 'PGD (Madry et al., ICLR 2018): projected gradient ascent in an eps-ball';

/** PGD in the L-inf (default) or L2 ball. */
export const pgdAttack = defineAttack<PgdOptions, typeof PGD_OPTIONS>({
  name: 'pgd',
  summary: SUMMARY,
  options: PGD_OPTIONS,
  facts: PGD_FACTS,
  attack: runPgd,
});

const FIXED_NORM = omitSpecs(PGD_OPTIONS, 'norm');

/** PGD in the L-inf ball. */
export const pgdLinfAttack = defineAttack<Omit<PgdOptions, 'norm'>, typeof FIXED_NORM>({
  name: 'pgd-linf',
  summary: `${SUMMARY}, L-inf`,
  options: { ...FIXED_NORM, stepSize: { ...FIXED_NORM.stepSize, defaultText: '0.01' } },
  facts: PGD_FACTS,
  attack: (model, batch, o) => runPgd(model, batch, { ...o, norm: 'linf' }),
});

/** PGD in the L2 ball. */
export const pgdL2Attack = defineAttack<Omit<PgdOptions, 'norm'>, typeof FIXED_NORM>({
  name: 'pgd-l2',
  summary: `${SUMMARY}, L2`,
  options: { ...FIXED_NORM, stepSize: { ...FIXED_NORM.stepSize, defaultText: 'eps/5' } },
  facts: { ...PGD_FACTS, norm: 'l2', exampleEps: '2' },
  attack: (model, batch, o) => runPgd(model, batch, { ...o, norm: 'l2' }),
});

/** PGD (see the file's header); validates its options (a UserError naming a bad one). */
export const pgd = pgdAttack.run;
