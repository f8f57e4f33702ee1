import path from 'node:path';
import type { Dataset } from '../../data/dataset.ts';
import type { Classifier } from '../../models/classifier.ts';
import { robustnessAsync, type RobustnessResult, type RobustRow } from '../../metrics/robustness.ts';
import { modelDir } from '../../node/models.ts';
import { checkWorkers, withPool } from '../../node/pool.ts';
import { poolAttackRunner } from '../../node/poolWorkerTasks.ts';
import { encodePng } from '../../node/image.ts';
import { reportDir } from '../../node/reportDir.ts';
import { htmlTable, imageGrid, reportPage, type Figure, type Section } from '../../report/html.ts';
import { lineChart } from '../../report/plot.ts';
import { attackFacts } from '../../attacks/index.ts';
import { versions } from '../../version.ts';
import { attackOptionsFrom, type AttackCliOptions } from '../attackOptions.ts';
import { progressBar } from '../progress.ts';
import { pct, textTable } from '../table.ts';

export interface EvalAttackCliOptions extends AttackCliOptions {
  model: string;
  data: string;
  limit?: number;
  batchSize: number;
  attack: string[];
  eps?: number[];
  sanity: boolean;
  sanityExamples: number;
  examples: number;
  report?: string;
  json?: boolean;
  csv?: boolean;
  preset?: string;
  /** Worker threads attacking batches in parallel (default: the number of cores; 1: in process). */
  workers?: number;
}

const CSV_HEAD = [
  'attack',
  'eps',
  'examples',
  'correct',
  'accuracy',
  'success_rate',
  'mean_linf',
  'mean_l2',
  'mean_l1',
  'seconds',
];

