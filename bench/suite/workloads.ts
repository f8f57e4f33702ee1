/**
 * The benchmark workloads, built from the project's own code paths: the small CNN of
 * `../shared/bench/torch_ref.py` (randomly initialised from the architectures registry, seed fixed)
 * at batch 64 (the real-size models: models.ts). Each `run` finishes its work (reads the result
 * back) and frees every tensor it made.
 */
import type { ShardedGradients } from '../../src/train/shards.ts';
import * as tf from '@tensorflow/tfjs-core';
import { buildArchitecture } from '../../src/models/architectures/index.ts';
import { makeClassifier, type Classifier } from '../../src/models/classifier.ts';
import type { ModelCard } from '../../src/models/card.ts';
import { lossGradient } from '../../src/attacks/loss.ts';
import { pgd } from '../../src/attacks/pgd.ts';
import { smoothgrad } from '../../src/explain/smoothgrad.ts';
import { integratedGradients } from '../../src/explain/integratedGradients.ts';
import { train } from '../../src/train/loop.ts';
import { crossEntropyObjective } from '../../src/train/objectives/crossEntropy.ts';
import { makeDataset, type Batch } from '../../src/data/dataset.ts';
import type { Workload } from './measure.ts';

/** Sizes: the full definitions of torch_ref.py, or the tiny ones of `--quick` (for the test). */
export interface Sizes {
  batch: number;
  smoothgradSamples: number;
  igSteps: number;
  pgdSteps: number;
  /** Optimizer steps per timed call of train_step (one `train()` call of one epoch). */
  trainSteps: number;
  darknetSmoothgradSamples: number;
  darknetPgdSteps: number;
}

export const FULL: Sizes = {
  batch: 64,
  smoothgradSamples: 50,
  igSteps: 50,
  pgdSteps: 40,
  trainSteps: 4,
  darknetSmoothgradSamples: 50,
  darknetPgdSteps: 20,
};

export const QUICK: Sizes = {
  batch: 8,
  smoothgradSamples: 5,
  igSteps: 5,
  pgdSteps: 4,
  trainSteps: 2,
  darknetSmoothgradSamples: 5,
  darknetPgdSteps: 2,
};

/** A set of workloads over shared inputs; `dispose` frees the model and the inputs. */
export interface WorkloadSet {
  workloads: Workload[];
  dispose: () => void;
  /** Training workloads by name, run data-parallel on the given shards (a worker pool). */
  sharded?: Record<string, (shards: ShardedGradients) => Promise<void>>;
}

/** The small CNN of torch_ref.py (conv32-pool-conv64-pool-dense10, 'same'), seeded, as a Classifier. */
export function smallCnnClassifier(seed: number): Classifier {
  const model = buildArchitecture('small-cnn', [28, 28, 1], 10, seed);
  const card: ModelCard = {
    format: 'advlens-card/1',
    name: 'bench-small-cnn',
    architecture: 'small-cnn',
    modelType: 'layers',
    preprocess: { height: 28, width: 28, channels: 1, resize: 'fill', scale: [0, 1] },
    labels: Array.from({ length: 10 }, (_, i) => String(i)),
    output: 'logits',
    versions: {},
    created: new Date(0).toISOString(),
  };
  return makeClassifier(model, card);
}

/**
 * The six workloads of torch_ref.py on the small CNN, in its order and with its definitions: x
 * uniform in [0, 1], labels i mod 10. The maps, attacks and training go through the project's
 * `smoothgrad`, `integratedGradients`, `pgd` and `train` (objective `normal`, Adam).
 */
export function smallCnnWorkloads(s: Sizes, seed: number, full: boolean): WorkloadSet {
  const B = s.batch;
  const c = smallCnnClassifier(seed);
  const x = tf.randomUniform([B, 28, 28, 1], 0, 1, 'float32', seed) as tf.Tensor4D;
  const y = tf.tensor1d(
    Array.from({ length: B }, (_, i) => i % 10),
    'int32',
  );
  const batch: Batch = { x, y };
  // train_step: one epoch over trainSteps batches of B (the same random images repeated).
  const xs = x.dataSync() as Float32Array;
  const trainData = makeDataset({
    name: 'bench-random',
    source: 'tf.randomUniform',
    classNames: c.labels,
    shape: [28, 28, 1],
    pixels: Float32Array.from({ length: xs.length * s.trainSteps }, (_, i) => xs[i % xs.length]),
    labels: Int32Array.from({ length: B * s.trainSteps }, (_, i) => i % 10),
  });
  // `--method normal` (what makeObjective('normal') returns), imported directly so that the bench does
  // not load the robust objectives.
  const objective = crossEntropyObjective();
  const model = 'small-cnn 28x28x1';
  // Explainers: the score is the cross-entropy of the label (torch_ref's input_grad), one pass per B pairs.
  const explain = { target: 'label', score: 'ce', batchSize: B } as const;
  const tag = (key: string, exact: boolean) => (exact ? key : undefined);
  const workloads: Workload[] = [
    {
      name: 'forward',
      model,
      batch: B,
      images: B,
      definition: 'logits of the batch (Classifier.logits), read back',
      torchKey: 'forward',
      run: () => tf.tidy(() => void c.logits(x).dataSync()),
    },
    {
      name: 'input_grad',
      model,
      batch: B,
      images: B,
      definition: 'd sum CE / d input (attacks/loss lossGradient, one PGD step without the update)',
      torchKey: 'input_grad',
      run: () => tf.tidy(() => void lossGradient(c, x, y, false, 'ce').dataSync()),
    },
    {
      name: 'train_step',
      model,
      batch: B,
      images: B * s.trainSteps,
      definition: `train() with objective normal and Adam (lr 1e-3): one epoch of ${s.trainSteps} steps of ${B} per call`,
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
        });
      },
    },
    {
      name: `smoothgrad${s.smoothgradSamples}`,
      model,
      batch: B,
      images: B,
      definition: `smoothgrad(): ${s.smoothgradSamples} samples, spread 0.15, CE of the label, ${B} noisy images per pass`,
      torchKey: tag('smoothgrad50', full),
      run: () => {
        smoothgrad(c, batch, { ...explain, samples: s.smoothgradSamples, spread: 0.15 }).maps.dispose();
      },
    },
    {
      name: `ig${s.igSteps}`,
      model,
      batch: B,
      images: B,
      definition: `integratedGradients(): ${s.igSteps} steps, black baseline, right Riemann sum, CE of the label, ${B} path points per pass`,
      torchKey: tag('ig50', full),
      run: () => {
        integratedGradients(c, batch, { ...explain, steps: s.igSteps }).maps.dispose();
      },
    },
    {
      name: `pgd${s.pgdSteps}`,
      model,
      batch: B,
      images: B,
      definition: `pgd(): L-inf, eps 0.3, ${s.pgdSteps} steps of 0.01, CE, no random start`,
      torchKey: tag('pgd40', full),
      run: () => {
        const r = pgd(c, batch, { eps: 0.3, steps: s.pgdSteps, stepSize: 0.01 });
        tf.dispose([r.xAdv, r.logits]);
      },
    },
  ];
  return {
    workloads,
    dispose: () => {
      tf.dispose([x, y]);
      c.model.dispose();
    },
  };
}
