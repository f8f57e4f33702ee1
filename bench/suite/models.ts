/**
 * The real-size workloads of `../shared/bench/torch_ref_models.py` through the project's own code
 * paths: darknet tiny (`../shared/models/darknet-tiny`, loaded as `advlens` loads any model) at
 * 224x224, batch 8 (forward, input_grad, smoothgrad25, pgd20 L2), and the CIFAR ResNet-20 of the
 * architectures registry (`--arch resnet20`, seeded) at batch 128 (forward, input_grad, train_step
 * with SGD momentum, pgd7_train: one PGD-7 adversarial training step through the `pgd` objective),
 * and the CIFAR-10 zoo's `--arch cifar-cnn` at batch 64 with the same workloads and the zoo's SGD
 * (weight decay 5e-4; its reference is bench/torch_ref_cifar_cnn.py).
 * Inputs as the reference's: x uniform in [0, 1], fixed pseudo-random labels.
 */
import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { buildArchitecture } from '../../src/models/architectures/index.ts';
import { makeClassifier, type Classifier } from '../../src/models/classifier.ts';
import type { ModelCard } from '../../src/models/card.ts';
import { lossGradient } from '../../src/attacks/loss.ts';
import { pgd } from '../../src/attacks/pgd.ts';
import { smoothgrad } from '../../src/explain/smoothgrad.ts';
import { train, type TrainOptions } from '../../src/train/loop.ts';
import { crossEntropyObjective } from '../../src/train/objectives/crossEntropy.ts';
import { makeObjective } from '../../src/train/objectives/index.ts';
import { makeDataset } from '../../src/data/dataset.ts';
import { loadClassifier } from '../../src/node/models.ts';
import type { Workload } from './measure.ts';
import type { WorkloadSet } from './workloads.ts';

export type ModelName = 'darknet' | 'resnet20' | 'cifar-cnn';
export const MODEL_NAMES: ModelName[] = ['darknet', 'resnet20', 'cifar-cnn'];

/** The reference's sizes (torch_ref_models.py), or tiny ones for `--quick`. */
export interface ModelSizes {
  darknetBatch: number;
  smoothgradSamples: number;
  pgdSteps: number;
  resnetBatch: number;
  /** cifar-cnn's batch (the CIFAR-10 zoo trains it at 64). */
  cifarBatch: number;
  /** Optimizer steps of `batch` per timed call of train_step and pgd7_train (one epoch of `train()`). */
  trainSteps: number;
  pgdTrainSteps: number;
}

export const MODELS_FULL: ModelSizes = {
  darknetBatch: 8,
  smoothgradSamples: 25,
  pgdSteps: 20,
  resnetBatch: 128,
  cifarBatch: 64,
  trainSteps: 2,
  pgdTrainSteps: 7,
};

export const MODELS_QUICK: ModelSizes = {
  darknetBatch: 2,
  smoothgradSamples: 2,
  pgdSteps: 2,
  resnetBatch: 8,
  cifarBatch: 8,
  trainSteps: 1,
  pgdTrainSteps: 2,
};

/** torch_ref_models.py's key of each model. */
export const TORCH_MODEL_KEY: Record<ModelName, string> = {
  darknet: 'darknet-tiny',
  resnet20: 'resnet20',
  'cifar-cnn': 'cifar-cnn',
};

/** The inputs of a model's workloads: x uniform in [0, 1] (seeded), labels `(i * 7919) mod classes`. */
export function modelInputs(
  shape: [number, number, number],
  batch: number,
  classes: number,
  seed: number,
): { x: Float32Array; y: Int32Array } {
  const x = tf.tidy(
    () => tf.randomUniform([batch, ...shape], 0, 1, 'float32', seed).dataSync() as Float32Array,
  );
  return { x, y: Int32Array.from({ length: batch }, (_, i) => (i * 7919) % classes) };
}

/** The bench's ResNet-20 (registry `resnet20`, 32x32x3, 10 classes, seeded) as a Classifier. */
export function resnet20Classifier(seed: number): Classifier {
  return cifarClassifier('resnet20', seed);
}