/** One CSV field: quoted when it holds a comma, quote or newline. */
function csvField(v: string | number): string {
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Short names for the per-attack measurements in tables. */
const METRIC_LABEL: Record<string, string> = {
  kendallTau: 'tau',
  topKOverlap: 'top-8',
  kendallTauIG: 'tau(IG)',
  predictionChanged: 'changed',
  discrepancy: 'D',
  discrepancyBound: 'bound',
  boundHolds: 'bound holds',
};

/** The row's extra measurements as `tau 0.61, top-8 0.50, ...` (empty when none). */
export function metricsText(m: RobustRow['metrics']): string {
  if (!m) return '';
  return Object.entries(m)
    .map(([k, v]) => `${METRIC_LABEL[k] ?? k} ${Number.isNaN(v.mean) ? '-' : v.mean.toFixed(3)}`)
    .join(', ');
}

/** `advlens eval --attack ...`: robust accuracy per attack and eps, sanity checks, report. */
export async function evalWithAttacks(
  o: EvalAttackCliOptions,
  model: Classifier,
  data: Dataset,
): Promise<void> {
  const eps = o.eps ?? [0, 0.1, 0.2, 0.3];
  const attackOpts = attackOptionsFrom(o, model);
  const quiet = o.json || o.csv;
  const bar = progressBar('attack', { quiet });
  // No more threads than the main phase has batches to attack.
  const workers = Math.min(
    checkWorkers(o.workers),
    o.attack.length * eps.length * Math.ceil(data.size / o.batchSize),
  );
  const t0 = performance.now();
  let r: RobustnessResult;
  try {
    // Batches are independent (each has its own seed) and merged in order: any number of workers
    // gives the same result as one.
    r = await withPool(workers, (pool) =>
      robustnessAsync(model, data, {
        attacks: o.attack,
        eps,
        attack: attackOpts,
        batchSize: o.batchSize,
        sanity: o.sanity,
        sanityExamples: o.sanityExamples,
        keepExamples: o.report ? o.examples : 0,
        onProgress: (d, t, what) => bar.update(d, t, what),
        runner: pool ? poolAttackRunner(pool, { dir: modelDir(o.model), preset: o.preset }) : undefined,
      }),
    );
  } finally {
    bar.stop();
  }
  const seconds = (performance.now() - t0) / 1000;
  const provenance = {
    command: `advlens ${process.argv.slice(2).join(' ')}`,
    model: {
      path: path.resolve(o.model),
      name: model.card.name,
      architecture: model.card.architecture,
      training: model.card.training?.recipe ?? null,
    },
    data: { spec: o.data, source: data.source, examples: data.size, limit: o.limit ?? null },
    attacks: o.attack,
    eps,
    attackOptions: attackOpts,
    sanity: o.sanity ? { examplesForExtraRuns: Math.min(o.sanityExamples, data.size) } : false,
    batchSize: o.batchSize,
    workers,
    seconds,
    versions: versions(),
    measuredAt: new Date().toISOString(),
  };
  const failed = r.checks.filter((c) => !c.passed);
  const json = {
    clean: { accuracy: r.clean.accuracy, correct: r.clean.correct, examples: r.clean.examples },
    rows: r.rows,
    checks: r.checks,
    warnings: failed.map((c) => `${c.attack}: ${c.name}: ${c.detail}`),
    provenance,
  };
  let reportPath: string | null = null;
  if (o.report) reportPath = await writeReport(o.report, model, data, r, provenance);

  for (const c of failed)
    process.stderr.write(`advlens eval: warning: sanity check failed: ${c.attack}: ${c.name}: ${c.detail}\n`);
  if (o.json) {
    process.stdout.write(JSON.stringify({ ...json, report: reportPath }, null, 2) + '\n');
    return;
  }
  if (o.csv) {
    const metricNames = [...new Set(r.rows.flatMap((x) => Object.keys(x.metrics ?? {})))];
    process.stdout.write(
      [
        [...CSV_HEAD, ...metricNames].join(','),
        ...r.rows.map((x) =>
          [
            x.attack,
            x.eps,
            x.examples,
            x.correct,
            x.accuracy,
            x.successRate,
            x.meanLinf,
            x.meanL2,
            x.meanL1,
            x.seconds.toFixed(2),
            ...metricNames.map((k) => x.metrics?.[k]?.mean ?? ''),
          ]
            .map(csvField)
            .join(','),
        ),
      ].join('\n') + '\n',
    );
    return;
  }
  const hasMetrics = r.rows.some((x) => x.metrics);
  process.stdout.write(
    `${model.card.name} on ${o.data} (${data.size} images from ${data.source}): clean accuracy ${pct(r.clean.accuracy)}\n\n`,
  );
  process.stdout.write(
    textTable(
      [
        'attack',
        'eps',
        'accuracy',
        'attack success',
        'mean L-inf',
        'mean L2',
        'time',
        ...(hasMetrics ? ['measured'] : []),
      ],
      r.rows.map((x) => [
        x.attack,
        Number(x.eps.toPrecision(4)),
        pct(x.accuracy),
        Number.isNaN(x.successRate) ? '-' : pct(x.successRate),
        x.meanLinf.toFixed(4),
        x.meanL2.toFixed(3),
        `${x.seconds.toFixed(1)}s`,
        ...(hasMetrics ? [metricsText(x.metrics)] : []),
      ]),
    ) + '\n',
  );
  if (o.sanity)
    process.stdout.write(
      `\nsanity checks: ${r.checks.length - failed.length} of ${r.checks.length} passed${failed.length ? ' (warnings above)' : ''}\n`,
    );
  if (reportPath) process.stdout.write(`report: ${reportPath}\n`);
}

async function writeReport(
  dir: string,
  model: Classifier,
  data: Dataset,
  r: RobustnessResult,
  provenance: Record<string, unknown>,
): Promise<string> {
  const report = reportDir(dir);
  try {
    const [h, w, c] = data.shape;
    const attacks = [...new Set(r.rows.map((x) => x.attack))];
    // Budgets in different units (L-inf, L2, each unforeseen attack's own) get separate plots.
    const unit = (a: string) => {
      const n = attackFacts(a).norm;
      return n === 'linf' ? 'L-inf' : n === 'l2' ? 'L2' : a;
    };
    const chart = [...new Set(attacks.map(unit))]
      .map((u) =>
        lineChart(
          attacks
            .filter((a) => unit(a) === u)
            .map((a) => ({
              name: a,
              points: r.rows
                .filter((x) => x.attack === a)
                .map((x) => [x.eps, x.accuracy] as [number, number]),
            })),
          {
            xLabel: `eps (${u === 'L-inf' || u === 'L2' ? u + ' norm' : u + ' budget'}, pixels in [0,1])`,
            yLabel: 'accuracy',
          },
        ),
      )
      .join('\n');
    const failed = r.checks.filter((x) => !x.passed);
    const sections: Section[] = [
      {
        title: 'Accuracy versus budget',
        html:
          `<p>Clean accuracy ${pct(r.clean.accuracy)} on ${r.clean.examples} images.</p>` +
          chart +
          htmlTable(
            [
              'attack',
              'eps',
              'accuracy',
              'attack success',
              'mean L-inf',
              'mean L2',
              'mean L1',
              'seconds',
              'measured',
            ],
            r.rows.map((x) => [
              x.attack,
              x.eps,
              pct(x.accuracy),
              Number.isNaN(x.successRate) ? '-' : pct(x.successRate),
              x.meanLinf,
              x.meanL2,
              x.meanL1,
              x.seconds,
              metricsText(x.metrics),
            ]),
          ),
      },
      {
        title: failed.length ? `Sanity checks: ${failed.length} WARNING(S)` : 'Sanity checks: all passed',
        html:
          (failed.length
            ? '<p class="wrong">A failed check is a sign of gradient masking or a bug: do not trust the robust accuracy above until it is explained.</p>'
            : '<p>The checks of Carlini et al., "On Evaluating Adversarial Robustness" (2019).</p>') +
          htmlTable(
            ['attack', 'check', 'result', 'detail'],
            r.checks.map((x) => [
              x.attack,
              x.name,
              { html: x.passed ? 'passed' : '<span class="wrong">FAILED</span>' },
              x.detail,
            ]),
          ),
      },
    ];
    if (r.examples.length) {
      const per = h * w * c;
      const figs: Figure[] = [];
      let n = 0;
      for (const e of r.examples) {
        const stem = `examples/${n++}`;
        let maxAbs = 0;
        for (let i = 0; i < per; i++) maxAbs = Math.max(maxAbs, Math.abs(e.delta[i]));
        const amp = maxAbs > 0 ? 0.5 / maxAbs : 1;
        report.write(`${stem}-adv.png`, await encodePng(e.image, [h, w, c]));
        report.write(
          `${stem}-delta.png`,
          await encodePng(
            e.delta.map((d) => 0.5 + amp * d),
            [h, w, c],
          ),
        );
        const name = (k: number) => model.labels[k] ?? String(k);
        figs.push(
          {
            src: `${stem}-adv.png`,
            caption: `${e.attack} ${Number(e.eps.toPrecision(3))}: ${name(e.label)} → ${name(e.prediction)}`,
            wrong: e.prediction !== e.label,
          },
          { src: `${stem}-delta.png`, caption: `perturbation x${amp.toFixed(1)}` },
        );
      }
      sections.push({
        title: 'Examples',
        html:
          '<p>The first images of the set under each attack and budget (true label → prediction; red where wrong), each beside its perturbation, amplified to fill the grey range.</p>' +
          imageGrid(figs, Math.max(56, Math.min(112, w * 2))),
      });
    }
    report.write(
      'index.html',
      reportPage(`advlens eval: robustness of ${model.card.name}`, sections, provenance),
    );
    report.write(
      'results.json',
      JSON.stringify(
        { clean: { ...r.clean, predictions: undefined }, rows: r.rows, checks: r.checks, provenance },
        null,
        2,
      ),
    );
    return path.join(report.finish(), 'index.html');
  } catch (e) {
    report.abort();
    throw e;
  }
}
