import path from 'node:path';
import type { Dataset } from '../../data/dataset.ts';
import type { Classifier } from '../../models/classifier.ts';
import {
  applyTransform,
  TRANSFORMS,
  transformLabel,
  type Stylizer,
  type TransformSpec,
} from '../../data/transforms/index.ts';
import { transformAccuracy } from '../../metrics/transformAccuracy.ts';
import { loadStylizer } from '../../node/styleModels.ts';
import { commandLine, provenance } from '../../report/provenance.ts';
import { UserError } from '../../errors.ts';
import { progressBar } from '../progress.ts';
import { pct, textTable } from '../table.ts';

/** The two accuracies, in words (help, README and the JSON result say the same). */
export const TRANSFORM_ACCURACY_DEFINITION =
  'accuracy = right on the transformed image / images; relative = right both clean and transformed / right clean (AT-CNN: accuracy counted only on images the model gets right clean, divided by clean accuracy)';

export interface EvalTransformCliOptions {
  model: string;
  data: string;
  limit?: number;
  batchSize?: number;
  json?: boolean;
  preset?: string;
  seed: number;
  transform: TransformSpec[];
  styleModels?: string;
  paintings?: string;
  styleSize?: number;
  dataDir?: string;
}

/** `advlens eval --transform LIST`: clean accuracy and both accuracies per transform, with provenance. */
export async function evalWithTransforms(
  o: EvalTransformCliOptions,
  c: Classifier,
  data: Dataset,
): Promise<void> {
  const stylizeSpecs = o.transform.filter((s) => s.kind === 'stylize');
  if (stylizeSpecs.length && data.shape[2] !== 3)
    throw new UserError(
      `stylize needs colour images; ${o.data} has ${data.shape[2]} channel(s) (the paintings' textures are colour); leave stylize out for grey data`,
    );
  const stylizers = new Map<string, Stylizer & { sources: Record<string, string> }>();
  try {
    for (const s of stylizeSpecs)
      stylizers.set(
        s.method,
        await loadStylizer(s.method, {
          modelsDir: o.styleModels,
          paintingsDir: o.paintings,
          dataDir: o.dataDir,
          seed: o.seed,
          size: o.styleSize,
        }),
      );
    const bar = progressBar('eval', { quiet: o.json });
    const t0 = performance.now();
    const r = transformAccuracy(
      c,
      data,
      o.transform.map((s) => ({
        label: transformLabel(s),
        apply: (x, indices) =>
          applyTransform(s, x, {
            seed: o.seed,
            indices,
            stylizer: s.kind === 'stylize' ? stylizers.get(s.method) : undefined,
          }),
      })),
      {
        batchSize: o.batchSize ?? (stylizeSpecs.length ? 16 : 256),
        onProgress: (d, t, info) => bar.update(d, t, info),
      },
    );
    bar.stop();
    const seconds = (performance.now() - t0) / 1000;
    const result = provenance(
      commandLine(process.argv.slice(2)),
      {
        model: {
          path: path.resolve(o.model),
          name: c.card.name,
          architecture: c.card.architecture,
          training: c.card.training?.recipe ?? null,
        },
        data: { spec: o.data, source: data.source, examples: data.size, limit: o.limit ?? null },
        options: { seed: o.seed, batchSize: o.batchSize ?? null, preset: o.preset ?? null },
        transforms: o.transform.map((s) => ({
          transform: transformLabel(s),
          summary: TRANSFORMS[s.kind].summary,
          ...(s.kind === 'stylize' && {
            stylizer: stylizers.get(s.method)!.describe,
            sources: stylizers.get(s.method)!.sources,
          }),
        })),
        definition: TRANSFORM_ACCURACY_DEFINITION,
        examples: r.examples,
        clean: r.clean,
        rows: r.rows,
      },
      { seconds },
    );
    if (o.json) {
      process.stdout.write(JSON.stringify(result, null, 2) + '\n');
      return;
    }
    process.stdout.write(
      `${c.card.name} on ${o.data} (${data.size} images from ${data.source}), seed ${o.seed}: clean accuracy ${pct(r.clean.accuracy)}\n\n`,
    );
    process.stdout.write(
      textTable(
        ['transform', 'accuracy', 'relative', 'right', 'right both'],
        [
          ['clean', pct(r.clean.accuracy), pct(1), r.clean.correct, r.clean.correct],
          ...r.rows.map((row) => [
            row.transform,
            pct(row.accuracy),
            pct(row.relative),
            row.correct,
            row.bothCorrect,
          ]),
        ],
      ) + '\n',
    );
    process.stdout.write(`\n${TRANSFORM_ACCURACY_DEFINITION}\n`);
  } finally {
    for (const s of stylizers.values()) s.dispose();
  }
}
