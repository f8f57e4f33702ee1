/**
 * The tasks pool workers run (src/node/pool.ts), each beside the main-thread function that sends it:
 * - `attackBatch`: one (attack, eps, batch) item of a robustness evaluation ({@link poolAttackRunner});
 * - `explainItem`: one explainer on one model and one pass of images ({@link poolExplainRunner});
 * - `predict`: the predicted classes of a slice of images ({@link poolPredict});
 * - `trainStart`, `trainShard`, `trainStop`: data-parallel training ({@link poolShardedGradients}).
 * Images travel as moved Float32Array buffers, never as JSON; models are loaded by folder in each
 * worker once (the worker caches them), so only models saved in a folder can be used on a pool.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Dataset } from '../data/dataset.ts';
import { floatPixels } from '../data/dataset.ts';
import {
  attackBatch,
  attackBatchBuffers,
  type AttackBatchOut,
  type AttackItem,
} from '../metrics/attackBatch.ts';
import type { AttackRunner } from '../metrics/robustness.ts';
import { makeClassifier, type Classifier } from '../models/classifier.ts';
import { createRng } from '../engine/rng.ts';
import { joinCollective, setActiveCollective } from '../train/collective.ts';
import { makeObjective, type Objective, type ObjectiveContext } from '../train/objectives/index.ts';
import {
  correctCount,
  type ShardedGradients,
  type ShardOut,
  type ShardSetup,
  type ShardTask,
} from '../train/loop.ts';
import type { ExplainOptions } from '../explain/index.ts';
import { explainItem, type ExplainItemOut, type ExplainRunner } from '../explain/runner.ts';
import type { TaskHandler, WorkerEnv } from './poolWorker.ts';

// The in-process explain runners moved to the core (src/explain/runner.ts); re-exported for old imports.
export {
  explainItem,
  localExplainRunner,
  splitSamplesRunner,
  type ExplainItem,
  type ExplainItemOut,
  type ExplainRunner,
} from '../explain/runner.ts';
import { mapConcurrent, type WorkerPool } from './pool.ts';
import { filledTensor, readInto } from '../engine/readInto.ts';

/** Where a worker finds a model: its folder, and the preset that describes it (if any). */
export interface ModelSource {
  dir: string;
  preset?: string;
}

/** A slice of a dataset as moved buffers: pixels [N, H, W, C] float32 in [0, 1] and int32 labels. */
interface Images {
  x: Float32Array;
  y: Int32Array;
  shape: [number, number, number, number];
}

/** The examples `start` .. `start + count - 1` of `data`, as {@link Images}, exactly as getBatch makes them. */
export function imagesOf(data: Dataset, start: number, count: number): Images {
  const idx = Array.from({ length: count }, (_, i) => start + i);
  return {
    x: floatPixels(data, idx),
    y: data.labels.slice(start, start + count),
    shape: [count, ...data.shape],
  };
}

const buffersOf = (im: Images): ArrayBuffer[] => [im.x.buffer as ArrayBuffer, im.y.buffer as ArrayBuffer];

/** The tensors of {@link Images} (the caller owns them). */
function tensorsOf(im: Images): { x: tf.Tensor4D; y: tf.Tensor1D } {
  return { x: tf.tensor4d(im.x, im.shape), y: tf.tensor1d(im.y, 'int32') };
}

/**
 * An {@link AttackRunner} that spreads the items over `pool`, each worker attacking with the model
 * in `source`; outcomes come back in the items' order.
 */
export function poolAttackRunner(pool: WorkerPool, source: ModelSource): AttackRunner {
  // Two items per worker in flight: one running, one waiting; images are copied out only then.
  return (items, data, done) =>
    mapConcurrent(items, 2 * pool.size, async (item) => {
      const images = imagesOf(data, item.start, item.count);
      const out = await pool.run<AttackBatchOut>('attackBatch', { source, item, images }, buffersOf(images));
      done(item);
      return out;
    });
}

/**
 * The predicted class of every example of `data` with the model in `source`, slices of `chunk`
 * images spread over `pool` (the same numbers as {@link evaluate}'s predictions in one process).
 */
