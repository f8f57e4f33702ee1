import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../models/classifier.ts';
import type { Dataset } from '../data/dataset.ts';
import { batchIndices, getBatch } from '../data/dataset.ts';
import { createRng, type Rng } from '../engine/rng.ts';
import type { ModelCard } from '../models/card.ts';
import { UserError } from '../errors.ts';
import { makeObjective, OBJECTIVES, type Objective, type ObjectiveContext } from './objectives/index.ts';
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
  /**
   * Data-parallel training: each batch is split into `shards.size` shards whose gradients are
   * computed elsewhere (worker threads: `poolShardedGradients` in src/node/poolWorkerTasks.ts) and
   * averaged here. The objective must come from the registry (`OBJECTIVES`) and the model must not
   * use batch normalisation. Absent (or of size 1): everything runs in this thread.
   */
  shards?: ShardedGradients;
}

/** What the gradient workers need once: the model, its card and the objective (from the registry). */
export interface ShardSetup {
  /** The model's topology and weights, as `model.save` gives them. */
  artifacts: tf.io.ModelArtifacts;
  card: ModelCard;
  objective: { name: string; options: Record<string, unknown> };
  /** Number of values in all trainable variables together (the length of every weight and gradient array). */
  size: number;
}

/** One shard of one step: rows `offset` .. `offset + n - 1` of a batch of `batchSize`. */
export interface ShardTask {
  /** Images [n, H, W, C] after augmentation, float32 in [0, 1], and labels [n]. */
  x: Float32Array;
  shape: [number, number, number, number];
  y: Int32Array;
  offset: number;
  batchSize: number;
  /** The run's random generator state before the objective draws (after augmentation). */
  rngState: number[];
  step: number;
  totalSteps: number;
  epoch: number;
}

/** A shard's outcome: the gradient of its mean loss (all trainable variables, flattened in order). */
export interface ShardOut {
  grads: Float32Array;
  /** Mean loss over the shard. */
  loss: number;
  /** Shard examples classified correctly. */
  correct: number;
  /** The random generator state after the objective's draws. */
  rngState: number[];
}

/** Computes shard gradients somewhere else, with the weights it is given at every step. */
export interface ShardedGradients {
  /** How many shards a batch is split into. */
  readonly size: number;
  start(setup: ShardSetup): Promise<void>;
  /** Shard k runs on worker k with `weights` (all trainable variables, flattened in order). */
  run(weights: Float32Array, shards: ShardTask[]): Promise<ShardOut[]>;
  stop(): Promise<void>;
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

/** One step in this thread: inner maximisation, loss and gradients, optimiser step. */
function localStep(
  ctx: ObjectiveContext,
  objective: Objective,
  vars: tf.Variable[],
  optimizer: tf.Optimizer,
): { loss: number; hits: number } {
  let logits: tf.Tensor2D | null = null;
  // A robust objective's inner maximisation runs outside the tape: x' is a constant of the loss.
  const xAdv = objective.inner?.(ctx) ?? undefined;
  const { value, grads } = tf.variableGrads(() => {
    const r = objective.loss(xAdv ? { ...ctx, xAdv } : ctx);
    logits = tf.keep(r.logits);
    return r.loss;
  }, vars);
  xAdv?.dispose();
  optimizer.applyGradients(grads);
  const [loss, hits] = tf.tidy(() => [value.dataSync()[0], correctCount(logits!, ctx.y)]);
  tf.dispose([value, logits as unknown as tf.Tensor]);
  tf.dispose(Object.values(grads));
  return { loss, hits };
}

/** Examples whose logits [N, K] rank their label [N] first. */
export function correctCount(logits: tf.Tensor2D, y: tf.Tensor1D): number {
  return tf.tidy(
    () => tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.cast(y, 'int32')), 'int32')).dataSync()[0],
  );
}

/** Contiguous shards [offset, rows] of a batch of `n` over `k` workers (sizes differ by at most one; none empty). */
export function shardRows(n: number, k: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0, off = 0; i < k; i++) {
    const rows = Math.floor(n / k) + (i < n % k ? 1 : 0);
    if (rows > 0) out.push([off, rows]);
    off += rows;
  }
  return out;
}

/**
 * One data-parallel step: the batch (augmented here) is split into shards; each worker computes the
 * gradient of the objective's mean loss on its shard with the current weights, drawing its random
 * numbers from the same generator state (and for the whole batch: ObjectiveContext.shard); the
 * gradients are averaged weighted by shard size, which is the gradient of the batch's mean loss,
 * and the optimiser steps here. Returns the batch's mean loss, its hits and the generator after the
 * objective's draws.
 */
