import type { Command } from 'commander';
import path from 'node:path';
import { loadDataset } from '../../node/loadData.ts';
import { loadStylizer } from '../../node/styleModels.ts';
import { checkStylizeFolder, contactSheet, stylizeDataset } from '../../node/stylizeRun.ts';
import { checkOutputDir, checkOutputFile } from '../../node/outputPath.ts';
import { writeFileAtomic } from '../../node/fsio.ts';
import { commandLine, provenance } from '../../report/provenance.ts';
import { UserError } from '../../errors.ts';
import { setup } from '../main.ts';
import { nonNegativeInt, positiveInt, unitInterval } from '../options.ts';
import { duration, progressBar } from '../progress.ts';

interface StylizeCliOptions {
  data: string;
  out: string;
  limit?: number;
  seed: number;
  method: string;
  dataDir?: string;
  styleModels?: string;
  paintings?: string;
  styleSize: number;
  strength: number;
  batchSize: number;
  sheet?: string;
  json?: boolean;
}

/** `advlens stylize`: a stylised copy of a dataset, written once as PNG folders for `folder:OUT`. */
export function registerStylize(self: Command, program: Command): void {
  self
    .requiredOption('--data <spec>', 'the colour dataset to stylise: cifar10:test, folder:PATH, ...')
    .requiredOption('--out <dir>', 'output folder (new, empty, or an unfinished stylize run to resume)')
    .option('--limit <n>', 'only the first N examples (every class in turn)', positiveInt('--limit'))
    .option(
      '--seed <n>',
      'seed of the painting drawn per image (with the image index)',
      nonNegativeInt('--seed'),
      0,
    )
    .option(
      '--method <name>',
      'arbitrary (a random painting per image) or fast:<style> (wave, udnie, scream, wreck, la_muse, rain_princess)',
      'arbitrary',
    )
    .option('--data-dir <dir>', 'where to look for datasets (and style-images)')
    .option('--style-models <dir>', 'the folder holding arbitrary-style/ and style-transfer/')
    .option('--paintings <dir>', 'folder of paintings for arbitrary (default: style-images in the data dirs)')
    .option(
      '--style-size <n>',
      'side in pixels to stylise at: images are upsampled by a whole factor to about this, then averaged back',
      positiveInt('--style-size'),
      256,
    )
    .option(
      '--strength <s>',
      "arbitrary: how much of the painting's style, 0 to 1; below 1 the style vector is mixed with the image's own (Ghiasi et al.'s interpolation), which keeps more of the object at small sizes",
      unitInterval('--strength'),
      1,
    )
    .option('--batch-size <n>', 'images stylised at once', positiveInt('--batch-size'), 8)
    .option(
      '--sheet <file>',
      'also write a contact sheet PNG of the first 20 images and their stylised copies',
    )
    .option('--json', 'machine-readable result on stdout')
    .action(async (o: StylizeCliOptions) => {
      checkOutputDir(o.out, '--out');
      if (o.sheet) checkOutputFile(o.sheet, '--sheet');
      if (o.method !== 'arbitrary' && !/^fast:[A-Za-z0-9_-]+$/.test(o.method))
        throw new UserError(
          `--method ${o.method} is unknown; use arbitrary or fast:<style> (fast:wave, ...)`,
        );
      if (o.strength !== 1 && o.method !== 'arbitrary')
        throw new UserError(
          `--strength ${o.strength} needs --method arbitrary (the fast networks have one fixed style)`,
        );
      // The strength joins the key only when it is not the default, so folders written before it
      // existed (strength 1) still resume.
      const key = {
        data: o.data,
        method: o.method,
        seed: o.seed,
        workSize: o.styleSize,
        ...(o.strength !== 1 ? { strength: o.strength } : {}),
      };
      checkStylizeFolder(o.out, key);
      await setup(program);
      const data = await loadDataset(o.data, { dataDir: o.dataDir, limit: o.limit });
      if (data.shape[2] !== 3)
        throw new UserError(
          `stylize needs colour images; ${o.data} has ${data.shape[2]} channel(s) (the networks paint RGB textures)`,
        );
      const stylizer = await loadStylizer(o.method, {
        modelsDir: o.styleModels,
        paintingsDir: o.paintings,
        dataDir: o.dataDir,
        seed: o.seed,
        size: o.styleSize,
        batchSize: o.batchSize,
        strength: o.strength,
      });
      try {
        const bar = progressBar('stylize', { quiet: o.json });
        const r = await stylizeDataset(data, stylizer, o.out, {
          key,
          provenance: provenance(commandLine(process.argv.slice(2)), {
            source: data.source,
            limit: o.limit ?? null,
            stylizer: stylizer.describe,
            sources: stylizer.sources,
          }),
          batchSize: o.batchSize,
          onProgress: (d, t, skipped) => bar.update(d, t, skipped ? `(${skipped} done before)` : ''),
        });
        bar.stop();
        if (o.sheet) writeFileAtomic(o.sheet, await contactSheet(data, o.out, 20));
        if (o.json) {
          process.stdout.write(
            JSON.stringify({ ...r, sheet: o.sheet ? path.resolve(o.sheet) : null }, null, 2) + '\n',
          );
          return;
        }
        const speed = Number.isFinite(r.imagesPerSecond) ? `, ${r.imagesPerSecond.toFixed(2)} images/s` : '';
        process.stdout.write(
          `${o.data}: ${r.written} image(s) stylised (${o.method}) in ${duration(r.seconds)}${speed}` +
            `${r.skipped ? `, ${r.skipped} already done` : ''}; ${r.images} in ${r.dir}\n` +
            `evaluate: advlens eval --model DIR --data folder:${o.out} (or eval --transform to compare with clean)\n`,
        );
        if (o.sheet) process.stdout.write(`contact sheet: ${o.sheet}\n`);
      } finally {
        stylizer.dispose();
      }
    });
}
