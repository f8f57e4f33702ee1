import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.ts';
import type { Dataset } from '../data/dataset.ts';
import { batchIndices, getBatch } from '../data/dataset.ts';
import { createRng } from '../engine/rng.ts';
import { UserError } from '../errors.ts';
import type { Objective, ObjectiveContext } from './objectives/index.ts';
import type { Augment } from './augment.ts';
import { learningRateAt, type Schedule } from './schedule.ts';

export interface TrainOptions {
  objective: Objective;
  epochs: number;
  batchSize: number;
  seed: number;
  optimizer: 'adam' | 'sgd';
  lr: number;
  /** SGD momentum (ignored by Adam). */
  momentum: number;
  schedule: Schedule;
  augment: Augment[];
  onProgress?: (p: TrainProgress) => void;
  onEpoch?: (e: EpochResult) => void | Promise<void>;
  /** Saves and restores the run's state once per epoch. */
  checkpoint?: CheckpointStore;
  /** Continue from the checkpoint, if there is one. */
  resume?: boolean;
}

export interface TrainProgress {
  epoch: number;
  epochs: number;
  batch: number;
  batches: number;
  loss: number;
  accuracy: number;
  imagesPerSec: number;
  etaSec: number;
  lr: number;
}

export interface EpochResult {
  epoch: number;
  loss: number;
  accuracy: number;
  lr: number;
  seconds: number;
}

/** What a checkpoint holds besides the model's weights. */
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

export interface TrainResult {
  epochsDone: number;
  history: EpochResult[];
  wallTimeSec: number;
  resumedFrom: number;
}

function makeOptimizer(o: TrainOptions): tf.Optimizer {
  if (o.optimizer === 'adam') return tf.train.adam(o.lr);
  if (o.optimizer === 'sgd') return tf.train.momentum(o.lr, o.momentum);
  throw new UserError(`unknown optimizer '${o.optimizer}'; use adam or sgd`);
}

function setLearningRate(opt: tf.Optimizer, lr: number): void {
  // SGD and momentum read a kept scalar `c` that only setLearningRate updates; Adam reads its
  // protected `learningRate` field at every step.
  const o = opt as unknown as { learningRate: number; setLearningRate?: (lr: number) => void };
  if (o.learningRate === lr) return;
  if (typeof o.setLearningRate === 'function') o.setLearningRate(lr);
  else o.learningRate = lr;
}

function disposeOptimizer(opt: tf.Optimizer): void {
  opt.dispose();
  // tfjs 4.22's MomentumOptimizer.dispose leaves SGD's kept learning-rate scalar behind.
  const c = (opt as unknown as { c?: tf.Tensor }).c;
  if (c && !c.isDisposed) c.dispose();
}

/**
 * The one training loop: shuffles with the run's seed (epoch e draws its order from seed and e, so a
 * resumed run sees the same batches), applies the augmentation hooks, runs the objective's inner
 * maximisation (if it has one) outside the gradient tape, asks the objective for the loss,
 * steps the optimiser, reports progress, and checkpoints after every epoch.
 */
