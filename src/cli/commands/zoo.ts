import { Option, type Command } from 'commander';
import { UserError } from '../../errors.ts';
import { writeFileAtomic } from '../../node/fsio.ts';
import { zooTableRun } from '../../node/zooTableRun.ts';
import { zooTable3Run } from '../../node/zooTable3Run.ts';
import { AAI200 } from '../../zoo/aaiRecord.ts';
import { zooReport, zooReport3 } from '../../report/zoo.ts';
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
/** Table 3's budgets (the paper's) and images (Table 1's 200: the paper does not say). */
const DEFAULT_EPS3 = [0.05, 0.1, 0.2, 0.3, 0.35, 0.4];
const DEFAULT_LIMIT = { 1: 500, 3: 200 } as const;

interface ZooTableCliOptions {
  models?: string;
  eps?: number[];
  data: string;
  dataDir?: string;
  limit?: number;
  table: '1' | '3';
  steps?: number;
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

/**
 * `advlens zoo table`: measures (or reads) each model's PGD-200 accuracy and renders Table 1; with
 * `--table 3`, Kendall's tau under AAI per (model, eps) cell and Table 3.
 */
async function zooTable(program: Command, o: ZooTableCliOptions, models: string): Promise<void> {
  if (o.cached && (o.record || o.recompute))
    throw new UserError('--cached attacks nothing: it cannot go with --record or --recompute');
  if (o.eps && o.eps.length === 0) throw new UserError('--eps needs at least one budget');
  if (o.out) checkOutputFile(o.out, '--out');
  if (o.steps !== undefined && o.table !== '3')
    throw new UserError('--steps sets the AAI steps of --table 3; Table 1 is PGD-200 (drop --steps)');
  const z = listZoo(models);
  const present = selectModels(z, o.only);
  await setup(program);
  const bars = new Map<string, ReturnType<typeof progressBar>>();
  const run = {
    ...o,
    limit: o.limit ?? DEFAULT_LIMIT[o.table],
    zoo: z,
    present,
    command: commandLine(process.argv.slice(2)),
    onProgress: (member: string, done: number, total: number, what: string) => {
      if (!bars.has(member))
        bars.set(
          member,
          progressBar(`${o.table === '3' ? 'aai-200' : 'pgd-200'} ${member}`, { quiet: o.format === 'json' }),
        );
      bars.get(member)!.update(done, total, what);
      if (done === total) bars.get(member)!.stop();
    },
  };
  const file = await (
    o.table === '3'
      ? zooTable3Run({
          ...run,
          eps: o.eps ?? DEFAULT_EPS3,
          attack: { ...AAI200, steps: o.steps ?? AAI200.steps, batchSize: o.batchSize ?? AAI200.batchSize },
        }).then((t) => zooReport3(t, o.format))
      : zooTableRun({ ...run, eps: o.eps ?? DEFAULT_EPS }).then((t) => zooReport(t, o.format))
  ).finally(() => bars.forEach((b) => b.stop()));
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
      "Table 1 of Boopathy et al. (ICML 2020), MNIST: each zoo model's PGD-200 accuracy per eps beside the paper's; --table 3: Kendall's tau of the CAM under AAI",
    )
    .addOption(
      new Option(
        '--table <n>',
        "the paper's table: 1 (PGD-200 accuracy) or 3 (Kendall's tau between clean and AAI-attacked CAMs)",
      )
        .choices(['1', '3'])
        .default('1'),
    )
    .option('--models <dir>', 'folder holding the zoo (default models)')
    .option(
      '--eps <list>',
      `L-inf budgets, comma-separated (default ${DEFAULT_EPS.join(',')}; table 3: ${DEFAULT_EPS3.join(',')})`,
      parseEpsList,
    )
    .option('--data <spec>', 'test set', 'mnist:test')
    .option('--data-dir <dir>', 'where to look for datasets')
    .option(
      '--limit <n>',
      `the first N test images (default ${DEFAULT_LIMIT[1]}; table 3: ${DEFAULT_LIMIT[3]}; the paper used 200)`,
      positiveInt('--limit'),
    )
    .option(
      '--steps <n>',
      `AAI steps of --table 3 (default ${AAI200.steps}, as the paper; recorded with each cell)`,
      positiveInt('--steps'),
    )
    .option('--batch-size <n>', 'images per attack pass (default 100)', positiveInt('--batch-size'))
    .option(
      '--workers <n>',
      'worker threads attacking batches in parallel (default: number of cores; the numbers do not depend on it)',
      positiveInt('--workers'),
    )
    .addOption(new Option('--format <kind>', 'output format').choices(['md', 'json', 'html']).default('md'))
    .option('--out <file>', 'write the table there (atomically) instead of stdout')
    .option(
      '--record',
      "write the measured numbers into each model's card (merged with what it holds; table 3: each cell as soon as it is measured, so a stopped run resumes)",
    )
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
