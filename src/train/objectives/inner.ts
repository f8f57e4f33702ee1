/**
 * The inner maximisation shared by the robust objectives (ALGORITHMS.md sections 1 and 4): the
 * budget with its linear warm-up ramp, the random start, ordinary PGD on the cross-entropy (the
 * attack module's `pgdSteps`), and sign ascent of any other loss (TRADES' KL, Int's discrepancy).
 * Attacks run in inference mode (`model.logits`); the objectives' outer losses in training mode.
 * Defaults are MNIST's training settings: eps 0.3, 40 steps of 0.01, random start, eps ramped up
 * from 0 between 2% and 10% of the run (the Int/Int2 code: steps 2,000 to 10,000 of 100,000).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../../models/classifier.ts';
import type { BatchShard, ObjectiveContext } from './index.ts';
import { pgdSteps } from '../../attacks/pgd.ts';
import { projectedAscent, randomStart } from '../../attacks/ball.ts';
import { parseNumber, type OptionSpecs } from '../../options.ts';

/** The settings of an inner attack, as recorded in the model card. */
export interface InnerSettings {
  /** Budget in [0,1] pixel units (L-inf) or L2 norm of the [0,1] image; default 0.3. */
  eps: number;
  /** 'linf' (sign steps, default) or 'l2' (steps along g / ||g||_2). */
  norm: 'linf' | 'l2';
  /** PGD steps, default 40. */
  attackSteps: number;
  /** Step size, default 0.01 (L-inf) or eps/5 (L2). */
  attackStepSize: number;
  /** Start at x + U(-eps, eps) (L-inf) or a random point of the L2 ball; default true. */
  randomStart: boolean;
  /**
   * [start, end] as fractions of the run's total steps: eps is 0 up to `start`, rises linearly and
   * is reached at `end`; default [0.02, 0.1]. [0, 0] turns the ramp off.
   */
  epsRamp: [number, number];
}

/** The options of a robust objective's inner attack (see {@link InnerSettings} for each). */
export interface InnerOptions {
  eps?: number;
  attackSteps?: number;
  attackStepSize?: number;
  randomStart?: boolean;
  epsRamp?: [number, number];
}

const isRamp = (v: unknown): v is [number, number] =>
  Array.isArray(v) &&
  v.length === 2 &&
  v.every((t) => typeof t === 'number' && Number.isFinite(t) && t >= 0 && t <= 1) &&
  v[0] <= v[1];

/** The specs of {@link InnerOptions}; each robust objective takes them (FGSM: eps and epsRamp only). */
export const INNER_SPECS = {
  eps: {
    type: 'number',
    min: 0,
    default: 0.3,
    doc: 'attack budget in [0,1] pixel units',
    metavar: 'x',
  },
  attackSteps: {
    type: 'number',
    integer: true,
    min: 0,
    default: 40,
    doc: 'steps of the inner PGD',
    metavar: 'n',
  },
  attackStepSize: {
    type: 'number',
    min: 0,
    exclusiveMin: true,
    defaultText: '0.01; eps/5 for l2',
    doc: 'inner PGD step',
    metavar: 'x',
  },
  randomStart: {
    type: 'boolean',
    default: true,
    doc: 'start the inner attack at a random point of the ball, not at x',
  },
  epsRamp: {
    type: 'value',
    default: [0.02, 0.1],
    expects: 'start,end: fractions of the run with 0 <= start <= end <= 1, e.g. 0.02,0.1, or none for 0,0',
    check: isRamp,
    parse: (text) => {
      if (text.trim() === 'none') return [0, 0];
      const parts = text.split(',').map((t) => parseNumber(t));
      return parts.length === 2 && parts[0] !== null && parts[1] !== null ? [parts[0], parts[1]] : undefined;
    },
    doc: 'eps rises from 0 to eps between these fractions of the run',
    metavar: 'start,end',
  },
} satisfies OptionSpecs<InnerOptions>;

/**
 * The inner-attack settings from checked options (eps and epsRamp filled in), the others'
 * defaults filled in. `fixed` pins settings the method does not let the user choose (FGSM: one
 * step of eps, no random start; L-inf-only methods: the norm).
 */
export function innerSettings(
  o: InnerOptions & { eps: number; epsRamp: [number, number]; norm?: 'linf' | 'l2' },
  fixed: Partial<InnerSettings> = {},
): InnerSettings {
  const norm = fixed.norm ?? o.norm ?? 'linf';
  return {
    eps: o.eps,
    norm,
    attackSteps: fixed.attackSteps ?? o.attackSteps ?? 40,
    attackStepSize: fixed.attackStepSize ?? o.attackStepSize ?? (norm === 'linf' ? 0.01 : o.eps / 5),
    randomStart: fixed.randomStart ?? o.randomStart ?? true,
    epsRamp: o.epsRamp,
  };
}

