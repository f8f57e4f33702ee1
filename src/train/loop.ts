/**
 * The one training loop. Its parts live beside it: the options and recipe (options.ts), the
 * optimiser (optimizer.ts), one step in this thread (step.ts) or shared by workers (shards.ts),
 * progress and history (progress.ts), and the resumable state (state.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.ts';
import type { Dataset } from '../data/dataset.ts';
import { batchIndices, getBatch } from '../data/dataset.ts';
import { createRng } from '../engine/rng.ts';
import { UserError } from '../errors.ts';
import type { ObjectiveContext } from './objectives/index.ts';
import { learningRateAt } from './schedule.ts';
import { checkTrainOptions, recipeKey, type TrainOptions, type TrainResult } from './options.ts';
import { disposeOptimizer, makeOptimizer, setLearningRate } from './optimizer.ts';
import { epochMeter } from './progress.ts';
import { afterEpoch, startState } from './state.ts';
import { checkShardable, shardedStep, shardSetup } from './shards.ts';
import { localStep } from './step.ts';

export type { TrainOptions, TrainResult } from './options.ts';
export type { TrainProgress, EpochResult } from './progress.ts';
export type { TrainState, CheckpointStore } from './state.ts';
export {
  shardRefusal,
  shardRows,
  usesBatchNorm,
  type ShardSetup,
  type ShardTask,
  type ShardOut,
  type ShardedGradients,
} from './shards.ts';
export { correctCount } from './step.ts';

/**
 * Trains `c` on `data`: shuffles with the run's seed (epoch e draws its order from seed and e, so a
 * resumed run sees the same batches), applies the augmentation hooks, runs the objective's inner
 * maximisation (if it has one) outside the gradient tape, asks the objective for the loss, steps
 * the optimiser, reports progress, and checkpoints after every epoch. When `o.signal` is aborted
 * the run stops at the end of the current batch, checkpoints that point (the partial epoch
 * included, so a resume continues bit for bit) and returns with `stopped` set.
 */
/** Runs the tasks waiting on the event loop (signal handlers, timers, I/O) before going on. */
const nextTask = (): Promise<void> =>
  new Promise((resolve) =>
    typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0),
  );

export async function train(c: Classifier, data: Dataset, o: TrainOptions): Promise<TrainResult> {
  checkTrainOptions(c, o);
  const vars = c.trainableVariables();
  const optimizer = makeOptimizer(o);
  let state = await startState(c, optimizer, o, recipeKey(o, data));
  const resumedFrom = state.epochsDone;
  const batchesPerEpoch = Math.ceil(data.size / o.batchSize);
  const totalSteps = batchesPerEpoch * o.epochs;
  const sharded = o.shards && o.shards.size > 1 ? o.shards : null;
  if (sharded) {
    checkShardable(c, o.objective, sharded.size);
    await sharded.start(() => shardSetup(c, o.objective, vars, sharded.size));
  }
  let stopped = false;
  try {
    for (let epoch = state.epochsDone; epoch < o.epochs && !stopped; epoch++) {
      let rng = createRng(o.seed * 100003 + epoch);
      const order = batchIndices(data.size, o.batchSize, rng);
      // A run stopped inside this epoch continues after its last finished batch.
      const partial = epoch === resumedFrom ? state.partial : undefined;
      if (partial) {
        if (partial.batchesDone >= order.length)
          throw new UserError(
            `the checkpoint stopped after batch ${partial.batchesDone} of an epoch of ${order.length}; resume with the data and batch size it was made with`,
          );
        rng = createRng(partial.rng);
      }
      const meter = epochMeter(epoch, o.epochs, order.length, data.size, partial);
      let lr = o.lr;
      for (let b = partial?.batchesDone ?? 0; b < order.length; b++) {
        lr = learningRateAt(o.lr, o.schedule, epoch + b / order.length, o.epochs);
        setLearningRate(optimizer, lr);
        const batch = getBatch(data, order[b]);
        let x = batch.x;
        for (const aug of o.augment) {
          const next = aug(x, rng);
          x.dispose();
          x = next;
        }
        const step = epoch * batchesPerEpoch + b;
        const ctx: ObjectiveContext = { classifier: c, x, y: batch.y, step, totalSteps, epoch, rng };
        let r: { loss: number; hits: number };
        try {
          if (sharded) {
            const out = await shardedStep(sharded, ctx, vars, optimizer, o.weightDecay);
            rng = out.rng;
            r = out;
          } else r = localStep(ctx, o.objective, vars, optimizer, o.weightDecay);
        } finally {
          tf.dispose([x, batch.y]);
        }
        if (!Number.isFinite(r.loss))
          throw new UserError(
            `the loss became ${r.loss} at epoch ${epoch + 1}, batch ${b + 1}; lower the learning rate (lr)`,
          );
        const progress = meter.add(r.loss, r.hits, order[b].length, b, lr);
        o.onProgress?.(progress);
        if (o.signal) {
          await nextTask(); // lets the caller's signal handlers run between batches
          if (o.signal.aborted && b + 1 < order.length) {
            const totals = meter.totals();
            state = { ...state, partial: { batchesDone: b + 1, ...totals, rng: rng.state() } };
            if (o.checkpoint) await o.checkpoint.save(c, optimizer, state);
            stopped = true;
            break;
          }
        }
      }
      if (stopped) break;
      const result = meter.result(lr);
      state = afterEpoch(state, result);
      if (o.checkpoint) await o.checkpoint.save(c, optimizer, state);
      await o.onEpoch?.(result);
      if (o.signal?.aborted && epoch + 1 < o.epochs) stopped = true;
    }
  } finally {
    if (sharded) await sharded.stop();
    disposeOptimizer(optimizer);
  }
  return {
    epochsDone: state.epochsDone,
    history: state.history,
    wallTimeSec: state.wallTimeSec,
    resumedFrom,
    stopped,
  };
}
