/**
 * The images a command works on: image files (unlabelled, fitted to the model's input as its card
 * says) or a slice of a labelled dataset, with a name per image (file name, `mnist:test[3]`).
 */
import path from 'node:path';
import type { Dataset } from '../data/dataset.ts';
import type { Classifier } from '../models/classifier.ts';
import { UserError } from '../errors.ts';
import { loadImageDataset } from './image.ts';
import { loadDataSlice } from './loadData.ts';

/** Where the images come from: `image` files, or `data` (a spec) from `start`, `limit` of them. */
export interface InputsSpec {
  image?: string[];
  data?: string;
  dataDir?: string;
  start?: number;
  limit?: number;
}

/**
 * Loads the images for `models` (which share an input shape): image files or a dataset slice,
 * whose class count must match each model's (a {@link UserError} naming the model otherwise;
 * `names` name the models, default "the model").
 */
export async function loadInputs(
  o: InputsSpec,
  models: Classifier[],
  names?: string[],
): Promise<{ data: Dataset; inputs: string[]; labelled: boolean }> {
  const [h, w, c] = models[0].inputShape;
  if (o.image) {
    const fit = models[0].card.preprocess.resize;
    const data = await loadImageDataset(o.image, { size: [h, w], channels: c as 1 | 3, fit });
    return { data, inputs: o.image.map((f) => path.basename(f)), labelled: false };
  }
  if (!o.data) throw new UserError('give image files or a dataset');
  const { data, names: inputs } = await loadDataSlice(o.data, {
    dataDir: o.dataDir,
    start: o.start ?? 0,
    limit: o.limit ?? 8,
    size: [h, w],
    channels: c as 1 | 3,
  });
  for (const [k, m] of models.entries())
    if (data.classNames.length !== m.labels.length)
      throw new UserError(
        `the data has ${data.classNames.length} classes but ${names?.[k] ?? 'the model'} predicts ${m.labels.length}`,
      );
  return { data, inputs, labelled: true };
}
