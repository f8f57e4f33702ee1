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
  /**
   * Set when a stop request ended the run inside epoch `epochsDone + 1`: how far that epoch got,
   * so a resumed run continues after its last finished batch with the same totals and randomness.
   */
  partial?: PartialEpoch;
}

/** The part of an epoch a stopped run finished (see {@link TrainState.partial}). */
export interface PartialEpoch {
  /** Batches of the epoch done. */
  batchesDone: number;
  /** The epoch's running totals: sum of per-example losses, hits, examples seen, seconds spent. */
  lossSum: number;
  correct: number;
  seen: number;
  seconds: number;
  /** The epoch's random generator after its last finished batch (`Rng.state()`). */
  rng: number[];
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
    epochsDone: result.epoch,
    recipeKey: state.recipeKey,
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