async function shardedStep(
  shards: ShardedGradients,
  ctx: ObjectiveContext,
  vars: tf.Variable[],
  optimizer: tf.Optimizer,
): Promise<{ loss: number; hits: number; rng: Rng }> {
  const [n, h, w, ch] = ctx.x.shape;
  const per = h * w * ch;
  const xs = ctx.x.dataSync() as Float32Array;
  const ys = ctx.y.dataSync() as Int32Array;
  const rngState = ctx.rng.state();
  const tasks: ShardTask[] = shardRows(n, shards.size).map(([offset, rows]) => ({
    x: xs.slice(offset * per, (offset + rows) * per),
    shape: [rows, h, w, ch],
    y: Int32Array.from(ys.subarray(offset, offset + rows)),
    offset,
    batchSize: n,
    rngState,
    step: ctx.step,
    totalSteps: ctx.totalSteps,
    epoch: ctx.epoch,
  }));
  const size = vars.reduce((s, v) => s + v.size, 0);
  const weights = new Float32Array(size);
  let off = 0;
  for (const v of vars) {
    weights.set(v.dataSync() as Float32Array, off);
    off += v.size;
  }
  const outs = await shards.run(weights, tasks);
  const after = outs[0].rngState;
  if (outs.some((r) => r.rngState.join() !== after.join()))
    throw new Error(
      'the shards of one step drew different amounts of random numbers; the objective is not shardable',
    );
  // Sum in float64, weighted by shard size, then round once to float32.
  const sum = new Float64Array(size);
  let loss = 0;
  let hits = 0;
  outs.forEach((r, k) => {
    const wgt = tasks[k].shape[0] / n;
    for (let i = 0; i < size; i++) sum[i] += wgt * r.grads[i];
    loss += wgt * r.loss;
    hits += r.correct;
  });
  const flat = Float32Array.from(sum);
  off = 0;
  const grads: tf.NamedTensorMap = {};
  for (const v of vars) {
    grads[v.name] = tf.tensor(flat.subarray(off, off + v.size), v.shape);
    off += v.size;
  }
  optimizer.applyGradients(grads);
  tf.dispose(Object.values(grads));
  return { loss, hits, rng: createRng(after) };
}

/**
 * Whether the model normalises with batch statistics in training (batch normalisation): then a
 * shard's gradient is not a slice of the batch's, and data-parallel training would depend on the
 * number of workers.
 */
export function usesBatchNorm(c: Pick<Classifier, 'model'>): boolean {
  const model = c.model as { nonTrainableWeights?: unknown[]; layers?: { getClassName(): string }[] };
  return !!(
    model.layers?.some((l) => l.getClassName() === 'BatchNormalization') || model.nonTrainableWeights?.length
  );
}

/** Refuses what data-parallel training cannot reproduce exactly, with a one-line reason. */
function checkShardable(c: Classifier, objective: Objective, workers: number): void {
  if (usesBatchNorm(c))
    throw new UserError(
      `${workers} workers cannot train ${c.card.architecture}: it uses batch normalisation, whose batch statistics would be those of each worker's shard, so the result would depend on the number of workers; use 1 worker`,
    );
  const f = Object.hasOwn(OBJECTIVES, objective.name) ? OBJECTIVES[objective.name] : undefined;
  if (
    !f ||
    JSON.stringify(makeObjective(objective.name, objective.options).options) !==
      JSON.stringify(objective.options)
  )
    throw new UserError(
      `${workers} workers need an objective from the registry (${Object.keys(OBJECTIVES).join(', ')}) that its options rebuild; '${objective.name}' is not one: use 1 worker`,
    );
}

/** The model (topology and weights), card and objective the gradient workers rebuild. */
async function shardSetup(c: Classifier, objective: Objective, vars: tf.Variable[]): Promise<ShardSetup> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await c.model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return {
    artifacts: artifacts!,
    card: c.card,
    objective: { name: objective.name, options: objective.options },
    size: vars.reduce((s, v) => s + v.size, 0),
  };
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
    throw new UserError(`epochs must be a positive integer (got ${o.epochs})`);
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1)
    throw new UserError(`batchSize must be a positive integer (got ${o.batchSize})`);
  if (!(o.lr > 0)) throw new UserError(`lr must be a positive number (got ${o.lr})`);
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
          'the checkpoint was made with other options (method or its options, batch size, optimizer, seed or data); resume with the same ones, or start afresh without resuming',
        );
      }
      state = s;
    }
  }
  const resumedFrom = state.epochsDone;
  const batchesPerEpoch = Math.ceil(data.size / o.batchSize);
  const totalSteps = batchesPerEpoch * o.epochs;
  const sharded = o.shards && o.shards.size > 1 ? o.shards : null;
  if (sharded) {
    checkShardable(c, o.objective, sharded.size);
    await sharded.start(await shardSetup(c, o.objective, vars));
  }
  try {
    for (let epoch = state.epochsDone; epoch < o.epochs; epoch++) {
      let rng = createRng(o.seed * 100003 + epoch);
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
        const step = epoch * batchesPerEpoch + b;
        const ctx: ObjectiveContext = { classifier: c, x, y: batch.y, step, totalSteps, epoch, rng };
        let r: { loss: number; hits: number };
        try {
          if (sharded) {
            const out = await shardedStep(sharded, ctx, vars, optimizer);
            rng = out.rng;
            r = out;
          } else r = localStep(ctx, o.objective, vars, optimizer);
        } finally {
          tf.dispose([x, batch.y]);
        }
        const n = order[b].length;
        if (!Number.isFinite(r.loss))
          throw new UserError(
            `the loss became ${r.loss} at epoch ${epoch + 1}, batch ${b + 1}; lower the learning rate (lr)`,
          );
        lossSum += r.loss * n;
        correct += r.hits;
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
  } finally {
    if (sharded) await sharded.stop();
  }
  disposeOptimizer(optimizer);
  return {
    epochsDone: state.epochsDone,
    history: state.history,
    wallTimeSec: state.wallTimeSec,
    resumedFrom,
  };
}
