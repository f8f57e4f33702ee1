import type { Command } from 'commander';
import { startSweepWorker } from '../../node/sweep.ts';
import { setup } from '../main.ts';
import { positiveInt, positiveNumber } from '../options.ts';

interface WorkerCliOptions {
  queue: string;
  workers: number;
  dataDir?: string;
  base?: string;
  lockDuration: number;
  stalledInterval: number;
}

/** `advlens worker --queue URL`: takes sweep jobs from a queue and runs them until stopped. */
export function registerWorker(self: Command, program: Command): void {
  self
    .requiredOption('--queue <url>', 'queue to work for (redis://HOST:PORT)')
    .option('--workers <n>', 'jobs run at once, each on its own thread', positiveInt('--workers'), 1)
    .option('--data-dir <dir>', "where to look for data first (default: the plan's)")
    .option(
      '--base <dir>',
      "folder the plans' relative model and data paths are taken from on this machine (the plan file's folder or its copy; default: the current folder)",
    )
    .option(
      '--lock-duration <s>',
      "seconds a job's lock lasts unrenewed: a killed worker's job runs again this long after",
      positiveNumber('--lock-duration'),
      30,
    )
    .option(
      '--stalled-interval <s>',
      'seconds between checks for jobs whose worker died',
      positiveNumber('--stalled-interval'),
      30,
    )
    .action(async (o: WorkerCliOptions) => {
      await setup(program);
      const log = (line: string) => process.stderr.write(`advlens worker: ${line}\n`);
      const w = await startSweepWorker(o.queue, {
        workers: o.workers,
        dataDir: o.dataDir,
        base: o.base,
        lockSeconds: o.lockDuration,
        stalledSeconds: o.stalledInterval,
        log,
      });
      log(`ready on ${o.queue} with ${o.workers} thread(s)`);
      await new Promise<void>((resolve) => {
        const stop = (sig: string) => {
          log(`${sig}: finishing running jobs, then stopping`);
          void w.close().then(resolve, resolve);
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
    });
}
