import fs from 'node:fs';
import path from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tfc from '@tensorflow/tfjs-converter';
import { UserError } from '../errors.ts';
import type { MetricRecord, ModelCard } from '../models/card.ts';
import { makeClassifier, type Classifier } from '../models/classifier.ts';
import { CARD_FILE, inferCard, isGraphModel, resolveCard, type ModelSource } from '../models/resolveCard.ts';
import { versions } from '../version.ts';
import { fileHandler, readJson, writeFileAtomic } from './fsio.ts';

export { CARD_FILE };

export interface LoadOptions {
  /** Use this preset's card instead of the folder's advlens.json or recognition. */
  preset?: string;
}

/** The model folder named by `p`: the folder itself, or the folder of a model.json given instead. */
export function modelDir(p: string): string {
  if (!fs.existsSync(p))
    throw new UserError(`model folder not found: ${p}; give a folder holding model.json (and advlens.json)`);
  return fs.statSync(p).isFile() ? path.dirname(p) : p;
}

/**
 * Loads a model folder (`model.json` + weights, and `advlens.json` when the project made it) as a
 * {@link Classifier}. Folders without a card are matched against the presets (darknet tiny), and
 * otherwise read as a plain [0,1]-input model whose outputs are logits, labelled from labels.json.
 */
export async function loadClassifier(dir: string, opts: LoadOptions = {}): Promise<Classifier> {
  if (!fs.existsSync(dir))
    throw new UserError(
      `model folder not found: ${dir}; give a folder holding model.json (and advlens.json)`,
    );
  if (fs.statSync(dir).isFile()) dir = path.dirname(dir);
  const jsonPath = path.join(dir, 'model.json');
  if (!fs.existsSync(jsonPath))
    throw new UserError(`no model.json in ${dir}; give a TensorFlow.js model folder`);
  const cardPath = path.join(dir, CARD_FILE);
  const src: ModelSource = {
    where: dir,
    name: path.basename(path.resolve(dir)),
    modelJson: readJson<{ modelTopology?: unknown; format?: string }>(jsonPath, 'model file'),
    files: fs.readdirSync(dir),
    card: fs.existsSync(cardPath) ? { json: readJson(cardPath, 'model card'), where: cardPath } : undefined,
    labels: () => readJson(path.join(dir, 'labels.json'), 'labels file'),
  };
  let card = resolveCard(src, opts.preset);
  let model: tfl.LayersModel | tfc.GraphModel;
  try {
    model = isGraphModel(src, card)
      ? await tfc.loadGraphModel(fileHandler(dir))
      : await tfl.loadLayersModel(fileHandler(dir));
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`could not load the model in ${dir}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!card) card = inferCard(model, src);
  return makeClassifier(model, card);
}

/** Saves a trained classifier's model (standard tfjs format) and its card into `dir`, each file atomically. */
export async function saveClassifier(c: Classifier, dir: string, card: ModelCard = c.card): Promise<void> {
  if (!(c.model instanceof tfl.LayersModel))
    throw new UserError('only layers models can be saved by advlens');
  fs.mkdirSync(dir, { recursive: true });
  await c.model.save(fileHandler(dir));
  writeCard(dir, { ...card, versions: { ...card.versions, ...versions() } });
}

/** Writes (atomically) a model card into `dir`. */
export function writeCard(dir: string, card: ModelCard): void {
  writeFileAtomic(path.join(dir, CARD_FILE), JSON.stringify(card, null, 2) + '\n');
}

/**
 * Records one measurement in the card in `dir` under `metrics[key]`, re-reading the card from disk
 * first (a measurement takes minutes; another command may have recorded into the card meanwhile);
 * `loaded` (the card the model was loaded with) serves when the folder has no card file yet.
 */
export function recordMetric(dir: string, loaded: ModelCard, key: string, metric: MetricRecord): void {
  updateCard(dir, loaded, (card) => ({ ...card, metrics: { ...(card.metrics ?? {}), [key]: metric } }));
}

/** Rewrites the card in `dir` with `change`, applied to the card on disk (re-read: see {@link recordMetric}). */
export function updateCard(dir: string, loaded: ModelCard, change: (card: ModelCard) => ModelCard): void {
  const file = path.join(dir, CARD_FILE);
  const card = fs.existsSync(file) ? readJson<ModelCard>(file, 'model card') : loaded;
  writeCard(dir, change(card));
}
