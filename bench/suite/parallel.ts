/**
 * The "all cores" workloads: input_grad, train_step and pgd of torch_ref.py on the small CNN with the
 * batch split across a pool of worker threads (src/node/pool.ts), one contiguous shard per worker,
 * the call finishing when every shard's result is back in the main thread. train_step is the
 * project's data-parallel `train()` (shard gradients averaged here, the optimiser step here);
 * input_grad, smoothgrad, ig and pgd run `lossGradient`, `smoothgrad`, `integratedGradients` and `pgd`
 * on each shard (bench/suite/poolTasks.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { makeDataset } from '../../src/data/dataset.ts';
import { train, shardRows, type ShardedGradients } from '../../src/train/loop.ts';
import { crossEntropyObjective } from '../../src/train/objectives/crossEntropy.ts';
import { createPool, type WorkerPool } from '../../src/node/pool.ts';
import { poolShardedGradients } from '../../src/node/poolWorkerTasks.ts';
import type { Workload } from './measure.ts';
import { smallCnnClassifier, type Sizes } from './workloads.ts';
import type { BenchShard } from './poolTasks.ts';
import { MODELS_FULL, modelWorkloads } from './models.ts';

/** The parallel workloads and how to finish: `dispose` frees everything and answers the workers' live tensors. */
export interface ParallelSet {
  workloads: Workload[];
  dispose: () => Promise<number[]>;
}

export const POOL_TASKS = new URL('./poolTasks.ts', import.meta.url);

/**
 * `sharded` whose workers set the model up at the first call of `train()` only, as a real run does
 * once per run: a timed call is one epoch of a few steps, and rebuilding the workers' model at each
 * (serialising it here, loading it from its artifacts in every worker) would time the setup, not the
 * steps. The weights
 * still travel at every step. Its `stop` does nothing: stop `sharded` itself when done.
 */
export function startedOnce(sharded: ShardedGradients): ShardedGradients {
  let started = false;
  return {
    size: sharded.size,
    start: async (setup) => {
      if (!started) await sharded.start(setup);
      started = true;
    },
    run: (w, t) => sharded.run(w, t),
    stop: async () => {},
  };
}

/**
 * ResNet-20's workloads (bench/suite/models.ts, full sizes, seed 1) beside a pool of `workers` with one
 * training session on it, set up at its first call (startedOnce; `wrap` may instrument the pool's
 * ShardedGradients first): for the scripts that time its data-parallel steps (bench/shard-gap.ts,
 * warmup-curve.ts, fused-momentum-ab.ts). `sharded(name)` runs one of `set.sharded`'s workloads on
 * the pool; `close()` stops the session, closes the pool and frees the model. Call initNodeBackend first.
 */
export async function resnet20OnPool(
  workers: number,
  wrap: (s: ShardedGradients) => ShardedGradients = (s) => s,
) {
  // ResNet-20 comes from the architectures registry: the darknet folder is not read.
  const set = await modelWorkloads('resnet20', MODELS_FULL, 1, '', true);
  if ('skipped' in set) throw new Error(set.skipped);
  const pool = createPool({ workers, taskModules: [POOL_TASKS] });
  const shards = poolShardedGradients(pool);
  const once = startedOnce(wrap(shards));
  return {
    set,
    /** The one-thread train_step. */
    trainStep: set.workloads.find((w) => w.name === 'train_step')!,
    sharded: (name: string) => set.sharded![name](once),
    close: async () => {
      await shards.stop();
      await pool.close();
      set.dispose();
    },
  };
}

export function parallelWorkloads(s: Sizes, seed: number, full: boolean, pool: WorkerPool): ParallelSet {
  const B = s.batch;
  const shards = shardRows(B, pool.size);
  // The inputs of smallCnnWorkloads: x uniform in [0, 1] from the same seed, labels i mod 10.
  const xs = tf.tidy(
    () => tf.randomUniform([B, 28, 28, 1], 0, 1, 'float32', seed).dataSync() as Float32Array,
  );
  const ys = Int32Array.from({ length: B }, (_, i) => i % 10);
  const per = 28 * 28;
  const shard = (off: number, n: number): BenchShard => ({
    seed,
    x: xs.slice(off * per, (off + n) * per),
    y: ys.slice(off, off + n),
    shape: [n, 28, 28, 1],
  });
  /** Runs `task` on every shard (shard k on worker k) and waits for all results. */
  const split = (task: string, extra: Record<string, unknown> = {}) =>
    Promise.all(
      shards.map(([off, n], k) => {
        const p = { ...shard(off, n), ...extra };
        return pool.runOn(k, task, p, [p.x.buffer as ArrayBuffer, p.y.buffer as ArrayBuffer]);
      }),
    ).then(() => undefined);

  const c = smallCnnClassifier(seed);
  const trainData = makeDataset({
    name: 'bench-random',
    source: 'tf.randomUniform',
    classNames: c.labels,
    shape: [28, 28, 1],
    pixels: Float32Array.from({ length: xs.length * s.trainSteps }, (_, i) => xs[i % xs.length]),
    labels: Int32Array.from({ length: B * s.trainSteps }, (_, i) => i % 10),
  });
  const sharded = poolShardedGradients(pool);
  const kept = startedOnce(sharded);
  const objective = crossEntropyObjective();
  const model = 'small-cnn 28x28x1';
  const how = `batch split over ${pool.size} workers (${shards.map(([, n]) => n).join('+')})`;
  const workloads: Workload[] = [
    {
      name: 'input_grad',
      model,
      batch: B,
      images: B,
      definition: `d sum CE / d input (lossGradient), ${how}, read back`,
      torchKey: 'input_grad',
      run: () => split('benchInputGrad'),
    },
    {
      name: 'train_step',
      model,
      batch: B,
      images: B * s.trainSteps,
      definition: `train() with objective normal and Adam (lr 1e-3), data-parallel: one epoch of ${s.trainSteps} steps of ${B} per call, ${how}, gradients averaged and applied in the main thread`,
      torchKey: 'train_step',
      run: async () => {
        await train(c, trainData, {
          objective,
          epochs: 1,
          batchSize: B,
          seed,
          optimizer: 'adam',
          lr: 1e-3,
          momentum: 0,
          schedule: { kind: 'constant' },
          augment: [],
          shards: kept,
        });
      },
    },
    {
      name: `smoothgrad${s.smoothgradSamples}`,
      model,
      batch: B,
      images: B,
      definition: `smoothgrad(): ${s.smoothgradSamples} samples, spread 0.15, CE of the label, ${how}, each shard's noisy images in one pass`,
      torchKey: full ? 'smoothgrad50' : undefined,
      run: () => split('benchSmoothgrad', { samples: s.smoothgradSamples }),
    },
    {
      name: `ig${s.igSteps}`,
      model,
      batch: B,
      images: B,
      definition: `integratedGradients(): ${s.igSteps} steps, black baseline, right Riemann sum, CE of the label, ${how}`,
      torchKey: full ? 'ig50' : undefined,
      run: () => split('benchIg', { steps: s.igSteps }),
    },
    {
      name: `pgd${s.pgdSteps}`,
      model,
      batch: B,
      images: B,
      definition: `pgd(): L-inf, eps 0.3, ${s.pgdSteps} steps of 0.01, CE, no random start, ${how}`,
      torchKey: full ? 'pgd40' : undefined,
      run: () => split('benchPgd', { steps: s.pgdSteps }),
    },
  ];
  return {
    workloads,
    dispose: async () => {
      c.model.dispose();
      await sharded.stop();
      return pool.broadcast<number>('benchRelease', null);
    },
  };
}
