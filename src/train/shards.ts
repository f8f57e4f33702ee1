/**
 * Data-parallel training: how the workers share a batch. The loop splits each (augmented) batch into
 * contiguous shards, a {@link ShardedGradients} computes each shard's gradient elsewhere with the
 * current weights, and {@link shardedStep} averages them and steps the optimiser here.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Classifier } from '../models/classifier.ts';
import { createRng, type Rng } from '../engine/rng.ts';
import type { ModelCard } from '../models/card.ts';
import { UserError } from '../errors.ts';
import { makeObjective, OBJECTIVES, type Objective, type ObjectiveContext } from './objectives/index.ts';
import { optimizerStep } from './fusedMomentum.ts';
import { batchNormUnsyncable } from '../engine/batchNormTrain.ts';
import { collectiveBuffer } from './collective.ts';
import { heapValues, readInto } from '../engine/readInto.ts';

/** What the gradient workers need once: the model, its card and the objective (from the registry). */
export interface ShardSetup {
  /** The model's topology and weights, as `model.save` gives them. */
  artifacts: tf.io.ModelArtifacts;
  card: ModelCard;
  objective: { name: string; options: Record<string, unknown> };
  /** Number of values in all trainable variables together (the length of every weight and gradient array). */
  size: number;
  /**
   * For a model with batch normalisation: the buffer of the all-reduce (train/collective.ts) through
   * which the workers' batch-norm kernels use the whole batch's statistics.
   */
  collective?: SharedArrayBuffer;
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
  /** This shard's index and the step's number of shards (the ranks of synchronised batch norm). */
  shardIndex?: number;
  shards?: number;
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
  /**
   * Synchronised batch norm: `grads` is already this shard's share of the batch's gradient (the
   * gradient of the shard's summed loss over the batch size), so the step adds the shards' grads.
   */
  weighted?: boolean;
  /** Synchronised batch norm, shard 0: the model's non-trainable weights (moving statistics) after the step, flattened in order. */
  nonTrainable?: Float32Array;
}

