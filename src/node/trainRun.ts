/**
 * `advlens train` as a function: loads the data, builds the architecture, trains it with an
 * objective (data-parallel on a worker pool when `workers` > 1), checkpointing every epoch into the
 * output folder, optionally measures it on a test set, and saves the model with its card (the
 * recipe, the command, the history, and the test accuracy). A stop request (`signal`) ends it
 * after the current batch with a checkpoint to resume from, and nothing saved.
 */
import { UserError } from '../errors.ts';
import fs from 'node:fs';
import path from 'node:path';
import { architecture, buildArchitecture } from '../models/architectures/index.ts';
import { makeClassifier } from '../models/classifier.ts';
import type { ModelCard } from '../models/card.ts';
import type { Objective } from '../train/objectives/index.ts';
import { parseSchedule } from '../train/schedule.ts';
import { parseAugment } from '../train/augment.ts';
import { shardRefusal, train, type TrainProgress, type TrainResult } from '../train/loop.ts';
import { evaluate } from '../metrics/accuracy.ts';
import type { Dataset } from '../data/dataset.ts';
import { versions } from '../version.ts';
import { folderCheckpoint, removeCheckpoint } from './checkpoint.ts';
import type { TrainOutput } from './trainOutput.ts';
import { requireClasses } from '../data/dataset.ts';
import { loadClassifier, modelDir, saveClassifier } from './models.ts';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { loadDataset } from './loadData.ts';
import { withPool } from './pool.ts';
import { poolShardedGradients } from './poolWorkerTasks.ts';

/** Options of {@link trainRun}. */
export interface TrainRunOptions {
  /**
   * The output folder as `prepareTrainOutput` prepared it (locked, checked): the model is saved
   * through it, durably, the checkpoint removed last. Without it the model is saved to `out` directly.
   */
  output?: TrainOutput;
  /** Training data spec, where to look for it, and its first `limit` examples. */
  data: string;
  dataDir?: string;
  limit?: number;
  arch: string;
  objective: Objective;
  epochs: number;
  batchSize: number;
  optimizer: 'adam' | 'sgd';
  lr: number;
  momentum: number;
  /** L2 weight decay on kernels (0 or absent: none). */
  weightDecay?: number;
  /** Learning-rate schedule: constant, cosine, step:E1,E2@GAMMA (train/schedule.ts). */
  schedule: string;
  /** Augmentation: none, shift:N, flip, comma-separated (train/augment.ts). */
  augment: string;
  seed: number;
  /** Output model folder (absolute). */
  out: string;
  resume?: boolean;
  /**
   * Start from this trained model's weights (a model folder of the same architecture, data shape and
   * classes: fine-tuning) instead of the seeded random ones. Recorded in the card's recipe.
   */
  init?: string;
  /** Worker threads sharing each batch (1: this thread). */
  workers: number;
  /**
   * `workers` is the default, not asked for: a model or objective the workers cannot train (see
   * shardRefusal: batch norm outside the synchronising kernels, an objective that differentiates
   * through batch norm twice) trains in this thread instead of stopping with that reason, and
   * `onStart` says why.
   */
  workersByDefault?: boolean;
  /** After training, measure accuracy on this set and record it in the card. */
  evalData?: string;
  /** A description for the card (what the model is, how its recipe differs from a paper's). */
  description?: string;
  /** The command line recorded in the card (default: a library call). */
  command?: string;
  /** `oneThread`: why the run trains in this thread though `workers` (the default) is more than 1. */
  onStart?: (info: { params: number; data: Dataset; workers: number; oneThread?: string }) => void;
  onProgress?: (p: TrainProgress) => void;
  /** Called when training ends, before the test set and the saving. */
  onTrained?: () => void;
  /**
   * A stop request: training stops after the current batch and checkpoints (see `train`); the run
   * then returns with `result.stopped` set, having neither measured nor saved the model.
   */
  signal?: AbortSignal;
}

/**
 * Copies the weights of the model in folder `dir` (trained weights, batch-norm statistics included)
 * into `model`, a fresh `arch` for `data`; refuses a folder of another architecture, input shape,
 * class list or weight layout with one line. Answers what the card records: the folder's name and
 * the card's own summary of it.
 */
async function initWeights(
  model: LayersModel,
  dir: string,
  arch: string,
  data: Dataset,
): Promise<{ model: string; architecture: string; created?: string; accuracy?: Record<string, number> }> {
  const from = await loadClassifier(modelDir(dir));
  try {
    const what = `--init ${dir}`;
    if (from.card.architecture !== arch)
      throw new UserError(
        `${what} is a ${from.card.architecture ?? 'model of unknown architecture'}, not a ${arch}; give --arch ${from.card.architecture ?? '...'} or another model`,
      );
    const p = from.card.preprocess;
    const shape = [p.height, p.width, p.channels].join('x');
    if (shape !== data.shape.join('x'))
      throw new UserError(
        `${what} takes ${shape} images but the training data holds ${data.shape.join('x')}`,
      );
    if (from.card.labels.join('\n') !== data.classNames.join('\n'))
      throw new UserError(
        `${what} has other classes than the training data (${from.card.labels.slice(0, 4).join(', ')}, ... against ${data.classNames.slice(0, 4).join(', ')}, ...)`,
      );
    if (!('getWeights' in from.model))
      throw new UserError(`${what} is a graph model; only a layers model can start a training`);
    const src = from.model.getWeights();
    const dst = model.getWeights();
    if (src.length !== dst.length || src.some((w, i) => w.shape.join('x') !== dst[i]!.shape.join('x')))
      throw new UserError(
        `${what}: its weights do not match a fresh ${arch} for this data (${src.length} tensors against ${dst.length}, or other shapes)`,
      );
    model.setWeights(src);
    // Its plain test accuracies (records named by their data: not attacks, transforms or table cells).
    const accuracy = Object.fromEntries(
      Object.entries(from.card.metrics ?? {}).flatMap(([k, v]) => {
        const r = v as { data?: unknown; accuracy?: unknown; attack?: unknown };
        return r.data === k && r.attack === undefined && typeof r.accuracy === 'number'
          ? [[k, r.accuracy]]
          : [];
      }),
    );
    return {
      model: path.basename(path.resolve(dir)),
      architecture: arch,
      ...(from.card.created ? { created: from.card.created } : {}),
      ...(Object.keys(accuracy).length ? { accuracy } : {}),
    };
  } finally {
    from.model.dispose();
  }
}

