import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../../models/classifier.ts';
import type { Rng } from '../../engine/rng.ts';
import { UserError } from '../../errors.ts';
import { crossEntropyObjective, underfitObjective } from './crossEntropy.ts';
import { fgsmObjective } from './fgsm.ts';
import { pgdObjective } from './pgd.ts';
import { tradesObjective } from './trades.ts';
import { igNormObjective } from './igNorm.ts';
import { intObjective } from './int.ts';

/** What an objective sees at one training step. `x` [N,H,W,C] in [0,1]; `y` int32 [N]. */
export interface ObjectiveContext {
  classifier: Classifier;
  x: tf.Tensor4D;
  y: tf.Tensor1D;
  /** Global step (0-based) and the run's total number of steps, for ramps. */
  step: number;
  totalSteps: number;
  epoch: number;
  rng: Rng;
  /**
   * The inner maximiser x' [N,H,W,C] that {@link Objective.inner} returned for this step; the loop
   * passes it. Where it is absent, an objective that needs x' computes it inside `loss`.
   */
  xAdv?: tf.Tensor4D;
  /**
   * Set when the loop splits the batch over workers (data-parallel training): `x` and `y` are the
   * rows `offset` .. of a batch of `batchSize`. Random draws (random starts) are made for the whole
   * batch and these rows kept, so that they do not depend on the number of workers.
   */
  shard?: BatchShard;
}

/** Which rows of a batch an {@link ObjectiveContext} holds (see `shard`). */
export interface BatchShard {
  offset: number;
  batchSize: number;
}

/**
 * A training objective: a plug-in of the training loop. `loss` runs inside the loop's gradient
 * tape; it returns the scalar to minimise and the logits on the clean batch (for accuracy).
 */
export interface Objective {
  name: string;
  /** The options that define it, defaults filled in, recorded in the model card. */
  options: Record<string, unknown>;
  /**
   * The inner maximisation of a robust objective (x' = argmax over the eps-ball), run by the loop
   * before and outside the gradient tape, so the attack's own gradients are neither recorded nor
   * differentiated: x' is a constant of the outer loss (Danskin). Returns x' (the caller owns it and
   * passes it to `loss` as `ctx.xAdv`), or null when this step needs none.
   */
  inner?(ctx: ObjectiveContext): tf.Tensor4D | null;
  loss(ctx: ObjectiveContext): { loss: tf.Scalar; logits: tf.Tensor2D };
}

export type ObjectiveFactory = (options: Record<string, unknown>) => Objective;

/** Objectives by name: the loop, the CLI and the server know them only through this registry. */
export const OBJECTIVES: Record<string, ObjectiveFactory> = {
  normal: crossEntropyObjective,
  underfit: underfitObjective,
  fgsm: fgsmObjective,
  pgd: pgdObjective,
  trades: tradesObjective,
  'ig-norm': (o) => igNormObjective('ig-norm', o),
  'ig-norm-sum': (o) => igNormObjective('ig-norm-sum', o),
  'int-one-class': (o) => intObjective('int-one-class', o),
  int: (o) => intObjective('int', o),
  'int-adv': (o) => intObjective('int-adv', o),
  int2: (o) => intObjective('int2', o),
  'int2-adv': (o) => intObjective('int2-adv', o),
};

/** `attackStepSize` -> `--attack-step-size`: how the CLI spells an option. */
const flag = (key: string) =>
  key === 'randomStart' ? '--no-random-start' : `--${key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`;

/**
 * Builds the named objective; a {@link UserError} naming the valid ones otherwise, or naming the
 * options the method takes when given one it does not use (undefined values count as not given).
 */
export function makeObjective(name: string, options: Record<string, unknown> = {}): Objective {
  const f = Object.hasOwn(OBJECTIVES, name) ? OBJECTIVES[name] : undefined;
  if (!f)
    throw new UserError(
      `unknown training method '${name}'; use one of ${Object.keys(OBJECTIVES).join(', ')}`,
    );
  const objective = f(options);
  // `description` documents a method (underfit's recipe); it is not a setting.
  const known = Object.keys(objective.options).filter((k) => k !== 'description');
  for (const [k, v] of Object.entries(options)) {
    if (v !== undefined && !known.includes(k))
      throw new UserError(
        `method ${name} does not use ${flag(k)}; ${known.length ? `it takes ${known.map(flag).join(', ')}` : 'it takes no method options'}`,
      );
  }
  return objective;
}
