import type * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.ts';
import { UserError } from '../errors.ts';
import type { EpochResult } from './progress.ts';

/** What a checkpoint holds besides the model's weights and the optimiser's slots. */
export interface TrainState {
  epochsDone: number;
  history: EpochResult[];
  wallTimeSec: number;
  recipeKey: string;
}

/** Where checkpoints live (the Node adapter writes folders; a browser could use IndexedDB). */
export interface CheckpointStore {
  save(c: Classifier, optimizer: tf.Optimizer, state: TrainState): Promise<void>;
  /** Restores weights into `c` and `optimizer` and returns the state, or null when there is none. */
  load(c: Classifier, optimizer: tf.Optimizer): Promise<TrainState | null>;
}

/** The state of a run that has done nothing yet. */
export function freshState(recipeKey: string): TrainState {
  return { epochsDone: 0, history: [], wallTimeSec: 0, recipeKey };
}

/** The state after one more epoch. */
export function afterEpoch(state: TrainState, result: EpochResult): TrainState {
  return {
    ...state,
    epochsDone: result.epoch,
    history: [...state.history, result],
    wallTimeSec: state.wallTimeSec + result.seconds,
  };
}

/**
 * The state to start from: the checkpoint's when resuming (its weights and optimiser slots restored
 * into `c` and `optimizer`), else a fresh one. Resuming refuses a missing checkpoint, one made with
 * another recipe, and one already past the run's `epochs`.
 */
export async function startState(
  c: Classifier,
  optimizer: tf.Optimizer,
  o: { resume?: boolean; checkpoint?: CheckpointStore; epochs: number },
  recipeKey: string,
): Promise<TrainState> {
  if (!o.resume) return freshState(recipeKey);
  const s = o.checkpoint ? await o.checkpoint.load(c, optimizer) : null;
  if (!s) throw new UserError('there is no checkpoint to resume; drop --resume to start a new run');
  if (s.recipeKey !== recipeKey) {
    throw new UserError(
      'the checkpoint was made with other options (method or its options, batch size, optimizer, seed or data); resume with the same ones, or drop --resume',
    );
  }
  if (s.epochsDone > o.epochs)
    throw new UserError(
      `the checkpoint is after epoch ${s.epochsDone}, past --epochs ${o.epochs}; resume with --epochs ${s.epochsDone} or more`,
    );
  return s;
}
