import type { Dataset } from '../../data/dataset.ts';
import type { Classifier } from '../../models/classifier.ts';
import type { RobustnessResult } from '../../metrics/robustness.ts';
import { modelDir } from '../../node/models.ts';
import { robustnessOnPool } from '../../node/robustnessPool.ts';
import { journalSize } from '../../node/batchJournal.ts';
import { nodeImageEncoder, writeReportFiles } from '../../node/reportFiles.ts';
import { metricsText, robustnessReport } from '../../report/robustness.ts';
import { commandLine, provenance as buildProvenance } from '../../report/provenance.ts';
import { attackOptionsFrom, type AttackCliOptions } from '../attackOptions.ts';
import { progressBar } from '../progress.ts';
import { autoAttackRowSummary } from '../../attacks/autoattack.ts';
import { pct, textTable } from '../table.ts';
import path from 'node:path';

export { metricsText };

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
  /** Keep each attacked batch in this folder and resume from it (node/batchJournal.ts). */
  journal?: string;
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
  const t0 = performance.now();
  let r: RobustnessResult;
  let workers: number;
  if (o.journal) {
    // Said up front: a stop (Ctrl-C, a kill) keeps the finished batches, and how to go on.
    const held = journalSize(o.journal);
    process.stderr.write(
      `advlens eval: journal ${o.journal} (${held} batch${held === 1 ? '' : 'es'} there); if this run stops, run the same command to resume\n`,
    );
  }
  try {
    ({ result: r, workers } = await robustnessOnPool(model, data, {
      attacks: o.attack,
      eps,
      attack: attackOpts,
      batchSize: o.batchSize,
      sanity: o.sanity,
      sanityExamples: o.sanityExamples,
      keepExamples: o.report ? o.examples : 0,
      onProgress: (d, t, what) => bar.update(d, t, what),
      source: { dir: modelDir(o.model), preset: o.preset },
      workers: o.workers,
      // No more threads than the main phase has batches to attack.
      maxWorkers: o.attack.length * eps.length * Math.ceil(data.size / o.batchSize),
      ...(o.journal ? { journal: { dir: o.journal, data: o.data, limit: data.size } } : {}),
    }));
  } finally {
    bar.stop();
  }
  const seconds = (performance.now() - t0) / 1000;
  const provenance = buildProvenance(
    commandLine(process.argv.slice(2)),
    {
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
    },
    { seconds },
  );
  const failed = r.checks.filter((c) => !c.passed);
  const json = {
    clean: { accuracy: r.clean.accuracy, correct: r.clean.correct, examples: r.clean.examples },
    // An autoattack row's options carry one batch's summary (the last); the whole run's replaces it.
    rows: r.rows.map((x) =>
      x.attack === 'autoattack'
        ? { ...x, options: { ...x.options, summary: autoAttackRowSummary(x, r.clean.accuracy) } }
        : x,
    ),
    checks: r.checks,
    warnings: failed.map((c) => `${c.attack}: ${c.name}: ${c.detail}`),
    provenance,
    // RobustBench-style summaries of the autoattack rows, over every batch.
    ...(o.attack.includes('autoattack')
      ? {
          autoattack: r.rows
            .filter((x) => x.attack === 'autoattack')
            .map((x) => ({
              ...autoAttackRowSummary(x, r.clean.accuracy),
              model: model.card,
              versions: provenance.versions,
            })),
        }
      : {}),
  };
  let reportPath: string | null = null;
  if (o.report) {
    const files = await robustnessReport(
      { model: { name: model.card.name, labels: model.labels }, shape: data.shape, result: r, provenance },
      nodeImageEncoder,
    );
    reportPath = path.join(writeReportFiles(o.report, files), 'index.html');
  }

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