/** A CIFAR architecture of the registry (`resnet20`, `cifar-cnn`; 32x32x3, 10 classes, seeded) as a Classifier. */
export function cifarClassifier(arch: 'resnet20' | 'cifar-cnn', seed: number): Classifier {
  const model = buildArchitecture(arch, [32, 32, 3], 10, seed);
  const card: ModelCard = {
    format: 'advlens-card/1',
    name: `bench-${arch}`,
    architecture: arch,
    modelType: 'layers',
    preprocess: { height: 32, width: 32, channels: 3, resize: 'fill', scale: [0, 1] },
    labels: Array.from({ length: 10 }, (_, i) => String(i)),
    output: 'logits',
    versions: {},
    created: new Date(0).toISOString(),
  };
  return makeClassifier(model, card);
}

/** Darknet tiny from `dir` through the project's model loading. */
export async function darknetClassifier(dir: string): Promise<Classifier> {
  return loadClassifier(dir);
}

/** SmoothGrad of the reference: `samples` per image, spread 0.15, CE of the label, `batch` noisy images per pass. */
export function darknetSmoothgrad(c: Classifier, x: tf.Tensor4D, y: tf.Tensor1D, samples: number): tf.Tensor {
  const o = { target: 'label', score: 'ce', batchSize: x.shape[0], samples, spread: 0.15 } as const;
  return smoothgrad(c, { x, y }, o).maps;
}

/** PGD L2 of the reference: eps 2, `steps` steps of eps/5, CE of the label, no random start (xAdv). */
export function darknetPgd(c: Classifier, x: tf.Tensor4D, y: tf.Tensor1D, steps: number): tf.Tensor {
  const r = pgd(c, { x, y }, { eps: 2, norm: 'l2', steps, stepSize: 2 / 5 });
  r.logits.dispose();
  return r.xAdv;
}

// ResNet-20: the reference's SGD (lr 0.1, momentum 0.9); cifar-cnn: the CIFAR-10 zoo's recipe (lr 0.05,
// momentum 0.9, weight decay 5e-4 on the kernels).
const trainOptions = (seed: number, name: ModelName): Omit<TrainOptions, 'objective' | 'batchSize'> => ({
  epochs: 1,
  seed,
  optimizer: 'sgd',
  lr: name === 'cifar-cnn' ? 0.05 : 0.1,
  momentum: 0.9,
  ...(name === 'cifar-cnn' ? { weightDecay: 5e-4 } : {}),
  schedule: { kind: 'constant' },
  augment: [],
});

