/**
 * What the unforeseen attacks of Kang et al. ("Testing Robustness Against Unforeseen Adversaries",
 * 2019; ALGORITHMS.md section 1) share: their common options, the ascent loop on an attack's own
 * variables, and edge padding to a block size. Each attack renders an image from its variables with a
 * differentiable function and updates the variables from the gradient of the attack loss (sign steps,
 * normalised steps or Frank-Wolfe steps, projected onto the attack's own budget).
 *
 * Common options and defaults: `eps` (the attack's default), `steps` 200, `stepSize` eps/sqrt(steps)
 * in the attack's own variable space, `loss` 'ce' | 'cw', `earlyStop` false (an example stops moving
 * once it is misclassified or reaches its target), `seed` 0 (every random draw comes from
 * `createRng(seed)`), `target` (untargeted when absent). `restarts` is not supported (must be 0) and
 * `norm` is fixed by the attack.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.ts';
import type { Batch } from '../data/dataset.ts';
import type { AttackResult } from './types.ts';
import { attackLoss, finishAttack, lossLabels, successOf } from './loss.ts';
import { COMMON_SPECS } from './record.ts';
import { UserError } from '../errors.ts';
import type { OptionSpecs } from '../options.ts';

/** The options every unforeseen attack takes. */
export interface UnforeseenOptions {
  /** The budget in the attack's own units; each attack has a default. */
  eps?: number;
  /** Iterations; 0 returns the random starting pattern. */
  steps?: number;
  /** Default eps / sqrt(steps), in the attack's variable space. */
  stepSize?: number;
  loss?: 'ce' | 'cw';
  earlyStop?: boolean;
  seed?: number;
  target?: number | number[];
  /** Not supported: must be 0 (run again with another seed instead). */
  restarts?: number;
}

/** The specs of {@link UnforeseenOptions}, with the attack's default budget. */
export function unforeseenSpecs(defaultEps: number, epsDoc: string) {
  return {
    eps: { type: 'number', min: 0, default: defaultEps, doc: epsDoc, metavar: 'budget' },
    steps: {
      ...COMMON_SPECS.steps,
      min: 0,
      default: 200,
      doc: 'attack iterations (0: the random starting pattern)',
    },
    stepSize: { ...COMMON_SPECS.stepSize, defaultText: 'eps/sqrt(steps)' },
    loss: COMMON_SPECS.loss,
    earlyStop: COMMON_SPECS.earlyStop,
    seed: COMMON_SPECS.seed,
    target: COMMON_SPECS.target,
    restarts: {
      ...COMMON_SPECS.restarts,
      max: 0,
      doc: 'not supported (must be 0): run again with another seed',
    },
  } satisfies OptionSpecs<UnforeseenOptions>;
}

/** The options every unforeseen attack reads, defaults filled in. */
export interface UnforeseenSettings {
  eps: number;
  steps: number;
  stepSize: number;
  loss: 'ce' | 'cw';
  earlyStop: boolean;
  seed: number;
  target: number | number[] | null;
}

/** The shared options, checked by the attack's specs, with the step size's default filled in. */
export function unforeseenSettings(
  o: Required<Pick<UnforeseenOptions, 'eps' | 'steps' | 'loss' | 'earlyStop' | 'seed'>> & UnforeseenOptions,
): UnforeseenSettings {
  const { eps, steps, loss, earlyStop, seed } = o;
  const stepSize = o.stepSize ?? eps / Math.sqrt(Math.max(steps, 1));
  return { eps, steps, stepSize, loss, earlyStop, seed, target: o.target ?? null };
}

/** Snow and Gabor draw their patterns at random by construction: `randomStart: false` is refused. */
export function requireRandomStart(o: { randomStart?: boolean }, name: string): void {
  if (o.randomStart === false)
    throw new UserError(
      `attack '${name}': always starts from a random pattern; leave option 'randomStart' unset and vary 'seed'`,
    );
}

/**
 * The attack loop. `renderAt(v)` is called with the current variables outside the gradient tape and
 * returns the differentiable map w -> x' (so an attack can hold quantities fixed at the current point,
 * as Gabor's normalisation does); `update(v, g, t)` returns the next variables (a new tensor). Runs
 * `steps` times, then renders the final image; `options` is recorded in the result as given. Takes
 * ownership of `init` and returns the result and the final variables (the caller owns both).
 */
export function ascend(
  model: Classifier,
  batch: Batch,
  s: UnforeseenSettings,
  init: tf.Tensor,
  renderAt: (v: tf.Tensor) => (w: tf.Tensor) => tf.Tensor4D,
  update: (v: tf.Tensor, g: tf.Tensor, t: number) => tf.Tensor,
  options: Record<string, unknown>,
): { result: AttackResult; vars: tf.Tensor } {
  let labels: tf.Tensor1D;
  let targeted: boolean;
  try {
    ({ labels, targeted } = lossLabels(batch.y, s.target ?? undefined, model.labels.length));
  } catch (err) {
    init.dispose();
    throw err;
  }
  let v = init;
  for (let t = 0; t < s.steps; t++) {
    const next = tf.tidy(() => {
      const render = renderAt(v);
      const g = tf.grad((w: tf.Tensor) =>
        tf.sum(attackLoss(model.logits(render(w)), labels, targeted, s.loss)),
      )(v);
      const stepped = update(v, g, t);
      if (!s.earlyStop) return stepped;
      const done = successOf(model.logits(render(v)), labels, targeted);
      const mask = tf.tensor(done, [done.length, ...v.shape.slice(1).map(() => 1)], 'bool');
      return tf.where(tf.broadcastTo(mask, v.shape), v, stepped);
    });
    v.dispose();
    v = next;
  }
  const xAdv = tf.tidy(() => renderAt(v)(v));
  return { result: finishAttack(model, xAdv, labels, targeted, options), vars: v };
}

/** Smallest multiple of `m` that is >= n. */
export function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}

/**
 * Pads [N, H, W, C] to [N, hp, wp, C] by repeating the last row and column (edge padding, as the
 * original JPEG code does), so that padded blocks hold no artificial edge. Caller owns the result.
 */
export function padEdge(x: tf.Tensor4D, hp: number, wp: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    let y: tf.Tensor4D = x;
    if (hp > h) {
      const last = tf.slice(y, [0, h - 1, 0, 0], [n, 1, w, c]);
      y = tf.concat([y, tf.broadcastTo(last, [n, hp - h, w, c])], 1);
    }
    if (wp > w) {
      const last = tf.slice(y, [0, 0, w - 1, 0], [n, hp, 1, c]);
      y = tf.concat([y, tf.broadcastTo(last, [n, hp, wp - w, c])], 2);
    }
    return y === x ? tf.clone(x) : y;
  });
}
