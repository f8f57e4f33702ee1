import type { Command } from 'commander';
import { runSweepFile, type SweepOutput } from '../../node/sweep.ts';
import { writeFileAtomic } from '../../node/fsio.ts';
import { defaultWorkers } from '../../node/pool.ts';
import { setup } from '../main.ts';
import { positiveInt } from '../options.ts';
import { duration, progressBar } from '../progress.ts';
import { pct, textTable } from '../table.ts';

interface SweepCliOptions {
  queue?: string;
  collect?: boolean;
  workers?: number;
  json?: boolean;
  out?: string;
}

/** `advlens sweep PLAN`: models x attacks x budgets x shards, on the local pool or a distributed queue. */
export function registerSweep(self: Command, program: Command): void {
  self
    .option(
      '--queue <url>',
      'enqueue the jobs on this queue (redis://HOST:PORT, BullMQ) and wait for the workers',
    )
    .option('--collect', 'with --queue: enqueue nothing, merge the jobs finished on the queue')
    .option(
      '--workers <n>',
      `without --queue: worker threads, same results as 1 (default: cores, here ${defaultWorkers()})`,
      positiveInt('--workers'),
    )
    .option('--out <file>', 'write the merged JSON result there')
    .option('--json', 'print the merged JSON result on stdout')
    .action(async (file: string, o: SweepCliOptions) => {
      await setup(program);
      const bar = progressBar('sweep', { quiet: o.json });
      let r: SweepOutput;
      try {
        r = await runSweepFile(file, {
          queue: o.queue,
          collect: o.collect,
          workers: o.workers,
          command: `advlens ${process.argv.slice(2).join(' ')}`,
          onProgress: (d, t, what) => bar.update(d, t, what),
        });
      } finally {
        bar.stop();
      }
      const text = JSON.stringify(r, null, 2) + '\n';
      if (o.out) writeFileAtomic(o.out, text);
      for (const m of r.results)
        for (const w of m.warnings)
          process.stderr.write(`advlens sweep: warning: ${m.model.name}: sanity check failed: ${w}\n`);
      if (o.json) {
        process.stdout.write(text);
        return;
      }
      process.stdout.write(summary(r) + '\n');
      if (o.out) process.stdout.write(`result: ${o.out}\n`);
    });
}

/** The human summary: what ran where, then one row per model, attack and eps. */
function summary(r: SweepOutput): string {
  const p = r.provenance;
  const j = p.jobs;
  const where =
    p.runner === 'queue'
      ? `queue ${p.queue}: ${j.total} jobs` +
        (j.added !== undefined
          ? ` (${j.added} enqueued, ${j.retried} retried, ${j.existing} already there)`
          : '')
      : `local pool of ${p.workers} worker(s): ${j.total} jobs`;
  const rows = r.results.flatMap((m) =>
    m.rows.map((x) => [
      String(m.model.name),
      pct(m.clean.accuracy),
      x.attack,
      Number(x.eps.toPrecision(4)),
      pct(x.accuracy),
      Number.isNaN(x.successRate) ? '-' : pct(x.successRate),
      x.meanLinf.toFixed(4),
    ]),
  );
  return (
    `sweep of ${r.results.length} model(s) on ${r.plan.data.spec} (${r.results[0]?.data.examples} images), ${where}, ${duration(p.seconds)}\n\n` +
    textTable(['model', 'clean', 'attack', 'eps', 'accuracy', 'attack success', 'mean L-inf'], rows)
  );
}
