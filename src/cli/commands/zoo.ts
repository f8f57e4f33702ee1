import { Option, type Command } from 'commander';
import { UserError } from '../../errors.ts';
import { writeFileAtomic } from '../../node/fsio.ts';
import { zooTableRun } from '../../node/zooTableRun.ts';
import { zooTable3Run } from '../../node/zooTable3Run.ts';
import { AAI200 } from '../../zoo/aaiRecord.ts';
import { AA_LIMIT, AA_STANDARD } from '../../zoo/aaCells.ts';
import { SANITY_DEFAULTS } from '../../zoo/measureSanity.ts';
import { AUTOATTACK_PARTS } from '../../attacks/autoattack.ts';
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
import { listingJson, listingText } from '../zooListing.ts';
import { zooStudyTable } from './zooStudy.ts';
import { STUDY_IDS } from '../../zoo/study.ts';
import { MNIST_ZOO, zooDef, ZOOS } from '../../zoo/zoos.ts';

const DEFAULT_EPS = [0, 0.05, 0.1, 0.2, 0.3, 0.35, 0.4];
/** Table 3's budgets (the paper's) and images (Table 1's 200: the paper does not say). */
const DEFAULT_EPS3 = [0.05, 0.1, 0.2, 0.3, 0.35, 0.4];
const DEFAULT_LIMIT: Record<string, number> = { 1: 500, 3: 200 };

interface ZooTableCliOptions {
  models?: string;
  zoo?: string;
  table: string;
  stylizedData?: string;
  seed?: number;
  attackSteps?: number;
  eps?: number[];
  data?: string;
  dataDir?: string;
  limit?: number;
  /** AAI steps of Table 3. */
  steps?: number;
  batchSize?: number;
  workers?: number;
  format: 'md' | 'json' | 'html';
  out?: string;
  record?: boolean;
  recompute?: boolean;
  cached?: boolean;
  only?: string[];
  autoattack?: boolean;
  aaEps?: number[];
  aaLimit?: number;
  aaParts?: string;
  aaSteps?: number;
  aaQueries?: number;
  /** Commander's `--no-sanity`: false when given. */
  sanity: boolean;
  sanityLimit?: number;
}

/** Table 1's AutoAttack settings from the CLI: the standard preset, or the given parts and steps. */
function aaSettings(o: ZooTableCliOptions) {
  if (!o.autoattack) {
    const given = (['aaLimit', 'aaParts', 'aaSteps', 'aaQueries'] as const).filter((k) => o[k] !== undefined);
    if (given.length)
      throw new UserError(
        `--${given[0].replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} applies to --autoattack only: add --autoattack or drop it`,
      );
    return undefined;
  }
  if (o.table !== '1') throw new UserError('--autoattack applies to --table 1 only: drop --autoattack');
  let parts: string[] | null = null;
  if (o.aaParts !== undefined) {
    parts = [...new Set(o.aaParts.split(',').map((a) => a.trim()))].filter(Boolean);
    const bad = parts.filter((a) => !(a in AUTOATTACK_PARTS));
    if (bad.length || parts.length === 0)
      throw new UserError(
        `--aa-parts ${o.aaParts}: use names from ${Object.keys(AUTOATTACK_PARTS).join(', ')}, comma-separated`,
      );
  }
  return {
    ...AA_STANDARD,
    parts,
    steps: o.aaSteps ?? AA_STANDARD.steps,
    queries: o.aaQueries ?? AA_STANDARD.queries,
    batchSize: o.batchSize ?? AA_STANDARD.batchSize,
  };
}