/** Trains and saves a model (see the file's comment); answers its card and the training result. */
export async function trainRun(o: TrainRunOptions): Promise<{
  card: ModelCard;
  result: TrainResult;
  evaluation: { data: string; accuracy: number; examples: number } | null;
}> {
  const arch = architecture(o.arch);
  const data = await loadDataset(o.data, { dataDir: o.dataDir, limit: o.limit });
  requireClasses(data, 'training');
  // A bad --eval-data must stop the run now, not after hours of training: load one example of it.
  if (o.evalData) {
    const probe = await loadDataset(o.evalData, { dataDir: o.dataDir, limit: 1 });
    if (probe.shape.join('x') !== data.shape.join('x') || probe.classNames.length !== data.classNames.length)
      throw new UserError(
        `--eval-data ${o.evalData} holds ${probe.shape.join('x')} images of ${probe.classNames.length} classes but the training data ${data.shape.join('x')} of ${data.classNames.length}; evaluate on the matching test set`,
      );
  }
  const model = buildArchitecture(arch.name, data.shape, data.classNames.length, o.seed);
  const init = o.init && !o.resume ? await initWeights(model, o.init, arch.name, data) : undefined;
  const refusal =
    o.workersByDefault && o.workers > 1
      ? shardRefusal({ model, card: { architecture: arch.name } }, o.objective, o.workers)
      : null;
  const workers = refusal ? 1 : o.workers;
  const schedule = parseSchedule(o.schedule);
  const augment = parseAugment(o.augment);
  const recipe = {
    data: o.data,
    dataSource: data.source,
    examples: data.size,
    architecture: arch.name,
    method: o.objective.name,
    methodOptions: o.objective.options,
    epochs: o.epochs,
    batchSize: o.batchSize,
    optimizer: o.optimizer,
    lr: o.lr,
    momentum: o.optimizer === 'sgd' ? o.momentum : undefined,
    weightDecay: o.weightDecay || undefined,
    schedule: o.schedule,
    augment: augment.names,
    seed: o.seed,
    ...(init ? { init } : {}),
    workers,
  };
  const card: ModelCard = {
    format: 'advlens-card/1',
    name: path.basename(o.out),
    ...(o.description ? { description: o.description } : {}),
    architecture: arch.name,
    modelType: 'layers',
    preprocess: {
      height: data.shape[0],
      width: data.shape[1],
      channels: data.shape[2] as 1 | 3,
      resize: 'fill',
      scale: [0, 1],
    },
    labels: data.classNames,
    output: 'logits',
    layers: arch.layers,
    versions: versions(),
    created: new Date().toISOString(),
  };
  const classifier = makeClassifier(model, card);
  o.onStart?.({ params: model.countParams(), data, workers, ...(refusal ? { oneThread: refusal } : {}) });
  let result: TrainResult;
  try {
    result = await withPool(workers, (pool) =>
      train(classifier, data, {
        objective: o.objective,
        epochs: o.epochs,
        batchSize: o.batchSize,
        seed: o.seed,
        optimizer: o.optimizer,
        lr: o.lr,
        momentum: o.momentum,
        weightDecay: o.weightDecay,
        schedule,
        augment: augment.hooks,
        checkpoint: folderCheckpoint(o.out),
        resume: o.resume,
        onProgress: o.onProgress,
        shards: pool ? poolShardedGradients(pool) : undefined,
        signal: o.signal,
      }),
    );
  } finally {
    o.onTrained?.();
  }
  card.training = {
    recipe,
    command: o.command ?? '(library call: trainRun)',
    epochsDone: result.epochsDone,
    wallTimeSec: Math.round(result.wallTimeSec),
    history: result.history,
  };
  let evaluation = null;
  if (result.stopped) return { card, result, evaluation };
  if (o.evalData) {
    const test = await loadDataset(o.evalData, { dataDir: o.dataDir });
    const ev = evaluate(classifier, test);
    card.metrics = {
      [o.evalData]: {
        data: o.evalData,
        source: test.source,
        examples: ev.examples,
        accuracy: ev.accuracy,
        measuredAt: new Date().toISOString(),
      },
    };
    evaluation = { data: o.evalData, accuracy: ev.accuracy, examples: ev.examples };
  }
  if (o.output) await o.output.save(classifier, card);
  else {
    await saveClassifier(classifier, o.out, card);
    removeCheckpoint(o.out);
  }
  return { card, result, evaluation };
}
