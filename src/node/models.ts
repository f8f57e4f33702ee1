import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tfc from '@tensorflow/tfjs-converter';
import { UserError } from '../errors.ts';
import { validateCard, type MetricRecord, type ModelCard } from '../models/card.ts';
import { makeClassifier, type Classifier } from '../models/classifier.ts';
import { CARD_FILE, inferCard, isGraphModel, resolveCard, type ModelSource } from '../models/resolveCard.ts';
import { versions } from '../version.ts';
import { fileHandler, readJson, writeFileAtomic } from './fsio.ts';
import { mergeIntoCard, type RecordParser, type RecordPlace } from '../zoo/cardRecord.ts';

export { CARD_FILE };

/** Options of {@link loadClassifier}: a preset to describe a model without a card, and where warnings go. */
export interface LoadOptions {
  /** Use this preset's card instead of the folder's advlens.json or recognition. */
  preset?: string;
  /** Receives warnings about a model that loads but looks wrong (NaN weights); default: stderr. */
  onWarning?: (message: string) => void;
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
  const modelJson = readJson<{ modelTopology?: unknown; format?: string }>(jsonPath, 'model file');
  if (!modelJson || typeof modelJson !== 'object' || Array.isArray(modelJson))
    throw new UserError(
      `${jsonPath} is not a TensorFlow.js model (not a JSON object); re-download or re-convert the model`,
    );
  const cardPath = path.join(dir, CARD_FILE);
  const src: ModelSource = {
    where: dir,
    name: path.basename(path.resolve(dir)),
    modelJson,
    files: fs.readdirSync(dir),
    card: fs.existsSync(cardPath) ? { json: readJson(cardPath, 'model card'), where: cardPath } : undefined,
    labels: () => readJson(path.join(dir, 'labels.json'), 'labels file'),
  };
  let card = resolveCard(src, opts.preset);
  let model: tfl.LayersModel | tfc.GraphModel;
  // A model that fails half way through building leaves the weights it made so far: dispose them.
  // (Variables are registered globally; other tensors are tracked in a scope around the load, which
  // keeps them all when it succeeds. Nothing else makes tensors while a model loads.)
  const engine = tf.engine();
  const varsBefore = new Set(Object.keys(engine.registeredVariables));
  engine.startScope('loadClassifier');
  try {
    model = isGraphModel(src, card)
      ? await tfc.loadGraphModel(fileHandler(dir))
      : await tfl.loadLayersModel(fileHandler(dir));
    engine.endScope([...(engine.state.activeScope?.track ?? [])]);
  } catch (e) {
    engine.endScope();
    for (const [name, v] of Object.entries(engine.registeredVariables))
      if (!varsBefore.has(name)) v.dispose();
    if (e instanceof UserError) throw e;
    throw new UserError(loadFailure(dir, e));
  }
  try {
    if (!card) card = inferCard(model, src);
    checkCardFitsModel(model, card, dir);
  } catch (e) {
    model.dispose();
    throw e;
  }
  const bad = nonFiniteWeights(model);
  if (bad.length > 0)
    (opts.onWarning ?? ((m) => process.stderr.write(`advlens: warning: ${m}\n`)))(
      `the model in ${dir} has NaN or infinite weights (${bad.slice(0, 3).join(', ')}${bad.length > 3 ? `, and ${bad.length - 3} more` : ''}); its outputs will be NaN: retrain it or re-copy the model`,
    );
  return makeClassifier(model, card);
}

/** One line saying why tfjs could not build the model: every line of its message, joined. */
function loadFailure(dir: string, e: unknown): string {
  const msg = String((e as Error)?.message ?? e);
  const unknown = /Unknown (layer|op|activation|initializer|regularizer|constraint)[:\s]+'?([\w/-]+)/i.exec(
    msg,
  );
  if (unknown)
    return `the model in ${dir} uses ${unknown[1].toLowerCase()} type '${unknown[2]}', which TensorFlow.js does not know (a custom or Python-only ${unknown[1].toLowerCase()}); convert the model to standard layers`;
  const line = msg
    .split(/\s*\n\s*/)
    .filter(Boolean)
    .join(' ');
  return `could not load the model in ${dir}: ${line.length > 400 ? line.slice(0, 397) + '...' : line}`;
}