/** Computes shard gradients somewhere else, with the weights it is given at every step. */
export interface ShardedGradients {
  /** How many shards a batch is split into. */
  readonly size: number;
  /**
   * Sets the workers up for a run; `setup` builds what they need (it serialises the model: 6-16 ms
   * for ResNet-20), called only by an implementation that uses it (one already set up may skip it).
   */
  start(setup: () => Promise<ShardSetup>): Promise<void>;
  /** Shard k runs on worker k with `weights` (all trainable variables, flattened in order). */
  run(weights: Float32Array, shards: ShardTask[]): Promise<ShardOut[]>;
  stop(): Promise<void>;
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

/** The step's weights and summed gradients, kept per ShardedGradients (see stepArrays). */
const stepScratch = new WeakMap<ShardedGradients, { weights: Float32Array; flat: Float32Array }>();

/**
 * The arrays a step of `size` trainable values fills, the same ones every step of one ShardedGradients:
 * fresh ones each step (2.2 MB for ResNet-20) cost their page faults again every step, 5-25 ms on this
 * VM, while the workers wait (2026-12-07). Their contents do not outlive the step (run() copies the
 * weights; the gradients are copied into tensors).
 */
function stepArrays(shards: ShardedGradients, size: number) {
  let a = stepScratch.get(shards);
  if (!a || a.weights.length !== size) {
    a = { weights: new Float32Array(size), flat: new Float32Array(size) };
    stepScratch.set(shards, a);
  }
  return a;
}

/**
 * Values `from` .. `to` - 1 of the shards' gradients summed into `out` (returned as a view): per value
 * s = 0, then s += wgts[j] * grads_j in shard order in float64, rounded once to float32.
 */
export function sumShards(
  outs: { grads: Float32Array }[],
  wgts: number[],
  out: Float32Array,
  from: number,
  to: number,
): Float32Array {
  if (outs.length === 2) {
    // The usual two workers in one loop (the same operations as the general one).
    const [g0, g1] = [outs[0].grads, outs[1].grads];
    const [w0, w1] = wgts;
    for (let i = from; i < to; i++) out[i] = 0 + w0 * g0[i] + w1 * g1[i];
  } else {
    for (let i = from; i < to; i++) {
      let s = 0;
      for (let j = 0; j < outs.length; j++) s += wgts[j] * outs[j].grads[i];
      out[i] = s;
    }
  }
  return out.subarray(from, to);
}

/**
 * One data-parallel step: the batch (augmented here) is split into shards; each worker computes the
 * gradient of the objective's mean loss on its shard with the current weights, drawing its random
 * numbers from the same generator state (and for the whole batch: ObjectiveContext.shard); the
 * gradients are averaged weighted by shard size, which is the gradient of the batch's mean loss,
 * and the optimiser steps here. Returns the batch's mean loss, its hits and the generator after the
 * objective's draws.
 */
export async function shardedStep(
  shards: ShardedGradients,
  ctx: ObjectiveContext,
  vars: tf.Variable[],
  optimizer: tf.Optimizer,
  weightDecay = 0,
): Promise<{ loss: number; hits: number; rng: Rng }> {
  const [n, h, w, ch] = ctx.x.shape;
  const per = h * w * ch;
  // The batch read in place (no fresh copy of it: a megabyte and a half for CIFAR's 128, whose page
  // faults cost ~4 ms a step on this VM); each shard's rows are copied out at once below.
  const ys = ctx.y.dataSync() as Int32Array;
  const xs = heapValues(ctx.x);
  const rngState = ctx.rng.state();
  const rowsOf = shardRows(n, shards.size);
  const tasks: ShardTask[] = rowsOf.map(([offset, rows], shardIndex) => ({
    x: xs.slice(offset * per, (offset + rows) * per),
    shape: [rows, h, w, ch],
    y: Int32Array.from(ys.subarray(offset, offset + rows)),
    offset,
    batchSize: n,
    rngState,
    step: ctx.step,
    totalSteps: ctx.totalSteps,
    epoch: ctx.epoch,
    shardIndex,
    shards: rowsOf.length,
  }));
  // Where each variable starts in the flattened weights and gradients.
  const offsets: number[] = [];
  let size = 0;
  for (const v of vars) {
    offsets.push(size);
    size += v.size;
  }
  const { weights, flat } = stepArrays(shards, size);
  vars.forEach((v, k) => readInto(v, weights, offsets[k]));
  const outs = await shards.run(weights, tasks);
  const after = outs[0].rngState;
  if (outs.some((r) => r.rngState.join() !== after.join()))
    throw new Error(
      'the shards of one step drew different amounts of random numbers; the objective is not shardable',
    );
  let loss = 0;
  let hits = 0;
  const wgts = outs.map((r, k) => {
    const share = tasks[k].shape[0] / n;
    // The shard's mean loss by its share of the rows, in either case (the sum of the shards' mean
    // losses, reported before 2026-12-07 with batch norm, was the batch's loss times the workers).
    loss += share * r.loss;
    hits += r.correct;
    // Synchronised batch norm: the grads are already the shard's share of the batch's gradient.
    return r.weighted ? 1 : share;
  });
  // Variable k's gradient: the shards' summed in float64 from 0 in shard order, weighted by shard
  // size, then rounded once to float32; computed as the optimiser reaches the variable (one pass,
  // the values still in cache for its update: a separate pass over all of them cost ~3 ms a step of
  // ResNet-20 while both workers waited, 2026-12-07).
  const gradOf = (k: number) => sumShards(outs, wgts, flat, offsets[k], offsets[k] + vars[k].size);
  // SGD with momentum in one pass over the summed gradients, else tfjs's optimiser on gradient
  // tensors made from them (disposed by the tidy).
  tf.tidy(() =>
    optimizerStep(optimizer, vars, weightDecay, gradOf, () =>
      Object.fromEntries(vars.map((v, k) => [v.name, tf.tensor(gradOf(k), v.shape)])),
    ),
  );
  // Synchronised batch norm: the moving statistics, the same on every worker, from the first.
  const moving = outs[0].nonTrainable;
  if (moving && ctx.classifier.model instanceof tfl.LayersModel) {
    let at = 0;
    for (const v of ctx.classifier.model.nonTrainableWeights) {
      const shape = v.shape as number[];
      const n = tf.util.sizeFromShape(shape);
      tf.tidy(() => void v.write(tf.tensor(moving.slice(at, at + n), shape)));
      at += n;
    }
    if (at !== moving.length)
      throw new Error(`the workers sent ${moving.length} moving-statistics values; the model has ${at}`);
  }
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

/**
 * Refuses what data-parallel training cannot reproduce, with a one-line reason. A model with batch
 * normalisation trains on several workers with the batch's statistics synchronised between them
 * (engine/batchNormTrain.ts, train/collective.ts): only through the fast batch-norm kernels, and so
 * not with a second-order objective, whose gradient of a gradient goes through tfjs' own batch norm.
 */
export function checkShardable(c: Classifier, objective: Objective, workers: number): void {
  const refusal = shardRefusal(c, objective, workers);
  if (refusal) throw new UserError(refusal);
}

/**
 * Why `workers` workers cannot train `c` with `objective` (one line for the user, ending in "use 1
 * worker"), or null when they can: batch norm outside the synchronising kernels, an objective that
 * differentiates through batch norm twice, an objective the workers cannot rebuild from the registry.
 */
export function shardRefusal(
  c: Pick<Classifier, 'model'> & { card: Pick<Classifier['card'], 'architecture'> },
  objective: Objective,
  workers: number,
): string | null {
  if (usesBatchNorm(c)) {
    const why =
      batchNormUnsyncable(c.model) ??
      (Object.hasOwn(OBJECTIVES, objective.name) && OBJECTIVES[objective.name].facts.secondOrder
        ? `the ${objective.name} objective differentiates a gradient again, through batch norm's own path, which does not synchronise the workers' batch statistics`
        : null);
    if (why) return `${workers} workers cannot train ${c.card.architecture}: ${why}; use 1 worker`;
  }
  if (
    !Object.hasOwn(OBJECTIVES, objective.name) ||
    JSON.stringify(makeObjective(objective.name, objective.options).options) !==
      JSON.stringify(objective.options)
  )
    return `${workers} workers need an objective from the registry (${Object.keys(OBJECTIVES).join(', ')}) that its options rebuild; '${objective.name}' is not one: use 1 worker`;
  return null;
}

/** The model (topology and weights), card and objective the gradient workers rebuild. */
export async function shardSetup(
  c: Classifier,
  objective: Objective,
  vars: tf.Variable[],
  workers = 1,
): Promise<ShardSetup> {
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
    // The batch-norm gradient kernel all-reduces 5 values per channel and a count.
    ...(usesBatchNorm(c) ? { collective: collectiveBuffer(workers, 5 * maxChannels(c) + 1) } : {}),
  };
}

/** The most channels (last axis) of any layer's output: a bound on a batch-norm layer's. */
function maxChannels(c: Classifier): number {
  let k = 1;
  for (const l of (c.model as { layers?: { outputShape: unknown }[] }).layers ?? []) {
    const shapes = (Array.isArray((l.outputShape as unknown[])[0]) ? l.outputShape : [l.outputShape]) as (
      number | null
    )[][];
    for (const sh of shapes) k = Math.max(k, sh[sh.length - 1] ?? 1);
  }
  return k;
}