/** `--only normal,int2` -> zoo method names (checked against the zoo the command reads). */
function parseOnly(v: string, prev: string[] = []): string[] {
  const names = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
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
 * `advlens zoo table` on the MNIST zoo: measures (or reads) each model's PGD-200 accuracy and renders
 * Table 1; with `--table 3`, Kendall's tau under AAI per (model, eps) cell and Table 3.
 */
async function zooTable(program: Command, o: ZooTableCliOptions, models: string): Promise<void> {
  if (o.cached && (o.record || o.recompute))
    throw new UserError('--cached attacks nothing: it cannot go with --record or --recompute');
  if (o.eps && o.eps.length === 0) throw new UserError('--eps needs at least one budget');
  if (o.stylizedData) throw new UserError('--stylized-data applies to --zoo cifar10 --table atcnn only');
  for (const m of o.only ?? []) zooMethod(m);
  if (o.out) checkOutputFile(o.out, '--out');
  if (o.steps !== undefined && o.table !== '3')
    throw new UserError('--steps sets the AAI steps of --table 3; Table 1 is PGD-200 (drop --steps)');
  const autoattack = aaSettings(o);
  const z = listZoo(models);
  const present = selectModels(z, o.only);
  await setup(program);
  const bars = new Map<string, ReturnType<typeof progressBar>>();
  const run = {
    ...o,
    data: o.data ?? 'mnist:test',
    limit: o.limit ?? DEFAULT_LIMIT[o.table],
    zoo: z,
    present,
    command: commandLine(process.argv.slice(2)),
    onProgress: (member: string, done: number, total: number, what: string) => {
      if (!bars.has(member))
        bars.set(
          member,
          progressBar(
            member.endsWith(' autoattack')
              ? `autoattack ${member.slice(0, -' autoattack'.length)}`
              : member.endsWith(' sanity')
                ? `sanity checks ${member.slice(0, -' sanity'.length)}`
                : `${o.table === '3' ? 'aai-200' : 'pgd-200'} ${member}`,
            { quiet: o.format === 'json' && !o.out },
          ),
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
      : zooTableRun({
          ...run,
          eps: o.eps ?? DEFAULT_EPS,
          autoattack,
          aaLimit: o.aaLimit,
          sanity: o.sanity,
          sanitySettings: {
            ...SANITY_DEFAULTS,
            batchSize: o.batchSize ?? SANITY_DEFAULTS.batchSize,
            unboundedExamples: o.sanityLimit ?? SANITY_DEFAULTS.unboundedExamples,
          },
        }).then((t) => zooReport(t, o.format))
  ).finally(() => bars.forEach((b) => b.stop()));
  if (o.out) {
    writeFileAtomic(o.out, file.content);
    process.stderr.write(`advlens zoo table: wrote ${o.out}\n`);
  } else process.stdout.write(file.content as string);
}

/** `advlens zoo` and `advlens zoo table`: the MNIST model zoo and its Table 1. */
export function registerZoo(self: Command, program: Command): void {
  const zoo = self
    .enablePositionalOptions()
    .option('--models <dir>', 'folder holding the zoo (mnist-normal, mnist-int2, ...)', 'models')
    .option('--zoo <name>', `which zoo: ${Object.keys(ZOOS).join(', ')}`, 'mnist')
    .option('--json', 'machine-readable listing on stdout')
    .action((o: { models: string; zoo: string; json?: boolean }) => {
      const z = listZoo(o.models, zooDef(o.zoo));
      process.stdout.write(o.json ? listingJson(z) : listingText(z));
    });
  zoo
    .command('table')
    .description(
      "a seed table on a zoo beside the seed's numbers: Table 1 of Boopathy et al. (ICML 2020) on the MNIST zoo (PGD-200 per eps), Table 3 (Kendall's tau of the CAM under AAI, MNIST); with --zoo cifar10, Table 1 (CIFAR-10), Table 2 (unforeseen attacks) or the AT-CNN table (clean, stylised, saturated, patch-shuffled)",
    )
    .option('--models <dir>', 'folder holding the zoo (default models)')
    .option(
      '--zoo <name>',
      `which zoo: ${Object.keys(ZOOS).join(', ')} (default mnist for tables 1 and 3, cifar10 for the others; atcnn has both)`,
    )
    .addOption(
      new Option(
        '--table <id>',
        'which table: 1, 2 (CIFAR-10), 3 (MNIST: AAI), atcnn (CIFAR-10 by default; MNIST with --zoo mnist: saturation and shuffling)',
      )
        .choices([...new Set(['1', '3', ...STUDY_IDS])])
        .default('1'),
    )
    .option(
      '--eps <list>',
      `table 1: L-inf budgets, comma-separated (default MNIST ${DEFAULT_EPS.join(',')}; CIFAR-10 0,2/255,4/255,6/255,8/255,9/255,10/255)`,
      parseEpsList,
    )
    .option('--data <spec>', 'test set (default mnist:test, or cifar10:test for the CIFAR-10 zoo)')
    .option('--data-dir <dir>', 'where to look for datasets')
    .option(
      '--limit <n>',
      'the first N test images (default 500 for table 1, 200 for tables 2 and 3, 2000 for atcnn; the papers used 200)',
      positiveInt('--limit'),
    )
    .option(
      '--steps <n>',
      `AAI steps of --table 3 (default ${AAI200.steps}, as the paper; recorded with each cell)`,
      positiveInt('--steps'),
    )
    .option(
      '--stylized-data <spec>',
      'atcnn: the stylised copy of the test set for the stylised column (folder:DIR written by advlens stylize)',
    )
    .option(
      '--attack-steps <n>',
      'table 2: iterations of the unforeseen attacks (default 200, the paper; recorded with each cell)',
      positiveInt('--attack-steps'),
    )
    .option(
      '--seed <n>',
      'CIFAR-10 tables and atcnn: seed of the transforms and unforeseen attacks (batch b: seed + 1000003 b; default 1)',
      positiveInt('--seed'),
    )
    .option(
      '--autoattack',
      'table 1: also AutoAttack (standard preset, L-inf) beside PGD-200 per member, at every eps > 0 (MNIST) or at --aa-eps (CIFAR-10), each cell recorded as soon as it is measured with --record; flags where it is more than 5 points below PGD-200',
    )
    .option(
      '--aa-eps <list>',
      '--zoo cifar10 --table 1 --autoattack: the budgets AutoAttack runs at (default 8/255,9/255,10/255, those of the finding)',
      parseEpsList,
    )
    .option(
      '--aa-limit <n>',
      `--autoattack: the first N test images it runs on (default ${AA_LIMIT})`,
      positiveInt('--aa-limit'),
    )
    .option(
      '--aa-parts <list>',
      `--autoattack: run these parts instead of the standard preset (${Object.keys(AUTOATTACK_PARTS).join(', ')}; for quick checks; recorded with each cell)`,
    )
    .option(
      '--aa-steps <n>',
      `--autoattack: APGD/FAB iterations (default ${AA_STANDARD.steps}, the reference's; recorded with each cell)`,
      positiveInt('--aa-steps'),
    )
    .option(
      '--aa-queries <n>',
      `--autoattack: Square's queries (default ${AA_STANDARD.queries}, the reference's; recorded with each cell)`,
      positiveInt('--aa-queries'),
    )
    .option(
      '--no-sanity',
      'table 1: skip the sanity checks (Carlini et al., as advlens eval runs them: PGD-200 at least as strong as FGSM and random noise at each eps, ~0% at an unbounded budget once per member); by default they run, only what the card lacks is measured, and every failure is marked beside its cell',
    )
    .option(
      '--sanity-limit <n>',
      `table 1: the first N images of the unbounded-budget check (default ${SANITY_DEFAULTS.unboundedExamples}; FGSM and noise use the table's images)`,
      positiveInt('--sanity-limit'),
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
      "write the measured numbers into each model's card (merged with what it holds; table 3 and the CIFAR-10 tables: each cell as soon as it is measured, so a rerun resumes)",
    )
    .option('--recompute', 'attack again even where a card holds the numbers')
    .option('--cached', "print only what the cards hold, attack nothing ('-' where a card lacks a budget)")
    .option(
      '--only <methods>',
      `zoo methods, comma-separated (MNIST: ${ZOO_METHODS.map((m) => m.method).join(', ')}; CIFAR-10: see advlens zoo --zoo cifar10)`,
      parseOnly,
    )
    .action(async (o: ZooTableCliOptions) => {
      const models = o.models ?? zoo.opts<{ models: string }>().models;
      const which = o.zoo ?? (o.table === '1' || o.table === '3' ? 'mnist' : 'cifar10');
      if (o.table !== '1' && (o.sanity === false || o.sanityLimit !== undefined))
        throw new UserError(
          `--${o.sanity === false ? 'no-sanity' : 'sanity-limit'} applies to --table 1 (the PGD-200 table): drop it`,
        );
      if (o.sanity === false && o.sanityLimit !== undefined)
        throw new UserError('--sanity-limit sets the images of the sanity checks: drop it or --no-sanity');

      zooDef(which);
      if (o.table === '3' && which !== 'mnist')
        throw new UserError('--table 3 (AAI) is measured on the MNIST zoo: drop --zoo or use --zoo mnist');
      if (o.steps !== undefined && o.table !== '3')
        throw new UserError('--steps sets the AAI steps of --table 3; use --attack-steps for table 2');
      if (o.aaEps && !(which === 'cifar10' && o.autoattack))
        throw new UserError(
          '--aa-eps sets the AutoAttack budgets of --zoo cifar10 --table 1 --autoattack (the MNIST table attacks every eps): drop it',
        );
      if (which === 'cifar10') return zooStudyTable(program, o, models, undefined, aaSettings(o));
      if (o.table === 'atcnn') {
        if (o.autoattack) throw new UserError('--autoattack applies to --table 1 (drop it for atcnn)');
        return zooStudyTable(program, o, models, MNIST_ZOO);
      }
      if (o.table !== '1' && o.table !== '3')
        throw new UserError(`--table ${o.table} is a CIFAR-10 table: use --zoo cifar10 (or leave --zoo out)`);
      await zooTable(program, o, models);
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
