/**
 * The model zoos advlens knows, by name: `mnist` (Boopathy et al.'s MNIST Table 1 methods and three
 * baselines, zoo/zoo.ts) and `cifar10` (the AT-CNN and Int sets on CIFAR-10, zoo/cifar10.ts). A zoo is
 * its members (folders under a models folder) and the command that trains each.
 *
 *   listZoo('models', zooDef('cifar10')).missing.map((m) => m.folder);
 */
import { UserError } from '../errors.ts';
import { CIFAR10_HEADLINE, CIFAR10_METHODS, cifar10TrainCommand, type Cifar10Method } from './cifar10.ts';
import { MNIST_HEADLINE, ZOO_METHODS, trainCommandTo, type ZooHeadline, type ZooMethod } from './zoo.ts';

/** A zoo: its members, how to train one into a folder, and what its listing headlines. */
export interface ZooDef {
  name: 'mnist' | 'cifar10';
  methods: readonly ZooMethod[];
  trainCommandTo(m: ZooMethod, out: string): string;
  /** The test set and PGD-200 budget of the listing's headline numbers. */
  headline: ZooHeadline;
  /** The command that measures and records the headline PGD-200 accuracy (`DIR`: the data folder). */
  recordCommand: string;
}

export const MNIST_ZOO: ZooDef = {
  name: 'mnist',
  methods: ZOO_METHODS,
  trainCommandTo,
  headline: MNIST_HEADLINE,
  recordCommand: `advlens zoo table --data ${MNIST_HEADLINE.data[0]} --data-dir DIR --record`,
};

export const CIFAR10_ZOO: ZooDef = {
  name: 'cifar10',
  methods: CIFAR10_METHODS,
  trainCommandTo: (m, out) => cifar10TrainCommand(m as Cifar10Method, out),
  headline: CIFAR10_HEADLINE,
  recordCommand: `advlens zoo table --zoo cifar10 --table 1 --data ${CIFAR10_HEADLINE.data[0]} --data-dir DIR --record`,
};

/** The zoos by name. */
export const ZOOS: Record<string, ZooDef> = { mnist: MNIST_ZOO, cifar10: CIFAR10_ZOO };

/** The zoo `name`; a {@link UserError} naming the valid ones otherwise. */
export function zooDef(name: string): ZooDef {
  const z = Object.hasOwn(ZOOS, name) ? ZOOS[name] : undefined;
  if (!z) throw new UserError(`unknown zoo '${name}'; use one of ${Object.keys(ZOOS).join(', ')}`);
  return z;
}