export async function modelWorkloads(
  name: ModelName,
  s: ModelSizes,
  seed: number,
  darknetDir: string,
  full: boolean,
): Promise<WorkloadSet | { skipped: string }> {
  if (name === 'darknet' && !fs.existsSync(darknetDir))
    return { skipped: `darknet tiny not found at ${darknetDir}` };
  const c = name === 'darknet' ? await darknetClassifier(darknetDir) : cifarClassifier(name, seed);
  const shape = c.inputShape as [number, number, number];
  const B = name === 'darknet' ? s.darknetBatch : name === 'cifar-cnn' ? s.cifarBatch : s.resnetBatch;
  const inp = modelInputs(shape, B, c.labels.length, seed);
  const x = tf.tensor4d(inp.x, [B, ...shape]);
  const y = tf.tensor1d(inp.y, 'int32');
  const model = `${TORCH_MODEL_KEY[name]} ${shape.join('x')}`;
  const key = (k: string) => (full ? k : undefined);
  const common = { model, batch: B, images: B };
  const workloads: Workload[] = [
    {
      ...common,
      name: 'forward',
      definition: 'logits of the batch (Classifier.logits, inference mode), read back',
      torchKey: 'forward',
      run: () => tf.tidy(() => void c.logits(x).dataSync()),
    },
    {
      ...common,
      name: 'input_grad',
      // The gradient as a tensor, as the reference's torch.autograd.grad returns it; not copied out to
      // JavaScript (dataSync: a fresh 4.8 MB ArrayBuffer for darknet's batch, 0.5 ms, or 13 ms in the
      // calls where V8's new buffer is faulted in page by page on this VM, 2026-12-07).
      definition:
        'd sum CE / d input as a tensor (attacks/loss lossGradient, inference mode), not copied out',
      torchKey: 'input_grad',
      run: () => void lossGradient(c, x, y, false, 'ce').dispose(),
    },
  ];
  let dispose = () => tf.dispose([x, y]);
  let sharded: WorkloadSet['sharded'];
  if (name === 'darknet') {
    workloads.push(
      {
        ...common,
        name: `smoothgrad${s.smoothgradSamples}`,
        definition: `smoothgrad(): ${s.smoothgradSamples} samples per image, spread 0.15, CE of the label, ${B} noisy images per pass`,
        torchKey: key('smoothgrad25'),
        run: () => void darknetSmoothgrad(c, x, y, s.smoothgradSamples).dispose(),
      },
      {
        ...common,
        name: `pgd${s.pgdSteps}`,
        definition: `pgd(): L2, eps 2, ${s.pgdSteps} steps of eps/5, CE of the label, no random start`,
        torchKey: key('pgd20'),
        run: () => void darknetPgd(c, x, y, s.pgdSteps).dispose(),
      },
    );
  } else {
    const n = B * s.trainSteps;
    const data = makeDataset({
      name: 'bench-random',
      source: 'tf.randomUniform',
      classNames: c.labels,
      shape,
      pixels: Float32Array.from({ length: inp.x.length * s.trainSteps }, (_, i) => inp.x[i % inp.x.length]),
      labels: Int32Array.from({ length: n }, (_, i) => inp.y[i % B]),
    });
    const normal = crossEntropyObjective();
    // PGD-7 adversarial training as the reference: L-inf eps 8/255, 7 steps of 2/255, random start,
    // the attack in inference mode, the outer step on x' in training mode; the eps ramp off.
    const adversarial = makeObjective('pgd', {
      eps: 8 / 255,
      attackSteps: s.pgdTrainSteps,
      attackStepSize: 2 / 255,
      epsRamp: [0, 0],
    });
    const sgd = name === 'cifar-cnn' ? 'lr 0.05, momentum 0.9, weight decay 5e-4' : 'lr 0.1, momentum 0.9';
    workloads.push(
      {
        ...common,
        images: n,
        name: 'train_step',
        definition: `train() with objective normal and SGD (${sgd}), training-mode batch norm: one epoch of ${s.trainSteps} steps of ${B} per call`,
        torchKey: 'train_step',
        run: async () =>
          void (await train(c, data, { ...trainOptions(seed, name), objective: normal, batchSize: B })),
      },
      {
        ...common,
        images: n,
        name: `pgd${s.pgdTrainSteps}_train`,
        definition: `train() with objective pgd (L-inf eps 8/255, ${s.pgdTrainSteps} steps of 2/255, random start, no ramp) and SGD (${sgd}): one epoch of ${s.trainSteps} steps of ${B} per call`,
        torchKey: key('pgd7_train'),
        run: async () =>
          void (await train(c, data, { ...trainOptions(seed, name), objective: adversarial, batchSize: B })),
      },
    );
    // The same two on a pool: data-parallel train(), batch-norm statistics synchronised.
    sharded = {
      train_step: async (shards) =>
        void (await train(c, data, { ...trainOptions(seed, name), objective: normal, batchSize: B, shards })),
      [`pgd${s.pgdTrainSteps}_train`]: async (shards) =>
        void (await train(c, data, {
          ...trainOptions(seed, name),
          objective: adversarial,
          batchSize: B,
          shards,
        })),
    };
  }
  const free = dispose;
  dispose = () => {
    free();
    c.model.dispose();
  };
  return { workloads, dispose, sharded };
}
