/**
 * Pool tasks of the benchmark (registered in each worker through the pool's `taskModules`): the
 * input gradient and PGD of torch_ref.py on one shard of the batch, with the bench's small CNN, which
 * every worker builds from the same seed (the same weights as the main thread's).
 */
import * as tf from '@tensorflow/tfjs-core';
import { lossGradient } from '../../src/attacks/loss.ts';
import { pgd } from '../../src/attacks/pgd.ts';
import type { Classifier } from '../../src/models/classifier.ts';
import type { TaskHandler, WorkerEnv } from '../../src/node/poolWorker.ts';
import { smoothgrad } from '../../src/explain/smoothgrad.ts';
import { integratedGradients } from '../../src/explain/integratedGradients.ts';
import { smallCnnClassifier } from './workloads.ts';
import {
  darknetClassifier,
  darknetPgd,
  darknetSmoothgrad,
  cifarClassifier,
  type ModelName,
} from './models.ts';

/** A shard: images [n, 28, 28, 1] in [0, 1] and labels [n]. */
export interface BenchShard {
  seed: number;
  x: Float32Array;
  y: Int32Array;
  shape: [number, number, number, number];
}

/** SmoothGrad (`samples`, spread 0.15) or IG (`steps`, black baseline) of the label's CE, all images per pass. */
export interface ExplainShard extends BenchShard {
  samples?: number;
  steps?: number;
}

/** PGD settings: torch_ref's (L-inf, eps 0.3, steps of 0.01, CE) with `steps` steps. */
export interface PgdShard extends BenchShard {
  steps: number;
}

function model(env: WorkerEnv, seed: number): Classifier {
  const key = `bench-small-cnn-${seed}`;
  let c = env.state.get(key) as Classifier | undefined;
  if (!c) env.state.set(key, (c = smallCnnClassifier(seed)));
  return c;
}

/**
 * `d` as an array that owns its whole buffer, which can then be transferred: `d` itself where it does
 * (dataSync's result on wasm is a fresh copy), else a copy. (A `Float32Array.from` copy of every result
 * cost 6.5 ms per 2.4 MB, a darknet shard's gradient, about 4% of a pool call.)
 */
export function ownArray(d: Float32Array): Float32Array<ArrayBuffer> {
  const b = d.buffer;
  return b instanceof ArrayBuffer && d.byteOffset === 0 && d.byteLength === b.byteLength
    ? new Float32Array(b)
    : (d.slice() as Float32Array<ArrayBuffer>);
}

/** Runs `f` on the shard's tensors and moves its result back. */
function onShard(
  env: WorkerEnv,
  p: BenchShard,
  f: (c: Classifier, x: tf.Tensor4D, y: tf.Tensor1D) => tf.Tensor,
) {
  const c = model(env, p.seed);
  const out = tf.tidy(() => {
    const x = tf.tensor4d(p.x, p.shape);
    const y = tf.tensor1d(p.y, 'int32');
    return ownArray(f(c, x, y).dataSync() as Float32Array);
  });
  return { value: out, transfer: [out.buffer] };
}

export const TASKS: Record<string, TaskHandler> = {
  benchInputGrad: (p: BenchShard, env) => onShard(env, p, (c, x, y) => lossGradient(c, x, y, false, 'ce')),
  benchPgd: (p: PgdShard, env) =>
    onShard(env, p, (c, x, y) => {
      const r = pgd(c, { x, y }, { eps: 0.3, steps: p.steps, stepSize: 0.01 });
      r.logits.dispose();
      return r.xAdv;
    }),
  benchSmoothgrad: (p: ExplainShard, env) =>
    onShard(env, p, (c, x, y) => {
      const o = {
        target: 'label',
        score: 'ce',
        batchSize: p.shape[0],
        samples: p.samples,
        spread: 0.15,
      } as const;
      return smoothgrad(c, { x, y }, o).maps;
    }),
  benchIg: (p: ExplainShard, env) =>
    onShard(env, p, (c, x, y) => {
      const o = { target: 'label', score: 'ce', batchSize: p.shape[0], steps: p.steps } as const;
      return integratedGradients(c, { x, y }, o).maps;
    }),
  /** Frees the cached models (so that the worker's tensor count returns to 0). */
  benchRelease: (_p: null, env) => {
    for (const [k, v] of env.state) {
      if (k.startsWith('bench-small-cnn-') || k.startsWith('bench-model-')) (v as Classifier).model.dispose();
      env.state.delete(k);
    }
    return { value: tf.memory().numTensors };
  },
};

/** A shard of a real-size model's batch (bench/suite/models.ts): `model` names it, `darknetDir` where darknet is. */
export interface ModelShard {
  model: ModelName;
  darknetDir: string;
  seed: number;
  x: Float32Array;
  y: Int32Array;
  shape: [number, number, number, number];
  samples?: number;
  steps?: number;
}

async function realModel(env: WorkerEnv, p: ModelShard): Promise<Classifier> {
  const key = `bench-model-${p.model}-${p.seed}`;
  let c = env.state.get(key) as Classifier | undefined;
  if (!c) {
    c = p.model === 'darknet' ? await darknetClassifier(p.darknetDir) : cifarClassifier(p.model, p.seed);
    env.state.set(key, c);
  }
  return c;
}

async function onModelShard(
  env: WorkerEnv,
  p: ModelShard,
  f: (c: Classifier, x: tf.Tensor4D, y: tf.Tensor1D) => tf.Tensor,
) {
  const c = await realModel(env, p);
  const out = tf.tidy(() => {
    const x = tf.tensor4d(p.x, p.shape);
    const y = tf.tensor1d(p.y, 'int32');
    return ownArray(f(c, x, y).dataSync() as Float32Array);
  });
  return { value: out, transfer: [out.buffer] };
}

Object.assign(TASKS, {
  benchModelInputGrad: (p: ModelShard, env: WorkerEnv) =>
    onModelShard(env, p, (c, x, y) => lossGradient(c, x, y, false, 'ce')),
  benchModelSmoothgrad: (p: ModelShard, env: WorkerEnv) =>
    onModelShard(env, p, (c, x, y) => darknetSmoothgrad(c, x, y, p.samples ?? 25)),
  benchModelPgd: (p: ModelShard, env: WorkerEnv) =>
    onModelShard(env, p, (c, x, y) => darknetPgd(c, x, y, p.steps ?? 20)),
});