export async function poolPredict(
  pool: WorkerPool,
  source: ModelSource,
  data: Dataset,
  o: { chunk?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<Int32Array> {
  const chunk = o.chunk ?? 1000;
  const starts = Array.from({ length: Math.ceil(data.size / chunk) }, (_, i) => i * chunk);
  const out = new Int32Array(data.size);
  let done = 0;
  await mapConcurrent(starts, 2 * pool.size, async (start) => {
    const images = imagesOf(data, start, Math.min(chunk, data.size - start));
    const p = await pool.run<Int32Array>('predict', { source, images }, buffersOf(images));
    out.set(p, start);
    done += p.length;
    o.onProgress?.(done, data.size);
  });
  return out;
}

/** An {@link ExplainRunner} on `pool`, the workers loading the models from `sources`. */
export function poolExplainRunner(pool: WorkerPool, sources: ModelSource[], data: Dataset): ExplainRunner {
  return (item) => {
    const images = imagesOf(data, item.start, item.count);
    return pool.run<ExplainItemOut>(
      'explainItem',
      { source: sources[item.model], method: item.method, options: item.options, images },
      buffersOf(images),
    );
  };
}

/** A worker's training session: its copy of the model, the objective, and the shared weights. */
interface TrainSession {
  classifier: Classifier;
  objective: Objective;
  vars: tf.Variable[];
  size: number;
  /** Weights written by the main thread before each step (all trainable variables, flattened). */
  weights: Float32Array;
  /** Every shard's gradient slot (`size` values each), shard k's written by the worker running it. */
  grads: Float32Array;
  /** Synchronised batch norm: the all-reduce's buffer (train/collective.ts). */
  collective?: SharedArrayBuffer;
}

/**
 * {@link ShardedGradients} on `pool`: shard k of every step runs on worker k. The weights go to the
 * workers through one SharedArrayBuffer written before each step (no copy per worker); gradients
 * come back as moved buffers.
 */
export function poolShardedGradients(pool: WorkerPool): ShardedGradients {
  let weights: Float32Array | null = null;
  let grads: Float32Array | null = null;
  return {
    size: pool.size,
    async start(build) {
      const setup = await build();
      weights = new Float32Array(new SharedArrayBuffer(setup.size * 4));
      // One slot of gradients per worker, written by the worker and read here before the next step
      // (no fresh megabyte per step on either side).
      grads = new Float32Array(new SharedArrayBuffer(setup.size * pool.size * 4));
      await pool.broadcast('trainStart', { ...setup, weights, grads });
    },
    async run(w, shards) {
      if (!weights || !grads) throw new Error('poolShardedGradients: run() before start()');
      weights.set(w);
      const size = weights.length;
      const all = grads;
      const outs = await Promise.all(
        shards.map((s, k) =>
          pool.runOn<ShardOut>(k, 'trainShard', s, [s.x.buffer as ArrayBuffer, s.y.buffer as ArrayBuffer]),
        ),
      );
      return outs.map((o, k) => ({ ...o, grads: all.subarray(k * size, (k + 1) * size) }));
    },
    async stop() {
      weights = null;
      grads = null;
      await pool.broadcast('trainStop', null).catch(() => undefined);
    },
  };
}

/** The non-trainable weights (batch norm's moving statistics) of `model`, flattened in order. */
function flatWeights(model: tfl.LayersModel): Float32Array {
  const vals = model.nonTrainableWeights.map((v) => v.read().dataSync() as Float32Array);
  const out = new Float32Array(vals.reduce((a, v) => a + v.length, 0));
  let at = 0;
  for (const v of vals) {
    out.set(v, at);
    at += v.length;
  }
  return out;
}

const stopSession = (env: WorkerEnv) => {
  const s = env.state.get('train') as TrainSession | undefined;
  if (s) s.classifier.model.dispose();
  env.state.delete('train');
};

/** Images per forward pass of the `predict` task (as {@link evaluate}'s default). */
const PREDICT_BATCH = 256;

/** The handlers poolWorker.ts registers, by task name. */
export const TASKS: Record<string, TaskHandler> = {
  predict: async (p: { source: ModelSource; images: Images }, env) => {
    const model = await env.classifier(p.source.dir, p.source.preset);
    const [n, ...shape] = p.images.shape;
    const out = new Int32Array(n);
    for (let s = 0; s < n; s += PREDICT_BATCH) {
      const m = Math.min(PREDICT_BATCH, n - s);
      const pixels = p.images.x.subarray(
        s * shape[0] * shape[1] * shape[2],
        (s + m) * shape[0] * shape[1] * shape[2],
      );
      out.set(
        tf.tidy(() => tf.argMax(model.logits(tf.tensor4d(pixels, [m, ...shape])), 1).dataSync()),
        s,
      );
    }
    return { value: out, transfer: [out.buffer as ArrayBuffer] };
  },
  attackBatch: async (p: { source: ModelSource; item: AttackItem; images: Images }, env) => {
    const model = await env.classifier(p.source.dir, p.source.preset);
    const batch = tensorsOf(p.images);
    try {
      const out = attackBatch(model, batch, p.item);
      return { value: out, transfer: attackBatchBuffers(out) };
    } finally {
      tf.dispose([batch.x, batch.y]);
    }
  },
  explainItem: async (
    p: { source: ModelSource; method: string; options: ExplainOptions; images: Images },
    env,
  ) => {
    const model = await env.classifier(p.source.dir, p.source.preset);
    const batch = tensorsOf(p.images);
    try {
      const out = explainItem(model, batch, p.method, p.options);
      const transfer = [out.raw.buffer as ArrayBuffer];
      if (out.display) transfer.push(out.display.buffer as ArrayBuffer);
      return { value: out, transfer };
    } finally {
      tf.dispose([batch.x, batch.y]);
    }
  },
  trainStart: async (p: ShardSetup & { weights: Float32Array; grads: Float32Array }, env) => {
    stopSession(env);
    const model = await tfl.loadLayersModel(tf.io.fromMemory(p.artifacts));
    const classifier = makeClassifier(model, p.card);
    const objective = makeObjective(p.objective.name, p.objective.options);
    const vars = classifier.trainableVariables();
    const size = vars.reduce((s, v) => s + v.size, 0);
    if (size !== p.size || p.weights.length !== size)
      throw new Error(`the worker's model has ${size} trainable values, the main thread's ${p.size}`);
    env.state.set('train', {
      classifier,
      objective,
      vars,
      size,
      weights: p.weights,
      grads: p.grads,
      collective: p.collective,
    } satisfies TrainSession);
    return { value: null };
  },
  trainShard: (p: ShardTask, env) => {
    const s = env.state.get('train') as TrainSession | undefined;
    if (!s) throw new Error('trainShard before trainStart');
    // This step's weights, as the main thread wrote them, copied out of the shared buffer straight
    // into new tensors (no fresh array per variable).
    let off = 0;
    for (const v of s.vars) {
      const from = off;
      tf.tidy(() =>
        v.assign(filledTensor(v.shape, (out) => out.set(s.weights.subarray(from, from + v.size)))),
      );
      off += v.size;
    }
    const x = tf.tensor4d(p.x, p.shape);
    const y = tf.tensor1d(p.y, 'int32');
    const rng = createRng(p.rngState);
    const ctx: ObjectiveContext = {
      classifier: s.classifier,
      x,
      y,
      step: p.step,
      totalSteps: p.totalSteps,
      epoch: p.epoch,
      rng,
      shard: { offset: p.offset, batchSize: p.batchSize },
    };
    let logits: tf.Tensor2D | null = null;
    let xAdv: tf.Tensor4D | undefined;
    // Synchronised batch norm: this worker is rank `shardIndex` of the step's shards, its batch-norm kernels all-reduce with the others', and it differentiates its share of the
    // batch's mean loss (its summed loss over the batch size), so that every worker's dy is the
    // batch loss's and the step adds the grads.
    const k = p.shardIndex ?? 0;
    const coll = s.collective ? joinCollective(s.collective, k, p.shards ?? 1) : null;
    const share = coll ? p.shape[0] / p.batchSize : 1;
    const was = setActiveCollective(coll);
    try {
      xAdv = s.objective.inner?.(ctx) ?? undefined;
      const { value, grads } = tf.variableGrads(() => {
        const r = s.objective.loss(xAdv ? { ...ctx, xAdv } : ctx);
        logits = tf.keep(r.logits);
        return coll ? tf.mul(r.loss, share) : r.loss;
      }, s.vars);
      // This shard's gradients into its slot of the shared buffer (the main thread reads them there).
      const slot = s.grads.subarray(k * s.size, (k + 1) * s.size);
      off = 0;
      for (const v of s.vars) {
        readInto(grads[v.name], slot, off);
        off += v.size;
      }
      const out: Omit<ShardOut, 'grads'> = {
        loss: value.dataSync()[0] / share,
        correct: correctCount(logits!, y),
        rngState: rng.state(),
      };
      if (coll) {
        out.weighted = true;
        if (k === 0) out.nonTrainable = flatWeights(s.classifier.model as tfl.LayersModel);
      }
      tf.dispose([value, ...Object.values(grads)]);
      return { value: out };
    } catch (e) {
      coll?.abort();
      throw e;
    } finally {
      setActiveCollective(was);
      tf.dispose([x, y, xAdv, logits as unknown as tf.Tensor].filter((t): t is tf.Tensor => !!t));
    }
  },
  trainStop: (_p: null, env) => {
    stopSession(env);
    return { value: null };
  },
};
