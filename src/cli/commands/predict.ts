import type { Command } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import { loadClassifier } from '../../node/models.ts';
import { decodeImage } from '../../node/image.ts';
import { versions } from '../../version.ts';
import { setup } from '../main.ts';
import { positiveInt } from '../options.ts';
import { UserError } from '../../errors.ts';

interface PredictCliOptions {
  model: string;
  image: string[];
  top: number;
  json?: boolean;
  preset?: string;
}

/** `advlens predict`: the top-k classes with probabilities for one or more images. */
export function registerPredict(self: Command, program: Command): void {
  self
    .requiredOption(
      '--model <dir>',
      'model folder (model.json + advlens.json, or a known preset such as darknet tiny)',
    )
    .requiredOption(
      '--image <files...>',
      'image files (JPEG, PNG, WebP); fitted to the model input as its card says',
    )
    .option('--top <k>', 'how many classes to show', positiveInt('--top'), 5)
    .option('--preset <name>', 'describe a model without a card by a preset (darknet-tiny)')
    .option('--json', 'machine-readable output')
    .action(async (o: PredictCliOptions) => {
      await setup(program);
      const c = await loadClassifier(o.model, { preset: o.preset });
      const [h, w, ch] = c.inputShape;
      const k = Math.min(o.top, c.labels.length);
      const results = [];
      for (const file of o.image) {
        const img = await decodeImage(file, {
          size: [h, w],
          channels: ch as 1 | 3,
          fit: c.card.preprocess.resize,
        });
        const { values, indices } = tf.tidy(() => {
          const x = tf.tensor4d(img.data, [1, h, w, ch]);
          const top = tf.topk(tf.softmax(c.logits(x)), k);
          return { values: top.values.dataSync(), indices: top.indices.dataSync() };
        });
        results.push({
          image: file,
          top: Array.from(indices, (i, j) => ({ index: i, label: c.labels[i], probability: values[j] })),
        });
      }
      if (results.length === 0) throw new UserError('no image given; pass --image FILE');
      if (o.json) {
        process.stdout.write(
          JSON.stringify(
            { model: { path: o.model, name: c.card.name }, results, versions: versions() },
            null,
            2,
          ) + '\n',
        );
        return;
      }
      for (const r of results) {
        process.stdout.write(`${r.image}\n`);
        for (const t of r.top)
          process.stdout.write(
            `  ${(100 * t.probability).toFixed(2).padStart(6)}%  ${t.label} (${t.index})\n`,
          );
      }
    });
}
