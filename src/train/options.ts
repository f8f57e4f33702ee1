import type { Classifier } from '../models/classifier.ts';
import type { Dataset } from '../data/dataset.ts';
import { UserError } from '../errors.ts';
import type { Objective } from './objectives/index.ts';
import type { Augment } from './augment.ts';
import type { Schedule } from './schedule.ts';
import type { EpochResult, TrainProgress } from './progress.ts';
import type { CheckpointStore } from './state.ts';
import type { ShardedGradients } from './shards.ts';

/** What {@link train} is asked to do: the recipe (objective, epochs, optimiser, ...) and its hooks. */
export interface TrainOptions {
  objective: Objective;
  epochs: number;
  batchSize: number;
  seed: number;
  optimizer: 'adam' | 'sgd';
  lr: number;
  /** SGD momentum (ignored by Adam). */
  momentum: number;
  /** L2 weight decay on conv and dense kernels, added to their gradients (default 0: none). */
  weightDecay?: number;
  schedule: Schedule;
  augment: Augment[];
  onProgress?: (p: TrainProgress) => void;
  onEpoch?: (e: EpochResult) => void | Promise<void>;
  /** Saves and restores the run's state once per epoch. */
  checkpoint?: CheckpointStore;
  /**
   * Continue from the checkpoint. Without one (none saved yet) training refuses to start: a
   * resume that silently starts over would hide a lost checkpoint.
   */
  resume?: boolean;
  /**
   * Data-parallel training: each batch is split into `shards.size` shards whose gradients are
   * computed elsewhere (worker threads: `poolShardedGradients` in src/node/poolWorkerTasks.ts) and
   * averaged here. The objective must come from the registry (`OBJECTIVES`) and the model must not
   * use batch normalisation. Absent (or of size 1): everything runs in this thread.
   */
  shards?: ShardedGradients;
  /**
   * A stop request (Ctrl-C, SIGTERM, a cancelled job): checked after every batch, between which the
   * loop then yields to the event loop so the request can arrive; the run checkpoints where it is
   * and returns with `stopped` set. A batch in progress is finished first.
   */
  signal?: AbortSignal;
}

/** What {@link train} returns: the epochs done (all of them, resumed ones included) and their history. */
export interface TrainResult {
  epochsDone: number;
  history: EpochResult[];
  wallTimeSec: number;
  /** The epochs the checkpoint held when the run resumed (0 for a fresh run). */
  resumedFrom: number;
  /** Whether `signal` stopped the run before its last epoch ended (the checkpoint holds where). */
  stopped: boolean;
}

/** Refuses options the loop cannot run, with a one-line reason. */
export function checkTrainOptions(c: Classifier, o: TrainOptions): void {
  if (c.trainableVariables().length === 0)
    throw new UserError('the model has no trainable weights; only layers models can be trained');
  if (!Number.isInteger(o.epochs) || o.epochs < 1)
    throw new UserError(`epochs must be a positive integer (got ${o.epochs})`);
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1)
    throw new UserError(`batchSize must be a positive integer (got ${o.batchSize})`);
  if (!(o.lr > 0)) throw new UserError(`lr must be a positive number (got ${o.lr})`);
  if (o.weightDecay !== undefined && !(o.weightDecay >= 0 && o.weightDecay < 1))
    throw new UserError(`weight decay must be a number in [0, 1) (got ${o.weightDecay})`);
}

/**
 * What a checkpoint must have been made with to be resumed: everything that changes the sequence
 * of steps (objective and its options, batch size, optimiser, seed, data). Epochs, learning rate
 * and schedule may change between runs.
 */
export function recipeKey(o: TrainOptions, data: Pick<Dataset, 'name' | 'size'>): string {
  return JSON.stringify([
    o.objective.name,
    o.objective.options,
    o.batchSize,
    o.optimizer,
    o.seed,
    data.name,
    data.size,
    // Only when set, so checkpoints of runs without it keep their key.
    ...(o.weightDecay ? [o.weightDecay] : []),
  ]);
}
