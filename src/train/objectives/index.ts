import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../../models/classifier.ts';
import type { Rng } from '../../engine/rng.ts';
import { UserError } from '../../errors.ts';
import { crossEntropyObjective } from './crossEntropy.ts';

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
}

/**
 * A training objective: a plug-in of the training loop. `loss` runs inside the loop's gradient
 * tape; it returns the scalar to minimise and the logits on the clean batch (for accuracy).
 */
export interface Objective {
  name: string;
  /** The options that define it, recorded in the model card. */
  options: Record<string, unknown>;
  loss(ctx: ObjectiveContext): { loss: tf.Scalar; logits: tf.Tensor2D };
}

export type ObjectiveFactory = (options: Record<string, unknown>) => Objective;

/** Objectives by name (later issues add the robust ones here, without touching the loop). */
export const OBJECTIVES: Record<string, ObjectiveFactory> = {
  normal: crossEntropyObjective,
};

/** Builds the named objective; a {@link UserError} naming the valid ones otherwise. */
export function makeObjective(name: string, options: Record<string, unknown> = {}): Objective {
  const f = OBJECTIVES[name];
  if (!f)
    throw new UserError(
      `unknown training method '${name}'; use one of ${Object.keys(OBJECTIVES).join(', ')}`,
    );
  return f(options);
}
