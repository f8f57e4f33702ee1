import * as tfl from '@tensorflow/tfjs-layers';
import { UserError } from '../../errors.ts';
import { createRng } from '../../engine/rng.ts';
import { smallCnn } from './smallCnn.ts';
import { gapCnn } from './gapCnn.ts';
import { resnet } from './resnet.ts';
import { cifarCnn } from './cifarCnn.ts';

/** What an architecture is built for: the input shape [H, W, C], the number of classes and the seed of its initial weights. */
export interface ArchOptions {
  inputShape: [number, number, number];
  classes: number;
  /** Draws a seed for each initializer, so the same run seed gives the same initial weights. */
  seed: () => number;
}

/** An architecture the project trains: its name, a one-line description, its builder and the layers CAM and Grad-CAM read. */
export interface Architecture {
  name: string;
  description: string;
  /** Input sizes it is meant for ([H, W, C] with C of 1 or 3); others are accepted where they work. */
  defaultInput: [number, number, number];
  build: (o: ArchOptions) => tfl.LayersModel;
  /** Layers for Grad-CAM and CAM. */
  layers: { lastConv?: string; camFeatures?: string; camDense?: string };
}

/** The architectures the project trains, by name. */
export const ARCHITECTURES: Record<string, Architecture> = {
  'small-cnn': {
    name: 'small-cnn',
    description: 'conv32-conv64-dense, 28x28 (the reference benchmark model)',
    defaultInput: [28, 28, 1],
    build: smallCnn,
    layers: { lastConv: 'conv2' },
  },
  'gap-cnn': {
    name: 'gap-cnn',
    description: 'four convs, global average pooling, one dense layer: exact CAM (28x28 or 32x32)',
    defaultInput: [28, 28, 1],
    build: gapCnn,
    layers: { lastConv: 'features', camFeatures: 'features', camDense: 'logits' },
  },
  'cifar-cnn': {
    name: 'cifar-cnn',
    description: 'six convs (32-64-128) with batch norm, global average pooling, one dense layer: exact CAM (32x32 colour)',
    defaultInput: [32, 32, 3],
    build: cifarCnn,
    layers: { lastConv: 'features', camFeatures: 'features', camDense: 'logits' },
  },
  resnet: {
    name: 'resnet',
    description: 'ResNet-8 for 32x32 colour (CIFAR-10), batch norm, GAP head (exact CAM)',
    defaultInput: [32, 32, 3],
    build: (o) => resnet({ ...o, blocks: 1 }),
    layers: { lastConv: 'features', camFeatures: 'features', camDense: 'logits' },
  },
  resnet20: {
    name: 'resnet20',
    description: 'ResNet-20 for 32x32 colour (three basic blocks per stage)',
    defaultInput: [32, 32, 3],
    build: (o) => resnet({ ...o, blocks: 3 }),
    layers: { lastConv: 'features', camFeatures: 'features', camDense: 'logits' },
  },
};

/** Looks up an architecture by name; a {@link UserError} naming the valid ones otherwise. */
export function architecture(name: string): Architecture {
  const a = ARCHITECTURES[name];
  if (!a) throw new UserError(`unknown architecture '${name}'; use one of ${Object.keys(ARCHITECTURES).join(', ')}`);
  return a;
}

/** Builds a fresh, seeded model of the named architecture for images of `inputShape` and `classes` classes. */
export function buildArchitecture(name: string, inputShape: [number, number, number], classes: number, seed: number): tfl.LayersModel {
  const a = architecture(name);
  if (inputShape[0] < 8 || inputShape[1] < 8) throw new UserError(`images of ${inputShape[0]}x${inputShape[1]} are too small for ${name}; use at least 8x8`);
  const rng = createRng(seed);
  return a.build({ inputShape, classes, seed: () => rng.seed() });
}
