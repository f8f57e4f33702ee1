import { Option, type Command } from 'commander';
import { UserError } from '../../errors.ts';
import { writeFileAtomic } from '../../node/fsio.ts';
import { zooTableRun } from '../../node/zooTableRun.ts';
import { zooReport } from '../../report/zoo.ts';
import { commandLine } from '../../report/provenance.ts';
import { setup } from '../main.ts';
import { positiveInt } from '../options.ts';
import { parseEpsList } from '../attackOptions.ts';
import { progressBar } from '../progress.ts';
import { zooMethod, ZOO_METHODS, type ZooEntry, type ZooListing } from '../../zoo/zoo.ts';
import { listZoo } from '../../node/zoo.ts';
import { checkOutputFile } from '../../node/outputPath.ts';
import { zooVerify, type VerifyOptions } from './zooVerify.ts';
import { listingJson, printListing } from '../zooListing.ts';

const DEFAULT_EPS = [0, 0.05, 0.1, 0.2, 0.3, 0.35, 0.4];

interface ZooTableCliOptions {
  models?: string;
  eps?: number[];
  data: string;
  dataDir?: string;
  limit: number;
  batchSize?: number;
  workers?: number;
  format: 'md' | 'json' | 'html';
  out?: string;
  record?: boolean;
  recompute?: boolean;
  cached?: boolean;
  only?: string[];
}

/** `--only normal,int2` -> checked zoo method names. */
function parseOnly(v: string, prev: string[] = []): string[] {
  const names = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of names) zooMethod(n);
  return [...new Set([...prev, ...names])];
}

/** The present members `--only` keeps (all when absent); a {@link UserError} when none is left. */
function selectModels(z: ZooListing, only: string[] | undefined): ZooEntry[] {
  const keep = (m: string) => !only || only.includes(m);
  const present = z.present.filter((e) => keep(e.method));
  if (present.length === 0) {
    throw new UserError(
      `no zoo model${only ? ` for ${only.join(', ')}` : 's'} in ${z.modelsDir} (looked for ${ZOO_METHODS.filter(
        (m) => keep(m.method),
      )
        .map((m) => m.folder)
        .join(', ')}); 'advlens zoo --models ${z.modelsDir}' says how to train them`,
    );
  }
  return present;
}

/** `advlens zoo table`: measures (or reads) each model's PGD-200 accuracy and renders Table 1. */
async function zooTable(program: Command, o: ZooTableCliOptions, models: string): Promise<void> {
  if (o.cached && (o.record || o.recompute))
    throw new UserError('--cached attacks nothing: it cannot go with --record or --recompute');
  if (o.eps && o.eps.length === 0) throw new UserError('--eps needs at least one budget');
  if (o.out) checkOutputFile(o.out, '--out');
  const z = listZoo(models);
  const present = selectModels(z, o.only);
  await setup(program);
  const bars = new Map<string, ReturnType<typeof progressBar>>();
  const table = await zooTableRun({
    ...o,
    eps: o.eps ?? DEFAULT_EPS,
    zoo: z,
    present,
    command: commandLine(process.argv.slice(2)),
    onProgress: (member, done, total, what) => {
      if (!bars.has(member))
        bars.set(member, progressBar(`pgd-200 ${member}`, { quiet: o.format === 'json' }));
      bars.get(member)!.update(done, total, what);
      if (done === total) bars.get(member)!.stop();
    },
  }).finally(() => bars.forEach((b) => b.stop()));
  const file = zooReport(table, o.format);
  if (o.out) {
    writeFileAtomic(o.out, file.content);
    process.stderr.write(`advlens zoo table: wrote ${o.out}\n`);
  } else process.stdout.write(file.content as string);
}

/** `advlens zoo` and `advlens zoo table`: the MNIST model zoo and its Table 1. */
export function registerZoo(program: Command): void {
  const zoo = program
    .command('zoo')
    .description(
      'list the MNIST model zoo (models/mnist-<method>): accuracy, PGD-200 accuracy, training time; name the missing members',
    )
    .enablePositionalOptions()
    .option('--models <dir>', 'folder holding the zoo (mnist-normal, mnist-int2, ...)', 'models')
    .option('--json', 'machine-readable listing on stdout')
    .action((o: { models: string; json?: boolean }) => {
      const z = listZoo(o.models);
      if (o.json) process.stdout.write(listingJson(z));
      else printListing(z);
    });
  zoo
    .command('table')
    .description(
      "Table 1 of Boopathy et al. (ICML 2020), MNIST: each zoo model's PGD-200 accuracy per eps beside the paper's",
    )
    .option('--models <dir>', 'folder holding the zoo (default models)')
    .option('--eps <list>', `L-inf budgets, comma-separated (default ${DEFAULT_EPS.join(',')})`, parseEpsList)
    .option('--data <spec>', 'test set', 'mnist:test')
    .option('--data-dir <dir>', 'where to look for datasets')
    .option('--limit <n>', 'the first N test images (the paper used 200)', positiveInt('--limit'), 500)
    .option('--batch-size <n>', 'images per attack pass (default 100)', positiveInt('--batch-size'))
    .option(
      '--workers <n>',
      'worker threads attacking batches in parallel (default: number of cores; the numbers do not depend on it)',
      positiveInt('--workers'),
    )
    .addOption(new Option('--format <kind>', 'output format').choices(['md', 'json', 'html']).default('md'))
    .option('--out <file>', 'write the table there (atomically) instead of stdout')
    .option('--record', "write the measured accuracies into each model's card (merged with what it holds)")
    .option('--recompute', 'attack again even where a card holds the numbers')
    .option('--cached', "print only what the cards hold, attack nothing ('-' where a card lacks a budget)")
    .option(
      '--only <methods>',
      `zoo methods, comma-separated: ${ZOO_METHODS.map((m) => m.method).join(', ')}`,
      parseOnly,
    )
    .action(async (o: ZooTableCliOptions) => {
      await zooTable(program, o, o.models ?? zoo.opts<{ models: string }>().models);
    });
  zoo
    .command('verify')
    .description(
      "evaluate each zoo member again on the test set its card records and check it gives the card's accuracy (exit 1 when one differs)",
    )
    .option('--models <dir>', 'folder holding the zoo (default models)')
    .option('--data <spec>', 'test set whose recorded accuracy is checked', 'mnist:test')
    .option('--data-dir <dir>', 'where to look for datasets')
    .option(
      '--only <methods>',
      `zoo methods, comma-separated: ${ZOO_METHODS.map((m) => m.method).join(', ')}`,
      parseOnly,
    )
    .option(
      '--workers <n>',
      'worker threads evaluating in parallel (default: number of cores; the numbers do not depend on it)',
      positiveInt('--workers'),
    )
    .option('--json', 'machine-readable result on stdout')
    .action(async (o: VerifyOptions & { models?: string }) => {
      await setup(program);
      process.exitCode = await zooVerify(o.models ?? zoo.opts<{ models: string }>().models, o);
    });
}
