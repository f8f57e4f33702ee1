/**
 * `advlens zoo table --zoo cifar10 --table 1|2|atcnn`: the seed's CIFAR-10 tables on the CIFAR-10 zoo,
 * and `--zoo mnist --table atcnn`, the AT-CNN table on the MNIST zoo (the run in src/node/studyRun.ts,
 * the tables in src/zoo/study.ts), printed as Markdown, JSON or HTML.
 */
import type { Command } from 'commander';
import { SANITY_DEFAULTS } from '../../zoo/measureSanity.ts';
import { UserError } from '../../errors.ts';
import { writeFileAtomic } from '../../node/fsio.ts';
import { listZoo } from '../../node/zoo.ts';
import { checkOutputFile } from '../../node/outputPath.ts';
import { studyRun } from '../../node/studyRun.ts';
import { commandLine } from '../../report/provenance.ts';
import { studyDef } from '../../zoo/study.ts';
import { T1_AA_EPS } from '../../zoo/intTables.ts';
import type { AutoAttackCellSettings } from '../../zoo/aaCells.ts';
import { studyHtml, studyJson, studyMarkdown } from '../../zoo/studyRender.ts';
import { CIFAR10_ZOO, type ZooDef } from '../../zoo/zoos.ts';
import { setup } from '../main.ts';
import { progressBar } from '../progress.ts';

/** The options `zoo table` passes on for a CIFAR-10 table. */
export interface StudyCliOptions {
  table: string;
  eps?: number[];
  data?: string;
  dataDir?: string;
  limit?: number;
  stylizedData?: string;
  seed?: number;
  attackSteps?: number;
  batchSize?: number;
  workers?: number;
  format: 'md' | 'json' | 'html';
  out?: string;
  record?: boolean;
  recompute?: boolean;
  cached?: boolean;
  only?: string[];
  /** Commander's `--no-sanity` (table 1): false when given. */
  sanity?: boolean;
  sanityLimit?: number;
  /** Table 1 with --autoattack: its budgets (default those of the finding) and images. */
  aaEps?: number[];
  aaLimit?: number;
}

/** Runs one study table of `zoo` (default the CIFAR-10 zoo) and writes it to stdout or `--out`. */
export async function zooStudyTable(
  program: Command,
  o: StudyCliOptions,
  models: string,
  zooDef: ZooDef = CIFAR10_ZOO,
  autoattack?: AutoAttackCellSettings,
): Promise<void> {
  const mnist = zooDef.name === 'mnist';
  if (o.cached && (o.record || o.recompute))
    throw new UserError('--cached measures nothing: it cannot go with --record or --recompute');
  if (o.eps && o.table !== '1')
    throw new UserError(`--eps applies to --table 1 only (got --table ${o.table})`);
  if (o.eps && o.eps.length === 0) throw new UserError('--eps needs at least one budget');
  if (o.attackSteps && o.table !== '2')
    throw new UserError(`--attack-steps applies to --table 2 only (got --table ${o.table})`);
  if (o.stylizedData && o.table !== 'atcnn')
    throw new UserError(`--stylized-data applies to --table atcnn only (got --table ${o.table})`);
  if (o.stylizedData && mnist)
    throw new UserError(
      '--stylized-data: the MNIST AT-CNN table has no stylised column (grey digits; see its notes): drop --stylized-data or use --zoo cifar10',
    );
  for (const m of o.only ?? [])
    if (!zooDef.methods.some((x) => x.method === m))
      throw new UserError(
        `unknown ${mnist ? 'MNIST' : 'CIFAR-10'} zoo member '${m}'; use one of ${zooDef.methods.map((x) => x.method).join(', ')}`,
      );
  if (o.aaEps && o.aaEps.filter((e) => e > 0).length === 0)
    throw new UserError('--aa-eps needs at least one budget above 0');
  const def = studyDef(o.table, {
    eps: o.eps,
    attackSteps: o.attackSteps,
    zoo: zooDef.name,
    ...(autoattack ? { aaEps: o.aaEps ?? T1_AA_EPS } : {}),
  });
  if (o.out) checkOutputFile(o.out, '--out');
  const zoo = listZoo(models, zooDef);
  await setup(program);
  const bars = new Map<string, ReturnType<typeof progressBar>>();
  const table = await studyRun({
    ...o,
    def,
    zoo,
    data: o.data ?? (mnist ? 'mnist:test' : 'cifar10:test'),
    sanity: o.sanity !== false,
    sanitySettings: {
      ...SANITY_DEFAULTS,
      batchSize: o.batchSize ?? SANITY_DEFAULTS.batchSize,
      unboundedExamples: o.sanityLimit ?? SANITY_DEFAULTS.unboundedExamples,
    },
    command: commandLine(process.argv.slice(2)),
    ...(autoattack ? { autoattack } : {}),
    onProgress: (member, column, done, total) => {
      const key = `${member} ${column}`;
      if (!bars.has(key)) bars.set(key, progressBar(key, { quiet: o.format === 'json' && !o.out }));
      bars.get(key)!.update(done, total);
      if (done === total) bars.get(key)!.stop();
    },
  }).finally(() => bars.forEach((b) => b.stop()));
  const content =
    o.format === 'json' ? studyJson(table) : o.format === 'html' ? studyHtml(table) : studyMarkdown(table);
  if (o.out) {
    writeFileAtomic(o.out, content);
    process.stderr.write(`advlens zoo table: wrote ${o.out}\n`);
  } else process.stdout.write(content);
}