/** The model's input [H, W, C] and number of outputs, where the model declares them. */
function modelShapes(model: tfl.LayersModel | tfc.GraphModel): {
  input: (number | null)[];
  classes: number | null;
} {
  const inShape = (model.inputs[0]?.shape ?? []) as (number | null)[];
  const outShape = (model.outputs[0]?.shape ?? []) as (number | null)[];
  const last = outShape[outShape.length - 1];
  return {
    input: inShape.slice(1).map((d) => (typeof d === 'number' && d > 0 ? d : null)),
    classes: typeof last === 'number' && last > 0 ? last : null,
  };
}

/**
 * Checks that a card describes its model: the card's input size and channels and its number of
 * labels against the shapes model.json declares. A one-line {@link UserError} when they differ.
 */
export function checkCardFitsModel(
  model: tfl.LayersModel | tfc.GraphModel,
  card: ModelCard,
  dir: string,
): void {
  const { input, classes } = modelShapes(model);
  const p = card.preprocess;
  const want = [p.height, p.width, p.channels];
  if (input.length !== 0 && (input.length !== 3 || input.some((d, i) => d !== null && d !== want[i])))
    throw new UserError(
      `the card of ${dir} says input ${want.join('x')} but the model takes ${input.map((d) => d ?? '?').join('x')}; fix preprocess in ${CARD_FILE} or use the card that came with this model`,
    );
  if (classes !== null && classes !== card.labels.length)
    throw new UserError(
      `the card of ${dir} names ${card.labels.length} classes but the model has ${classes} outputs; fix labels in ${CARD_FILE} (or labels.json)`,
    );
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

/**
 * The place of the record under `metrics[key]` of the card named `where` (in errors), read by `parse`;
 * with `recompute`, a malformed record there reads as none (see {@link RecordPlace}).
 */
export function recordPlace<R>(
  key: string,
  parse: RecordParser<R>,
  where: string,
  recompute: boolean | undefined,
): RecordPlace<R> {
  return { key, parse, where, recompute };
}

/**
 * Records in the card in `dir` what `merge` makes of the record the card on disk holds at `place`
 * (re-read, as {@link recordMetric}: another cell may have been recorded meanwhile), for records
 * merged cell by cell (zoo/cardRecord.ts).
 */
export function recordMerged<R>(
  dir: string,
  loaded: ModelCard,
  place: RecordPlace<R>,
  merge: (old: R | null) => MetricRecord,
): void {
  updateCard(dir, loaded, (card) => mergeIntoCard(card, place, merge));
}

/** Rewrites the card in `dir` with `change`, applied to the card on disk (re-read: see {@link recordMetric}). */
export function updateCard(dir: string, loaded: ModelCard, change: (card: ModelCard) => ModelCard): void {
  const file = path.join(dir, CARD_FILE);
  const card = fs.existsSync(file) ? readJson<ModelCard>(file, 'model card') : loaded;
  writeCard(dir, change(card));
}

/** Names of the weights holding NaN or infinite values. */
function nonFiniteWeights(model: tfl.LayersModel | tfc.GraphModel): string[] {
  const bad: string[] = [];
  const check = (name: string, t: { dtype: string; dataSync(): ArrayLike<number> }) => {
    if (t.dtype !== 'float32') return;
    const v = t.dataSync();
    for (let i = 0; i < v.length; i++) {
      if (!Number.isFinite(v[i])) {
        bad.push(name);
        return;
      }
    }
  };
  if (model instanceof tfl.LayersModel) for (const w of model.weights) check(w.name, w.read());
  else for (const [name, ts] of Object.entries(model.weights)) for (const t of ts) check(name, t);
  return bad;
}