/** The settings of an L-inf-only method, as its card records them (without `norm`). */
export function withoutNorm(s: InnerSettings): Omit<InnerSettings, 'norm'> {
  const { norm: _, ...rest } = s;
  return rest;
}

/**
 * The budget at global step `step` of a run of `totalSteps`: 0 up to start * totalSteps, then
 * linear, eps from end * totalSteps on (ALGORITHMS.md section 4, "scaled to the run's length").
 */
export function epsAt(s: Pick<InnerSettings, 'eps' | 'epsRamp'>, step: number, totalSteps: number): number {
  const s0 = s.epsRamp[0] * totalSteps;
  const s1 = s.epsRamp[1] * totalSteps;
  if (step >= s1) return s.eps;
  if (step <= s0) return 0;
  return (s.eps * (step - s0)) / (s1 - s0);
}

/**
 * The attack's starting point: x, or with `randomStart` x + U(-eps, eps) (L-inf) or x plus a
 * uniformly scaled random direction of the L2 ball, projected into [0, 1] (caller owns). When x is
 * the `shard` of a larger batch (data-parallel training), the noise is drawn for the whole batch and
 * this shard's rows are kept, so the start does not depend on how the batch was split.
 */
export function startPoint(
  x: tf.Tensor4D,
  eps: number,
  s: InnerSettings,
  seed: number,
  shard?: BatchShard,
): tf.Tensor4D {
  if (!s.randomStart || eps === 0) return tf.clone(x);
  if (!shard || (shard.offset === 0 && shard.batchSize === x.shape[0]))
    return randomStart(x, eps, s.norm, seed);
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const pad = (rows: number) => (rows > 0 ? [tf.zeros([rows, h, w, c])] : []);
    const whole = tf.concat([...pad(shard.offset), x, ...pad(shard.batchSize - shard.offset - n)], 0);
    return tf.slice(
      randomStart(whole as tf.Tensor4D, eps, s.norm, seed),
      [shard.offset, 0, 0, 0],
      [n, h, w, c],
    );
  });
}

/**
 * Gradient ascent of `loss(x')` (a scalar, the sum of per-example losses, so each example gets its
 * own gradient) from `start` (taken over): the attack module's {@link projectedAscent}, for losses
 * other than its CE and CW. The caller owns the result.
 */
export function ascend(
  x: tf.Tensor4D,
  start: tf.Tensor4D,
  loss: (xa: tf.Tensor4D) => tf.Scalar,
  d: { eps: number; stepSize: number; steps: number; norm: 'linf' | 'l2' },
): tf.Tensor4D {
  return projectedAscent(
    x,
    start,
    (xa) => tf.grad((v: tf.Tensor) => loss(v as tf.Tensor4D))(xa) as tf.Tensor4D,
    d,
  );
}

/**
 * x' of ordinary PGD on the cross-entropy of the true label (a misclassification attack) with the
 * step's budget, from the random start (caller owns). With eps 0 it is a copy of x.
 */
export function cePgd(model: Classifier, ctx: ObjectiveContext, s: InnerSettings): tf.Tensor4D {
  const eps = epsAt(s, ctx.step, ctx.totalSteps);
  const start = startPoint(ctx.x, eps, s, ctx.rng.seed(), ctx.shard);
  if (eps === 0 || s.attackSteps === 0) return start;
  return pgdSteps(model, ctx.x, start, ctx.y, false, {
    eps,
    stepSize: s.attackStepSize,
    steps: s.attackSteps,
    norm: s.norm,
    loss: 'ce',
    earlyStop: false,
  });
}

/**
 * x' for `loss`: the loop's `ctx.xAdv`, or else `inner(ctx)` computed now and copied by value, so
 * that an active gradient tape never differentiates through the attack. Call inside a tidy.
 */
export function xAdvOf(
  ctx: ObjectiveContext,
  inner: (ctx: ObjectiveContext) => tf.Tensor4D | null,
): tf.Tensor4D {
  if (ctx.xAdv) return ctx.xAdv;
  const xa = inner(ctx);
  if (!xa) throw new Error("the objective needs x' at this step but its inner maximisation gave none");
  const copy = tf.tensor4d(xa.dataSync() as Float32Array, xa.shape);
  xa.dispose();
  return copy;
}
