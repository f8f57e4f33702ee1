/**
 * The commands of `advlens`: what the top-level help shows of each (name, description, arguments)
 * and the module that adds its options, subcommands and action. main.ts creates every command from
 * this list, which loads nothing of the library, and loads the module of the command a run names
 * only, so that `advlens --help` or `advlens zoo` does not load TensorFlow.js, the wasm backend,
 * Fastify, BullMQ and the other commands' code.
 */
import type { Command } from 'commander';

/** Adds a command's options, subcommands and action to `self` (created from its {@link CommandEntry}). */
export type RegisterCommand = (self: Command, program: Command) => void;

/** A command as the top-level help lists it, and the module that registers the rest. */
export interface CommandEntry {
  name: string;
  description: string;
  /** Its positional arguments: the usage (`<plan>`) and description of each. */
  args?: [string, string][];
  /** Whether it has options of its own (the top-level help shows `[options]` after the name). */
  options: boolean;
  load: () => Promise<RegisterCommand>;
}

/** The commands in the order of `advlens --help`. */
export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'demo',
    description: 'evaluate the shipped MNIST models on embedded held-out digits and write an HTML report',
    options: true,
    load: async () => (await import('./commands/demo.ts')).registerDemo,
  },
  {
    name: 'info',
    description:
      'show the TensorFlow.js backend, its version, SIMD/threads, and the kernels advlens registered',
    options: true,
    load: async () => (await import('./commands/info.ts')).registerInfo,
  },
  {
    name: 'data',
    description: 'list the datasets advlens finds, or download one',
    options: false,
    load: async () => (await import('./commands/data.ts')).registerData,
  },
  {
    name: 'predict',
    description: "classify images with a model and print the top classes with the model's label names",
    options: true,
    load: async () => (await import('./commands/predict.ts')).registerPredict,
  },
  {
    name: 'train',
    description:
      'train a model (checkpoint every epoch, --resume after an interruption, card written at the end)',
    options: true,
    load: async () => (await import('./commands/train.ts')).registerTrain,
  },
  {
    name: 'eval',
    description:
      'measure accuracy, per-class accuracy and the confusion matrix of a model on a dataset; with --attack, robust accuracy per attack and eps',
    options: true,
    load: async () => (await import('./commands/eval.ts')).registerEval,
  },
  {
    name: 'attack',
    description:
      'attack images or a dataset slice; write the adversarial images (PNG), amplified perturbations and predictions',
    options: true,
    load: async () => (await import('./commands/attack.ts')).registerAttack,
  },
  {
    name: 'explain',
    description:
      'saliency maps of one or more models side by side (PNG per map, grid, HTML and JSON); maps of a method share one display scale across models',
    options: true,
    load: async () => (await import('./commands/explain.ts')).registerExplain,
  },
  {
    name: 'zoo',
    description:
      'list the MNIST model zoo (models/mnist-<method>): accuracy, PGD-200 accuracy, training time; name the missing members',
    options: true,
    load: async () => (await import('./commands/zoo.ts')).registerZoo,
  },
  {
    name: 'sweep',
    description:
      'run a sweep plan (JSON or YAML: models, attacks, eps, data, shardSize) on the local worker pool, or as jobs on a queue (--queue redis://HOST:PORT) that `advlens worker` processes take; prints the merged robust accuracy',
    args: [['<plan>', 'plan file (.json, .yaml)']],
    options: true,
    load: async () => (await import('./commands/sweep.ts')).registerSweep,
  },
  {
    name: 'worker',
    description:
      'take the jobs of `advlens sweep --queue` from a queue and run them (needs the same model folders and data as the sweep); stop with Ctrl-C (running jobs finish)',
    options: true,
    load: async () => (await import('./commands/worker.ts')).registerWorker,
  },
  {
    name: 'pathways',
    description:
      "Bluff's activation pathways: how an attack of growing strength moves a class's neurons toward another class (JSON artefacts and an HTML graph)",
    options: true,
    load: async () => (await import('./commands/pathways.ts')).registerPathways,
  },
  {
    name: 'stylize',
    description: `write a stylised copy of a dataset (each image re-rendered with a painting's texture, as Stylized-ImageNet) as class-per-folder PNGs plus advlens-stylize.json; resumable; evaluate it with --data folder:OUT`,
    options: true,
    load: async () => (await import('./commands/stylize.ts')).registerStylize,
  },
  {
    name: 'atlas',
    description:
      "neuron atlas: each channel's feature visualisation and top dataset patches, cached by the model's content hash (advlens pathways reuses it)",
    options: true,
    load: async () => (await import('./commands/atlas.ts')).registerAtlas,
  },
  {
    name: 'serve',
    description: 'start the explorer: a web app and JSON API to attack, explain and trace pathways live',
    options: true,
    load: async () => (await import('./commands/serve.ts')).registerServe,
  },
  {
    name: 'masking',
    description:
      'check a robustness evaluation for gradient masking: accuracy falls with eps, an unbounded budget reaches ~0%, black-box Square does not beat white-box APGD, more steps and restarts go little further (exit 1 on a failure)',
    options: true,
    load: async () => (await import('./commands/masking.ts')).registerMasking,
  },
];