export async function train(c: Classifier, data: Dataset, o: TrainOptions): Promise<TrainResult> {
  const vars = c.trainableVariables();
  if (vars.length === 0)
    throw new UserError('the model has no trainable weights; only layers models can be trained');
  if (!Number.isInteger(o.epochs) || o.epochs < 1)
    throw new UserError(`--epochs must be a positive integer (got ${o.epochs})`);
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1)
    throw new UserError(`--batch-size must be a positive integer (got ${o.batchSize})`);
  if (!(o.lr > 0)) throw new UserError(`--lr must be a positive number (got ${o.lr})`);
  const optimizer = makeOptimizer(o);
  const recipeKey = JSON.stringify([
    o.objective.name,
    o.objective.options,
    o.batchSize,
    o.optimizer,
    o.seed,
    data.name,
    data.size,
  ]);
  let state: TrainState = { epochsDone: 0, history: [], wallTimeSec: 0, recipeKey };
  if (o.resume && o.checkpoint) {
    const s = await o.checkpoint.load(c, optimizer);
    if (s) {
      if (s.recipeKey !== recipeKey) {
        throw new UserError(
          'the checkpoint was made with other options (method or its options, batch size, optimizer, seed or data); resume with the same ones, or drop --resume',
        );
      }
      state = s;
    }
  }
  const resumedFrom = state.epochsDone;
  const batchesPerEpoch = Math.ceil(data.size / o.batchSize);
  const totalSteps = batchesPerEpoch * o.epochs;
  for (let epoch = state.epochsDone; epoch < o.epochs; epoch++) {
    const rng = createRng(o.seed * 100003 + epoch);
    const order = batchIndices(data.size, o.batchSize, rng);
    const t0 = performance.now();
    let lossSum = 0;
    let correct = 0;
    let seen = 0;
    let lr = o.lr;
    for (let b = 0; b < order.length; b++) {
      lr = learningRateAt(o.lr, o.schedule, epoch + b / order.length, o.epochs);
      setLearningRate(optimizer, lr);
      const batch = getBatch(data, order[b]);
      let x = batch.x;
      for (const aug of o.augment) {
        const next = aug(x, rng);
        x.dispose();
        x = next;
      }
      let logits: tf.Tensor2D | null = null;
      const step = epoch * batchesPerEpoch + b;
      const ctx: ObjectiveContext = { classifier: c, x, y: batch.y, step, totalSteps, epoch, rng };
      // A robust objective's inner maximisation runs outside the tape: x' is a constant of the loss.
      const xAdv = o.objective.inner?.(ctx) ?? undefined;
      const { value, grads } = tf.variableGrads(() => {
        const r = o.objective.loss(xAdv ? { ...ctx, xAdv } : ctx);
        logits = tf.keep(r.logits);
        return r.loss;
      }, vars);
      xAdv?.dispose();
      optimizer.applyGradients(grads);
      const n = order[b].length;
      const [lossV, hits] = tf.tidy(() => [
        value.dataSync()[0],
        tf
          .sum(
            tf.cast(
              tf.equal(tf.argMax(logits as unknown as tf.Tensor2D, 1), tf.cast(batch.y, 'int32')),
              'int32',
            ),
          )
          .dataSync()[0],
      ]);
      tf.dispose([value, x, batch.y, logits as unknown as tf.Tensor]);
      tf.dispose(Object.values(grads));
      if (!Number.isFinite(lossV))
        throw new UserError(`the loss became ${lossV} at epoch ${epoch + 1}, batch ${b + 1}; lower --lr`);
      lossSum += lossV * n;
      correct += hits;
      seen += n;
      const dt = (performance.now() - t0) / 1000;
      const rate = seen / Math.max(dt, 1e-9);
      const remaining = (o.epochs - epoch - 1) * data.size + (data.size - seen);
      o.onProgress?.({
        epoch: epoch + 1,
        epochs: o.epochs,
        batch: b + 1,
        batches: order.length,
        loss: lossSum / seen,
        accuracy: correct / seen,
        imagesPerSec: rate,
        etaSec: remaining / rate,
        lr,
      });
    }
    const seconds = (performance.now() - t0) / 1000;
    const result: EpochResult = {
      epoch: epoch + 1,
      loss: lossSum / seen,
      accuracy: correct / seen,
      lr,
      seconds,
    };
    state = {
      ...state,
      epochsDone: epoch + 1,
      history: [...state.history, result],
      wallTimeSec: state.wallTimeSec + seconds,
    };
    if (o.checkpoint) await o.checkpoint.save(c, optimizer, state);
    await o.onEpoch?.(result);
  }
  disposeOptimizer(optimizer);
  return {
    epochsDone: state.epochsDone,
    history: state.history,
    wallTimeSec: state.wallTimeSec,
    resumedFrom,
  };
}
