import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../../models/classifier.ts';
import type { Rng } from '../../engine/rng.ts';
import { UserError } from '../../errors.ts';
import type { ObjectiveRecord } from './record.ts';
import { crossEntropyRecord, underfitRecord } from './crossEntropy.ts';
import { fgsmRecord } from './fgsm.ts';
import { pgdRecord } from './pgd.ts';
import { tradesRecord } from './trades.ts';
import { igNormRecord, igNormSumRecord } from './igNorm.ts';
import { int2AdvRecord, int2Record, intAdvRecord, intOneClassRecord, intRecord } from './int.ts';

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

export { defineObjective, type ObjectiveFacts, type ObjectiveRecord } from './record.ts';

/** Objective records by name: the loop, the CLI and the server know objectives only through this registry. */
export const OBJECTIVES: Record<string, ObjectiveRecord> = {};

/** Adds an objective to the registry under `record.name` (made with `defineObjective`), replacing one of that name. */
export function registerObjective<O extends object>(record: ObjectiveRecord<O>): void {
  OBJECTIVES[record.name] = record;
}

for (const r of [
  crossEntropyRecord,
  underfitRecord,
  fgsmRecord,
  pgdRecord,
  tradesRecord,
  igNormRecord,
  igNormSumRecord,
  intOneClassRecord,
  intRecord,
  intAdvRecord,
  int2Record,
  int2AdvRecord,
])
  registerObjective(r);

/** The record of objective `name`; a {@link UserError} naming the valid ones otherwise. */
export function objectiveRecord(name: string): ObjectiveRecord {
  const r = Object.hasOwn(OBJECTIVES, name) ? OBJECTIVES[name] : undefined;
  if (!r)
    throw new UserError(
      `unknown training method '${name}'; use one of ${Object.keys(OBJECTIVES).join(', ')}`,
    );
  return r;
}

/**
 * Builds the named objective; a {@link UserError} naming the valid ones otherwise, or naming the
 * options the method takes when given one it does not use (undefined values count as not given).
 * `description` (underfit's recipe, recorded in its options) is accepted and ignored, so an
 * objective's recorded options rebuild it.
 */
export function makeObjective(name: string, options: Record<string, unknown> = {}): Objective {
  const { description: _, ...settings } = options;
  return objectiveRecord(name).create(settings);
}
